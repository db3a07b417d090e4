"""Positive controls: would this engine have found what we know?

    python -m benchmarks.bench_controls          (after `dvc repro features`)

Each control is a pair whose answer known mathematics gives exactly. With its law in force the
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

from models.findings import decide, evaluate
from models.search import pair_tools, pairs, search_settings, search_targets, sha_model_factory
from pipeline.frames import search_frame
from pipeline.params import load_params

#: (target, search group, the law that explains it).
CONTROLS = [("rank_parity", "parity", "parity conjecture"),
            ("log_sha_an", "bsd", "BSD formula"),
            ("log_tamagawa_product", "weierstrass", "Tate's algorithm")]


def control(params, frame, groups, target: str, group: str, withhold: tuple[str, ...]) -> dict:
    """One control pair, evaluated and decided as the search would with ``withhold``."""
    search = params.search.model_copy(update={"withhold": list(withhold)})
    targets = search_targets(search, params.features, groups)
    [pair] = pairs({target: targets[target]}, {group: search.groups[group]}, groups,
                   frame.columns, withhold)
    make_gbm, baselines, null = pair_tools(pair, groups, search, params.nulls, params.features,
                                           search.threads * search.workers,
                                           sha_model_factory(params.nulls))
    started = time.perf_counter()
    result = evaluate(frame, pair.target, group, pair.columns, make_gbm, baselines, null,
                      search_settings(search), pair.known, screen=False)
    [decided] = decide([result], search.fdr)
    return {**decided, "seconds": time.perf_counter() - started}


def main() -> None:
    params = load_params()
    frame = search_frame(params)
    groups = json.loads(Path(params.paths.feature_groups).read_text())
    print(f"{len(frame):,} curves; | pair | withheld | verdict | added value [95%] | seconds |")
    for target, group, law in CONTROLS:
        for withhold in ((), (law,)):
            r = control(params, frame, groups, target, group, withhold)
            print(f"| {target} ~ {group} | {', '.join(withhold) or '—'} | {r['verdict']} | "
                  f"{r['added_value']:+.3f} [{r['added_value_low']:.3f}, "
                  f"{r['added_value_high']:.3f}] | {r['seconds']:.0f} |", flush=True)


if __name__ == "__main__":
    main()
