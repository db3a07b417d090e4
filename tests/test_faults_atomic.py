"""Atomic outputs: no code writes a file except through machinery/atomic.py, and a directory
output killed part-way through its publication is the old set or the new set, never a mix."""
from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from machinery.atomic import PENDING, publish_together, recover, write_directory
from machinery.code_digest import CODE_FOLDERS
from tests.conftest import PROJECT

#: Where the project's code lives (tests and benchmarks write scratch files freely).
CODE = list(CODE_FOLDERS)
#: Calls that write a file, a directory entry or a rename, other than into a memory buffer.
WRITES = re.compile(
    r"\.write_text\(|\.write_bytes\(|\bopen\([^)]*['\"][wax]b?\+?['\"]|\.to_csv\(|"
    r"\.to_parquet\(|\.write_parquet\(|\.write_csv\((?!\))|\.write_ndjson\(|\.write_excel\(|"
    r"\.sink_\w+\(|\.write_json\(|\.write_ipc\((?!buffer)|\.savefig\((?!buffer)|"
    r"\bnp\.save\w*\(|\bjson\.dump\(|\bpickle\.dump|\bshutil\.(copy\w*|move)\(|"
    r"\bos\.(rename|replace)\(|\.save_model\(|\.rename\((?![{])")
#: Writes that bypass atomic.py in code other developers are rewriting onto it; each entry
#: must still be there (remove it once the file uses machinery/atomic.py).
PENDING_REWRITE = {
    ("machinery/preset.py", "tmp.write_text(text)"),
}


def bypassing_writes() -> set[tuple[str, str]]:
    found = set()
    for folder in CODE:
        for path in sorted((PROJECT / folder).rglob("*.py")):
            name = str(path.relative_to(PROJECT))
            if name == "machinery/atomic.py":
                continue
            for line in path.read_text().splitlines():
                code = line.split("#", 1)[0]
                if WRITES.search(code):
                    found.add((name, code.strip()))
    return found


def test_every_write_goes_through_atomic_py():
    found = bypassing_writes()
    unexpected = {w for w in found
                  if not any(w[0] == f and p in w[1] for f, p in PENDING_REWRITE)}
    assert not unexpected, f"writes that bypass machinery/atomic.py: {sorted(unexpected)}"
    stale = {(f, p) for f, p in PENDING_REWRITE if not any(w[0] == f and p in w[1] for w in found)}
    assert not stale, (f"these now use machinery/atomic.py; remove them from PENDING_REWRITE: "
                       f"{stale}")


def test_the_grep_sees_a_bypassing_write():
    for line in ['path.write_text("x")', "frame.write_parquet(out)", "open(p, 'w')",
                 'open(p, "ab")', "table.to_csv(p)", "shutil.copyfile(a, b)", "os.rename(a, b)",
                 "figure.savefig(path)", "lazy.sink_parquet(p)"]:
        assert WRITES.search(line), line
    for line in ["open(p, 'rb')", "figure.savefig(buffer, format='png')",
                 "rows.write_ipc(buffer)", "write_parquet(frame, path)"]:
        assert not WRITES.search(line), line


# ------------------------------------------------------------------ kill tests, directories

PATHS = yaml.safe_load((PROJECT / "params.yaml").read_text())["paths"]
#: Every directory output of the pipeline (a paths entry without a file suffix among the outs).
DIRECTORY_OUTPUTS = sorted(n for n, p in PATHS.items() if Path(p).suffix == ""
                           and not n.endswith(("_chunks", "downloads")))

#: A publication that stalls where a kill hurts most: part-way through writing the new set
#: (``staging``), or between the two renames of the fallback swap (``swap``).
PUBLISHER = r"""
import os, sys, time
sys.path.insert(0, sys.argv[1])
import machinery.atomic as atomic
target, moment, mode = sys.argv[2], sys.argv[3], sys.argv[4]
if moment == "swap":
    atomic._exchange = lambda first, second: False        # the two-rename fallback
    rename = os.rename
    def slow_rename(a, b):
        rename(a, b)
        if str(b).startswith(target + atomic.OLD_MARKER):
            print("between", flush=True)
            time.sleep(60)
    atomic.os.rename = slow_rename
def files():
    for i in range(200):
        if moment == "staging" and i == 100:
            print("halfway", flush=True)
            time.sleep(60)
        yield f"new-{i}.png", b"new %d" % i
if mode == "directory":
    with atomic.atomic_directory(target) as tmp:
        for name, data in files():
            with open(tmp / name, "wb") as handle:
                handle.write(data)
else:
    with atomic.publish_together(target, target + ".json") as (directory, table):
        os.mkdir(directory)
        for name, data in files():
            with open(os.path.join(directory, name), "wb") as handle:
                handle.write(data)
        with open(table, "w") as handle:
            handle.write("new")
"""

OLD = {f"old-{i}.png": b"old %d" % i for i in range(150)}


def _listing(directory: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in directory.iterdir()}


@pytest.mark.parametrize("mode", ["directory", "together"])
@pytest.mark.parametrize("moment", ["staging", "swap"])
@pytest.mark.parametrize("output", DIRECTORY_OUTPUTS)
def test_a_killed_directory_publication_leaves_the_old_set(tmp_path, output, moment, mode):
    target = tmp_path / PATHS[output]
    write_directory(OLD, target)
    (tmp_path / (PATHS[output] + ".json")).write_text("old")
    process = subprocess.Popen([sys.executable, "-c", PUBLISHER, str(PROJECT), str(target),
                                moment, mode], stdout=subprocess.PIPE, text=True)
    try:
        signal_line = process.stdout.readline().strip()
        assert signal_line in ("halfway", "between")
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
    recover(target)                  # what the next publication does first
    # a group fully staged is committed by its marker: the next publication completes it
    committed = mode == "together" and moment == "swap"
    new = {f"new-{i}.png": b"new %d" % i for i in range(200)}
    assert _listing(target) == (new if committed else OLD)
    assert (tmp_path / (PATHS[output] + ".json")).read_text() == ("new" if committed else "old")
    leftovers = [p.name for p in target.parent.iterdir()
                 if p.name.startswith(target.name)
                 and p.name not in (target.name, target.name + ".json")]
    assert leftovers == []
    write_directory({"next.png": b"next"}, target)
    assert _listing(target) == {"next.png": b"next"}


def test_a_group_killed_between_its_swaps_is_completed(tmp_path):
    """The marker written before the first swap lets the next publication finish the group:
    both members new, never one new beside one old."""
    first, second = tmp_path / "figures", tmp_path / "table.json"
    write_directory(OLD, first)
    second.write_text("old")
    import machinery.atomic as atomic
    real_swap = atomic._swap_in
    calls = []

    def dying_swap(staging, target):
        if calls:
            raise KeyboardInterrupt       # the process stops after the first swap
        calls.append(target)
        real_swap(staging, target)
    atomic._swap_in = dying_swap
    try:
        with pytest.raises(KeyboardInterrupt):
            with publish_together(first, second) as (directory, table):
                directory.mkdir()
                (directory / "new.png").write_bytes(b"new")
                table.write_text("new")
    finally:
        atomic._swap_in = real_swap
    assert list(tmp_path.glob(f"*{PENDING}"))
    recover(second)
    assert _listing(first) == {"new.png": b"new"} and second.read_text() == "new"
    assert not list(tmp_path.glob(f"*{PENDING}"))


# ------------------------------------------------------- kill tests, a real stage's outputs

REPORT_OUTPUTS = ["report_figures", "report_markdown", "report_html", "report_json", "report_csv"]


def report_state(repo: Path) -> dict:
    state = {}
    for name in REPORT_OUTPUTS:
        path = repo / PATHS[name]
        state[name] = _listing(path) if path.is_dir() else path.read_bytes()
    return state


def kill_report_repeatedly(repo: Path, reference: Path, delays: list[float]) -> int:
    """Change ``report.top_features`` (so every pair's figure changes), compute the new set in
    ``reference`` (a copy), then start the report stage in ``repo`` and SIGKILL it after each
    delay: each time the outputs are the old set or the new set. The number of kills that
    caught the stage still running."""
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    old = report_state(repo)
    for where in (repo, reference):
        params = yaml.safe_load((where / "params.yaml").read_text())
        params["report"]["top_features"] = 2 if params["report"]["top_features"] != 2 else 3
        (where / "params.yaml").write_text(yaml.safe_dump(params))
    subprocess.run([sys.executable, "-m", "pipeline.report"], cwd=reference, env=env,
                   check=True, capture_output=True)
    new = report_state(reference)
    assert new != old
    caught = 0
    for delay in delays:
        process = subprocess.Popen([sys.executable, "-m", "pipeline.report"], cwd=repo, env=env,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(delay)
        caught += process.poll() is None
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
        state = report_state(repo)
        assert state == old or state == new, f"a mixture after a kill at {delay:.2f} s"
    return caught


@pytest.mark.slow
def test_the_report_stage_killed_anywhere_leaves_old_or_new(pipeline_project, tmp_path):
    import shutil
    repo, reference = tmp_path / "repo", tmp_path / "reference"
    for target in (repo, reference):
        shutil.copytree(pipeline_project[0], target, ignore=shutil.ignore_patterns(".dvc"))
    start = time.monotonic()
    subprocess.run([sys.executable, "-m", "pipeline.report"], cwd=reference, check=True,
                   capture_output=True,
                   env={**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}"
                                              f"{os.environ['PATH']}"})
    full = time.monotonic() - start
    delays = [full * f for f in (0.3, 0.6, 0.8, 0.9, 0.95, 1.0, 1.05)]
    assert kill_report_repeatedly(repo, reference, delays) >= 3
