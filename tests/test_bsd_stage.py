"""The ingest and bsd stages as processes: killed at any moment, rerun, nothing lost or
duplicated."""
from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import polars as pl
import yaml

from tests.conftest import PROJECT


def stage_dir(tmp_path: Path, name: str, conductor_max: int, chunk_size: int, workers: int) -> Path:
    """A working directory with its own params.yaml (small range) for running stages in."""
    params = yaml.safe_load((PROJECT / "params.yaml").read_text())
    params["ingest"]["conductor_max"] = conductor_max
    params["bsd"].update(chunk_size=chunk_size, workers=workers)
    directory = tmp_path / name
    directory.mkdir()
    (directory / "params.yaml").write_text(yaml.safe_dump(params))
    return directory


def run_stage(directory: Path, stage: str, **kwargs) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(PROJECT)}
    return subprocess.run([sys.executable, "-m", f"pipeline.{stage}"], cwd=directory, env=env,
                          capture_output=True, text=True, **kwargs)


def test_kill_and_rerun_loses_and_duplicates_nothing(tmp_path):
    reference = stage_dir(tmp_path, "reference", 1000, 250, 1)
    assert run_stage(reference, "ingest").returncode == 0
    assert run_stage(reference, "bsd").returncode == 0
    expected = pl.read_parquet(reference / "data/bsd.parquet")
    assert len(expected) == 5113

    killed = stage_dir(tmp_path, "killed", 1000, 250, 2)
    assert run_stage(killed, "ingest").returncode == 0
    env = {**os.environ, "PYTHONPATH": str(PROJECT)}
    process = subprocess.Popen([sys.executable, "-m", "pipeline.bsd"], cwd=killed, env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               start_new_session=True)
    chunk_dir = killed / "data/bsd.chunks"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and len(list(chunk_dir.glob("*.parquet"))) < 4:
        time.sleep(0.02)
    os.killpg(process.pid, signal.SIGKILL)  # the stage and its worker processes
    process.wait()
    survivors = list(chunk_dir.glob("*.parquet"))
    assert len(survivors) >= 4 and not (killed / "data/bsd.parquet").exists()
    done_rows = sum(pl.scan_parquet(p).select(pl.len()).collect().item() for p in survivors)

    rerun = run_stage(killed, "bsd")
    assert rerun.returncode == 0, rerun.stderr
    started_at = int(re.search(r"\| *(\d+)/5113 ", rerun.stderr).group(1))
    assert started_at == done_rows > 0          # finished chunks were not recomputed
    assert pl.read_parquet(killed / "data/bsd.parquet").equals(expected)
    assert not chunk_dir.exists()


def test_bad_params_stop_the_stage_with_the_field_named(tmp_path):
    directory = stage_dir(tmp_path, "bad", 100, 10, 0)
    result = run_stage(directory, "bsd")
    assert result.returncode == 1
    assert ("bsd: error: params.yaml: bsd.workers: Input should be greater than or equal to 1"
            in result.stderr)


def test_ingest_beyond_the_tables_names_the_other_sources(tmp_path):
    directory = stage_dir(tmp_path, "far", 600_000, 10, 1)
    result = run_stage(directory, "ingest")
    assert result.returncode == 1
    assert "ingest.source: cremona | lmfdb" in result.stderr
