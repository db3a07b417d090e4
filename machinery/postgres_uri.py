"""Reading a PostgreSQL connection URI (or key=value string) the way libpq does, without
connecting, and showing it without its password.

The params schema refuses a malformed ``ingest.base_url.lmfdb_db`` with :func:`unreadable` when
params load, and the LMFDB database source (:mod:`sources.lmfdb_db`) names the database with
:func:`redacted` in every message and in the lock file; both read the URI here, with libpq's own
parser (psycopg's ``conninfo``), so what is refused at load is what a connection would refuse.
The schema imports this module only when it validates a URI, so loading the schema does not load
psycopg.
"""
from __future__ import annotations

import re
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo


def redacted(uri: str) -> str:
    """``uri`` without its password (``postgresql://user:secret@host/db`` -> ``user@host``),
    and without a ``password=`` parameter, so it can appear in messages and the lock file;
    a key=value connection string loses its ``password`` the same way. It never raises: a
    URI Python cannot split (``postgresql://u:secret@[::1/db``, an unclosed IPv6 bracket)
    loses everything from the ``:`` after the user name to the last ``@``, which hides more
    than the password rather than less."""
    if "://" not in uri:
        try:      # libpq's own reading of the string: quotes and backslash escapes included
            fields = conninfo_to_dict(uri)
        except psycopg.ProgrammingError:
            return re.split(r"(?i)\bpassword", uri, maxsplit=1)[0].strip() + " ..."
        fields.pop("password", None)
        return make_conninfo(**fields)
    try:
        parts = urlsplit(uri)
    except ValueError:
        cut = re.sub(r"^([^:/?#]*://[^:@/?#]*):.*@", r"\1@", uri, flags=re.DOTALL)
        return re.sub(r"(?i)([?&])password=[^&#]*&?", r"\1", cut).rstrip("?&")
    netloc = parts.netloc
    if "@" in netloc:
        user, host = netloc.rsplit("@", 1)
        netloc = f"{user.split(':', 1)[0]}@{host}"
    query = "&".join(p for p in parts.query.split("&") if p and not
                     p.lower().startswith("password="))
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def password(uri: str) -> str | None:
    """The password libpq reads from ``uri`` (either form), or None: none given, or ``uri``
    unreadable."""
    try:
        return conninfo_to_dict(uri).get("password")
    except psycopg.ProgrammingError:
        return None


def unreadable(uri: str) -> str | None:
    """Why libpq cannot read ``uri`` as a connection URI or key=value string, or None if it
    can: libpq's own parser (the one a connection uses), run without connecting, so a
    malformed ``ingest.base_url.lmfdb_db`` is refused before anything starts. libpq quotes
    the offending part of the URI in its message, and that part may be the password, so a
    quoted part is kept only when the redacted URI shows it anyway or it is not from the
    URI at all (libpq's own ``"]"``)."""
    try:
        conninfo_to_dict(uri)
        return None
    except psycopg.ProgrammingError as err:
        shown = redacted(uri)

        def quoted(match: re.Match) -> str:
            part = match.group(1)
            return match.group(0) if part in shown or part not in uri else '"…"'

        reason = re.sub(r'"([^"]*)"', quoted, " ".join(str(err).split()))
        return f"{shown}: not a PostgreSQL URI or connection string libpq can read ({reason})"
