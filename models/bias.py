r"""Conductor-bias checks: does a flagged finding survive a sample that is not ordered by
conductor?

Cremona's tables hold every curve up to a conductor bound: small and smooth conductors dominate,
and Sha, regulators and periods all grow with the conductor. Curves ordered by naive height
have other statistics (Balakrishnan–Ho–Kaplan–Spicer–Stein–Weigandt 2016: e.g. more rank 1
and 2 at small height), and so do the small-coefficient curves of Stein–Watkins (2002). A finding
flagged on the Cremona sample faces three checks here:

1. **Conductor strata.** Its margin over the best baseline in each equal-count conductor stratum
   (from the findings engine); it must hold in the upper strata, not only in the low ones
   (:func:`stratum_trend`; the slope of the margin against the stratum is reported).
2. **Reweighting.** Importance weights w = p_height(s)/p_Cremona(s) on shared strata s (log|Δ|
   bin × number of bad primes × torsion order) carry the Cremona sample onto the height-ordered
   one (:func:`importance_weights`); the model and the best baseline are re-scored with them,
   the margin's interval from a class bootstrap (:func:`weighted_margin`).
3. **Replication.** The same search (model, baselines, null datasets) refitted on each reference
   sample where the target is known on most curves (:func:`replicable`).

A flagged finding that loses its margin under reweighting, fails to replicate where it can be
tried, or holds only in the low strata is a *conductor-bias artefact* (:func:`artefact_reason`);
one that survives those but could not be tried on a reference sample is *not replicated*
(:func:`not_replicated_reason`).
"""
from __future__ import annotations

import numpy as np
import polars as pl
from scipy.stats import linregress

from models.findings import CrossValidated
from models.scores import PRIMARY, ClassBootstrap, interval


def stratum_trend(strata: list[dict], low_share: float) -> dict:
    """Margin (model − baseline) per conductor stratum: its least-squares slope against the
    stratum's position in [0, 1], and the mean margin in the low and the high strata."""
    margins = np.array([s["model"] - s["baseline"] for s in strata], dtype=float)
    k = len(margins)
    low = max(1, int(np.ceil(low_share * k))) if k > 1 else 1
    position = np.linspace(0, 1, k) if k > 1 else np.zeros(1)
    slope = float(linregress(position, margins).slope) if k > 2 else 0.0
    high = margins[low:] if k > low else margins
    return {"margins": margins.tolist(), "slope": slope,
            "low_margin": float(margins[:low].mean()), "high_margin": float(high.mean()),
            "low_only": bool(margins[:low].mean() > 0 >= high.mean())}


def strata_keys(frame: pl.DataFrame, edges: np.ndarray, cap: int) -> np.ndarray:
    """Each curve's reweighting stratum: (log|Δ| bin, min(bad primes, cap), torsion order),
    as one integer. ``frame`` has ``slog_discriminant``, ``bad_primes`` and ``torsion``."""
    size = np.abs(frame["slog_discriminant"].to_numpy())
    bins = np.searchsorted(edges, size, side="right")
    bad = np.minimum(frame["bad_primes"].to_numpy(), cap)
    torsion = frame["torsion"].to_numpy()
    return (bins * (cap + 1) + bad) * 17 + torsion       # torsion orders are <= 16 (Mazur)


def importance_weights(sample: pl.DataFrame, reference: pl.DataFrame, bins: int,
                       cap: int) -> tuple[np.ndarray, float]:
    """Weights w_i = p_ref(s_i) / p_sample(s_i) that make the sample's strata match the
    reference's (mean weight 1), and the share of the reference lying in strata the sample
    has (what the reweighted sample can represent at all). The log|Δ| bins are the
    reference's equal-count bins."""
    reference_size = np.abs(reference["slog_discriminant"].to_numpy())
    edges = np.quantile(reference_size, np.linspace(0, 1, bins + 1)[1:-1])
    ours, theirs = strata_keys(sample, edges, cap), strata_keys(reference, edges, cap)
    keys, counts = np.unique(ours, return_counts=True)
    ref_keys, ref_counts = np.unique(theirs, return_counts=True)
    ref_share = dict(zip(ref_keys.tolist(), (ref_counts / ref_counts.sum()).tolist()))
    own_share = dict(zip(keys.tolist(), (counts / counts.sum()).tolist()))
    weights = np.array([ref_share.get(k, 0.0) / own_share[k] for k in ours.tolist()])
    covered = float(sum(ref_share.get(k, 0.0) for k in keys.tolist()))
    if weights.sum() == 0:
        raise ValueError("the two samples share no stratum: reweighting is impossible")
    return weights * len(weights) / weights.sum(), covered


def weighted_margin(task: str, oof: CrossValidated, baseline: str, weights: np.ndarray,
                    resamples: int, seed: int) -> dict:
    """Model and baseline scores with row ``weights``, and the margin's bootstrap interval over
    twist families, the unit the splits keep whole (paired: both predictors on the same
    resamples)."""
    metric = PRIMARY[task]
    boot = ClassBootstrap(task, oof.y, oof.families, resamples, seed, weights=weights)
    model_point, model_boot = boot.score(oof.model)
    base_point, base_boot = boot.score(oof.baselines[baseline])
    low, high = interval(model_boot[metric] - base_boot[metric])
    return {"weighted_score": model_point[metric], "weighted_baseline": base_point[metric],
            "weighted_margin_low": low, "weighted_margin_high": high}


def replicable(frame: pl.DataFrame, target_expression: pl.Expr, columns: list[str],
               minimum_curves: int, minimum_coverage: float,
               known: list[str] = ()) -> tuple[bool, str]:
    """Can the finding be tried on ``frame``: are its inputs and its known quantities
    ``known`` there (without the known quantities the sample's baseline would be weaker than
    the search's), and is its target known on at least ``minimum_curves`` curves and a
    ``minimum_coverage`` share of the sample?"""
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        return False, f"inputs missing: {', '.join(missing[:5])}"
    unknown = [c for c in known if c not in frame.columns]
    if unknown:
        return False, f"known quantities missing: {', '.join(unknown[:5])}"
    try:
        known = frame.select(target_expression.is_not_null().sum()).item()
    except pl.exceptions.ColumnNotFoundError as err:
        return False, f"target not in the sample ({err})".splitlines()[0]
    if known < minimum_curves or known < minimum_coverage * len(frame):
        return False, f"target known on {known} of {len(frame)} curves"
    return True, ""


def artefact_reason(trend: dict, weighted: dict, replications: list[dict], fdr: float) -> str:
    """Why a flagged finding is a conductor-bias artefact, or "" if it survives."""
    reasons = []
    if trend["low_only"]:
        reasons.append(f"holds only in the low conductor strata (margin {trend['low_margin']:.3f} "
                       f"low, {trend['high_margin']:.3f} high)")
    if weighted["weighted_margin_low"] <= 0:
        reasons.append(f"reweighted to the height-ordered sample, its margin over the baseline "
                       f"reaches 0 ({weighted['weighted_margin_low']:.3f} .. "
                       f"{weighted['weighted_margin_high']:.3f})")
    for r in replications:
        if r["tried"] and not (r["p_value"] <= fdr and r["score"] > r["baseline_score"]
                               and r["added_value_low"] > 0):
            # no added value where the sample's best baseline already explains the model
            added = ("not fitted" if r["added_value"] is None else
                     f"{r['added_value']:+.3f} from {r['added_value_low']:.3f}")
            reasons.append(f"does not replicate on the {r['sample']} sample ({r['score']:.3f} "
                           f"against {r['best_baseline']} {r['baseline_score']:.3f}, added "
                           f"value over the known quantities {added}, p = {r['p_value']:.2g})")
    return "; ".join(reasons)


def not_replicated_reason(replications: list[dict]) -> str:
    """Why a finding could not be replicated on some sample ("" if it was tried on all): a
    replication never attempted is not a replication passed."""
    return "; ".join(f"could not be tried on the {r['sample']} sample ({r['why_not']})"
                     for r in replications if not r["tried"])


def distributions(samples: dict[str, pl.DataFrame]) -> pl.DataFrame:
    """Rank, torsion order, root number, Sha among rank-0 curves (the only ones whose Sha
    every sample knows), and the 2-Selmer rank where a sample has it, in each sample: one row
    per (sample, quantity, value) with its share."""
    parts = []
    for name, frame in samples.items():
        quantities = [("rank", pl.col("rank").cast(pl.String).fill_null("unknown")),
                      ("torsion", pl.col("torsion").cast(pl.String)),
                      ("root_number", pl.col("root_number").cast(pl.String)),
                      ("sha (rank 0)",
                       pl.when(pl.col("rank") == 0).then(pl.col("sha").cast(pl.String)))]
        if "selmer2_rank" in frame.columns:
            quantities.append(("selmer2_rank", pl.col("selmer2_rank").cast(pl.String)))
        for quantity, expression in quantities:
            values = frame.select(value=expression).drop_nulls()
            counts = values.group_by("value").len("curves").with_columns(
                share=pl.col("curves") / pl.col("curves").sum())
            parts.append(counts.with_columns(sample=pl.lit(name), quantity=pl.lit(quantity)))
    table = pl.concat(parts).select("sample", "quantity", "value", "curves", "share")
    return table.sort("quantity", pl.col("value").str.len_chars(), "value", maintain_order=True)
