"""Pulling Cremona's ecdata files (github.com/JohnCremona/ecdata) for a conductor range.

The files are split by conductor into ranges of 10,000: ``<base>/<kind>/<kind>.00000-09999``,
``.10000-19999``, ... Each is fetched through :class:`sources.fetch.Fetcher` (cached by URL,
so an interrupted pull resumes file by file; checked against the lock file; retried) and read by
:mod:`sources.ecdata`, whose errors name the URL and line. ``allcurves`` gives the curve
table (with a ``record`` column, ``URL:line``, for the curve checks' errors), ``allbsd`` the
published BSD quantities, ``aplist`` the published a_p; ``allbsd`` must describe exactly the
curves of ``allcurves`` (same labels, a-invariants, rank and torsion).
"""
from __future__ import annotations

import polars as pl

from functools import partial

from arithmetic.crosscheck import ap_long, published_frame
from sources.ecdata import (APLIST_PRIMES, EcdataError, cremona_order, read_allbsd,
                               read_allcurves, read_aplist)
from sources.fetch import Fetcher

#: Conductors per ecdata file.
FILE_RANGE = 10_000


def file_url(base: str, kind: str, low: int) -> str:
    return f"{base.rstrip('/')}/{kind}/{kind}.{low:05d}-{low + FILE_RANGE - 1:05d}"


def _pull(fetcher: Fetcher, base: str, kind: str, reader, conductor_min: int,
          conductor_max: int) -> pl.DataFrame:
    """One ecdata kind over the range: its files read and concatenated, rows in range kept."""
    frames = []
    for low in range(conductor_min - conductor_min % FILE_RANGE, conductor_max, FILE_RANGE):
        url = file_url(base, kind, low)
        parsed = {}

        def validate(raw: bytes, url=url) -> None:     # before the file is cached or locked
            try:
                text = raw.decode("ascii")
            except UnicodeDecodeError as err:
                raise EcdataError(f"{url}: byte {err.start}: not an ecdata text file "
                                  f"(not ASCII)") from None
            parsed["frame"] = reader(text, url)

        fetcher.get(url, validate=validate)
        frames.append(parsed["frame"])
    table = pl.concat(frames)
    return table.filter(pl.col("conductor").is_between(conductor_min, conductor_max,
                                                       closed="left"))


def pull_cremona(fetcher: Fetcher, base: str, conductor_min: int,
                 conductor_max: int) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """(curves without generators, published BSD quantities, published a_p) of the range."""
    located = _pull(fetcher, base, "allcurves", partial(read_allcurves, with_record=True),
                    conductor_min, conductor_max)
    curves = located.drop("record")
    bsd = _pull(fetcher, base, "allbsd", read_allbsd, conductor_min, conductor_max)
    aplist = _pull(fetcher, base, "aplist", read_aplist, conductor_min, conductor_max)
    if not bsd.select(curves.columns).equals(curves):
        pairs = zip(located.rows(), bsd.select(curves.columns).rows())
        first = next((ours[0] for ours, theirs in pairs if ours != theirs), "beyond the end")
        raise EcdataError(f"{file_url(base, 'allbsd', conductor_min)}: allbsd and allcurves "
                          f"differ ({len(bsd)} and {len(curves)} curves; first at {first})")
    classes = curves["isogeny_class"].unique(maintain_order=True)
    if not aplist["isogeny_class"].sort().equals(classes.sort()):
        raise EcdataError(f"{file_url(base, 'aplist', conductor_min)}: aplist has "
                          f"{len(aplist)} isogeny classes, allcurves {len(classes)}")
    return (cremona_order(located.drop("rank", "torsion")), published_frame(bsd),
            ap_long(aplist, APLIST_PRIMES))
