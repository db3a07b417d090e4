"""The online sources of the ingest stage against local stand-ins on 127.0.0.1 (tests/
online_sources.py): the same curves as the embedded tables, faults named, a killed pull resumed.
The `dvc repro` runs of both sources are in tests/test_online_pipeline.py."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from functools import partial
from http.server import SimpleHTTPRequestHandler
from pathlib import Path

import polars as pl
import pytest
import yaml

import pipeline.ingest
from arithmetic.schemas import CURVE_SCHEMA
from machinery.atomic import TMP_MARKER
from machinery.params import Params
from pipeline.ingest import ingest
from sources.ecdata import EcdataError
from sources.elldata import read_curves
from sources.fetch import FetchError
from tests.conftest import PROJECT, SHARED_FIXTURES, local_server
from tests.online_sources import LmfdbApi, ecdata_mirror

FAST_FETCH = {"timeout": 5, "retries": 0, "backoff": 0.01, "backoff_max": 0.1, "rate": 1000}


class Quiet(SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def mirror(tmp_path_factory) -> Path:
    return ecdata_mirror(tmp_path_factory.mktemp("ecdata"))


@pytest.fixture(scope="module")
def ecdata_server(mirror):
    with local_server(partial(Quiet, directory=str(mirror))) as url:
        yield url


@pytest.fixture(scope="module")
def lmfdb_server():
    with local_server(LmfdbApi) as url:
        yield url


def online_params(tmp: Path, source: str, url: str, **ingest) -> dict:
    """The default params for conductors below 200 from ``source`` at ``url``, outputs in
    ``tmp``."""
    params = yaml.safe_load((PROJECT / "params.yaml").read_text())
    params["ingest"].update({"source": source, "conductor_max": 200, "workers": 1,
                             "chunk_size": 300, "fetch": FAST_FETCH, **ingest})
    params["ingest"]["base_url"][source] = url
    for name in ("curves", "published", "published_ap", "downloads", "ingest_chunks"):
        params["paths"][name] = str(tmp / name)
    params["paths"]["sources_lock"] = str(tmp / "sources.lock.json")
    return params


def embedded_without_generators() -> pl.DataFrame:
    return read_curves(1, 200).drop("gens")


@pytest.mark.parametrize("source", ["cremona", "lmfdb"])
def test_online_sources_give_the_embedded_curves(tmp_path, source, ecdata_server, lmfdb_server):
    url = {"cremona": ecdata_server, "lmfdb": lmfdb_server}[source]
    curves, published, published_ap = ingest(Params.model_validate(
        online_params(tmp_path, source, url)))
    embedded = read_curves(1, 200)
    assert curves.select(embedded.drop("gens").columns).equals(embedded.drop("gens"))
    assert curves.schema["gens"] == CURVE_SCHEMA["gens"]
    assert curves["gens"].list.len().equals(embedded["gens"].list.len())    # = the ranks
    assert published["label"].sort().equals(embedded["label"].sort())
    assert published.null_count().row(0, named=True)["real_period"] == 0
    lock = json.loads((tmp_path / "sources.lock.json").read_text())
    assert lock and all(set(entry) == {"sha256", "size"} for entry in lock.values())
    if source == "lmfdb":
        labels = dict(curves.select("label", "lmfdb_label").iter_rows())
        assert labels["11a1"] == "11.a2" and labels["37a1"] == "37.a1"
        assert len(published_ap) == published_ap["isogeny_class"].n_unique() * 25 - sum(
            1 for n in curves.unique("isogeny_class")["conductor"]
            for p in (2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43, 47, 53, 59, 61, 67,
                      71, 73, 79, 83, 89, 97) if n % p == 0)                   # good p only
    else:
        assert len(published_ap) == 276 * 25


def test_a_local_directory_serves_as_a_mirror(tmp_path, mirror):
    curves, _, _ = ingest(Params.model_validate(online_params(tmp_path, "cremona", str(mirror))))
    assert curves.drop("gens").equals(embedded_without_generators())


def test_a_missing_file_names_its_url(tmp_path, ecdata_server):
    params = online_params(tmp_path, "cremona", ecdata_server, conductor_min=9000,
                           conductor_max=10500)
    with pytest.raises(FetchError, match=r"/allcurves/allcurves\.10000-19999: HTTP 404"):
        ingest(Params.model_validate(params))


def test_a_malformed_line_names_url_and_line(tmp_path):
    mirror = ecdata_mirror(tmp_path / "bad")
    path = mirror / "allbsd" / "allbsd.00000-09999"
    lines = path.read_text().splitlines()
    lines[36] = " ".join([*lines[36].split()[:-1], "one"])
    path.write_text("\n".join(lines) + "\n")
    with local_server(partial(Quiet, directory=str(mirror))) as url:
        with pytest.raises(EcdataError, match=r"allbsd\.00000-09999:37: sha_an 'one' is not a "
                                              r"number"):
            ingest(Params.model_validate(online_params(tmp_path, "cremona", url)))


def test_a_changed_upstream_file_is_reported(tmp_path, ecdata_server):
    params = online_params(tmp_path, "cremona", ecdata_server)
    url = f"{ecdata_server}/allcurves/allcurves.00000-09999"
    (tmp_path / "sources.lock.json").write_text(json.dumps({url: {"sha256": "0" * 64,
                                                                  "size": 1}}))
    with pytest.raises(FetchError, match=r"allcurves\.00000-09999: changed upstream"):
        ingest(Params.model_validate(params))


def run_stage(directory: Path, params: dict, **popen) -> subprocess.Popen:
    (directory / "params.yaml").write_text(yaml.safe_dump(params))
    env = {**os.environ, "PYTHONPATH": str(PROJECT)}
    return subprocess.Popen([sys.executable, "-m", "pipeline.ingest"], cwd=directory, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **popen)


def test_a_killed_lmfdb_pull_resumes_page_by_page(tmp_path, lmfdb_server):
    """SIGKILL during the pull; the rerun fetches only the pages it lacks and writes the same
    tables (and lock) as an uninterrupted pull; the killed run left no output."""
    whole, killed = tmp_path / "whole", tmp_path / "killed"
    for directory in (whole, killed):
        directory.mkdir()
    LmfdbApi.served.clear()
    assert run_stage(whole, online_params(whole, "lmfdb", lmfdb_server)).wait() == 0
    pages = len(LmfdbApi.served)

    slow = online_params(killed, "lmfdb", lmfdb_server, fetch={**FAST_FETCH, "rate": 20})
    LmfdbApi.served.clear()
    process = run_stage(killed, slow)
    while len(LmfdbApi.served) < pages // 2:
        assert process.poll() is None, process.communicate()
        time.sleep(0.02)
    process.send_signal(signal.SIGKILL)
    process.wait()
    before = len(LmfdbApi.served)
    assert not (killed / "curves").exists() and not (killed / "published").exists()
    assert 0 < len(list((killed / "downloads").iterdir())) < pages

    LmfdbApi.served.clear()
    rerun = run_stage(killed, online_params(killed, "lmfdb", lmfdb_server))
    assert rerun.wait() == 0, rerun.communicate()
    assert len(LmfdbApi.served) <= pages - before + 1      # at most the page in flight again
    for name in ("curves", "published", "published_ap"):
        assert pl.read_parquet(killed / name).equals(pl.read_parquet(whole / name)), name
    assert (json.loads((killed / "sources.lock.json").read_text())
            == json.loads((whole / "sources.lock.json").read_text()))


def test_a_server_error_leaves_no_output(tmp_path, lmfdb_server):
    LmfdbApi.served.clear()
    LmfdbApi.fail_after = 3
    try:
        process = run_stage(tmp_path, online_params(tmp_path, "lmfdb", lmfdb_server))
        _, err = process.communicate()
    finally:
        LmfdbApi.fail_after = None
    assert process.returncode != 0
    assert "ingest: error: " in err and "HTTP 500" in err and "_offset=" in err
    assert not (tmp_path / "curves").exists()


def test_a_failure_while_publishing_leaves_the_old_outputs_and_lock(tmp_path, lmfdb_server,
                                                                   monkeypatch):
    """The tables and the lock file are one set: a write that fails part-way through (here the
    second table, as a full disk would) leaves the previous run's tables and lock, byte for
    byte, and no staging file beside them."""
    monkeypatch.chdir(tmp_path)                     # the stage's own main(), twice
    params = tmp_path / "params.yaml"
    params.write_text(yaml.safe_dump(online_params(tmp_path, "lmfdb", lmfdb_server,
                                                   conductor_max=60)))
    pipeline.ingest.main()
    outputs = [tmp_path / n for n in ("curves", "published", "published_ap",
                                      "sources.lock.json")]
    before = {path.name: path.read_bytes() for path in outputs}
    real, written = pipeline.ingest.write_parquet, []

    def full_disk(frame, path):
        if written:
            raise OSError(28, "No space left on device", str(path))
        written.append(path)
        real(frame, path)

    monkeypatch.setattr(pipeline.ingest, "write_parquet", full_disk)
    params.write_text(yaml.safe_dump(online_params(tmp_path, "lmfdb", lmfdb_server,
                                                   conductor_max=100)))   # new pages: a new lock
    with pytest.raises(OSError, match="No space left on device"):
        pipeline.ingest.main()
    assert written and {path.name: path.read_bytes() for path in outputs} == before
    assert not [p.name for p in tmp_path.iterdir() if TMP_MARKER in p.name or
                p.name.endswith(".publishing.json")]


def test_the_shared_pages_are_what_the_stand_in_serves():
    """The stand-in's records agree with the real LMFDB pages of the shared fixtures."""
    served = {r["lmfdb_label"]: r for r in LmfdbApi.records["ec_curvedata"]}
    for name in ("ec_curvedata.page0.json", "ec_curvedata.page1.json"):
        for record in json.loads((SHARED_FIXTURES / "lmfdb" / name).read_text())["data"]:
            ours = served[record["lmfdb_label"]]
            assert {k: v for k, v in record.items() if k in ours} == {
                k: ours[k] for k in record if k in ours}
