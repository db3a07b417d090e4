"""The no-op ``dvc repro`` (every stage up to date) with DVC's YAML parsed in C and in Python.

DVC parses ``params.yaml`` once per stage to compare its params, and ``dvc.yaml`` / ``dvc.lock``
several times more, with ruamel.yaml, which uses libyaml's C parser when
``ruamel.yaml.clib`` is installed and its pure-Python parser otherwise. This runs the no-op
``dvc repro`` of this checkout ``--repeats`` times each way, alternating, and prints the median
wall times and their ratio. The pure-Python runs hide the C extension from the import system.

    python -m benchmarks.bench_noop_repro --repeats 5
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time

from machinery.code_digest import PROJECT

#: ``dvc repro`` in a fresh interpreter; ``{hide}`` makes ``import _ruamel_yaml`` fail.
RUN = ("import sys\n{hide}from dvc.cli import main\n"
       "sys.exit(main(['repro', '--quiet']))\n")


def once(pure: bool) -> float:
    code = RUN.format(hide="sys.modules['_ruamel_yaml'] = None\n" if pure else "")
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", code], cwd=PROJECT, capture_output=True,
                          text=True)
    wall = time.perf_counter() - started
    if done.returncode != 0:
        sys.exit(f"dvc repro failed: {done.stderr.strip()[-500:]}")
    return wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    try:
        import _ruamel_yaml  # noqa: F401
    except ImportError:
        sys.exit("ruamel.yaml.clib is not installed: `make install`")
    times = {"C parser": [], "pure Python": []}
    for _ in range(args.repeats):
        times["C parser"].append(once(False))
        times["pure Python"].append(once(True))
    medians = {name: statistics.median(walls) for name, walls in times.items()}
    print(json.dumps({"seconds": {n: [round(t, 2) for t in w] for n, w in times.items()},
                      "median": {n: round(t, 2) for n, t in medians.items()},
                      "ratio": round(medians["pure Python"] / medians["C parser"], 2)},
                     indent=1))


if __name__ == "__main__":
    main()
