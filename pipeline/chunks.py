"""Resumable, parallel work over a table in chunks of whole groups (e.g. isogeny classes).

Each chunk's result is written atomically to ``<directory>/<index>-<key>.parquet`` as soon as
it is done, by this process (with the ``dask`` executor the chunks run as dask.distributed
tasks, on a scheduler given by address or a ``LocalCluster``; rows and results cross the wire
as Arrow IPC bytes, so the workers need no access to this disk). The key hashes the chunk's input rows and a *salt* (the parameters and code that
shape the result), so a rerun after a kill redoes only the missing chunks, and never reuses a
chunk computed from other input, parameters or code. Nothing is duplicated: a chunk is either
a complete file or absent.
"""
from __future__ import annotations

import hashlib
import io
import multiprocessing
import sys
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import polars as pl
from tqdm import tqdm

from pipeline.atomic import TMP_MARKER, write_parquet
from pipeline.cluster import dask_client
from pipeline.params import Executor


@dataclass(frozen=True)
class Chunk:
    """Rows ``start:stop`` of the input table; ``key`` identifies its content and salt."""
    index: int
    start: int
    stop: int
    key: str

    @property
    def filename(self) -> str:
        return f"{self.index:06d}-{self.key}.parquet"

    @property
    def rows(self) -> int:
        return self.stop - self.start


def source_digest(*paths: Path | str) -> str:
    """sha256 of files' contents (the code that computes a result, or its input tables), for the
    keys of resumable results; each file is streamed, so a table of gigabytes is never held."""
    digest = hashlib.sha256()
    for path in paths:
        with open(path, "rb") as stream:
            digest.update(hashlib.file_digest(stream, "sha256").digest())
    return digest.hexdigest()


def plan_chunks(table: pl.DataFrame, group_column: str, size: int, salt: str) -> list[Chunk]:
    """Cut ``table`` (groups contiguous) into chunks of about ``size`` rows of whole groups."""
    runs = table.select(pl.col(group_column).rle().struct.field("len")).to_series().to_list()
    bounds, rows = [0], 0
    for run in runs:
        rows += run
        if rows - bounds[-1] >= size:
            bounds.append(rows)
    if bounds[-1] != rows:
        bounds.append(rows)
    chunks = []
    for index, (start, stop) in enumerate(zip(bounds, bounds[1:])):
        digest = hashlib.sha256(salt.encode())
        digest.update(_content(table.slice(start, stop - start)))
        chunks.append(Chunk(index, start, stop, digest.hexdigest()[:20]))
    return chunks


def _content(rows: pl.DataFrame) -> bytes:
    """The rows as bytes: their Arrow IPC serialization, uncompressed (exact and fast; the
    same rows give the same bytes under one polars version, and another version at worst
    recomputes chunks it cannot recognize)."""
    buffer = io.BytesIO()
    rows.write_ipc(buffer, compression="uncompressed")
    return buffer.getvalue()


def clear_stale(directory: Path, wanted: set[str]) -> None:
    """Remove partial writes and files of ``directory`` not named in ``wanted`` (results of
    another plan, other parameters or other code)."""
    for path in directory.iterdir():
        if TMP_MARKER in path.name or path.name not in wanted:
            path.unlink()


def _compute_chunk(task: Callable[[pl.DataFrame], pl.DataFrame], rows: pl.DataFrame,
                   path: Path) -> int:
    write_parquet(task(rows), path)
    return len(rows)


def run_chunks(table: pl.DataFrame, chunks: list[Chunk], directory: Path,
               task: Callable[[pl.DataFrame], pl.DataFrame], *, workers: int,
               initializer: Callable[..., None], initargs: tuple = (),
               cost: Callable[[Chunk], float] | None = None, desc: str = "chunks",
               executor: Executor | None = None) -> list[Path]:
    """Run ``task`` on every chunk not yet done; return all chunk files in table order.

    ``task`` and ``initializer`` must be module-level functions (they go to worker processes,
    started with *spawn*: no state is inherited from this process). ``initializer(*initargs)``
    runs once per worker, e.g. to start PARI. With ``workers == 1`` everything runs here.
    ``cost`` (optional) estimates a chunk's work: costly chunks are started first, so that the
    workers finish together (longest-processing-time-first scheduling). ``executor`` (params
    section ``executor``; None: local) may send the chunks to dask instead.
    """
    directory.mkdir(parents=True, exist_ok=True)
    clear_stale(directory, {c.filename for c in chunks})
    pending = [c for c in chunks if not (directory / c.filename).exists()]
    if cost is not None:
        pending.sort(key=cost, reverse=True)
    done_rows = sum(c.rows for c in chunks) - sum(c.rows for c in pending)
    jobs = [(task, table.slice(c.start, c.rows), directory / c.filename) for c in pending]
    with tqdm(total=len(table), initial=done_rows, unit="curve", desc=desc, file=sys.stderr,
              smoothing=0.05) as progress:
        if executor is not None and executor.kind == "dask" and jobs:
            _run_on_dask(jobs, executor.address, workers, initializer, initargs, progress)
        elif workers == 1 or len(jobs) <= 1:
            initializer(*initargs)
            for job in jobs:
                progress.update(_compute_chunk(*job))
        elif jobs:
            context = multiprocessing.get_context("spawn")
            with context.Pool(min(workers, len(jobs)), initializer, initargs) as pool:
                for rows in pool.imap_unordered(_star_compute, jobs, chunksize=1):
                    progress.update(rows)
    return [directory / c.filename for c in chunks]


def _star_compute(job: tuple) -> int:
    return _compute_chunk(*job)


#: Per dask worker process: a single-threaded PARI process for each (initializer, args).
_pari_processes: dict[tuple, ProcessPoolExecutor] = {}


def _dask_task(task: Callable[[pl.DataFrame], pl.DataFrame], initializer: Callable[..., None],
               initargs: tuple, rows: bytes) -> bytes:
    """On a dask worker: run ``task`` on the rows in the worker's own PARI process.

    Dask runs tasks in threads beside its event loop, and cypari2 is not thread-safe (one PARI
    stack per process: a PARI object freed in another thread moves it under a running
    computation; this segfaulted in tests). So each dask worker keeps a child process, started
    once per (initializer, args), where PARI runs single-threaded as with the local executor."""
    key = (initializer.__module__, initializer.__qualname__, initargs)
    if key not in _pari_processes:
        _pari_processes[key] = ProcessPoolExecutor(
            1, mp_context=multiprocessing.get_context("spawn"), initializer=initializer,
            initargs=initargs)
    return _pari_processes[key].submit(_compute_bytes, task, rows).result()


def _stop_pari_processes() -> None:
    """On each dask worker, after a stage's chunks: stop its PARI children."""
    while _pari_processes:
        _pari_processes.popitem()[1].shutdown(cancel_futures=True)


def _compute_bytes(task: Callable[[pl.DataFrame], pl.DataFrame], rows: bytes) -> bytes:
    return _ipc(task(pl.read_ipc(io.BytesIO(rows))))


def _ipc(frame: pl.DataFrame) -> bytes:
    buffer = io.BytesIO()
    frame.write_ipc(buffer)
    return buffer.getvalue()


def _run_on_dask(jobs: list[tuple], address: str | None, workers: int,
                 initializer: Callable[..., None], initargs: tuple, progress) -> None:
    """The jobs as dask.distributed tasks (most costly first, as listed); each result is
    written here, atomically, as it arrives. No address: a LocalCluster of ``workers``
    single-threaded, non-daemonic processes on 127.0.0.1 (each starts its PARI child), closed
    afterwards. A cluster given by address needs workers started non-daemonic
    (``DASK_DISTRIBUTED__WORKER__DAEMON=False``)."""
    import dask
    from dask.distributed import as_completed

    with dask.config.set({"distributed.worker.daemon": False}), \
            dask_client(address, workers, threads=1) as client:   # workers start PARI children
        futures = {client.submit(_dask_task, task, initializer, initargs, _ipc(rows),
                                 pure=False, priority=-index): (path, len(rows))
                   for index, (task, rows, path) in enumerate(jobs)}
        try:
            for future in as_completed(futures):
                path, rows = futures[future]
                write_parquet(pl.read_ipc(io.BytesIO(future.result())), path)
                progress.update(rows)
        finally:
            client.cancel(list(futures))
            client.run(_stop_pari_processes)
