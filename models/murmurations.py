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

**The BSD ratio** L^(r)(E,1)/(r!·Ω·R) = #Ш·∏c_p/#T² (under BSD; its logarithm is
:func:`arithmetic.bsd_ratio.log_bsd_ratio`): :func:`beta_fits` fits a Beta law by maximum
likelihood to its logarithm rescaled to (0, 1), per equal-count conductor window, with the
Kolmogorov–Smirnov distance of the fit, to show how the distribution moves with N.

**The murmurations split by Tamagawa product, Sha and real period** (Wachs 2026, arXiv
2603.04604, on all Cremona curves: within each rank the murmuration profile splits by these
quantities, with a mean shift at p < 200, p < 0.001 against null models). :func:`split_shift`
reproduces the test on a window's curves (one per isogeny class): see its docstring for the
statistic, the two nulls and how each p-value is computed.

The labels the findings engine gives the other known phenomena are read in :mod:`reporting.known`.
"""
from __future__ import annotations

import math

import numpy as np
import polars as pl
from scipy import stats

from models.sato_tate import sample_traces
from models.splits import conductor_strata

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



#: The splits of the murmuration profile within a rank: name -> (column, the two groups' names).
#: The real period is split at its median within the rank (a scale, not a count).
SPLITS = {
    "tamagawa_product": ("tamagawa_product", ("c = 1", "c > 1")),
    "sha": ("sha", ("Sha = 1", "Sha > 1")),
    "real_period": ("real_period", ("Ω <= median", "Ω > median")),
}


def split_groups(values: np.ndarray, split: str) -> np.ndarray:
    """True for the second group of ``split`` (:data:`SPLITS`) among curves of one rank."""
    if split == "real_period":
        return values > np.median(values)
    return values > 1


def curve_means(traces: np.ndarray, primes: list[int], conductor: np.ndarray,
                primes_max: int, good_only: bool) -> tuple[np.ndarray, np.ndarray]:
    """Per curve, m_E = the mean of a_p over the primes p < ``primes_max`` (only those not
    dividing N with ``good_only``), and the variance of m_E under the Sato–Tate null
    (independent a_p with E[a_p] = 0, E[a_p²] = p): Σ p / k², k the number of primes averaged."""
    p = np.asarray(primes)
    keep = p < primes_max
    a, p = traces[:, keep].astype(float), p[keep].astype(float)
    used = np.ones(a.shape, dtype=bool)
    if good_only:
        used = (conductor[:, None] % p[None, :].astype(np.int64)) != 0
    count = used.sum(axis=1)
    if (count == 0).any():
        raise ValueError(f"a curve has no prime p < {primes_max} to average")
    means = (a * used).sum(axis=1) / count
    variance = (p[None, :] * used).sum(axis=1) / count**2
    return means, variance


def split_shift(means: np.ndarray, variance: np.ndarray, high: np.ndarray,
                conductor: np.ndarray, strata: int, permutations: int,
                rng: np.random.Generator) -> dict:
    r"""The mean shift of the murmuration profile between the two groups of a split, among the
    curves of one rank, against two null models.

    Statistic: D = mean(m_E : E in the second group) − mean(m_E : E in the first), with m_E the
    curve's mean a_p over the primes p < P (:func:`curve_means`; P = 200 as in Wachs 2026).

    Null 1, *permutation within conductor strata*: the group labels are permuted among the
    curves of the same equal-count conductor stratum (``strata`` strata of these curves), which
    keeps the rank's murmuration and the conductor distribution of each group and breaks only
    the link between the split quantity and the a_p. p-value: Monte Carlo, two-sided,
    (1 + #{|D*| >= |D|}) / (1 + B) over B = ``permutations`` permutations (so at least
    1/(1 + B)).

    Null 2, *Sato–Tate*: the a_p independent, of mean 0 and variance p (no murmuration at all).
    D is then a difference of two means of independent m_E with the variances given, so
    z = D / sqrt(Σ_second var/n₂² + Σ_first var/n₁²) is normal to within the central limit
    theorem's error on thousands of a_p; p-value: two-sided normal tail of z.
    """
    n_high, n_low = int(high.sum()), int((~high).sum())
    if n_high < 2 or n_low < 2:
        return {"curves_first": n_low, "curves_second": n_high, "difference": None,
                "p_permutation": None, "p_sato_tate": None}
    difference = means[high].mean() - means[~high].mean()
    stratum = conductor_strata(conductor, strata)
    order = np.argsort(stratum, kind="stable")
    bounds = np.searchsorted(stratum[order], np.arange(strata + 1))
    exceed = 0
    labels = high[order]
    sorted_means = means[order]
    for _ in range(permutations):
        shuffled = labels.copy()
        for start, stop in zip(bounds[:-1], bounds[1:]):
            shuffled[start:stop] = rng.permutation(shuffled[start:stop])
        null = sorted_means[shuffled].mean() - sorted_means[~shuffled].mean()
        exceed += int(abs(null) >= abs(difference))
    spread = math.sqrt(variance[high].sum() / n_high**2 + variance[~high].sum() / n_low**2)
    z = difference / spread
    return {"curves_first": n_low, "curves_second": n_high,
            "mean_first": float(means[~high].mean()), "mean_second": float(means[high].mean()),
            "difference": float(difference), "z_sato_tate": float(z), "permutations": permutations,
            "p_permutation": (1 + exceed) / (1 + permutations),
            "p_sato_tate": float(2 * stats.norm.sf(abs(z)))}
