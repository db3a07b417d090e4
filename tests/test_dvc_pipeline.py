"""`dvc repro` end to end in a scratch copy of the project (small range, no remote)."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import polars as pl
import yaml

from tests.conftest import PROJECT

PROJECT_FILES = ["dvc.yaml", "params.yaml", "requirements.lock", ".dvcignore", ".gitignore",
                 ".dvc/config", ".dvc/.gitignore", "pipeline", "arithmetic", "models"]


def run(command: list[str], cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    result = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True)
    assert result.returncode == 0, f"{command} failed:\n{result.stdout}\n{result.stderr}"
    return result


def test_dvc_repro_from_scratch_then_noop_then_param_change(tmp_path):
    repo = tmp_path / "project"
    for name in PROJECT_FILES:
        source = PROJECT / name
        target = repo / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.is_dir():
            shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(source, target)
    params = yaml.safe_load((repo / "params.yaml").read_text())
    params["ingest"]["conductor_max"] = 300
    params["search"].update(targets=["rank", "log_sha_an", "held_out_ap"], null_datasets=3,
                            bootstrap=50, folds=3, groups={"ap": ["ap"], "bsd": ["bsd"]})
    (repo / "params.yaml").write_text(yaml.safe_dump(params))
    run(["git", "init", "-q"], repo)

    first = run([sys.executable, "-m", "dvc", "repro"], repo)
    stages = ("ingest", "bsd", "features", "train", "findings")
    assert all(f"Running stage '{stage}'" in first.stdout for stage in stages)
    bsd = pl.read_parquet(repo / "data/bsd.parquet")
    curves = pl.read_parquet(repo / "data/curves.parquet")
    assert bsd["label"].to_list() == curves["label"].to_list() and len(bsd) > 1000
    metrics = json.loads((repo / "metrics/bsd.json").read_text())
    assert metrics["curves"] == len(bsd) and sum(metrics["rank"].values()) == len(bsd)

    features = pl.read_parquet(repo / "data/features.parquet")
    groups = json.loads((repo / "data/feature_groups.json").read_text())
    assert features["label"].equals(bsd["label"]) and set(groups) == set(params["features"]["groups"])

    findings = pl.read_parquet(repo / "data/findings.parquet")
    assert len(findings) == 6 and findings["verdict"].null_count() == 0
    assert sorted((repo / "data/gbm_models").iterdir())[0].read_text().startswith("tree")
    verdicts = json.loads((repo / "metrics/findings.json").read_text())["verdicts"]
    assert sum(verdicts.values()) == 6

    again = run([sys.executable, "-m", "dvc", "repro"], repo)
    assert "Data and pipelines are up to date" in again.stdout

    params["bsd"]["chunk_size"] = 50
    (repo / "params.yaml").write_text(yaml.safe_dump(params))
    third = run([sys.executable, "-m", "dvc", "repro"], repo)
    assert "Stage 'ingest' didn't change" in third.stdout and "Running stage 'bsd'" in third.stdout
    assert pl.read_parquet(repo / "data/bsd.parquet").equals(bsd)
    assert "Stage 'features' didn't change" in third.stdout     # same bsd.parquet, same hash
