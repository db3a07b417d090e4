"""Time and peak memory of every stage of a `dvc repro`, one stage at a time.

Run from a project checkout whose params.yaml holds the run to measure (e.g. the full-range
preset, `presets/full.yaml`):

    .venv/bin/python -m benchmarks.bench_full_run --log benchmarks/full_run.jsonl

Each stage runs as `dvc repro --single-item <stage>` in the DAG's order; its wall time, the
CPU seconds of its whole process tree, and the peak of the tree's summed resident memory (the
stage and its workers, sampled every `--interval` seconds with psutil) are appended to the log
as one JSON line, so a run killed half-way keeps what it measured, and a rerun skips stages
whose outputs are current (DVC then reports them unchanged in well under a second).
"""
from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import psutil

#: The stages in an order compatible with dvc.yaml's DAG (`dvc dag`).
STAGES = ["ingest", "bsd", "invariants", "features", "crosscheck", "murmurations", "topology",
          "train", "height_sample", "stein_watkins", "bias", "findings", "controls", "report"]


def tree_rss(process: psutil.Process) -> int:
    """Resident bytes of a process and all its descendants (0 for those already gone)."""
    total = 0
    for member in [process, *process.children(recursive=True)]:
        try:
            total += member.memory_info().rss
        except psutil.Error:
            pass
    return total


def children_cpu_seconds() -> float:
    """User + system CPU seconds of every finished descendant (each level waited for its own)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_stage(stage: str, dvc: str, interval: float) -> dict:
    """Run one stage, sampling its process tree; the measurements as a dict. CPU seconds do
    not grow when another job shares the machine, so a segment run beside other work still
    counts its own share; wall seconds do."""
    started, cpu = time.perf_counter(), children_cpu_seconds()
    process = psutil.Popen([dvc, "repro", "--single-item", stage])
    peak = 0
    while process.poll() is None:
        try:
            peak = max(peak, tree_rss(process))
        except psutil.NoSuchProcess:
            break
        time.sleep(interval)
    return {"stage": stage, "returncode": process.wait(),
            "seconds": round(time.perf_counter() - started, 1),
            "cpu_seconds": round(children_cpu_seconds() - cpu, 1),
            "peak_rss_gib": round(peak / 2**30, 3),
            "finished": datetime.now(timezone.utc).isoformat(timespec="seconds")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--log", type=Path, default=Path("benchmarks/full_run.jsonl"))
    parser.add_argument("--stages", nargs="+", default=STAGES, choices=STAGES)
    parser.add_argument("--interval", type=float, default=1.0)
    parser.add_argument("--dvc", default=str(Path(sys.executable).with_name("dvc")))
    args = parser.parse_args()
    for stage in args.stages:
        result = run_stage(stage, args.dvc, args.interval)
        with args.log.open("a") as log:
            log.write(json.dumps(result) + "\n")
        print(json.dumps(result), flush=True)
        if result["returncode"]:
            sys.exit(f"stage {stage} failed (exit {result['returncode']})")


if __name__ == "__main__":
    main()
