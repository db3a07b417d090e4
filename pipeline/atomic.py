"""Atomic output files: written beside the target, flushed to disk, then renamed over it.

A reader (or a rerun after a kill) sees either the old complete file or the new complete file,
never a partial one (POSIX rename is atomic within a file system).
"""
from __future__ import annotations

import json
import os
import shutil
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import polars as pl

TMP_MARKER = ".tmp-"


@contextmanager
def atomic_path(path: Path | str) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success it replaces ``path``, else it is removed."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.name}{TMP_MARKER}{os.getpid()}")
    try:
        yield tmp
        with open(tmp, "rb+") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_parquet(frame: pl.DataFrame | pl.LazyFrame, path: Path | str) -> None:
    """Write a frame (or stream a lazy one) to parquet atomically."""
    with atomic_path(path) as tmp:
        if isinstance(frame, pl.LazyFrame):
            frame.sink_parquet(tmp)
        else:
            frame.write_parquet(tmp)


def write_json(data, path: Path | str) -> None:
    """Write JSON atomically (keys in the order given)."""
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(data, indent=2) + "\n")


def write_directory(files: dict[str, bytes], directory: Path | str) -> None:
    """Replace ``directory`` by one holding exactly ``files`` (name -> bytes): built beside it,
    then swapped in, so a reader sees the old set or the new one, never a mixture."""
    directory = Path(directory)
    staging = directory.with_name(directory.name + ".tmp")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    for name, content in files.items():
        (staging / name).write_bytes(content)
    shutil.rmtree(directory, ignore_errors=True)
    staging.rename(directory)
