"""What ``ingest.source: lmfdb_db`` costs: a pull (``sources.lmfdb_db.pull_database``: window
queries, cache, lock, conversion to the curve tables) from a local PostgreSQL server on
127.0.0.1 holding the LMFDB's tables, against the bare queries (psycopg only) and against the
same pull served from the cache; then an estimate for the LMFDB's whole ``ec_curvedata``
(about 3.82 million curves) through a network link of a given speed.

The server holds ``--copies`` copies of the shared fixtures' 739 curves (conductors < 200),
copy k at conductors N + 200 k, relabelled accordingly: real rows, many of them.

The whole table is not Cremona's range alone: its conductors run to 3 x 10^8, so a pull at
``ingest.lmfdb_db_window`` conductors a window walks 30,000 windows (three queries each) at
the default 10,000, of which 29,950 lie beyond N = 500,000 and hold about 25 curves each. So
a second, sparse pull measures the local cost of such a window: windows narrowed until they
hold as many of the fixtures' curves as a window beyond Cremona's range holds of the LMFDB's.

    PYTHONPATH=. python -m benchmarks.bench_lmfdb_db --copies 200 --link-mbit 10 100
"""
from __future__ import annotations

import argparse
import json
import re
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import psycopg

from machinery.params import load_params
from sources.fetch import FetchSettings
from sources.lmfdb_db import COLUMNS, DatabaseFetcher, _window_query, pull_database, windows
from tests.postgres_server import TABLES, create_lmfdb, fixture_rows, postgres_server

#: ec_curvedata rows of the LMFDB (about), and Cremona's share of them (N < 500,000).
LMFDB_CURVES, CREMONA_CURVES = 3_820_000, 3_064_705
#: The conductors a pull of the whole table walks. The LMFDB holds every curve of conductor
#: < 500,000, every curve of 7-smooth conductor (at most 2^8 3^5 5^2 7^2 = 76,204,800) and
#: every curve of prime conductor p <= 300,000,000 (its completeness knowl rcs.cande.ec.q),
#: so its largest conductor is below 300,000,001.
CREMONA_BOUND, LMFDB_BOUND = 500_000, 300_000_001
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


def cold_pull(uri: str, low: int, high: int, window: int, work: Path) -> tuple[float, int]:
    """Seconds and curves of a pull from an empty cache into ``work``."""
    fetcher = DatabaseFetcher(work / "downloads", work / "lock.json", FetchSettings(rate=1e6),
                              uri)
    start = time.perf_counter()
    table, published, _ = pull_database(fetcher, low, high, window)
    seconds = time.perf_counter() - start
    fetcher.save_lock()
    assert len(table) == len(published)
    return seconds, len(table)


@dataclass(frozen=True)
class Measured:
    """What the pulls from the local server measured (seconds, rows, bytes)."""
    loaded: float                  # loading the server
    bare: float                    # the bare window queries
    bare_rows: int
    timings: dict[str, float]      # pull_database: "cold", then "cached"
    cached_bytes: int              # the cache the cold pull wrote
    sparse: float                  # the sparse windows' cold pull
    sparse_curves: int
    lock_entry: float              # bytes a lock entry (of the sparse pull's lock file)


def arguments() -> argparse.Namespace:
    """The command line; the window defaults to params.yaml's ``ingest.lmfdb_db_window``."""
    default_window = load_params().ingest.lmfdb_db_window
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--copies", type=int, default=200)
    parser.add_argument("--window", type=int, default=default_window,
                        help=f"conductors per query (params.yaml: {default_window:,})")
    parser.add_argument("--sparse-copies", type=int, default=10,
                        help="copies pulled by the sparse windows")
    parser.add_argument("--link-mbit", type=float, nargs="+", default=[10.0, 100.0])
    parser.add_argument("--rtt-ms", type=float, default=100.0, help="round trip to the mirror")
    return parser.parse_args()


def whole_table_windows(window: int) -> tuple[int, int, float]:
    """The windows of ``window`` conductors a pull of the whole table walks, below and beyond
    Cremona's range, and the curves a window beyond it holds (on average)."""
    walk = windows(1, LMFDB_BOUND, window)
    dense = sum(low < CREMONA_BOUND for low, _ in walk)
    beyond = len(walk) - dense
    return dense, beyond, (LMFDB_CURVES - CREMONA_CURVES) / beyond


def measure(rows: dict[str, list[dict]], high: int, window: int, sparse_high: int,
            sparse_width: int) -> Measured:
    """Load ``rows`` into a local server and time the bare queries, the cold and the cached
    pull of conductors below ``high``, and the cold pull of the sparse windows."""
    curves = len(rows["ec_curvedata"])
    with postgres_server() as server:
        start = time.perf_counter()
        uri = create_lmfdb(server, "bench", rows=rows)
        loaded = time.perf_counter() - start
        bare, bare_rows = bare_queries(uri, 1, high, window)
        work = Path(tempfile.mkdtemp())
        try:
            timings = {"cold": cold_pull(uri, 1, high, window, work / "dense")[0]}
            fetcher = DatabaseFetcher(work / "dense" / "downloads", work / "dense" / "lock.json",
                                      FetchSettings(rate=1e6), uri)
            start = time.perf_counter()
            assert len(pull_database(fetcher, 1, high, window)[0]) == curves
            timings["cached"] = time.perf_counter() - start
            cached_bytes = sum(p.stat().st_size for p in (work / "dense" / "downloads").iterdir())
            sparse, sparse_curves = cold_pull(uri, 1, sparse_high, sparse_width, work / "sparse")
            sparse_lock = work / "sparse" / "lock.json"
            lock_entry = sparse_lock.stat().st_size / len(json.loads(sparse_lock.read_text()))
        finally:
            shutil.rmtree(work, ignore_errors=True)
    return Measured(loaded, bare, bare_rows, timings, cached_bytes, sparse, sparse_curves,
                    lock_entry)


def print_local(measured: Measured, curves: int, spans: int, window: int) -> None:
    """The local pulls' table: seconds, rate and ratio to the bare queries."""
    print(f"{curves:,} curves ({measured.bare_rows:,} rows of the 3 tables), {spans} windows "
          f"of {window:,} conductors; loading the server took {measured.loaded:.1f} s")
    print("| pull | seconds | curves/s | ratio to bare queries |")
    print("| --- | ---: | ---: | ---: |")
    bare = measured.bare
    print(f"| bare queries (psycopg, rows dropped) | {bare:.2f} | {curves / bare:,.0f} | 1.00 |")
    for run, seconds in measured.timings.items():
        print(f"| pull_database, {run} | {seconds:.2f} | {curves / seconds:,.0f} | "
              f"{seconds / bare:.2f} |")


def print_sparse(measured: Measured, sparse_spans: int, sparse_width: int,
                 per_beyond: float) -> None:
    """The sparse pull: its windows against those beyond Cremona's range, cost, lock entry."""
    print(f"\nsparse: {measured.sparse_curves:,} curves in {sparse_spans} windows of "
          f"{sparse_width} conductors ({measured.sparse_curves / sparse_spans:.1f} curves a "
          f"window, against {per_beyond:.1f} a window beyond N = {CREMONA_BOUND:,}), cold: "
          f"{measured.sparse:.2f} s, {measured.sparse / sparse_spans * 1000:.1f} ms a window; "
          f"{measured.lock_entry:.0f} bytes a lock entry")


def print_whole_table(measured: Measured, args: argparse.Namespace, curves: int,
                      walk: tuple[int, int], per_window: float) -> None:
    """The estimate for the whole ec_curvedata: payload, queries, local work and the time
    through each link. ``walk``: its windows below and beyond Cremona's range;
    ``per_window``: seconds of local work a sparse window."""
    dense, beyond = walk
    per_curve = measured.cached_bytes / curves
    local_dense = CREMONA_CURVES * measured.timings["cold"] / curves
    local_sparse = beyond * per_window
    local = local_dense + local_sparse
    queries = (dense + beyond) * len(COLUMNS)
    trips = queries * args.rtt_ms / 1000
    print(f"payload: {measured.cached_bytes / 2**20:.1f} MiB cached for {curves:,} curves = "
          f"{per_curve:.0f} bytes a curve (all three tables, the needed columns)")
    print(f"whole ec_curvedata ({LMFDB_CURVES:,} curves, 1 <= N < {LMFDB_BOUND:,}): "
          f"{dense:,} + {beyond:,} windows of {args.window:,} conductors, {queries:,} queries "
          f"({args.rtt_ms:g} ms round trip: {trips / 60:.0f} min); "
          f"{LMFDB_CURVES * per_curve / 2**30:.2f} GiB; local work {local_dense / 60:.1f} min "
          f"(Cremona's range, cold rate) + {local_sparse / 60:.1f} min (beyond, sparse "
          f"windows); lock file {queries * measured.lock_entry / 2**20:.0f} MiB "
          f"({queries:,} entries)")
    print("| link | transfer | + local work | + round trips | total |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for mbit in args.link_mbit:
        transfer = LMFDB_CURVES * per_curve * 8 / (mbit * 1e6)
        total = transfer + local + trips
        print(f"| {mbit:g} Mbit/s | {transfer / 60:.1f} min | {local / 60:.1f} min | "
              f"{trips / 60:.0f} min | {total / 60:.0f} min |")


def main() -> None:
    args = arguments()
    rows = copies(args.copies)
    curves = len(rows["ec_curvedata"])
    high = 1 + args.copies * SHIFT
    # the sparse windows hold as many fixture curves as a window beyond Cremona's range holds
    dense, beyond, per_beyond = whole_table_windows(args.window)
    sparse_width = max(1, round(per_beyond / (curves / (high - 1))))
    sparse_high = 1 + args.sparse_copies * SHIFT
    measured = measure(rows, high, args.window, sparse_high, sparse_width)
    print_local(measured, curves, len(windows(1, high, args.window)), args.window)
    sparse_spans = len(windows(1, sparse_high, sparse_width))
    print_sparse(measured, sparse_spans, sparse_width, per_beyond)
    print_whole_table(measured, args, curves, (dense, beyond), measured.sparse / sparse_spans)


if __name__ == "__main__":
    main()
