"""``ingest.source: lmfdb_db`` against a real PostgreSQL server on 127.0.0.1 holding the LMFDB's
tables, loaded from the shared fixtures (tests/postgres_server.py): the same tables as the API
path and the embedded source, `dvc repro` with zero cross-check mismatches, faults named."""
from __future__ import annotations

import json
import re
import signal
import sys
import time
from decimal import Decimal

import polars as pl
import pytest
import yaml

from arithmetic.curves import CurveError
from machinery.atomic import TMP_MARKER
from machinery.params import Params
from pipeline.ingest import ingest
from sources.elldata import read_curves
from sources.fetch import FetchError, FetchSettings
from sources.lmfdb import LmfdbError, curve_table, published_ap, published_table
from sources.lmfdb_db import DatabaseFetcher, LmfdbDbError, pull_database, redacted
from tests.conftest import run, scratch_project, small_params
from tests.online_sources import lmfdb_records
from tests.postgres_server import (READER_PASSWORD, TABLES, create_lmfdb, fixture_rows,
                                   free_port, postgres_server)
from tests.test_online_ingest import FAST_FETCH, online_params, run_stage
from tests.test_online_pipeline import COMPARED

FAST = FetchSettings(**FAST_FETCH)


@pytest.fixture(scope="module")
def server():
    with postgres_server() as running:
        yield running


@pytest.fixture(scope="module")
def lmfdb_uri(server) -> str:
    return create_lmfdb(server, "lmfdb")


def fetcher(tmp_path, uri: str, settings: FetchSettings = FAST) -> DatabaseFetcher:
    return DatabaseFetcher(tmp_path / "downloads", tmp_path / "sources.lock.json", settings, uri)


def test_redacted_drops_only_the_password():
    assert redacted("postgresql://lmfdb:lmfdb@devmirror.lmfdb.xyz:5432/lmfdb") == \
        "postgresql://lmfdb@devmirror.lmfdb.xyz:5432/lmfdb"
    assert redacted("postgresql://u:p%40ss@h/db?sslmode=require&password=x") == \
        "postgresql://u@h/db?sslmode=require"
    assert redacted("postgresql://h:5433/db") == "postgresql://h:5433/db"
    assert redacted("host=h password='a b' dbname=lmfdb") == "dbname=lmfdb host=h"
    assert redacted("password=x host=h") == "host=h"
    # as libpq reads them: a backslash-escaped space, and an unterminated quote
    assert redacted(r"host=h password=a\ secret dbname=x") == "dbname=x host=h"
    assert "cret" not in redacted("host=h password='se cret")


@pytest.mark.parametrize("uri, shown", [
    ("postgresql://u:secret@[::1/db", "postgresql://u@[::1/db"),
    ("postgresql://u:sec@ret@[::1/db?password=secret&sslmode=require",
     "postgresql://u@[::1/db?sslmode=require"),
    ("postgresql://u:secret@[not-an-address]/db", "postgresql://u@[not-an-address]/db"),
])
def test_redacted_never_raises_on_a_uri_python_cannot_split(uri, shown):
    assert redacted(uri) == shown


def test_a_malformed_uri_is_named_with_its_field_and_without_the_password(tmp_path):
    with pytest.raises(LmfdbDbError) as err:
        fetcher(tmp_path, "postgresql://lmfdb:secret@[::1/lmfdb")
    message = str(err.value)
    assert message.startswith("postgresql://lmfdb@[::1/lmfdb: not a PostgreSQL URI or "
                              "connection string libpq can read (")
    assert message.endswith("(ingest.base_url.lmfdb_db)") and "secret" not in message
    params = online_params(tmp_path, "lmfdb_db", "postgresql://lmfdb:secret@[::1/lmfdb")
    process = run_stage(tmp_path, params)
    _, err = process.communicate()
    assert process.returncode != 0 and "Traceback" not in err and "secret" not in err
    assert "ingest: error: " in err and "ingest.base_url.lmfdb_db: " \
        "postgresql://lmfdb@[::1/lmfdb: not a PostgreSQL URI" in err
    assert not (tmp_path / "downloads").exists() and not (tmp_path / "curves").exists()


def kept(fetcher_: DatabaseFetcher, table: str, low: int, high: int) -> bool:
    """Whether the window is in the fetcher's cache or its lock entries."""
    key = fetcher_.window_key(table, low, high)
    return fetcher_.cached_path(key).exists() or key in fetcher_.lock


def window_of(label: str, width: int = 50) -> tuple[int, int]:
    """The window of ``pull_database(..., 1, 200, width)`` holding the curve or class."""
    low = 1 + (int(label.split(".")[0]) - 1) // width * width
    return low, min(low + width, 200)


def pull_and_lock(fetcher_: DatabaseFetcher, *window) -> tuple:
    """A successful pull, then its lock written (as the ingest stage does after the checks)."""
    pulled = pull_database(fetcher_, *window)
    fetcher_.save_lock()
    return pulled


def test_the_database_gives_the_api_paths_tables(tmp_path, lmfdb_uri):
    """Window by window, the same curve table, published quantities and a_p as the API path's
    conversion of the same records; the curves are the embedded tables'."""
    curves, published, aps = pull_and_lock(fetcher(tmp_path, lmfdb_uri), 1, 200, 50)
    records = lmfdb_records()
    api_curves = curve_table(records["ec_curvedata"])
    assert curves.drop("record").equals(api_curves.drop("record"))
    # each curve names its window and row, as its errors will
    window = f"{redacted(lmfdb_uri)} ec_curvedata 1 <= conductor < 51"
    assert dict(curves.select("label", "record").iter_rows())["37a1"] == f"{window}: row 37.a1"
    assert published.sort("label").equals(
        published_table(records["ec_curvedata"], records["ec_mwbsd"]).sort("label"))
    assert aps.equals(published_ap(records["ec_classdata"], api_curves))
    embedded = read_curves(1, 200).drop("gens")
    assert curves.select(embedded.columns).equals(embedded)
    labels = dict(curves.select("label", "lmfdb_label").iter_rows())
    assert labels["11a1"] == "11.a2" and labels["37a1"] == "37.a1"
    regulators = dict(published.select("label", "regulator").iter_rows())
    assert regulators["37a1"] == 0.0511114082399688            # numeric read exactly
    lock = json.loads((tmp_path / "sources.lock.json").read_text())
    assert len(lock) == 4 * 3                                   # 4 windows x 3 tables
    assert all(READER_PASSWORD not in key and key.startswith("postgresql://lmfdb@127.0.0.1:")
               for key in lock)
    assert any("ec_mwbsd(lmfdb_label,real_period,special_value,tamagawa_product) 51 <= "
               "conductor < 101" in key for key in lock)


def test_only_the_needed_columns_are_read(tmp_path, lmfdb_uri):
    downloads = tmp_path / "downloads"
    pull_and_lock(fetcher(tmp_path, lmfdb_uri), 1, 60, 100)
    for path in downloads.iterdir():
        window = json.loads(path.read_text())
        assert {c for row in window["rows"] for c in row} == set(window["columns"])
        assert "torsion_structure" not in window["columns"] and "id" not in window["columns"]


def beyond_cremona(pari) -> dict[str, list[dict]]:
    """The three tables' rows of one curve beyond Cremona's tables (no Clabel, no Ciso):
    y^2 + y = x^3 - x + 101, minimal, of conductor 4,428,611 and rank 0, its values computed
    with PARI (Ω = ω_1 times the number of real components, L(E,1), Ш from the BSD formula
    Ш = L(E,1) T^2 / (Ω c) in rank 0, where the regulator is 1)."""
    curve = pari.ellminimalmodel(pari.ellinit([0, 0, 1, -1, 101]))
    reduction = pari.ellglobalred(curve)
    conductor, tamagawa = int(reduction[0]), int(reduction[2])
    rank, value = pari.ellanalyticrank(curve)
    torsion = int(pari.elltors(curve)[0])
    period = float(curve.omega()[0]) * (2 if curve.disc() > 0 else 1)
    iso, label = f"{conductor}.a", f"{conductor}.a1"
    return {
        "ec_curvedata": [{"id": 1, "Clabel": None, "Ciso": None, "lmfdb_label": label,
                          "lmfdb_iso": iso, "conductor": conductor,
                          "ainvs": [int(a) for a in curve[:5]], "rank": int(rank),
                          "torsion": torsion, "regulator": 1.0,
                          "sha": round(float(value) * torsion ** 2 / (period * tamagawa))}],
        "ec_mwbsd": [{"id": 1, "lmfdb_label": label, "real_period": period,
                      "special_value": float(value), "tamagawa_product": tamagawa}],
        "ec_classdata": [{"id": 1, "lmfdb_iso": iso,
                          "aplist": [int(pari.ellap(curve, p)) for p in pari.primes(25)]}]}


def test_curves_beyond_cremonas_tables_keep_their_lmfdb_labels(tmp_path, server, pari):
    rows = beyond_cremona(pari)
    (curve,) = rows["ec_curvedata"]
    assert curve["conductor"] > 500_000 and curve["rank"] == 0
    uri = create_lmfdb(server, "beyond", rows=rows)
    curves, published, aps = pull_and_lock(fetcher(tmp_path, uri), 500_000, 10**7, 10**7)
    label, iso = curve["lmfdb_label"], curve["lmfdb_iso"]
    assert curves.drop("ainvs", "record", strict=False).row(0, named=True) == {
        "label": label, "isogeny_class": iso, "number": 1, "conductor": curve["conductor"],
        "lmfdb_label": label, "lmfdb_iso": iso}
    assert curves["ainvs"].to_list() == [curve["ainvs"]]
    assert published.select("label", "rank", "sha").row(0) == (label, 0, curve["sha"])
    assert set(aps["isogeny_class"]) == {iso}


def test_a_server_that_is_down_is_named_without_the_password(tmp_path):
    uri = f"postgresql://lmfdb:{READER_PASSWORD}@127.0.0.1:{free_port()}/lmfdb"
    with pytest.raises(LmfdbDbError) as err:
        pull_database(fetcher(tmp_path, uri), 1, 200, 50)
    message = str(err.value)
    assert message.startswith(f"postgresql://lmfdb@127.0.0.1:{uri.rsplit(':', 1)[1]}: cannot "
                              "connect after 1 attempts")
    assert READER_PASSWORD not in message
    assert not (tmp_path / "downloads").exists()


@pytest.mark.parametrize("retries", [0, 1])
def test_a_dropped_connection_is_opened_again_or_named(tmp_path, server, retries):
    """The server ends the reader's session between two windows (pg_terminate_backend): with a
    retry the next window is read on a new connection, without one the window is named."""
    uri = create_lmfdb(server, f"dropping{retries}")
    pulling = fetcher(tmp_path, uri, FetchSettings(**{**FAST_FETCH, "retries": retries}))
    assert pulling.rows("ec_curvedata", 1, 51)
    with server.admin() as admin:
        ended = admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                              "WHERE datname = %s", [f"dropping{retries}"]).fetchall()
    assert ended == [(True,)]
    if retries:
        rows = pulling.rows("ec_curvedata", 51, 101)
        assert "52.a1" in {r["lmfdb_label"] for r in rows}
        assert all(51 <= r["conductor"] < 101 for r in rows)
    else:
        with pytest.raises(LmfdbDbError, match=r"ec_curvedata\(.*\) 51 <= conductor < 101: the "
                                               "server failed 1 times; last: .*terminat") as err:
            pulling.rows("ec_curvedata", 51, 101)
        assert READER_PASSWORD not in str(err.value)
    pulling.close()


def test_the_stage_reports_a_server_that_is_down_and_writes_nothing(tmp_path):
    port = free_port()
    params = online_params(tmp_path, "lmfdb_db",
                           f"postgresql://lmfdb:{READER_PASSWORD}@127.0.0.1:{port}/lmfdb")
    process = run_stage(tmp_path, params)
    _, err = process.communicate()
    assert process.returncode != 0
    assert f"ingest: error: postgresql://lmfdb@127.0.0.1:{port}/lmfdb: cannot connect" in err
    assert READER_PASSWORD not in err and "Traceback" not in err
    assert not (tmp_path / "curves").exists() and not (tmp_path / "sources.lock.json").exists()


def test_a_refused_login_is_not_retried_nor_printed(tmp_path, server, lmfdb_uri):
    patient = FetchSettings(**{**FAST_FETCH, "retries": 3, "backoff": 5})
    start = time.monotonic()
    with pytest.raises(LmfdbDbError, match="cannot connect: .*password authentication "
                                           "failed") as err:
        pull_database(fetcher(tmp_path, server.uri(password="wrong-secret"), patient),
                      1, 200, 50)
    assert time.monotonic() - start < 5                     # no back-off: refused for good
    assert "wrong-secret" not in str(err.value)


@pytest.mark.parametrize("table, column, message", [
    ("ec_classdata", None, "no table 'ec_classdata'"),
    ("ec_mwbsd", "special_value", "table 'ec_mwbsd' has no column 'special_value'"),
    ("ec_curvedata", "Clabel", "table 'ec_curvedata' has no column 'Clabel'"),
])
def test_a_missing_table_or_column_is_named(tmp_path, server, table, column, message):
    tables = {t: dict(c) for t, c in TABLES.items()}
    if column is None:
        del tables[table]
    else:
        del tables[table][column]
    uri = create_lmfdb(server, "broken", tables=tables)
    with pytest.raises(LmfdbDbError, match=message) as err:
        pull_database(fetcher(tmp_path, uri), 1, 200, 50)
    assert str(err.value).startswith(redacted(uri)) and READER_PASSWORD not in str(err.value)
    assert not (tmp_path / "downloads").exists()            # checked before any window is read


@pytest.mark.parametrize("table, label, column", [
    ("ec_curvedata", "37.a1", "lmfdb_iso"),
    ("ec_curvedata", "11.a3", "ainvs"),
    ("ec_classdata", "67.a", "aplist"),
])
def test_a_null_in_a_required_column_names_label_and_column(tmp_path, server, table, label,
                                                            column):
    rows = fixture_rows()
    key = "lmfdb_iso" if table == "ec_classdata" else "lmfdb_label"
    (row,) = [r for r in rows[table] if r[key] == label]
    row[column] = None if column != "ainvs" else [0, -1, 1, None, 0]
    uri = create_lmfdb(server, "nulls", rows=rows)
    low, high = window_of(label)
    pulling = fetcher(tmp_path, uri)
    with pytest.raises(LmfdbDbError, match=rf"^{re.escape(redacted(uri))} {table} {low} <= "
                                           rf"conductor < {high}: row {label}: column "
                                           rf"'{column}' is null"):
        pull_database(pulling, 1, 200, 50)
    assert not kept(pulling, table, low, high)              # neither cached nor locked
    assert not (tmp_path / "sources.lock.json").exists()


def test_a_quantity_the_lmfdb_leaves_null_is_published_as_null(tmp_path, server):
    """As on the API path: the LMFDB need not publish every BSD quantity of a curve."""
    rows = fixture_rows()
    (row,) = [r for r in rows["ec_curvedata"] if r["lmfdb_label"] == "37.a1"]
    row["regulator"] = None
    _, published, _ = pull_database(
        fetcher(tmp_path, create_lmfdb(server, "unpublished", rows=rows)), 1, 200, 50)
    by_label = dict(published.select("label", "regulator").rows())
    assert by_label["37a1"] is None and by_label["11a1"] is not None


@pytest.mark.parametrize("table, label, column, value, message", [
    ("ec_curvedata", "11.a2", "ainvs", [0, -1, 1, -10],
     r"field 'ainvs' = \['0', '-1', '1', '-10'\] is not a list of 5 integers"),
    ("ec_curvedata", "37.a1", "ainvs", [Decimal(x) for x in ("0", "0", "1", "-1.5", "0")],
     r"field 'ainvs' = \['0', '0', '1', '-1.5', '0'\] is not a list of 5 integers"),
    ("ec_curvedata", "37.a1", "Clabel", "37 a1",
     r"field 'Clabel' = '37 a1' is not a Cremona curve label"),
    ("ec_curvedata", "37.a1", "Ciso", "38a", r"Clabel 37a1 is not a curve of the class Ciso 38a"),
    ("ec_mwbsd", "189.b2", "tamagawa_product", 0,
     r"field 'tamagawa_product' = 0 is not a positive 64-bit integer"),
    ("ec_classdata", "67.a", "aplist", [1, 2, 3],
     r"field 'aplist' = \[1, 2, 3\] is not a list of 64-bit integers"),
])
def test_a_value_of_the_wrong_kind_names_window_label_and_column(tmp_path, server, table, label,
                                                                 column, value, message):
    """Not a traceback, nor a table with a wrong value: the window, the row's label and the
    column; the window is neither cached nor locked."""
    rows = fixture_rows()
    key = "lmfdb_iso" if table == "ec_classdata" else "lmfdb_label"
    (row,) = [r for r in rows[table] if r[key] == label]
    row[column] = value
    uri = create_lmfdb(server, "kinds", rows=rows)
    low, high = window_of(label)
    pulling = fetcher(tmp_path, uri)
    with pytest.raises(LmfdbError, match=rf"^{re.escape(redacted(uri))} {table} {low} <= "
                                         rf"conductor < {high}: row {label}: {message}"):
        pull_database(pulling, 1, 200, 50)
    assert not kept(pulling, table, low, high)
    assert not (tmp_path / "sources.lock.json").exists()


def test_rows_beyond_the_size_limit_stop_the_query(tmp_path, lmfdb_uri):
    """``ingest.fetch.max_mb`` bounds a window's rows as it bounds a download: the query stops
    part-way, naming the window and the limit, and nothing is cached or locked."""
    small = FetchSettings(**{**FAST_FETCH, "max_mb": 0.002})           # about 2 KB
    pulling = fetcher(tmp_path, lmfdb_uri, small)
    with pytest.raises(LmfdbDbError) as err:
        pull_database(pulling, 1, 200, 50)
    key = pulling.window_key("ec_curvedata", 1, 51)
    assert re.fullmatch(rf"{re.escape(key)}: the rows are larger than 0.002 MiB \(ingest\.fetch\."
                        r"max_mb; refused after (\d+) rows\); a narrower ingest\.lmfdb_db_window "
                        r"reads fewer at a time", str(err.value)), str(err.value)
    read = int(re.search(r"after (\d+) rows", str(err.value)).group(1))
    assert 0 < read < len(pull_database(fetcher(tmp_path / "whole", lmfdb_uri), 1, 51, 50)[0])
    assert not kept(pulling, "ec_curvedata", 1, 51) and not (tmp_path / "downloads").exists()


def test_a_missing_mwbsd_row_is_named(tmp_path, server):
    rows = fixture_rows()
    rows["ec_mwbsd"] = [r for r in rows["ec_mwbsd"] if r["lmfdb_label"] != "37.a1"]
    uri = create_lmfdb(server, "incomplete", rows=rows)
    pulling = fetcher(tmp_path, uri)
    with pytest.raises(LmfdbDbError, match=r"ec_mwbsd 1 <= conductor < 51: no row for "
                                           r"lmfdb_label 37\.a1$"):
        pull_database(pulling, 1, 200, 50)
    # the curves' window is sound on its own and kept; the incomplete one is not
    assert kept(pulling, "ec_curvedata", 1, 51) and not kept(pulling, "ec_mwbsd", 1, 51)


def test_a_bad_curve_is_named_by_window_and_label(tmp_path, server):
    """The ingest stage's curve checks name a row of the database by its window and label."""
    rows = fixture_rows()
    (row,) = [r for r in rows["ec_curvedata"] if r["lmfdb_label"] == "11.a2"]
    row["ainvs"] = [0, 0, 0, 0, 0]
    uri = create_lmfdb(server, "singular", rows=rows)
    params = online_params(tmp_path, "lmfdb_db", uri, conductor_max=60, lmfdb_db_window=50)
    with pytest.raises(CurveError, match=rf"^{re.escape(redacted(uri))} ec_curvedata 1 <= "
                                         r"conductor < 51: row 11\.a2: 11a1: singular curve"):
        ingest(Params.model_validate(params))
    assert not (tmp_path / "sources.lock.json").exists() and not (tmp_path / "curves").exists()


def test_a_changed_upstream_window_is_named(tmp_path, server):
    uri = create_lmfdb(server, "changing")
    pull_and_lock(fetcher(tmp_path, uri), 1, 200, 50)
    with server.admin("changing") as db:
        db.execute("UPDATE ec_curvedata SET sha = 4 WHERE lmfdb_label = '37.a1'")
    for path in (tmp_path / "downloads").iterdir():
        path.unlink()                                    # the lock stays: the rows are compared
    with pytest.raises(FetchError, match=r"ec_curvedata\(.*\) 1 <= conductor < 51: changed "
                                         "upstream") as err:
        pull_database(fetcher(tmp_path, uri), 1, 200, 50)
    assert READER_PASSWORD not in str(err.value)


def test_a_killed_pull_resumes_with_the_windows_it_has(tmp_path, lmfdb_uri):
    """SIGKILL of the ingest stage during the pull: no output left; the rerun keeps every window
    it had (not read again), pulls the rest, and ends with the lock of an uninterrupted pull."""
    whole = tmp_path / "whole"
    whole.mkdir()
    pull_and_lock(fetcher(whole, lmfdb_uri), 1, 60, 5)
    windows = len(json.loads((whole / "sources.lock.json").read_text()))

    killed = tmp_path / "killed"
    killed.mkdir()
    params = online_params(killed, "lmfdb_db", lmfdb_uri, conductor_max=60, lmfdb_db_window=5,
                           fetch={**FAST_FETCH, "rate": 10})
    process = run_stage(killed, params)
    downloads = killed / "downloads"

    def entries() -> list:              # a write the kill interrupted leaves only a temporary file
        if not downloads.exists():
            return []
        return [p for p in downloads.iterdir() if TMP_MARKER not in p.name]

    while len(entries()) < windows // 3:
        assert process.poll() is None, process.communicate()
        time.sleep(0.02)
    process.send_signal(signal.SIGKILL)
    process.wait()
    kept = {p.name: p.stat().st_mtime_ns for p in entries()}
    assert 0 < len(kept) < windows
    assert not (killed / "curves").exists() and not (killed / "published").exists()

    params["ingest"]["fetch"] = FAST_FETCH
    rerun = run_stage(killed, params)
    out, err = rerun.communicate()
    assert rerun.returncode == 0, err
    assert {p.name: p.stat().st_mtime_ns for p in entries() if p.name in kept} == kept
    assert len(entries()) == windows
    assert (json.loads((killed / "sources.lock.json").read_text())
            == json.loads((whole / "sources.lock.json").read_text()))
    embedded = read_curves(1, 60)
    curves = pl.read_parquet(killed / "curves")
    assert curves.select(embedded.drop("gens").columns).equals(embedded.drop("gens"))
    assert curves["gens"].list.len().equals(embedded["gens"].list.len())


def test_dvc_repro_gives_the_embedded_curves_with_no_mismatch(tmp_path_factory, lmfdb_uri):
    """`dvc repro crosscheck` on the database (conductors below 200), then on the embedded
    tables: the same curves, zero cross-check mismatches, the windows in the lock file."""
    repo = scratch_project(tmp_path_factory.mktemp("lmfdb_db") / "project")
    curves, metrics = {}, {}
    for source in ("lmfdb_db", "elldata"):
        params = small_params()
        params["ingest"].update(source=source, conductor_max=200, fetch=FAST_FETCH,
                                lmfdb_db_window=50)
        params["ingest"]["base_url"]["lmfdb_db"] = lmfdb_uri
        (repo / "params.yaml").write_text(yaml.safe_dump(params))
        output = run([sys.executable, "-m", "dvc", "repro", "crosscheck"], repo).stdout
        assert "Running stage 'ingest'" in output and "Running stage 'crosscheck'" in output
        status = run([sys.executable, "-m", "dvc", "status", "crosscheck"], repo).stdout
        assert "up to date" in status, status
        curves[source] = pl.read_parquet(repo / "data/curves.parquet")
        metrics[source] = json.loads((repo / "metrics/crosscheck.json").read_text())
    embedded, pulled = curves["elldata"], curves["lmfdb_db"]
    assert pulled.columns == [*embedded.columns, "lmfdb_label", "lmfdb_iso"]
    assert pulled.select(embedded.columns).drop("gens").equals(embedded.drop("gens"))
    assert pulled["gens"].list.len().equals(embedded["gens"].list.len())
    found = metrics["lmfdb_db"]
    assert found["source"] == "lmfdb_db" and found["mismatches"] == 0
    assert set(found["compared"]) == COMPARED["lmfdb"]
    assert found["compared"]["rank"] == len(embedded) == 739
    lock = json.loads((repo / "sources.lock.json").read_text())
    assert sum(" ec_curvedata(" in key for key in lock) == 4
    assert not any(READER_PASSWORD in key for key in lock)
