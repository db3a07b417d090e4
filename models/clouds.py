"""The point clouds of curves whose topology is tested (:mod:`models.topology`), and the
null clouds each is compared with.

- ``bsd``: standardized logs of Ω, R, L^(r)(E,1)/r!, ∏c_p, #T, Sha and N, per rank and
  conductor window (the high-dimensional cloud of BSD quantities).
- ``ap``: a_p/2√p for the primes up to a bound, one curve per isogeny class (isogenous
  curves share their a_p), per rank and per root number.
- ``weierstrass``: (sign·log|c4|, sign·log|c6|) per rank, the plane of the rank patterns.

Nulls: every cloud against its columns shuffled independently and a Gaussian of the same
mean and covariance; the a_p clouds also against Sato–Tate traces (:func:`models.nulls.
sato_tate_traces`: Hasse bound and torsion congruences kept).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import polars as pl

from models.features import ap_norm_column
from models.nulls import normal_draw, normal_model, sato_tate_traces

BSD_COLUMNS = ["log_real_period", "log_regulator", "log_special_value", "log_tamagawa_product",
               "log_torsion", "log_sha_an", "log_conductor"]
WEIERSTRASS_COLUMNS = ["slog_c4", "slog_c6"]
#: Ranks with a cloud of their own; higher ranks join the last.
RANKS = (0, 1, 2)


@dataclass(frozen=True)
class Cloud:
    family: str
    group: str                  # "rank 0", "root number -1", ...
    window: tuple[int, int]     # conductors window[0] <= N < window[1]
    columns: tuple[str, ...]
    rows: np.ndarray            # row indices into the frame

    def points(self, frame: pl.DataFrame) -> np.ndarray:
        return frame[self.rows].select(self.columns).to_numpy().astype(np.float64)


def _rank_groups(frame: pl.DataFrame, mask: np.ndarray) -> dict[str, np.ndarray]:
    rank = np.minimum(frame["rank"].to_numpy(), RANKS[-1])
    return {f"rank {r}": np.flatnonzero(mask & (rank == r)) for r in RANKS}


def clouds(frame: pl.DataFrame, windows: list[tuple[int, int]], primes: list[int],
           minimum: int) -> list[Cloud]:
    """Every cloud of the three families with at least ``minimum`` points."""
    conductor = frame["conductor"].to_numpy()
    everything = ((conductor >= min(w[0] for w in windows))
                  & (conductor < max(w[1] for w in windows)))
    span = (min(w[0] for w in windows), max(w[1] for w in windows))
    found = []
    for window in windows:
        inside = (conductor >= window[0]) & (conductor < window[1])
        found += [Cloud("bsd", group, window, tuple(BSD_COLUMNS), rows)
                  for group, rows in _rank_groups(frame, inside).items()]
    first = np.zeros(len(frame), dtype=bool)
    first[np.unique(frame["isogeny_class"].to_numpy(), return_index=True)[1]] = True
    ap_columns = tuple(ap_norm_column(p) for p in primes)
    groups = _rank_groups(frame, everything & first)
    root = frame["root_number"].to_numpy()
    groups |= {f"root number {w:+d}": np.flatnonzero(everything & first & (root == w))
               for w in (1, -1)}
    found += [Cloud("ap", group, span, ap_columns, rows) for group, rows in groups.items()]
    found += [Cloud("weierstrass", group, span, tuple(WEIERSTRASS_COLUMNS), rows)
              for group, rows in _rank_groups(frame, everything).items()]
    return [c for c in found if len(c.rows) >= minimum]


def shuffled(points: np.ndarray) -> Callable[[np.random.Generator], np.ndarray]:
    """Each column permuted on its own: the marginals kept, their joint shape lost."""
    return lambda rng: np.column_stack([rng.permutation(column) for column in points.T])


def gaussian(points: np.ndarray) -> Callable[[np.random.Generator], np.ndarray]:
    """A normal sample with the cloud's mean and covariance: linear structure only
    (:func:`models.nulls.normal_model`, the same on every machine up to the last bits)."""
    mean, root = normal_model(points)
    return lambda rng: normal_draw(mean, root, len(points), rng)


def sato_tate(frame: pl.DataFrame, cloud: Cloud, primes: list[int], bounds: list[int]
              ) -> Callable[[np.random.Generator], np.ndarray]:
    """The cloud's curves with Sato–Tate traces in place of their a_p."""
    rows = frame[cloud.rows]
    return lambda rng: sato_tate_traces(rows, primes, bounds, rng).select(
        cloud.columns).to_numpy().astype(np.float64)


def null_clouds(frame: pl.DataFrame, cloud: Cloud, primes: list[int], bounds: list[int]
                ) -> dict[str, Callable[[np.random.Generator], np.ndarray]]:
    points = cloud.points(frame)
    nulls = {"shuffled columns": shuffled(points), "gaussian": gaussian(points)}
    if cloud.family == "ap":
        nulls["sato_tate"] = sato_tate(frame, cloud, primes, bounds)
    return nulls
