"""Persistent homology against null clouds (models/topology.py): the known cases."""
from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from models.topology import (cloud_test, describe, diagrams, empirical_p, group_difference,
                             landmarks, on_grid, standardized)

DIMENSIONS = (0, 1)


def noisy_circle(n: int, rng) -> np.ndarray:
    angle = rng.uniform(0, 2 * np.pi, n)
    return np.c_[np.cos(angle), np.sin(angle)] + 0.05 * rng.normal(size=(n, 2))


def gaussian_like(points):
    return lambda rng: rng.multivariate_normal(points.mean(0), np.cov(points, rowvar=False),
                                               size=len(points))


def h1(result: pl.DataFrame, statistic: str) -> dict:
    return result.filter(pl.col("statistic") == statistic).row(0, named=True)


def test_landmarks_are_distinct_and_spread():
    rng = np.random.default_rng(0)
    points = np.r_[rng.normal(size=(1000, 2)), [[50.0, 50.0]]]      # one far outlier
    chosen = landmarks(points, 40, rng)
    assert len(set(chosen.tolist())) == 40 and 1000 in chosen      # maxmin reaches the outlier
    assert landmarks(points[:30], 40, rng).tolist() == list(range(30))


def test_landmarks_are_the_maxmin_of_the_grid_distances_ties_to_the_lowest_index():
    """The definition, by brute force: each next landmark maximizes the exact squared distance
    to the chosen ones, the first such index on a tie (a_p clouds are full of ties)."""
    rng = np.random.default_rng(3)
    points = np.r_[rng.integers(-3, 4, size=(400, 5)), rng.normal(size=(100, 5))].astype(float)
    grid, _ = on_grid(points)
    chosen = landmarks(points, 60, np.random.default_rng(9))
    first = int(np.random.default_rng(9).integers(len(points)))
    expected = [first]
    for _ in range(59):
        nearest = [min(sum((int(a) - int(b)) ** 2 for a, b in zip(grid[i], grid[j]))
                       for j in expected) for i in range(len(points))]
        expected.append(nearest.index(max(nearest)))
    assert chosen.tolist() == expected


def test_diagrams_are_those_of_the_edge_collapsed_complex():
    """Without the edge collapse, the same persistence pairs to the last bit."""
    from gtda.homology import VietorisRipsPersistence
    rng = np.random.default_rng(4)
    clouds = [noisy_circle(150, rng), rng.normal(size=(150, 7))]
    collapsed = VietorisRipsPersistence(homology_dimensions=DIMENSIONS, collapse_edges=True,
                                        n_jobs=1).fit_transform(clouds)
    for ours, theirs in zip(diagrams(clouds, DIMENSIONS), collapsed):
        assert np.array_equal(np.unique(ours, axis=0), np.unique(theirs, axis=0))


def test_standardized_columns():
    scaled = standardized(np.c_[np.arange(10.0), np.full(10, 3.0)])
    assert np.allclose(scaled.mean(0), 0) and np.allclose(scaled[:, 0].std(), 1)
    assert np.all(scaled[:, 1] == 0)


def test_rounding_noise_is_not_scaled_up_into_shape():
    rng = np.random.default_rng(2)
    signal = rng.normal(size=200)
    rounding = np.log1p(rng.choice([-2.2e-16, 0.0, 4.4e-16], size=200))   # log(sha_an), Sha = 1
    scaled = standardized(np.c_[signal, rounding, 7.0 + 1e-6 * signal])
    assert np.all(scaled[:, 1] == 0)
    assert np.allclose(scaled[:, 0], (signal - signal.mean()) / signal.std(), rtol=0, atol=1e-12)
    assert np.allclose(scaled[:, 2], scaled[:, 0])          # small but real variation is kept


def test_noisy_circle_has_one_long_h1_bar_beyond_the_gaussian_null():
    rng = np.random.default_rng(1)
    circle = noisy_circle(1500, rng)
    result = cloud_test(circle, {"gaussian": gaussian_like(circle)}, 19, 150, DIMENSIONS, rng)
    longest = h1(result, "longest_h1")
    assert longest["observed"] > 3 * longest["null_high"]
    assert longest["p_empirical"] <= 0.05 and longest["p_value"] < 1e-6
    summary = describe([circle], 150, DIMENSIONS, rng)
    bars = np.sort(summary["longest_h1"].to_numpy())
    assert bars[-1] > 1.0                                           # the circle's one hole


def test_gaussian_blob_shows_nothing_beyond_the_null():
    rng = np.random.default_rng(2)
    blob = rng.normal(size=(1500, 2))
    result = cloud_test(blob, {"gaussian": gaussian_like(blob)}, 19, 150, DIMENSIONS, rng)
    for statistic in ("longest_h1", "amplitude_bottleneck_h1", "entropy_h1"):
        assert h1(result, statistic)["p_value"] > 0.01, statistic
        assert h1(result, statistic)["p_empirical"] > 0.05, statistic


def test_group_difference_by_permuted_labels():
    rng = np.random.default_rng(3)
    circle, blob, other = (noisy_circle(800, rng), rng.normal(size=(800, 2)),
                           rng.normal(size=(800, 2)))
    labels = np.r_[np.zeros(800), np.ones(800)]
    differ = group_difference(np.r_[circle, blob], labels, (0, 1), 100, DIMENSIONS, 19, rng)
    same = group_difference(np.r_[other, blob], labels, (0, 1), 100, DIMENSIONS, 19, rng)
    assert h1(differ, "longest_h1")["p_value"] < 1e-6
    assert h1(same, "longest_h1")["p_value"] > 0.01


@pytest.mark.parametrize("observed, expected", [(10.0, 1 / 5), (0.0, 1.0)])
def test_empirical_p(observed, expected):
    assert empirical_p(observed, np.array([-1.0, 0.0, 0.5, 1.0])) == pytest.approx(expected)


def test_every_topological_test_gets_a_verdict_and_its_reason():
    from models.laws import LAWS
    from models.topology_verdicts import AGAINST_NULLS, DEPARTURES, GROUP_DIFFERENCE, verdicts
    from models.verdicts import FINDING, NOT_SIGNIFICANT_TOPOLOGY as NOT_SIGNIFICANT
    assert {d.law for d in DEPARTURES} - {"construction"} <= {law.name for law in LAWS}
    rows = [("bsd", "rank 0", AGAINST_NULLS, "shuffled columns", 1e-30, 0.025, 1e-29),
            ("bsd", "rank 1", AGAINST_NULLS, "gaussian", 0.3, 0.4, 0.5),
            ("ap", "root number -1", AGAINST_NULLS, "sato_tate", 1e-6, 0.025, 1e-5),
            ("ap", "rank 2", AGAINST_NULLS, "sato_tate", 1e-6, 0.05, 1e-5),
            ("weierstrass", "rank 0", AGAINST_NULLS, "gaussian", 1e-6, 0.025, 1e-5),
            ("weierstrass", "rank 0 vs rank 1", GROUP_DIFFERENCE, "permuted labels", 1e-4,
             0.05, 1e-3)]
    tests = pl.DataFrame(rows, orient="row", schema=["family", "group", "kind", "null_model",
                                                     "p_value", "p_empirical", "q_value"])
    tests = tests.with_columns(observed=pl.lit(2.0), null_low=pl.lit(0.5), null_high=pl.lit(1.0),
                               curves=pl.lit(500), window_low=pl.lit(1),
                               window_high=pl.lit(10000), statistic=pl.lit("entropy_h1"))
    judged = verdicts(tests, 0.05, {AGAINST_NULLS: 39, GROUP_DIFFERENCE: 19})
    assert judged["verdict"].to_list() == [
        "explained by BSD formula", NOT_SIGNIFICANT, "explained by murmurations",
        "explained by Mestre-Nagao", "explained by construction", FINDING]
    reasons = judged["reason"].to_list()
    # the empirical p leads, at its floor where it is there; the normal fit follows it
    assert "empirical p 0.025 (its floor 1/40); normal fit to the nulls p = 1e-30" in reasons[0]
    assert "empirical p 0.05 (its floor 1/20)" in reasons[5]
    assert "above 0.05" in reasons[1] and "1728Δ = c4³ − c6²" in reasons[4]
    assert reasons[5].startswith("observed 2 outside the null 5–95% band 0.5 – 1")
