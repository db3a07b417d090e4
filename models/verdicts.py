"""The verdicts of the findings engine and of the topological tests: their names, their kinds
(with the colour and the marker every figure and page draws a kind in), and the rules that
give each pair its verdict (:func:`decide`).

A pair's verdict (:func:`decide`, from :func:`models.findings.evaluate`'s results):
``flagged`` (every test passed, confirmed on the held-out classes, not shown to fail on the
largest conductors, survives the bias checks); ``explained by <law | null model>`` (the
features add nothing significant beyond the law, or the null datasets reach the model's
score); ``explained by known quantities`` (nor beyond the GBM on what the pair knows); ``not
predictable`` (nor beyond a constant); ``not significant after correction``; ``fails
extrapolation``; ``not confirmed``; ``conductor-bias artefact`` and ``not replicated``
(:mod:`models.bias`); ``borderline`` (numeric noise would flip it).

A topological test's verdict (:mod:`models.topology_verdicts`): ``finding``, ``explained by
<law>``, ``explained by construction``, ``not significant``.

Every verdict belongs to one kind (:data:`KINDS`), and a verdict that is not declared here has
none: :func:`kind_of` refuses it rather than file it under "other". A verdict ``explained by
<reason>`` is made by :func:`explained_by` only, with a law of :mod:`models.laws`, a null
model or ``known quantities`` as the reason.
"""
from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np
from statsmodels.stats.multitest import multipletests

from models.scores import minimum_detectable


@dataclass(frozen=True)
class Kind:
    """A kind of verdict: what it means to a reader, and how every figure draws it (distinct
    Okabe–Ito hues; a matplotlib and a Vega-Lite marker, so kinds differ by shape too)."""
    name: str
    meaning: str
    colour: str
    marker: str
    vega_marker: str


#: The kinds, in the order a reader wants them (flagged first). Ten "explained by ..."
#: verdicts would need ten colours no reader can tell apart, so colours go by kind; the verdict
#: itself is in the tooltips and the tables.
KINDS: dict[str, Kind] = {kind.name: kind for kind in (
    Kind("flagged", "the features add value beyond everything the pair knows (the laws of "
         "known mathematics its group determines the inputs of, and what it derives), beat its "
         "null model, are confirmed on held-out twist families, hold on the largest "
         "conductors and survive the conductor-bias checks: a candidate for new mathematics",
         "#D55E00", "*", "diamond"),
    Kind("explained", "the features add nothing significant beyond a law of known "
         "mathematics, the GBM on what the pair knows, or a quasirandom null model",
         "#0072B2", "o", "circle"),
    Kind("artefact", "adds value in cross-validation but fails a later check: the largest "
         "conductors, conductor bias with positive evidence, or a replication that could not "
         "be tried or was too small to tell", "#E69F00", "^", "triangle-up"),
    Kind("not predictable", "neither the features nor what the pair knows predict it beyond a "
         "constant, as far as the run could detect", "#999999", "x", "cross"),
    Kind("other", "not confirmed on the held-out twist families, not significant after the "
         "correction for multiple comparisons, or borderline (within numeric noise of a "
         "threshold)", "#CC79A7", "s", "square"),
)}

#: The verdicts of a pair (:func:`decide`), besides ``explained by <reason>``.
FLAGGED = "flagged"
NOT_PREDICTABLE = "not predictable"
NOT_CONFIRMED = "not confirmed"
NOT_SIGNIFICANT = "not significant after correction"
FAILS_EXTRAPOLATION = "fails extrapolation"
BORDERLINE = "borderline"
ARTEFACT = "conductor-bias artefact"
NOT_REPLICATED = "not replicated"
#: The verdicts of a topological test (:mod:`models.topology_verdicts`), besides ``explained
#: by <law>``.
FINDING = "finding"
NOT_SIGNIFICANT_TOPOLOGY = "not significant"

#: Each named verdict's kind.
VERDICT_KINDS: dict[str, str] = {
    FLAGGED: "flagged", FINDING: "flagged",
    FAILS_EXTRAPOLATION: "artefact", ARTEFACT: "artefact", NOT_REPLICATED: "artefact",
    NOT_PREDICTABLE: "not predictable",
    NOT_CONFIRMED: "other", NOT_SIGNIFICANT: "other", BORDERLINE: "other",
    NOT_SIGNIFICANT_TOPOLOGY: "other",
}
_EXPLAINED = "explained by "


def explained_by(reason: str) -> str:
    """The verdict of a pair or test that ``reason`` (a law, a null model, ``known
    quantities``, ``construction``) explains."""
    return _EXPLAINED + reason


EXPLAINED_BY_KNOWN = explained_by("known quantities")


def explained_by_null(null_model: str) -> str:
    """The verdict of a pair whose null datasets reach the model's score."""
    return explained_by(f"{null_model} null model")


def kind_of(verdict: str) -> str:
    """The kind (a key of :data:`KINDS`) of a verdict; a ValueError for a verdict not declared
    in this module, so a new one cannot fall silently into a kind."""
    if verdict in VERDICT_KINDS:
        return VERDICT_KINDS[verdict]
    if verdict.startswith(_EXPLAINED) and len(verdict) > len(_EXPLAINED):
        return "explained"
    raise ValueError(f"{verdict!r} is not a verdict of models.verdicts "
                     f"({', '.join(VERDICT_KINDS)}, explained by <reason>)")


def verdict_order(verdict: str) -> int:
    """Sort key: flagged first, then explained, artefacts, not predictable, others."""
    return list(KINDS).index(kind_of(verdict))


#: A decision whose quantity lies within this of its threshold (relative for p- and q-values,
#: absolute for score differences) is ``borderline``: numeric noise (another machine's floating
#: point, a 1e-12 change in a feature) must not flip it.
NUMERIC_NOISE = 1e-6


def detectable(se: float | None, fdr: float, pairs: int) -> float | None:
    """The smallest added value the added-value test detects with
    :data:`models.scores.POWER` power (:func:`models.scores.minimum_detectable`): a one-sided
    z-test at Benjamini–Hochberg's strictest threshold fdr/m over the m pairs (what a lone true
    effect among nulls must reach), with the standard error ``se`` of the paired family
    bootstrap (the normal approximation of the bootstrap distribution). The null,
    extrapolation and confirmation tests can only raise it, so it is a lower bound of what the
    search could have found. None where the bootstrap has no spread: the features are all read
    by what the pair knows (the parity conjecture reads the root number), so they have nothing
    to add to detect."""
    if se is None or not np.isfinite(se) or se <= 0:
        return None
    return minimum_detectable(se, fdr / pairs)


def decide(results: list[dict], fdr: float,
           bias: dict[tuple[str, str], tuple[str, str]] | None = None) -> list[dict]:
    """Benjamini–Hochberg q-values across the whole search (discovery), then across the
    candidates on their confirmation classes, then each result's verdict.

    A candidate is a pair that would be flagged on the discovery classes: q <= FDR and every
    other test passed. ``bias`` maps (target, group) to (verdict, reason) for a candidate the
    bias checks (:mod:`models.bias`) reject: ``conductor-bias artefact`` or ``not
    replicated``. A verdict that a change of :data:`NUMERIC_NOISE` in its decisive quantity
    would flip is ``borderline``, naming both."""
    if not results:
        return []
    q = multipletests([r["p_value"] for r in results], method="fdr_bh")[1]
    results = [{**r, "q_value": float(q_value),
                "detectable_added_value": detectable(r["added_value_se"], fdr, len(results))}
               for r, q_value in zip(results, q)]
    candidates = [i for i, r in enumerate(results)
                  if _verdict(r, fdr, 1.0)[0] == FLAGGED or _verdict(r, fdr, -1.0)[0] == FLAGGED]
    confirmation_q = {}
    if candidates:
        corrected = multipletests([results[i]["p_confirmation"] for i in candidates],
                                  method="fdr_bh")[1]
        confirmation_q = dict(zip(candidates, corrected.tolist()))
    decided = []
    for index, result in enumerate(results):
        result = {**result, "q_confirmation": confirmation_q.get(index)}
        tight, loose = _verdict(result, fdr, -1.0), _verdict(result, fdr, 1.0)
        if tight[0] == loose[0]:
            result["verdict"], result["reason"] = tight
        else:
            result["verdict"] = BORDERLINE
            result["reason"] = (f"within numeric noise of a threshold: {loose[0]} ({loose[1]}) "
                                f"or {tight[0]} ({tight[1]})")
        if result["verdict"] == FLAGGED and bias and (
                rejected := bias.get((result["target"], result["group"]))):
            result["verdict"], result["reason"] = rejected
        decided.append(result)
    return decided


def _no_added_value(r: dict) -> tuple[str, str]:
    """The verdict of a pair whose features add nothing significant to what it knows: not
    predictable when what it knows has no skill its interval can show (the best baseline's
    lower bound at most 0), else explained by the best baseline's law (or by the known
    quantities, naming the law that does best among them)."""
    added = (f"the features add {r['added_value']:+.3f} [{r['added_value_low']:.3f}, "
             f"{r['added_value_high']:.3f}]")
    detectable_text = (f"; could have detected >= {r['detectable_added_value']:.3f}"
                       if r.get("detectable_added_value") is not None else
                       "; what it knows reads every feature, so they cannot add anything"
                       if r.get("added_value_se") == 0 else "")
    related_laws = json.loads(r.get("related_laws") or "[]")
    related_text = f"; related, not read here: {', '.join(related_laws)}" if related_laws else ""
    if r.get("exact_law"):
        return explained_by(r["best_baseline_kind"]), (
            f"{r['exact_law']} computes the target on every curve, so no feature can add to it "
            f"(nothing was fitted against it){related_text}")
    # a law or the known quantities explain only what they demonstrably predict: with an
    # interval reaching 0 there is nothing explained, and nothing found
    if r["best_baseline"] == "constant" or r["baseline_low"] <= 0:
        return NOT_PREDICTABLE, (f"{added} to {r['best_baseline']} ({r['metric']} "
                                 f"{r['baseline_score']:.3f} [{r['baseline_low']:.3f}, "
                                 f"{r['baseline_high']:.3f}]){detectable_text}{related_text}")
    law = f"; the best law, {r['known_formula']}, scores {r['known_formula_score']:.3f}" \
        if r["known_formula"] else ""
    if r["best_baseline_kind"]:
        return explained_by(r["best_baseline_kind"]), (
            f"{added} beyond {r['best_baseline']} ({r['baseline_score']:.3f})"
            f"{detectable_text}{related_text}")
    return EXPLAINED_BY_KNOWN, (f"{added} to the GBM on what the pair knows "
                                f"({r['baseline_score']:.3f}){law}{detectable_text}"
                                f"{related_text}")


def _verdict(r: dict, fdr: float, slack: float) -> tuple[str, str]:
    """The verdict of one result; ``slack`` = +1 (-1) moves every threshold by
    :data:`NUMERIC_NOISE` in the result's favour (against it)."""
    noise = slack * NUMERIC_NOISE

    def significant(p: float) -> bool:
        return p <= fdr * (1 + noise)

    def positive(x: float) -> bool:
        return x > -noise

    # one-sided at the level, both by the normal fit and by the resamples' own share <= 0
    if not (significant(r["p_added"]) and significant(r["p_added_empirical"])):
        return _no_added_value(r)
    if not significant(r["p_null"]):
        # the null explains the score only where its datasets reach it (equal counts: a model
        # that scores what its nulls score); a score above them that a handful of null
        # datasets cannot make significant is a lack of power
        if r["null_quantile"] >= r["score_first_fold"] - NUMERIC_NOISE:
            return explained_by_null(r["null_model"]), (
                f"null datasets reach {r['null_quantile']:.3f} ({r['null_level']:.0%} "
                f"quantile) against {r['score_first_fold']:.3f}")
        return NOT_SIGNIFICANT, (
            f"the model ({r['score_first_fold']:.3f} on the first fold) is above the "
            f"{r['null_model']} null datasets ({r['null_level']:.0%} quantile "
            f"{r['null_quantile']:.3f}) but not significantly: p_null = {r['p_null']:.2g} "
            "(normal fit to the null scores)")
    if not significant(r["q_value"]):
        return NOT_SIGNIFICANT, (f"q = {r['q_value']:.2g} above {fdr} over the whole search "
                                 "(Benjamini-Hochberg over the parametric p-values)")
    shown = positive(r["extrapolation_effect_low"])
    smaller = r["extrapolation_effect_high"] < r["added_value"] - noise
    if not shown and smaller:
        return FAILS_EXTRAPOLATION, (
            f"on the families of the largest conductors the features add "
            f"{extrapolated(r)} beyond {r['extrapolation_baseline']}: not above 0, and below "
            f"the {r['added_value']:+.3f} of cross-validation")
    q_confirmation = r.get("q_confirmation")
    if q_confirmation is None:
        return FLAGGED, "candidate on the discovery families"
    if not (significant(q_confirmation) and significant(r["p_confirmation_empirical"])):
        return NOT_CONFIRMED, (
            f"on the held-out families the features add {r['confirmation_added_value']:+.3f} "
            f"[{r['confirmation_low']:.3f}, {r['confirmation_high']:.3f}], q = "
            f"{q_confirmation:.2g} (Benjamini-Hochberg over the candidates)")
    return FLAGGED, (
        f"adds {r['added_value']:+.3f} beyond {r['best_baseline']}, the best of what the pair "
        f"knows, and beats the {r['null_model']} null; confirmed on held-out twist families "
        f"({r['confirmation_added_value']:+.3f} [{r['confirmation_low']:.3f}, "
        f"{r['confirmation_high']:.3f}], q = {q_confirmation:.2g}); on the largest conductors "
        f"{extrapolated(r)}")


def extrapolated(r: dict) -> str:
    """The added value on the families of the largest conductors, with its interval."""
    return (f"{r['extrapolation_score'] - r['extrapolation_baseline_score']:+.3f} "
            f"[{r['extrapolation_effect_low']:.3f}, {r['extrapolation_effect_high']:.3f}]")
