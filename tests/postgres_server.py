"""A real PostgreSQL server on 127.0.0.1 for the tests, and the LMFDB's elliptic-curve tables
in it, loaded from the shared fixtures (never copied into the project).

The server is Debian's (``postgresql``: initdb, pg_ctl). PostgreSQL refuses to run as root, so
as root the data directory belongs to the ``postgres`` user the package creates and the server
runs as that user (``runuser``); it listens on 127.0.0.1 only, on a free port, its Unix socket
in its own directory, and is stopped and removed afterwards.

Tables: the LMFDB's names and types of the columns the fixtures fill (J. E. Cremona's upload
schema of the LMFDB's tables, ecdata ``scripts/files.py``; the LMFDB names the Cremona label
and class ``Clabel`` and ``Ciso``, and gives every row an ``id``). Rows: the Cremona samples in
the LMFDB's labelling (:func:`tests.online_sources.lmfdb_records`), with the fields of the
shared LMFDB pages (e.g. ``torsion_structure``) where those pages hold the curve.
"""
from __future__ import annotations

import contextlib
import glob
import json
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from decimal import Decimal
from pathlib import Path

import psycopg
from psycopg import sql

from tests.conftest import SHARED_FIXTURES
from tests.online_sources import lmfdb_records

SUPERUSER_PASSWORD = "superuser-secret"
#: The reader's role: the public mirror's user name, a password that must never be printed.
READER, READER_PASSWORD = "lmfdb", "reader-secret-7f3a"

#: The LMFDB's columns and PostgreSQL types, of the columns the fixtures give values for.
TABLES = {
    "ec_curvedata": {"id": "bigint", "Clabel": "text", "lmfdb_label": "text", "Ciso": "text",
                     "lmfdb_iso": "text", "conductor": "integer", "ainvs": "numeric[]",
                     "rank": "smallint", "analytic_rank": "smallint", "torsion": "smallint",
                     "torsion_structure": "smallint[]", "regulator": "numeric",
                     "sha": "integer"},
    "ec_mwbsd": {"id": "bigint", "lmfdb_label": "text", "real_period": "numeric",
                 "special_value": "numeric", "tamagawa_product": "integer"},
    "ec_classdata": {"id": "bigint", "lmfdb_iso": "text", "aplist": "smallint[]"},
}


def _bindir() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"),
                   key=lambda p: int(Path(p).parts[-3]))
    if not found:
        raise RuntimeError("PostgreSQL is not installed (Debian: apt-get install postgresql)")
    return Path(found[-1]).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """A running server: ``uri(database)`` for the reader, ``admin(database)`` a connection
    as superuser."""

    def __init__(self, port: int):
        self.port = port

    def uri(self, database: str = "lmfdb", password: str = READER_PASSWORD) -> str:
        return f"postgresql://{READER}:{password}@127.0.0.1:{self.port}/{database}"

    def admin(self, database: str = "postgres") -> psycopg.Connection:
        return psycopg.connect(host="127.0.0.1", port=self.port, user="postgres",
                               password=SUPERUSER_PASSWORD, dbname=database, autocommit=True)


@contextlib.contextmanager
def postgres_server():
    """Start a fresh PostgreSQL server on 127.0.0.1 (a free port); yield a :class:`Server`."""
    bindir = _bindir()
    as_root = os.geteuid() == 0
    if as_root:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            raise RuntimeError("PostgreSQL refuses to run as root, and there is no 'postgres' "
                               "user to run it (Debian's postgresql package creates it)") from None
    # as root, in /tmp itself: the postgres user must reach it (TMPDIR may be private)
    root = Path(tempfile.mkdtemp(prefix="pg-test-", dir="/tmp" if as_root else None))
    prefix = ["runuser", "-u", "postgres", "--"] if as_root else []
    data, sockets, log = root / "data", root / "socket", root / "server.log"
    sockets.mkdir()
    (root / "pwfile").write_text(SUPERUSER_PASSWORD + "\n")
    if as_root:
        shutil.chown(root, "postgres")
        for path in (sockets, root / "pwfile"):
            shutil.chown(path, "postgres")
    port = free_port()
    try:
        subprocess.run([*prefix, bindir / "initdb", "-D", data, "-U", "postgres",
                        "--pwfile", root / "pwfile", "--auth-host=scram-sha-256",
                        "--auth-local=trust", "-E", "UTF8", "--locale=C.UTF-8"],
                       check=True, capture_output=True, text=True)
        subprocess.run([*prefix, bindir / "pg_ctl", "-D", data, "-l", log, "-w", "-t", "60",
                        "-o", f"-c listen_addresses=127.0.0.1 -p {port} -k {sockets} "
                              "-c fsync=off -c shared_buffers=32MB", "start"],
                       check=True, capture_output=True, text=True)
        yield Server(port)
    except subprocess.CalledProcessError as err:
        detail = log.read_text() if log.exists() else ""
        raise RuntimeError(f"{err.cmd} failed: {err.stdout}{err.stderr}{detail}") from None
    finally:
        if (data / "postmaster.pid").exists():
            subprocess.run([*prefix, bindir / "pg_ctl", "-D", data, "-m", "fast", "-w",
                            "stop"], capture_output=True)
        shutil.rmtree(root, ignore_errors=True)


def fixture_rows() -> dict[str, list[dict]]:
    """Each table's rows from the shared fixtures, in the columns of :data:`TABLES`."""
    records = lmfdb_records()
    pages = {}
    for page in sorted((SHARED_FIXTURES / "lmfdb").glob("ec_curvedata.page*.json")):
        for record in json.loads(page.read_text())["data"]:
            pages[record["lmfdb_label"]] = record
    rows = {}
    for table, columns in TABLES.items():
        rows[table] = []
        for number, record in enumerate(records[table], start=1):
            record = {**record, **pages.get(record.get("lmfdb_label"), {}), "id": number}
            rows[table].append({c: record.get(c) for c in columns})
    return rows


def _exact(value):
    """Floats as the decimal they print as (the fixtures' digits), for ``numeric`` columns."""
    if isinstance(value, float):
        return Decimal(repr(value))
    return value


def create_lmfdb(server: Server, database: str, tables: dict[str, dict] = TABLES,
                 rows: dict[str, list[dict]] | None = None) -> str:
    """A database holding ``tables`` (name -> column -> type) with ``rows`` (default: the
    fixtures' rows), readable by the reader role; its reader URI."""
    rows = fixture_rows() if rows is None else rows
    with server.admin() as admin:
        if not admin.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [READER]).fetchone():
            admin.execute(sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(
                sql.Identifier(READER), sql.Literal(READER_PASSWORD)))
        admin.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(database)))
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(database)))
    with server.admin(database) as db:
        for table, columns in tables.items():
            db.execute(sql.SQL("CREATE TABLE {} ({})").format(
                sql.Identifier(table), sql.SQL(", ").join(
                    sql.SQL("{} {}").format(sql.Identifier(c), sql.SQL(t))
                    for c, t in columns.items())))
            names = [c for c in columns]
            with db.cursor() as cursor:
                cursor.executemany(
                    sql.SQL("INSERT INTO {} ({}) VALUES ({})").format(
                        sql.Identifier(table), sql.SQL(", ").join(map(sql.Identifier, names)),
                        sql.SQL(", ").join([sql.Placeholder()] * len(names))),
                    [[_exact(r.get(c)) for c in names] for r in rows.get(table, [])])
            db.execute(sql.SQL("GRANT SELECT ON {} TO {}").format(
                sql.Identifier(table), sql.Identifier(READER)))
        if "ec_curvedata" in tables:
            db.execute("CREATE INDEX ON ec_curvedata (conductor)")
    return server.uri(database)
