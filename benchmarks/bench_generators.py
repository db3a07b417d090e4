"""What the online sources cost and whether PARI's generators are right: the embedded curves
with conductor < bound, their generators dropped, get new ones from the ingest stage's code
(`pipeline.ingest.with_generators`: ellrank, ellheegner, ellsaturation; 1 and 2 workers), and the
regulators of the new generators are compared with those of Cremona's (the bsd table).

    python -m benchmarks.bench_generators --conductor-max 10000
"""
from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

import polars as pl

from arithmetic.pari import start_pari
from machinery.params import load_params
from pipeline.ingest import with_generators
from sources.elldata import read_curves


def regulators(curves: pl.DataFrame) -> list[float]:
    pari = start_pari(realprecision=38, stack_mb=1024)
    values = []
    for ainvs, gens in curves.select("ainvs", "gens").iter_rows():
        curve = pari.ellinit([int(a) for a in ainvs])
        points = pari("[" + ",".join(f"[{x},{y}]" for x, y in gens) + "]")
        values.append(float(pari.matdet(pari.ellheightmatrix(curve, points))))
    return values


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--conductor-max", type=int, default=10_000)
    args = parser.parse_args()
    curves = read_curves(1, args.conductor_max)
    ranks = curves.select("label", rank=pl.col("gens").list.len())
    section = load_params().ingest
    found, seconds = {}, {}
    for workers in (1, 2):
        chunks = Path(tempfile.mkdtemp()) / "chunks"
        start = time.perf_counter()
        found[workers] = with_generators(curves.drop("gens"), ranks,
                                         section.model_copy(update={"workers": workers}),
                                         chunks, "embedded")
        seconds[workers] = time.perf_counter() - start
        shutil.rmtree(chunks.parent, ignore_errors=True)
    assert found[1].equals(found[2]), "1 and 2 workers found different generators"
    positive = pl.col("gens").list.len() > 0
    ours = found[1].filter(positive)
    theirs = curves.filter(positive)
    ours_reg, theirs_reg = regulators(ours), regulators(theirs)
    relative = [abs(a - b) / b for a, b in zip(ours_reg, theirs_reg)]
    worst = max(range(len(relative)), key=relative.__getitem__)
    same_points = sum(a == b for a, b in zip(ours["gens"].to_list(), theirs["gens"].to_list()))
    print(f"{len(curves):,} curves (N < {args.conductor_max:,}), {len(ours):,} of rank > 0")
    print(f"generators: 1 worker {seconds[1]:.1f} s, 2 workers {seconds[2]:.1f} s "
          f"({seconds[1] / seconds[2]:.2f}x); {len(curves) / seconds[2]:,.0f} curves/s")
    print(f"regulators from PARI's generators vs Cremona's: largest relative difference "
          f"{relative[worst]:.2g} ({ours['label'][worst]}); {sum(r > 1e-10 for r in relative)} "
          f"beyond 1e-10; the same points as Cremona's for {same_points:,} curves")


if __name__ == "__main__":
    main()
