"""Conductor-bias checks: a planted bias is caught, a genuine signal survives, a replication too
small to see the effect leaves it not replicated; weights, trends and detectable effects by
hand."""
from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from models.baselines import ConstantBaseline
from models.bias import (artefact_reason, detectable_effect, distributions, importance_weights,
                         not_replicated_reason, replicable, replication_power,
                         same_size_subsample, stratum_trend, unknown_features,
                         weighted_margin)
from models.findings import SearchSettings, cross_validated, evaluate
from models.gbm import GbmModel
from models.nulls import permute_classes
from models.scores import ClassBootstrap
from models.targets import Target

SETTINGS = SearchSettings(folds=4, extrapolation_share=0.2, bootstrap=100, null_datasets=3,
                          null_quantile=0.95, fdr=0.05, seed=3, strata=6)
TARGET = Target("planted", "classification", pl.col("planted").cast(pl.Int64), (),
                ("planted",), description="a synthetic target")
GBM = {"n_estimators": 60, "learning_rate": 0.2, "num_leaves": 15, "min_child_samples": 20,
       "early_stopping_rounds": 0, "validation_share": 0.15}


def sample(n: int, seed: int, signal_below: float, conductor_scale: float) -> pl.DataFrame:
    """Curves with increasing conductor, a feature z, and a target equal to sign(z) for the
    curves with conductor below ``signal_below`` and a coin flip above."""
    rng = np.random.default_rng(seed)
    conductor = np.sort(rng.integers(11, int(conductor_scale), n))
    z = rng.normal(size=n)
    planted = np.where(conductor < signal_below, z > 0, rng.random(n) < 0.5).astype(int)
    return pl.DataFrame({
        "label": [f"c{i}" for i in range(n)], "isogeny_class": [f"c{i}" for i in range(n)],
        "number": 1, "conductor": conductor, "log_conductor": np.log(conductor), "z": z,
        "planted": planted, "slog_discriminant": np.log(conductor) * 1.5,
        "bad_primes": rng.integers(1, 4, n), "torsion": rng.choice([1, 2], n)})


def search(frame: pl.DataFrame) -> tuple[dict, object]:
    def make_gbm(columns, task):
        return GbmModel(task, columns, seed=3, threads=1, **GBM)

    baselines = [ConstantBaseline("classification"),
                 GbmModel("classification", ["log_conductor"], 3, threads=1, name="conductor only",
                          **GBM)]
    null = lambda f, rng: permute_classes(f, ["planted"], 5, rng)  # noqa: E731
    return evaluate(frame, TARGET, "z", ["z"], make_gbm, baselines, null, SETTINGS).row(), \
        (make_gbm, baselines)


def checks(cremona: pl.DataFrame, reference: pl.DataFrame) -> tuple[str, str]:
    """(artefact reason, not-replicated reason) of the Cremona-like sample's finding."""
    found, (make_gbm, baselines) = search(cremona)
    assert found["p_value"] < 0.01 and found["score"] > found["baseline_score"]
    weights, covered = importance_weights(cremona, reference, 4, 3)
    best = [b for b in baselines if b.name == found["best_baseline"]]
    oof = cross_validated(cremona, TARGET, ["z"], make_gbm, best, SETTINGS)
    weighted = weighted_margin("classification", oof, found["best_baseline"], weights, 100, 1)
    replication, _ = search(reference)
    replication.update(sample="reference", tried=True, **replication_power(replication, found,
                                                                           0.05))
    checked = (stratum_trend(found["strata"], 0.5), weighted, [replication], 0.05,
               found["effect"])
    return artefact_reason(*checked), not_replicated_reason(*checked)


def test_a_planted_conductor_bias_is_an_artefact():
    """The target follows z only at small conductors, where the Cremona-like sample has most of
    its curves; the reference sample lives at larger conductors: it must be caught."""
    cremona = sample(3000, 1, signal_below=3000, conductor_scale=6000)
    reference = sample(1500, 2, signal_below=3000, conductor_scale=60000)
    reason, undecided = checks(cremona, reference)
    # the evidence: the replicated interval lies below the effect on the Cremona-like sample
    assert "does not replicate on the reference sample" in reason and "lies below the" in reason
    # the strata's trend is reported (with 6 strata its p-value lies near the level)
    assert "holds only in the low conductor strata" in reason + undecided


def test_a_genuine_signal_survives():
    cremona = sample(3000, 1, signal_below=10**9, conductor_scale=6000)
    reference = sample(1500, 2, signal_below=10**9, conductor_scale=60000)
    assert checks(cremona, reference) == ("", "")


def test_stratum_trend_by_hand():
    strata = [{"model": m, "baseline": 0.1} for m in (0.5, 0.4, 0.1, 0.05)]
    trend = stratum_trend(strata, 0.5)
    assert trend["low_only"] and trend["slope"] < 0
    assert (trend["low_margin"] == pytest.approx(0.35)
            and trend["high_margin"] == pytest.approx(-0.025))
    assert not stratum_trend([{"model": 0.5, "baseline": 0.1}] * 4, 0.5)["low_only"]


def test_importance_weights_match_the_reference_strata():
    rng = np.random.default_rng(0)
    def frame(n, p):
        return pl.DataFrame({"slog_discriminant": rng.normal(5, 1, n), "bad_primes": 1,
                             "torsion": np.where(rng.random(n) < p, 2, 1)})
    ours, reference = frame(4000, 0.5), frame(4000, 0.1)
    weights, covered = importance_weights(ours, reference, 1, 3)
    torsion_two = ours["torsion"].to_numpy() == 2
    assert weights.mean() == pytest.approx(1)
    assert weights[torsion_two].sum() / weights.sum() == pytest.approx(
        (reference["torsion"] == 2).mean(), abs=1e-9)
    assert covered == pytest.approx(1)


def test_weights_count_like_repeated_rows():
    y = np.array([0, 1, 1, 0, 1, 0])
    prediction = np.array([0, 1, 0, 0, 1, 1])
    weighted = ClassBootstrap("classification", y, np.arange(6), 1, 0,
                              weights=np.array([2.0, 1, 1, 1, 3, 1])).score(prediction)[0]
    repeated = np.repeat(np.arange(6), [2, 1, 1, 1, 3, 1])
    plain = ClassBootstrap("classification", y[repeated], np.arange(9), 1, 0).score(
        prediction[repeated])[0]
    assert weighted == pytest.approx(plain)
    values = np.array([0.5, 1.5, 2.0, 3.5])
    guess = np.array([0.7, 1.2, 2.4, 3.0])
    w = np.array([1.0, 2, 1, 3])
    r = ClassBootstrap("regression", values, np.arange(4), 1, 0, weights=w).score(guess)[0]
    rows = np.repeat(np.arange(4), [1, 2, 1, 3])
    assert r == pytest.approx(ClassBootstrap("regression", values[rows], np.arange(7), 1, 0)
                              .score(guess[rows])[0])


def test_replicable_needs_inputs_and_coverage():
    frame = pl.DataFrame({"z": [1.0] * 400, "rank": [0] * 100 + [None] * 300})
    assert replicable(frame, pl.col("rank"), ["z"], 50, 0.9) == (
        False, "target known on 100 of 400 curves")
    assert not replicable(frame, pl.col("rank"), ["w"], 50, 0.9)[0]
    assert replicable(frame, pl.col("z"), ["z"], 50, 0.9) == (True, "")
    # a sample without the pair's known quantities would face a weaker baseline: not tried
    # (the reference samples carry every known quantity of the Cremona curves' groups,
    # invariants included: tests/test_reference_stage.py refits that check on their features)
    assert replicable(frame, pl.col("z"), ["z"], 50, 0.9, ["z", "degree"]) == (
        False, "known quantities missing: degree")


def test_distributions_share_per_sample():
    frame = pl.DataFrame({"rank": [0, 0, 1, None], "torsion": [1, 1, 2, 1],
                          "root_number": [1, 1, -1, -1], "sha": [1, 4, None, None]})
    table = distributions({"a": frame})
    rank = dict(table.filter(pl.col("quantity") == "rank").select("value", "share").iter_rows())
    assert rank == {"0": 0.5, "1": 0.25, "unknown": 0.25}
    sha = dict(table.filter(pl.col("quantity") == "sha (rank 0)")
               .select("value", "curves").iter_rows())
    assert sha == {"1": 1, "4": 1}


def record(sample: str = "Stein-Watkins", curves: int = 2950, p_value: float = 0.21,
           low: float = -0.09, high: float = 0.19, discovered: float = 0.14) -> dict:
    """A replication record as the bias stage writes it: the replicated effect and added value
    share one interval, and the Cremona sample measured ``discovered`` for both."""
    r = {"sample": sample, "tried": True, "why_not": "", "score": 0.05, "baseline_score": 0.0,
         "best_baseline": "constant", "p_value": p_value, "curves": curves}
    for name in ("effect", "added_value"):
        r.update({name: (low + high) / 2, f"{name}_low": low, f"{name}_high": high})
    return {**r, **replication_power(r, {"effect": discovered, "added_value": discovered}, 0.05)}


#: Checks that pass: margin in every stratum, reweighted margin above 0.
FLAT = stratum_trend([{"model": 0.3, "baseline": 0.1}] * 6, 0.5)
WEIGHTED = {"weighted_margin_low": 0.05, "weighted_margin_high": 0.25}


def test_detectable_effect_on_a_known_case():
    """A 95% interval of width 2 × 1.96 has SE = 1: MDE = z_0.95 + z_0.9 = 1.6449 + 1.2816."""
    assert detectable_effect(-1.959964, 1.959964, 0.05) == pytest.approx(2.92640, abs=1e-4)
    assert detectable_effect(0.0, 3.919928, 0.025, power=0.8) == pytest.approx(
        1.959964 + 0.841621, abs=1e-4)
    # the default, 90% power at the level: 0.747 × the interval's width
    assert detectable_effect(-0.09, 0.19, 0.05) == pytest.approx(0.7466 * 0.28, abs=1e-4)
    assert record()["effect_detectable"] == pytest.approx(0.209, abs=1e-3)


def test_an_underpowered_replication_is_not_replicated_not_an_artefact():
    """A weak true effect (0.14) that a sample of 2,950 curves cannot see (it could detect
    0.21): not significant there, its interval holds 0 and the effect. No evidence of bias."""
    checked = (FLAT, WEIGHTED, [record()], 0.05, 0.14)
    assert artefact_reason(*checked) == ""
    reason = not_replicated_reason(*checked)
    assert reason.startswith("Stein-Watkins: 2,950 curves could detect (90% power, one-sided "
                             "level 0.05) an effect ≥ 0.21, the effect is 0.14")
    assert "p = 0.21" in reason


def test_a_replication_below_the_effect_is_an_artefact_at_any_power():
    """Its interval excludes the discovery's effect: evidence, however wide the interval."""
    checked = (FLAT, WEIGHTED, [record(low=-0.3, high=0.1)], 0.05, 0.14)
    assert "lies below the 0.140 of the Cremona sample" in artefact_reason(*checked)
    assert not_replicated_reason(*checked) == ""


def test_a_replication_that_passes_needs_no_power():
    checked = (FLAT, WEIGHTED, [record(p_value=0.001, low=0.08, high=0.2)], 0.05, 0.14)
    assert artefact_reason(*checked) == not_replicated_reason(*checked) == ""


def test_a_trend_is_evidence_only_when_significant():
    falling = stratum_trend([{"model": m, "baseline": 0.0}
                             for m in (0.4, 0.3, 0.2, 0.1, -0.01, -0.1)], 0.5)
    assert falling["low_only"] and falling["slope"] < 0 and falling["p_value"] < 0.001
    assert "holds only in the low" in artefact_reason(falling, WEIGHTED, [], 0.05, 0.14)
    noisy = stratum_trend([{"model": m, "baseline": 0.0}
                           for m in (0.4, -0.3, 0.5, 0.2, -0.3, 0.05)], 0.5)
    assert noisy["low_only"] and noisy["p_value"] > 0.05
    assert artefact_reason(noisy, WEIGHTED, [], 0.05, 0.14) == ""
    assert "do not establish" in not_replicated_reason(noisy, WEIGHTED, [], 0.05, 0.14)


def test_a_reweighted_margin_is_evidence_only_below_the_effect():
    below = {"weighted_margin_low": -0.05, "weighted_margin_high": 0.1}
    assert "below the effect 0.140" in artefact_reason(FLAT, below, [], 0.05, 0.14)
    wide = {"weighted_margin_low": -0.05, "weighted_margin_high": 0.3}
    assert artefact_reason(FLAT, wide, [], 0.05, 0.14) == ""
    assert "cannot tell" in not_replicated_reason(FLAT, wide, [], 0.05, 0.14)


def test_a_sample_not_tried_is_not_replicated():
    untried = {"sample": "height-ordered", "tried": False, "why_not": "target known on 10 of "
               "4000 curves"}
    assert not_replicated_reason(FLAT, WEIGHTED, [untried], 0.05, 0.14) == (
        "could not be tried on the height-ordered sample (target known on 10 of 4000 curves)")


def test_a_small_replication_is_held_against_cremona_at_its_own_size():
    """A replication on 2,950 curves learns a weaker model than the search on 64,687: held
    against the discovery's 0.14 its interval [0.01, 0.09] would be evidence of an artefact,
    held against Cremona curves of its own size (0.06 [0.0, 0.12]) it is not."""
    r = {"sample": "Stein-Watkins", "tried": True, "why_not": "", "score": 0.05,
         "baseline_score": 0.0, "best_baseline": "constant", "p_value": 0.3, "curves": 2950}
    for name in ("effect", "added_value"):
        r.update({name: 0.05, f"{name}_low": 0.01, f"{name}_high": 0.09})
    at_size = {"discovery_curves": 2961}
    for name in ("effect", "added_value"):
        at_size.update({name: 0.06, f"{name}_low": 0.0, f"{name}_high": 0.12})
    same = {**r, **replication_power(r, at_size, 0.05)}
    checked = (FLAT, WEIGHTED, [same], 0.05, 0.14)
    assert artefact_reason(*checked) == ""
    assert "not significant there" in not_replicated_reason(*checked)
    # a clearly smaller effect at the same size is evidence, and the reason names the size
    for name in ("effect", "added_value"):
        at_size.update({name: 0.3, f"{name}_low": 0.25, f"{name}_high": 0.35})
    smaller = {**r, **replication_power(r, at_size, 0.05)}
    assert "lies below the 0.300 [0.250, 0.350] of 2,961 Cremona curves (the same size)" in \
        artefact_reason(FLAT, WEIGHTED, [smaller], 0.05, 0.14)
    # whole isogeny classes, about the size asked for, the same ones for the same seed
    frame = pl.DataFrame({"isogeny_class": [f"{n}a" for n in range(500) for _ in range(n % 4 + 1)]})
    part = same_size_subsample(frame, 300, 8)
    assert 300 <= len(part) <= 303 and part.equals(same_size_subsample(frame, 300, 8))
    counts = part.group_by("isogeny_class").len()
    whole = frame.group_by("isogeny_class").len()
    assert counts.join(whole, on="isogeny_class")["len"].equals(
        counts.join(whole, on="isogeny_class")["len_right"])


def test_a_failure_where_the_sample_lacks_the_features_cannot_tell():
    """The invariants stage's numbers exist for the Cremona curves only: a replication whose
    model saw them null on every curve fails without evidence, whatever its interval."""
    frame = pl.DataFrame({"degree": [None, None], "szpiro_ratio": [1.0, 2.0]},
                         schema={"degree": pl.Float64, "szpiro_ratio": pl.Float64})
    cremona = pl.DataFrame({"degree": [1.0, None], "szpiro_ratio": [1.0, 2.0]})
    assert unknown_features(frame, cremona, ["degree", "szpiro_ratio"]) == ["degree"]
    r = {**record(low=-0.3, high=0.1), "features_unknown": ["degree"]}
    checked = (FLAT, WEIGHTED, [r], 0.05, 0.14)
    assert artefact_reason(*checked) == ""
    assert "1 of its features are unknown on every curve of that sample (degree)" in \
        not_replicated_reason(*checked)
