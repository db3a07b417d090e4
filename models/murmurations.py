r"""Known phenomena, computed so that the pipeline can show it rediscovers them.

**Murmurations** (He, Lee, Oliver, Pozdnyakov, *Murmurations of elliptic curves*, 2022): over
curves with conductor N in a window [N₀, N₁], one per isogeny class, the average of the
L-series coefficient a_p at a fixed prime p depends on the rank (equivalently on the root number
w): it oscillates as a function of p/N, with opposite signs for w = +1 and w = −1, and at small
p/N the rank-0 average is positive and the rank-1 average negative (the direction of the
Mestre–Nagao heuristic: more points mod p go with higher rank). :func:`trace_averages` gives
the averages by prime (bins of consecutive primes) and by p/N, each with a normal 95% band;
:func:`sato_tate_traces` gives the same curves' a_p redrawn from the Sato–Tate law, whose
averages must stay near 0.

**The BSD ratio** L^(r)(E,1)/(r!·Ω·R) = #Ш·∏c_p/#T² (under BSD): :func:`beta_fits` fits a Beta
law by maximum likelihood to its logarithm rescaled to (0, 1), per equal-count conductor window,
with the Kolmogorov–Smirnov distance of the fit, to show how the distribution moves with N.

The labels the findings engine gives the other known phenomena are read in :mod:`models.known`.
"""
from __future__ import annotations

import numpy as np
import polars as pl
from scipy import stats

from models.nulls import conductor_strata
from models.sato_tate import sample_traces

Z95 = 1.959963984540054


def _band(sums: np.ndarray, squares: np.ndarray, counts: np.ndarray) -> tuple[np.ndarray, ...]:
    mean = np.divide(sums, counts, out=np.full(len(sums), np.nan), where=counts > 0)
    variance = np.divide(squares, counts, out=np.zeros(len(sums)), where=counts > 0) - mean**2
    spread = np.sqrt(np.maximum(variance, 0) / np.maximum(counts - 1, 1))
    return mean, mean - Z95 * spread, mean + Z95 * spread


def trace_averages(traces: np.ndarray, conductor: np.ndarray, primes: list[int],
                   group: np.ndarray, prime_bin: int, ratio_bins: int,
                   ratio_max: float) -> pl.DataFrame:
    """Average a_p of the curves (rows of ``traces``, columns ``primes``) of each value of
    ``group``: by prime (``prime_bin`` consecutive primes a point; axis ``p``, x = the bin's
    mean prime) and by p/N (``ratio_bins`` equal bins of (0, ratio_max]; axis ``p/N``)."""
    p = np.asarray(primes, dtype=float)
    rows = []
    for name in sorted(set(group.tolist())):
        a = traces[group == name].astype(float)
        n = len(a)
        for start in range(0, len(primes), prime_bin):
            block = a[:, start:start + prime_bin]
            mean, low, high = _band(np.array([block.sum()]), np.array([(block**2).sum()]),
                                    np.array([block.size]))
            rows.append((name, "p", float(p[start:start + prime_bin].mean()), mean[0], low[0],
                         high[0], n))
        ratio = p[None, :] / conductor[group == name][:, None]
        index = np.floor(ratio / ratio_max * ratio_bins).astype(int)
        keep = (index >= 0) & (index < ratio_bins)
        counts = np.bincount(index[keep], minlength=ratio_bins)
        sums = np.bincount(index[keep], a[keep], minlength=ratio_bins)
        squares = np.bincount(index[keep], a[keep] ** 2, minlength=ratio_bins)
        mean, low, high = _band(sums, squares, counts)
        centres = (np.arange(ratio_bins) + 0.5) * ratio_max / ratio_bins
        rows += [(name, "p/N", float(c), m, lo, hi, n)
                 for c, m, lo, hi, k in zip(centres, mean, low, high, counts) if k > 0]
    return pl.DataFrame(rows, schema={"group": pl.String, "axis": pl.String, "x": pl.Float64,
                                      "mean": pl.Float64, "low": pl.Float64, "high": pl.Float64,
                                      "curves": pl.Int64}, orient="row")


def sato_tate_traces(shape: tuple[int, int], primes: list[int],
                     rng: np.random.Generator) -> np.ndarray:
    """Traces drawn independently from the Sato–Tate law (integer a_p, Hasse's bound) for
    ``shape`` = (curves, len(primes)): the null whose averages have no murmuration."""
    ones = np.ones(shape[0], dtype=np.int64)
    return np.stack([sample_traces(p, ones, rng) for p in primes], axis=1)


def small_ratio_means(averages: pl.DataFrame, small_ratio: float) -> dict[str, float]:
    """Per group, the curve-weighted mean of the p/N averages over p/N <= ``small_ratio``:
    the robust summary of the sign at small p/N."""
    part = averages.filter((pl.col("axis") == "p/N") & (pl.col("x") <= small_ratio))
    return {g: float(m) for g, m in part.group_by("group").agg(pl.col("mean").mean())
            .sort("group").iter_rows()}


def conductor_windows(conductor: np.ndarray, windows: int) -> np.ndarray:
    """Equal-count conductor windows numbered 0..k−1 (tied conductors can leave some empty)."""
    return np.unique(conductor_strata(conductor, windows), return_inverse=True)[1]


def beta_fits(log_ratio: np.ndarray, conductor: np.ndarray, windows: int) -> pl.DataFrame:
    """Per equal-count conductor window: the Beta(a, b) maximum-likelihood fit to the log BSD
    ratio rescaled to (0, 1) by the whole sample's range (so the windows are comparable), its
    Kolmogorov–Smirnov distance and the window's mean and spread of the log ratio."""
    low, high = log_ratio.min(), log_ratio.max()
    width = (high - low) or 1.0
    scaled = np.clip((log_ratio - low) / width, 1e-6, 1 - 1e-6)
    window = conductor_windows(conductor, windows)
    rows = []
    for w in range(window.max() + 1):
        x = scaled[window == w]
        a, b, _, _ = stats.beta.fit(x, floc=0, fscale=1)
        ks = stats.kstest(x, "beta", args=(a, b)).statistic
        rows.append({"conductor_low": int(conductor[window == w].min()),
                     "conductor_high": int(conductor[window == w].max()),
                     "curves": int(len(x)), "a": float(a), "b": float(b), "ks": float(ks),
                     "mean_log_ratio": float(log_ratio[window == w].mean()),
                     "sd_log_ratio": float(log_ratio[window == w].std()),
                     "scale_low": float(low), "scale_high": float(high)})
    return pl.DataFrame(rows)

