"""Atomic outputs: every file and directory a stage writes goes through this module.

- A file is written beside its target, flushed to disk, then renamed over it
  (:func:`atomic_path`, :func:`write_parquet`, :func:`write_json`, :func:`write_text`,
  :func:`write_bytes`, :func:`write_csv`).
- A directory is built complete beside its target, then the two names are swapped and the
  old set deleted (:func:`atomic_directory`, :func:`write_directory`): the swap is one
  ``renameat2(RENAME_EXCHANGE)`` where the kernel offers it, else two renames recorded so
  that the next publication finishes or undoes an interrupted one (:func:`recover`). A reader
  after a kill finds the old set or the new set, never a mixture.
- Several outputs published together (:func:`publish_together`): all are staged first; the
  swaps happen only once every one of them is complete, and a marker file names the pending
  swaps, so a kill between two swaps is completed by the next publication of any of them.

POSIX rename is atomic within a file system; staging beside the target keeps it there.
"""
from __future__ import annotations

import ctypes
import errno
import json
import os
import shutil
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import polars as pl

TMP_MARKER = ".tmp-"
#: Suffix of the old copy of a directory while it is being replaced.
OLD_MARKER = ".old-"
#: Suffix of the marker naming the swaps of a publication in progress.
PENDING = ".publishing.json"

_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


def _fsync_directory(directory: Path) -> None:
    try:
        handle = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(handle)
    except OSError:
        pass
    finally:
        os.close(handle)


@contextmanager
def atomic_path(path: Path | str) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success it replaces ``path``, else it is
    removed."""
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
    write_text(json.dumps(data, indent=2) + "\n", path)


def write_text(text: str, path: Path | str) -> None:
    """Write UTF-8 text atomically."""
    write_bytes(text.encode(), path)


def write_bytes(data: bytes, path: Path | str) -> None:
    """Write bytes atomically."""
    with atomic_path(path) as tmp, open(tmp, "wb") as handle:
        handle.write(data)


def write_csv(frame: pl.DataFrame, path: Path | str) -> None:
    """Write a frame as CSV atomically."""
    with atomic_path(path) as tmp:
        frame.write_csv(tmp)


def _exchange(first: Path, second: Path) -> bool:
    """Swap two existing names in one step (Linux ``renameat2``); False where unsupported."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p,
                          ctypes.c_uint]
    if renameat2(_AT_FDCWD, os.fsencode(first), _AT_FDCWD, os.fsencode(second),
                 _RENAME_EXCHANGE) == 0:
        return True
    if ctypes.get_errno() in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP):
        return False
    raise OSError(ctypes.get_errno(), os.strerror(ctypes.get_errno()), str(first))


def _staging(target: Path) -> Path:
    return target.with_name(f"{target.name}{TMP_MARKER}{os.getpid()}")


def _old(target: Path) -> Path:
    return target.with_name(f"{target.name}{OLD_MARKER}{os.getpid()}")


def _swap_in(staging: Path, target: Path) -> None:
    """Put the complete ``staging`` at ``target``; the old ``target`` is deleted afterwards."""
    if target.exists() and target.is_dir() and not target.is_symlink():
        if _exchange(staging, target):            # staging now holds the old set
            _fsync_directory(target.parent)
            shutil.rmtree(staging)
            return
        old = _old(target)
        os.rename(target, old)                    # a kill here: recover() puts it back
        os.rename(staging, target)
        _fsync_directory(target.parent)
        shutil.rmtree(old)
        return
    if staging.is_dir() and (target.exists() or target.is_symlink()):
        target.unlink()                           # a file where a directory goes
    os.replace(staging, target)                   # a file: one atomic rename over the old
    _fsync_directory(target.parent)


def recover(target: Path | str) -> None:
    """Finish what a killed publication of ``target`` left: a pending group's swaps are
    completed (every member was complete before the first swap); an old copy set aside without
    its replacement is put back; stale staging copies are removed."""
    target = Path(target)
    if not target.parent.exists():
        return
    for marker in sorted(target.parent.glob(f"*{PENDING}")):
        try:
            pending = json.loads(marker.read_text())
        except (OSError, ValueError):
            marker.unlink(missing_ok=True)
            continue
        if str(target) in pending.get("targets", []):
            _complete(pending, marker)
    for old in target.parent.glob(f"{target.name}{OLD_MARKER}*"):
        if not target.exists():
            os.rename(old, target)
        elif old.is_dir():
            shutil.rmtree(old)
        else:
            old.unlink()
    for stale in target.parent.glob(f"{target.name}{TMP_MARKER}*"):
        if stale.is_dir() and not stale.is_symlink():
            shutil.rmtree(stale)
        else:
            stale.unlink()


def _complete(pending: dict, marker: Path) -> None:
    for staging, target in zip(pending["stagings"], pending["targets"]):
        staging, target = Path(staging), Path(target)
        if staging.exists():
            _swap_in(staging, target)
    marker.unlink(missing_ok=True)


@contextmanager
def atomic_directory(directory: Path | str) -> Iterator[Path]:
    """Yield an empty directory beside ``directory`` to fill; on success it replaces
    ``directory`` whole (old set or new set, never a mixture), else it is removed.

    ``with atomic_directory(paths.gbm_models) as tmp: (tmp / "a.txt").write_text(...)``
    """
    directory = Path(directory)
    directory.parent.mkdir(parents=True, exist_ok=True)
    recover(directory)
    staging = _staging(directory)
    staging.mkdir()
    try:
        yield staging
        _fsync_directory(staging)
        _swap_in(staging, directory)
    finally:
        if staging.exists():
            shutil.rmtree(staging)


def write_directory(files: dict[str, bytes], directory: Path | str) -> None:
    """Replace ``directory`` by one holding exactly ``files`` (name -> bytes), atomically."""
    with atomic_directory(directory) as staging:
        for name, content in files.items():
            with open(staging / name, "wb") as handle:
                handle.write(content)


@contextmanager
def publish_together(*targets: Path | str) -> Iterator[list[Path]]:
    """Stage several outputs (files or directories) and publish them as one: yields a staging
    path per target, beside it and not yet existing; write the file there, or make the
    directory and fill it (a staging path left absent publishes nothing at its target).
    Nothing is swapped until the block ends without error; a marker lists the swaps, so a kill
    between two of them is completed by :func:`recover` (called by the next publication).

    ``with publish_together(paths.evaluations, paths.gbm_models) as (table, models): ...``
    """
    targets = [Path(t) for t in targets]
    for target in targets:
        target.parent.mkdir(parents=True, exist_ok=True)
        recover(target)
    stagings = [_staging(t) for t in targets]
    marker = targets[0].with_name(f"{targets[0].name}{PENDING}")
    try:
        yield stagings
        present = [(s, t) for s, t in zip(stagings, targets) if s.exists()]
        for staging, _ in present:
            if staging.is_dir():
                _fsync_directory(staging)
            else:
                with open(staging, "rb+") as handle:
                    os.fsync(handle.fileno())
        write_json({"stagings": [str(s) for s, _ in present],
                    "targets": [str(t) for _, t in present]}, marker)
        _complete({"stagings": [str(s) for s, _ in present],
                   "targets": [str(t) for _, t in present]}, marker)
    finally:
        if not marker.exists():
            for staging in stagings:
                if staging.is_dir() and not staging.is_symlink():
                    shutil.rmtree(staging)
                elif staging.exists():
                    staging.unlink()


__all__ = ["TMP_MARKER", "atomic_directory", "atomic_path", "publish_together", "recover",
           "write_bytes", "write_csv", "write_directory", "write_json", "write_parquet",
           "write_text"]
