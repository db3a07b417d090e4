"""Run one stage's ``python -m pipeline.<stage>`` in many scratch projects, cheaply.

``python tests/fault_runner.py <stage> <timeout> <case-dir> ...``: the stage module is imported
once (its libraries are what take seconds), then each case runs in a forked child exactly as
``python -m`` runs it (``runpy`` as ``__main__``, its own error handling included), in the case
directory, with stdout and stderr captured there. The parent kills a child that outlives the
timeout. Each case directory gets ``rc`` (exit status, -9 if killed) and ``seconds``.

The parent only imports: it must run no polars query before forking, since a child would
inherit a thread pool without its threads and hang.
"""
from __future__ import annotations

import importlib
import os
import runpy
import signal
import sys
import time
from pathlib import Path


def run_case(stage: str, case: Path, timeout: float) -> None:
    start = time.monotonic()
    pid = os.fork()
    if pid == 0:                                        # the child: the stage, as python -m
        code = 1
        try:
            os.chdir(case)
            for name, fd in (("stdout", 1), ("stderr", 2)):
                handle = os.open(case / name, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
                os.dup2(handle, fd)
            sys.argv = [f"pipeline/{stage}.py"]
            try:
                runpy.run_module(f"pipeline.{stage}", run_name="__main__", alter_sys=True)
                code = 0
            except SystemExit as exit_:
                if exit_.code is None or isinstance(exit_.code, int):
                    code = exit_.code or 0
                else:
                    print(exit_.code, file=sys.stderr)
                    code = 1
            except BaseException:
                import traceback
                traceback.print_exc()
                code = 1
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code)
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        if time.monotonic() - start > timeout:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            status = -signal.SIGKILL
            break
        time.sleep(0.01)
    rc = os.waitstatus_to_exitcode(status) if status >= 0 else status
    (case / "rc").write_text(str(rc))
    (case / "seconds").write_text(f"{time.monotonic() - start:.3f}")


def main() -> None:
    stage, timeout, *cases = sys.argv[1:]
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    importlib.import_module(f"pipeline.{stage}")        # the libraries, once
    for case in cases:
        run_case(stage, Path(case), float(timeout))


if __name__ == "__main__":
    main()
