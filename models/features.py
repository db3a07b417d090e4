"""Features of a curve for the models, as polars frames, and the named feature groups.

Feature groups (:mod:`arithmetic.feature_groups`) name sets of columns by full-match regular
expressions, so later stages can ask "predict target T from group G".

The a_p features follow Cremona's aplist convention (:mod:`arithmetic.traces`): ``ap_<p>`` is
a_p at good p and the Atkin–Lehner sign w_p at bad p. ``ap_norm_<p>`` = a_p/(2√p) ∈ [−1, 1] at
good p (Hasse's bound), and 0 at bad p, where the Sato–Tate normalization has no meaning.

Mestre–Nagao sums over the good primes p <= B, with N_p = #E(F_p) = p + 1 − a_p. Under BSD and
GRH each tends to a simple function of the analytic rank r as B grows (Mestre 1985; Nagao 1997;
Kazalicki–Vlah 2023; Bujanović–Kazalicki–Novak 2024):

- ``mn_s0_<B>`` = (1/log B) Σ a_p log p / p          (→ −r + 1/2)
- ``mn_s1_<B>`` = Σ (1 − (p − 1)/N_p) log p           (grows like r log B)
- ``mn_s2_<B>`` = (1/B) Σ a_p log p                   (→ −r)
- ``mn_s3_<B>`` = Σ (1 − N_p/p)                       (first-order version of ∏ N_p/p)
- ``mn_s4_<B>`` = (1/log log B) Σ log(N_p/p)          (∏ N_p/p ~ C (log B)^r, BSD's heuristic)
"""
from __future__ import annotations

import math
import re

import numpy as np
import polars as pl

from arithmetic.feature_groups import FEATURE_GROUPS
from arithmetic.traces import ap_column
from models.known_quantities import with_derived
from models.splits import conductor_strata

#: Columns that identify a curve; they are never features.
KEY_COLUMNS = ["label", "isogeny_class", "number", "conductor"]

#: The BSD quantities whose logarithms are features (group ``bsd``), with ``rank``.
LOGGED_BSD = ["torsion", "tamagawa_product", "real_period", "regulator", "special_value", "sha_an"]

MESTRE_NAGAO_SUMS = ("s0", "s1", "s2", "s3", "s4")


def ap_norm_column(p: int) -> str:
    return f"ap_norm_{p}"


def mestre_nagao_column(name: str, bound: int) -> str:
    return f"mn_{name}_{bound}"


def good_mask(conductor: np.ndarray, primes: list[int]) -> np.ndarray:
    """Boolean (curves × primes): p does not divide N."""
    return conductor[:, None] % np.asarray(primes)[None, :] != 0


def trace_features(ap: np.ndarray, conductor: np.ndarray, primes: list[int],
                   bounds: list[int], block: int = 100_000) -> pl.DataFrame:
    """``ap_<p>``, ``ap_norm_<p>`` and the Mestre–Nagao sums from an (curves × primes) matrix of
    aplist values (a_p at good p, w_p at bad p) and the conductors. Computed ``block`` curves at
    a time: the sums' (curves × primes) terms of the full range would take about 6 GiB at once."""
    return pl.concat([_trace_block(ap[start:start + block], conductor[start:start + block],
                                   primes, bounds)
                      for start in range(0, max(len(conductor), 1), block)])


def _trace_block(ap: np.ndarray, conductor: np.ndarray, primes: list[int],
                 bounds: list[int]) -> pl.DataFrame:
    p = np.asarray(primes, dtype=np.float64)
    good = good_mask(conductor, primes)
    a = np.where(good, ap, 0).astype(np.float64)
    columns: dict[str, np.ndarray] = {}
    for j, prime in enumerate(primes):
        columns[ap_column(prime)] = ap[:, j].astype(np.int16)
    normalized = a / (2 * np.sqrt(p))
    for j, prime in enumerate(primes):
        columns[ap_norm_column(prime)] = normalized[:, j]
    points = p + 1 - a
    terms = {
        "s0": a * np.log(p) / p,
        "s1": (1 - (p - 1) / points) * np.log(p),
        "s2": a * np.log(p),
        "s3": 1 - points / p,
        "s4": np.log(points / p),
    }
    for bound in bounds:
        within = good & (p <= bound)
        scale = {"s0": 1 / math.log(bound), "s1": 1.0, "s2": 1 / bound, "s3": 1.0,
                 "s4": 1 / math.log(math.log(bound))}
        for name in MESTRE_NAGAO_SUMS:
            columns[mestre_nagao_column(name, bound)] = \
                scale[name] * np.where(within, terms[name], 0).sum(axis=1)
    return pl.DataFrame(columns)


def torsion_bound(ap: np.ndarray, conductor: np.ndarray, primes: list[int]) -> np.ndarray:
    """gcd of p + 1 − a_p = #E(F_p) over the good primes p >= 3 in ``primes`` (columns of the
    aplist matrix ``ap``): E(Q)_tors injects into E(F_p) at good p > 2 (Silverman VII.3.1),
    so #T divides it; an isogeny invariant."""
    odd = [j for j, p in enumerate(primes) if p >= 3]
    p = np.asarray(primes)[odd]
    points = p[None, :] + 1 - ap[:, odd]
    points = np.where(conductor[:, None] % p[None, :] == 0, 0, points)   # gcd(0, x) = x
    return np.gcd.reduce(points.astype(np.int64), axis=1)


def topology_features(frame: pl.DataFrame, windows: int, primes: list[int], size: int,
                      bins: int, seed: int) -> pl.DataFrame:
    """Topological features per conductor window: the curves are cut into ``windows``
    equal-count conductor windows; each window's a_p cloud (a_p/2√p, p in ``primes``) and
    Weierstrass cloud (signed logs of c4, c6) get their Vietoris–Rips Betti curves in H0 and
    H1 (:func:`models.topology.betti_vectors`, ``size`` landmarks, ``bins`` values), and every
    curve carries its window's: ``topo_<cloud>_h<q>_<bin>``. They say what shape the curves
    around a curve's conductor have, nothing about the curve itself."""
    from models.topology import betti_vectors

    # equal-count bins of tied conductors can come out empty: number the occupied ones 0..k-1
    _, window = np.unique(conductor_strata(frame["conductor"].to_numpy(), windows),
                          return_inverse=True)
    rng = np.random.default_rng(seed)
    columns: dict[str, np.ndarray] = {}
    for cloud, names in (("ap", [ap_norm_column(p) for p in primes]),
                         ("weierstrass", ["slog_c4", "slog_c6"])):
        points = frame.select(names).to_numpy().astype(np.float64)
        vectors = betti_vectors([points[window == w] for w in range(window.max() + 1)], size,
                                TOPOLOGY_DIMENSIONS, bins, rng)
        columns.update(zip(topology_columns(bins, cloud), vectors[window].T))
    return pl.DataFrame(columns)


#: The homology dimensions of :func:`topology_features` (H0, H1).
TOPOLOGY_DIMENSIONS = (0, 1)


def topology_columns(bins: int, *clouds: str) -> list[str]:
    """The columns of :func:`topology_features` for ``clouds`` (default: both), in its order:
    ``topo_<cloud>_h<q>_<bin>``."""
    return [f"topo_{cloud}_h{q}_{b}" for cloud in clouds or ("ap", "weierstrass")
            for q in TOPOLOGY_DIMENSIONS for b in range(bins)]


def ap_matrix(frame: pl.DataFrame, primes: list[int]) -> np.ndarray:
    """The (curves × primes) matrix of ``ap_<p>`` columns."""
    return frame.select([ap_column(p) for p in primes]).to_numpy().astype(np.int64)


def conductor_features(frame: pl.DataFrame) -> pl.DataFrame:
    """log N, the number of bad and of additive primes, semistability (N squarefree), and
    log of the largest prime factor of N."""
    return frame.select(
        log_conductor=pl.col("conductor").log(),
        bad_primes=pl.col("bad_primes"),
        additive_primes=pl.col("additive_primes"),
        semistable=pl.col("semistable").cast(pl.Int8),
        log_largest_prime=pl.col("largest_prime").log(),
    )


def bsd_features(bsd: pl.DataFrame) -> pl.DataFrame:
    """``rank`` and the logs of the BSD quantities (regulator 1 for rank 0: log 0)."""
    return bsd.select(pl.col("rank").cast(pl.Int8),
                      *[pl.col(name).cast(pl.Float64).log().alias(f"log_{name}")
                        for name in LOGGED_BSD])


def resolve_groups(columns: list[str], groups: dict[str, tuple[str, ...]] | None = None
                   ) -> dict[str, list[str]]:
    """The feature columns of each group (``groups``: name -> full-match patterns; by default
    those of :data:`arithmetic.feature_groups.FEATURE_GROUPS`): those fully matching one of its
    patterns.

    Raises ValueError for a pattern that matches no column, or a feature column in no group.
    """
    if groups is None:
        groups = {name: group.columns for name, group in FEATURE_GROUPS.items()}
    features = [c for c in columns if c not in KEY_COLUMNS]
    resolved, claimed = {}, set()
    for group, patterns in groups.items():
        members = []
        for pattern in patterns:
            matched = [c for c in features if re.fullmatch(pattern, c)]
            if not matched:
                raise ValueError(f"feature group {group}: pattern {pattern!r} matches no column")
            members += [c for c in matched if c not in members]
        resolved[group] = members
        claimed.update(members)
    unclaimed = [c for c in features if c not in claimed]
    if unclaimed:
        raise ValueError(f"feature columns in no feature group: {unclaimed}")
    return resolved


def model_frame(features: pl.DataFrame, bsd: pl.DataFrame) -> pl.DataFrame:
    """Features with the BSD table's columns (the targets) beside them, row for row, and the
    known quantities derived from them (:func:`models.known_quantities.with_derived`)."""
    if not features["label"].equals(bsd["label"]):
        raise ValueError("features and bsd tables do not hold the same curves in the same order")
    return with_derived(pl.concat(
        [features, bsd.drop([c for c in bsd.columns if c in features.columns])],
        how="horizontal"))
