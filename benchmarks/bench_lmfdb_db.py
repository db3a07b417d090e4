"""What ``ingest.source: lmfdb_db`` costs: a pull (``pipeline.lmfdb_db.pull_database``: window
queries, cache, lock, conversion to the curve tables) from a local PostgreSQL server on
127.0.0.1 holding the LMFDB's tables, against the bare queries (psycopg only) and against the
same pull served from the cache; then an estimate for the LMFDB's whole ``ec_curvedata``
(about 3.82 million curves) through a network link of a given speed.

The server holds ``--copies`` copies of the shared fixtures' 739 curves (conductors < 200),
copy k at conductors N + 200 k, relabelled accordingly: real rows, many of them.

    python -m benchmarks.bench_lmfdb_db --copies 200 --window 10000 --link-mbit 10 100
"""
from __future__ import annotations

import argparse
import re
import shutil
import tempfile
import time
from pathlib import Path

import psycopg

from pipeline.fetch import FetchSettings
from pipeline.lmfdb_db import COLUMNS, DatabaseFetcher, _window_query, pull_database, windows
from tests.postgres_server import TABLES, create_lmfdb, fixture_rows, postgres_server

#: ec_curvedata rows of the LMFDB (about), and Cremona's share of them (N < 500,000).
LMFDB_CURVES, CREMONA_CURVES = 3_820_000, 3_064_705
SHIFT = 200          # the fixtures' conductors are below this


def _moved(label: str | None, shift: int) -> str | None:
    """A label of conductor N as the label of conductor N + shift (Cremona's or the LMFDB's)."""
    if label is None:
        return None
    n, rest = re.fullmatch(r"(\d+)(.*)", label).groups()
    return f"{int(n) + shift}{rest}"


def copies(count: int) -> dict[str, list[dict]]:
    base, rows = fixture_rows(), {t: [] for t in TABLES}
    for k in range(count):
        for table, records in base.items():
            for r in records:
                moved = {**r, "id": len(rows[table]) + 1}
                for c in ("Clabel", "lmfdb_label", "Ciso", "lmfdb_iso"):
                    if c in r:
                        moved[c] = _moved(r[c], k * SHIFT)
                if "conductor" in r:
                    moved["conductor"] = r["conductor"] + k * SHIFT
                rows[table].append(moved)
    return rows


def bare_queries(uri: str, low: int, high: int, window: int) -> tuple[float, int]:
    """Seconds and rows of the same window queries, rows fetched and dropped."""
    start, count = time.perf_counter(), 0
    with psycopg.connect(uri) as connection:
        for a, b in windows(low, high, window):
            for table, columns in COLUMNS.items():
                count += len(connection.execute(_window_query(table, columns), [a, b]).fetchall())
    return time.perf_counter() - start, count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--copies", type=int, default=200)
    parser.add_argument("--window", type=int, default=10_000, help="conductors per query")
    parser.add_argument("--link-mbit", type=float, nargs="+", default=[10.0, 100.0])
    parser.add_argument("--rtt-ms", type=float, default=100.0, help="round trip to the mirror")
    args = parser.parse_args()
    rows = copies(args.copies)
    curves = len(rows["ec_curvedata"])
    high = 1 + args.copies * SHIFT
    settings = FetchSettings(rate=1e6)
    with postgres_server() as server:
        start = time.perf_counter()
        uri = create_lmfdb(server, "bench", rows=rows)
        loaded = time.perf_counter() - start
        bare, bare_rows = bare_queries(uri, 1, high, args.window)
        work = Path(tempfile.mkdtemp())
        try:
            timings = {}
            for run in ("cold", "cached"):
                fetcher = DatabaseFetcher(work / "downloads", work / "lock.json", settings, uri)
                start = time.perf_counter()
                table, published, aps = pull_database(fetcher, 1, high, args.window)
                timings[run] = time.perf_counter() - start
            assert len(table) == len(published) == curves
            cached_bytes = sum(p.stat().st_size for p in (work / "downloads").iterdir())
        finally:
            shutil.rmtree(work, ignore_errors=True)
    spans = len(windows(1, high, args.window))
    print(f"{curves:,} curves ({bare_rows:,} rows of the 3 tables), {spans} windows of "
          f"{args.window:,} conductors; loading the server took {loaded:.1f} s")
    print("| pull | seconds | curves/s | ratio to bare queries |")
    print("| --- | ---: | ---: | ---: |")
    print(f"| bare queries (psycopg, rows dropped) | {bare:.2f} | {curves / bare:,.0f} | 1.00 |")
    for run, seconds in timings.items():
        print(f"| pull_database, {run} | {seconds:.2f} | {curves / seconds:,.0f} | "
              f"{seconds / bare:.2f} |")
    per_curve = cached_bytes / curves
    local = timings["cold"] / curves
    cremona_windows = 500_000 // args.window
    print(f"\npayload: {cached_bytes / 2**20:.1f} MiB cached for {curves:,} curves = "
          f"{per_curve:.0f} bytes a curve (all three tables, the needed columns)")
    print(f"whole ec_curvedata ({LMFDB_CURVES:,} curves): {LMFDB_CURVES * per_curve / 2**30:.2f} "
          f"GiB; local work {LMFDB_CURVES * local / 60:.1f} min at the cold rate")
    print("| link | transfer | + local work | + round trips (Cremona's range) | total |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for mbit in args.link_mbit:
        transfer = LMFDB_CURVES * per_curve * 8 / (mbit * 1e6)
        trips = cremona_windows * len(COLUMNS) * args.rtt_ms / 1000
        total = transfer + LMFDB_CURVES * local + trips
        print(f"| {mbit:g} Mbit/s | {transfer / 60:.1f} min | {LMFDB_CURVES * local / 60:.1f} "
              f"min | {trips:.0f} s | {total / 60:.1f} min |")


if __name__ == "__main__":
    main()
