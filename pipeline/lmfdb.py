"""Pulling tables of the LMFDB API (``/api/<table>/?_format=json``) into polars frames.

The API returns pages of at most 100 records in an envelope (``data``, ``start``, ``offset``,
``next``: the URL of the next page; an empty ``data`` ends the listing) and refuses offsets
beyond 10,000, so a pull is split into conductor windows (``conductor=py{'$gte': a, '$lt': b}``)
and a window the server refuses is halved. Pages go through :class:`pipeline.fetch.Fetcher`
(cached by URL, so an interrupted pull resumes page by page; lock-checked; retried). Only the
requested ``_fields`` are kept; a record without one of them, a page that is not JSON, an error
envelope, or a page that does not continue where the last one stopped is an
:class:`LmfdbError` naming the URL (and the record and field).
"""
from __future__ import annotations

import json
from urllib.parse import quote, urljoin

import polars as pl

from pipeline.fetch import Fetcher

#: ``ec_curvedata`` fields of the curve table, and what they become.
CURVE_FIELDS = ["lmfdb_label", "Clabel", "lmfdb_iso", "Ciso", "conductor", "ainvs"]


class LmfdbError(ValueError):
    """The API answered something a pull cannot use; the message names the URL."""


class OffsetRefused(LmfdbError):
    """The server refuses the page's offset: the query must be narrowed."""


def window_url(base: str, table: str, fields: list[str], low: int, high: int) -> str:
    """The first page of ``table`` for conductors low <= N < high, with only ``fields``."""
    condition = quote("py{'$gte': %d, '$lt': %d}" % (low, high))
    return (f"{base.rstrip('/')}/api/{table}/?_format=json&conductor={condition}"
            f"&_fields={','.join(fields)}&_offset=0")


def _page(fetcher: Fetcher, url: str) -> dict:
    raw = fetcher.get(url)
    try:
        page = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise LmfdbError(f"{url}: not JSON ({err}); the first bytes are {raw[:60]!r}") from None
    if isinstance(page, dict) and "error" in page:
        refused = "offset" in str(page["error"]).lower()
        raise (OffsetRefused if refused else LmfdbError)(
            f"{url}: the server says: {page['error']}")
    if not isinstance(page, dict) or not isinstance(page.get("data"), list):
        raise LmfdbError(f"{url}: not an API page (no 'data' list)")
    return page


def pull_window(fetcher: Fetcher, base: str, table: str, fields: list[str], low: int,
                high: int) -> list[dict]:
    """Every record of one conductor window, following ``next`` to the empty page."""
    url, records = window_url(base, table, fields, low, high), []
    while True:
        page = _page(fetcher, url)
        if page.get("start", len(records)) != len(records):
            raise LmfdbError(f"{url}: the page starts at record {page.get('start')}, but "
                             f"{len(records)} records came before it")
        if not page["data"]:
            return records
        for index, record in enumerate(page["data"]):
            missing = [f for f in fields if f not in record]
            if missing:
                raise LmfdbError(f"{url}: record {page['start'] + index}"
                                 f" ({record.get(fields[0], '?')}) has no field {missing[0]!r}")
            records.append({f: record[f] for f in fields})
        if not page.get("next"):
            raise LmfdbError(f"{url}: a non-empty page without 'next'")
        url = urljoin(url, page["next"])


def pull(fetcher: Fetcher, base: str, table: str, fields: list[str], conductor_min: int,
         conductor_max: int, window: int) -> list[dict]:
    """Every record with conductor_min <= N < conductor_max, window by window; a window the
    server refuses (offset too large) is split in two."""
    records, pending = [], [(low, min(low + window, conductor_max))
                            for low in range(conductor_min, conductor_max, window)]
    while pending:
        low, high = pending.pop(0)
        try:
            records += pull_window(fetcher, base, table, fields, low, high)
        except OffsetRefused:
            if high - low < 2:
                raise
            middle = (low + high) // 2
            pending[:0] = [(low, middle), (middle, high)]
    return records


def curve_table(records: list[dict]) -> pl.DataFrame:
    """``ec_curvedata`` records (:data:`CURVE_FIELDS`) as the curve table's columns, Cremona
    labels first (``label``, ``isogeny_class``, ``number``) and the LMFDB labels kept beside."""
    rows = [{"label": r["Clabel"], "isogeny_class": r["Ciso"],
             "number": int(r["Clabel"][len(r["Ciso"]):]), "conductor": int(r["conductor"]),
             "ainvs": [int(a) for a in r["ainvs"]], "lmfdb_label": r["lmfdb_label"],
             "lmfdb_iso": r["lmfdb_iso"]} for r in records]
    schema = {"label": pl.String, "isogeny_class": pl.String, "number": pl.Int64,
              "conductor": pl.Int64, "ainvs": pl.List(pl.Int64), "lmfdb_label": pl.String,
              "lmfdb_iso": pl.String}
    return pl.DataFrame(rows, schema=schema).sort("conductor", "isogeny_class", "number")
