"""Positive controls: would this engine have found what we know?

    python -m benchmarks.bench_controls          (after `dvc repro features`)

Each control (``controls.pairs`` of params.yaml, as the ``controls`` stage runs them) is a pair
whose answer known mathematics gives exactly. With its law in force the
engine must call it explained by that law; with the law withheld (``search.withhold``: the law
leaves the baselines, what its algorithm computes leaves the known quantities, and a null
model built on it leaves too) the engine must *find* it. Every pair is evaluated as the train
stage evaluates it (models.search.pair_tools) on the default run's model frame, with every test
run (no screen), and decided on its own. Prints one row per (control, withheld?) with the
verdict, the added value and its interval, and the seconds it took.
"""
from __future__ import annotations

import json
import time
from pathlib import Path

from machinery.params import load_params
from models.search import evaluate_alone, search_targets, sha_model_factory
from pipeline.frames import search_frame


def control(params, frame, groups, target: str, group: str, withhold: tuple[str, ...]) -> dict:
    """One control pair, evaluated and decided alone as the search would with ``withhold``."""
    search = params.search.model_copy(update={"withhold": list(withhold),
                                              "targets": [target]})
    started = time.perf_counter()
    decided = evaluate_alone(frame, search_targets(search, params.features, groups)[target],
                             group, groups, search, params.nulls, params.features,
                             search.threads * search.workers, sha_model_factory(params.nulls))
    return {**decided, "seconds": time.perf_counter() - started}


def main() -> None:
    params = load_params()
    frame = search_frame(params)
    groups = json.loads(Path(params.paths.feature_groups).read_text())
    print(f"{len(frame):,} curves; | pair | withheld | verdict | added value [95%] | seconds |")
    for pair in params.controls.pairs:
        target, group = pair.target, pair.group
        for withhold in ((), (pair.law,)):
            r = control(params, frame, groups, target, group, withhold)
            print(f"| {target} ~ {group} | {', '.join(withhold) or '—'} | {r['verdict']} | "
                  f"{r['added_value']:+.3f} [{r['added_value_low']:.3f}, "
                  f"{r['added_value_high']:.3f}] | {r['seconds']:.0f} |", flush=True)


if __name__ == "__main__":
    main()
