"""Known phenomena: murmuration averages, the Sato–Tate null, Beta fits, and the labels."""
from __future__ import annotations

import json

import numpy as np
import polars as pl
import pytest
from scipy import stats

from arithmetic.pari import start_pari, start_process_pari
from arithmetic.primes import primes_up_to
from models.murmurations import (SPLITS, beta_fits, curve_means, sato_tate_traces,
                                 small_ratio_means, split_groups, split_shift, trace_averages)
from pipeline.murmurations import traces_chunk
from reporting.known import KNOWN_CHECKS, baseline_shares, known_checks, known_labels
from sources.elldata import read_curves


def test_trace_averages_by_hand():
    traces = np.array([[1, 2, 3], [3, 4, 5], [-1, -1, -1]])
    conductor = np.array([10, 10, 10])
    table = trace_averages(traces, conductor, [2, 3, 5], np.array(["a", "a", "b"]), 2, 5, 0.5)
    by_p = table.filter((pl.col("axis") == "p") & (pl.col("group") == "a"))
    assert by_p["mean"].to_list() == pytest.approx([2.5, 4.0])        # (1+2+3+4)/4, (3+5)/2
    assert by_p["x"].to_list() == pytest.approx([2.5, 5.0])
    ratio = table.filter((pl.col("axis") == "p/N") & (pl.col("group") == "a"))
    # p/N = 0.2, 0.3, 0.5: bins of width 0.1 -> 0.2 in bin 2, 0.3 in bin 3, 0.5 beyond the range
    assert ratio["x"].to_list() == pytest.approx([0.25, 0.35])
    assert ratio["mean"].to_list() == pytest.approx([2.0, 3.0])
    assert (ratio["low"] <= ratio["mean"]).all() and (ratio["mean"] <= ratio["high"]).all()


def test_sato_tate_null_has_no_murmuration():
    primes = primes_up_to(400)
    rng = np.random.default_rng(0)
    traces = sato_tate_traces((3000, len(primes)), primes, rng)
    assert (np.abs(traces) <= 2 * np.sqrt(primes)).all()
    table = trace_averages(traces, np.full(3000, 2000), primes, np.full(3000, "null"), 10, 10, 0.2)
    part = table.filter(pl.col("axis") == "p")
    outside = ((part["low"] > 0) | (part["high"] < 0)).sum()
    assert outside <= 0.15 * len(part)                   # about 5% of the bands miss 0


def test_beta_fit_recovers_known_parameters():
    rng = np.random.default_rng(1)
    sample = stats.beta.rvs(2.0, 5.0, size=8000, random_state=rng)
    values = np.concatenate([[0.0, 1.0], sample])        # the range fixes the rescaling to (0, 1)
    fits = beta_fits(values, np.arange(len(values)), 2)
    assert len(fits) == 2
    assert fits["a"].to_list() == pytest.approx([2.0, 2.0], rel=0.1)
    assert fits["b"].to_list() == pytest.approx([5.0, 5.0], rel=0.1)
    assert (fits["ks"] < 0.03).all()


def test_murmurations_have_the_published_signs_on_cremona_curves():
    """One curve per class with 5000 <= N < 6500 from the embedded tables (rank = number of
    generators): at p/N <= 0.1 the rank-0 average of a_p is positive and the rank-1 average
    negative, each beyond its 95% band (He–Lee–Oliver–Pozdnyakov 2022, Fig. 1)."""
    curves = read_curves(5000, 6500).unique("isogeny_class", keep="first", maintain_order=True)
    rank = curves["gens"].list.len().to_numpy()
    keep = rank <= 1
    pari = start_pari(19, 256)
    primes = primes_up_to(650)
    traces = np.array([[int(v[p - 1]) for p in primes] for v in (
        pari.ellan(pari.ellinit(a), primes[-1]) for a in curves.filter(keep)["ainvs"].to_list())])
    table = trace_averages(traces, curves.filter(keep)["conductor"].to_numpy(), primes,
                           np.array([f"rank {r}" for r in rank[keep]]), 20, 10, 0.1)
    means = small_ratio_means(table, 0.1)
    assert means["rank 0"] > 0.3 and means["rank 1"] < -0.3
    first = table.filter((pl.col("axis") == "p/N") & (pl.col("x") < 0.05))
    assert first.filter(pl.col("group") == "rank 0")["low"].min() > 0
    assert first.filter(pl.col("group") == "rank 1")["high"].max() < 0


def test_traces_chunk_gives_each_curves_a_p():
    """11a1's a_p at p <= 13 as published (Cremona 1997, Table 3; a_11 = 1, split), and for
    11a1, 37a1 and 5077a1 every a_p to 600 equal to PARI's ``ellap`` prime by prime."""
    start_process_pari(19, 256)
    curves = {"11a1": [0, -1, 1, -10, -20], "37a1": [0, 0, 1, -1, 0], "5077a1": [0, 0, 1, -7, 6]}
    primes = primes_up_to(600)
    table = traces_chunk(pl.DataFrame({"label": list(curves), "ainvs": list(curves.values())}),
                         primes)
    assert table["label"].to_list() == list(curves)
    assert table["traces"][0].to_list()[:6] == [-2, -1, 1, -2, 1, 4]
    pari = start_pari(19, 256)
    for ainvs, traces in zip(curves.values(), table["traces"].to_list()):
        curve = pari.ellinit(ainvs)
        assert traces == [int(pari.ellap(curve, p)) for p in primes]


def findings_row(target, group, verdict, score=0.5, baselines=None):
    return {"target": target, "group": group, "verdict": verdict, "score": score,
            "baseline_scores": json.dumps(baselines or {})}


def test_known_labels_and_baseline_shares():
    findings = pl.DataFrame([
        findings_row("rank_parity", "parity", "explained by parity conjecture"),
        findings_row("log_sha_an", "bsd", "flagged"),
        findings_row("ap_97", "ap", "explained by known quantities"),
        findings_row("rank", "ap", "explained by parity", 0.8,
                     {"Mestre-Nagao": 0.6, "parity": 0.4})])
    labels = known_labels(findings, 97)
    assert labels["pair"].to_list() == ["rank_parity ~ parity", "log_sha_an ~ bsd", "ap_97 ~ ap"]
    assert labels["as_expected"].to_list() == [True, False, True]
    shares = baseline_shares(findings)
    assert shares["predictor"].to_list() == ["model (LightGBM)", "Mestre-Nagao", "parity"]
    assert shares["share_of_model"].to_list() == pytest.approx([1.0, 0.75, 0.5])
    assert baseline_shares(findings, "torsion").is_empty()


def test_curve_means_by_hand():
    traces = np.array([[1, -2, 3, 4], [2, 2, 2, 2]])
    primes = [2, 3, 5, 7]
    conductor = np.array([15, 77])                      # bad at 3, 5 and at 7
    means, variance = curve_means(traces, primes, conductor, 7, good_only=False)
    assert means.tolist() == pytest.approx([2 / 3, 2.0])            # p < 7: 2, 3, 5
    assert variance.tolist() == pytest.approx([10 / 9, 10 / 9])    # (2 + 3 + 5) / 3²
    means, variance = curve_means(traces, primes, conductor, 8, good_only=True)
    assert means.tolist() == pytest.approx([2.5, 2.0])    # 15: p = 2, 7; 77: p = 2, 3, 5
    assert variance.tolist() == pytest.approx([9 / 4, 10 / 9])


def test_split_groups():
    assert split_groups(np.array([1, 2, 1, 4]), "tamagawa_product").tolist() == [
        False, True, False, True]
    assert split_groups(np.array([0.5, 2.0, 1.0, 3.0]), "real_period").tolist() == [
        False, True, False, True]
    assert set(SPLITS) == {"tamagawa_product", "sha", "real_period"}


def synthetic(shift: float, rng, curves: int = 4000, by_conductor: bool = False):
    """Sato–Tate traces at p < 200 for ``curves`` curves; the second group's a_p raised by
    ``shift`` (or, with ``by_conductor``, the high-conductor half raised and the second group
    drawn mostly from it: a shift that the conductor explains)."""
    primes = primes_up_to(199)
    traces = sato_tate_traces((curves, len(primes)), primes, rng).astype(float)
    conductor = np.arange(curves) + 1000
    if by_conductor:
        upper = conductor >= np.median(conductor)
        high = rng.random(curves) < np.where(upper, 0.8, 0.2)
        traces[upper] += shift
    else:
        high = rng.random(curves) < 0.3
        traces[high] += shift
    means, variance = curve_means(traces, primes, conductor, 200, good_only=False)
    return means, variance, high, conductor


def test_split_shift_finds_a_planted_shift_and_not_a_null_one():
    rng = np.random.default_rng(3)
    planted = split_shift(*synthetic(1.5, rng), strata=10, permutations=499, rng=rng)
    assert planted["difference"] == pytest.approx(1.5, abs=0.5)
    assert planted["p_permutation"] == 1 / 500 and planted["p_sato_tate"] < 1e-6
    p_values = [split_shift(*synthetic(0.0, rng), strata=10, permutations=199, rng=rng)
                for _ in range(20)]
    assert sum(r["p_permutation"] < 0.05 for r in p_values) <= 4      # about 1 in 20
    assert sum(r["p_sato_tate"] < 0.05 for r in p_values) <= 4
    assert all(0 < r["p_permutation"] <= 1 for r in p_values)


def test_a_shift_the_conductor_explains_passes_the_permutation_null_only():
    """The permutations stay within conductor strata, so a shift carried by the conductor alone
    is not a shift of the split; the Sato–Tate null, which keeps nothing, rejects it."""
    rng = np.random.default_rng(4)
    result = split_shift(*synthetic(1.5, rng, by_conductor=True), strata=10, permutations=499,
                         rng=rng)
    assert result["p_sato_tate"] < 1e-6
    assert result["p_permutation"] > 0.01


def test_split_shift_with_a_group_too_small():
    rng = np.random.default_rng(5)
    means, variance, _, conductor = synthetic(0.0, rng, curves=50)
    high = np.zeros(50, dtype=bool)
    high[0] = True
    result = split_shift(means, variance, high, conductor, 5, 99, rng)
    assert result["difference"] is None and result["curves_second"] == 1


def test_known_checks_read_the_metrics():
    invariants = {
        "bounds": {"degree_conductor_max": 1000},
        "watkins": {"curves": 3, "holds": 2, "violations": 1, "violating_curves": ["99z1"],
                    "by_rank": [{"rank": 0, "curves": 2, "holds": 2, "min_v2": 0},
                                {"rank": 1, "curves": 1, "holds": 0, "min_v2": 0}]},
        "szpiro": {"max": 8.1, "max_curve": "11a2", "mean": 3.2, "above_6": 4,
                   "by_decade": [{"conductor_low": 10, "conductor_high": 100, "max": 8.1,
                                  "label": "11a2"}]}}
    test = {"difference": 0.2, "p_permutation": 0.0005, "p_sato_tate": 1e-5}
    murmurations = {"wachs_split": {"primes_max": 200, "level": 0.001, "seen": True,
                                    "seen_in": ["w rank 0 real_period (all_primes)"],
                                    "windows": {"w": {"rank 0": {"real_period": {
                                        "all_primes": test, "good_primes": test}}}}}}
    checks = known_checks({"invariants_metrics": invariants, "murmurations_metrics": murmurations})
    assert checks["phenomenon"].to_list() == [name for name, *_ in KNOWN_CHECKS]
    assert checks["as_expected"].to_list() == [False, None, True]
    assert "violated by 99z1" in checks["result"][0] and "N <= 1,000" in checks["result"][0]
    assert "8.100 (11a2)" in checks["result"][1]
    assert "p = 0.0005 (permutations)" in checks["result"][2]
    assert checks["reference"].str.contains(r"(19|20)\d\d").all()   # each cites its year
    only = known_checks({"murmurations_metrics": murmurations})
    assert only["phenomenon"].to_list() == [KNOWN_CHECKS[2][0]]
