"""Pulling tables of the LMFDB API (``/api/<table>/?_format=json``) into polars frames.

``ec_curvedata`` (curves, rank, torsion, regulator, Ш) is pulled by conductor window;
``ec_mwbsd`` (Ω, L^(r)(E,1)/r!, Tamagawa product) and ``ec_classdata`` (a_p) have no conductor
column, so they are pulled by batches of labels (``lmfdb_label=py{'$in': [...]}``).

The API returns pages of at most 100 records in an envelope (``data``, ``start``, ``offset``,
``next``: the URL of the next page; an empty ``data`` ends the listing) and refuses offsets
beyond 10,000, so a pull is split into conductor windows (``conductor=py{'$gte': a, '$lt': b}``)
and a window the server refuses is halved. Pages go through :class:`sources.fetch.Fetcher`
(cached by URL, so an interrupted pull resumes page by page; lock-checked; retried). Only the
requested ``_fields`` are kept. Records are not trusted: every field must be of its kind
(:data:`FIELD_KINDS`: a label of the LMFDB's or Cremona's form, an integer within the column it
goes into, a number, a list of integers). A record without one of the fields or with one of the
wrong kind, a page that is not JSON, an error envelope, a page that does not continue where the
last one stopped, or an empty page whose ``next`` goes on (the real last page points to itself)
is an :class:`LmfdbError` naming the URL (and the record and field). All of it, and the ``next``
link (refused if it leaves the configured base), is checked as the fetch's validation, so a page
refused is neither cached nor locked. An HTML page in place of JSON (the site's captcha for
scripted clients) is reported as a refusal; through :class:`ApiFetcher`, so are the site's other
ways of turning a script away (403, a redirect, 429 after the retries, an HTML error page): "the
LMFDB refused scripted access at URL". A value from the server quoted in an error is escaped and
cut short (:func:`shown`).
"""
from __future__ import annotations

import json
import re
from typing import Callable
from urllib.parse import parse_qs, quote, urljoin, urlparse

import polars as pl
import requests

from arithmetic.crosscheck import PUBLISHED_AP_SCHEMA, published_frame
from sources.ecdata import APLIST_PRIMES, cremona_order
from sources.elldata import ainvs_series
from sources.fetch import Fetcher, excerpt, shown

#: ``ec_curvedata`` fields: the curve table's, then the published BSD quantities'.
CURVE_FIELDS = ["lmfdb_label", "Clabel", "lmfdb_iso", "Ciso", "conductor", "ainvs", "rank",
                "torsion", "regulator", "sha"]
#: ``ec_mwbsd`` fields (by curve) and ``ec_classdata`` fields (by isogeny class).
MWBSD_FIELDS = ["lmfdb_label", "real_period", "special_value", "tamagawa_product"]
CLASS_FIELDS = ["lmfdb_iso", "aplist"]


class LmfdbError(ValueError):
    """The API answered something a pull cannot use; the message names the URL."""


class OffsetRefused(LmfdbError):
    """The server refuses the page's offset: the query must be narrowed."""


def _offset(url: str) -> int | None:
    """The ``_offset`` of a page URL, or None where it has none that is a whole number."""
    try:
        offset = parse_qs(urlparse(url).query).get("_offset", ["0"])[0]
    except ValueError:
        return None
    return int(offset) if re.fullmatch(r"[0-9]{1,18}", offset) else None


def listing_url(base: str, table: str, fields: list[str], condition: str) -> str:
    """The first page of ``table`` where ``condition`` (``column=typed value``), with ``fields``."""
    return (f"{base.rstrip('/')}/api/{table}/?_format=json&{condition}"
            f"&_fields={','.join(fields)}&_offset=0")


def window_url(base: str, table: str, fields: list[str], low: int, high: int) -> str:
    """The first page of ``table`` for conductors low <= N < high, with only ``fields``."""
    return listing_url(base, table, fields,
                       "conductor=" + quote("py{'$gte': %d, '$lt': %d}" % (low, high)))


def refused_access(url: str, answer: str) -> LmfdbError:
    """The error of a page the site would not serve to a script: ``answer`` says what came
    back instead, and the message points to the path the LMFDB offers scripts."""
    return LmfdbError(f"the LMFDB refused scripted access at {url} (it answered {answer}); "
                      "use `ingest.source: lmfdb_db`")


def _is_html(content_type: str) -> bool:
    return content_type.split(";")[0].strip().lower() in ("text/html", "application/xhtml+xml")


class ApiFetcher(Fetcher):
    """The fetcher of the LMFDB API. The public site turns scripts away with something other
    than an API page, so every such answer is reported as that refusal (naming the URL and
    pointing to ``lmfdb_db``) rather than as a bare HTTP status: an HTML page (by its
    Content-Type, or by its body on an error status) whatever the status, 403 Forbidden, a
    redirect (to a captcha page, say; never followed), and a 429 Too Many Requests or an
    HTML 5xx that outlasts the retries (earlier ones are retried as for any source)."""

    def refusal(self, url: str, response: requests.Response,
                final: bool) -> LmfdbError | None:
        if not final:
            return None
        status = response.status_code
        html = _is_html(response.headers.get("Content-Type", ""))
        if status != 200 and not html:
            # an error's body is never used, so its first bytes may be read to tell an HTML
            # page without its Content-Type; a 200's body is checked whole by parse_page
            html = next(response.iter_content(64), b"").lstrip()[:1] == b"<"
        redirect = 300 <= status < 400
        if not (html or redirect or status in (403, 429)):
            return None
        answer = f"HTTP {status} {shown(response.reason or '')}".rstrip()
        if html:
            answer += ", an HTML page"
        if redirect:
            answer += f", a redirect to {shown(response.headers.get('Location', ''), 80)}"
        if status == 429:
            answer += f" to the last of {self.settings.retries + 1} attempts"
        return refused_access(url, answer)


def parse_page(raw: bytes, url: str) -> dict:
    """An API page's envelope, or :class:`LmfdbError` naming ``url`` (with at most a short
    escaped excerpt of the body)."""
    if raw.lstrip()[:1] == b"<":
        raise refused_access(url, f"an HTML page, {excerpt(raw.lstrip())}")
    try:
        page = json.loads(raw)
    except (ValueError, RecursionError) as err:     # not JSON, not UTF-8, too deep, too long
        raise LmfdbError(f"{url}: not JSON ({type(err).__name__} at byte "
                         f"{getattr(err, 'pos', getattr(err, 'start', '?'))}); the first bytes "
                         f"are {excerpt(raw)}") from None
    if isinstance(page, dict) and "error" in page:
        error = page["error"]
        refused = isinstance(error, str) and "offset" in error.lower()
        raise (OffsetRefused if refused else LmfdbError)(
            f"{url}: the server says: {shown(error)}")
    if not isinstance(page, dict) or not isinstance(page.get("data"), list):
        raise LmfdbError(f"{url}: not an API page (no 'data' list)")
    if not all(isinstance(r, dict) for r in page["data"]):
        raise LmfdbError(f"{url}: 'data' holds something other than records")
    if page.get("next") is not None and not isinstance(page["next"], str):
        raise LmfdbError(f"{url}: 'next' is not a URL")
    return page


# ---------------------------------------------------------------- what a record must hold

#: Bound of a 64-bit column (conductor, Ш, Tamagawa product, a_p).
_INT64 = 2 ** 63
#: Decimal text of an integer: 40 digits exceed every bound below, and Python refuses to read
#: more than 4,300, so longer text is refused before it is read.
_WHOLE = re.compile(r"[+-]?[0-9]{1,40}")


def _label(pattern: str) -> Callable[[object], str]:
    form = re.compile(pattern)

    def parse(value) -> str:
        if not (isinstance(value, str) and form.fullmatch(value)):
            raise ValueError(value)
        return value
    return parse


def _whole(low: int, high: int) -> Callable[[object], int]:
    """An integer low <= n < high: an int (not a bool), or its decimal text (the database
    path reads ``numeric`` as its exact text)."""
    def parse(value) -> int:
        if isinstance(value, str) and _WHOLE.fullmatch(value):
            value = int(value)
        if type(value) is not int or not low <= value < high:
            raise ValueError(value)
        return value
    return parse


def _wholes(length: int, bound: int, exact: bool) -> Callable[[object], list[int]]:
    """A list of ``length`` integers (at least ``length`` unless ``exact``), each of absolute
    value below ``bound``."""
    whole = _whole(1 - bound, bound)

    def parse(value) -> list[int]:
        if not isinstance(value, list) or len(value) < length or exact and len(value) > length:
            raise ValueError(value)
        return [whole(v) for v in value]
    return parse


def _number(value) -> float:
    """A real number: an int or float (not a bool), or its decimal text."""
    if isinstance(value, str) and len(value) <= 400:
        return float(value)
    if type(value) not in (int, float):
        raise ValueError(value)
    return float(value)


#: What each field of a record must hold: (what an error calls it, its parse, whether null is
#: allowed). Labels must have the LMFDB's or Cremona's form (they are spliced into queries and
#: split into class and number); integers must fit the column they go into (the a-invariants:
#: the curve table's Decimal(38, 0)). Null is allowed where the pull does without the value:
#: Cremona's labels (none beyond his tables) and the published quantities (null: not compared).
FIELD_KINDS: dict[str, tuple[str, Callable[[object], object], bool]] = {
    "lmfdb_label": ("an LMFDB curve label (N.aK)",
                    _label(r"[0-9]{1,19}\.[a-z]{1,8}[0-9]{1,4}"), False),
    "lmfdb_iso": ("an LMFDB class label (N.a)", _label(r"[0-9]{1,19}\.[a-z]{1,8}"), False),
    "Clabel": ("a Cremona curve label (NaK)", _label(r"[0-9]{1,19}[a-z]{1,8}[0-9]{1,4}"), True),
    "Ciso": ("a Cremona class label (Na)", _label(r"[0-9]{1,19}[a-z]{1,8}"), True),
    "conductor": ("a positive 64-bit integer", _whole(1, _INT64), False),
    "ainvs": ("a list of 5 integers below 10^38 in absolute value",
              _wholes(5, 10 ** 38, exact=True), False),
    "rank": ("an integer from 0 to 127", _whole(0, 2 ** 7), True),
    "torsion": ("an integer from 1 to 32767", _whole(1, 2 ** 15), True),
    "regulator": ("a number", _number, True),
    "sha": ("a positive 64-bit integer", _whole(1, _INT64), True),
    "real_period": ("a number", _number, True),
    "special_value": ("a number", _number, True),
    "tamagawa_product": ("a positive 64-bit integer", _whole(1, _INT64), True),
    "aplist": (f"a list of 64-bit integers, a_p for the {len(APLIST_PRIMES)} primes below 100",
               _wholes(len(APLIST_PRIMES), _INT64, exact=False), False),
}


def _parsed(value, field: str, name: str):
    """``value`` of ``field`` as :data:`FIELD_KINDS` reads it, or an error naming ``name`` (the
    record), the field and an excerpt of the value."""
    if field not in FIELD_KINDS:
        return value
    what, parse, nullable = FIELD_KINDS[field]
    if value is None and nullable:
        return None
    try:
        if value is None:
            raise ValueError(value)
        return parse(value)
    except (TypeError, ValueError, OverflowError):
        quoted = repr(value) if isinstance(value, str) else value     # "1" is not 1
        raise LmfdbError(f"{name}: field {field!r} = {shown(quoted)} is not {what}"
                         + (" or null" if nullable else "")) from None


def _name(record: dict) -> str:
    """How errors name a record: its ``record`` (page and index, or window and row), else its
    key."""
    return record.get("record") or shown(record.get("lmfdb_label", record.get("lmfdb_iso")))


def _get(record: dict, field: str, name: str):
    if field not in record:
        raise LmfdbError(f"{name} has no field {field!r}")
    return _parsed(record[field], field, name)


def _labels(record: dict, name: str) -> tuple[str, str, int]:
    """(label, isogeny class, curve number): Cremona's, or the LMFDB's beyond Cremona's tables
    (N ≥ 500,000, where ``Clabel`` is null); the label must be its class's followed by the
    number."""
    fields = ("lmfdb_label", "lmfdb_iso") if _get(record, "Clabel", name) is None else \
        ("Clabel", "Ciso")
    label, iso = (_get(record, f, name) for f in fields)
    if iso is None or not label.startswith(iso) or not label[len(iso):].isdigit():
        raise LmfdbError(f"{name}: {fields[0]} {shown(label)} is not a curve of the class "
                         f"{fields[1]} {shown(iso)}")
    return label, iso, int(label[len(iso):])


def checked_record(record: dict, fields: list[str], name: str) -> dict:
    """The record's ``fields``, each read as its kind (:data:`FIELD_KINDS`: decimal text of an
    integer becomes the integer), or an :class:`LmfdbError` naming ``name`` (the record), the
    field and an excerpt of the value. A curve's labels must agree (the label is its class's
    followed by a number)."""
    missing = [f for f in fields if f not in record]
    if missing:
        raise LmfdbError(f"{name} has no field {missing[0]!r}")
    checked = {f: _parsed(record[f], f, name) for f in fields}
    if "Clabel" in checked:
        _labels(checked, name)
    return checked


# ---------------------------------------------------------------- listings

def checked_page(raw: bytes, url: str, fields: list[str], fetcher: Fetcher,
                 before: int) -> dict:
    """The page at ``url`` of a listing (``before`` records came before it), if a pull can
    take everything it needs from it: its envelope (:func:`parse_page`), where it starts, every
    record (:func:`checked_record`, each given its ``record``: page and index), and a ``next``
    link within the fetcher's source that goes on to the record after the page's last (a
    non-empty page) or points back to the page (the last, empty one). Else an
    :class:`LmfdbError` naming the URL. Run as the fetch's validation, so a page refused here
    is neither cached nor locked."""
    page = parse_page(raw, url)
    start = page.get("start", before)
    if type(start) is not int or start != before:
        raise LmfdbError(f"{url}: the page starts at record {shown(start)}, but {before} "
                         "records came before it")
    following = page.get("next")
    target = _joined(url, following) if following else None
    if not page["data"]:
        offset = _offset(target) if target else None
        if following and offset != start:
            raise LmfdbError(f"{url}: an empty page in the middle of the listing (its 'next' "
                             "goes on to " + (shown(following) if offset is None else
                                              f"offset {offset}") + ")")
        return page
    if not following:
        raise LmfdbError(f"{url}: a non-empty page without 'next'")
    if target is None or not fetcher.inside(target):
        raise LmfdbError(f"{url}: its 'next' link {shown(following)} leaves the configured "
                         f"source {fetcher.base}; refused")
    if _offset(target) != before + len(page["data"]):       # else a listing could cycle
        raise LmfdbError(f"{url}: its 'next' link {shown(following)} does not go on to record "
                         f"{before + len(page['data'])}")
    records = []
    for index, record in enumerate(page["data"], start=before):
        where = f"{url}: record {index}"
        checked = checked_record(record, fields, f"{where} ({shown(record.get(fields[0]))})")
        records.append({**checked, "record": where})
    return {**page, "data": records}


def _joined(url: str, link: str) -> str | None:
    """``link`` resolved against the page ``url``, or None if it is no URL at all."""
    try:
        return urljoin(url, link)
    except ValueError:
        return None


def pull_listing(fetcher: Fetcher, url: str, fields: list[str]) -> list[dict]:
    """Every record of a listing from its first page ``url``, following ``next`` to the empty
    page; each record's fields checked and read (:func:`checked_page`), with its ``record``."""
    records = []
    while True:
        page = fetcher.parsed(url, lambda raw: checked_page(raw, url, fields, fetcher,
                                                            len(records)))
        if not page["data"]:
            return records
        records += page["data"]
        url = urljoin(url, page["next"])


def pull_window(fetcher: Fetcher, base: str, table: str, fields: list[str], low: int,
                high: int) -> list[dict]:
    """Every record of one conductor window."""
    return pull_listing(fetcher, window_url(base, table, fields, low, high), fields)


def pull_labels(fetcher: Fetcher, base: str, table: str, fields: list[str], labels: list[str],
                batch: int) -> list[dict]:
    """The records of ``table`` whose key ``fields[0]`` is one of ``labels``, ``batch`` labels
    a query; every label must come back exactly once."""
    key, records = fields[0], []
    for start in range(0, len(labels), batch):
        chosen = labels[start:start + batch]
        condition = f"{key}=" + quote("py{'$in': [%s]}" % ", ".join(repr(x) for x in chosen))
        url = listing_url(base, table, fields, condition)
        found = pull_listing(fetcher, url, fields)
        returned = sorted(r[key] for r in found)
        if returned != sorted(chosen):
            differing = (sorted(set(chosen) - set(returned))
                         or sorted(set(returned) - set(chosen))
                         or sorted({x for x in returned if returned.count(x) > 1}))
            raise LmfdbError(f"{url}: asked for {len(chosen)} {key}s, got {len(found)}; "
                             f"differing: {', '.join(shown(x) for x in differing[:5])}")
        records += found
    return records


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


# ---------------------------------------------------------------- conversion

def curve_table(records: list[dict]) -> pl.DataFrame:
    """``ec_curvedata`` records as the curve table's columns
    (:data:`arithmetic.schemas.CURVE_SCHEMA` without ``gens``), Cremona labels first (the
    LMFDB's where there is none) and the LMFDB labels beside, in Cremona's order; ``record``
    names each curve's page and record (or window and row). A field of the wrong kind is an
    error naming the record and the field."""
    rows, ainvs = [], []
    for r in records:
        name = _name(r)
        label, iso, number = _labels(r, name)
        rows.append({"label": label, "isogeny_class": iso, "number": number,
                     "conductor": _get(r, "conductor", name),
                     "lmfdb_label": _get(r, "lmfdb_label", name),
                     "lmfdb_iso": _get(r, "lmfdb_iso", name), "record": r.get("record")})
        ainvs.append(_get(r, "ainvs", name))
    schema = {"label": pl.String, "isogeny_class": pl.String, "number": pl.Int16,
              "conductor": pl.Int64, "lmfdb_label": pl.String, "lmfdb_iso": pl.String,
              "record": pl.String}
    table = pl.DataFrame(rows, schema=schema).insert_column(4, ainvs_series(ainvs))
    return cremona_order(table)


def published_table(curves: list[dict], mwbsd: list[dict]) -> pl.DataFrame:
    """The BSD quantities the LMFDB publishes (``ec_curvedata`` joined with ``ec_mwbsd`` on
    the LMFDB label), one row per curve, by Cremona label."""
    by_label = {_get(r, "lmfdb_label", _name(r)): r for r in mwbsd}
    rows = []
    for r in curves:
        name = _name(r)
        extra = by_label.get(_get(r, "lmfdb_label", name), {})
        rows.append({"label": _labels(r, name)[0],
                     **{f: _get(r, f, name) for f in ("rank", "torsion", "regulator", "sha")},
                     **{f: _get(extra, f, _name(extra)) for f in
                        ("real_period", "special_value", "tamagawa_product") if f in extra}})
    return published_frame(pl.DataFrame(rows, infer_schema_length=None))


def published_ap(classes: list[dict], curves: pl.DataFrame) -> pl.DataFrame:
    """``ec_classdata.aplist`` (a_p for the 25 primes p < 100) at the primes of good reduction,
    by Cremona class; a_p at a bad prime (0 or ±1) does not determine w_p, so it is left out."""
    cremona = dict(curves.select("lmfdb_iso", "isogeny_class").unique().iter_rows())
    rows = []
    for r in classes:
        name = _name(r)
        iso, values = _get(r, "lmfdb_iso", name), _get(r, "aplist", name)
        if iso not in cremona:
            raise LmfdbError(f"{name}: class {shown(iso)} has no curve in the curve table")
        conductor = int(iso.split(".")[0])
        rows += [{"isogeny_class": cremona[iso], "prime": p, "ap": a}
                 for p, a in zip(APLIST_PRIMES, values) if conductor % p]
    return pl.DataFrame(rows, schema=PUBLISHED_AP_SCHEMA).sort(
        "isogeny_class", "prime", maintain_order=True)
