"""How a stage runs as ``python -m pipeline.<stage>``: its ``__main__`` block is
``run_stage("<stage>", main, (<its error types>,))``.

- **One run of a stage per workspace at a time.** :func:`run_stage` holds an exclusive
  ``flock`` on ``.locks/<stage>.lock`` in the working directory (the workspace) while the stage
  runs; a second run exits at once with ``<stage>: error: another <stage> run (pid N) holds
  .locks/<stage>.lock; ...``. The kernel releases the lock when the holder ends, killed or not,
  so a lock file left behind blocks nothing.
- **Errors as one line.** An exception of the stage's own error types exits with
  ``<stage>: error: <message>``. So does a write the file system refused (disk full, read-only,
  permission denied, quota: :data:`machinery.atomic.REFUSED`): ``<stage>: error: cannot write
  <file>: <reason> (the outputs are as they were)``, or naming the outputs the stage had
  already replaced (each output is whole, the old or the new: :mod:`machinery.atomic`).
"""
from __future__ import annotations

import errno
import fcntl
import os
import sys
import time
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Callable, Iterator

from machinery.atomic import REFUSED, WriteError, output_name, replaced

#: The folder of the stage locks, in the working directory (the workspace).
LOCKS = Path(".locks")
#: Seconds a refused run waits for the lock holder to have written its pid.
_PID_WAIT = 0.5
#: How many replaced outputs a refused write names at most.
_SHOWN = 5


def run_stage(name: str, main: Callable[[], None],
              errors: tuple[type[BaseException], ...] = ()) -> None:
    """Run ``main`` holding the stage's lock; exit with ``<name>: error: ...`` if another run
    holds it, if ``main`` raises one of ``errors``, or if the file system refuses a write."""
    already = len(replaced())
    try:
        with stage_lock(name):
            main()
    except OSError as err:
        if err.errno in REFUSED:
            sys.exit(f"{name}: error: {refused_write(err, replaced()[already:])}")
        if isinstance(err, errors):
            sys.exit(f"{name}: error: {err}")
        raise
    except errors as err:
        sys.exit(f"{name}: error: {err}")


def refused_write(error: OSError, changed: list[Path]) -> str:
    """What a refused write means: the file, the reason, and the state of the outputs
    (``changed``: those replaced before the error)."""
    # outside the atomic writers, EACCES may come from reading a file
    reading = error.errno == errno.EACCES and not isinstance(error, WriteError)
    verb = "access" if reading else "write"
    named = f" {output_name(error.filename)}" if error.filename is not None else ""
    return f"cannot {verb}{named}: {os.strerror(error.errno)} ({outputs_state(changed)})"


def outputs_state(changed: list[Path]) -> str:
    """``the outputs are as they were``, or which outputs were already replaced."""
    if not changed:
        return "the outputs are as they were"
    names = [str(path) for path in dict.fromkeys(changed)]
    shown = ", ".join(names[:_SHOWN]) + (f" and {len(names) - _SHOWN} more"
                                          if len(names) > _SHOWN else "")
    return f"already replaced: {shown}; the other outputs are as they were"


@contextmanager
def stage_lock(name: str) -> Iterator[Path]:
    """Hold the exclusive lock of stage ``name`` in this workspace for the block (its pid
    written in the lock file); exit with ``<name>: error: another <name> run (pid N) holds
    <lock file>; ...`` if another process holds it."""
    path = LOCKS / f"{name}.lock"
    path.parent.mkdir(exist_ok=True)
    handle = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            sys.exit(f"{name}: error: another {name} run (pid {_holder(handle)}) holds {path}; "
                     "wait for it to finish or stop it")
        os.ftruncate(handle, 0)
        os.pwrite(handle, f"{os.getpid()}\n".encode(), 0)
        try:
            yield path
        finally:
            # emptied when free, so that a refused run reads no finished run's pid
            with suppress(OSError):
                os.ftruncate(handle, 0)
    finally:
        os.close(handle)                       # releases the lock


def _holder(handle: int) -> str:
    """The pid the lock's holder wrote in the lock file (it writes it just after taking the
    lock, so wait a moment for it), or ``unknown``."""
    deadline = time.monotonic() + _PID_WAIT
    while True:
        text = os.pread(handle, 32, 0).decode(errors="replace").strip()
        if text.isdigit() or time.monotonic() > deadline:
            return text if text.isdigit() else "unknown"
        time.sleep(0.02)


__all__ = ["LOCKS", "outputs_state", "refused_write", "run_stage", "stage_lock"]
