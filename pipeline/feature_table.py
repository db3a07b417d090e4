"""The feature table of a set of curves: what the features stage writes, and what the two
reference-sample stages compute for their own curves (:mod:`pipeline.reference`).

The PARI work (a_p, w_p and the conductor's factorization, once per isogeny class) and the exact
integer work on the Weierstrass coefficients run in ``features.workers`` processes over chunks of
whole classes, resumably (:mod:`machinery.chunks`). The rest is vectorized: normalized traces and
Mestre–Nagao sums (:func:`models.features.trace_features`), conductor features, the logs of
the BSD quantities from ``paths.bsd``, and the numbers of the invariants stage's table
``paths.invariants`` (modular degree, isogeny class, Szpiro ratio, low zeros, 2-Selmer rank).
Every column belongs to a feature group (:mod:`arithmetic.feature_groups`).
"""
from __future__ import annotations

import importlib
import re
import threading
from functools import partial
from pathlib import Path

import numpy as np
import polars as pl

from arithmetic.local_data import LOCAL_DATA_SCHEMA
from arithmetic.pari import process_pari, start_process_pari
from arithmetic.primes import primes_up_to
from arithmetic.schemas import INVARIANT_NUMBERS, ZERO_COLUMNS
from arithmetic.traces import class_arithmetic
from arithmetic.weierstrass import WEIERSTRASS_COLUMNS, weierstrass_features
from machinery.chunks import plan_chunks, run_chunks
from machinery.code_digest import code_digest
from machinery.params import Executor, Features, ParamsError
from models.features import (KEY_COLUMNS, ap_matrix, bsd_features, conductor_features,
                             resolve_groups, topology_columns, topology_features, torsion_bound,
                             trace_features)

#: The exact local data beside the Kodaira counts: reduction types and local root numbers.
LOCAL_DATA_COLUMNS = ["split_primes", "nonsplit_primes", "local_root_number_minus",
                      *LOCAL_DATA_SCHEMA]

#: a_p, w_p and factorizations are exact: PARI's least precision.
REALPRECISION = 19


def features_chunk(rows: pl.DataFrame, primes: list[int], l_series_tolerance: float,
                   l_series_terms_max: int) -> pl.DataFrame:
    """PARI and exact-integer features of a chunk of curves (whole isogeny classes)."""
    arithmetic_part = class_arithmetic(process_pari(), rows, primes, l_series_tolerance,
                                       l_series_terms_max).drop("l_series_terms")
    weierstrass = pl.DataFrame([weierstrass_features([int(a) for a in ainvs])
                                for ainvs in rows["ainvs"].to_list()],
                               schema=WEIERSTRASS_COLUMNS, orient="row")
    return pl.concat([arithmetic_part, weierstrass], how="horizontal")


def compute_features(curves: pl.DataFrame, bsd: pl.DataFrame, section: Features,
                     chunk_dir, executor: Executor | None = None) -> pl.DataFrame:
    """The feature table of ``curves`` (with their BSD table ``bsd``, same rows and order)."""
    if not bsd["label"].equals(curves["label"]):
        raise ValueError("the bsd table does not hold the curves of the curve table in order; "
                         "rerun `dvc repro bsd`")
    primes = primes_up_to(section.primes_max)
    salt = (f"primes_max={section.primes_max};tolerance={section.l_series_tolerance};"
            f"terms_max={section.l_series_terms_max};" + code_digest("pipeline.feature_table"))
    inputs = curves.select(*KEY_COLUMNS, "ainvs")
    chunks = plan_chunks(inputs, "isogeny_class", section.chunk_size, salt)
    # giotto-tda takes about 1.7 s to import (scikit-learn, scipy.stats); the assembly needs it
    # after the chunks, so it is imported while the workers compute them
    topology = threading.Thread(target=importlib.import_module, args=("models.topology",))
    topology.start()
    paths = run_chunks(inputs, chunks, chunk_dir, partial(features_chunk, primes=primes,
                                          l_series_tolerance=section.l_series_tolerance,
                                          l_series_terms_max=section.l_series_terms_max),
                       workers=section.workers, initializer=start_process_pari,
                       initargs=(REALPRECISION, section.pari_stack_mb), desc="features",
                       executor=executor)
    topology.join()
    computed = pl.read_parquet(paths)
    if not computed["label"].equals(curves["label"]):
        raise ValueError(f"chunks in {chunk_dir} do not hold the input curves in order; "
                         "delete the directory and rerun")
    return assemble(curves, bsd, computed, section)


def assemble(curves: pl.DataFrame, bsd: pl.DataFrame, computed: pl.DataFrame,
             section: Features, shape: pl.DataFrame | None = None) -> pl.DataFrame:
    """The feature table from the chunks' PARI part ``computed`` (same rows as ``curves``);
    ``shape``: the topology columns, if not computed here (:func:`topology_features`)."""
    primes = primes_up_to(section.primes_max)
    with_bad = computed.with_columns(curves["conductor"], bsd["semistable"])
    ap, conductor = ap_matrix(computed, primes), curves["conductor"].to_numpy()
    traces = trace_features(ap, conductor, primes, section.mestre_nagao_bounds)
    if shape is None:
        shape = topology_features(
            pl.concat([curves.select("conductor"), computed.select(WEIERSTRASS_COLUMNS), traces],
                      how="horizontal"), section.topology_windows,
            [p for p in primes if p <= section.topology_primes_max], section.topology_landmarks,
            section.topology_bins, section.topology_seed)
    return pl.concat([curves.select(KEY_COLUMNS), conductor_features(with_bad),
                      computed.select(WEIERSTRASS_COLUMNS), traces, shape,
                      computed.select(LOCAL_DATA_COLUMNS),
                      computed.select("l_series_0", "l_series_1").with_columns(
                          torsion_bound=torsion_bound(ap, conductor, primes)),
                      bsd.select("root_number"), bsd_features(bsd)], how="horizontal")


def invariant_features(invariants: pl.DataFrame, curves: pl.DataFrame,
                       path: Path | str = "the invariants table") -> pl.DataFrame:
    """The numbers of the invariants table (:data:`arithmetic.schemas.INVARIANT_NUMBERS` and
    the zero heights), row for row with ``curves``; the lists (isogeny degrees and matrix) stay
    out. ``path`` names the table in the error when its rows are not the curves'."""
    if not invariants["label"].equals(curves["label"]):
        raise ValueError(f"{path} does not hold the curves of the curve table in order; rerun "
                         "`dvc repro invariants`")
    return invariants.select(c for c in invariants.columns
                             if c in INVARIANT_NUMBERS or re.fullmatch(ZERO_COLUMNS, c))


def feature_table(curves: pl.DataFrame, bsd: pl.DataFrame, invariants: pl.DataFrame,
                  section: Features, chunk_dir, executor: Executor | None = None) -> pl.DataFrame:
    """The features stage's table: :func:`compute_features` of the curves, then the numbers of
    their invariants table (:func:`invariant_features`, already selected)."""
    return pl.concat([compute_features(curves, bsd, section, chunk_dir, executor), invariants],
                     how="horizontal")


def planned_columns(curves: pl.DataFrame, bsd: pl.DataFrame, section: Features,
                    invariant_columns: list[str]) -> list[str]:
    """The columns the feature table will have: they depend on the params alone, so they are
    those of the first isogeny class's features, computed here in a few milliseconds, then
    ``invariant_columns`` (:func:`invariant_features`)."""
    start_process_pari(REALPRECISION, section.pari_stack_mb)
    count = int((curves["isogeny_class"] == curves["isogeny_class"][0]).sum())
    head = curves.head(count).select(*KEY_COLUMNS, "ainvs")
    computed = features_chunk(head, primes_up_to(section.primes_max),
                              section.l_series_tolerance, section.l_series_terms_max)
    # the topology's columns by name: their Betti curves would import giotto-tda here
    shape = pl.DataFrame({name: np.zeros(count)
                          for name in topology_columns(section.topology_bins)})
    return [*assemble(curves.head(count), bsd.head(count), computed, section, shape).columns,
            *invariant_columns]


def resolved_groups(columns: list[str]) -> dict[str, list[str]]:
    """The feature groups (:mod:`arithmetic.feature_groups`) resolved against ``columns``;
    :class:`ParamsError` for a pattern matching no column or a column in no group (which
    columns exist depends on the params: the primes, the bounds, the topology's bins)."""
    try:
        return resolve_groups(columns)
    except ValueError as err:
        raise ParamsError(f"params.yaml: {err} (arithmetic/feature_groups.py)") from None


def check_groups(curves: pl.DataFrame, bsd: pl.DataFrame, section: Features,
                 invariant_columns: list[str]) -> dict[str, list[str]]:
    """The feature groups resolved against the columns these params plan, before any chunk
    runs (:func:`resolved_groups`)."""
    return resolved_groups(planned_columns(curves, bsd, section, invariant_columns))
