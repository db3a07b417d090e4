"""Incremental experiments, measured: what `dvc exp run -S ...` costs after a finished run.

A scratch clone of this checkout (``--scratch``) shares this checkout's DVC cache and gets the
train stage's kept pair results (``paths.train_cache``), so it starts where this checkout's last
``dvc repro`` ended. Then, one after another in that clone:

1. ``dvc repro`` with nothing changed (the no-op);
2. ``dvc exp run -S features.workers=1 -S dashboard.page_size=20``: params that no pair reads;
3. ``dvc exp run`` adding one declared target (``--target``, a ``search.custom_targets`` entry
   given as YAML) to ``search.targets``.

For each: the wall time, the stages DVC ran, the pairs train computed (new results in the
train cache) and their summed per-pair ``seconds`` (from the evaluations), beside the whole
search's per-pair sum of the starting run. It fails if step 2 computes a pair or step 3
computes any pair that is not the new target's.

    python -m benchmarks.bench_incremental
"""
from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import polars as pl

from machinery.code_digest import PROJECT
from machinery.params import load_params, parse_yaml

#: The question step 3 adds: log(Sha · Ω), which the BSD quantities give exactly.
DEFAULT_TARGET = ("sha_times_period: {task: regression, expression: 'ln(sha_an) + ln(real_period)',"
                  " excluded: [log_sha_an, log_real_period], null: permutation,"
                  " description: log of Sha times the real period}")


def dvc(scratch: Path, *arguments: str) -> tuple[float, str]:
    """Run ``dvc`` in the clone; (wall seconds, its output)."""
    env = {**os.environ, "PATH": f"{PROJECT / '.venv/bin'}{os.pathsep}{os.environ['PATH']}"}
    started = time.perf_counter()
    done = subprocess.run([str(PROJECT / ".venv/bin/dvc"), *arguments], cwd=scratch, env=env,
                          capture_output=True, text=True)
    wall = time.perf_counter() - started
    if done.returncode:
        sys.exit(f"dvc {' '.join(arguments)} failed:\n{done.stdout}\n{done.stderr}")
    return wall, done.stdout + done.stderr


def clone(scratch: Path) -> None:
    """A clone of this checkout's HEAD at ``scratch`` with its outputs and kept pair results."""
    if scratch.exists():
        shutil.rmtree(scratch)
    subprocess.run(["git", "clone", "--quiet", str(PROJECT), str(scratch)], check=True)
    (scratch / ".venv").symlink_to(PROJECT / ".venv")
    dvc(scratch, "config", "--local", "cache.dir", str(PROJECT / ".dvc/cache"))
    dvc(scratch, "checkout")
    cache = Path(load_params(PROJECT / "params.yaml").paths.train_cache)
    shutil.copytree(PROJECT / cache, scratch / cache)


def results(scratch: Path) -> set[str]:
    cache = Path(load_params(scratch / "params.yaml").paths.train_cache)
    return {p.name for p in (scratch / cache).glob("*.json") if not p.name.endswith(".eval.json")}


def step(scratch: Path, name: str, arguments: list[str]) -> dict:
    before = results(scratch)
    wall, output = dvc(scratch, *arguments)
    computed = sorted(results(scratch) - before)
    evaluations = pl.read_parquet(scratch / load_params(scratch / "params.yaml").paths.evaluations)
    names = {f"{t}__{g}" for t, g in evaluations.select("target", "group").rows()}
    seconds = sum(json.loads((scratch / load_params(scratch / "params.yaml").paths.train_cache
                              / c).read_text())["seconds"] for c in computed)
    return {"step": name, "wall_seconds": round(wall, 1),
            "stages": re.findall(r"Running stage '([^']+)'", output),
            "pairs_computed": len(computed), "pairs": len(names),
            "computed_pair_seconds": round(seconds, 1),
            "computed": [c.rsplit("-", 1)[0] for c in computed]}


def override(value) -> str:
    """``value`` in Hydra's override grammar, which `dvc exp run -S` parses: bare keys and
    single-quoted strings (JSON's quoted keys are refused)."""
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {override(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(override(v) for v in value) + "]"
    if isinstance(value, str):
        return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"
    return json.dumps(value)


def declare(name: str, spec: dict) -> list[str]:
    """The `-S` overrides that add the declared target ``name``: Hydra reads a key ``null`` in
    a dict as None, so the null model is set by its own dotted key."""
    fields = {k: v for k, v in spec.items() if k != "null"}
    extra = [f"+search.custom_targets.{name}.null={spec['null']}"] if "null" in spec else []
    return ["-S", f"+search.custom_targets.{name}={override(fields)}",
            *(arg for e in extra for arg in ("-S", e))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scratch", type=Path, default=Path("/tmp/bench_incremental"))
    parser.add_argument("--target", default=DEFAULT_TARGET,
                        help="one search.custom_targets entry, as YAML")
    args = parser.parse_args()
    declared = parse_yaml(args.target)
    [name] = declared
    clone(args.scratch)
    start = pl.read_parquet(args.scratch / load_params(args.scratch / "params.yaml")
                            .paths.evaluations)
    print(f"starting run: {len(start)} pairs, per-pair sum {start['seconds'].sum():.1f} s")
    targets = [*load_params(args.scratch / "params.yaml").search.targets, name]
    steps = [step(args.scratch, "no-op dvc repro", ["repro"]),
             step(args.scratch, "unrelated params (features.workers, dashboard.page_size)",
                  ["exp", "run", "-S", "features.workers=1", "-S", "dashboard.page_size=20"]),
             step(args.scratch, f"one declared target ({name})",
                  ["exp", "run", "-S", f"search.targets={override(targets)}",
                   *declare(name, declared[name])])]
    for entry in steps:
        print(json.dumps(entry))
    unrelated, added = steps[1], steps[2]
    if unrelated["pairs_computed"] or "train" in unrelated["stages"]:
        sys.exit("a param no pair reads made train compute pairs")
    if any(not c.startswith(f"{name}__") for c in added["computed"]):
        sys.exit(f"adding {name} computed pairs of other targets")
    print(f"adding {name}: {added['pairs_computed']} pairs computed, their per-pair sum "
          f"{added['computed_pair_seconds']:.1f} s, the whole dvc exp run "
          f"{added['wall_seconds']:.1f} s; the whole search's per-pair sum "
          f"{start['seconds'].sum():.1f} s")


if __name__ == "__main__":
    main()
