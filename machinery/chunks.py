"""Resumable, parallel work over a table in chunks of whole groups (e.g. isogeny classes).

Each chunk is a job of :func:`machinery.runner.run_jobs` (local processes or dask, resumable,
fail-fast): its result is written atomically to ``<directory>/<index>-<key>.parquet`` as soon
as it is done. The key hashes the chunk's input rows and a *salt* (the parameters and code that
shape the result, e.g. :func:`machinery.code_digest.code_digest` of the stage), so a rerun after
a kill redoes only the missing chunks, and never reuses a chunk computed from other input,
parameters or code. Nothing is duplicated: a chunk is either a complete file or absent.
"""
from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import polars as pl

from machinery.code_digest import source_digest
from machinery.params import Executor
from machinery.runner import Job, clear_stale, run_jobs

__all__ = ["Chunk", "chunk_table", "clear_stale", "plan_chunks", "run_chunks", "source_digest"]


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


def run_chunks(table: pl.DataFrame, chunks: list[Chunk], directory: Path,
               task: Callable[[pl.DataFrame], pl.DataFrame], *, workers: int,
               initializer: Callable[..., None] | None, initargs: tuple = (),
               cost: Callable[[Chunk], float] | None = None, desc: str = "chunks",
               executor: Executor | None = None) -> list[Path]:
    """Run ``task`` on every chunk not yet done; return all chunk files in table order.

    ``task`` and ``initializer`` must be module-level functions (they go to worker processes,
    started with *spawn*: no state is inherited from this process). ``initializer(*initargs)``
    runs once per worker, e.g. :func:`arithmetic.pari.start_process_pari`. With
    ``workers == 1`` everything runs here. ``cost`` (optional) estimates a chunk's work: costly
    chunks are started first, so that the workers finish together. ``executor`` (params
    section ``executor``; None: local) may send the chunks to dask instead.
    """
    jobs = [Job(f"{c.index:06d}", c.key, table.slice(c.start, c.rows), weight=c.rows,
                cost=0 if cost is None else cost(c)) for c in chunks]
    return run_jobs(jobs, directory, task, workers=workers, initializer=initializer,
                    initargs=initargs, desc=desc, unit="curve", executor=executor,
                    smoothing=0.05)


def chunk_table(paths: list[Path], curves: pl.DataFrame, directory: Path,
                error: type[Exception] = ValueError) -> pl.LazyFrame:
    """The chunk files of :func:`run_chunks` as one table, checked to hold the rows of
    ``curves`` by ``label`` in order (a chunk left from another input would break it): else
    ``error`` names the directory to delete."""
    table = pl.scan_parquet(paths)
    labels = table.select("label").collect().to_series()
    if not labels.equals(curves["label"]):
        raise error(f"chunks in {directory} do not hold the {len(curves)} input curves in order "
                    f"({len(labels)} rows); delete the directory and rerun")
    return table
