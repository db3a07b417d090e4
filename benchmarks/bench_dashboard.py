"""Benchmark: the curve browser's query latency on a table of the full range's size.

    python -m benchmarks.bench_dashboard --rows 3064705

The full Cremona range (3,064,705 curves) needs the full bsd run; without it the
default run's bsd table is tiled to the full size (labels made unique, same columns and
types) and written to a temporary parquet file. Each query of the curve browser
(:func:`dashboard.queries.search_curves`: filter, count, sort, one page) is timed on the
table held in memory, as the page runs it, and, for comparison, from a scan of the parquet
file; median of ``--repeats``. Goal: <= 200 ms per query.

    python -m benchmarks.bench_dashboard --interactions --rows 3064705

times what a reader of the curve browser waits for: the page rendered with Streamlit's AppTest
in a copy of this project whose bsd and curve tables are tiled to ``--rows``, then each
interaction (typing a label, a filter, clicking through) as the rerun it triggers; median of
``--repeats``.

    python -m benchmarks.bench_dashboard --pages

renders every dashboard page with Streamlit's AppTest on this project's outputs as they are
(run it where the pipeline ran, e.g. on the full range), twice: the first render reads the
tables (cold caches), the second is what a reader waits for afterwards. Peak RSS of this
process at the end (the dashboard's caches held).
"""
from __future__ import annotations

import argparse
import os
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

import polars as pl

from dashboard.queries import BROWSER_COLUMNS, CurveFilter, search_curves
from machinery.params import load_params

QUERIES = {
    "no filter, by conductor": (CurveFilter(), "conductor", False),
    "label prefix 389a": (CurveFilter(label="389a"), "label", False),
    "rank 2, by sha desc": (CurveFilter(ranks=[2]), "sha", True),
    "conductor 5000-6000, torsion 5": (CurveFilter(conductor=(5000, 6000), torsion=[5]),
                                       "conductor", False),
    "sha >= 9, by regulator desc": (CurveFilter(sha=(9, 10**6)), "regulator", True),
}


def tiled(bsd: pl.DataFrame, rows: int) -> pl.DataFrame:
    copies = -(-rows // len(bsd))
    frames = [bsd.with_columns(label=pl.col("label") + ("" if k == 0 else f"~{k}"))
              for k in range(copies)]
    return pl.concat(frames).head(rows)


PAGES = ["overview", "findings", "curves", "distributions", "topology", "bias", "known"]


def render_pages() -> None:
    """Each page rendered twice with AppTest; fails on a page that raises or misses an output."""
    from streamlit.testing.v1 import AppTest

    main_module = sys.modules["__main__"]
    print(f"{'page':14s} {'first render':>13s} {'second':>8s}")
    for name in PAGES:
        times = []
        for _ in range(2):
            test = AppTest.from_file(str(Path.cwd() / "dashboard" / "pages" / f"{name}.py"),
                                       default_timeout=600)
            started = time.perf_counter()
            test.run()
            times.append(time.perf_counter() - started)
            sys.modules["__main__"] = main_module     # AppTest leaves the page as __main__
            problems = [e.value for e in test.exception] + [
                w.value for w in test.warning if "has not been built" in w.value]
            if problems:
                raise SystemExit(f"dashboard page {name}: {problems}")
        print(f"{name:14s} {times[0]:11.2f} s {times[1]:6.2f} s")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    print(f"peak RSS of this process (every page's caches held): {peak:.2f} GiB")


#: Interactions with the curve browser: (what the reader does, how AppTest does it).
INTERACTIONS = {
    "type a label (37a1)": lambda test: test.text_input(key="curve").set_value("37a1"),
    "type an LMFDB label (11.a2)": lambda test: test.text_input(key="curve").set_value("11.a2"),
    "filter: label prefix 389a": lambda test: test.text_input(key="prefix").set_value("389a"),
}


def interactions(rows: int, repeats: int) -> None:
    """The curve page's first render and each interaction's rerun, on tables tiled to ``rows``."""
    import shutil

    from streamlit.testing.v1 import AppTest

    params = load_params()
    main_module = sys.modules["__main__"]
    with tempfile.TemporaryDirectory() as scratch:
        copy = Path(scratch) / "project"
        shutil.copytree(Path.cwd(), copy, symlinks=True,
                        ignore=shutil.ignore_patterns(".git", ".dvc", ".venv", "*.chunks"))
        for name in ("bsd", "curves"):
            tiled(pl.read_parquet(getattr(params.paths, name)), rows).write_parquet(
                copy / getattr(params.paths, name))
        print(f"{rows:,} rows in the bsd and curve tables")
        previous = Path.cwd()
        os.chdir(copy)
        try:
            test = AppTest.from_file(str(copy / "dashboard" / "pages" / "curves.py"),
                                     default_timeout=600)
            started = time.perf_counter()
            test.run()
            print(f"{'first render (cold caches)':36s} {time.perf_counter() - started:8.2f} s")
            for name, act in INTERACTIONS.items():
                times = []
                for _ in range(repeats):
                    test = AppTest.from_file(str(copy / "dashboard" / "pages" / "curves.py"),
                                             default_timeout=600)
                    test.run()
                    act(test)
                    started = time.perf_counter()
                    test.run()
                    times.append(1000 * (time.perf_counter() - started))
                    if test.exception:
                        raise SystemExit(f"{name}: {[e.value for e in test.exception]}")
                print(f"{name:36s} {statistics.median(times):6.0f} ms (min {min(times):.0f})")
        finally:
            os.chdir(previous)
            sys.modules["__main__"] = main_module


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=3_064_705)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--pages", action="store_true",
                        help="render every page on this project's outputs instead")
    parser.add_argument("--interactions", action="store_true",
                        help="time the curve browser's reruns on tiled tables instead")
    args = parser.parse_args()
    if args.interactions:
        interactions(args.rows, args.repeats)
        return
    if args.pages:
        render_pages()
        return
    params = load_params()
    bsd = pl.read_parquet(params.paths.bsd)
    with tempfile.TemporaryDirectory() as scratch:
        table = Path(scratch) / "bsd.parquet"
        tiled(bsd, args.rows).write_parquet(table)
        print(f"{args.rows:,} rows, page size {params.dashboard.page_size}")
        memory = pl.read_parquet(table, columns=BROWSER_COLUMNS)
        print(f"{'query':36s} {'matches':>10s}  in memory (median, min)  parquet scan")
        for name, (where, sort, descending) in QUERIES.items():
            cells = []
            for source in (memory.lazy, lambda: pl.scan_parquet(table)):
                times = []
                for _ in range(args.repeats):
                    started = time.perf_counter()
                    _, total = search_curves(source(), where, sort, descending, 0,
                                             params.dashboard.page_size)
                    times.append(1000 * (time.perf_counter() - started))
                cells.append(f"{statistics.median(times):5.0f} ms ({min(times):.0f})")
            print(f"{name:36s} {total:>10,}  {cells[0]:>22s}  {cells[1]:>14s}")


if __name__ == "__main__":
    main()
