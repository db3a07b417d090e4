"""DVC stage ``ingest``: Cremona's curves in the conductor range -> ``paths.curves``.

Reads the tables of ``passagemath-pari-elldata`` (checksums checked against the wheel's RECORD),
checks every record's structure and arithmetic (non-singular, global minimal model, conductor
equal to PARI's ``ellglobalred``, generators on the curve) and writes one row per curve.
"""
from __future__ import annotations

import sys

import polars as pl
from tqdm import tqdm

from arithmetic.curves import CurveError, checked_curve
from arithmetic.elldata import ElldataError, curves_frame, files_for_range, read_table, table_files
from arithmetic.pari import start_pari
from pipeline.atomic import write_parquet
from pipeline.params import Ingest, ParamsError, load_params


def ingest(section: Ingest) -> pl.DataFrame:
    """All curves with conductor_min <= N < conductor_max, checked, in Cremona's order."""
    pari = start_pari(realprecision=38, stack_mb=section.pari_stack_mb)
    tables = files_for_range(section.conductor_min, section.conductor_max, table_files())
    frames = []
    with tqdm(total=len(tables), unit="file", desc="ingest", file=sys.stderr) as progress:
        for table in tables:
            records = read_table(table, section.conductor_min, section.conductor_max,
                                 verify=section.verify_checksums)
            for r in records:
                checked_curve(pari, r.label, r.conductor, r.ainvs, r.gens, where=r.where)
            frames.append(curves_frame(records))
            progress.update()
            progress.set_postfix(curves=sum(len(f) for f in frames))
    curves = pl.concat(frames)
    if curves.is_empty():
        raise ElldataError(f"no curves with {section.conductor_min} <= N < "
                           f"{section.conductor_max} in the tables")
    return curves


def main() -> None:
    params = load_params()
    curves = ingest(params.ingest)
    write_parquet(curves, params.paths.curves)
    print(f"ingest: {len(curves)} curves, {curves['isogeny_class'].n_unique()} isogeny classes, "
          f"conductors {curves['conductor'].min()}..{curves['conductor'].max()} "
          f"-> {params.paths.curves}", file=sys.stderr)


if __name__ == "__main__":
    try:
        main()
    except (ParamsError, ElldataError, CurveError) as err:
        sys.exit(f"ingest: error: {err}")
