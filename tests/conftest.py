"""Shared test fixtures: a PARI session, the shared format samples, the embedded tables."""
from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import threading
from http.server import ThreadingHTTPServer
from pathlib import Path

import polars as pl
import pytest
import yaml

from arithmetic.pari import start_pari
from machinery.code_digest import CODE_FOLDERS
from sources.elldata import CREMONA_LABEL, read_curves

PROJECT = Path(__file__).resolve().parents[1]
#: Samples of Cremona's and the LMFDB's formats, beside the project (never copied into it).
SHARED_FIXTURES = PROJECT.parent / "shared" / "fixtures"


@pytest.fixture(scope="session")
def pari():
    return start_pari(realprecision=38, stack_mb=512)


@pytest.fixture(scope="session")
def cremona_fixtures() -> Path:
    path = SHARED_FIXTURES / "cremona"
    assert path.is_dir(), f"shared fixtures not found at {path}: clone the project beside shared/"
    return path




def classes_of(*labels: str) -> pl.DataFrame:
    """All curves of the isogeny classes of the named curves."""
    matches = [CREMONA_LABEL.fullmatch(label) for label in labels]
    conductors = {int(m["conductor"]) for m in matches}
    classes = {m["conductor"] + m["iso"] for m in matches}
    frames = [read_curves(n, n + 1) for n in sorted(conductors)]
    return pl.concat(frames).filter(pl.col("isogeny_class").is_in(classes))


#: Bounds of the invariants in the test tables: every column has values (degrees of the optimal
#: curves with N <= 100, zeros and 2-Selmer ranks for N <= 300) in about 6 s for N < 1000.
TEST_INVARIANT_BOUNDS = {"degree_conductor_max": 100, "zeros": 3, "zeros_conductor_max": 300,
                         "selmer_conductor_max": 300}


@pytest.fixture(scope="session")
def model_tables(tmp_path_factory, pari) -> dict[str, pl.DataFrame]:
    """curves, bsd, invariants, features and the model frame for every curve with conductor
    < 1000, computed by the stages' own functions (in this process)."""
    from arithmetic.bsd import bsd_table
    from arithmetic.invariants import invariants_table
    from models.features import model_frame
    from pipeline.feature_table import feature_table, invariant_features
    from machinery.params import load_params

    curves = read_curves(1, 1000)
    bsd = bsd_table(pari, curves, 1e-6, 128, 64)
    invariants = invariants_table(pari, curves, **TEST_INVARIANT_BOUNDS)
    section = load_params(PROJECT / "params.yaml").features.model_copy(update={"workers": 1})
    features = feature_table(curves, bsd, invariant_features(invariants, curves), section,
                             tmp_path_factory.mktemp("features") / "c")
    return {"curves": curves, "bsd": bsd, "invariants": invariants, "features": features,
            "frame": model_frame(features, bsd), "section": section}


#: What a scratch copy of the project needs to run `dvc repro` and the dashboard.
PROJECT_FILES = ["dvc.yaml", "params.yaml", "requirements.lock", "sources.lock.json", ".dvcignore",
                 ".gitignore",
                 ".dvc/config", ".dvc/.gitignore", *CODE_FOLDERS]


def run(command: list[str], cwd: Path) -> subprocess.CompletedProcess:
    """Run a command with this environment's bin/ first on PATH; fail the test on error."""
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    result = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True)
    assert result.returncode == 0, f"{command} failed:\n{result.stdout}\n{result.stderr}"
    return result


def small_params() -> dict:
    """The default params on conductors below 300 with a small search (fast, still real)."""
    params = yaml.safe_load((PROJECT / "params.yaml").read_text())
    params["ingest"]["conductor_max"] = 300
    params["search"].update(targets=["rank", "rank_parity", "log_sha_an", "held_out_ap",
                                     "sha_times_period"],
                            custom_targets={"sha_times_period": {
                                "task": "regression",
                                "expression": "ln(sha_an) + ln(real_period)",
                                "excluded": ["log_sha_an", "log_real_period"],
                                "description": "log of Sha times the real period"}},
                            null_datasets=3, bootstrap=50, folds=3,
                            groups={"ap": ["ap"], "bsd": ["bsd"], "parity": ["parity"]})
    params["controls"]["pairs"] = params["controls"]["pairs"][:2]   # the equation's is slow
    params["topology"].update(landmarks=60, null_clouds=5, permutations=5, minimum_curves=30,
                              conductor_windows=[[1, 300]])
    params["height_sample"].update(curves=400, chunk_size=100)
    params["stein_watkins"].update(conductor_min=300, conductor_max=2000, classes=250)
    params["bias"].update(minimum_curves=100, null_datasets=3, bootstrap=50)
    params["murmurations"].update(conductor_windows=[[1, 150], [150, 300]], primes_max=1000,
                                  ratio_max=2.0, beta_windows=2)
    return params


def scratch_project(repo: Path) -> Path:
    """``repo``: a copy of what the project needs to run (:data:`PROJECT_FILES`), a git repo."""
    for name in PROJECT_FILES:
        source, target = PROJECT / name, repo / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.is_dir():
            shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(source, target)
    run(["git", "init", "-q"], repo)
    return repo


@pytest.fixture(scope="session")
def pipeline_project(tmp_path_factory) -> tuple[Path, dict, str]:
    """A scratch copy of the project after a cold `dvc repro` on :func:`small_params`:
    (its directory, its params, the output of `dvc repro`)."""
    repo = scratch_project(tmp_path_factory.mktemp("pipeline") / "project")
    params = small_params()
    (repo / "params.yaml").write_text(yaml.safe_dump(params))
    output = run([sys.executable, "-m", "dvc", "repro"], repo).stdout
    return repo, params, output


@contextlib.contextmanager
def local_server(handler):
    """An HTTP server on 127.0.0.1 (a free port) answering with ``handler``; yields its base URL."""
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
