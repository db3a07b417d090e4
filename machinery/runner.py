"""The stages' one runner of resumable, parallel jobs.

A *job* (:class:`Job`) is a picklable ``item`` with a stable ``name`` and a ``key`` (a digest of
what shapes its result: its input data, the params and the code, e.g. with
:func:`machinery.code_digest.code_digest`). :func:`run_jobs` computes ``task(item)`` for every
job whose result file ``<directory>/<name>-<key><suffix>`` does not exist yet, and writes each
result atomically (``save(result, path)``, :mod:`machinery.atomic`), in this process, as soon as
it arrives. So a rerun after a kill redoes only the missing jobs, never reuses a result computed
from other data, params or code (files of other keys, and partial writes, are removed first),
and a result is either a complete file or absent. Jobs run

- here, with ``workers == 1`` (or a single pending job);
- in ``workers`` local processes (:class:`concurrent.futures.ProcessPoolExecutor`, *spawn*:
  nothing is inherited from this process), ``initializer(*initargs)`` once per process;
- with ``executor.kind == "dask"``, as dask.distributed tasks, on the scheduler at
  ``executor.address`` or a LocalCluster of ``workers`` processes on 127.0.0.1: each dask worker
  runs the jobs in one child process of its own, started with ``initializer(*initargs)``
  (cypari2 is not thread-safe, and dask runs tasks in threads). Items and results cross the
  wire pickled by dask, so the workers need no access to this disk.

Costly jobs (``Job.cost``) start first, so that the workers finish together
(longest-processing-time-first); a tqdm bar on stderr counts ``Job.weight`` (e.g. curves).

Failure is fast and says why. The first job that raises stops the stage: the results already
computed are written, the other workers are stopped, and its exception is re-raised (same type,
so a stage's own error handling still applies) with a note naming the stage and the job; a
line on stderr says the same. An initializer that raises makes its worker's first job raise
that exception (noted as the initializer's). A worker process that dies (a signal, the
out-of-memory killer, ``os._exit``) raises :class:`WorkerDied` naming the jobs it may have been
running. Nothing is ever retried or respawned.

A worker process never outlives its parent by more than a moment: the kernel sends it SIGKILL
when the parent ends (Linux's parent-death signal), and a watchdog thread in it ends it once
its parent is gone. So a stage killed with SIGKILL leaves no worker computing or writing.
Partial writes are removed only once their writer is gone
(:func:`machinery.atomic.staging_owner_alive`), never while another live process fills one.

Example (the job's task and initializer must be module-level functions)::

    from machinery.code_digest import code_digest, source_digest
    from machinery.runner import Job, run_jobs

    key = hashlib.sha256((source_digest(data) + section.model_dump_json()
                          + code_digest("pipeline.mystage")).encode()).hexdigest()[:16]
    jobs = [Job(name, key, item=(name, columns)) for name, columns in work]
    paths = run_jobs(jobs, Path("data/mystage.chunks"), fit_one, workers=2,
                     initializer=load_frame, initargs=(params,), save=write_json,
                     suffix=".json", desc="mystage", unit="pair")
    # paths[i] is the result file of jobs[i]; fit_one(item) returned its result.

A job's ``save`` may write further files named ``<name>-<key>.<anything>`` before its result
file (they are kept with it, and removed with it when stale); the result file is written last,
as the job's mark of completion.
"""
from __future__ import annotations

import ctypes
import functools
import importlib
import multiprocessing
import os
import signal
import sys
import threading
import time
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable

from tqdm import tqdm

from machinery.atomic import TMP_MARKER, cache_writes, staging_owner_alive, write_parquet
from machinery.cluster import dask_client
from machinery.params import Executor


class WorkerDied(RuntimeError):
    """A worker process ended while running a job (killed, out of memory, or exited)."""


@dataclass(frozen=True, eq=False)
class Job:
    """One unit of work: ``task(item)``; its result file is ``<name>-<key><suffix>``.

    ``name`` is stable and unique within a run; ``key`` digests what shapes the result;
    ``weight`` counts on the progress bar; ``cost`` estimates the work (larger starts first).
    """
    name: str
    key: str
    item: Any = None
    weight: float = 1
    cost: float = 0

    @property
    def stem(self) -> str:
        return f"{self.name}-{self.key}"


def clear_stale(directory: Path, wanted: set[str], stems: Iterable[str] = ()) -> None:
    """Remove from ``directory`` partial writes whose writer is gone, and every other file
    neither named in ``wanted`` nor named ``<stem>.<anything>`` for one of ``stems`` (results
    of other plans, params or code). A partial write of another live process stays."""
    prefixes = tuple(f"{stem}." for stem in stems)
    for path in directory.iterdir():
        if TMP_MARKER in path.name:
            if not staging_owner_alive(path):
                path.unlink()
        elif not (path.name in wanted or path.name.startswith(prefixes)):
            path.unlink()


def run_jobs(jobs: list[Job], directory: Path, task: Callable[[Any], Any], *, workers: int,
             initializer: Callable[..., None] | None = None, initargs: tuple = (),
             save: Callable[[Any, Path], None] = write_parquet, suffix: str = ".parquet",
             desc: str = "jobs", unit: str = "job", executor: Executor | None = None,
             smoothing: float = 0.3, keep_others: bool = False) -> list[Path]:
    """Run ``task`` on the item of every job whose result file is missing; return every job's
    result file, in the order of ``jobs`` (see the module docstring). ``keep_others``: keep
    the files of other jobs and keys in ``directory`` (a cache shared by runs of different
    job lists, e.g. kept across experiments); partial writes are removed either way."""
    if not suffix.startswith("."):
        raise ValueError(f"run_jobs: suffix {suffix!r} must start with '.'")
    if len({job.name for job in jobs}) != len(jobs):
        raise ValueError(f"{desc}: job names are not unique")
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    paths = {job.name: directory / f"{job.stem}{suffix}" for job in jobs}
    if keep_others:
        clear_stale(directory, {p.name for p in directory.iterdir() if TMP_MARKER not in p.name})
    else:
        clear_stale(directory, set(), [job.stem for job in jobs])
    pending = sorted((job for job in jobs if not paths[job.name].exists()),
                     key=lambda job: job.cost, reverse=True)
    total = sum(job.weight for job in jobs)
    done = total - sum(job.weight for job in pending)
    # the job results are a cache, not the stage's outputs (machinery.atomic.replaced)
    with cache_writes(), tqdm(total=total, initial=done, unit=unit, desc=desc, file=sys.stderr,
                              smoothing=smoothing) as progress:
        def finished(job: Job, result: Any) -> None:
            save(result, paths[job.name])
            progress.set_postfix_str(job.name, refresh=False)
            progress.update(job.weight)

        if not pending:
            pass
        elif executor is not None and executor.kind == "dask":
            _run_on_dask(pending, task, initializer, initargs, workers, executor.address,
                         finished, desc)
        elif workers == 1 or len(pending) == 1:
            _run_here(pending, task, initializer, initargs, finished, desc)
        else:
            _run_on_processes(pending, task, initializer, initargs, min(workers, len(pending)),
                              finished, desc)
    return [paths[job.name] for job in jobs]


def _failed(error: BaseException, job: Job, desc: str) -> BaseException:
    """``error`` with a note naming the stage and the job, also said on stderr."""
    error.add_note(f"{desc}: in job {job.name}")
    tqdm.write(f"{desc}: job {job.name} failed: {type(error).__name__}: {error}",
               file=sys.stderr)
    return error


def _run_here(pending: list[Job], task, initializer, initargs, finished, desc: str) -> None:
    if initializer is not None:
        try:
            initializer(*initargs)
        except Exception as error:
            error.add_note(f"raised by the initializer {_name(initializer)}")
            raise _failed(error, pending[0], desc)
    for job in pending:
        try:
            result = task(job.item)
        except Exception as error:
            raise _failed(error, job, desc)
        finished(job, result)


def _name(function: Callable) -> str:
    function = getattr(function, "func", function)      # functools.partial
    return f"{function.__module__}.{function.__qualname__}"


#: In a worker process: the exception its initializer raised, if it did.
_initializer_error: list[BaseException] = []
#: prctl(2)'s PR_SET_PDEATHSIG (linux/prctl.h).
_PR_SET_PDEATHSIG = 1
#: Seconds between two looks at its parent's pid by a worker's watchdog thread.
WATCHDOG_PERIOD = 0.2


def _initialize(initializer: Callable[..., None] | None, initargs: tuple,
                parent: int | None = None) -> None:
    """A worker's initializer. It first ties the worker's life to its ``parent`` process
    (:func:`_die_with_parent`). It never raises: an exception of ``initializer`` is kept, and
    raised by every job of the worker instead, so it reaches the stage with its type, message
    and traceback (a ProcessPoolExecutor whose initializer raises only logs it and breaks; a
    multiprocessing.Pool respawns the worker forever)."""
    if parent is not None:
        _die_with_parent(parent)
    if initializer is None:
        return
    try:
        initializer(*initargs)
    except Exception as error:
        error.add_note(f"raised by the initializer {_name(initializer)} of worker process "
                       f"{multiprocessing.current_process().pid}")
        _initializer_error.append(error)


def _die_with_parent(parent: int) -> None:
    """End this process when ``parent`` (its parent's pid) ends: the kernel's parent-death
    signal (SIGKILL), and a daemon thread that exits once this process's parent pid is no
    longer ``parent`` (it was reparented). Exits at once if that already happened."""
    _set_parent_death_signal(signal.SIGKILL)
    if os.getppid() != parent:
        os._exit(1)
    # Both, for what each misses: the signal is immediate even while a job holds the GIL in C
    # code (PARI, LightGBM) for minutes, when the thread cannot run; the thread works where
    # prctl does not exist. The signal follows the parent *thread* that spawned this process:
    # the pools here are spawned by the thread that waits for their jobs (run_jobs), or by a
    # dask worker's executor thread, which lives as long as the dask worker.
    threading.Thread(target=_watch_parent, args=(parent,), name="parent-watchdog",
                     daemon=True).start()


def _set_parent_death_signal(number: int) -> None:
    """Ask Linux to send this process signal ``number`` when its parent ends (no-op
    elsewhere)."""
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return
    prctl(_PR_SET_PDEATHSIG, ctypes.c_ulong(number), ctypes.c_ulong(0), ctypes.c_ulong(0),
          ctypes.c_ulong(0))


def _watch_parent(parent: int) -> None:
    """Exit this process (no cleanup) once its parent is no longer ``parent``."""
    while True:
        time.sleep(WATCHDOG_PERIOD)
        if os.getppid() != parent:
            os._exit(1)


def _call(task: Callable[[Any], Any], item: Any) -> Any:
    """A job in a worker process."""
    if _initializer_error:
        raise _initializer_error[0]
    return task(item)


def _run_on_processes(pending: list[Job], task, initializer, initargs, workers: int,
                      finished, desc: str) -> None:
    """The jobs in ``workers`` spawned processes, at most one queued job per worker (so a
    worker that dies was running one of the jobs in flight); stopped at the first failure."""
    order = {job.name: index for index, job in enumerate(pending)}
    queue = list(reversed(pending))
    running: dict[Future, Job] = {}
    pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"),
                               initializer=_initialize,
                               initargs=(initializer, initargs, os.getpid()))

    def submit() -> None:
        while queue and len(running) < workers:
            job = queue.pop()
            running[pool.submit(_call, task, job.item)] = job

    try:
        submit()
        while running:
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            done = sorted(done, key=lambda future: order[running[future].name])
            arrived = [(running.pop(future), future) for future in done]
            failure = next(((job, f.exception()) for job, f in arrived if f.exception()), None)
            if failure is None:
                submit()               # the idle workers get their next jobs before any writing
            for job, future in arrived:    # every result that arrived, even beside a failure
                if future.exception() is None:
                    finished(job, future.result())
            if failure is not None:
                job, error = failure
                if isinstance(error, BrokenProcessPool):
                    names = sorted([job.name] + [j.name for j in running.values()])
                    raise _failed(WorkerDied(
                        f"{desc}: a worker process died while running "
                        f"{'job' if len(names) == 1 else 'one of the jobs'} "
                        f"{', '.join(names)} (killed by a signal or the out-of-memory killer, "
                        f"or it exited); nothing is retried"), job, desc) from error
                raise _failed(error, job, desc)
    finally:
        _stop(pool)


def _stop(pool: ProcessPoolExecutor) -> None:
    """Stop the pool now: queued jobs are cancelled, running ones are not waited for (a failed
    stage must not wait for the other workers' jobs to finish)."""
    processes = list((getattr(pool, "_processes", None) or {}).values())
    pool.shutdown(wait=False, cancel_futures=True)
    for process in processes:
        if process.is_alive():
            process.terminate()
    for process in processes:
        process.join()


#: Per dask worker: the child process running the jobs, for each (initializer, initargs).
_children: dict[tuple, ProcessPoolExecutor] = {}


def _dask_task(task: Callable[[Any], Any], initializer: Callable[..., None] | None,
               initargs: tuple, name: str, item: Any) -> Any:
    """On a dask worker: the job in the worker's child process (started once per
    initializer and args); a child that died is dropped and raises :class:`WorkerDied`."""
    key = (None if initializer is None else _name(initializer), repr(initargs))
    if key not in _children:
        _children[key] = ProcessPoolExecutor(
            1, mp_context=multiprocessing.get_context("spawn"), initializer=_initialize,
            initargs=(initializer, initargs, os.getpid()))
    try:
        return _children[key].submit(_call, task, item).result()
    except BrokenProcessPool as error:
        _children.pop(key).shutdown(wait=False, cancel_futures=True)
        raise WorkerDied(f"the process of a dask worker died while running job {name} "
                         "(killed by a signal or the out-of-memory killer, or it exited); "
                         "nothing is retried") from error


def _stop_children() -> None:
    """On each dask worker, after a stage's jobs: stop its child processes."""
    while _children:
        _stop(_children.popitem()[1])


def importable(function):
    """``function`` as its module's own attribute when it was defined in ``__main__``: a stage
    runs as ``python -m pipeline.<stage>``, and a dask worker's child process, started by spawn,
    finds a function by module and name, which in its own ``__main__`` it would not. A
    ``functools.partial`` keeps its arguments around the function it resolves."""
    if isinstance(function, functools.partial):
        return functools.partial(importable(function.func), *function.args,
                                 **function.keywords)
    main = sys.modules.get("__main__")
    spec = getattr(main, "__spec__", None)
    if getattr(function, "__module__", None) != "__main__" or spec is None:
        return function
    return getattr(importlib.import_module(spec.name), function.__qualname__)


def _run_on_dask(pending: list[Job], task, initializer, initargs, workers: int,
                 address: str | None, finished, desc: str) -> None:
    """The jobs as dask.distributed tasks (most costly first, as listed); each result is
    written here as it arrives. No address: a LocalCluster of ``workers`` single-threaded,
    non-daemonic processes on 127.0.0.1 (each starts its child process), closed afterwards; a
    task whose dask worker dies is not retried there. A cluster given by address needs workers
    started non-daemonic (``DASK_DISTRIBUTED__WORKER__DAEMON=False``)."""
    import dask
    from dask.distributed import as_completed

    settings = {"distributed.worker.daemon": False, "distributed.scheduler.allowed-failures": 0}
    task, initializer = importable(task), initializer and importable(initializer)
    with dask.config.set(settings), dask_client(address, workers, threads=1) as client:
        futures = {client.submit(_dask_task, task, initializer, initargs, job.name, job.item,
                                 pure=False, priority=-index): job
                   for index, job in enumerate(pending)}
        try:
            for future in as_completed(futures):
                job = futures[future]
                try:
                    result = future.result()
                except Exception as error:
                    raise _failed(error, job, desc)
                finished(job, result)
        finally:
            client.cancel(list(futures))
            client.run(_stop_children)
