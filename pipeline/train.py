"""DVC stage ``train``: for every (target, feature group) of ``search``, the GBM, the baselines
and the null datasets on the same isogeny-class splits (:func:`models.findings.evaluate`).

Outputs: ``paths.evaluations`` (one row of statistics per pair), ``paths.gbm_models`` (each
pair's GBM fitted on all curves, LightGBM text format), ``paths.importances`` (gain and mean
|SHAP| per feature). Pairs run in ``search.workers`` processes; each finished pair is written
to ``paths.train_chunks`` at once, keyed by the data, the params and the code, so a killed run
resumes with the pairs still missing.
"""
from __future__ import annotations

import hashlib
import json
import multiprocessing
import shutil
import sys
import time
from pathlib import Path

import polars as pl
from tqdm import tqdm

import models.baselines
import models.delaunay
import models.findings
import models.gbm
import models.nulls
import models.scores
import models.search
import models.splits
import models.targets
from models.findings import evaluate
from models.search import (pair_tools, pairs, search_settings, search_targets,
                           sha_model_factory)
from models.splits import class_index
from pipeline.atomic import atomic_path, write_json, write_parquet
from pipeline.chunks import clear_stale, source_digest
from pipeline.frames import search_frame, table_digest
from pipeline.params import ParamsError, Params, load_params

#: SHAP values are computed on this many curves (seeded sample), enough for mean |SHAP|.
SHAP_SAMPLE = 2000

_state: dict = {}


def start_worker(params: Params, threads: int) -> None:
    """Load the model frame once per process."""
    _state.update(params=params, threads=threads, frame=search_frame(params),
                  groups=json.loads(Path(params.paths.feature_groups).read_text()),
                  targets=search_targets(params.search, params.features),
                  sha_model=sha_model_factory(params.nulls))


def run_pair(job: tuple[str, str, list[str], Path]) -> str:
    """Evaluate one pair, fit its model on all curves, write ``<path>.json`` and ``.txt``."""
    target_name, group, columns, path = job
    params, frame = _state["params"], _state["frame"]
    target, search = _state["targets"][target_name], params.search
    settings = search_settings(search)
    make_gbm, baselines, null = pair_tools(target, columns, _state["groups"], search,
                                           params.nulls, params.features, _state["threads"],
                                           _state["sha_model"])
    started = time.perf_counter()
    result = evaluate(frame, target, group, columns, make_gbm, baselines, null, settings)

    data = frame.with_columns(target.expression.alias("__target__"))
    model = make_gbm(columns, target.task).fit(data, "__target__", class_index(data))
    sample = data.sample(min(SHAP_SAMPLE, len(data)), seed=search.seed)
    result["attributions"] = model.attributions(sample).to_dicts()
    result["seconds"] = time.perf_counter() - started
    with atomic_path(path.with_suffix(".txt")) as tmp:
        tmp.write_text(model.model_text())
    write_json(result, path.with_suffix(".json"))
    return f"{target_name} ~ {group}"


def run_key(params: Params) -> str:
    """Digest of what shapes every result: input data, params and code."""
    digest = hashlib.sha256()
    paths = params.paths
    digest.update(table_digest(paths.features, paths.bsd, paths.feature_groups).encode())
    for section in ("features", "nulls", "search"):
        digest.update(getattr(params, section).model_dump_json().encode())
    code = [m.__file__ for m in (models.baselines, models.delaunay, models.findings, models.gbm,
                                 models.nulls, models.scores, models.search, models.splits,
                                 models.targets)]
    digest.update(source_digest(*code, __file__).encode())
    return digest.hexdigest()[:16]


def run_all(params: Params) -> list[Path]:
    """Run every pair not yet done; return the result files in search order."""
    groups = json.loads(Path(params.paths.feature_groups).read_text())
    work = pairs(search_targets(params.search, params.features), params.search.groups, groups)
    directory = Path(params.paths.train_chunks)
    directory.mkdir(parents=True, exist_ok=True)
    key = run_key(params)
    stems = [directory / f"{t.name}__{g}-{key}" for t, g, _ in work]
    clear_stale(directory, {s.with_suffix(x).name for s in stems for x in (".json", ".txt")})
    jobs = [(t.name, g, cols, stem) for (t, g, cols), stem in zip(work, stems)
            if not stem.with_suffix(".json").exists()]
    workers = min(params.search.workers, max(len(jobs), 1))
    with tqdm(total=len(work), initial=len(work) - len(jobs), unit="pair", desc="train",
              file=sys.stderr) as progress:
        if workers == 1:
            start_worker(params, params.search.threads)
            for job in jobs:
                progress.set_postfix_str(run_pair(job))
                progress.update()
        elif jobs:
            context = multiprocessing.get_context("spawn")
            with context.Pool(workers, start_worker, (params, params.search.threads)) as pool:
                for done in pool.imap_unordered(run_pair, jobs):
                    progress.set_postfix_str(done)
                    progress.update()
    return [stem.with_suffix(".json") for stem in stems]


def collect(paths: list[Path]) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(evaluations: one row per pair, importances: one row per pair and feature)."""
    rows, importances = [], []
    for path in paths:
        result = json.loads(path.read_text())
        for row in result.pop("attributions"):
            importances.append({"target": result["target"], "group": result["group"], **row})
        result["baseline_scores"] = json.dumps(result["baseline_scores"])
        rows.append(result)
    return pl.DataFrame(rows), pl.DataFrame(importances)


def main() -> None:
    params = load_params()
    paths = run_all(params)
    evaluations, importances = collect(paths)
    models_dir = Path(params.paths.gbm_models)
    if models_dir.exists():
        shutil.rmtree(models_dir)
    models_dir.mkdir(parents=True)
    for path in paths:
        shutil.copyfile(path.with_suffix(".txt"), models_dir / (path.stem.rsplit("-", 1)[0] + ".txt"))
    write_parquet(importances, params.paths.importances)
    write_parquet(evaluations, params.paths.evaluations)
    shutil.rmtree(params.paths.train_chunks)
    print(f"train: {len(evaluations)} (target, group) pairs -> {params.paths.evaluations}",
          file=sys.stderr)


if __name__ == "__main__":
    try:
        main()
    except (ParamsError, ValueError) as err:
        sys.exit(f"train: error: {err}")
