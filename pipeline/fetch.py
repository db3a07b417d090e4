"""Downloads for the online sources (Cremona's ecdata files, the LMFDB API): cached, checked
against a lock file, retried politely.

- **Cache** keyed by URL: ``<cache>/<sha256(url)[:32]>``, each file written atomically, so an
  interrupted pull resumes with the files it has and never keeps a partial one.
- **Lock**: every URL's sha256 and size go to a JSON lock file committed with the project. A
  download whose content differs from its lock entry is an error naming the URL (the upstream
  file changed: it is reported, never mixed in); a cached file that no longer matches is
  fetched again.
- **Faults**: 429, 5xx, time-outs, dropped connections and truncated bodies are retried with
  exponential back-off (``Retry-After`` honoured, capped); other HTTP errors fail at once.
  Requests are spaced by at least ``1/rate`` seconds. Every error names the URL.
- **Local mirrors**: a URL without a scheme, or ``file://``, is a path read from disk (same
  cache and lock), so a directory holding the files serves as a base URL.
"""
from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass
from pathlib import Path

import requests

from pipeline.atomic import atomic_path, write_json

RETRYABLE = {429, 500, 502, 503, 504}


class FetchError(RuntimeError):
    """A download failed or does not match its lock entry; the message names the URL."""


@dataclass(frozen=True)
class FetchSettings:
    timeout: float = 30.0       # seconds per request
    retries: int = 4            # further attempts after a retryable failure
    backoff: float = 1.0        # seconds before the first retry, doubled each time
    backoff_max: float = 60.0   # ceiling of one wait (and of a Retry-After)
    rate: float = 2.0           # requests per second at most


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class Fetcher:
    """``get(url)``: the bytes at ``url``, from the cache when it holds them."""

    def __init__(self, cache: Path | str, lock: Path | str, settings: FetchSettings,
                 session: requests.Session | None = None):
        self.cache, self.lock_path, self.settings = Path(cache), Path(lock), settings
        self.session = session or requests.Session()
        self.lock: dict[str, dict] = (json.loads(self.lock_path.read_text())
                                      if self.lock_path.exists() else {})
        self._last = 0.0

    def cached_path(self, url: str) -> Path:
        return self.cache / hashlib.sha256(url.encode()).hexdigest()[:32]

    def get(self, url: str) -> bytes:
        path = self.cached_path(url)
        entry = self.lock.get(url)
        if path.exists():
            data = path.read_bytes()
            if entry is None or (digest(data), len(data)) == (entry["sha256"], entry["size"]):
                self._record(url, data)
                return data
            path.unlink()                       # a damaged cache entry: fetch it again
        data = self._download(url)
        if entry is not None and (digest(data), len(data)) != (entry["sha256"], entry["size"]):
            raise FetchError(
                f"{url}: changed upstream: sha256 {digest(data)} ({len(data)} bytes), but "
                f"{self.lock_path} has {entry['sha256']} ({entry['size']} bytes); remove its "
                "entry from the lock file to accept the new version")
        self.cache.mkdir(parents=True, exist_ok=True)
        with atomic_path(path) as tmp:
            tmp.write_bytes(data)
        self._record(url, data)
        return data

    def _record(self, url: str, data: bytes) -> None:
        entry = {"sha256": digest(data), "size": len(data)}
        if self.lock.get(url) != entry:
            self.lock[url] = entry
            write_json(dict(sorted(self.lock.items())), self.lock_path)

    def _wait_turn(self) -> None:
        pause = 1 / self.settings.rate - (time.monotonic() - self._last)
        if pause > 0:
            time.sleep(pause)
        self._last = time.monotonic()

    def _download(self, url: str) -> bytes:
        if url.startswith("file://") or "://" not in url:
            path = Path(url.removeprefix("file://"))
            try:
                return path.read_bytes()
            except OSError as err:
                raise FetchError(f"{url}: cannot read the local file: {err.strerror}") from None
        s = self.settings
        problem, wait = "", s.backoff
        for attempt in range(s.retries + 1):
            if attempt:
                time.sleep(min(wait, s.backoff_max))
                wait = s.backoff * 2 ** attempt
            self._wait_turn()
            try:
                response = self.session.get(url, timeout=s.timeout)
            except requests.Timeout:
                problem = f"no answer within {s.timeout:g} s"
                continue
            except requests.RequestException as err:   # refused, reset, truncated body
                problem = f"{type(err).__name__}: {err}"
                continue
            if response.status_code == 200:
                return response.content
            problem = f"HTTP {response.status_code} {response.reason}"
            if response.status_code not in RETRYABLE:
                raise FetchError(f"{url}: {problem}")
            after = response.headers.get("Retry-After", "")
            if after.isdigit():
                wait = float(after)
        raise FetchError(f"{url}: failed after {s.retries + 1} attempts; last: {problem}")
