"""Chunked and PARI stages, whole, at one git revision against another, on the same inputs.

    python -m benchmarks.bench_stages --rev 23233c0 --rev HEAD --stage topology --stage murmurations

Each ``--rev`` is checked out into a scratch worktree (``.venv`` linked in) with *its own*
``params.yaml`` (a chunk size is part of what a revision changes) and this checkout's
``data/`` (resume state left out, so every stage starts cold). Then each ``--stage`` runs as
``python -m pipeline.<stage>``, revisions alternating stage by stage, so that the ratios
compare runs on the same machine seconds apart. Printed per stage: each revision's wall
seconds, the ratio to the first revision, and whether every output file of the stage
(``dvc.yaml``'s ``outs``, resolved through ``paths``) has the same bytes as the first
revision's, naming those that differ (a report's provenance, its date and params digest,
always does). Results go to ``--out`` as JSON.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import time
from pathlib import Path

import yaml

from benchmarks.bench_train import commit, remove_worktree, scratch_worktree
from machinery.code_digest import PROJECT


def stage_outputs(tree: Path, stage: str) -> list[Path]:
    """The stage's outs in ``tree``'s dvc.yaml, with ``${paths.*}`` read from its params."""
    paths = yaml.safe_load((tree / "params.yaml").read_text())["paths"]
    outs = []
    for entry in yaml.safe_load((tree / "dvc.yaml").read_text())["stages"][stage]["outs"]:
        name = next(iter(entry)) if isinstance(entry, dict) else entry
        if name.startswith("${paths.") and name.endswith("}"):
            name = paths[name[len("${paths."):-1]]
        outs.append(tree / name)
    return outs


def digest(path: Path) -> str:
    """sha256 over a file, or over a directory's files by relative name."""
    hashed = hashlib.sha256()
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    for file in files:
        hashed.update(str(file.relative_to(path) if path.is_dir() else "").encode())
        hashed.update(file.read_bytes())
    return hashed.hexdigest()


def run_stage(tree: Path, stage: str) -> dict:
    started = time.perf_counter()
    subprocess.run([str(PROJECT / ".venv/bin/python"), "-m", f"pipeline.{stage}"], cwd=tree,
                   check=True, env={**os.environ, "PYTHONPATH": str(tree)},
                   stderr=subprocess.DEVNULL)
    wall = time.perf_counter() - started
    return {"wall_seconds": wall,
            "outputs": {str(p.relative_to(tree)): digest(p) for p in stage_outputs(tree, stage)
                        if p.exists()}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rev", action="append", required=True)
    parser.add_argument("--stage", action="append", required=True)
    parser.add_argument("--out", type=Path, default=PROJECT / "benchmarks/out")
    args = parser.parse_args()
    revs = [commit(rev) for rev in args.rev]
    args.out.mkdir(parents=True, exist_ok=True)
    trees = {rev: scratch_worktree(rev, "bench_stages") for rev in revs}
    results: dict[str, dict[str, dict]] = {}
    try:
        for stage in args.stage:
            for rev in revs:
                results.setdefault(stage, {})[rev] = run_stage(trees[rev], stage)
    finally:
        for tree in trees.values():
            remove_worktree(tree)
    (args.out / f"stages_{'_'.join(revs)}.json").write_text(json.dumps(results, indent=1))
    print(f"| stage | {' | '.join(revs)} | {revs[0]} / {' , '.join(revs[1:])} | same outputs |")
    print(f"| --- |{' ---: |' * len(revs)} ---: | --- |")
    for stage, by_rev in results.items():
        first = by_rev[revs[0]]
        walls = " | ".join(f"{by_rev[r]['wall_seconds']:.1f}" for r in revs)
        ratios = ", ".join(f"{first['wall_seconds'] / by_rev[r]['wall_seconds']:.2f}x"
                           for r in revs[1:])
        differ = sorted({name for r in revs[1:] for name, digest in first["outputs"].items()
                         if by_rev[r]["outputs"].get(name) != digest})
        print(f"| {stage} | {walls} | {ratios} | "
              f"{'yes' if not differ else 'NO: ' + ', '.join(differ)} |")


if __name__ == "__main__":
    main()
