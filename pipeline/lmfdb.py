"""Pulling tables of the LMFDB API (``/api/<table>/?_format=json``) into polars frames.

``ec_curvedata`` (curves, rank, torsion, regulator, Ш) is pulled by conductor window;
``ec_mwbsd`` (Ω, L^(r)(E,1)/r!, Tamagawa product) and ``ec_classdata`` (a_p) have no conductor
column, so they are pulled by batches of labels (``lmfdb_label=py{'$in': [...]}``).

The API returns pages of at most 100 records in an envelope (``data``, ``start``, ``offset``,
``next``: the URL of the next page; an empty ``data`` ends the listing) and refuses offsets
beyond 10,000, so a pull is split into conductor windows (``conductor=py{'$gte': a, '$lt': b}``)
and a window the server refuses is halved. Pages go through :class:`pipeline.fetch.Fetcher`
(cached by URL, so an interrupted pull resumes page by page; lock-checked; retried). Only the
requested ``_fields`` are kept; a record without one of them, a page that is not JSON, an error
envelope, a page that does not continue where the last one stopped, or an empty page whose
``next`` goes on (the real last page points to itself) is an
:class:`LmfdbError` naming the URL (and the record and field). A page is checked before it is
cached or locked; an HTML page in place of JSON (the site's captcha for scripted clients) is
reported as a refusal, and a ``next`` link that leaves the configured base is refused. Through
:class:`ApiFetcher`, so are the site's other ways of turning a script away (403, a redirect,
429 after the retries, an HTML error page): "the LMFDB refused scripted access at URL".
"""
from __future__ import annotations

import json
from urllib.parse import parse_qs, quote, urljoin, urlparse

import polars as pl
import requests

from arithmetic.crosscheck import PUBLISHED_AP_SCHEMA, published_frame
from arithmetic.ecdata import APLIST_PRIMES, cremona_order
from arithmetic.elldata import ainvs_series
from pipeline.fetch import Fetcher, excerpt, within

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


def _short(value, limit: int = 40) -> str:
    """A value of a record as escaped text, cut to ``limit`` characters (records are not
    trusted)."""
    text = str(value).encode("unicode_escape").decode("ascii")
    return text[:limit] + ("..." if len(text) > limit else "")


def _offset(url: str) -> int:
    return int(parse_qs(urlparse(url).query).get("_offset", ["0"])[0])


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
        answer = f"HTTP {status} {_short(response.reason or '')}".rstrip()
        if html:
            answer += ", an HTML page"
        if redirect:
            answer += f", a redirect to {_short(response.headers.get('Location', ''), 80)}"
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
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise LmfdbError(f"{url}: not JSON ({type(err).__name__} at byte "
                         f"{getattr(err, 'pos', getattr(err, 'start', '?'))}); the first bytes "
                         f"are {excerpt(raw)}") from None
    if isinstance(page, dict) and "error" in page:
        refused = "offset" in str(page["error"]).lower()
        raise (OffsetRefused if refused else LmfdbError)(
            f"{url}: the server says: {excerpt(str(page['error']).encode())}")
    if not isinstance(page, dict) or not isinstance(page.get("data"), list):
        raise LmfdbError(f"{url}: not an API page (no 'data' list)")
    if not all(isinstance(r, dict) for r in page["data"]):
        raise LmfdbError(f"{url}: 'data' holds something other than records")
    if page.get("next") is not None and not isinstance(page["next"], str):
        raise LmfdbError(f"{url}: 'next' is not a URL")
    return page


def _page(fetcher: Fetcher, url: str) -> dict:
    return parse_page(fetcher.get(url, validate=lambda raw: parse_page(raw, url)), url)


def pull_listing(fetcher: Fetcher, url: str, fields: list[str]) -> list[dict]:
    """Every record of a listing from its first page ``url``, following ``next`` to the empty
    page."""
    records = []
    while True:
        page = _page(fetcher, url)
        if page.get("start", len(records)) != len(records):
            raise LmfdbError(f"{url}: the page starts at record {page.get('start')}, but "
                             f"{len(records)} records came before it")
        if not page["data"]:
            following = page.get("next")
            if following and _offset(urljoin(url, following)) != page.get("start", len(records)):
                raise LmfdbError(f"{url}: an empty page in the middle of the listing (its "
                                 f"'next' goes on to {following})")
            return records
        for index, record in enumerate(page["data"]):
            missing = [f for f in fields if f not in record]
            if missing:
                raise LmfdbError(f"{url}: record {page['start'] + index}"
                                 f" ({_short(record.get(fields[0], '?'))}) has no field "
                                 f"{missing[0]!r}")
            records.append({**{f: record[f] for f in fields},
                            "record": f"{url}: record {len(records)}"})
        if not page.get("next"):
            raise LmfdbError(f"{url}: a non-empty page without 'next'")
        following = urljoin(url, page["next"])
        if not within(following, fetcher.base):
            raise LmfdbError(f"{url}: its 'next' link {excerpt(page['next'].encode())} leaves "
                             f"the configured source {fetcher.base}; refused")
        url = following


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
            absent = sorted(set(chosen) - set(returned)) or sorted(set(returned) - set(chosen))
            raise LmfdbError(f"{url}: asked for {len(chosen)} {key}s, got {len(found)}; "
                             f"differing: {absent[:5]}")
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


def _value(record: dict, field: str, cast):
    try:
        return None if record[field] is None else cast(record[field])
    except (TypeError, ValueError):
        name = str(record.get('lmfdb_label', record.get('lmfdb_iso')))
        raise LmfdbError(f"{_short(name)}: field {field!r} = "
                         f"{_short(repr(record[field]))} is not a "
                         f"{cast.__name__}") from None


def _labels(record: dict) -> tuple[str, str]:
    """(label, isogeny class): Cremona's, or the LMFDB's beyond Cremona's tables (N ≥ 500,000,
    where ``Clabel`` is null)."""
    if record["Clabel"] is None:
        return record["lmfdb_label"], record["lmfdb_iso"]
    return record["Clabel"], record["Ciso"]


def curve_table(records: list[dict]) -> pl.DataFrame:
    """``ec_curvedata`` records as the curve table's columns (:data:`CURVE_SCHEMA` without
    ``gens``), Cremona labels first (the LMFDB's where there is none) and the LMFDB labels
    beside, in Cremona's order; ``record`` names each curve's page and record."""
    rows = []
    for r in records:
        label, iso = _labels(r)
        rows.append({"label": label, "isogeny_class": iso, "number": int(label[len(iso):]),
                     "conductor": _value(r, "conductor", int), "lmfdb_label": r["lmfdb_label"],
                     "lmfdb_iso": r["lmfdb_iso"], "record": r.get("record")})
    schema = {"label": pl.String, "isogeny_class": pl.String, "number": pl.Int16,
              "conductor": pl.Int64, "lmfdb_label": pl.String, "lmfdb_iso": pl.String,
              "record": pl.String}
    ainvs = ainvs_series([[_value({"lmfdb_label": r["lmfdb_label"], "ainvs": a}, "ainvs", int)
                           for a in r["ainvs"]] for r in records])
    table = pl.DataFrame(rows, schema=schema).insert_column(4, ainvs)
    return cremona_order(table)


def published_table(curves: list[dict], mwbsd: list[dict]) -> pl.DataFrame:
    """The BSD quantities the LMFDB publishes (``ec_curvedata`` joined with ``ec_mwbsd`` on
    the LMFDB label), one row per curve, by Cremona label."""
    by_label = {r["lmfdb_label"]: r for r in mwbsd}
    rows = []
    for r in curves:
        extra = by_label.get(r["lmfdb_label"], {})
        rows.append({"label": _labels(r)[0], "rank": _value(r, "rank", int),
                     "torsion": _value(r, "torsion", int),
                     "regulator": _value(r, "regulator", float),
                     "sha": _value(r, "sha", int),
                     **{f: _value(extra, f, cast) for f, cast in
                        [("real_period", float), ("special_value", float),
                         ("tamagawa_product", int)] if f in extra}})
    return published_frame(pl.DataFrame(rows, infer_schema_length=None))


def published_ap(classes: list[dict], curves: pl.DataFrame) -> pl.DataFrame:
    """``ec_classdata.aplist`` (a_p for the 25 primes p < 100) at the primes of good reduction,
    by Cremona class; a_p at a bad prime (0 or ±1) does not determine w_p, so it is left out."""
    cremona = dict(curves.select("lmfdb_iso", "isogeny_class").unique().iter_rows())
    rows = []
    for r in classes:
        conductor = int(r["lmfdb_iso"].split(".")[0])
        values = r["aplist"]
        if not isinstance(values, list) or len(values) < len(APLIST_PRIMES):
            raise LmfdbError(f"{_short(r['lmfdb_iso'])}: aplist "
                             f"{_short(values)} does not hold a_p "
                             f"for the {len(APLIST_PRIMES)} primes below 100")
        rows += [{"isogeny_class": cremona[r["lmfdb_iso"]], "prime": p,
                  "ap": _value({"lmfdb_iso": r["lmfdb_iso"], "aplist": a}, "aplist", int)}
                 for p, a in zip(APLIST_PRIMES, values) if conductor % p]
    return pl.DataFrame(rows, schema=PUBLISHED_AP_SCHEMA).sort(
        "isogeny_class", "prime", maintain_order=True)
