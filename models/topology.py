"""Persistent homology of point clouds of curves, judged against null clouds (giotto-tda).

A cloud is a set of curves seen as points: standardized logs of their BSD quantities, their
normalized traces a_p/2√p, or their (c4, c6) plane. Its Vietoris–Rips persistence diagram
(Edelsbrunner–Harer, *Computational Topology*, VII) is summarized by the persistence entropy
(Rucco et al. 2016), amplitudes (bottleneck, Wasserstein, landscape and Betti norms of the
diagram against the empty one; giotto-tda's ``Amplitude``), the number of bars and the longest
bar, per homology dimension. Clouds are subsampled to a fixed number of landmarks (maxmin /
farthest-point sampling from a seeded start: de Silva–Carlsson 2004), which bounds the cost.

A statistic counts only against nulls: the same statistic on null clouds of the same size
(shuffled columns, a Gaussian of the same covariance, Sato–Tate traces; :mod:`models.nulls`),
and, for a difference between two groups (rank 0 against rank 1), on the groups with their
labels permuted. Each test reports a two-sided p-value from a normal fit to the null values
(with a few dozen nulls the empirical p cannot go below 1/(1 + #nulls), too coarse for a
Benjamini–Hochberg correction over hundreds of tests) and the empirical one beside it:
(1 + #{nulls at least as far from the null median}) / (1 + #nulls).
"""
from __future__ import annotations

from typing import Callable

import math

import numpy as np
import polars as pl
from gtda.diagrams import Amplitude, BettiCurve, PersistenceEntropy
from gtda.homology import VietorisRipsPersistence
from scipy.stats import norm

AMPLITUDE_METRICS = ("bottleneck", "wasserstein", "landscape", "betti")


#: A column whose spread is below this share of its magnitude varies by rounding only.
ROUNDING_SPREAD = 1e-9


def standardized(points: np.ndarray) -> np.ndarray:
    """Columns centred and scaled to unit variance; a constant column becomes 0, and so does a
    column that varies by rounding only (spread <= ROUNDING_SPREAD x (1 + max |x|)).

    Scaling rounding to unit variance invents shape: log(sha_an) of the rank-2 curves below
    10,000 (every Sha is 1) differs from 0 by 1e-15 at most, and standardized it gave the rank-2
    BSD cloud a "significant" topology against Gaussian clouds (q down to 1e-74) that vanished
    when the regulators were computed to 128 bits instead of 64."""
    points = np.asarray(points, dtype=np.float64)
    spread = points.std(axis=0)
    varies = spread > ROUNDING_SPREAD * (1 + np.abs(points).max(axis=0, initial=0))
    return (points - points.mean(axis=0)) / np.where(varies, spread, np.inf)


def on_grid(points: np.ndarray) -> tuple[np.ndarray, float]:
    """The cloud rounded to the binary grid 2^-k (k as fine as int64 squared distances allow):
    (integer coordinates, the grid's step). Landmarks are chosen in exact integer arithmetic
    on it, so ties between equal distances (a_p clouds are full of them) break by index alike
    on every machine, whatever the last bits of the floating-point cloud."""
    points = np.asarray(points, dtype=np.float64)
    dims = max(points.shape[1], 1)
    largest = max(float(np.abs(points).max(initial=0.0)), 1e-300)
    # dims * (2 * largest / step)^2 < 2^62: no squared distance overflows
    step = 2.0 ** math.ceil(math.log2(2 * largest * math.sqrt(dims) / 2.0 ** 31))
    return np.rint(points / step).astype(np.int64), step


def landmarks(points: np.ndarray, size: int, rng: np.random.Generator) -> np.ndarray:
    """Indices of ``size`` maxmin landmarks: a random first point, then repeatedly the point
    farthest from those chosen (exact distances on :func:`on_grid`, ties to the lowest index).
    All points if there are no more than ``size``."""
    if len(points) <= size:
        return np.arange(len(points))
    grid, _ = on_grid(points)
    # |x - y|^2 = |x|^2 - 2 x.y + |y|^2, exact in int64 (on_grid keeps every term below 2^61):
    # one matrix-vector product per landmark instead of an (n, d) difference array
    norms = np.einsum("ij,ij->i", grid, grid)

    def squared_distances(index: int) -> np.ndarray:
        return norms - 2 * (grid @ grid[index]) + norms[index]

    chosen = [int(rng.integers(len(points)))]
    distance = squared_distances(chosen[0])
    for _ in range(size - 1):
        chosen.append(int(np.argmax(distance)))
        np.minimum(distance, squared_distances(chosen[-1]), out=distance)
    return np.array(chosen)


def landmark_cloud(cloud: np.ndarray, size: int, rng: np.random.Generator) -> np.ndarray:
    """The standardized cloud's ``size`` landmarks, on the grid of :func:`on_grid`: the points
    persistent homology sees are the same on every machine."""
    scaled = standardized(cloud)
    grid, step = on_grid(scaled)
    return grid[landmarks(scaled, size, rng)] * step


def diagrams(clouds: list[np.ndarray], dimensions: tuple[int, ...]) -> np.ndarray:
    """Vietoris–Rips persistence diagrams of the clouds (giotto-tda's padded 3-d array of
    (birth, death, dimension) triples)."""
    # No edge collapse: it leaves the diagrams unchanged (Boissonnat–Pritam 2020) and pays off
    # on large complexes only: with it, a diagram of 150 landmarks took 2.7-5.5x as long.
    return VietorisRipsPersistence(homology_dimensions=dimensions, collapse_edges=False,
                                   n_jobs=1).fit_transform(clouds)


def summaries(diagram_array: np.ndarray, dimensions: tuple[int, ...]) -> pl.DataFrame:
    """One row per diagram: entropy, amplitudes, bar count and longest bar per dimension."""
    columns: dict[str, np.ndarray] = {}
    entropy = PersistenceEntropy(normalize=False).fit_transform(diagram_array)
    for metric in AMPLITUDE_METRICS:
        amplitude = Amplitude(metric=metric).fit_transform(diagram_array)
        for j, q in enumerate(dimensions):
            columns[f"amplitude_{metric}_h{q}"] = amplitude[:, j]
    for j, q in enumerate(dimensions):
        columns[f"entropy_h{q}"] = entropy[:, j]
        persistence = np.where(diagram_array[:, :, 2] == q,
                               diagram_array[:, :, 1] - diagram_array[:, :, 0], 0.0)
        columns[f"bars_h{q}"] = (persistence > 0).sum(axis=1).astype(np.float64)
        columns[f"longest_h{q}"] = persistence.max(axis=1)
    return pl.DataFrame(columns)


def describe(clouds: list[np.ndarray], size: int, dimensions: tuple[int, ...],
             rng: np.random.Generator) -> pl.DataFrame:
    """Summaries of each cloud after standardizing and taking ``size`` landmarks."""
    sampled = [landmark_cloud(cloud, size, rng) for cloud in clouds]
    return summaries(diagrams(sampled, dimensions), dimensions)


def betti_vectors(clouds: list[np.ndarray], size: int, dimensions: tuple[int, ...], bins: int,
                  rng: np.random.Generator) -> np.ndarray:
    """Each cloud's diagram vectorized as its Betti curves (the number of bars alive at each
    filtration value) at ``bins`` values per dimension, the values shared by all the clouds
    (giotto-tda ``BettiCurve``): one row of len(dimensions)·bins numbers per cloud."""
    sampled = [landmark_cloud(cloud, size, rng) for cloud in clouds]
    curves = BettiCurve(n_bins=bins).fit_transform(diagrams(sampled, dimensions))
    return curves.reshape(len(clouds), -1)


def empirical_p(observed: float, null: np.ndarray) -> float:
    """Two-sided: the share of nulls at least as far from the null median as ``observed``."""
    centre = np.median(null)
    return float((1 + np.sum(np.abs(null - centre) >= abs(observed - centre))) / (1 + len(null)))


def against_nulls(real: pl.DataFrame, null: pl.DataFrame) -> pl.DataFrame:
    """Per statistic: the real cloud's value, the null distribution's mean and 5–95% range,
    the two-sided p-value of a normal fit to the nulls and the empirical one (``real`` has
    one row, ``null`` one per null cloud)."""
    rows = []
    for statistic in real.columns:
        values = null[statistic].to_numpy()
        observed = float(real[statistic][0])
        spread = max(values.std(ddof=1), 1e-12 * max(1.0, abs(values.mean())))
        rows.append({"statistic": statistic, "observed": observed,
                     "null_mean": float(values.mean()),
                     "null_low": float(np.quantile(values, 0.05)),
                     "null_high": float(np.quantile(values, 0.95)),
                     "p_value": float(2 * norm.sf(abs(observed - values.mean()) / spread)),
                     "p_empirical": empirical_p(observed, values)})
    return pl.DataFrame(rows)


def group_difference(points: np.ndarray, labels: np.ndarray, groups: tuple, size: int,
                     dimensions: tuple[int, ...], permutations: int,
                     rng: np.random.Generator) -> pl.DataFrame:
    """Does the topology of group a's cloud differ from group b's? For every statistic, the
    observed difference a − b against the differences with the labels of a ∪ b permuted."""
    a, b = groups
    pooled = np.flatnonzero(np.isin(labels, [a, b]))
    labels = labels[pooled]

    def difference(assignment: np.ndarray) -> pl.DataFrame:
        both = describe([points[pooled[assignment == a]], points[pooled[assignment == b]]],
                        size, dimensions, rng)
        return both.select(pl.all().first() - pl.all().last())

    observed = difference(labels)
    null = pl.concat([difference(rng.permutation(labels)) for _ in range(permutations)])
    return against_nulls(observed, null)


NullCloud = Callable[[np.random.Generator], np.ndarray]


def cloud_test(points: np.ndarray, nulls: dict[str, NullCloud], replicates: int, size: int,
               dimensions: tuple[int, ...], rng: np.random.Generator) -> pl.DataFrame:
    """The real cloud's statistics against ``replicates`` clouds from each null model."""
    real = describe([points], size, dimensions, rng)
    tested = []
    for name, draw in nulls.items():
        null = describe([draw(rng) for _ in range(replicates)], size, dimensions, rng)
        tested.append(against_nulls(real, null).with_columns(null_model=pl.lit(name)))
    return pl.concat(tested)
