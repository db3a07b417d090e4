"""Baselines give the answers the heuristics they implement are known to give."""
from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from sklearn.metrics import balanced_accuracy_score, matthews_corrcoef, r2_score

from machinery.params import load_params
from models.baselines import (BsdIdentityBaseline, ConstantBaseline, LocalRootNumberBaseline,
                              MestreNagaoBaseline, ParityBaseline, SatoTateBaseline,
                              TorsionCongruenceBaseline)
from models.search import baselines_for
from models.targets import standard_targets
from pipeline.bsd import compute_bsd
from sources.elldata import read_curves
from tests.conftest import PROJECT

OTHER_BSD_LOGS = ["log_torsion", "log_tamagawa_product", "log_real_period", "log_regulator",
                  "log_special_value"]


@pytest.fixture(scope="module")
def default_range_bsd(tmp_path_factory) -> pl.DataFrame:
    """The BSD table of every curve of the default range (conductor < 10,000), 2 workers."""
    params = load_params(PROJECT / "params.yaml")
    curves = read_curves(params.ingest.conductor_min, params.ingest.conductor_max)
    return compute_bsd(curves, params.bsd, tmp_path_factory.mktemp("bsd") / "chunks").collect()


def test_parity_gets_rank_parity_right_for_every_curve_of_the_default_range(default_range_bsd):
    frame = default_range_bsd.with_columns(rank_parity=pl.col("rank") % 2)
    assert len(frame) == 64687
    parity = ParityBaseline("rank_parity").fit(frame, "rank_parity")
    assert np.array_equal(parity.predict(frame), frame["rank_parity"].to_numpy())
    root = ParityBaseline("root_number").fit(frame, "root_number")
    assert np.array_equal(root.predict(frame), frame["root_number"].to_numpy())
    minimalist = ParityBaseline("rank").fit(frame, "rank").predict(frame)
    assert np.mean(minimalist == frame["rank"].to_numpy()) > 0.95     # ranks >= 2 are rare here
    with pytest.raises(ValueError, match="not 'regulator'"):
        ParityBaseline("regulator")


def test_bsd_identity_recovers_sha_on_the_default_range(default_range_bsd):
    frame = default_range_bsd.with_columns(
        [pl.col(c.removeprefix("log_")).cast(pl.Float64).log().alias(c) for c in OTHER_BSD_LOGS]
        + [pl.col("sha_an").log().alias("log_sha_an")])
    train, test = (frame.filter(pl.col("conductor") < 5000),
                   frame.filter(pl.col("conductor") >= 5000))
    model = BsdIdentityBaseline("regression", OTHER_BSD_LOGS).fit(train, "log_sha_an")
    assert r2_score(test["log_sha_an"], model.predict(test)) > 0.9999


def test_constant_baseline(model_tables):
    frame = model_tables["frame"]
    majority = ConstantBaseline("classification").fit(frame, "rank").predict(frame.head(3))
    assert majority.tolist() == [frame["rank"].mode()[0]] * 3
    mean = ConstantBaseline("regression").fit(frame, "log_real_period").predict(frame.head(2))
    assert mean == pytest.approx([frame["log_real_period"].mean()] * 2)


def test_baselines_for_each_target(model_tables):
    """A pair's baselines are the laws its group determines the inputs of (models.laws), the
    constant and the GBM on what it knows; nothing that reads beyond the group."""
    from models.features import resolve_groups
    from models.search import pair_known
    section = model_tables["section"]
    groups = resolve_groups(model_tables["features"].columns)
    targets = standard_targets(97, section.mestre_nagao_bounds)
    columns = model_tables["frame"].columns

    def baselines(target, group):
        known = pair_known([group], groups, targets[target].excluded, columns)
        features = [c for c in groups[group] if c not in targets[target].excluded]
        return {b.name: b for b in baselines_for(targets[target], features, groups, 1, 1,
                                                 {"n_estimators": 10}, known, columns)}

    # the a_p give w (local root numbers) and the sums; the parity conjecture speaks about
    # the rank through that w
    assert list(baselines("rank", "ap")) == [
        "constant", "local root numbers", "Mestre-Nagao",
        "parity conjecture through local root numbers",
        "Mestre-Nagao through local root numbers", "known quantities"]
    assert list(baselines("torsion", "ap")) == ["constant", "torsion congruences",
                                                "known quantities"]
    bsd = baselines("log_sha_an", "bsd")
    assert list(bsd) == ["constant", "BSD identity", "known quantities"]
    assert bsd["BSD identity"].law == "BSD formula"
    assert "log_sha_an" not in bsd["known quantities"].columns
    assert list(baselines("log_sha_an", "ap")) == ["constant", "Euler-product heuristic",
                                                   "known quantities"]
    assert list(baselines("log_tamagawa_product", "ap")) == ["constant", "known quantities"]
    assert list(baselines("root_number", "bsd")) == ["constant", "parity", "known quantities"]
    # Sato-Tate reads #T, which the a_p bound through the torsion congruences; no a_p column
    # joins the known side, so the other a_p stay the features' to add
    held = baselines("ap_97", "ap")
    assert list(held) == ["constant", "Sato-Tate through torsion congruences", "known quantities"]
    assert not any(c.startswith("ap_") for c in held["known quantities"].columns)
    # the rank's consequences through the rank's estimators
    assert list(baselines("log_regulator", "mestre_nagao")) == [
        "constant", "rank conventions through Mestre-Nagao", "known quantities"]
    assert "Tamagawa numbers at the bad primes" in baselines("log_tamagawa_product", "conductor")
    # the conductor group derives nothing and no law of the rank reads only the conductor
    assert list(baselines("rank", "conductor")) == ["constant"]
    weierstrass = baselines("log_tamagawa_product", "weierstrass")
    assert {"Tate's algorithm", "Ogg's formula", "BSD heuristics"} <= set(weierstrass)
    assert weierstrass["Tate's algorithm"].law == "Tate's algorithm"


def test_l_series_baseline_computes_the_special_value(model_tables):
    """With a_p for p < 100 and N < 1000 the L-series sums are L(E,1), L'(E,1) to 1e-8, so the
    L-series heuristic predicts log L^(r)(E,1)/r! almost exactly out of sample."""
    from models.features import resolve_groups
    from models.search import baselines_for, pair_known
    groups = resolve_groups(model_tables["features"].columns)
    target = standard_targets(97, model_tables["section"].mestre_nagao_bounds)["log_special_value"]
    frame = model_tables["frame"].with_columns(target.expression.alias("y"))
    known = pair_known(["weierstrass"], groups, target.excluded, frame.columns)
    l_series = {b.name: b for b in baselines_for(target, groups["weierstrass"], groups, 1, 1,
                                                 {"n_estimators": 200}, known, frame.columns)
                }["L-series heuristic"]
    train = frame["conductor"] < 700
    fitted = l_series.fit(frame.filter(train), "y", frame.filter(train)["isogeny_class"].to_numpy())
    predicted, actual = fitted.predict(frame.filter(~train)), frame.filter(~train)["y"].to_numpy()
    assert 1 - np.mean((predicted - actual) ** 2) / np.var(actual) > 0.9


def test_mestre_nagao_threshold_predicts_rank(model_tables):
    frame = model_tables["frame"]
    sums = [c for c in frame.columns if c.startswith("mn_")]
    low = frame.filter(pl.col("rank") <= 1)
    train, test = low.filter(pl.col("conductor") < 600), low.filter(pl.col("conductor") >= 600)
    baseline = MestreNagaoBaseline(sums).fit(train, "rank")
    assert baseline.column in sums
    assert balanced_accuracy_score(test["rank"], baseline.predict(test)) > 0.75


def test_sato_tate_expectation_for_a_held_out_prime(model_tables):
    frame = model_tables["frame"]
    baseline = SatoTateBaseline(97).fit(frame, "ap_97")
    predicted = baseline.predict(frame)
    good = frame["conductor"].to_numpy() % 97 != 0
    errors = (predicted - frame["ap_97"].to_numpy())[good]
    assert np.mean(errors ** 2) / 97 == pytest.approx(1, abs=0.25)       # E[a_p^2] = p
    trivial = good & (frame["torsion"].to_numpy() == 1)
    assert np.abs(predicted[trivial]).max() < 1e-9                        # E[a_p] = 0
    mode = SatoTateBaseline(97, task="classification").fit(frame, "ap_97").predict(frame)
    torsion = frame["torsion"].to_numpy()
    assert np.all((98 - mode[good]) % torsion[good] == 0)


def test_local_root_numbers_give_the_root_number(model_tables):
    frame = model_tables["frame"]
    baseline = LocalRootNumberBaseline("root_number").fit(frame, "root_number")
    predicted, actual = baseline.predict(frame), frame["root_number"].to_numpy()
    small = frame["largest_prime"].to_numpy() <= 100 if "largest_prime" in frame.columns else \
        np.exp(frame["log_largest_prime"].to_numpy()).round() <= 100
    assert small.sum() > 1000 and np.array_equal(predicted[small], actual[small])
    parity = LocalRootNumberBaseline("rank_parity").predict(frame)
    assert np.array_equal(parity[small], (frame["rank"].to_numpy() % 2)[small])


def test_torsion_congruences(model_tables):
    frame = model_tables["frame"]
    baseline = TorsionCongruenceBaseline()
    m = baseline._gcd(frame)
    assert np.all(m % frame["torsion"].to_numpy() == 0)      # #T divides every #E(F_p), p >= 3
    train, test = frame.filter(pl.col("conductor") < 700), frame.filter(pl.col("conductor") >= 700)
    predicted = baseline.fit(train, "torsion").predict(test)
    assert np.mean(predicted == test["torsion"].to_numpy()) > 0.8
    assert matthews_corrcoef(test["torsion"], predicted) > 0.5     # the constant scores 0
