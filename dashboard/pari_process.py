"""PARI for the dashboard, in a child process: cypari2 installs signal handlers when imported,
which Python allows only in the main thread, and Streamlit runs pages in other threads.

The child (``python -m dashboard.pari_process``) reads one JSON request a line on stdin,
``{"call": name, "args": [...]}``, and answers one JSON line: ``{"result": ...}`` or
``{"error": message}``. Requests carry only integers, strings and lists of them (a-invariants
as Python integers, never PARI source text); the names are the functions of :data:`CALLS`.
"""
from __future__ import annotations

import json
import subprocess
import sys
import threading
from pathlib import Path

import polars as pl

ROOT = Path(__file__).resolve().parents[1]


def _local_data(pari, ainvs):
    from dashboard.queries import local_data
    return local_data(pari, ainvs).to_dicts()


def _lmfdb_labels(pari, rows):
    from dashboard.queries import lmfdb_labels
    frame = pl.DataFrame(rows, schema={"label": pl.String, "isogeny_class": pl.String,
                                       "conductor": pl.Int64, "ainvs": pl.List(pl.String)})
    return lmfdb_labels(pari, frame)


def _isogeny_degrees(pari, chosen, rows):
    from dashboard.queries import isogeny_degrees
    frame = pl.DataFrame(rows, schema={"label": pl.String, "ainvs": pl.List(pl.String)})
    return isogeny_degrees(pari, chosen, frame).to_dicts()


CALLS = {"local_data": _local_data, "lmfdb_labels": _lmfdb_labels,
         "isogeny_degrees": _isogeny_degrees}


def serve() -> None:
    from arithmetic.pari import start_pari
    pari = start_pari(realprecision=38, stack_mb=256)
    for line in sys.stdin:
        try:
            request = json.loads(line)
            answer = {"result": CALLS[request["call"]](pari, *request["args"])}
        except Exception as err:        # the message goes back to the page, the child lives on
            answer = {"error": f"{type(err).__name__}: {err}"}
        sys.stdout.write(json.dumps(answer) + "\n")
        sys.stdout.flush()


class Arithmetic:
    """The page's handle on the child process (started on first use, one request at a time)."""

    def __init__(self):
        self._child = None
        self._lock = threading.Lock()

    def call(self, name: str, *args):
        with self._lock:
            if self._child is None or self._child.poll() is not None:
                self._child = subprocess.Popen(
                    [sys.executable, "-m", "dashboard.pari_process"], cwd=ROOT, text=True,
                    stdin=subprocess.PIPE, stdout=subprocess.PIPE)
            self._child.stdin.write(json.dumps({"call": name, "args": args}) + "\n")
            self._child.stdin.flush()
            line = self._child.stdout.readline()
        if not line:
            raise RuntimeError("the PARI process of the dashboard ended")
        answer = json.loads(line)
        if "error" in answer:
            raise RuntimeError(f"PARI: {answer['error']}")
        return answer["result"]

    def local_data(self, ainvs: list[int]) -> pl.DataFrame:
        return pl.DataFrame(self.call("local_data", [int(a) for a in ainvs]))

    def lmfdb_labels(self, curves: pl.DataFrame) -> dict[str, str]:
        if "lmfdb_label" in curves.columns:
            return dict(zip(curves["label"], curves["lmfdb_label"]))
        return self.call("lmfdb_labels", _rows(curves.select("label", "isogeny_class",
                                                             "conductor", "ainvs")))

    def isogeny_degrees(self, chosen: list[int], members: pl.DataFrame) -> pl.DataFrame:
        return pl.DataFrame(self.call("isogeny_degrees", [int(a) for a in chosen],
                                      _rows(members.select("label", "ainvs"))))


def _rows(frame: pl.DataFrame) -> list[dict]:
    """Rows for JSON: a-invariants as decimal strings (exact, any size)."""
    return frame.with_columns(pl.col("ainvs").list.eval(pl.element().cast(pl.String))).to_dicts()


if __name__ == "__main__":
    serve()
