"""Resumable, parallel work over a table in chunks of whole groups (e.g. isogeny classes).

Each chunk's result is written atomically to ``<directory>/<index>-<key>.parquet`` as soon as
it is done. The key hashes the chunk's input rows and a *salt* (the parameters and code that
shape the result), so a rerun after a kill redoes only the missing chunks, and never reuses a
chunk computed from other input, parameters or code. Nothing is duplicated: a chunk is either
a complete file or absent.
"""
from __future__ import annotations

import hashlib
import io
import multiprocessing
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import polars as pl
from tqdm import tqdm

from pipeline.atomic import TMP_MARKER, write_parquet


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
    """sha256 of source files, to put the code that computes a result into its chunks' keys."""
    digest = hashlib.sha256()
    for path in paths:
        digest.update(Path(path).read_bytes())
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
               cost: Callable[[Chunk], float] | None = None, desc: str = "chunks") -> list[Path]:
    """Run ``task`` on every chunk not yet done; return all chunk files in table order.

    ``task`` and ``initializer`` must be module-level functions (they go to worker processes,
    started with *spawn*: no state is inherited from this process). ``initializer(*initargs)``
    runs once per worker, e.g. to start PARI. With ``workers == 1`` everything runs here.
    ``cost`` (optional) estimates a chunk's work: costly chunks are started first, so that the
    workers finish together (longest-processing-time-first scheduling).
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
        if workers == 1 or len(jobs) <= 1:
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
