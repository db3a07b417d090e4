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

Staging and old copies carry their writer's process id (``<name>.tmp-<pid>``,
``<name>.old-<pid>``): recovery removes or restores only those whose process is gone
(:func:`staging_owner_alive`), never the copy another live process is filling.

A write the file system refuses (full disk, read-only, permission, quota: :data:`REFUSED`)
raises :class:`WriteError` naming the output, after its staging copy is removed: every output
is whole, the old or the new. :func:`replaced` lists the outputs this process has replaced,
so a stage that fails can say which of its outputs are new (job caches are not counted:
:func:`cache_writes`).
"""
from __future__ import annotations

import ctypes
import errno
import json
import os
import re
import shutil
import threading
from contextlib import contextmanager, suppress
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

#: The errno values of a write the file system refused: disk full, read-only file system,
#: permission denied, disk quota exceeded.
REFUSED = frozenset({errno.ENOSPC, errno.EROFS, errno.EACCES, errno.EDQUOT})
#: The errno values that only a write can raise (EACCES may also come from a read).
_WRITE_ONLY = frozenset({errno.ENOSPC, errno.EROFS, errno.EDQUOT})
#: Where an error that is not an OSError (polars, from Rust) gives the errno.
_OS_ERROR = re.compile(r"\(os error (\d+)\)")
#: The writer's process id at the end of a staging or old copy's name.
_COPY_SUFFIX = re.compile(rf"(?:{re.escape(TMP_MARKER)}|{re.escape(OLD_MARKER)})(\d+)$")
#: The same, anywhere in a path (a file inside a staging directory).
_COPY_IN_PATH = re.compile(rf"(?:{re.escape(TMP_MARKER)}|{re.escape(OLD_MARKER)})\d+(?=/|$)")

#: The outputs this process has replaced, in order (see :func:`replaced`).
_replaced: list[Path] = []
#: Per thread: how many :func:`cache_writes` blocks are open.
_caching = threading.local()


class WriteError(OSError):
    """The file system refused to write an output (``errno`` in :data:`REFUSED`); ``filename``
    is the output (or the file inside an output directory), not its staging copy."""


def output_name(path: Path | str) -> str:
    """``path`` with the staging and old-copy suffixes removed: the output it stands for."""
    return _COPY_IN_PATH.sub("", str(path))


def replaced() -> list[Path]:
    """The outputs this process has replaced so far, in order (files and directories as
    published; writes inside :func:`cache_writes` blocks are not counted)."""
    return list(_replaced)


@contextmanager
def cache_writes() -> Iterator[None]:
    """Writes in this block (in this thread) keep a cache, not a stage's outputs: they are
    left out of :func:`replaced`."""
    _caching.depth = getattr(_caching, "depth", 0) + 1
    try:
        yield
    finally:
        _caching.depth -= 1


def _record(target: Path) -> None:
    """Count ``target`` as replaced, unless it is a staging copy (or inside one), a group's
    marker, or in a cache."""
    bookkeeping = _COPY_IN_PATH.search(str(target)) or target.name.endswith(PENDING)
    if not bookkeeping and not getattr(_caching, "depth", 0):
        _replaced.append(target)


def _refusal(error: BaseException, targets: tuple[str, ...]) -> WriteError | None:
    """``error`` as a :class:`WriteError` naming the output, if it is the file system refusing
    a write of one of ``targets``: an OSError of an errno in :data:`REFUSED` naming no file, a
    target or a staging copy; or an error without an errno (polars, from Rust) quoting
    ``(os error N)`` for an N only a write raises. Else None."""
    number, named = (error.errno, error.filename) if isinstance(error, OSError) else (None, None)
    if number is None:
        match = _OS_ERROR.search(str(error))
        if match is None or int(match.group(1)) not in _WRITE_ONLY:
            return None
        number = int(match.group(1))
    if number not in REFUSED or (named is not None and str(named) not in targets
                                 and not _COPY_IN_PATH.search(str(named))):
        return None                  # e.g. an input that cannot be read
    name = " or ".join(targets) if named is None else output_name(named)
    return WriteError(number, os.strerror(number), name)


@contextmanager
def _refusals(*targets: str) -> Iterator[None]:
    """Raise a refused write in the block as a :class:`WriteError` naming the output."""
    try:
        yield
    except WriteError:
        raise
    except Exception as error:
        refusal = _refusal(error, targets)
        if refusal is None:
            raise
        raise refusal from error


def _remove(path: Path) -> None:
    """Delete a file or directory tree; a failure leaves it to the next recovery."""
    with suppress(OSError):
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)


def staging_owner_alive(path: Path | str) -> bool:
    """Whether the process named at the end of a staging or old copy's name
    (``<name>.tmp-<pid>``, ``<name>.old-<pid>``) is another process, still running. False for a
    name of this process, a name without a pid, and a pid that is gone, a zombie, a kernel
    thread or a thread of another process (a copy is named by its writer's process id)."""
    match = _COPY_SUFFIX.search(Path(path).name)
    return match is not None and int(match.group(1)) != os.getpid() and _running(
        int(match.group(1)))


def _running(pid: int) -> bool:
    """Whether ``pid`` is a running user process (read from /proc where there is one)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return False
    except OSError:                                   # no /proc: whether the pid exists
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:                       # another user's process
            pass
        return True
    fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
    # a kernel thread and a zombie have no address space (no VmSize), and a thread's id
    # differs from its process's (Tgid)
    return (fields.get("Tgid", "").strip() == str(pid) and "VmSize" in fields
            and fields.get("State", "").strip()[:1] not in ("Z", "X"))


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
    removed (a write the file system refused raises :class:`WriteError` naming ``path``)."""
    path = Path(path)
    tmp = path.with_name(f"{path.name}{TMP_MARKER}{os.getpid()}")
    try:
        with _refusals(str(path)):
            path.parent.mkdir(parents=True, exist_ok=True)
            yield tmp
            with open(tmp, "rb+") as handle:
                os.fsync(handle.fileno())
            os.replace(tmp, path)
        _record(path)
    finally:
        _remove(tmp)


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
    """Put the complete ``staging`` at ``target``; the old ``target`` is deleted afterwards
    (the swap is the commit: failing to delete the old set leaves it to the next recovery).
    A swap that fails leaves ``target`` as it was."""
    if target.exists() and target.is_dir() and not target.is_symlink():
        if _exchange(staging, target):            # staging now holds the old set
            _fsync_directory(target.parent)
            _record(target)
            _remove(staging)
            return
        old = _old(target)
        os.rename(target, old)                    # a kill here: recover() puts it back
        try:
            os.rename(staging, target)
        except OSError:
            os.rename(old, target)
            raise
        _fsync_directory(target.parent)
        _record(target)
        _remove(old)
        return
    if staging.is_dir() and (target.exists() or target.is_symlink()):
        target.unlink()                           # a file where a directory goes
    os.replace(staging, target)                   # a file: one atomic rename over the old
    _fsync_directory(target.parent)
    _record(target)


def recover(target: Path | str) -> None:
    """Finish what a killed publication of ``target`` left: a pending group's swaps are
    completed (every member was complete before the first swap); an old copy set aside without
    its replacement is put back; stale staging copies are removed. Copies (and groups) whose
    writer is another live process are left alone (:func:`staging_owner_alive`)."""
    target = Path(target)
    if not target.parent.exists():
        return
    for marker in sorted(target.parent.glob(f"*{PENDING}")):
        try:
            pending = json.loads(marker.read_text())
        except (OSError, ValueError):
            marker.unlink(missing_ok=True)
            continue
        if str(target) in pending.get("targets", []) and not any(
                staging_owner_alive(staging) for staging in pending.get("stagings", [])):
            _complete(pending, marker)
    for old in target.parent.glob(f"{target.name}{OLD_MARKER}*"):
        if staging_owner_alive(old):
            continue                              # its writer is between its two renames
        if not target.exists():
            os.rename(old, target)
        else:
            _remove(old)
    for stale in target.parent.glob(f"{target.name}{TMP_MARKER}*"):
        if not staging_owner_alive(stale):
            _remove(stale)


def _complete(pending: dict, marker: Path) -> None:
    """Swap in every staged member of a group, then drop its marker. A swap that fails before
    any other was made drops the marker too (the group is not published); after one was made,
    the marker stays, so that the next publication completes the group."""
    swapped = False
    for staging, target in zip(pending["stagings"], pending["targets"]):
        staging, target = Path(staging), Path(target)
        if staging.exists():
            try:
                _swap_in(staging, target)
            except OSError:
                if not swapped:
                    marker.unlink(missing_ok=True)
                raise
            swapped = True
    marker.unlink(missing_ok=True)


@contextmanager
def atomic_directory(directory: Path | str) -> Iterator[Path]:
    """Yield an empty directory beside ``directory`` to fill; on success it replaces
    ``directory`` whole (old set or new set, never a mixture), else it is removed.

    ``with atomic_directory(paths.gbm_models) as tmp: (tmp / "a.txt").write_text(...)``
    """
    directory = Path(directory)
    staging = _staging(directory)
    try:
        with _refusals(str(directory)):
            directory.parent.mkdir(parents=True, exist_ok=True)
            recover(directory)
            staging.mkdir()
            yield staging
            _fsync_directory(staging)
            _swap_in(staging, directory)
    finally:
        _remove(staging)


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
    stagings = [_staging(t) for t in targets]
    marker = targets[0].with_name(f"{targets[0].name}{PENDING}")
    try:
        with _refusals(*map(str, targets)):
            for target in targets:
                target.parent.mkdir(parents=True, exist_ok=True)
                recover(target)
            yield stagings
            present = [(s, t) for s, t in zip(stagings, targets) if s.exists()]
            for staging, _ in present:
                if staging.is_dir():
                    _fsync_directory(staging)
                else:
                    with open(staging, "rb+") as handle:
                        os.fsync(handle.fileno())
            plan = {"stagings": [str(s) for s, _ in present],
                    "targets": [str(t) for _, t in present]}
            write_json(plan, marker)
            _complete(plan, marker)
    finally:
        if not marker.exists():
            for staging in stagings:
                _remove(staging)


__all__ = ["REFUSED", "TMP_MARKER", "WriteError", "atomic_directory", "atomic_path",
           "cache_writes", "output_name", "publish_together", "recover", "replaced",
           "staging_owner_alive", "write_bytes", "write_csv", "write_directory", "write_json",
           "write_parquet", "write_text"]
