"""Local stand-ins for the two online sites, built from the shared fixtures (never copied into
the project): an ecdata mirror (the Cremona samples laid out as ecdata's files) and an LMFDB
API that answers ``ec_curvedata`` / ``ec_mwbsd`` / ``ec_classdata`` queries the way the real
one does (typed ``py`` values, ``_fields``, pages with ``start``/``next``, refused offsets).

The API's records are the ``allbsd`` and ``aplist`` samples relabelled in the LMFDB's
convention: classes of a conductor ordered by their a_p for p < 100 (a_p = -w_p at a
multiplicative p, 0 at an additive one), curves of a class by their a-invariants
(J. E. Cremona, *The L-functions and modular forms database project*, 2016, §4).
"""
from __future__ import annotations

import ast
import json
import re
import string
from collections import Counter
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlparse

from arithmetic.traces import ap_column
from sources.ecdata import APLIST_PRIMES, read_allbsd, read_aplist
from tests.conftest import SHARED_FIXTURES

ECDATA_FILES = ("allcurves", "allbsd", "aplist")


def ecdata_mirror(directory: Path) -> Path:
    """``directory`` holding the Cremona samples as ecdata's files for conductors 0–9,999."""
    for kind in ECDATA_FILES:
        target = directory / kind / f"{kind}.00000-09999"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes((SHARED_FIXTURES / "cremona" / f"{kind}.sample").read_bytes())
    return directory


def _letters(index: int) -> str:
    """0 -> a, 25 -> z, 26 -> ba: the class codes of Cremona and the LMFDB."""
    code = ""
    while True:
        code = string.ascii_lowercase[index % 26] + code
        index //= 26
        if not index:
            return code


def lmfdb_records() -> dict[str, list[dict]]:
    """The three tables' records, in the LMFDB's order, from the Cremona samples."""
    cremona = SHARED_FIXTURES / "cremona"
    curves = read_allbsd((cremona / "allbsd.sample").read_text(), "allbsd.sample")
    aplist = read_aplist((cremona / "aplist.sample").read_text(), "aplist.sample")
    traces = {}
    for row in aplist.iter_rows(named=True):
        n = row["conductor"]
        traces[row["isogeny_class"]] = [
            row[ap_column(p)] if n % p else (0 if n % (p * p) == 0 else -row[ap_column(p)])
            for p in APLIST_PRIMES]
    by_conductor: dict[int, list[str]] = {}
    for iso in aplist["isogeny_class"]:
        by_conductor.setdefault(int(re.match(r"\d+", iso).group()), []).append(iso)
    lmfdb_iso = {iso: f"{n}.{_letters(i)}" for n, isos in by_conductor.items()
                 for i, iso in enumerate(sorted(isos, key=lambda c: traces[c]))}
    rows = sorted(curves.iter_rows(named=True),
                  key=lambda r: (r["conductor"], lmfdb_iso[r["isogeny_class"]].split(".")[1]
                                 .rjust(3), [int(a) for a in r["ainvs"]]))
    numbers = Counter()
    tables = {"ec_curvedata": [], "ec_mwbsd": [], "ec_classdata": []}
    for r in rows:
        iso = lmfdb_iso[r["isogeny_class"]]
        numbers[iso] += 1
        label = f"{iso}{numbers[iso]}"
        tables["ec_curvedata"].append({
            "lmfdb_label": label, "Clabel": r["label"], "lmfdb_iso": iso,
            "Ciso": r["isogeny_class"], "conductor": r["conductor"],
            "ainvs": [int(a) for a in r["ainvs"]], "rank": r["rank"], "analytic_rank": r["rank"],
            "torsion": r["torsion"], "regulator": r["regulator"], "sha": round(r["sha_an"])})
        tables["ec_mwbsd"].append({
            "lmfdb_label": label, "real_period": r["real_period"],
            "special_value": r["special_value"], "tamagawa_product": r["tamagawa_product"]})
        if numbers[iso] == 1:
            tables["ec_classdata"].append({"lmfdb_iso": iso, "conductor": r["conductor"],
                                           "aplist": traces[r["isogeny_class"]]})
    return tables


def _matches(record: dict, column: str, condition) -> bool:
    value = record[column]
    if isinstance(condition, dict):
        tests = {"$gte": lambda c: value >= c, "$lt": lambda c: value < c,
                 "$in": lambda c: value in c}
        return all(tests[op](c) for op, c in condition.items())
    return value == condition


class LmfdbApi(BaseHTTPRequestHandler):
    """``/api/<table>/?_format=json&<column>=py{...}&_fields=...&_offset=k``, ``page_size``
    records a page, offsets beyond ``max_offset`` refused as the real server refuses them.
    ``fail_after``: answer HTTP 500 once this many pages were served (None: never)."""
    records = lmfdb_records()
    page_size, max_offset = 40, 200
    served: list[str] = []
    fail_after: int | None = None

    def log_message(self, *args):
        pass

    def _send(self, status: int, body: dict) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        url = urlparse(self.path)
        table = url.path.strip("/").split("/")[-1]
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        if self.fail_after is not None and len(self.served) >= self.fail_after:
            return self._send(500, {"error": "internal server error"})
        offset = int(query.pop("_offset", "0"))
        fields = query.pop("_fields").split(",")
        query.pop("_format")
        if offset > self.max_offset:
            return self._send(200, {"error": f"offset {offset} too large, please refine "
                                             "your query."})
        conditions = {k: ast.literal_eval(v.removeprefix("py")) for k, v in query.items()}
        chosen = [r for r in self.records[table]
                  if all(_matches(r, c, v) for c, v in conditions.items())]
        page = chosen[offset:offset + self.page_size]
        LmfdbApi.served.append(self.path)
        following = {**{k: v[0] for k, v in parse_qs(url.query).items()},
                     "_offset": offset + len(page)}
        self._send(200, {"table": table, "timestamp": "2026-01-01T00:00:00",
                         "data": [{f: r[f] for f in fields if f in r} for r in page],
                         "start": offset, "offset": offset + len(page),
                         "query": self.path, "rec_id": "id",
                         "next": f"{url.path}?{urlencode(following)}"})
