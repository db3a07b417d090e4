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
stopping). Each pair's evaluation and then its model are written to ``paths.train_cache`` as
they finish, keyed by the data, the params that pair reads and the code (:func:`pair_key`). The
cache persists across runs (a DVC ``persist`` output): a killed run resumes with what is still
missing, and an experiment that adds a target or changes a param computes only the pairs whose
key changed. Pairs of one target run in one process, sharing their baselines.
"""
from __future__ import annotations

import hashlib
import json
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import polars as pl
from threadpoolctl import threadpool_limits
from tqdm import tqdm

from machinery.atomic import (cache_writes, publish_together, write_bytes, write_json,
                             write_parquet, write_text)
from machinery.cluster import dask_client
from machinery.code_digest import code_digest, source_digest
from machinery.inputs import require_inputs
from machinery.params import ParamsError, Params, check_cores, load_params
from machinery.runner import Job, run_jobs
from machinery.stage import run_stage
from models.findings import TARGET, evaluate, with_target
from models.delaunay import ShaModel
from models.gbm import GbmModel, model_file
from models.pair_result import PairResult, evaluations_table
from models.search import (Pair, pair_tools, pairs, pairs_table, search_settings,
                           search_targets, sha_model_factory)
from models.targets import Target, TargetError, check_target_values
from pipeline.frames import frame_columns, search_frame

#: SHAP values are computed on this many curves (seeded sample), enough for mean |SHAP|.
SHAP_SAMPLE = 2000


@dataclass(frozen=True)
class PairJob:
    """One pair to compute, by name (a worker holds the targets themselves), and the stem of
    its files in the train cache: ``<stem>.eval.json``, ``<stem>.txt``, ``<stem>.json``."""
    target: str
    group: str
    columns: list[str]
    known: list[str]
    stem: Path


@dataclass
class Worker:
    """What a train process loads once (:func:`start_worker`) and every pair it runs reads."""
    params: Params
    threads: int
    frame: pl.DataFrame
    groups: dict[str, list[str]]
    targets: dict[str, Target]
    sha_model: Callable[[], ShaModel]
    final_here: bool


#: The process's :class:`Worker`, set by :func:`start_worker`.
_worker: Worker | None = None


def start_worker(params: Params, threads: int, final_here: bool = True) -> None:
    """Load the model frame once per process; ``final_here``: fit the exported models too.

    The process's BLAS and OpenMP pools get ``threads`` threads, as LightGBM does. Left alone
    they take every core, so 2 workers oversubscribe 2 cores (the BSD identity's logistic
    regression on 64,687 curves: 17 s with 1 thread, 96 s with 2 beside other work), and the
    pool's size changes the order of floating-point sums, hence the scores, with the machine."""
    global _worker
    threadpool_limits(limits=threads)
    groups = json.loads(Path(params.paths.feature_groups).read_text())
    _worker = Worker(params, threads, search_frame(params), groups,
                     search_targets(params.search, params.features, groups),
                     sha_model_factory(params.nulls), final_here)


def evaluation_path(stem: Path) -> Path:
    return Path(f"{stem}.eval.json")


def run_target(jobs: list[PairJob]) -> list[str]:
    """The pairs of one target, in this process: the baselines that do not depend on the
    group are fitted once for all of them (:func:`models.findings.cross_validated`)."""
    cache: dict = {}
    return [run_pair(job, cache) for job in jobs]


def pairs_written(done: list[str], path: Path) -> None:
    """The runner's ``save`` for a target's job: its pairs' files, written by :func:`run_pair`
    as each finishes, are the results, so the job leaves no file of its own (and a pair whose
    files are gone is computed again)."""


def run_pair(job: PairJob, cache: dict | None = None) -> str:
    """Evaluate one pair (``<stem>.eval.json``) unless done, then, in this process unless the
    models are fitted on a dask cluster, its exported model (:func:`fit_final`)."""
    worker = _worker
    params, frame = worker.params, worker.frame
    target, search = worker.targets[job.target], params.search
    if not evaluation_path(job.stem).exists():
        pair = Pair(target, job.group, job.columns, job.known)
        make_gbm, baselines, null = pair_tools(pair, worker.groups, search, params.nulls,
                                               params.features, worker.threads,
                                               worker.sha_model)
        started = time.perf_counter()
        result = evaluate(frame, target, job.group, job.columns, make_gbm, baselines, null,
                          search_settings(search), job.known, cache)
        result = result.with_statistics(seconds=time.perf_counter() - started)
        write_json(result.row(), evaluation_path(job.stem))
    if worker.final_here:
        fit_final(job, frame, target, search, worker.threads)
    return f"{job.target} ~ {job.group}"


def fit_final(job: PairJob, frame: pl.DataFrame, target, search, threads: int,
              client=None) -> None:
    """The pair's exported model: LightGBM on every curve of the search frame with the target,
    for the median number of rounds early stopping kept in the cross-validation folds (no rows
    held back), with ``lightgbm.dask`` when a dask ``client`` is given; its mean |SHAP| on a
    seeded sample of curves. Writes ``<stem>.txt`` (LightGBM text) and ``<stem>.json``, which
    gains the target's classes for a classification (the evaluations' ``classes`` column)."""
    columns, stem = job.columns, job.stem
    result = json.loads(evaluation_path(stem).read_text())
    settings = search.gbm.model_dump() | {"n_estimators": max(1, result["gbm_rounds"]),
                                          "early_stopping_rounds": 0}
    model = GbmModel(target.task, columns, seed=search.seed, threads=threads, client=client,
                     **settings)
    data = with_target(frame, target)
    model.fit(data, TARGET)
    sample = data.sample(min(SHAP_SAMPLE, len(data)), seed=search.seed)
    result["attributions"] = model.attributions(sample).to_dicts()
    if model.classes_ is not None:      # the target's values, in the order LightGBM numbers them
        result["classes"] = model.classes_.tolist()
    write_text(model.model_text(), stem.with_suffix(".txt"))
    write_json(result, stem.with_suffix(".json"))


#: A pair's relative cost by task, so that the costly targets start first and the workers
#: finish together. A multiclass classifier fits a tree per class and round: in the default
#: run rank and torsion took 2.2-2.4x the mean regression target's time, the binary targets
#: 0.9-1.2x (the class count is not known before the frame is read).
TASK_COST = {"classification": 2, "regression": 1}


#: The search params no single pair depends on: which pairs exist, and how they are run.
NOT_PER_PAIR = {"targets", "groups", "custom_targets", "held_out_prime", "workers",
                "max_classes"}


def pair_key(pair: Pair, data: str, params: Params) -> str:
    """Digest of what shapes one pair's results: the input tables and the code (``data``: their
    digests, :func:`run_all`), the params it reads (the search settings, the null models, the
    primes of the a_p features, the executor of its exported model), its target's definition,
    its columns and known quantities. A run reuses every pair whose key is unchanged.

    The target enters by its definition (:attr:`models.targets.Target.definition`: every
    literal written out), never by the printed polars expression, which shows an ``IN`` list
    as ``sql_is_in([Series])`` and so would give two questions one key."""
    digest = hashlib.sha256(data.encode())
    search = params.search.model_dump(mode="json", exclude=NOT_PER_PAIR)
    features = params.features.model_dump(mode="json", include={"primes_max",
                                                                "mestre_nagao_bounds"})
    target = pair.target
    digest.update(json.dumps([search, params.nulls.model_dump(mode="json"), features,
                              params.executor.kind, target.name, target.task,
                              target.definition, target.excluded, target.sources,
                              target.null, pair.columns, pair.known]).encode())
    return digest.hexdigest()[:16]


def check_declared_targets(params: Params, targets: dict) -> None:
    """The targets of ``search.custom_targets`` on the model frame, before any pair runs: a
    missing column, a type error, all null or a constant stops the stage naming the field."""
    declared = [targets[name] for name in params.search.custom_targets if name in targets]
    if declared:
        frame = search_frame(params)
        for target in declared:
            check_target_values(target, frame, params.search.max_classes)


def run_all(params: Params) -> tuple[list[Pair], list[Path]]:
    """Run every pair not yet done; return the pairs and their result files in search
    order."""
    check_cores(params.search.workers, params.search.threads, "search")
    groups = json.loads(Path(params.paths.feature_groups).read_text())
    targets = search_targets(params.search, params.features, groups)
    check_declared_targets(params, targets)
    work = pairs(targets, params.search.groups, groups, frame_columns(params),
                 tuple(params.search.withhold))
    if not work:      # publishing nothing would replace the last run's models by none
        raise ParamsError(f"search.targets ({', '.join(params.search.targets)}) and "
                          f"search.groups ({', '.join(params.search.groups)}) make no pair: every "
                          "group's columns are missing or excluded by the targets; the outputs "
                          "are left as they were")
    directory = Path(params.paths.train_cache)
    directory.mkdir(parents=True, exist_ok=True)
    data = (source_digest(params.paths.features, params.paths.bsd, params.paths.feature_groups)
            + code_digest("pipeline.train"))
    stems = [directory / f"{p.target.name}__{p.group}-{pair_key(p, data, params)}" for p in work]
    borrow_from_workspace(stems, directory)
    jobs = [PairJob(p.target.name, p.group, p.columns, p.known, stem)
            for p, stem in zip(work, stems) if not stem.with_suffix(".json").exists()]
    on_dask = params.executor.kind == "dask"
    evaluations = [job for job in jobs if not (on_dask and evaluation_path(job.stem).exists())]
    by_target: dict[str, list[PairJob]] = {}
    for job in evaluations:
        by_target.setdefault(job.target, []).append(job)
    digest = lambda jobs: hashlib.sha256(  # noqa: E731
        "".join(job.stem.name for job in jobs).encode()).hexdigest()[:16]
    run_jobs([Job(name, digest(target_jobs), target_jobs, weight=len(target_jobs),
                  cost=len(target_jobs) * TASK_COST[targets[name].task])
              for name, target_jobs in by_target.items()],
             directory, run_target, workers=params.search.workers, initializer=start_worker,
             initargs=(params, params.search.threads, not on_dask), save=pairs_written,
             suffix=".target", desc="train", unit="pair", keep_others=True)
    if on_dask and jobs:
        fit_on_dask(params, jobs)
    return work, [stem.with_suffix(".json") for stem in stems]


def borrow_from_workspace(stems: list[Path], directory: Path) -> None:
    """Copy into ``directory`` the pairs of ``stems`` that the workspace an experiment came
    from has already computed.

    ``dvc exp run --queue`` and ``--temp`` run in a fresh checkout under ``.dvc/tmp/exps/``,
    which holds only what git and the DVC cache hold, so the train cache (git-ignored, not
    cached) is absent there; DVC sets ``DVC_ROOT`` to the original workspace. A pair's file
    name is its key (data, code and the params it reads), so an entry of that name there is
    this very computation, and ``<stem>.json`` is written last, so its presence means the
    entry is complete. Nothing is written back: the experiment's own new pairs leave with its
    directory."""
    root = os.environ.get("DVC_ROOT")
    source = Path(root) / directory if root and not directory.is_absolute() else None
    if source is None or not source.is_dir() or source.resolve() == directory.resolve():
        return
    for stem in stems:
        if stem.with_suffix(".json").exists() or not (source / f"{stem.name}.json").exists():
            continue
        try:
            with cache_writes():
                for suffix in (".eval.json", ".txt", ".json"):      # .json last, as fit_final
                    write_bytes((source / f"{stem.name}{suffix}").read_bytes(),
                                stem.parent / f"{stem.name}{suffix}")
        except OSError:
            continue                  # removed meanwhile: the pair is computed here instead


def fit_on_dask(params: Params, jobs: list[PairJob]) -> None:
    """The exported models of ``jobs`` with lightgbm.dask, one after another, each spread over
    the cluster's workers (``executor.address``, or a LocalCluster of ``search.workers``
    processes of ``search.threads`` threads on 127.0.0.1)."""
    frame = search_frame(params)
    targets = search_targets(params.search, params.features,
                             json.loads(Path(params.paths.feature_groups).read_text()))
    with dask_client(params.executor.address, params.search.workers,
                     params.search.threads) as client:
        for job in tqdm(jobs, unit="model", desc="train (lightgbm.dask)", file=sys.stderr):
            fit_final(job, frame, targets[job.target], params.search, params.search.threads,
                      client)


def collect(paths: list[Path]) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(evaluations: one row per pair, importances: one row per pair and feature)."""
    results, importances = [], []
    for path in paths:
        row = json.loads(path.read_text())
        for attribution in row.pop("attributions"):
            importances.append({"target": row["target"], "group": row["group"], **attribution})
        results.append(PairResult.from_row(row))
    return evaluations_table(results), pl.DataFrame(importances)


def main() -> None:
    params = load_params()
    require_inputs("train", params.paths, "features", "feature_groups", "bsd")
    work, paths = run_all(params)
    evaluations, importances = collect(paths)
    # the pairs, evaluations, importances and models are published together: a kill leaves
    # all old or all new
    with publish_together(params.paths.pairs, params.paths.evaluations,
                          params.paths.importances, params.paths.gbm_models
                          ) as (resolved, table, attributions, models):
        write_parquet(pairs_table(work, tuple(params.search.withhold)), resolved)
        models.mkdir()
        for path, target, group in zip(paths, evaluations["target"], evaluations["group"]):
            write_bytes(path.with_suffix(".txt").read_bytes(), model_file(models, target, group))
        write_parquet(importances, attributions)
        write_parquet(evaluations, table)
    print(f"train: {len(evaluations)} (target, group) pairs -> {params.paths.evaluations}",
          file=sys.stderr)


if __name__ == "__main__":
    run_stage("train", main, (ParamsError, TargetError, ValueError))
