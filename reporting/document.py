"""The findings report as Markdown (figures beside it) and as one self-contained HTML file.

The Markdown is the single source: the HTML is its rendering (markdown-it) with every figure
embedded as a data URI, so it opens offline, alone. Figures are referenced by their path
relative to the Markdown file (``Context.figures``, ``Context.topology_figures``).
"""
from __future__ import annotations

import base64
import html
import json
import re
from dataclasses import dataclass

import polars as pl
from markdown_it import MarkdownIt

from arithmetic.crosscheck import EXACT, REAL
from arithmetic.feature_groups import FEATURE_GROUPS
from models.verdicts import FINDING, FLAGGED, KINDS, kind_of, verdict_order
from reporting import figures
from reporting.provenance import revision_words
from reporting.words import (FINDINGS_COLUMNS, FINDINGS_SORT, METRIC_WORDS,
                             REPORT_COLUMNS, cell_text, headline, statement)


@dataclass(frozen=True)
class Context:
    """What the report says besides the findings themselves."""
    targets: dict[str, str]           # target -> description
    groups: dict[str, str]            # search group -> plain words
    coverage: dict                    # curves, classes, conductor range
    provenance: dict
    fdr: float
    top_features: int
    figures: str = "figures"              # the pair figures' directory, relative to the report
    topology_figures: str = "topology"    # the persistence diagrams' directory, likewise
    bias_figures: str = "bias"            # the sample-distribution plots' directory, likewise
    murmuration_figures: str = "murmurations"  # the known phenomena's plots, likewise
    feature_groups: dict | None = None    # feature groups resolved to columns (the glossary)
    topology_fdr: float | None = None     # topology.fdr (the topology section's BH level)
    folds: int | None = None              # search.folds
    null_quantile: float | None = None    # search.null_quantile


def _cell(text) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _table(header: list[str], rows: list[list]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return lines + [""]


def _figure(path: str, alt: str, caption: str) -> list[str]:
    """A figure with its caption (an italic paragraph under it)."""
    return [f"![{alt}]({path})", "", f"*Figure: {caption}*", ""]


def anchor(heading: str) -> str:
    """The link target of a heading, as GitHub forms it (and :func:`to_html` sets it)."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def _interval(low: float, high: float) -> str:
    return f"[{low:.3f}, {high:.3f}]"


def _p(value: float) -> str:
    """A p- or q-value; below double precision's resolution of 1 − p it says so."""
    return "< 1e-16" if value < 1e-16 else f"{value:.2g}"


def slug(row: dict) -> str:
    return f"{row['target']}__{row['group']}"


def pair_figures(findings: pl.DataFrame, importances: pl.DataFrame,
                 top: int) -> dict[str, bytes]:
    """Every pair's figures by file name: null datasets, conductor strata, top features."""
    images = {}
    for row in findings.iter_rows(named=True):
        name = slug(row)
        if not row.get("screened"):
            images[f"{name}__null.png"] = figures.null_distribution(row)
        if row.get("strata"):
            images[f"{name}__strata.png"] = figures.conductor_strata(row)
        own = importances.filter((pl.col("target") == row["target"])
                                 & (pl.col("group") == row["group"]))
        if len(own):
            images[f"{name}__features.png"] = figures.top_features(own, top)
    return images


def _folds_words(context: Context) -> str:
    """How the model was cross-validated (``search.folds``): ``<folds>-fold``, else
    ``K-fold``."""
    return f"{context.folds}-fold" if context.folds else "K-fold"


def _quantile_words(context: Context) -> str:
    """The null quantile the model must beat (``search.null_quantile``) as a percentage, else
    ``upper``."""
    return f"{context.null_quantile:.0%}" if context.null_quantile else "upper"


def _model_rows(row: dict, context: Context) -> list[list[str]]:
    """The detail table's first rows: the question, the model's score, the baselines and the
    null model it is measured against, and what the pair knows."""
    metric = METRIC_WORDS.get(row["metric"], row["metric"])
    baselines = json.loads(row["baseline_scores"])
    inputs = json.loads(row.get("baseline_inputs") or "{}")
    return [
        ["target", f"`{row['target']}`: {context.targets[row['target']]}"],
        ["feature group", f"`{row['group']}`: {context.groups[row['group']]} "
                          f"({row['features']} features)"],
        [f"model (LightGBM, {_folds_words(context)} by twist family)",
         f"{metric} {row['score']:.3f} {_interval(row['score_low'], row['score_high'])}"],
        ["best baseline", f"{row['best_baseline']}: {row['baseline_score']:.3f} "
                          f"{_interval(row['baseline_low'], row['baseline_high'])}"],
        ["all baselines", ", ".join(f"{k} {v:.3f}" for k, v in baselines.items())],
        ["what the baselines read", "; ".join(f"**{k}**: {inputs[k]}" for k in baselines
                                               if k in inputs) or "—"],
        ["null model", f"{row['null_model']}: {len(row['null_scores'])} datasets, mean "
                       f"{row['null_mean']:.3f}, {_quantile_words(context)} quantile "
                       f"{row['null_quantile']:.3f}; "
                       f"model on the same fold {row['score_first_fold']:.3f}"],
        ["what the pair knows", ", ".join(f"`{c}`" for c in json.loads(
            row.get("known_inputs") or "[]")) or "nothing beyond its features"],
        ["related laws, not applicable", ", ".join(json.loads(row.get("related_laws") or "[]"))
         or "—"],
    ]


def _evidence_rows(row: dict) -> list[list[str]]:
    """The detail table's last rows: added value, confirmation, effect, p-values, the largest
    conductors, and the verdict."""
    return [
        ["added value beyond the best baseline",
         f"GBM on what the pair knows and the features {row['known_plus_features_score']:.3f} "
         f"− {row['best_baseline']} {row['baseline_score']:.3f} = "
         f"{row['added_value']:+.3f} {_interval(row['added_value_low'], row['added_value_high'])}; "
         f"p {_p(row['p_added'])} (empirical {_p(row['p_added_empirical'])})"],
        ["on the held-out twist families", "not fitted (no confirmation fit ran for this pair)"
         if row.get("confirmation_added_value") is None else
         f"added value {row['confirmation_added_value']:+.3f} "
         f"{_interval(row['confirmation_low'], row['confirmation_high'])} on "
         f"{row['confirmation_curves']} curves; BH q {_p(row['q_confirmation'])}"],
        ["effect (model − max(baseline, null quantile))",
         f"{row['effect']:.3f} {_interval(row['effect_low'], row['effect_high'])}"],
        ["p-values", f"null {_p(row['p_null'])} (empirical {_p(row['p_null_empirical'])}), "
                     f"baseline {_p(row['p_baseline'])} (empirical "
                     f"{_p(row['p_baseline_empirical'])}); BH q {_p(row['q_value'])}"],
        ["largest conductors", f"model {row['extrapolation_score']:.3f} against "
                               f"{row['extrapolation_baseline']} "
                               f"{row['extrapolation_baseline_score']:.3f}; difference "
                               + _interval(row["extrapolation_effect_low"],
                                           row["extrapolation_effect_high"])],
        ["verdict", f"**{row['verdict']}**: {row['reason']}"],
    ]


def _score_figures(row: dict, context: Context, images: dict[str, bytes]) -> list[str]:
    """A pair's null-dataset and conductor-strata figures, those of them in ``images``."""
    name, lines = slug(row), []
    if f"{name}__null.png" in images:
        lines += _figure(f"{context.figures}/{name}__null.png", "null datasets",
                         f"{row['target']} ~ {row['group']}: the model's score on fold 1 "
                         f"(vermillion) against its scores on the {row['null_model']} null "
                         f"datasets (grey ticks, dotted: their {_quantile_words(context)} "
                         "quantile) and the best baseline over all folds (blue, dashed).")
    if f"{name}__strata.png" in images:
        lines += _figure(f"{context.figures}/{name}__strata.png", "score by conductor stratum",
                         f"{row['target']} ~ {row['group']}: model and best-baseline scores in "
                         "equal-count conductor strata (out-of-fold predictions); N on a log "
                         "axis.")
    return lines


def _top_features(row: dict, importances: pl.DataFrame, context: Context) -> list[str]:
    """A pair's top-features figure and the features by mean |SHAP|, when it has
    importances."""
    own = importances.filter((pl.col("target") == row["target"])
                             & (pl.col("group") == row["group"]))
    if not len(own):
        return []
    top = own.sort("mean_abs_shap", descending=True).head(context.top_features)
    lines = _figure(f"{context.figures}/{slug(row)}__features.png", "top features",
                    f"{row['target']} ~ {row['group']}: the features with the largest mean "
                    "|SHAP| (LightGBM pred_contrib, model output units).")
    return lines + ["Top features by mean |SHAP|: " + ", ".join(
        f"`{f}` {v:.3g}" for f, v in zip(top["feature"], top["mean_abs_shap"])), ""]


def _detail(number: int, row: dict, importances: pl.DataFrame, context: Context,
            images: dict[str, bytes]) -> list[str]:
    """A flagged pair: its heading and statement, the table of its tests, its figures."""
    lines = [f"### {number}. {row['target']} ~ {row['group']}", "",
             statement(row, context.targets[row["target"]], context.groups[row["group"]]), ""]
    lines += _table(["", ""], _model_rows(row, context) + _evidence_rows(row))
    lines += _score_figures(row, context, images)
    return lines + _top_features(row, importances, context)


def topology_summary(tests: pl.DataFrame, fdr: float) -> pl.DataFrame:
    """Per (cloud family, null model) of the topology tests: how many, how many with BH
    q <= ``fdr``, and the test furthest outside its null 5–95% band, with that distance in
    band widths ((observed − nearest band end) / band width; 0 inside the band)."""
    width = (pl.col("null_high") - pl.col("null_low")).clip(lower_bound=1e-12)
    outside = (pl.when(pl.col("observed") > pl.col("null_high"))
               .then(pl.col("observed") - pl.col("null_high"))
               .when(pl.col("observed") < pl.col("null_low"))
               .then(pl.col("null_low") - pl.col("observed")).otherwise(0.0)) / width
    scored = tests.with_columns(departure=outside)
    top = scored.sort("departure", descending=True).group_by(
        "family", "null_model", maintain_order=True).first()
    counts = scored.group_by("family", "null_model").agg(
        tests=pl.len(), significant=(pl.col("q_value") <= fdr).sum())
    verdicts = {}
    if "verdict" in tests.columns:     # the verdicts of the group's tests, most frequent first
        verdicts = {"verdicts": "verdicts"}
        counts = counts.join(scored.group_by("family", "null_model", "verdict").len().sort(
            "len", "verdict", descending=[True, False]).group_by(
            "family", "null_model", maintain_order=True).agg(verdicts=pl.concat_str(
                "verdict", pl.lit(" "), "len").str.join("; ")), on=["family", "null_model"])
    return counts.join(top, on=["family", "null_model"]).sort("family", "null_model").select(
        cloud="family", against="null_model", tests="tests",
        **{f"q ≤ {fdr}": "significant"}, **verdicts,
        furthest=pl.col("group") + ": " + pl.col("statistic"),
        observed=pl.col("observed").round(4),
        null_band=pl.format("{} – {}", pl.col("null_low").round(4), pl.col("null_high").round(4)),
        band_widths_outside=pl.col("departure").round(2))


def topology_findings(tests: pl.DataFrame) -> list[str]:
    """Each test with the verdict ``finding`` (a departure no listed law explains), in words."""
    lines = []
    for r in tests.filter(pl.col("verdict") == FINDING).sort("q_value").iter_rows(named=True):
        lines += [f"- **The {r['family']} cloud of {r['group']}** ({r['curves']:,} curves, "
                  f"conductors {r['window_low']}–{r['window_high'] - 1}): its {r['statistic']} "
                  f"is {r['observed']:.4g}, where {r['null_model']} give "
                  f"{r['null_low']:.4g} – {r['null_high']:.4g} (5–95%). {r['reason']}."]
    return lines + [""] if lines else []


def topology_section(tests: pl.DataFrame, diagrams: list[str], context: Context) -> list[str]:
    """Persistent homology against null clouds: a summary per cloud and null model, then the
    tests that survive BH (folded away in the HTML), and the diagrams."""
    fdr = context.topology_fdr if context.topology_fdr is not None else context.fdr
    significant = tests.filter(pl.col("q_value") <= fdr).sort("q_value")
    lines = ["## Topology: persistent homology against null clouds", "",
             f"{len(tests):,} tests on the BSD, a_p and Weierstrass clouds (each statistic of "
             f"each cloud against shuffled-column, Gaussian and, for a_p, Sato–Tate null "
             f"clouds; rank 0 against rank 1 by permuted labels); {len(significant)} with "
             f"Benjamini–Hochberg q ≤ {fdr}.", ""]
    if len(tests):
        summary = topology_summary(tests, fdr)
        lines += ["**Summary**: per cloud and null model, the tests, how many survive, and the "
                  "statistic furthest outside its null 5–95% band (distance in band widths). "
                  "The shuffled-column clouds keep each coordinate's distribution, the Gaussian "
                  "ones the covariance, the Sato–Tate ones the traces' law; permuted labels "
                  "compare rank 0 with rank 1.", ""]
        lines += _table(list(summary.columns), [list(r) for r in summary.iter_rows()])
    if "verdict" in tests.columns:
        counts = tests.group_by("verdict").len().sort("len", "verdict",
                                                      descending=[True, False])
        findings = topology_findings(tests)
        lines += ["**Verdicts.** A test below the level is explained where the null lacks "
                  "something the mathematics forces on every such cloud (the BSD formula's "
                  "identity, Hasse's bound, the torsion congruences, the rank's bias of the "
                  "a_p, the discriminant identity; `models.topology_verdicts.DEPARTURES`), and a "
                  "finding otherwise: "
                  + "; ".join(f"{v} {n}" for v, n in counts.iter_rows()) + ". "
                  + ("The findings, which no listed law explains:" if findings else
                     "No test departs from a null in a way the listed laws leave unexplained. "
                     "A finding against these nulls would need a null that keeps the law."), ""]
        lines += findings
    if len(significant):
        lines += ["<details><summary>Every test with q ≤ " f"{fdr} ({len(significant)})"
                  "</summary>", ""]
        verdict = "verdict" in tests.columns
        lines += _table(["cloud", "conductors", "against", "statistic", "observed",
                         "null 5–95%", "p: empirical (normal fit)", "q"]
                        + (["verdict"] if verdict else []), [
            [f"{r['family']}: {r['group']}", f"{r['window_low']}–{r['window_high']}",
             r["null_model"], r["statistic"], f"{r['observed']:.3g}",
             f"{r['null_low']:.3g} – {r['null_high']:.3g}",
             f"{r['p_empirical']:.2g} ({_p(r['p_value'])})", _p(r["q_value"])]
            + ([r["verdict"]] if verdict else [])
            for r in significant.iter_rows(named=True)])
        lines += ["</details>", ""]
    if diagrams:
        lines += [f"<details><summary>The persistence diagrams ({len(diagrams)})</summary>", ""]
    for name in diagrams:
        lines += _figure(f"{context.topology_figures}/{name}", "persistence diagram",
                         "persistence diagram of the "
                         f"{name.removesuffix('.png').replace('__', ' · ')} "
                         "cloud: each point a homology class (birth, death), H0 and H1 in "
                         "colours; far from the diagonal means long-lived.")
    if diagrams:
        lines += ["</details>", ""]
    return lines


def _replication(entry: dict) -> str:
    if not entry["tried"]:
        return f"{entry['sample']}: not tried ({entry['why_not']})"
    return (f"{entry['sample']}: {entry['score']:.3f} against {entry['best_baseline']} "
            f"{entry['baseline_score']:.3f}, p {_p(entry['p_value'])} ({entry['curves']} curves)")


def bias_outcome(row: dict) -> str:
    """A bias check's outcome: an artefact (with its evidence), not replicated (and why), or
    survives."""
    if row["artefact_reason"]:
        return f"**conductor-bias artefact**: {row['artefact_reason']}"
    if row.get("not_replicated_reason"):
        return f"**not replicated**: {row['not_replicated_reason']}"
    return "survives"


def bias_section(checks: pl.DataFrame, shares: pl.DataFrame, plots: dict[str, str],
                 metrics: dict, context: Context) -> list[str]:
    """The conductor-bias checks of every pair that would be flagged, and the three samples'
    distributions (``plots``: quantity -> file name in ``context.bias_figures``)."""
    curves = metrics.get("curves", {})
    lines = ["## Conductor bias: do the findings survive other samples?", "",
             "Cremona's tables are complete up to a conductor bound, a biased sample. Every pair "
             "that beats the baselines faces three checks (models/bias.py): its margin over the "
             "best baseline in the upper conductor strata, its scores reweighted onto a sample of "
             "curves ordered by naive height (strata: log|Δ| × bad primes × torsion), and the "
             "same search refitted on the height-ordered and the Stein–Watkins samples where the "
             "target is known. A failed check makes it a **conductor-bias artefact** only with "
             "positive evidence (an interval below the discovery's effect, or a significant "
             "downward trend across the strata); otherwise it is **not replicated**, with the "
             "effect the check could have detected.", "",
             "Samples: " + ", ".join(f"{name} {n:,} curves" for name, n in curves.items())
             + f". The reweighting covers {metrics.get('height_mass_covered', 0):.1%} of the "
             "height-ordered sample (the rest lies in strata the Cremona sample lacks).", ""]
    if not len(checks):
        lines += ["No pair beat the baselines, so none was checked.", ""]
    else:
        lines += _table(["pair", "margin by conductor strata (low / high, slope)",
                         "reweighted: model vs baseline, margin", "replications", "outcome"], [
            [f"{r['target']} ~ {r['group']}",
             f"{r['low_margin']:.3f} / {r['high_margin']:.3f}, {r['trend_slope']:+.3f}",
             f"{r['weighted_score']:.3f} vs {r['weighted_baseline']:.3f}, "
             f"{_interval(r['weighted_margin_low'], r['weighted_margin_high'])}",
             "; ".join(_replication(e) for e in json.loads(r["replications"])),
             bias_outcome(r)] for r in checks.iter_rows(named=True)])
    for quantity in shares["quantity"].unique(maintain_order=True).to_list():
        part = shares.filter(pl.col("quantity") == quantity)
        samples = part["sample"].unique(maintain_order=True).to_list()
        values = part["value"].unique(maintain_order=True).to_list()
        share = {(r["sample"], r["value"]): (r["share"], r["curves"])
                 for r in part.iter_rows(named=True)}
        # three significant digits and the count: one rank-3 curve in 64,687 is not 0.000
        lines += [f"**{quantity}** (share of curves, and their number)", ""]
        lines += _table([quantity, *samples], [
            [v, *[f"{share[s, v][0]:.3g} ({share[s, v][1]:,})" if (s, v) in share else "0"
                  for s in samples]] for v in values])
        if quantity in plots:
            lines += _figure(f"{context.bias_figures}/{plots[quantity]}", f"{quantity} by sample",
                             f"share of curves with each value of {quantity}, one bar per "
                             "sample (Cremona's, height-ordered, Stein–Watkins).")
    return lines


def _conjectures(checks: pl.DataFrame | None) -> list[str]:
    """The conjectures checked on the tables, one row each; nothing without ``checks``."""
    if checks is None or not len(checks):
        return []
    lines = ["### Conjectures checked on the tables", "",
             "Watkins' and Szpiro's conjectures on the invariants stage's curves, and the "
             "murmuration split of Wachs (2026) against its null models:", ""]
    return lines + _table(["phenomenon", "statement", "result", "as expected", "reference"], [
        [r["phenomenon"], r["statement"], r["result"],
         "—" if r["as_expected"] is None else ("yes" if r["as_expected"] else "NO"),
         r["reference"]] for r in checks.iter_rows(named=True)]) + [""]


def _murmuration_window(window: str, summary: dict, small: float | None, plots: list[str],
                        context: Context) -> list[str]:
    """One conductor window's murmurations: the mean a_p at small p/N by group, whether rank 0
    and rank 1 have the published signs, and the window's p/N plots."""
    means = summary["small_ratio_means"]
    rank0, rank1 = means.get("rank 0"), means.get("rank 1")
    verdict = ("opposite signs, rank 0 above and rank 1 below zero, as published"
               if rank0 is not None and rank1 is not None and rank0 > 0 > rank1
               else "NOT the published signs")
    lines = [f"Conductors {window} ({summary['classes']:,} classes): mean a_p over "
             f"p/N ≤ {small}: " + ", ".join(f"{g} {v:+.3f}" for g, v in means.items())
             + f": {verdict}.", ""]
    for name in plots:
        if name.startswith(window + "__") and name.endswith("ratio.png"):
            lines += _figure(f"{context.murmuration_figures}/{name}", "murmuration",
                             f"conductors {window}: average a_p against p/N by "
                             f"{name.split('__')[1].replace('_', ' ')}, with 95% bands; "
                             "grey: the Sato–Tate null.")
    return lines


def _murmurations(metrics: dict, plots: list[str], context: Context) -> list[str]:
    """The murmurations: what is averaged, then each conductor window of ``metrics``."""
    lines = ["### Murmurations (He–Lee–Oliver–Pozdnyakov 2022)", "",
             "The average of a_p over the curves of a conductor window (one per isogeny class), "
             "by rank and by root number, against p and p/N, with 95% bands; the same classes' "
             "traces redrawn from the Sato–Tate law give the grey null.", ""]
    for window, summary in metrics.get("windows", {}).items():
        lines += _murmuration_window(window, summary, metrics.get("small_ratio"), plots,
                                     context)
    return lines


def _rank_from_ap(shares: pl.DataFrame) -> list[str]:
    """Each known heuristic's score at rank from a_p and its share of the model's; nothing
    without ``shares``."""
    if not len(shares):
        return []
    lines = ["### Rank from a_p, beside its baselines", "",
             "How much of the model's skill the known heuristics already have (the share "
             "of the model's score each reaches on the same folds; Kazalicki–Vlah 2023):", ""]
    return lines + _table(["predictor", "score", "share of the model's"], [
        [r["predictor"], f"{r['score']:.3f}", f"{r['share_of_model']:.0%}"]
        for r in shares.iter_rows(named=True)])


def _known_labels(labels: pl.DataFrame) -> list[str]:
    """The verdict of each known phenomenon's pair against the expected one; nothing without
    ``labels``."""
    if not len(labels):
        return []
    lines = ["### Known phenomena get their labels", ""]
    return lines + _table(["phenomenon", "pair", "verdict", "expected", ""], [
        [r["phenomenon"], r["pair"], r["verdict"], r["expected"],
         "as expected" if r["as_expected"] else "**unexpected**"]
        for r in labels.iter_rows(named=True)])


def _bsd_ratio(fits: pl.DataFrame, plots: list[str], context: Context) -> list[str]:
    """The Beta fits of the BSD ratio per conductor window, and their plot when drawn;
    nothing without ``fits``."""
    if not len(fits):
        return []
    lines = ["### The BSD ratio and its Beta fit", "",
             "L^(r)(E,1)/(r!ΩR) = #Ш·∏c_p/#T² is a rational number, so its distribution is "
             "a set of atoms; a Beta law fitted (maximum likelihood) to its log rescaled to "
             "(0, 1) describes the envelope, per conductor window (KS: distance of the fit).", ""]
    lines += _table(["conductors", "curves", "Beta a", "Beta b", "KS", "mean log ratio", "sd"], [
        [f"{r['conductor_low']}–{r['conductor_high']}", f"{r['curves']:,}", f"{r['a']:.2f}",
         f"{r['b']:.2f}", f"{r['ks']:.3f}", f"{r['mean_log_ratio']:.3f}",
         f"{r['sd_log_ratio']:.3f}"] for r in fits.iter_rows(named=True)])
    if "bsd_ratio.png" in plots:
        lines += _figure(f"{context.murmuration_figures}/bsd_ratio.png", "BSD ratio",
                         "ln of the BSD ratio rescaled to (0, 1), one histogram per conductor "
                         "window, with its fitted Beta density (dotted).")
    return lines


def known_phenomena_section(labels: pl.DataFrame, shares: pl.DataFrame, metrics: dict,
                            fits: pl.DataFrame, plots: list[str], context: Context,
                            checks: pl.DataFrame | None = None) -> list[str]:
    """What the pipeline must rediscover: the murmurations (sign of the rank-0 and rank-1
    averages at small p/N), rank from a_p beside its baselines, the known pairs' labels, the
    BSD ratio's Beta fits, and the conjectures checked on the tables (``checks``:
    :func:`reporting.known.known_checks`). ``plots``: file names in
    ``context.murmuration_figures``."""
    return (["## Known phenomena, rediscovered", ""]
            + _conjectures(checks)
            + _murmurations(metrics, plots, context)
            + _rank_from_ap(shares)
            + _known_labels(labels)
            + _bsd_ratio(fits, plots, context))


#: What each source publishes, in words, for the cross-check section.
SOURCE_WORDS = {
    "elldata": "the embedded Cremona tables (passagemath-pari-elldata), which publish "
               "generators only: the rank is the number of generators",
    "cremona": "Cremona's ecdata files (allcurves, allbsd, aplist); our generators are PARI's "
               "(ellrank, ellheegner, saturated), so the regulators are independent",
    "lmfdb": "the LMFDB (ec_curvedata, ec_mwbsd, ec_classdata); our generators are PARI's "
             "(ellrank, ellheegner, saturated), so the regulators are independent",
}


def crosscheck_coverage(metrics: dict) -> str:
    """Which quantities were compared, under which rule, and which the source does not publish
    (the embedded tables give generators, not Cremona's allbsd: the rank only)."""
    compared = list(metrics["compared"])
    exact = [q for q in compared if q in EXACT or q == "a_p"]
    real = [q for q in compared if q in REAL]
    missing = [q for q in [*EXACT, *REAL] if q not in compared]
    text = "Compared: " + (", ".join(exact) + " (must be equal)" if exact else "nothing exact")
    if real:
        text += f"; {', '.join(real)} (within {metrics['relative_tolerance']:g} relative)"
    if missing:
        text += (f". Not published by this source, so not compared: {', '.join(missing)}; "
                 "`ingest.source: cremona` (Cremona's allbsd files) or `lmfdb` compares them")
    return text + "."


def crosscheck_section(mismatches: pl.DataFrame, metrics: dict, shown: int = 20) -> list[str]:
    """Our PARI quantities against the source's: counts compared and mismatched by quantity,
    and the first ``shown`` mismatches."""
    lines = ["## Cross-check against the source", "",
             f"Source: {SOURCE_WORDS.get(metrics['source'], metrics['source'])}. "
             f"{metrics['published_curves']:,} curves published, {metrics['curves']:,} "
             f"computed: **{metrics['mismatches']:,} mismatches**. "
             + crosscheck_coverage(metrics), ""]
    by_quantity = metrics["mismatches_by_quantity"]
    lines += _table(["quantity", "compared", "mismatches"], [
        [q, f"{n:,}", by_quantity.get(q, 0)] for q, n in metrics["compared"].items()]
        + [[q, "", n] for q, n in by_quantity.items() if q not in metrics["compared"]])
    if len(mismatches):
        lines += [f"First {min(shown, len(mismatches))} of {len(mismatches):,} mismatches:", ""]
        lines += _table(["curve or class", "quantity", "published", "ours", "relative difference"],
                        [[r["label"], r["quantity"], r["published"], r["computed"],
                          "" if r["relative_difference"] is None
                          else f"{r['relative_difference']:.2g}"]
                         for r in mismatches.head(shown).iter_rows(named=True)])
    return lines


CONTROLS_HEADING = "Would this engine have found what we know?"


def controls_section(controls: pl.DataFrame) -> list[str]:
    """The positive controls (pipeline/controls.py): each pair with its law in force (the
    search's verdict) and withheld (evaluated alone, every test run, no bias checks)."""
    found = int(controls["found"].sum())
    lines = [f"## {CONTROLS_HEADING}", "",
             "Each pair below is answered exactly by a law of known mathematics. In the search "
             "the law is a baseline, so the pair must be explained by it; searched again with "
             "the law withheld (`search.withhold`: the law leaves the baselines, what its "
             "algorithm computes leaves the known quantities, a null model built on it goes "
             "too), the engine must find it. Each withheld run is decided on its own, every "
             "test run, without the bias checks. "
             f"**The engine found {found} of {len(controls)}.**", ""]
    lines += _table(["pair", "law", "with the law (the search)", "law withheld",
                     "added value without it [95%]"],
                    [[f"{r['target']} ~ {r['group']}", r["law"], r["verdict_with_law"],
                      f"**{r['verdict']}**" if r["found"] else r["verdict"],
                      f"{r['added_value']:+.3f} "
                      f"{_interval(r['added_value_low'], r['added_value_high'])} "
                      f"({METRIC_WORDS.get(r['metric'], r['metric'])})"]
                     for r in controls.iter_rows(named=True)])
    missed = controls.filter(~pl.col("found"))
    for r in missed.iter_rows(named=True):
        lines += [f"Not found without {r['law']}: {r['target']} ~ {r['group']} is "
                  f"{r['verdict']} ({r['reason']}).", ""]
    return lines


def _introduction(findings: pl.DataFrame, context: Context) -> list[str]:
    """The title, what was searched and what flags a pair, the count of each verdict, and the
    headline paragraphs."""
    coverage = context.coverage
    counts = findings["verdict"].value_counts(sort=True)
    return [
        "# Findings: unexpected predictability in Cremona's tables", "",
        f"{coverage['curves']:,} curves in {coverage['classes']:,} isogeny classes, conductors "
        f"{coverage['conductor_min']:,} to {coverage['conductor_max']:,}. "
        + (f"The findings engine searched a seeded uniform sample of "
           f"{coverage['searched_classes']:,} of these isogeny classes, all their curves "
           f"(`search.sample_classes`); the bias checks refit on the same curves. "
           if coverage.get("searched_classes") else "") +
        f"{len(findings)} (target, feature group) pairs searched; a pair is flagged only when "
        f"its features add value beyond the laws of known mathematics its group determines the "
        f"inputs of and beyond its null model at false-discovery rate {context.fdr} "
        f"(Benjamini–Hochberg over the whole search), is confirmed on held-out twist "
        f"families, is not shown to fail on the largest conductors, and survives the "
        f"conductor-bias checks.", "",
        "Verdicts: " + ", ".join(f"{n} {v}" for v, n in sorted(
            counts.iter_rows(), key=lambda r: (verdict_order(r[0]), r[0]))) + ".", "",
        *[part for line in headline(findings, context.fdr) for part in (line, "")]]


def _contents(flagged: int, others: int, parts: list[list[str] | None]) -> list[str]:
    """The contents line: links to the two findings sections, to each ``## `` heading of the
    other sections' ``parts`` in order, and to the glossary and provenance."""
    sections = [f"Flagged findings ({flagged})", f"All other results ({others})"]
    sections += [line.removeprefix("## ") for part in parts
                 for line in (part or []) if line.startswith("## ")]
    sections += ["Glossary", "Provenance"]
    return ["**Contents**: " + " · ".join(f"[{h}](#{anchor(h)})" for h in sections), ""]


def _overview(context: Context) -> list[str]:
    """The overview figure: every pair's score against its best baseline's."""
    return _figure(f"{context.figures}/overview.png", "model against best baseline",
                   "every (target, feature group) pair: the model's cross-validated score "
                   "against its best baseline's on the same folds (MCC for classification, "
                   "R² for regression targets); above the grey diagonal the model does better. "
                   "Colour and marker: the verdict and its kind.")


def _flagged_section(flagged: pl.DataFrame, importances: pl.DataFrame, context: Context,
                     images: dict[str, bytes]) -> list[str]:
    """The flagged findings, each in detail (:func:`_detail`), or a line saying there are
    none."""
    lines = [f"## Flagged findings ({len(flagged)})", ""]
    if not len(flagged):
        lines += ["No pair is flagged (what the search could have detected: above).", ""]
    for number, row in enumerate(flagged.iter_rows(named=True), 1):
        lines += _detail(number, row, importances, context, images)
    return lines


def _questions_table(others: pl.DataFrame, context: Context) -> list[str]:
    """The pairs not flagged, numbered: each question in words, its verdict and the reason."""
    return _table(["#", "question", "verdict", "why"], [
        [number, f"{context.targets[r['target']]} from {context.groups[r['group']]} "
                 f"(`{r['target']} ~ {r['group']}`)", r["verdict"], r["reason"]]
        for number, r in enumerate(others.iter_rows(named=True), 1)])


def _statistics_table(others: pl.DataFrame) -> list[str]:
    """The same pairs, numbered alike: the statistics of ``REPORT_COLUMNS``, in its order."""
    shown = [(c, label, kind) for c, label, kind in FINDINGS_COLUMNS
             if c in REPORT_COLUMNS and c in others.columns]
    shown.sort(key=lambda column: REPORT_COLUMNS.index(column[0]))
    lines = ["The statistics of the same pairs, in the same order:", ""]
    return lines + _table(["#", *[label for _, label, _ in shown]], [
        [number, *[METRIC_WORDS.get(r[c], r[c]) if c == "metric" else cell_text(r[c], kind)
                   for c, _, kind in shown]]
        for number, r in enumerate(others.iter_rows(named=True), 1)])


def _others_section(others: pl.DataFrame, context: Context) -> list[str]:
    """Every pair not flagged: the order, the questions table, then the statistics table."""
    lines = [f"## All other results ({len(others)})", "",
             "By kind of verdict, then by the added value of the features beyond the best of "
             "what the pair knows (largest first): first each question in words with its "
             "verdict and the reason, then the same pairs' statistics, beside the added value "
             "each could have detected at 90% power.", ""]
    return lines + _questions_table(others, context) + _statistics_table(others)


def _provenance_section(p: dict) -> list[str]:
    """The provenance table: date, git revision, the params' hash, each data file's md5, and
    the package versions."""
    lines = ["## Provenance", ""]
    return lines + _table(["", ""], [
        ["date", p["date"]], ["git revision", revision_words(p["git_revision"])],
        ["params.yaml sha256", f"`{p['params_sha256']}`"],
        *[[f"md5 of `{name}`", f"`{md5}`"] for name, md5 in p["data_md5"].items()],
        *[[name, version] for name, version in p["packages"].items()]])


def markdown(findings: pl.DataFrame, importances: pl.DataFrame, context: Context,
             images: dict[str, bytes], topology: list[str] | None = None,
             bias: list[str] | None = None, known: list[str] | None = None,
             crosscheck: list[str] | None = None, controls: list[str] | None = None) -> str:
    """The report in Markdown; ``images`` (figures by file name, in ``context.figures``) gets
    the overview figure, and the flagged pairs' figures are shown from it; ``topology`` and
    ``bias`` are the lines of :func:`topology_section` and :func:`bias_section`, ``known`` of
    :func:`known_phenomena_section`, ``crosscheck`` of :func:`crosscheck_section`,
    ``controls`` of :func:`controls_section`."""
    images["overview.png"] = figures.score_overview(findings)
    flagged = findings.filter(pl.col("verdict") == FLAGGED).sort(FINDINGS_SORT, descending=True)
    others = findings.filter(pl.col("verdict") != FLAGGED).with_columns(
        order=pl.col("verdict").map_elements(verdict_order, return_dtype=pl.Int64)).sort(
        "order", FINDINGS_SORT, descending=[False, True], nulls_last=True)
    # one list for the contents and the body, so that the links follow the sections' order
    sections = [controls, bias, known, topology, crosscheck]
    lines = _introduction(findings, context)
    lines += _contents(len(flagged), len(others), sections)
    lines += _overview(context)
    lines += _flagged_section(flagged, importances, context, images)
    lines += _others_section(others, context)
    for section in sections:
        lines += section or []
    lines += glossary(findings, context)
    lines += _provenance_section(context.provenance)
    return "\n".join(lines)


def glossary(findings: pl.DataFrame, context: Context) -> list[str]:
    """The words of the report: verdict kinds and verdicts, baselines with what they read,
    feature groups, feature names."""
    lines = ["## Glossary", "", "**Verdicts**, by kind:", ""]
    present = sorted(set(findings["verdict"].to_list()), key=lambda v: (verdict_order(v), v))
    lines += _table(["kind", "meaning", "verdicts in this report"], [
        [kind.name, kind.meaning,
         ", ".join(v for v in present if kind_of(v) == kind.name) or "—"]
        for kind in KINDS.values()])
    inputs: dict[str, str] = {}
    for row in findings.iter_rows(named=True):
        inputs.update(json.loads(row.get("baseline_inputs") or "{}"))
    if inputs:
        lines += ["**Baselines** and what each reads (a model must beat the best applicable "
                  "one on the same folds):", ""]
        lines += _table(["baseline", "inputs"], [[k, v] for k, v in sorted(inputs.items())])
    lines += ["**Feature groups** (the searched groups of `search.groups`):", ""]
    lines += _table(["group", "holds"], [[f"`{g}`", w] for g, w in context.groups.items()])
    lines += ["**Feature names** (`<p>` a prime, `<B>` a bound of `features.mestre_nagao_bounds`, "
              "ln the natural logarithm):", ""]
    lines += _table(["name", "meaning"], [[f"`{k}`", v] for group in FEATURE_GROUPS.values()
                                          for k, v in group.glossary.items()])
    return lines


STYLE = """body{font-family:system-ui,sans-serif;max-width:64rem;margin:2rem auto;padding:0 1rem;
line-height:1.45;color:#222}table{border-collapse:collapse;margin:.5rem 0;font-size:.85rem}
td,th{border:1px solid #ccc;padding:.25rem .5rem;vertical-align:top}img{max-width:100%}
code{background:#f4f4f4;padding:0 .2rem}h3{margin-top:2.5rem;border-top:1px solid #ddd;
padding-top:1rem}figure,p>em:only-child{color:#555;font-size:.85rem}
details{margin:.5rem 0}summary{cursor:pointer;font-weight:600}"""


def to_html(text: str, images: dict[str, bytes], title: str) -> str:
    """Render the Markdown; embed every figure it shows (``images``: path relative to the
    report -> PNG) as a base64 data URI."""
    body = MarkdownIt("commonmark").enable("table").render(text)
    # heading ids, so that the contents' links (#anchor) land
    body = re.sub(r"<h([23])>(.*?)</h\1>",
                  lambda m: f'<h{m[1]} id="{anchor(html.unescape(re.sub("<[^>]+>", "", m[2])))}">'
                            f"{m[2]}</h{m[1]}>", body)
    for name, png in images.items():
        source = f'src="{name}"'
        if source in body:
            data = base64.b64encode(png).decode()
            body = body.replace(source, f'src="data:image/png;base64,{data}"')
    return (f"<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>{html.escape(title)}</title><style>{STYLE}</style></head>\n"
            f"<body>\n{body}</body></html>\n")
