"""Hostile data on the online paths, against local servers on 127.0.0.1: links that leave the
configured source, oversized bodies and gzip bombs, HTML in place of JSON and the LMFDB's other
ways of refusing a script (403, a redirect, 429 to the last attempt), long values with control
characters quoted in errors, malformed LMFDB records, and bad ecdata records named by file:line
(or page and record); nothing is cached or locked from them."""
from __future__ import annotations

import copy
import gzip
import json
import re
from functools import partial
from http.server import BaseHTTPRequestHandler, SimpleHTTPRequestHandler
from pathlib import Path

import pytest

from arithmetic.curves import CurveError
from machinery.params import Params
from pipeline.ingest import ingest
from sources.fetch import EXCERPT_BYTES, Fetcher, FetchError, FetchSettings, within
from sources.lmfdb import CURVE_FIELDS, ApiFetcher, LmfdbError, pull_window, window_url
from tests.conftest import SHARED_FIXTURES, local_server
from tests.online_sources import LmfdbApi, ecdata_mirror
from tests.test_online_ingest import online_params

FAST = FetchSettings(timeout=5, retries=0, backoff=0.01, backoff_max=0.05, rate=1000, max_mb=1)


class Hostile(BaseHTTPRequestHandler):
    """Pages whose ``next`` leaves the source, bodies too large, a captcha page."""
    hits: list[str] = []
    elsewhere = ""

    def log_message(self, *args):
        pass

    def _send(self, body: bytes, headers: dict | None = None, length: bool = True,
              status: int = 200, reason: str | None = None) -> None:
        self.send_response(status, reason)
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        if length:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        if not length:
            self.close_connection = True

    def do_GET(self):
        Hostile.hits.append(self.path)
        page = json.loads((SHARED_FIXTURES / "lmfdb" / "ec_curvedata.page0.json").read_text())
        if self.path.startswith("/file/"):
            return self._send(json.dumps({**page, "next": "file:///etc/passwd"}).encode())
        if self.path.startswith("/host/"):
            return self._send(json.dumps({**page, "next": f"{Hostile.elsewhere}/api/x"}).encode())
        if self.path.startswith("/up/"):
            return self._send(json.dumps({**page, "next": "/../../secret/api?_offset=2"}).encode())
        if self.path.startswith("/bomb"):      # 64 MiB of zeros in about 64 KiB
            return self._send(gzip.compress(b"\0" * (64 << 20), 9), {"Content-Encoding": "gzip"})
        if self.path.startswith("/large"):
            return self._send(b"x" * (2 << 20))
        if self.path.startswith("/unsized"):   # no Content-Length: read until the end
            return self._send(b"y" * (2 << 20), length=False)
        if self.path.startswith("/captcha/"):
            return self._send(b"<!DOCTYPE html><html><body>Please solve this captcha "
                              + b"\x1b[31m" * 200 + b"</body></html>",
                              {"Content-Type": "text/html"})
        # the site's other ways of turning a script away; each body alone is no HTML page,
        # so only the status or the Content-Type can tell
        if self.path.startswith("/forbidden/"):
            return self._send(b"Forbidden", {"Content-Type": "text/plain"}, status=403)
        if self.path.startswith("/redirect/"):
            return self._send(b"", {"Location": "/verify?next=/api/ec_curvedata/"}, status=302)
        if self.path.startswith("/typed/"):
            return self._send(b"Please enable JavaScript to solve the captcha.",
                              {"Content-Type": "text/html; charset=utf-8"})
        if self.path.startswith("/busy/"):
            return self._send(b"slow down", {"Content-Type": "text/plain", "Retry-After": "0"},
                              status=429)
        if self.path.startswith("/untyped/"):    # an HTML error page without its Content-Type
            return self._send(b"  <html><body>Service unavailable</body></html>", status=503)
        if self.path.startswith("/missing/"):
            return self._send(b"Not Found", {"Content-Type": "text/plain"}, status=404)
        if self.path.startswith("/gone/"):          # a reason phrase with terminal escapes
            return self._send(b"Gone", {"Content-Type": "text/plain"}, status=410,
                              reason="Gone \x1b[2J\x1b[31m" + "x" * 500)
        # long values with a newline and terminal escapes, in each place an error may quote
        junk = "\n\x1b[2J\x1b[31m" + "9" * 10_000
        if self.path.startswith("/longnext/"):       # an empty page whose 'next' goes on
            return self._send(json.dumps({**page, "data": [], "next": f"?_offset={junk}"})
                              .encode())
        if self.path.startswith("/longstart/"):
            return self._send(json.dumps({**page, "start": junk}).encode())
        if self.path.startswith("/longlabel/"):      # a listing of two pages, sound but a label
            if not self.path.endswith("_offset=0"):
                return self._send(json.dumps({**page, "data": [], "start": 2,
                                              "next": self.path}).encode())
            page["data"][0]["lmfdb_label"] = junk
            return self._send(json.dumps({**page, "next": "/longlabel/api/?_offset=2"}).encode())
        if self.path.startswith("/longinside/"):     # beneath the base but for the escapes
            return self._send(json.dumps({**page, "next": f"/longinside/api/{junk}"}).encode())
        return self._send(b"{}")


class Elsewhere(BaseHTTPRequestHandler):
    hits: list[str] = []

    def log_message(self, *args):
        pass

    def do_GET(self):
        Elsewhere.hits.append(self.path)
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")


@pytest.fixture(scope="module")
def servers():
    with local_server(Hostile) as hostile, local_server(Elsewhere) as other:
        Hostile.elsewhere = other
        yield hostile, other


def fetcher_for(tmp_path: Path, base: str) -> Fetcher:
    return Fetcher(tmp_path / "cache", tmp_path / "lock.json", FAST, base=base)


def nothing_kept(fetcher: Fetcher, url: str) -> bool:
    return not fetcher.cached_path(url).exists() and not fetcher.lock_path.exists()


@pytest.mark.parametrize("prefix, leak", [("file", "root:"), ("host", ""), ("up", "")])
def test_a_next_link_leaving_the_source_is_refused(servers, tmp_path, prefix, leak):
    hostile, other = servers
    Hostile.hits.clear()
    Elsewhere.hits.clear()
    fetcher = fetcher_for(tmp_path, f"{hostile}/{prefix}")
    with pytest.raises(LmfdbError, match=r"its 'next' link .* leaves the configured source") as err:
        pull_window(fetcher, f"{hostile}/{prefix}", "ec_curvedata", CURVE_FIELDS, 1, 100)
    assert len(Hostile.hits) == 1 and Elsewhere.hits == []
    assert leak == "" or leak not in str(err.value)
    # the page holding the link is refused as a whole: neither cached nor locked
    page = window_url(f"{hostile}/{prefix}", "ec_curvedata", CURVE_FIELDS, 1, 100)
    assert nothing_kept(fetcher, page) and not fetcher.lock
    assert not fetcher.cache.exists() or not any(fetcher.cache.iterdir())


@pytest.mark.parametrize("url", ["file:///etc/passwd", "/etc/passwd", "{other}/api/x",
                                 "{hostile}/mirror/../api/x", "{hostile}/mirror%2f..%2fapi",
                                 "{hostile}/mirrorx/api", "http://user@{host}/mirror/x",
                                 "{hostile}/mirror/x\x1b[2J", "{hostile}/mirror/x\ty",
                                 "http://[{host}/mirror/x"])
def test_the_fetcher_serves_only_urls_beneath_its_base(servers, tmp_path, url):
    hostile, other = servers
    url = url.format(other=other, hostile=hostile, host=hostile.removeprefix("http://"))
    Elsewhere.hits.clear()
    fetcher = fetcher_for(tmp_path, f"{hostile}/mirror")
    with pytest.raises(FetchError, match="outside the configured source"):
        fetcher.get(url)
    assert Elsewhere.hits == [] and nothing_kept(fetcher, url)


def test_a_local_source_stays_inside_its_directory(tmp_path):
    source = tmp_path / "mirror"
    source.mkdir()
    (source / "allcurves").write_text("11 a 1 [0,-1,1,-10,-20] 0 5\n")
    (tmp_path / "secret").write_text("not for the pipeline")
    (source / "link").symlink_to(tmp_path / "secret")
    fetcher = fetcher_for(tmp_path, str(source))
    assert fetcher.get(str(source / "allcurves")).startswith(b"11 a 1")
    for url in [str(source / ".." / "secret"), str(source / "link"), f"file://{tmp_path}/secret"]:
        with pytest.raises(FetchError, match="outside the configured source"):
            fetcher.get(url)
    assert within(f"file://{source}/allcurves", f"file://{source}")


@pytest.mark.parametrize("path", ["/bomb", "/large", "/unsized"])
def test_an_oversized_body_or_gzip_bomb_is_refused(servers, tmp_path, path):
    hostile, _ = servers
    fetcher = fetcher_for(tmp_path, hostile)
    with pytest.raises(FetchError, match=r"larger than 1 MiB \(ingest.fetch.max_mb\); refused"):
        fetcher.get(hostile + path)
    assert nothing_kept(fetcher, hostile + path)


def test_an_oversized_local_file_is_refused(tmp_path):
    big = tmp_path / "mirror" / "allbsd"
    big.parent.mkdir()
    big.write_bytes(b"1" * (2 << 20))
    with pytest.raises(FetchError, match="larger than 1 MiB"):
        fetcher_for(tmp_path, str(big.parent)).get(str(big))


def test_a_captcha_page_is_a_refusal_and_is_not_cached(servers, tmp_path):
    hostile, _ = servers
    fetcher = fetcher_for(tmp_path, f"{hostile}/captcha")
    with pytest.raises(LmfdbError) as err:
        pull_window(fetcher, f"{hostile}/captcha", "ec_curvedata", CURVE_FIELDS, 1, 100)
    message = str(err.value)
    assert "the LMFDB refused scripted access at http://127.0.0.1" in message
    assert message.endswith("use `ingest.source: lmfdb_db`")
    assert "\x1b" not in message and len(message) < 400 + 4 * EXCERPT_BYTES
    assert not list((tmp_path / "cache").glob("*")) if (tmp_path / "cache").exists() else True
    assert not fetcher.lock


REFUSALS = {                  # path -> what the message says came back
    "forbidden": r"HTTP 403 Forbidden\)",
    "redirect": r"HTTP 302 Found, a redirect to /verify\?next=/api/ec_curvedata/\)",
    "typed": r"HTTP 200 OK, an HTML page\)",
    "busy": r"HTTP 429 Too Many Requests to the last of 2 attempts\)",
    "untyped": r"HTTP 503 Service Unavailable, an HTML page\)",
}


@pytest.mark.parametrize("path", REFUSALS)
def test_every_way_the_site_turns_a_script_away_is_a_refusal(servers, tmp_path, path):
    hostile, _ = servers
    Hostile.hits.clear()
    base = f"{hostile}/{path}"
    settings = FetchSettings(**{**FAST.__dict__, "retries": 1})
    fetcher = ApiFetcher(tmp_path / "cache", tmp_path / "lock.json", settings, base=base)
    url = window_url(base, "ec_curvedata", CURVE_FIELDS, 1, 100)
    with pytest.raises(LmfdbError) as err:
        pull_window(fetcher, base, "ec_curvedata", CURVE_FIELDS, 1, 100)
    message = str(err.value)
    assert message.startswith(f"the LMFDB refused scripted access at {url} (it answered ")
    assert re.search(REFUSALS[path], message), message
    assert message.endswith("use `ingest.source: lmfdb_db`")
    # a 429 or 5xx is asked again before it counts; nothing else is, and no redirect is followed
    assert len(Hostile.hits) == (2 if path in ("busy", "untyped") else 1)
    assert nothing_kept(fetcher, url) and not fetcher.lock


def test_other_answers_and_the_cremona_path_keep_the_plain_status(servers, tmp_path):
    hostile, _ = servers
    api = ApiFetcher(tmp_path / "cache", tmp_path / "lock.json", FAST, base=hostile)
    with pytest.raises(FetchError, match=r"/missing/x: HTTP 404 Not Found$"):
        api.get(f"{hostile}/missing/x")          # a wrong base URL is not a refusal
    with pytest.raises(FetchError) as gone:      # the server's reason phrase, escaped and cut
        api.get(f"{hostile}/gone/x")
    assert "\x1b" not in str(gone.value) and len(str(gone.value)) < 200
    for path, status in [("forbidden", "403 Forbidden"), ("redirect", "302 Found"),
                         ("busy", "429 Too Many Requests")]:
        url = f"{hostile}/{path}/allcurves"
        with pytest.raises(FetchError, match=rf"{url}: (failed after 1 attempts; last: )?"
                                             rf"HTTP {status}$"):
            fetcher_for(tmp_path, hostile).get(url)
        assert nothing_kept(fetcher_for(tmp_path, hostile), url)


@pytest.mark.parametrize("path", ["longnext", "longstart", "longlabel", "longinside"])
def test_a_long_hostile_value_is_quoted_short_and_escaped(servers, tmp_path, path):
    """10,000 characters with a newline and terminal escapes, as a 'next' link, a page's start,
    a record's label or a link beneath the base: the error quotes a short escaped excerpt."""
    hostile, _ = servers
    base = f"{hostile}/{path}"
    fetcher = fetcher_for(tmp_path, base)
    with pytest.raises(LmfdbError) as err:
        pull_window(fetcher, base, "ec_curvedata", CURVE_FIELDS, 1, 100)
    message = str(err.value)
    page = window_url(base, "ec_curvedata", CURVE_FIELDS, 1, 100)
    assert message.startswith(page) and len(message) < len(page) + len(base) + 200, message
    assert not re.search(r"[\x00-\x1f\x7f]", message) and "9" * 50 not in message
    assert nothing_kept(fetcher, page) and not fetcher.lock


# ------------------------------------------------- malformed LMFDB records

DELETED = object()
MALFORMED = {       # fault -> (table, the record's key, field, value, what the message says)
    "missing key": ("ec_curvedata", "37.a1", "rank", DELETED, r" has no field 'rank'$"),
    "wrong type": ("ec_curvedata", "37.a1", "ainvs", {"a1": 0},
                   r": field 'ainvs' = \{'a1': 0\} is not a list of 5 integers"),
    "unparsable integer": ("ec_curvedata", "37.a1", "torsion", "1O",
                           r": field 'torsion' = '1O' is not an integer from 1 to 32767"),
    "string for a list": ("ec_classdata", "37.a", "aplist", "-2 -3 0",
                          r": field 'aplist' = '-2 -3 0' is not a list of 64-bit integers"),
    "list for an integer": ("ec_mwbsd", "37.a1", "tamagawa_product", [1],
                            r": field 'tamagawa_product' = \[1\] is not a positive 64-bit"),
}


def _api_with_record(table: str, key: str, field: str, value):
    records = copy.deepcopy(LmfdbApi.records)
    (record,) = [r for r in records[table] if key in (r.get("lmfdb_label"), r.get("lmfdb_iso"))
                 and (table == "ec_classdata" or r["lmfdb_label"] == key)]
    if value is DELETED:
        del record[field]
    else:
        record[field] = value
    return type("MalformedApi", (LmfdbApi,), {"records": records, "served": []})


@pytest.mark.parametrize("fault", sorted(MALFORMED))
def test_a_malformed_lmfdb_record_is_named_by_page_record_and_field(tmp_path, fault):
    """Not a traceback: the page's URL, the record's index and key, the field; the page is
    neither cached nor locked, and no lock file is written."""
    table, key, field, value, message = MALFORMED[fault]
    with local_server(_api_with_record(table, key, field, value)) as url:
        params = online_params(tmp_path / "out", "lmfdb", url, conductor_max=60)
        with pytest.raises(LmfdbError, match=rf"^{url}/api/{table}/\?\S+_offset=\d+: record \d+ "
                                              rf"\({re.escape(key)}\){message}") as err:
            ingest(Params.model_validate(params))
    page = str(err.value).split(": record ")[0]
    cache = Fetcher(tmp_path / "out" / "downloads", tmp_path / "lock.json", FAST, base=url)
    assert not cache.cached_path(page).exists()
    assert not (tmp_path / "out" / "sources.lock.json").exists()


# ------------------------------------------------- bad ecdata records on each online path


BAD_RECORDS = {           # fault -> (label, damaged ainvs, the check's message)
    "singular": ("11a1", [0, 0, 0, 0, 0], r"singular curve"),
    "conductor": ("11a1", [1, 0, 1, 4, -6],
                  r"conductor from ellglobalred is 14, the table says 11"),
    "non_minimal": ("11a1", [0, -4, 8, -160, -1280],
                    r"ainvs \[0, -4, 8, -160, -1280\] are not the global minimal model"),
}


@pytest.fixture(scope="module")
def ecdata_dir(tmp_path_factory) -> Path:
    return ecdata_mirror(tmp_path_factory.mktemp("ecdata-pristine"))


def _damaged_mirror(pristine: Path, target: Path, label: str, ainvs: list[int]) -> int:
    """A copy of the mirror where ``label``'s a-invariants are ``ainvs`` in allcurves and
    allbsd; the line number of the record in allcurves."""
    import shutil
    shutil.copytree(pristine, target)
    line_number = 0
    for kind in ("allcurves", "allbsd"):
        path = target / kind / f"{kind}.00000-09999"
        lines = path.read_text().splitlines()
        for i, line in enumerate(lines):
            fields = line.split()
            if f"{fields[0]}{fields[1]}{fields[2]}" == label:
                fields[3] = "[" + ",".join(map(str, ainvs)) + "]"
                lines[i] = " ".join(fields)
                if kind == "allcurves":
                    line_number = i + 1
        path.write_text("\n".join(lines) + "\n")
    return line_number


@pytest.mark.parametrize("fault", sorted(BAD_RECORDS))
def test_a_bad_cremona_record_is_named_by_url_and_line(ecdata_dir, tmp_path, fault):
    label, ainvs, message = BAD_RECORDS[fault]
    mirror = tmp_path / "mirror"
    line = _damaged_mirror(ecdata_dir, mirror, label, ainvs)
    with local_server(partial(_Quiet, directory=str(mirror))) as url:
        params = online_params(tmp_path / "out", "cremona", url, conductor_max=60)
        lock = tmp_path / "out" / "sources.lock.json"
        lock.parent.mkdir(parents=True)
        lock.write_text("{}\n")
        with pytest.raises(CurveError,
                           match=rf"{url}/allcurves/allcurves\.00000-09999:{line}: "
                                 rf"{label}: {message}"):
            ingest(Params.model_validate(params))
    assert lock.read_text() == "{}\n"            # a failing ingest leaves the lock as it was


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def _api_with(label: str, ainvs: list[int]):
    records = copy.deepcopy(LmfdbApi.records)
    for record in records["ec_curvedata"]:
        if record["Clabel"] == label:
            record["ainvs"] = ainvs
    return type("DamagedApi", (LmfdbApi,), {"records": records, "served": []})


@pytest.mark.parametrize("fault", sorted(BAD_RECORDS))
def test_a_bad_lmfdb_record_is_named_by_page_and_record(tmp_path, fault):
    label, ainvs, message = BAD_RECORDS[fault]
    with local_server(_api_with(label, ainvs)) as url:
        params = online_params(tmp_path / "out", "lmfdb", url, conductor_max=60)
        with pytest.raises(CurveError, match=rf"{url}/api/ec_curvedata/\?\S+_offset=0: "
                                             rf"record \d+: {label}: {message}"):
            ingest(Params.model_validate(params))
    assert not (tmp_path / "out" / "sources.lock.json").exists()


@pytest.mark.parametrize("content", [b"\x00\xffgarbage", b'{"http://x": {"sha256": 1}}', b""])
def test_a_damaged_lock_file_is_named(tmp_path, content):
    lock = tmp_path / "lock.json"
    lock.write_bytes(content)
    if content:
        with pytest.raises(FetchError, match=rf"{lock}: "):
            Fetcher(tmp_path / "cache", lock, FAST, base="http://127.0.0.1:1")
    else:
        with pytest.raises(FetchError, match=rf"{lock}: not a JSON lock file"):
            Fetcher(tmp_path / "cache", lock, FAST, base="http://127.0.0.1:1")
    assert lock.read_bytes() == content
