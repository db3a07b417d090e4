"""Pulling the LMFDB's tables ``ec_curvedata``, ``ec_mwbsd`` and ``ec_classdata`` from a
PostgreSQL database: the LMFDB's public read-only mirror (``devmirror.lmfdb.xyz``, the way the
LMFDB asks scripts to read its data), or any copy of its tables.

Rows are read by conductor window (``lo <= conductor < hi``), with only the columns the pipeline
uses (:data:`sources.lmfdb.CURVE_FIELDS`, ``MWBSD_FIELDS``, ``CLASS_FIELDS``: the API path's,
so both paths feed the same conversion, :func:`sources.lmfdb.curve_table` and friends).
``ec_mwbsd`` and ``ec_classdata`` have no conductor column (J. E. Cremona's upload schema of
the LMFDB's elliptic-curve tables, ``scripts/files.py`` of ecdata), so their rows of a window
are those joined to the window's ``ec_curvedata`` rows by ``lmfdb_label`` / ``lmfdb_iso``.

Each (table, window) is one cached download of :class:`sources.fetch.Fetcher`: the rows as
canonical JSON (numeric values as their exact decimal text), keyed by the database URI without
its password, the table, the columns and the window. So a killed pull resumes with the windows
it has, every window's sha256 goes to the lock file, and a window whose rows changed upstream is
an error naming it. A window's rows are checked before the window is cached or locked: a null in
a required column, a value of the wrong kind (the API path's :data:`sources.lmfdb.FIELD_KINDS`),
or (``ec_mwbsd``, ``ec_classdata``) a curve or class of the window without exactly one row is
an error naming the window, the row's label and the column; a missing table or column is one
before anything is read. A window's rows are refused beyond ``ingest.fetch.max_mb`` (their
JSON), while they are read. Every error names the URI without the password, and each row keeps
its window and label (``record``), so the curve checks of the ingest stage name them too.

The client is psycopg 3: SQL composed with :mod:`psycopg.sql` (identifiers quoted, values
passed as parameters, never spliced into the text), PostgreSQL arrays (``numeric[]``,
``smallint[]``) as Python lists, ``numeric`` loaded as its exact decimal text (no float on the
way), its error classes to tell a connection that failed or dropped (asked again) from an
error of the query (reported at once), and libpq's own parser to check a URI without
connecting (:mod:`machinery.postgres_uri`, which the params schema shares). Missing tables and
columns are found by a query on ``information_schema``.
"""
from __future__ import annotations

import json
import sys
import time
from contextlib import closing

import polars as pl
import psycopg
from psycopg import sql
from psycopg.types.string import TextLoader
from tqdm import tqdm

from machinery.postgres_uri import password, redacted, unreadable
from sources.fetch import Fetcher, FetchSettings, shown
from sources.lmfdb import (CLASS_FIELDS, CURVE_FIELDS, FIELD_KINDS, MWBSD_FIELDS, LmfdbError,
                            checked_record, curve_table, published_ap, published_table)

#: The columns read from each table; the first is the table's key (the label a row is named by).
COLUMNS = {"ec_curvedata": CURVE_FIELDS, "ec_mwbsd": MWBSD_FIELDS, "ec_classdata": CLASS_FIELDS}
#: Columns that may be null, as on the API path (:data:`sources.lmfdb.FIELD_KINDS`): Cremona's
#: labels, which curves beyond his tables (N >= 500,000) lack, and the BSD quantities the LMFDB
#: does not publish for every curve (the crosscheck compares what is published).
NULLABLE = {field for field, (_, _, nullable) in FIELD_KINDS.items() if nullable}


#: Rows a streamed query hands over at a time (chunked mode needs libpq 17; older: one by one).
STREAM_ROWS = 2000 if psycopg.pq.version() >= 170000 else 1

#: What libpq says of a refusal that asking again cannot change (a failed connection carries
#: no SQLSTATE, only the server's message): a refused login, no such database or role.
REFUSED = ("authentication failed", "does not exist", "no pg_hba.conf entry")


class LmfdbDbError(LmfdbError):
    """The database cannot be read or holds something the pipeline cannot use; the message
    names the URI (without its password)."""


def _window_query(table: str, columns: list[str]) -> sql.Composed:
    """The rows of ``table`` in a conductor window (parameters: low, high), only ``columns``,
    in a fixed order (by key, byte-wise: the same bytes whatever the server's locale)."""
    key = columns[0]
    chosen = sql.SQL(", ").join(sql.Identifier("t", c) for c in columns)
    if table == "ec_curvedata":
        where = sql.SQL("t.conductor >= %s AND t.conductor < %s")
    else:      # no conductor column: the rows whose key is one of the window's curves' (classes')
        where = sql.SQL("t.{key} IN (SELECT c.{key} FROM ec_curvedata c "
                        "WHERE c.conductor >= %s AND c.conductor < %s)").format(
            key=sql.Identifier(key))
    return sql.SQL("SELECT {chosen} FROM {table} t WHERE {where} "
                   "ORDER BY t.{key} COLLATE \"C\"").format(
        chosen=chosen, table=sql.Identifier(table), where=where, key=sql.Identifier(key))


class DatabaseFetcher(Fetcher):
    """A :class:`Fetcher` whose downloads are window queries on one PostgreSQL database: same
    cache, lock and changed-upstream check. ``get(key)`` of a key made by :meth:`window_key`."""

    def __init__(self, cache, lock, settings: FetchSettings, uri: str):
        problem = unreadable(uri)
        if problem:
            raise LmfdbDbError(f"{problem} (ingest.base_url.lmfdb_db)")
        super().__init__(cache, lock, settings, base=redacted(uri))
        self.uri, self.where = uri, redacted(uri)
        self._connection: psycopg.Connection | None = None
        self._queries: dict[str, tuple[str, list[str], int, int]] = {}

    def inside(self, key: str) -> bool:
        """Only the window queries this fetcher built (:meth:`window_key`) on its database."""
        return key in self._queries

    def window_key(self, table: str, low: int, high: int) -> str:
        columns = COLUMNS[table]
        key = f"{self.where} {table}({','.join(columns)}) {low} <= conductor < {high}"
        self._queries[key] = (table, columns, low, high)
        return key

    def window_name(self, table: str, low: int, high: int) -> str:
        """How errors and records name a window: the URI (no password), table and range."""
        return f"{self.where} {table} {low} <= conductor < {high}"

    def rows(self, table: str, low: int, high: int,
             wanted: list[str] | None = None) -> list[dict]:
        """The window's rows of ``table`` as checked records (:func:`checked_row`), cached.
        ``wanted``: the labels (of ``ec_mwbsd``) or classes (of ``ec_classdata``) of the
        window's curves, each of which must have exactly one row. All of it is checked as the
        fetch's validation, so a window refused here is neither cached nor locked."""
        key, window = self.window_key(table, low, high), self.window_name(table, low, high)

        def checked(data: bytes) -> list[dict]:
            try:
                rows = json.loads(data)["rows"]
            except (ValueError, RecursionError, KeyError, TypeError) as err:
                raise LmfdbDbError(f"{key}: the cached window is not rows of JSON "
                                   f"({shown(err)})") from None
            if not (isinstance(rows, list) and all(isinstance(r, dict) for r in rows)):
                raise LmfdbDbError(f"{key}: the cached window is not a list of rows")
            records = [checked_row(r, table, window) for r in rows]
            if wanted is not None:
                _complete(wanted, records, table, COLUMNS[table][0], window)
            return records

        return self.parsed(key, checked)

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    def _connect(self) -> psycopg.Connection:
        """One connection for the whole pull, its tables checked once; a connection that
        fails (the server down or unreachable) is retried like a download (``fetch.retries``,
        doubling back-off), a refusal asking again cannot change (:data:`REFUSED`) is not."""
        if self._connection is not None and not self._connection.closed:
            return self._connection
        s = self.settings
        problem, wait = "", s.backoff
        for attempt in range(s.retries + 1):
            if attempt:
                time.sleep(min(wait, s.backoff_max))
                wait *= 2
            try:
                self._connection = psycopg.connect(self.uri, autocommit=True,
                                                   connect_timeout=max(1, round(s.timeout)))
                # numeric (and numeric[] elements) as the server's exact decimal text: JSON
                # holds it as it is, and nothing is rounded before the conversion casts it
                self._connection.adapters.register_loader("numeric", TextLoader)
                break
            except psycopg.OperationalError as err:
                problem = self._scrubbed(err)
                if any(text in problem for text in REFUSED):
                    raise LmfdbDbError(f"{self.where}: cannot connect: {problem}") from None
        else:
            raise LmfdbDbError(f"{self.where}: cannot connect after {s.retries + 1} attempts: "
                               f"{problem}")
        self._check_tables()
        return self._connection

    def _scrubbed(self, err: Exception) -> str:
        """The error's message, one line, with the URI's password (if it were quoted) removed."""
        text = " ".join(str(err).split())
        secret = password(self.uri)
        return text.replace(secret, "***") if secret else text

    def _check_tables(self) -> None:
        """Every table and column the pull reads exists, or an error names the first missing."""
        found: dict[str, set[str]] = {}
        with self._connection.cursor() as cursor:
            cursor.execute("SELECT table_name, column_name FROM information_schema.columns "
                           "WHERE table_schema = ANY(current_schemas(false)) "
                           "AND table_name = ANY(%s)", [list(COLUMNS)])
            for table, column in cursor:
                found.setdefault(table, set()).add(column)
        for table, columns in COLUMNS.items():
            if table not in found:
                raise LmfdbDbError(f"{self.where}: no table {table!r} (the LMFDB's elliptic-"
                                   "curve tables are ec_curvedata, ec_mwbsd, ec_classdata)")
            missing = [c for c in columns if c not in found[table]]
            if missing:
                raise LmfdbDbError(f"{self.where}: table {table!r} has no column "
                                   f"{missing[0]!r} (needed: {', '.join(columns)})")

    def _download(self, key: str) -> bytes:
        """The window's rows as canonical JSON; a connection that drops during the query is
        opened again and the query repeated (``fetch.retries`` times, doubling back-off)."""
        if key not in self._queries:
            raise LmfdbDbError(f"{key}: not a window of {self.where}")
        table, columns, low, high = self._queries[key]
        s = self.settings
        wait = s.backoff
        for attempt in range(s.retries + 1):
            if attempt:
                time.sleep(min(wait, s.backoff_max))
                wait *= 2
            self._wait_turn()
            try:
                rows = self._read(key, _window_query(table, columns), [low, high], columns)
                break
            except psycopg.OperationalError as err:       # the connection dropped
                self.close()
                problem = self._scrubbed(err)
            except psycopg.Error as err:                  # no such table or column, no right
                raise LmfdbDbError(f"{key}: {self._scrubbed(err)}") from None
        else:
            raise LmfdbDbError(f"{key}: the server failed {s.retries + 1} times; last: "
                               f"{problem}")
        body = json.dumps({"table": table, "columns": columns, "rows": rows},
                          sort_keys=True, separators=(",", ":")).encode()
        if len(body) > self._limit:                 # the envelope's few bytes beyond the rows
            raise self._rows_too_large(key, len(rows))
        return body

    def _read(self, key: str, query: sql.Composed, params: list, columns: list[str]) -> list:
        """The query's rows as records, streamed, so that rows beyond the size limit
        (``fetch.max_mb``, counted as the JSON they are cached as) stop the query rather than
        fill the memory: the rest is cancelled on the server."""
        rows, size = [], 0
        with (self._connect().cursor() as cursor,
              closing(cursor.stream(query, params, size=STREAM_ROWS)) as stream):
            for values in stream:
                row = dict(zip(columns, values))
                size += len(json.dumps(row, separators=(",", ":"))) + 1     # and a comma
                if size > self._limit:
                    raise self._rows_too_large(key, len(rows))
                rows.append(row)
        return rows

    def _rows_too_large(self, key: str, read: int) -> LmfdbDbError:
        return LmfdbDbError(f"{key}: the rows are larger than {self.settings.max_mb:g} MiB "
                            f"(ingest.fetch.max_mb; refused after {read} rows); a narrower "
                            "ingest.lmfdb_db_window reads fewer at a time")


def checked_row(record: dict, table: str, window: str) -> dict:
    """One row of ``table`` read in ``window``: no required column null (nor an element of an
    array), every column of its kind (:func:`sources.lmfdb.checked_record`), or an error
    naming the window, the row's label and the column; with its ``record`` (window and label)
    for the errors of later checks."""
    key = COLUMNS[table][0]
    name = f"{window}: row {shown(record.get(key))}"
    for column, value in record.items():
        if column in NULLABLE:
            continue
        if value is None or (isinstance(value, list) and any(v is None for v in value)):
            raise LmfdbDbError(f"{name}: column {column!r} is null, but the pipeline needs it")
    return {**checked_record(record, COLUMNS[table], name), "record": name}


def _complete(wanted: list[str], records: list[dict], table: str, key: str,
              window: str) -> None:
    """Every label of ``wanted`` has exactly one row in ``records``."""
    have = [r[key] for r in records]
    absent = sorted(set(wanted) - set(have))
    if absent:
        raise LmfdbDbError(f"{window}: no row for {key} "
                           f"{', '.join(shown(x) for x in absent[:5])}"
                           + (f" (and {len(absent) - 5} more)" if len(absent) > 5 else ""))
    if len(have) != len(set(have)):
        twice = sorted({x for x in have if have.count(x) > 1})
        raise LmfdbDbError(f"{window}: more than one row for {key} {shown(twice[0])}")


def windows(conductor_min: int, conductor_max: int, window: int) -> list[tuple[int, int]]:
    return [(low, min(low + window, conductor_max))
            for low in range(conductor_min, conductor_max, window)]


def window_tables(fetcher: DatabaseFetcher, low: int, high: int) -> dict[str, list[dict]]:
    """One window's checked rows (table -> rows): every curve with its ``ec_mwbsd`` row and
    every class its ``ec_classdata`` row (checked as those windows are fetched)."""
    curves = fetcher.rows("ec_curvedata", low, high)
    return {"ec_curvedata": curves,
            "ec_mwbsd": fetcher.rows("ec_mwbsd", low, high,
                                     [r["lmfdb_label"] for r in curves]),
            "ec_classdata": fetcher.rows("ec_classdata", low, high,
                                         sorted({r["lmfdb_iso"] for r in curves}))}


def convert_window(tables: dict[str, list[dict]]):
    """One window's checked records (:func:`window_tables`) as (curves, published, published
    a_p), by the API path's conversion."""
    curves = tables["ec_curvedata"]
    table = curve_table(curves)
    return (table, published_table(curves, tables["ec_mwbsd"]),
            published_ap(tables["ec_classdata"], table))


def pull_database(fetcher: DatabaseFetcher, conductor_min: int, conductor_max: int,
                  window: int) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """(curves without generators, published BSD quantities, published a_p) of the curves with
    conductor_min <= N < conductor_max, read and converted window by window (only one window's
    records held at a time: the whole ``ec_curvedata`` is 3.82 million of them)."""
    parts, count = [], 0
    try:
        spans = windows(conductor_min, conductor_max, window)
        with tqdm(total=len(spans), unit="window", desc="lmfdb_db", file=sys.stderr) as bar:
            for low, high in spans:
                tables = window_tables(fetcher, low, high)
                if tables["ec_curvedata"] or not parts and (low, high) == spans[-1]:
                    parts.append(convert_window(tables))
                    count += len(parts[-1][0])
                bar.update()
                # a running count: the whole table is 30,000 windows at the default width,
                # and summing every window's curves at each would be quadratic in them
                bar.set_postfix(curves=count)
    finally:
        fetcher.close()
    curves, published, aps = (pl.concat(frames) for frames in zip(*parts))
    # windows ascend in conductor: their curves are already in Cremona's order, but a_p is
    # sorted by class label, across windows
    return curves, published, aps.sort("isogeny_class", "prime", maintain_order=True)
