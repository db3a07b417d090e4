"""A chunked stage's rate against the conductor, read from the progress bar of a run.

    python -m benchmarks.stage_rates full_run.log --stage bsd --chunk-size 2000 \\
        --curves data/curves.parquet

A chunked stage (:func:`machinery.chunks.run_chunks`) prints a progress line each time a chunk
finishes: the curves done, the seconds elapsed, and the chunk's index. Its chunks are whole
isogeny classes cut from the curve table in conductor order (:func:`machinery.chunks.plan_chunks`
with the stage's ``chunk_size``), so the index says which conductors the chunk held. Each line's
new curves and seconds since the line before are credited to the conductor band of its chunk;
a band's rate is its curves over its seconds, with the stage's workers all busy (the wall
seconds of the whole run, not of one worker). Nothing is recomputed: the run's own log is read.
"""
from __future__ import annotations

import argparse
import re
from pathlib import Path

import numpy as np
import polars as pl

from machinery.chunks import plan_chunks

#: Upper ends of the conductor bands of the table.
BANDS = (10_000, 100_000, 200_000, 300_000, 400_000, 500_000)


def progress_lines(log: str, stage: str) -> list[tuple[float, int, int]]:
    """(elapsed seconds, curves done, chunk index) of each progress line of ``stage`` in ``log``
    (tqdm's ``<stage>: ..| done/total [mm:ss<.., rate, index]``, lines cut at carriage returns),
    in order; lines without a chunk index (the bar's first) are left out."""
    pattern = re.compile(rf"^{re.escape(stage)}: .*?\| *(\d+)/\d+ \[([\d:]+)<.*?, (\d+)\]$")
    lines = []
    for line in re.split(r"[\r\n]", log):
        match = pattern.match(line.strip())
        if match:
            done, elapsed, index = match.groups()
            seconds = 0.0
            for part in elapsed.split(":"):
                seconds = 60 * seconds + int(part)
            lines.append((seconds, int(done), int(index)))
    return lines


def band_rates(lines: list[tuple[float, int, int]], chunk_conductor: np.ndarray,
               bands: tuple[int, ...] = BANDS) -> pl.DataFrame:
    """Curves, seconds and curves/s per conductor band: each line's increments since the line
    before, credited to the band of its chunk's largest conductor ``chunk_conductor[index]``."""
    rows = {bound: [0, 0.0] for bound in bands}
    previous_seconds, previous_done = 0.0, None
    for seconds, done, index in lines:
        if previous_done is not None and done > previous_done:
            band = next(b for b in bands if chunk_conductor[index] < b)
            rows[band][0] += done - previous_done
            rows[band][1] += seconds - previous_seconds
        previous_seconds, previous_done = seconds, done
    lower = (0, *bands[:-1])
    return pl.DataFrame({
        "conductors": [f"{a:,} <= N < {b:,}" for a, b in zip(lower, bands)],
        "curves": [rows[b][0] for b in bands],
        "seconds": [rows[b][1] for b in bands],
    }).with_columns(curves_per_second=pl.col("curves") / pl.col("seconds"))


def chunk_conductors(curves: pl.DataFrame, chunk_size: int) -> np.ndarray:
    """The largest conductor of each chunk of the stage's plan, by chunk index."""
    table = curves.select("isogeny_class", "conductor")
    chunks = plan_chunks(table.select("isogeny_class"), "isogeny_class", chunk_size, "")
    conductor = table["conductor"].to_numpy()
    return np.array([conductor[chunk.stop - 1] for chunk in chunks])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("log", type=Path)
    parser.add_argument("--stage", required=True)
    parser.add_argument("--chunk-size", type=int, required=True)
    parser.add_argument("--curves", type=Path, default=Path("data/curves.parquet"))
    args = parser.parse_args()
    lines = progress_lines(args.log.read_text(errors="replace"), args.stage)
    rates = band_rates(lines, chunk_conductors(pl.read_parquet(args.curves), args.chunk_size))
    with pl.Config(tbl_rows=-1, thousands_separator=True, float_precision=1):
        print(f"{args.stage}: {len(lines)} progress lines, {lines[-1][1]:,} curves in "
              f"{lines[-1][0]:,.0f} s")
        print(rates)


if __name__ == "__main__":
    main()
