"""The bsd stage's chunks through the old chunk runner (``machinery/chunks.py`` at ``--old``, its
multiprocessing.Pool and dask loops) and through :mod:`machinery.runner`, side by side in one
run, alternating, on the same chunks, task and initializer (so only the runner differs): local
1 and 2 workers, and dask (a LocalCluster of 2 workers). Median of ``--repeats`` each; ratios
old / new (above 1: the new runner is faster); every table checked equal.

    python -m benchmarks.bench_runner --conductor-max 2000 --chunk-size 500 --old 961da03
"""
from __future__ import annotations

import argparse
import importlib.util
import os
import statistics
import subprocess
import sys
import tempfile
import time
from functools import partial
from pathlib import Path

import polars as pl

from arithmetic.pari import precision_bits, start_process_pari
from machinery import chunks
from machinery.code_digest import PROJECT
from machinery.params import Executor, load_params
from pipeline.bsd import bsd_chunk, chunk_salt
from sources.elldata import read_curves


def old_runner(revision: str, scratch: Path):
    """``machinery/chunks.py`` of ``revision`` as the module ``old_chunks`` (importable by the
    worker processes: spawned children get this sys.path, dask's through PYTHONPATH)."""
    source = subprocess.run(["git", "show", f"{revision}:machinery/chunks.py"], cwd=PROJECT,
                            check=True, capture_output=True, text=True).stdout
    (scratch / "old_chunks.py").write_text(source)
    sys.path.insert(0, str(scratch))
    os.environ["PYTHONPATH"] = os.pathsep.join([str(scratch), str(PROJECT),
                                                os.environ.get("PYTHONPATH", "")])
    spec = importlib.util.spec_from_file_location("old_chunks", scratch / "old_chunks.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["old_chunks"] = module
    spec.loader.exec_module(module)
    return module


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--conductor-max", type=int, default=2000)
    parser.add_argument("--old", default="961da03", help="the revision of the old runner")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--chunk-size", type=int, help="curves per chunk (default: bsd's)")
    args = parser.parse_args()
    curves = read_curves(1, args.conductor_max)
    section = load_params().bsd
    plan = chunks.plan_chunks(curves, "isogeny_class", args.chunk_size or section.chunk_size,
                              chunk_salt(section))
    task = partial(bsd_chunk, sha_tolerance=section.sha_tolerance,
                   precision=precision_bits(section.realprecision),
                   lfunction_precision=section.lfunction_bits)
    settings = [("local, 1 worker", 1, None), ("local, 2 workers", 2, None),
                ("dask LocalCluster, 2 workers", 2, Executor(kind="dask"))]
    with tempfile.TemporaryDirectory() as scratch:
        runners = {"old": old_runner(args.old, Path(scratch)), "new": chunks}
        seconds = {(s, r): [] for s, _, _ in settings for r in runners}
        expected = None
        for repeat in range(args.repeats):
            for name, workers, executor in settings:
                for which, module in (runners.items() if repeat % 2 == 0
                                      else reversed(runners.items())):
                    directory = Path(scratch) / f"{which}-{workers}-{repeat}-{executor}"
                    start = time.perf_counter()
                    paths = module.run_chunks(
                        curves, plan, directory, task, workers=workers,
                        initializer=start_process_pari,
                        initargs=(section.realprecision, section.pari_stack_mb),
                        cost=lambda chunk: curves["conductor"][chunk.stop - 1], desc=which,
                        executor=executor)
                    table = pl.read_parquet(paths)
                    seconds[name, which].append(time.perf_counter() - start)
                    expected = table if expected is None else expected
                    assert table.equals(expected), f"{which} runner, {name}: another table"
    print(f"{len(curves):,} curves, N < {args.conductor_max}, {len(plan)} chunks; identical "
          f"tables; median of {args.repeats} (min)")
    print("| executor | old runner | new runner | old / new |")
    print("| --- | ---: | ---: | ---: |")
    for name, _, _ in settings:
        old, new = (statistics.median(seconds[name, r]) for r in ("old", "new"))
        print(f"| {name} | {old:.2f} s ({min(seconds[name, 'old']):.2f}) | {new:.2f} s "
              f"({min(seconds[name, 'new']):.2f}) | {old / new:.2f}x |")


if __name__ == "__main__":
    main()
