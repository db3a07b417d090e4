"""Downloads against a local HTTP server on 127.0.0.1 serving the shared fixtures and faults:
cache, lock, retries, clear errors, nothing partial, resumption."""
from __future__ import annotations

import json
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler

import pytest

from machinery.atomic import TMP_MARKER
from sources.fetch import Fetcher, FetchError, FetchSettings, digest
from tests.conftest import SHARED_FIXTURES, local_server

FAST = FetchSettings(timeout=0.5, retries=2, backoff=0.01, backoff_max=0.05, rate=1000)


class Faults(BaseHTTPRequestHandler):
    hits: Counter = Counter()

    def log_message(self, *args):          # keep pytest's output clean
        pass

    def _send(self, status: int, body: bytes = b"", headers: dict | None = None,
              length: int | None = None):
        self.send_response(status)
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body) if length is None else length))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        Faults.hits[self.path] += 1
        if self.path.startswith("/fixtures/"):
            path = SHARED_FIXTURES / self.path.removeprefix("/fixtures/")
            return self._send(200, path.read_bytes()) if path.is_file() else self._send(404)
        if self.path == "/429-once":
            if Faults.hits[self.path] == 1:
                return self._send(429, headers={"Retry-After": "0"})
            return self._send(200, b"after a 429")
        if self.path == "/500":
            return self._send(500)
        if self.path == "/slow":
            time.sleep(1.0)
            return self._send(200, b"too late")
        if self.path == "/truncated":
            self._send(200, b"0123456789", length=100)
            self.close_connection = True
            return None
        return self._send(404)


@pytest.fixture(scope="module")
def server():
    with local_server(Faults) as url:
        yield url


@pytest.fixture
def fetcher(tmp_path, server):
    Faults.hits.clear()
    return Fetcher(tmp_path / "cache", tmp_path / "lock.json", FAST, base=server)


def leftovers(fetcher) -> list[str]:
    return [p.name for p in fetcher.cache.glob(f"*{TMP_MARKER}*")] if fetcher.cache.exists() else []


def test_a_file_is_fetched_locked_and_then_served_from_the_cache(server, fetcher):
    url = f"{server}/fixtures/cremona/allbsd.sample"
    data = fetcher.get(url)
    assert data == (SHARED_FIXTURES / "cremona/allbsd.sample").read_bytes()
    assert not fetcher.lock_path.exists()                   # locked once the pull succeeded
    fetcher.save_lock()
    lock = json.loads(fetcher.lock_path.read_text())
    assert lock[url] == {"sha256": digest(data), "size": len(data)}
    assert fetcher.get(url) == data and Faults.hits["/fixtures/cremona/allbsd.sample"] == 1


def test_404_fails_at_once_naming_the_url(server, fetcher):
    with pytest.raises(FetchError, match=r"/fixtures/nothing-here: HTTP 404"):
        fetcher.get(f"{server}/fixtures/nothing-here")
    assert Faults.hits["/fixtures/nothing-here"] == 1 and not fetcher.lock_path.exists()


def test_429_is_retried(server, fetcher):
    assert fetcher.get(f"{server}/429-once") == b"after a 429"
    assert Faults.hits["/429-once"] == 2


@pytest.mark.parametrize("path, message", [
    ("/500", r"/500: failed after 3 attempts; last: HTTP 500"),
    ("/slow", r"/slow: failed after 3 attempts; last: no answer within 0.5 s"),
    ("/truncated", r"/truncated: failed after 3 attempts; last: \w+"),
])
def test_persistent_faults_fail_after_the_retries(server, fetcher, path, message):
    with pytest.raises(FetchError, match=message):
        fetcher.get(server + path)
    assert Faults.hits[path] == 3
    assert not fetcher.cached_path(server + path).exists() and not leftovers(fetcher)


def test_a_changed_upstream_file_is_reported_not_mixed_in(server, tmp_path):
    url = f"{server}/fixtures/cremona/aplist.sample"
    lock = tmp_path / "lock.json"
    lock.write_text(json.dumps({url: {"sha256": "0" * 64, "size": 3}}))
    fetcher = Fetcher(tmp_path / "cache", lock, FAST, base=server)
    with pytest.raises(FetchError, match=r"aplist.sample: changed upstream: sha256 [0-9a-f]{64}"):
        fetcher.get(url)
    assert not fetcher.cached_path(url).exists()
    assert json.loads(lock.read_text())[url]["size"] == 3          # the lock is left as it was


def test_a_damaged_cache_entry_is_fetched_again(server, fetcher):
    url = f"{server}/fixtures/cremona/allcurves.sample"
    data = fetcher.get(url)
    fetcher.cached_path(url).write_bytes(b"damaged")
    assert fetcher.get(url) == data and Faults.hits["/fixtures/cremona/allcurves.sample"] == 2


def test_an_interrupted_pull_resumes_with_what_it_has(server, tmp_path):
    names = ["cremona/allcurves.sample", "cremona/allbsd.sample", "cremona/aplist.sample",
             "lmfdb/ec_curvedata.page0.json"]
    urls = [f"{server}/fixtures/{n}" for n in names]
    whole = Fetcher(tmp_path / "whole", tmp_path / "whole.json", FAST, base=server)
    expected = [whole.get(u) for u in urls]
    whole.save_lock()
    Faults.hits.clear()
    first = Fetcher(tmp_path / "cache", tmp_path / "lock.json", FAST, base=server)
    for url in urls[:2]:                                  # killed after two files
        first.get(url)
    again = Fetcher(tmp_path / "cache", tmp_path / "lock.json", FAST, base=server)
    assert [again.get(u) for u in urls] == expected
    again.save_lock()
    assert all(Faults.hits[f"/fixtures/{n}"] == 1 for n in names)
    assert (tmp_path / "lock.json").read_text() == (tmp_path / "whole.json").read_text()
