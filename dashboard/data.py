"""What the dashboard reads: pipeline outputs only, located through params.yaml, cached.

Run from the project root (``make dashboard``). A missing output stops the page with a message
naming the ``dvc repro`` target that builds it: the stage that declares it in dvc.yaml. Nothing
here computes more than a filter, a sort, a histogram or a seeded sample of an output table.
"""
from __future__ import annotations

import json
import os
import re
from decimal import Decimal
from pathlib import Path

import polars as pl
import streamlit as st
import yaml

from machinery.params import PARAMS_FILE, ParamsError, Params, load_params

#: The pipeline's stages and what each writes, beside this code (the dashboard's own directory
#: may hold params.yaml alone).
DVC_FILE = Path(__file__).resolve().parent.parent / "dvc.yaml"
_PATHS_ENTRY = re.compile(r"\$\{paths\.(\w+)\}")


@st.cache_data(show_spinner=False, max_entries=2)
def _built_by(location: str, stamp: float) -> dict[str, str]:
    """The stage that writes each output ``paths.<name>`` (for the "missing" message), read
    from dvc.yaml's ``outs``, ``metrics`` and ``plots`` (``${paths.<name>}``, alone or as the
    key of its options), so that a stage moved or added there needs no change here."""
    built_by = {}
    for stage, spec in yaml.safe_load(Path(location).read_text())["stages"].items():
        for out in (*spec.get("outs", []), *spec.get("metrics", []), *spec.get("plots", [])):
            # an output with options (cache, persist, a plot's axes) is {path: options}
            for key in out if isinstance(out, dict) else [out]:
                if entry := _PATHS_ENTRY.fullmatch(key):
                    built_by[entry[1]] = stage
    return built_by


@st.cache_resource(show_spinner=False, max_entries=2)
def _params(location: str, stamp: float) -> Params:
    # one parse and validation per version of the file, not one per call on every rerun
    return load_params(location)


def params() -> Params:
    """params.yaml of the current directory (the project root), re-read when the file changes;
    stops the page if invalid."""
    try:
        return _params(str(PARAMS_FILE.resolve()),
                       _stamp(PARAMS_FILE) if PARAMS_FILE.exists() else 0.0)
    except ParamsError as err:
        st.error(f"Cannot read the pipeline's parameters: {err}")
        st.stop()


def path(name: str) -> Path:
    """The output ``paths.<name>``; stops the page with the build command when it is missing."""
    location = Path(getattr(params().paths, name))
    if not location.exists():
        st.warning(f"`{location}` has not been built yet. Build it with "
                   f"`dvc repro {_built_by(str(DVC_FILE), _stamp(DVC_FILE)).get(name, '')}` "
                   "(or `make run` for everything).")
        st.stop()
    return location


def _stamp(location: Path) -> float:
    return os.stat(location).st_mtime


@st.cache_resource(show_spinner=False, max_entries=8)
def _read(location: str, stamp: float, columns: tuple[str, ...] | None) -> pl.DataFrame:
    # cache_resource: one shared frame, not a copy per rerun (the full table is ~250 MB);
    # polars frames are not modified in place by the pages.
    return pl.read_parquet(location, columns=list(columns) if columns else None)


def table(name: str, columns: list[str] | None = None) -> pl.DataFrame:
    """A parquet output (whole, or some columns), re-read when the file changes."""
    location = path(name)
    return _read(str(location), _stamp(location), tuple(columns) if columns else None)


def optional_table(name: str) -> pl.DataFrame | None:
    """A parquet output, or None when it has not been built (pages that can do without it)."""
    location = Path(getattr(params().paths, name))
    return _read(str(location), _stamp(location), None) if location.exists() else None


def scan(name: str) -> pl.LazyFrame:
    """A lazy scan of a parquet output, for filters on the full table."""
    return pl.scan_parquet(path(name))


@st.cache_data(show_spinner=False)
def _read_json(location: str, stamp: float):
    return json.loads(Path(location).read_text())


def optional_json(name: str):
    """A JSON output, or None when it has not been built (pages that can do without it)."""
    location = Path(getattr(params().paths, name))
    return _read_json(str(location), _stamp(location)) if location.exists() else None


def _plain(value):
    """JSON for what json does not know: exact integers (a-invariants) as integers."""
    if isinstance(value, Decimal) and value == value.to_integral_value():
        return int(value)
    return str(value)


def csv_bytes(frame: pl.DataFrame) -> bytes:
    """A table as CSV; nested columns (lists, structs) as JSON text in their cells."""
    flat = frame.with_columns(
        pl.col(name).map_elements(lambda v: json.dumps(v.to_list() if isinstance(v, pl.Series)
                                                       else v, default=_plain),
                                  return_dtype=pl.String)
        for name, dtype in frame.schema.items() if dtype.is_nested())
    return flat.write_csv().encode()


def show(frame: pl.DataFrame, name: str, **options):
    """``st.dataframe`` of a table with a button that downloads it as ``<name>.csv``."""
    shown = st.dataframe(frame, **{"hide_index": True, **options})
    st.download_button(f"Download {name}.csv", csv_bytes(frame), f"{name}.csv", "text/csv",
                       key=f"download-{name}")
    return shown
