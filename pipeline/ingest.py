"""DVC stage ``ingest``: Cremona's curves in the conductor range -> ``paths.curves``, and what
the source publishes of their BSD quantities and a_p -> ``paths.published``, ``paths.published_ap``.

Sources (``ingest.source``):

- ``elldata`` (offline default): the tables of ``passagemath-pari-elldata`` (checksums checked
  against the wheel's RECORD), with Mordell–Weil generators; they publish nothing else, so the
  published table holds the rank (the number of generators) only.
- ``cremona``: Cremona's ecdata files ``allcurves``, ``allbsd``, ``aplist``
  (:mod:`sources.cremona`).
- ``lmfdb``: the LMFDB API tables ``ec_curvedata``, ``ec_mwbsd``, ``ec_classdata``
  (:mod:`sources.lmfdb`); the curve table keeps the LMFDB labels beside Cremona's.
- ``lmfdb_db``: the same three tables read from a PostgreSQL database, by default the LMFDB's
  public read-only mirror (:mod:`sources.lmfdb_db`); the same curve table as ``lmfdb``.

Downloads are cached and locked (:mod:`sources.fetch`; the lock file is committed and is a
dependency of this stage). The online sources publish no generators, so PARI finds them
(:mod:`arithmetic.generators`) in resumable chunks; every curve is checked as for the embedded
tables (non-singular, global minimal model, conductor equal to ``ellglobalred``'s).

The three tables and the lock file are published together (:func:`machinery.atomic.
publish_together`), once everything succeeded: a failure or a kill leaves the old set, or the
new one, never new tables beside an old lock or the reverse.
"""
from __future__ import annotations

import shutil
import sys
from functools import partial
from pathlib import Path

import polars as pl
from tqdm import tqdm

from arithmetic.crosscheck import PUBLISHED_AP_SCHEMA, published_frame
from arithmetic.curves import CurveError, checked_curve
from arithmetic.generators import mordell_weil_basis
from arithmetic.pari import process_pari, start_pari, start_process_pari
from arithmetic.schemas import CURVE_SCHEMA
from machinery.atomic import publish_together, write_parquet
from machinery.chunks import plan_chunks, run_chunks
from machinery.code_digest import code_digest
from machinery.params import Executor, Ingest, Params, ParamsError, load_params
from machinery.stage import run_stage
from sources.cremona import pull_cremona
from sources.ecdata import EcdataError
from sources.elldata import (ElldataError, curves_frame, files_for_range, read_table,
                             table_files)
from sources.fetch import Fetcher, FetchError, FetchSettings
from sources.lmfdb import (CLASS_FIELDS, CURVE_FIELDS, MWBSD_FIELDS, ApiFetcher, LmfdbError,
                            curve_table, published_ap, published_table, pull, pull_labels)
from sources.lmfdb_db import DatabaseFetcher, pull_database


def embedded_curves(section: Ingest) -> pl.DataFrame:
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
    return pl.concat(frames)


def pull_online(section: Ingest, fetcher: Fetcher) -> tuple[pl.DataFrame, pl.DataFrame,
                                                            pl.DataFrame]:
    """(curves without generators, published BSD quantities, published a_p) of the range."""
    low, high = section.conductor_min, section.conductor_max
    if section.source == "cremona":
        return pull_cremona(fetcher, section.base_url.cremona, low, high)
    if section.source == "lmfdb_db":
        return pull_database(fetcher, low, high, section.lmfdb_db_window)
    base = section.base_url.lmfdb
    records = pull(fetcher, base, "ec_curvedata", CURVE_FIELDS, low, high, section.lmfdb_window)
    curves = curve_table(records)
    mwbsd = pull_labels(fetcher, base, "ec_mwbsd", MWBSD_FIELDS,
                        curves["lmfdb_label"].to_list(), section.lmfdb_batch)
    classes = pull_labels(fetcher, base, "ec_classdata", CLASS_FIELDS,
                          curves["lmfdb_iso"].unique(maintain_order=True).to_list(),
                          section.lmfdb_batch)
    return curves, published_table(records, mwbsd), published_ap(classes, curves)


#: The precision of the curves' checks and generators (decimal digits).
REALPRECISION = 38


def generators_chunk(rows: pl.DataFrame, saturation_bound: int, where: str) -> pl.DataFrame:
    """The rows (with the published ``rank``) checked and given PARI's generators (``gens``)."""
    pari, gens = process_pari(), []
    for row in rows.iter_rows(named=True):
        curve = checked_curve(pari, row["label"], row["conductor"], row["ainvs"], [],
                              where=row.get("record") or where)[0]
        gens.append(mordell_weil_basis(pari, curve, row["rank"], saturation_bound, row["label"]))
    return rows.drop("rank", "record", strict=False).with_columns(
        pl.Series("gens", gens, dtype=CURVE_SCHEMA["gens"]))


def with_generators(curves: pl.DataFrame, ranks: pl.DataFrame, section: Ingest,
                    chunk_dir: Path, where: str, executor: Executor | None = None) -> pl.DataFrame:
    """``curves`` with a ``gens`` column found by PARI, in resumable chunks of whole classes."""
    rows = curves.join(ranks.select("label", "rank"), on="label", how="left",
                       maintain_order="left")
    unranked = rows.filter(pl.col("rank").is_null())["label"].head(3).to_list()
    if unranked:
        raise EcdataError(f"{where}: no published rank for {unranked}")
    code = code_digest("pipeline.ingest")
    chunks = plan_chunks(rows, "isogeny_class", section.chunk_size,
                         f"saturation_bound={section.saturation_bound};{code}")
    task = partial(generators_chunk, saturation_bound=section.saturation_bound, where=where)
    paths = run_chunks(rows, chunks, chunk_dir, task, workers=section.workers,
                       initializer=start_process_pari,
                       initargs=(REALPRECISION, section.pari_stack_mb),
                       desc="generators", executor=executor)
    table = pl.concat([pl.read_parquet(p) for p in paths])
    shutil.rmtree(chunk_dir)
    return table


def collect(params: Params) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame,
                                      Fetcher | None]:
    """(curves, published BSD quantities, published a_p) of the configured source and range,
    and the fetcher of an online source (its lock not yet written); nothing is published."""
    section = params.ingest
    fetcher = None
    if section.source == "elldata":
        curves = embedded_curves(section)
        published = published_frame(curves.select("label", rank=pl.col("gens").list.len()))
        published_aps = pl.DataFrame(schema=PUBLISHED_AP_SCHEMA)
    else:
        settings = FetchSettings(**section.fetch.model_dump())
        if section.source == "lmfdb_db":
            fetcher = DatabaseFetcher(params.paths.downloads, params.paths.sources_lock,
                                      settings, section.base_url.lmfdb_db)
            where = fetcher.where                   # the URI without its password
        else:
            where = getattr(section.base_url, section.source)
            kind = ApiFetcher if section.source == "lmfdb" else Fetcher
            fetcher = kind(params.paths.downloads, params.paths.sources_lock, settings,
                           base=where)
        raw, published, published_aps = pull_online(section, fetcher)
        curves = with_generators(raw, published, section, params.paths.ingest_chunks, where,
                                 params.executor)
    if curves.is_empty():
        raise ElldataError(f"no curves with {section.conductor_min} <= N < "
                           f"{section.conductor_max} in the {section.source} source")
    extra = [c for c in curves.columns if c not in CURVE_SCHEMA]    # the LMFDB labels
    return curves.select(*CURVE_SCHEMA, *extra), published, published_aps, fetcher


def ingest(params: Params) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """The stage: (curves, published BSD quantities, published a_p) of the configured source
    and range, published with the lock file of an online source as one set (only a pull that
    succeeded is locked, and only with the tables it gave)."""
    curves, published, published_aps, fetcher = collect(params)
    paths = params.paths
    targets = [paths.curves, paths.published, paths.published_ap]
    if fetcher is not None:
        targets.append(paths.sources_lock)
    with publish_together(*targets) as staged:
        for frame, staging in zip((curves, published, published_aps), staged):
            write_parquet(frame, staging)
        if fetcher is not None:
            fetcher.save_lock(staged[3])       # left unstaged (not rewritten) if unchanged
    return curves, published, published_aps


def main() -> None:
    params = load_params()
    curves, _, _ = ingest(params)
    print(f"ingest ({params.ingest.source}): {len(curves)} curves, "
          f"{curves['isogeny_class'].n_unique()} isogeny classes, conductors "
          f"{curves['conductor'].min()}..{curves['conductor'].max()} -> {params.paths.curves}",
          file=sys.stderr)


if __name__ == "__main__":
    run_stage("ingest", main, (ParamsError, ElldataError, EcdataError, CurveError, FetchError,
                               LmfdbError))
