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

A check that fails is a *conductor-bias artefact* (:func:`artefact_reason`) only with positive
evidence that the effect is smaller off the Cremona sample: a replication significantly below
what the same search finds on Cremona curves of the replication's size
(:func:`same_size_subsample`), a significant negative trend across the strata with no margin left
in the high ones, or a reweighted margin whose interval lies below the effect. A check that fails
without such evidence cannot tell, and leaves the finding *not replicated*
(:func:`not_replicated_reason`), as does a reference sample the replication could not be tried
on: a replication that lacks the power to see the effect is neither passed nor failed. Each
replication states the effect it could detect (:func:`detectable_effect`).
"""
from __future__ import annotations

import numpy as np
import polars as pl
from scipy.stats import linregress, norm

from models.findings import CrossValidated
from models.scores import POWER, PRIMARY, ClassBootstrap, interval, minimum_detectable
from models.verdicts import ARTEFACT, NOT_REPLICATED

#: The coverage of the bootstrap intervals (:func:`models.scores.interval`) the standard error
#: is read from.
INTERVAL_LEVEL = 0.95
#: The replicated differences, named as in the evaluations, and how a reason calls them.
DIFFERENCES = {"effect": "effect", "added_value": "added value"}


def stratum_trend(strata: list[dict], low_share: float) -> dict:
    """Margin (model − baseline) per conductor stratum: its least-squares slope against the
    stratum's position in [0, 1] with the two-sided p-value of the slope (Wald t-test on k − 2
    degrees of freedom, :func:`scipy.stats.linregress`; 1 with fewer than 3 strata or constant
    margins), and the mean margin in the low and the high strata."""
    margins = np.array([s["model"] - s["baseline"] for s in strata], dtype=float)
    k = len(margins)
    low = max(1, int(np.ceil(low_share * k))) if k > 1 else 1
    position = np.linspace(0, 1, k) if k > 1 else np.zeros(1)
    fit = linregress(position, margins) if k > 2 else None
    p_value = 1.0 if fit is None or np.isnan(fit.pvalue) else float(fit.pvalue)
    high = margins[low:] if k > low else margins
    return {"margins": margins.tolist(), "slope": float(fit.slope) if fit else 0.0,
            "p_value": p_value,
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


def _standard_error(low: float, high: float) -> float:
    """A bootstrap standard deviation read from its percentile interval [low, high] of
    coverage :data:`INTERVAL_LEVEL` (exact for a normal bootstrap distribution)."""
    return (high - low) / (2 * norm.ppf((1 + INTERVAL_LEVEL) / 2))


def detectable_effect(low: float, high: float, level: float, power: float = POWER) -> float:
    r"""Minimum detectable effect of a replicated difference: the smallest true difference that
    a one-sided test at level α = ``level`` (the search's FDR level) detects with probability
    ``power`` (Bloom 1995, "Minimum detectable effects", Evaluation Review 19(5):547–556):

    MDE = (z_{1−α} + z_{power}) · SE,  SE = (high − low) / (2 z_{(1+c)/2}),

    SE being the bootstrap standard deviation of the difference read from its percentile
    interval [low, high] of coverage c = :data:`INTERVAL_LEVEL` (exact for a normal bootstrap
    distribution; the width is robust where a few resamples stray). With α = 0.05, power 0.9
    and c = 0.95: MDE = (1.645 + 1.282) · SE = 0.747 · (high − low). The class bootstrap holds
    the fitted predictions fixed, so SE leaves out the variance of refitting: a lower bound."""
    return minimum_detectable(_standard_error(low, high), level, power)


def same_size_subsample(frame: pl.DataFrame, curves: int, seed: int) -> pl.DataFrame:
    """A seeded sample of whole isogeny classes of ``frame`` with about ``curves`` curves (the
    first classes of a random order whose curves reach the count): what the Cremona sample
    shows at a replication's size. A model learned on 3,000 curves is weaker than one learned
    on 60,000, so a replication is compared with Cremona at its own size, not at the
    discovery's."""
    sizes = frame.group_by("isogeny_class").len().sort("isogeny_class")
    order = np.random.default_rng([seed, curves]).permutation(len(sizes))
    counts = sizes["len"].to_numpy()[order]
    take = int(np.searchsorted(np.cumsum(counts), curves)) + 1
    chosen = sizes["isogeny_class"].to_numpy()[order[:take]]
    return frame.filter(pl.col("isogeny_class").is_in(chosen.tolist()))


def replication_power(replication: dict, discovery: dict, level: float) -> dict:
    """The fields a replication record adds beside its intervals: for each replicated difference
    (:data:`DIFFERENCES`), its detectable effect (:func:`detectable_effect`, None where it was
    not fitted) and the same difference on the Cremona sample (``discovery``: with its
    interval and ``curves`` when it was measured on Cremona curves of the replication's size,
    :func:`same_size_subsample`)."""
    curves = discovery.get("discovery_curves")
    fields = {"level": level, "power": POWER, "discovery_curves": curves}
    for name in DIFFERENCES:
        low, high = replication.get(f"{name}_low"), replication.get(f"{name}_high")
        fields[f"{name}_detectable"] = (None if low is None or high is None
                                        else detectable_effect(low, high, level))
        fields[f"discovery_{name}"] = discovery.get(name)
        at_size = curves is not None
        for suffix in ("_low", "_high"):
            fields[f"discovery_{name}{suffix}"] = (discovery.get(f"{name}{suffix}") if at_size
                                                   else None)
    return fields


def _replicates(r: dict, level: float) -> bool:
    # no added value where the sample's best baseline already explains the model
    return (r["p_value"] <= level and r["score"] > r["baseline_score"]
            and r["added_value_low"] > 0)


def _below(r: dict, name: str) -> bool:
    """Is the replicated difference ``name`` smaller than on Cremona? Against Cremona curves of
    the replication's size (an interval on each side), a one-sided z-test of the difference at
    the record's level; against the discovery's value alone, its interval lies below it."""
    high, discovered = r.get(f"{name}_high"), r.get(f"discovery_{name}")
    if high is None or discovered is None:
        return False
    same_low, same_high = r.get(f"discovery_{name}_low"), r.get(f"discovery_{name}_high")
    if same_low is None or same_high is None:
        return high < discovered
    se = np.hypot(_standard_error(r[f"{name}_low"], high), _standard_error(same_low, same_high))
    return bool(discovered - r[name] > norm.isf(r["level"]) * se)


def _cremona_text(r: dict, name: str) -> str:
    """The Cremona value a replication is held against, in words."""
    if r.get(f"discovery_{name}_low") is None:
        return f"{r[f'discovery_{name}']:.3f} of the Cremona sample"
    return (f"{r[f'discovery_{name}']:.3f} [{r[f'discovery_{name}_low']:.3f}, "
            f"{r[f'discovery_{name}_high']:.3f}] of {r['discovery_curves']:,} Cremona curves "
            "(the same size)")


def _replicated_text(r: dict, name: str) -> str:
    return (f"{r[name]:+.3f} [{r[f'{name}_low']:.3f}, {r[f'{name}_high']:.3f}]"
            if r.get(f"{name}_high") is not None else "not fitted")


def _power_text(r: dict, name: str) -> str:
    """What the sample could detect of difference ``name``, beside its value on Cremona."""
    label = DIFFERENCES[name]
    return (f"{label} ≥ {r[f'{name}_detectable']:.2f}, the {label} is "
            f"{r[f'discovery_{name}']:.2f} (replicated {_replicated_text(r, name)})")


def unknown_features(sample: pl.DataFrame, reference: pl.DataFrame,
                     columns: list[str]) -> list[str]:
    """The features null on every curve of ``sample`` but not of ``reference`` (the invariants
    stage's numbers exist for the Cremona curves only)."""
    return [c for c in columns if c in sample.columns and sample[c].null_count() == len(sample)
            and reference[c].null_count() < len(reference)]


def replication_check(r: dict, level: float) -> tuple[str, str]:
    """(verdict, reason) of one replication, ("", "") if it replicates. A failed replication is
    an artefact only where an interval lies below the discovery's value (evidence at any
    power) and the sample knows the features the search used (``features_unknown``);
    otherwise it could not tell, and says what it could have detected."""
    if not r["tried"]:
        return NOT_REPLICATED, f"could not be tried on the {r['sample']} sample ({r['why_not']})"
    if _replicates(r, level):
        return "", ""
    scores = (f"{r['score']:.3f} against {r['best_baseline']} {r['baseline_score']:.3f}, "
              f"p = {r['p_value']:.2g}")
    unknown = r.get("features_unknown") or []
    if unknown:         # the model there lacks what it used on Cremona: a failure says nothing
        return NOT_REPLICATED, (f"{r['sample']}: not significant there ({scores}), but "
                                f"{len(unknown)} of its features are unknown on every curve of "
                                f"that sample ({', '.join(unknown[:5])}), so it cannot tell")
    below = [n for n in DIFFERENCES if _below(r, n)]
    if below:
        return ARTEFACT, (f"does not replicate on the {r['sample']} sample ({scores}): its "
                          + " and its ".join(f"{DIFFERENCES[n]} {_replicated_text(r, n)} lies "
                                             f"below the {_cremona_text(r, n)}" for n in below))
    known = [n for n in DIFFERENCES if r.get(f"{n}_detectable") is not None
             and r.get(f"discovery_{n}") is not None]
    power = (f"{r['curves']:,} curves could detect ({r['power']:.0%} power, one-sided level "
             f"{r['level']:g}) an " + "; an ".join(_power_text(r, n) for n in known) + "; "
             if known else "")
    return NOT_REPLICATED, (f"{r['sample']}: {power}not significant there ({scores}), and no "
                            "interval excludes the discovery's")


def trend_check(trend: dict, level: float) -> tuple[str, str]:
    """A margin that holds only in the low strata is an artefact when its slope across the
    strata is negative and significant at ``level``; without such a trend it cannot tell."""
    if not trend["low_only"]:
        return "", ""
    text = (f"holds only in the low conductor strata (margin {trend['low_margin']:.3f} low, "
            f"{trend['high_margin']:.3f} high; slope {trend['slope']:+.3f}, "
            f"p = {trend['p_value']:.2g})")
    if trend["slope"] < 0 and trend["p_value"] <= level:
        return ARTEFACT, text
    return NOT_REPLICATED, f"{text}, a trend the strata do not establish at the level {level:g}"


def weighted_check(weighted: dict, effect: float) -> tuple[str, str]:
    """A reweighted margin whose interval reaches 0 is an artefact when the interval also lies
    below the discovery's ``effect``; an interval holding both cannot tell."""
    low, high = weighted["weighted_margin_low"], weighted["weighted_margin_high"]
    if low > 0:
        return "", ""
    text = (f"reweighted to the height-ordered sample, its margin over the baseline reaches 0 "
            f"({low:.3f} .. {high:.3f})")
    if high < effect:
        return ARTEFACT, f"{text}, below the effect {effect:.3f} on the Cremona sample"
    return NOT_REPLICATED, f"{text} and holds the effect {effect:.3f} too: it cannot tell"


def bias_checks(trend: dict, weighted: dict, replications: list[dict], level: float,
                effect: float) -> list[tuple[str, str]]:
    """The (verdict, reason) of every check that fails: :data:`models.verdicts.ARTEFACT` with
    positive evidence, :data:`models.verdicts.NOT_REPLICATED` without. ``effect``: the
    discovery's effect on the Cremona sample (model − max(best baseline, null quantile))."""
    checks = [trend_check(trend, level), weighted_check(weighted, effect),
              *(replication_check(r, level) for r in replications)]
    return [check for check in checks if check[0]]


def artefact_reason(trend: dict, weighted: dict, replications: list[dict], level: float,
                    effect: float) -> str:
    """Why a flagged finding is a conductor-bias artefact, or "" (:func:`bias_checks`)."""
    return "; ".join(reason for verdict, reason in
                     bias_checks(trend, weighted, replications, level, effect)
                     if verdict == ARTEFACT)


def not_replicated_reason(trend: dict, weighted: dict, replications: list[dict], level: float,
                          effect: float) -> str:
    """Why a finding is not replicated, or "": a sample the replication could not be tried on,
    or a check that failed without evidence of an artefact (:func:`bias_checks`). A replication
    never attempted, or too small to see the effect, is not a replication passed."""
    return "; ".join(reason for verdict, reason in
                     bias_checks(trend, weighted, replications, level, effect)
                     if verdict == NOT_REPLICATED)


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
