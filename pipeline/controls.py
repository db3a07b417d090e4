"""DVC stage ``controls``: would this engine have found what we know?

Each positive control (``controls.pairs``) is a pair that a law of known mathematics answers
exactly: rank parity from the root number (the parity conjecture), Sha from the other BSD
quantities (the BSD formula), ∏c_p from the equation (Tate's algorithm). In the search the law
explains it; here the pair is evaluated again with the law withheld (``search.withhold``: the
law leaves the baselines, what its algorithm computes leaves the known quantities, and a null
model built on it goes too), with every test run, and decided on its own
(:func:`models.search.evaluate_alone`). A control the engine does not find with its law
withheld is a blind spot of the engine, and the report says so. The verdict with the law in
force is the search's (``paths.findings``), or, for a pair the search did not run, one more
evaluation. A control's ``group`` is a feature group (:mod:`arithmetic.feature_groups`),
searched alone, so that the search's groups may change without touching the controls. Outputs:
``paths.controls`` (one row per control) and ``paths.controls_metrics``.
"""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import polars as pl

from machinery.atomic import publish_together, write_json, write_parquet
from machinery.inputs import require_inputs
from machinery.params import ParamsError, load_params
from machinery.stage import run_stage
from models.search import evaluate_alone, search_targets, sha_model_factory
from models.verdicts import FLAGGED
from pipeline.frames import search_frame


def control_row(control, law_in_force: dict, withheld: dict, seconds: float) -> dict:
    """One control's row: the verdict with its law and without it, and the added value found."""
    return {"target": control.target, "group": control.group, "law": control.law,
            "verdict_with_law": law_in_force["verdict"], "reason_with_law": law_in_force["reason"],
            "verdict": withheld["verdict"], "reason": withheld["reason"],
            "found": withheld["verdict"] == FLAGGED, "added_value": withheld["added_value"],
            "added_value_low": withheld["added_value_low"],
            "added_value_high": withheld["added_value_high"], "metric": withheld["metric"],
            "seconds": seconds}


def controls_metrics(rows: pl.DataFrame) -> dict:
    return {"controls": len(rows), "found": int(rows["found"].sum()),
            "pairs": {f"{r['target']} ~ {r['group']}": {
                "law": r["law"], "with_law": r["verdict_with_law"], "withheld": r["verdict"],
                "added_value": round(r["added_value"], 4)} for r in rows.iter_rows(named=True)}}


def main() -> None:
    params = load_params()
    paths = params.paths
    require_inputs("controls", paths, "features", "feature_groups", "bsd", "findings")
    frame = search_frame(params)
    groups = json.loads(Path(paths.feature_groups).read_text())
    findings = pl.read_parquet(paths.findings, columns=["target", "group", "verdict", "reason"])
    threads = params.search.workers * params.search.threads
    sha_model = sha_model_factory(params.nulls)
    rows = []
    for control in params.controls.pairs:
        [target] = search_targets(params.search.model_copy(update={"targets": [control.target]}),
                                  params.features, groups).values()
        ran = findings.filter(target=target.name, group=control.group)
        # the feature group alone, whatever the search's groups are
        alone = params.search.model_copy(update={"groups": {control.group: [control.group]}})
        in_force = (ran.row(0, named=True) if len(ran) and params.search.groups.get(
            control.group) == [control.group] else evaluate_alone(
            frame, target, control.group, groups, alone, params.nulls, params.features, threads,
            sha_model))
        started = time.perf_counter()
        withheld = evaluate_alone(
            frame, target, control.group, groups,
            alone.model_copy(update={"withhold": [*alone.withhold, control.law]}),
            params.nulls, params.features, threads, sha_model)
        rows.append(control_row(control, in_force, withheld, time.perf_counter() - started))
        print(f"controls: {target.name} ~ {control.group} without {control.law}: "
              f"{withheld['verdict']} ({withheld['added_value']:+.3f})", file=sys.stderr)
    table = pl.DataFrame(rows)
    with publish_together(paths.controls, paths.controls_metrics) as (staged, metrics):
        write_parquet(table, staged)
        write_json(controls_metrics(table), metrics)


if __name__ == "__main__":
    run_stage("controls", main, (ParamsError,))
