"""DVC stage ``report``: the findings as a report a mathematician reads.

Writes ``paths.report_markdown`` (figures in ``paths.report_figures``), a self-contained
``paths.report_html`` (figures embedded; opens offline), and the table as
``paths.report_json`` (with provenance) and ``paths.report_csv``.
"""
from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path

import polars as pl

from arithmetic.feature_groups import group_words
from machinery.atomic import (publish_together, write_csv, write_directory, write_json,
                             write_text)
from machinery.inputs import require_inputs
from machinery.params import PARAMS_FILE, Executor, Params, ParamsError, load_params
from machinery.runner import Job, run_jobs
from machinery.stage import run_stage
from models.verdicts import FLAGGED
from reporting.document import (Context, bias_section, controls_section, crosscheck_section,
                                known_phenomena_section, markdown, pair_figures, to_html,
                                topology_section)
from reporting.figures import distribution_file
from reporting.known import baseline_shares, known_checks, known_labels
from reporting.provenance import provenance
from reporting.words import statement

TITLE = "Findings: unexpected predictability in Cremona's tables"


def relative(path: Path, report: Path) -> str:
    """``path`` as the Markdown report links it."""
    return Path(os.path.relpath(path, Path(report).parent)).as_posix()


def context(params: Params, bsd: pl.DataFrame) -> Context:
    """Descriptions of targets (as the train stage resolved them, ``paths.pairs``) and groups,
    what the data covers, provenance."""
    pairs = pl.read_parquet(params.paths.pairs, columns=["target", "description"])
    data = {name: getattr(params.paths, name) for name in (
        "curves", "bsd", "features", "pairs", "evaluations", "importances", "findings", "topology",
        "height_sample", "stein_watkins", "bias", "murmurations", "published", "crosscheck")}
    return Context(
        targets=dict(pairs.unique("target", maintain_order=True).iter_rows()),
        groups={name: group_words(members, params.features.primes_max)
                for name, members in params.search.groups.items()},
        coverage={"curves": len(bsd), "classes": bsd["isogeny_class"].n_unique(),
                  "conductor_min": int(bsd["conductor"].min()),
                  "conductor_max": int(bsd["conductor"].max()),
                  "searched_classes": params.search.sample_classes},
        provenance=provenance(PARAMS_FILE, data),
        fdr=params.search.fdr, top_features=params.report.top_features,
        figures=relative(params.paths.report_figures, params.paths.report_markdown),
        topology_figures=relative(params.paths.topology_figures, params.paths.report_markdown),
        bias_figures=relative(params.paths.bias_figures, params.paths.report_markdown),
        murmuration_figures=relative(params.paths.murmurations_figures,
                                     params.paths.report_markdown),
        feature_groups=json.loads(Path(params.paths.feature_groups).read_text())
        if Path(params.paths.feature_groups).exists() else {},
        topology_fdr=params.topology.fdr, folds=params.search.folds,
        null_quantile=params.search.null_quantile)


def with_statements(findings: pl.DataFrame, ctx: Context) -> pl.DataFrame:
    """The findings with their plain-words statement (what each baseline reads is the
    findings' own ``baseline_inputs``, written by each baseline: ``words``)."""
    return findings.with_columns(statement=pl.Series([
        statement(row, ctx.targets[row["target"]], ctx.groups[row["group"]])
        for row in findings.iter_rows(named=True)], dtype=pl.String))


def figures_of(item: tuple[pl.DataFrame, pl.DataFrame, int]) -> pl.DataFrame:
    """A job of :func:`rendered_figures`: the figures of some pairs, one row per PNG file."""
    images = pair_figures(*item)
    return pl.DataFrame({"name": list(images), "png": list(images.values())},
                        schema={"name": pl.String, "png": pl.Binary})


def rendered_figures(findings: pl.DataFrame, importances: pl.DataFrame, top: int, workers: int,
                     executor: Executor | None = None) -> dict[str, bytes]:
    """:func:`reporting.document.pair_figures` of every pair, by file name, drawn in
    ``workers`` processes (the stage runner): matplotlib draws one figure at a time, and
    drawing is most of the stage. Each process draws whole pairs, so a file's bytes are those
    the serial loop gives."""
    jobs = []
    size = max(1, -(-len(findings) // (4 * workers)))  # a few jobs per worker, to finish together
    for start in range(0, len(findings), size):
        part = findings.slice(start, size)
        own = importances.join(part.select("target", "group"), on=["target", "group"],
                               how="semi")
        jobs.append(Job(f"pairs{start:05d}", "figures", (part, own, top), weight=len(part)))
    images: dict[str, bytes] = {}
    with tempfile.TemporaryDirectory(prefix="report-figures-") as scratch:
        for path in run_jobs(jobs, Path(scratch), figures_of, workers=workers,
                             desc="report figures", unit="pair", executor=executor):
            part = pl.read_parquet(path)
            images.update(zip(part["name"].to_list(), part["png"].to_list()))
    return images


def main() -> None:
    params = load_params()
    require_inputs("report", params.paths, "crosscheck", "crosscheck_metrics", "pairs",
                   "findings", "bias",
                   "invariants_metrics",
                   "bias_distributions", "bias_figures", "bias_metrics", "murmurations",
                   "murmurations_metrics", "murmurations_figures", "bsd_ratio_fits",
                   "importances", "topology", "topology_figures", "bsd", "controls")
    paths = params.paths
    findings = pl.read_parquet(paths.findings)
    ctx = context(params, pl.read_parquet(paths.bsd, columns=["isogeny_class", "conductor"]))
    findings = with_statements(findings, ctx)
    importances = pl.read_parquet(paths.importances)
    images = rendered_figures(findings, importances, ctx.top_features, params.report.workers,
                              params.executor)
    diagrams = sorted(Path(paths.topology_figures).glob("*.png"))
    topology = topology_section(pl.read_parquet(paths.topology), [d.name for d in diagrams], ctx)
    shares = pl.read_parquet(paths.bias_distributions)
    plots = {q: distribution_file(q) for q in shares["quantity"].unique().to_list()
             if (Path(paths.bias_figures) / distribution_file(q)).exists()}
    bias = bias_section(pl.read_parquet(paths.bias), shares, plots,
                        json.loads(Path(paths.bias_metrics).read_text()), ctx)
    murmuration_plots = sorted(p.name for p in Path(paths.murmurations_figures).glob("*.png"))
    known = known_phenomena_section(
        known_labels(findings, params.search.held_out_prime), baseline_shares(findings),
        json.loads(Path(paths.murmurations_metrics).read_text()),
        pl.read_parquet(paths.bsd_ratio_fits), murmuration_plots, ctx,
        known_checks({name: json.loads(Path(getattr(paths, name)).read_text())
                      for name in ("invariants_metrics", "murmurations_metrics")}))
    crosscheck = crosscheck_section(pl.read_parquet(paths.crosscheck),
                                    json.loads(Path(paths.crosscheck_metrics).read_text()))
    controls = controls_section(pl.read_parquet(paths.controls))
    text = markdown(findings, importances, ctx, images, topology, bias, known, crosscheck,
                    controls)
    embedded = {f"{ctx.figures}/{name}": png for name, png in images.items()}
    embedded |= {f"{ctx.topology_figures}/{d.name}": d.read_bytes() for d in diagrams}
    embedded |= {f"{ctx.bias_figures}/{name}": (Path(paths.bias_figures) / name).read_bytes()
                 for name in plots.values()}
    embedded |= {f"{ctx.murmuration_figures}/{name}":
                 (Path(paths.murmurations_figures) / name).read_bytes()
                 for name in murmuration_plots}
    flat = findings.select(c for c, dtype in findings.schema.items() if not dtype.is_nested())
    # the documents and their figures are published as one set (a kill leaves the old set)
    with publish_together(paths.report_figures, paths.report_markdown, paths.report_html,
                          paths.report_json, paths.report_csv) as (figures, md, html, js, csv):
        write_directory(images, figures)
        write_text(text + "\n", md)
        write_text(to_html(text, embedded, TITLE), html)
        write_json({"provenance": ctx.provenance, "coverage": ctx.coverage,
                    "findings": findings.to_dicts()}, js)
        write_csv(flat, csv)
    flagged = (findings["verdict"] == FLAGGED).sum()
    print(f"report: {flagged} flagged of {len(findings)} -> {paths.report_markdown}, "
          f"{paths.report_html}", file=sys.stderr)


if __name__ == "__main__":
    run_stage("report", main, (ParamsError,))
