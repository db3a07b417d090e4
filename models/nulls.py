"""Quasirandom null models: synthetic datasets with exactly the schema of the real one.

Each function takes the model frame (features joined with the BSD table, one row per curve,
isogeny classes contiguous) and a seeded ``numpy.random.Generator`` and returns a frame with
the same columns and dtypes, in which the named structure is replaced by what a heuristic or
pure chance produces. A model that scores as well on these as on the real data has found the
heuristic, not a pattern (Sawin's rule: most properties are explained by known heuristics or
are quasirandom).
"""
from __future__ import annotations

import numpy as np
import polars as pl

from arithmetic.traces import ap_column
from models.delaunay import ShaModel
from models.features import trace_features
from models.sato_tate import sample_traces, torsion_modulus
from models.splits import conductor_strata


def _same_schema(null: pl.DataFrame, real: pl.DataFrame) -> pl.DataFrame:
    return null.select([pl.col(name).cast(dtype) for name, dtype in real.schema.items()])


def class_starts(frame: pl.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """(first row, size) of each isogeny class; classes must be contiguous."""
    runs = frame.select(pl.col("isogeny_class").rle()).unnest("isogeny_class")
    sizes = runs["len"].to_numpy().astype(np.int64)
    if runs["value"].n_unique() != len(runs):
        raise ValueError("isogeny classes are not contiguous in the frame")
    return np.concatenate([[0], np.cumsum(sizes)[:-1]]), sizes


def permute_classes(frame: pl.DataFrame, columns: list[str], strata: int,
                    rng: np.random.Generator) -> pl.DataFrame:
    """Permute ``columns`` between whole isogeny classes of the same conductor stratum and the
    same size: each class receives, row for row, the values of another class. Class sizes,
    stratum sizes and the within-class structure of the values are kept; their link to
    everything else is broken."""
    starts, sizes = class_starts(frame)
    stratum = conductor_strata(frame["conductor"].to_numpy()[starts], strata)
    donors = np.arange(len(starts))
    for key in np.unique(np.stack([stratum, sizes]), axis=1).T:
        members = np.flatnonzero((stratum == key[0]) & (sizes == key[1]))
        donors[members] = rng.permutation(members)
    rows = np.concatenate([starts[d] + np.arange(sizes[d]) for d in donors])
    permuted = frame.select(columns)[rows]
    return _same_schema(frame.with_columns(permuted), frame)


def sato_tate_traces(frame: pl.DataFrame, primes: list[int], bounds: list[int],
                     rng: np.random.Generator) -> pl.DataFrame:
    """Replace a_p at every good prime by a Sato–Tate draw (:mod:`models.sato_tate`), one per
    isogeny class (isogenous curves share a_p), respecting Hasse's bound and the torsion
    congruence (the lcm of the torsion orders in the class must divide #E(F_p)); w_p at bad
    primes is kept. ``ap_norm_<p>`` and the Mestre–Nagao sums are recomputed from the draws."""
    starts, sizes = class_starts(frame)
    conductor = frame["conductor"].to_numpy()[starts]
    class_of_row = np.repeat(np.arange(len(starts)), sizes)
    torsion = frame["torsion"].to_numpy()
    class_torsion = np.zeros(len(starts), dtype=np.int64) + 1
    np.lcm.at(class_torsion, class_of_row, torsion)
    traces = frame.select([ap_column(p) for p in primes]).to_numpy().astype(np.int64)[starts]
    for j, p in enumerate(primes):
        good = conductor % p != 0
        traces[good, j] = sample_traces(p, torsion_modulus(class_torsion[good], p), rng)
    derived = trace_features(traces[class_of_row], frame["conductor"].to_numpy(), primes, bounds)
    replaced = [c for c in derived.columns if c in frame.columns]
    return _same_schema(frame.with_columns(derived.select(replaced)), frame)


def minimalist_ranks(frame: pl.DataFrame, high_rank_rate: float,
                     rng: np.random.Generator) -> pl.DataFrame:
    """Ranks from the minimalist conjecture: rank 0 when w = +1 and 1 when w = −1, raised by 2
    for a fraction ``high_rank_rate`` of classes (chosen at random); one rank per class."""
    starts, sizes = class_starts(frame)
    root_number = frame["root_number"].to_numpy()[starts]
    ranks = (1 - root_number) // 2 + 2 * (rng.random(len(starts)) < high_rank_rate)
    return _same_schema(frame.with_columns(rank=pl.Series(np.repeat(ranks, sizes))), frame)


def delaunay_sha(frame: pl.DataFrame, model: ShaModel, rng: np.random.Generator) -> pl.DataFrame:
    """Replace each curve's Sha by a draw from the Delaunay / Poonen–Rains (BKLPR) model given
    its rank (:class:`models.delaunay.ShaModel`): #Sha = ∏_p #Sha[p^∞] over the model's primes,
    independent over p. ``sha``, ``sha_an`` and ``log_sha_an`` (where present) are replaced."""
    sha = model.sample(frame["rank"].to_numpy(), rng)
    replaced = {"sha": sha, "sha_an": sha.astype(np.float64),
                "log_sha_an": np.log(sha.astype(np.float64))}
    return _same_schema(frame.with_columns(
        [pl.Series(name, values) for name, values in replaced.items() if name in frame.columns]),
        frame)


def shuffled_columns(frame: pl.DataFrame, columns: list[str],
                     rng: np.random.Generator) -> pl.DataFrame:
    """Each of ``columns`` permuted independently: every marginal kept, every dependence
    between the columns (and with the rest) destroyed."""
    return _same_schema(frame.with_columns(
        [frame[c].gather(rng.permutation(len(frame))) for c in columns]), frame)


#: Eigenvalues of a covariance below this share of its largest are rounding of an exact zero: a
#: constant column (log R at rank 0), or a column an identity ties to the others (BSD's log L).
EIGENVALUE_FLOOR = 1e-12


def normal_model(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(mean, C^(1/2)) of the rows of ``values``, C^(1/2) = V diag(√λ) Vᵀ the symmetric square
    root of their covariance C = V diag(λ) Vᵀ, with the eigenvalues below
    :data:`EIGENVALUE_FLOOR` of the largest set to 0 (Higham, *Functions of Matrices*, 2008,
    §6.1: the unique positive semidefinite square root).

    It is unique whatever eigenvectors LAPACK returns within a repeated eigenvalue. numpy's
    ``multivariate_normal`` samples with V diag(√|λ|) itself, and a zero eigenvalue computed as
    ±1e-17 puts noise of size 3e-9 along an arbitrary null direction: between two OpenBLAS
    kernels (``OPENBLAS_CORETYPE``) the BSD clouds' Gaussian nulls differed by 1e-7, enough
    to change their landmarks. Here the kernels change only the last bits."""
    values = np.asarray(values, dtype=np.float64)
    covariance = np.atleast_2d(np.cov(values, rowvar=False))
    eigenvalues, vectors = np.linalg.eigh(covariance)
    kept = np.where(eigenvalues > EIGENVALUE_FLOOR * max(eigenvalues.max(), 0.0), eigenvalues, 0.0)
    return values.mean(axis=0), (vectors * np.sqrt(kept)) @ vectors.T


def normal_draw(mean: np.ndarray, root: np.ndarray, size: int,
                rng: np.random.Generator) -> np.ndarray:
    """``size`` draws of N(mean, root²) (:func:`normal_model`): mean + Z·root, Z standard normal
    drawn row by row as ``multivariate_normal`` draws it, the product summed column by column
    in a fixed order (elementwise, so no BLAS kernel's summation order reaches the sample)."""
    z = rng.standard_normal((size, len(mean)))
    sample = np.broadcast_to(mean, (size, len(mean))).copy()
    for j in range(len(mean)):
        sample += z[:, j:j + 1] * root[j]
    return sample


def gaussian_cloud(frame: pl.DataFrame, columns: list[str],
                   rng: np.random.Generator) -> pl.DataFrame:
    """``columns`` replaced by a multivariate normal sample with their mean and covariance
    (:func:`normal_model`): the linear structure of the point cloud kept, any non-linear
    (topological) shape lost."""
    mean, root = normal_model(frame.select(columns).to_numpy())
    sample = normal_draw(mean, root, len(frame), rng)
    return _same_schema(frame.with_columns(
        [pl.Series(c, sample[:, i]) for i, c in enumerate(columns)]), frame)


__all__ = ["class_starts", "delaunay_sha", "gaussian_cloud", "normal_draw", "normal_model",
           "minimalist_ranks", "permute_classes", "sato_tate_traces", "shuffled_columns"]
