"""Downloads for the online sources (Cremona's ecdata files, the LMFDB API): cached, checked
against a lock file, retried politely.

- **Cache** keyed by URL: ``<cache>/<sha256(url)[:32]>``, each file written atomically, so an
  interrupted pull resumes with the files it has and never keeps a partial one.
- **Lock**: every URL's sha256 and size go to a JSON lock file committed with the project. A
  download whose content differs from its lock entry is an error naming the URL (the upstream
  file changed: it is reported, never mixed in); a cached file that no longer matches is
  fetched again.
- **Faults**: 429, 5xx, time-outs, dropped connections and truncated bodies are retried with
  exponential back-off (``Retry-After`` honoured, capped); other HTTP errors fail at once, a
  redirect among them (redirects are not followed, so no request leaves the boundary below
  unchecked). Requests are spaced by at least ``1/rate`` seconds. Every error names the URL.
  A subclass may read an answer as a refusal first (:meth:`Fetcher.refusal`: the LMFDB
  API's captcha pages).
- **Local mirrors**: a URL without a scheme, or ``file://``, is a path read from disk (same
  cache and lock), so a directory holding the files serves as a base URL.
- **Boundary**: a fetcher serves only URLs beneath its configured ``base``: the same scheme,
  host and port and a path under the base's path (for a local base, a file inside its
  directory, symbolic links resolved). A link to anywhere else (``file:///etc/passwd``,
  another host, ``..``, a control character) is refused before anything is read.
- **Validation first**: ``get(url, validate)`` runs ``validate(data)`` before the data is
  cached or locked, so a page that fails it (an HTML error page, a truncated table, a record
  of the wrong type, a link out of the source) leaves no trace; ``parsed(url, parse)`` does
  the same and returns what ``parse`` made of the data. The lock file is written only by
  :meth:`Fetcher.save_lock`, which the ingest stage calls once it has succeeded, to publish
  the lock together with its outputs.
- **Size**: every body is read in pieces, decompressed, up to ``max_mb`` MiB; a larger one (or
  a gzip bomb) is refused. Errors quote at most a short escaped excerpt of a body.
"""
from __future__ import annotations

import hashlib
import json
import posixpath
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, TypeVar
from urllib.parse import unquote, urlsplit

import requests

from machinery.atomic import write_bytes, write_json

RETRYABLE = {429, 500, 502, 503, 504}
T = TypeVar("T")


class FetchError(RuntimeError):
    """A download failed or does not match its lock entry; the message names the URL."""


@dataclass(frozen=True)
class FetchSettings:
    timeout: float = 30.0       # seconds per request
    retries: int = 4            # further attempts after a retryable failure
    backoff: float = 1.0        # seconds before the first retry, doubled each time
    backoff_max: float = 60.0   # ceiling of one wait (and of a Retry-After)
    rate: float = 2.0           # requests per second at most
    max_mb: float = 256.0       # largest body accepted (after decompression), MiB

#: Bytes of a refused body quoted in an error (escaped).
EXCERPT_BYTES = 32
#: Bytes read from a response at a time.
_PIECE = 1 << 16


#: Characters of a value from the server quoted in an error (escaped).
EXCERPT = 40


def shown(value, limit: int = EXCERPT) -> str:
    """A value from the server as an error quotes it: escaped (a newline or control character
    shows as its escape, non-ASCII as ``\\u`` escapes) and cut to ``limit`` characters, since
    records, links and labels are not trusted."""
    try:
        text = str(value)
    except ValueError:                      # an integer too long for Python to print
        text = f"<{type(value).__name__} too long to print>"
    text = text.encode("unicode_escape").decode("ascii")
    return text[:limit] + ("..." if len(text) > limit else "")


def excerpt(data: bytes) -> str:
    """A short escaped excerpt of a body for an error message (never the whole body)."""
    return repr(data[:EXCERPT_BYTES]) + (" ..." if len(data) > EXCERPT_BYTES else "")


def _is_local(url: str) -> bool:
    return url.startswith("file://") or "://" not in url


def _local_path(url: str) -> Path:
    return Path(unquote(url.removeprefix("file://")) if url.startswith("file://") else url)


def within(url: str, base: str) -> bool:
    """Whether ``url`` lies beneath ``base``: for a web base, the same scheme, host and port and
    a normalised path under the base's path (no ``..`` escapes); for a local base (a directory,
    or ``file://``), a local path inside that directory once symbolic links are resolved.

    A URL holding a control character, or one Python cannot split (an unclosed IPv6 bracket),
    is never within: :func:`urllib.parse.urlsplit` drops tabs and newlines silently, so the URL
    checked would not be the one requested, and an error naming it would carry them."""
    if any(ord(c) < 0x20 or ord(c) == 0x7f for c in url):
        return False
    if _is_local(base) or _is_local(url):
        if not (_is_local(base) and _is_local(url)):
            return False
        root = _local_path(base).resolve()
        return _local_path(url).resolve().is_relative_to(root)
    try:
        ours, theirs = urlsplit(base), urlsplit(url)
    except ValueError:
        return False
    if (theirs.scheme.lower(), theirs.netloc.lower()) != (ours.scheme.lower(), ours.netloc.lower()):
        return False
    if theirs.username or theirs.password:
        return False
    prefix = posixpath.normpath("/" + unquote(ours.path)).rstrip("/") + "/"
    path = unquote(theirs.path)
    normal = posixpath.normpath("/" + path) + ("/" if path.endswith("/") else "")
    return ".." not in path.split("/") and (normal + "/").startswith(prefix)


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _read_lock(path: Path) -> dict[str, dict]:
    if not path.exists():
        return {}
    try:
        lock = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise FetchError(f"{path}: not a JSON lock file ({err})") from None
    if not (isinstance(lock, dict) and all(
            isinstance(e, dict) and isinstance(e.get("sha256"), str)
            and isinstance(e.get("size"), int) for e in lock.values())):
        raise FetchError(f"{path}: expected {{url: {{sha256, size}}}} entries")
    return lock


class Fetcher:
    """``get(url)``: the bytes at ``url`` (beneath ``base``), from the cache when it holds them."""

    def __init__(self, cache: Path | str, lock: Path | str, settings: FetchSettings,
                 session: requests.Session | None = None, *, base: str):
        self.cache, self.lock_path, self.settings = Path(cache), Path(lock), settings
        self.base = base
        self.session = session or requests.Session()
        self.lock: dict[str, dict] = _read_lock(self.lock_path)
        self._saved = dict(self.lock)
        self._last = 0.0

    def inside(self, url: str) -> bool:
        """Whether ``url`` stays within the configured source (:func:`within` its base)."""
        return within(url, self.base)

    def cached_path(self, url: str) -> Path:
        return self.cache / hashlib.sha256(url.encode()).hexdigest()[:32]

    def get(self, url: str, validate: Callable[[bytes], object] | None = None) -> bytes:
        """The bytes at ``url``; ``validate(data)`` raises on content the caller cannot use,
        before anything is cached or locked (a cached copy is validated again)."""
        if not self.inside(url):
            raise FetchError(f"{excerpt(url.encode())}: outside the configured source "
                             f"{self.base}; refused")
        path = self.cached_path(url)
        entry = self.lock.get(url)
        if path.exists():
            data = path.read_bytes()
            if entry is None or (digest(data), len(data)) == (entry["sha256"], entry["size"]):
                if validate is not None:
                    validate(data)
                self._record(url, data)
                return data
            path.unlink()                       # a damaged cache entry: fetch it again
        data = self._download(url)
        if entry is not None and (digest(data), len(data)) != (entry["sha256"], entry["size"]):
            raise FetchError(
                f"{url}: changed upstream: sha256 {digest(data)} ({len(data)} bytes), but "
                f"{self.lock_path} has {entry['sha256']} ({entry['size']} bytes); remove its "
                "entry from the lock file to accept the new version")
        if validate is not None:
            validate(data)
        write_bytes(data, path)
        self._record(url, data)
        return data

    def parsed(self, url: str, parse: Callable[[bytes], T]) -> T:
        """``parse(data)`` of the bytes at ``url``, run as :meth:`get`'s validation: what
        ``parse`` refuses is neither cached nor locked, and what it returns is the caller's,
        so nothing is parsed twice."""
        result: list[T] = []
        self.get(url, validate=lambda data: result.append(parse(data)))
        return result[-1]

    def _record(self, url: str, data: bytes) -> None:
        self.lock[url] = {"sha256": digest(data), "size": len(data)}

    def save_lock(self, path: Path | str | None = None) -> None:
        """Write the lock file (only when an entry changed): once the whole pull succeeded.
        ``path``: where to write it instead, a staging path of
        :func:`machinery.atomic.publish_together` that publishes it with the stage's outputs."""
        if self.lock != self._saved:
            write_json(dict(sorted(self.lock.items())), path or self.lock_path)
            self._saved = dict(self.lock)

    def _wait_turn(self) -> None:
        pause = 1 / self.settings.rate - (time.monotonic() - self._last)
        if pause > 0:
            time.sleep(pause)
        self._last = time.monotonic()

    @property
    def _limit(self) -> int:
        return int(self.settings.max_mb * 2 ** 20)

    def _too_large(self, url: str) -> FetchError:
        return FetchError(f"{url}: larger than {self.settings.max_mb:g} MiB "
                          "(ingest.fetch.max_mb); refused")

    def _body(self, url: str, response: requests.Response) -> bytes:
        """The decompressed body, read piece by piece and refused beyond the size limit."""
        declared = response.headers.get("Content-Length", "")
        if declared.isdigit() and int(declared) > self._limit:
            response.close()
            raise self._too_large(url)
        pieces, size = [], 0
        for piece in response.iter_content(_PIECE):
            size += len(piece)
            if size > self._limit:
                response.close()
                raise self._too_large(url)
            pieces.append(piece)
        return b"".join(pieces)

    def refusal(self, url: str, response: requests.Response, final: bool) -> Exception | None:
        """The error to raise for this HTTP answer in place of the usual handling (its body for
        a 200, another attempt for a 429 or 5xx, an error naming the status otherwise), or None
        for the usual handling. ``final``: no attempt follows this answer. None here: a source
        whose server turns scripts away in its own way (the LMFDB's captcha) says so in a
        subclass, so its users read the reason and not a bare status."""
        return None

    def _download(self, url: str) -> bytes:
        if _is_local(url):
            path = _local_path(url)
            try:
                if path.stat().st_size > self._limit:
                    raise self._too_large(url)
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
                response = self.session.get(url, timeout=s.timeout, stream=True,
                                            allow_redirects=False)
                final = response.status_code not in RETRYABLE or attempt == s.retries
                refused = self.refusal(url, response, final)
                if refused is not None:
                    response.close()
                    raise refused
                if response.status_code == 200:
                    return self._body(url, response)
            except requests.Timeout:
                problem = f"no answer within {s.timeout:g} s"
                continue
            except requests.RequestException as err:   # refused, reset, truncated body
                problem = f"{type(err).__name__}: {err}"
                continue
            problem = f"HTTP {response.status_code} {shown(response.reason)}"
            if response.status_code not in RETRYABLE:
                raise FetchError(f"{url}: {problem}")
            after = response.headers.get("Retry-After", "")
            if after.isdigit():
                wait = float(after)
        raise FetchError(f"{url}: failed after {s.retries + 1} attempts; last: {problem}")
