"""DVC stage ``train``: for every (target, feature group) of ``search``, the GBM, the baselines
and the null datasets on the same isogeny-class splits (:func:`models.findings.evaluate`).

The curves are those of :func:`pipeline.frames.search_frame` (all, or ``search.sample_classes``
isogeny classes). Outputs: ``paths.evaluations`` (one row of statistics per pair),
``paths.gbm_models`` (each pair's exported GBM, LightGBM text format: fitted on all those
curves for the median number of rounds early stopping kept in the folds), ``paths.importances``
(gain and mean |SHAP| per feature). Pairs run in ``search.workers`` processes of
``search.threads`` LightGBM threads (workers x threads <= cores). With ``executor.kind: dask``
the exported models are fitted with ``lightgbm.dask`` on the cluster instead; the statistics,
thousands of small early-stopped fits, stay in the local processes (lightgbm.dask has no early
stopping). Each pair's evaluation and then its model are written to ``paths.train_chunks`` as
they finish, keyed by the data, the params and the code, so a killed run resumes with what is
still missing.
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
import pipeline.frames
from models.findings import evaluate
from models.gbm import GbmModel
from models.search import (pair_tools, pairs, search_settings, search_targets,
                           sha_model_factory)
from pipeline.atomic import atomic_path, write_json, write_parquet
from pipeline.chunks import clear_stale, source_digest
from pipeline.cluster import dask_client
from pipeline.frames import search_frame
from pipeline.inputs import require_inputs
from pipeline.params import ParamsError, Params, check_cores, load_params

#: SHAP values are computed on this many curves (seeded sample), enough for mean |SHAP|.
SHAP_SAMPLE = 2000

_state: dict = {}


def start_worker(params: Params, threads: int, final_here: bool = True) -> None:
    """Load the model frame once per process; ``final_here``: fit the exported models too."""
    _state.update(params=params, threads=threads, frame=search_frame(params),
                  groups=json.loads(Path(params.paths.feature_groups).read_text()),
                  targets=search_targets(params.search, params.features),
                  sha_model=sha_model_factory(params.nulls), final_here=final_here)


def evaluation_path(stem: Path) -> Path:
    return Path(f"{stem}.eval.json")


def run_pair(job: tuple[str, str, list[str], Path]) -> str:
    """Evaluate one pair (``<stem>.eval.json``) unless done, then, in this process unless the
    models are fitted on a dask cluster, its exported model (:func:`fit_final`)."""
    target_name, group, columns, stem = job
    params, frame = _state["params"], _state["frame"]
    target, search = _state["targets"][target_name], params.search
    if not evaluation_path(stem).exists():
        make_gbm, baselines, null = pair_tools(target, columns, _state["groups"], search,
                                               params.nulls, params.features, _state["threads"],
                                               _state["sha_model"])
        started = time.perf_counter()
        result = evaluate(frame, target, group, columns, make_gbm, baselines, null,
                          search_settings(search))
        result["seconds"] = time.perf_counter() - started
        write_json(result, evaluation_path(stem))
    if _state["final_here"]:
        fit_final(job, frame, target, search, _state["threads"])
    return f"{target_name} ~ {group}"


def fit_final(job: tuple[str, str, list[str], Path], frame: pl.DataFrame, target, search,
              threads: int, client=None) -> None:
    """The pair's exported model: LightGBM on every curve of the search frame with the target,
    for the median number of rounds early stopping kept in the cross-validation folds (no rows
    held back), with ``lightgbm.dask`` when a dask ``client`` is given; its mean |SHAP| on a
    seeded sample of curves. Writes ``<stem>.txt`` (LightGBM text) and ``<stem>.json``."""
    _, _, columns, stem = job
    result = json.loads(evaluation_path(stem).read_text())
    settings = search.gbm.model_dump() | {"n_estimators": max(1, result["gbm_rounds"]),
                                          "early_stopping_rounds": 0}
    model = GbmModel(target.task, columns, seed=search.seed, threads=threads, client=client,
                     **settings)
    data = frame.with_columns(target.expression.alias("__target__")) \
        .filter(pl.col("__target__").is_not_null())
    model.fit(data, "__target__")
    sample = data.sample(min(SHAP_SAMPLE, len(data)), seed=search.seed)
    result["attributions"] = model.attributions(sample).to_dicts()
    with atomic_path(stem.with_suffix(".txt")) as tmp:
        tmp.write_text(model.model_text())
    write_json(result, stem.with_suffix(".json"))


def run_key(params: Params) -> str:
    """Digest of what shapes every result: input data, params and code."""
    digest = hashlib.sha256()
    paths = params.paths
    digest.update(source_digest(paths.features, paths.bsd, paths.feature_groups).encode())
    for section in ("features", "nulls", "search"):
        digest.update(getattr(params, section).model_dump_json().encode())
    digest.update(params.executor.kind.encode())      # dask: the exported models by lightgbm.dask
    code = [m.__file__ for m in (models.baselines, models.delaunay, models.findings, models.gbm,
                                 models.nulls, models.scores, models.search, models.splits,
                                 models.targets, pipeline.frames)]
    digest.update(source_digest(*code, __file__).encode())
    return digest.hexdigest()[:16]


def run_all(params: Params) -> list[Path]:
    """Run every pair not yet done; return the result files in search order."""
    check_cores(params.search.workers, params.search.threads, "search")
    groups = json.loads(Path(params.paths.feature_groups).read_text())
    work = pairs(search_targets(params.search, params.features), params.search.groups, groups)
    directory = Path(params.paths.train_chunks)
    directory.mkdir(parents=True, exist_ok=True)
    key = run_key(params)
    stems = [directory / f"{t.name}__{g}-{key}" for t, g, _ in work]
    clear_stale(directory, {name for stem in stems for name in (
        f"{stem.name}.json", f"{stem.name}.txt", evaluation_path(stem).name)})
    jobs = [(t.name, g, cols, stem) for (t, g, cols), stem in zip(work, stems)
            if not stem.with_suffix(".json").exists()]
    on_dask = params.executor.kind == "dask"
    evaluations = [job for job in jobs if not (on_dask and evaluation_path(job[3]).exists())]
    workers = min(params.search.workers, max(len(evaluations), 1))
    initargs = (params, params.search.threads, not on_dask)
    with tqdm(total=len(work), initial=len(work) - len(evaluations), unit="pair", desc="train",
              file=sys.stderr) as progress:
        if workers == 1:
            start_worker(*initargs)
            for job in evaluations:
                progress.set_postfix_str(run_pair(job))
                progress.update()
        elif evaluations:
            context = multiprocessing.get_context("spawn")
            with context.Pool(workers, start_worker, initargs) as pool:
                for done in pool.imap_unordered(run_pair, evaluations):
                    progress.set_postfix_str(done)
                    progress.update()
    if on_dask and jobs:
        fit_on_dask(params, jobs)
    return [stem.with_suffix(".json") for stem in stems]


def fit_on_dask(params: Params, jobs: list[tuple[str, str, list[str], Path]]) -> None:
    """The exported models of ``jobs`` with lightgbm.dask, one after another, each spread over
    the cluster's workers (``executor.address``, or a LocalCluster of ``search.workers``
    processes of ``search.threads`` threads on 127.0.0.1)."""
    frame = search_frame(params)
    targets = search_targets(params.search, params.features)
    with dask_client(params.executor.address, params.search.workers,
                     params.search.threads) as client:
        for job in tqdm(jobs, unit="model", desc="train (lightgbm.dask)", file=sys.stderr):
            fit_final(job, frame, targets[job[0]], params.search, params.search.threads,
                      client)


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
    require_inputs("train", params.paths, "features", "feature_groups", "bsd")
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
