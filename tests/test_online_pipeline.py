"""`dvc repro` with ``ingest.source: cremona`` and ``lmfdb``, the local stand-ins serving the
fixture range (conductors below 200): the same curves as the embedded source, zero cross-check
mismatches, and every later stage runs unchanged on them."""
from __future__ import annotations

import json
import sys
from functools import partial

import polars as pl
import pytest
import yaml

from tests.conftest import local_server, run, scratch_project, small_params
from tests.online_sources import LmfdbApi, ecdata_mirror
from tests.test_online_ingest import FAST_FETCH, Quiet

#: What the cross-check compares for each source (a_p: 276 classes x 25 primes for Cremona's
#: aplist; the LMFDB's a_p only at good primes).
COMPARED = {
    "elldata": {"rank"},
    "cremona": {"rank", "torsion", "tamagawa_product", "real_period", "special_value",
                "regulator", "sha_an", "a_p"},
    "lmfdb": {"rank", "torsion", "tamagawa_product", "real_period", "special_value",
              "regulator", "sha", "a_p"},
}


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    return scratch_project(tmp_path_factory.mktemp("online") / "project")


def repro(repo, source: str, url: str | None, *targets: str) -> str:
    params = small_params()
    params["ingest"].update(source=source, conductor_max=200, fetch=FAST_FETCH)
    if url:
        params["ingest"]["base_url"][source] = url
    (repo / "params.yaml").write_text(yaml.safe_dump(params))
    return run([sys.executable, "-m", "dvc", "repro", *targets], repo).stdout


def test_dvc_repro_with_each_source(project, tmp_path):
    curves, metrics = {}, {}
    mirror = ecdata_mirror(tmp_path / "ecdata")
    with local_server(partial(Quiet, directory=str(mirror))) as ecdata, \
            local_server(LmfdbApi) as lmfdb:
        for source, url, targets in [("cremona", ecdata, ()), ("lmfdb", lmfdb, ("crosscheck",)),
                                     ("elldata", None, ("crosscheck",))]:
            output = repro(project, source, url, *targets)
            assert "Running stage 'ingest'" in output and "Running stage 'crosscheck'" in output
            status = run([sys.executable, "-m", "dvc", "status", *targets], project).stdout
            assert "up to date" in status, status     # the lock the stage wrote is recorded
            if source == "cremona":      # the whole pipeline runs on the pulled curves
                assert "Running stage 'report'" in output
                report = (project / "reports/findings.md").read_text()
                assert "Cross-check against the source" in report and "0 mismatches" in report
            curves[source] = pl.read_parquet(project / "data/curves.parquet")
            metrics[source] = json.loads((project / "metrics/crosscheck.json").read_text())
    embedded = curves["elldata"]
    for source in ("cremona", "lmfdb"):
        pulled = curves[source]
        assert pulled.select(embedded.columns).drop("gens").equals(embedded.drop("gens"))
        assert pulled["gens"].list.len().equals(embedded["gens"].list.len())
    assert curves["lmfdb"].columns == [*embedded.columns, "lmfdb_label", "lmfdb_iso"]
    for source, found in metrics.items():
        assert found["source"] == source and found["mismatches"] == 0
        assert set(found["compared"]) == COMPARED[source]
        assert found["compared"]["rank"] == len(embedded) == 739
    lock = json.loads((project / "sources.lock.json").read_text())
    assert any("/allbsd/allbsd.00000-09999" in u for u in lock)
    assert any("/api/ec_mwbsd/" in u for u in lock)
