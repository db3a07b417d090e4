"""Pulling the LMFDB API from a local server on 127.0.0.1 serving the shared fixture pages:
paging to the empty page, windows split when the server refuses an offset, clear errors."""
from __future__ import annotations

import json
import re
from http.server import BaseHTTPRequestHandler
from urllib.parse import parse_qs, unquote, urlparse

import polars as pl
import pytest

from sources.elldata import read_curves
from sources.fetch import Fetcher, FetchSettings
from sources.lmfdb import (CURVE_FIELDS, LmfdbError, curve_table, published_table, pull,
                            pull_window, window_url)
from tests.conftest import SHARED_FIXTURES, local_server

PAGES = {0: "ec_curvedata.page0.json", 2: "ec_curvedata.page1.json",
         4: "ec_curvedata.page2-empty.json"}
FAST = FetchSettings(timeout=2, retries=1, backoff=0.01, rate=1000)


def fixture_page(offset: int) -> dict:
    return json.loads((SHARED_FIXTURES / "lmfdb" / PAGES[offset]).read_text())


class Api(BaseHTTPRequestHandler):
    windows: list[tuple[int, int]] = []

    def log_message(self, *args):
        pass

    def do_GET(self):
        url = urlparse(self.path)
        query = parse_qs(url.query)
        offset = int(query["_offset"][0])
        if url.path.startswith("/split/"):          # refuses windows wider than 50 conductors
            low, high = map(int, re.findall(r"\d+", unquote(query["conductor"][0])))
            Api.windows.append((low, high))
            page = (json.loads((SHARED_FIXTURES / "lmfdb/error-offset.json").read_text())
                    if high - low > 50 else {**fixture_page(4), "start": 0, "offset": 0,
                                             "data": [], "next": self.path})
        else:
            page = fixture_page(offset)
            if url.path.startswith("/missing/") and offset == 2:
                del page["data"][1]["ainvs"]
            if url.path.startswith("/skip/") and offset == 2:
                page["start"] = 3
            if url.path.startswith("/hole/") and offset == 2:
                page["data"] = []
            if url.path.startswith("/cycle/") and offset == 2:     # next: the page itself
                page["next"] = page["next"].replace("_offset=4", "_offset=2")
        body = b"{truncated" if url.path.startswith("/garbled/") else json.dumps(page).encode()
        if url.path.startswith(("/missing/", "/skip/", "/garbled/", "/hole/", "/cycle/")) \
                and "next" in page:
            page["next"] = url.path.split("/api")[0] + page["next"]
            body = body if url.path.startswith("/garbled/") else json.dumps(page).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture(scope="module")
def server():
    with local_server(Api) as url:
        yield url


@pytest.fixture
def fetcher(tmp_path, server):
    return Fetcher(tmp_path / "cache", tmp_path / "lock.json", FAST, base=server)


def test_pages_are_followed_to_the_empty_one(server, fetcher):
    records = pull_window(fetcher, server, "ec_curvedata", CURVE_FIELDS, 1, 100)
    table = curve_table(records)
    assert table["label"].to_list() == ["11a1", "11a2", "11a3", "37a1"]
    assert table.filter(pl.col("label") == "11a1")["lmfdb_label"].item() == "11.a2"
    embedded = read_curves(1, 100).filter(pl.col("label").is_in(table["label"].implode()))
    assert [list(map(int, a)) for a in embedded["ainvs"].to_list()] == table["ainvs"].to_list()
    assert all(re.search(r"_offset=\d+: record \d+$", r) for r in table["record"])
    fetcher.save_lock()
    assert len(json.loads(fetcher.lock_path.read_text())) == 3          # three pages, locked


def test_a_refused_window_is_split(server, fetcher):
    Api.windows.clear()
    assert pull(fetcher, f"{server}/split", "ec_curvedata", CURVE_FIELDS, 0, 200, 200) == []
    served = [w for w in Api.windows if w[1] - w[0] <= 50]
    assert sorted(served) == [(0, 50), (50, 100), (100, 150), (150, 200)]


@pytest.mark.parametrize("prefix, message", [
    ("missing", r"_offset=2: record 3 \(37.a1\) has no field 'ainvs'"),
    ("skip", r"_offset=2: the page starts at record 3, but 2 records came before it"),
    ("garbled", r"_offset=0: not JSON"),
    ("hole", r"_offset=2: an empty page in the middle of the listing \(its 'next' goes on to "
             r"offset 4\)$"),
    ("cycle", r"_offset=2: its 'next' link /cycle/api/.* does not go on to record 4$"),
])
def test_bad_pages_name_the_url(server, fetcher, prefix, message):
    with pytest.raises(LmfdbError, match=message):
        pull_window(fetcher, f"{server}/{prefix}", "ec_curvedata", CURVE_FIELDS, 1, 100)


def test_only_a_refused_offset_splits_a_window(server, fetcher):
    """Every error message names its URL, which holds ``_offset=``: a missing field must still
    fail at once, not be taken for a refused offset and split down to single conductors."""
    with pytest.raises(LmfdbError, match=r"no field 'ainvs'"):
        pull(fetcher, f"{server}/missing", "ec_curvedata", CURVE_FIELDS, 1, 100, 100)
    # the first page is kept; the one refused is neither cached nor locked, and no lock file
    first = window_url(f"{server}/missing", "ec_curvedata", CURVE_FIELDS, 1, 100)
    assert list(fetcher.lock) == [first] and not fetcher.lock_path.exists()
    assert [p.name for p in fetcher.cache.iterdir()] == [fetcher.cached_path(first).name]


def test_curves_beyond_cremonas_tables_keep_their_lmfdb_labels():
    """Beyond N = 500,000 the LMFDB has no Cremona label (Clabel null): the LMFDB's serves."""
    record = {**fixture_page(0)["data"][0], "Clabel": None, "Ciso": None,
              "lmfdb_label": "500001.a1", "lmfdb_iso": "500001.a", "conductor": 500001}
    row = curve_table([record]).row(0, named=True)
    assert (row["label"], row["isogeny_class"], row["number"]) == ("500001.a1", "500001.a", 1)
    assert published_table([record], [])["label"].to_list() == ["500001.a1"]


def test_a_malformed_record_given_to_the_conversion_is_named():
    """The conversion checks what it reads as the pull does: records from elsewhere (the
    database path's rows) are named by their ``record`` and the field, never a traceback."""
    record = {**fixture_page(0)["data"][1], "record": "URL: record 1"}
    with pytest.raises(LmfdbError, match=r"^URL: record 1: field 'ainvs' = \[0, -1, 'x', -10, "
                                          r"-20\] is not a list of 5 integers"):
        curve_table([{**record, "ainvs": [0, -1, "x", -10, -20]}])
    with pytest.raises(LmfdbError, match=r"^URL: record 1 has no field 'torsion'$"):
        published_table([{k: v for k, v in record.items() if k != "torsion"}], [])
    with pytest.raises(LmfdbError, match=r"^URL: record 1: Clabel 11a1 is not a curve of the "
                                          r"class Ciso 11b$"):
        curve_table([{**record, "Ciso": "11b"}])
