"""Runs that overlap, die or meet a full disk: one run of a stage per workspace at a time;
recovery that leaves another live process's copies alone; workers that die with their parent;
and a write the file system refuses reported as one line, the outputs as they were."""
from __future__ import annotations

import errno
import json
import os
import runpy
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import polars as pl
import pytest
import yaml

from machinery.atomic import (OLD_MARKER, PENDING, REFUSED, TMP_MARKER, WriteError, recover,
                             staging_owner_alive, write_bytes, write_directory)
from machinery.runner import clear_stale
from machinery.stage import outputs_state, run_stage
from tests.conftest import PROJECT

#: Seconds within which every worker must be gone once its parent was killed.
ORPHAN_LIMIT = 1.5
#: The stages, as dvc.yaml runs them (``python -m pipeline.<stage>``).
STAGES = sorted(yaml.safe_load((PROJECT / "dvc.yaml").read_text())["stages"])
INGEST_OUTPUTS = ["data/curves.parquet", "data/published.parquet", "data/published_ap.parquet"]


def test_every_stage_runs_through_run_stage():
    dvc = yaml.safe_load((PROJECT / "dvc.yaml").read_text())["stages"]
    assert all(dvc[stage]["cmd"] == f"python -m pipeline.{stage}" for stage in STAGES)
    assert len(STAGES) == 14
    for stage in STAGES:
        block = (PROJECT / "pipeline" / f"{stage}.py").read_text().split(
            'if __name__ == "__main__":', 1)[1]
        assert f'run_stage("{stage}", main, (' in block, stage


# ------------------------------------------------------------------------ one run at a time

#: A stage-like program: ``main`` says it runs, then sleeps ``argv[2]`` seconds.
SLEEPER = """
import sys, time
sys.path.insert(0, sys.argv[1])
from machinery.stage import run_stage

def main():
    print("running", flush=True)
    time.sleep(float(sys.argv[2]))

run_stage("demo", main)
"""


def demo(cwd: Path, seconds: float) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", SLEEPER, str(PROJECT), str(seconds)],
                            cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def finished(process: subprocess.Popen) -> tuple[int, str, str]:
    out, err = process.communicate(timeout=30)
    return process.returncode, out, err


def test_a_second_run_is_refused_while_the_first_runs(tmp_path):
    first = demo(tmp_path, 60)
    try:
        assert first.stdout.readline() == "running\n"
        code, out, err = finished(demo(tmp_path, 0))
        assert (code, out) == (1, "")                              # its main never ran
        assert err.strip() == (f"demo: error: another demo run (pid {first.pid}) holds "
                               ".locks/demo.lock; wait for it to finish or stop it")
        other = tmp_path / "other"
        other.mkdir()
        assert finished(demo(other, 0))[:2] == (0, "running\n")   # another workspace runs
    finally:
        first.kill()
        first.wait()
    assert finished(demo(tmp_path, 0))[:2] == (0, "running\n")     # a killed run holds nothing


def test_run_stage_exits_with_the_stage_s_own_errors(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)

    def fails(error: BaseException):
        def main():
            raise error
        return main

    with pytest.raises(SystemExit) as exit_:
        run_stage("demo", fails(ValueError("data/x.parquet: no rows")), (ValueError,))
    assert exit_.value.code == "demo: error: data/x.parquet: no rows"
    with pytest.raises(KeyError):                             # not its error: a traceback
        run_stage("demo", fails(KeyError("x")), (ValueError,))
    with pytest.raises(FileNotFoundError):
        run_stage("demo", fails(FileNotFoundError(errno.ENOENT, "No such file", "x")))
    with pytest.raises(SystemExit) as exit_:                  # EACCES from a read
        run_stage("demo", fails(PermissionError(errno.EACCES, "denied", "data/in.parquet")))
    assert exit_.value.code == ("demo: error: cannot access data/in.parquet: Permission denied "
                                "(the outputs are as they were)")
    replaced = [Path(f"reports/{n}.png") for n in range(7)]
    assert outputs_state(replaced[:1]) == ("already replaced: reports/0.png; the other outputs "
                                           "are as they were")
    assert outputs_state(replaced).startswith("already replaced: reports/0.png, reports/1.png, ")
    assert outputs_state(replaced).endswith("reports/4.png and 2 more; the other outputs are as "
                                            "they were")


# --------------------------------------------------------- recovery leaves live copies alone

def _state(pid: int) -> str | None:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return None


def alive(pid: int) -> bool:
    return _state(pid) not in (None, "Z", "X")


@pytest.fixture
def pids():
    """A live process, a dead one (reaped) and a zombie (ended, not yet reaped): their pids."""
    live = subprocess.Popen(["sleep", "60"])
    dead = subprocess.Popen(["true"])
    dead.wait()
    zombie = subprocess.Popen(["true"])
    deadline = time.monotonic() + 10
    while _state(zombie.pid) != "Z" and time.monotonic() < deadline:
        time.sleep(0.01)
    yield {"live": live.pid, "dead": dead.pid, "zombie": zombie.pid}
    live.kill()
    live.wait()
    zombie.wait()


def test_a_staging_name_s_owner(pids):
    assert staging_owner_alive(f"x.tmp-{pids['live']}")
    assert staging_owner_alive(f"x.old-{pids['live']}")
    assert not staging_owner_alive(f"x.tmp-{os.getpid()}")          # our own: stale to us
    for name in (f"x.tmp-{pids['dead']}", f"x.tmp-{pids['zombie']}", "x.tmp-abc", "x"):
        assert not staging_owner_alive(name), name
    release, thread_id = threading.Event(), []

    def waiting() -> None:
        thread_id.append(threading.get_native_id())
        release.wait(10)
    thread = threading.Thread(target=waiting)
    thread.start()
    try:
        while not thread_id:
            time.sleep(0.001)
        assert alive(thread_id[0])
        assert not staging_owner_alive(f"x.tmp-{thread_id[0]}")     # a thread writes no copy
    finally:
        release.set()
        thread.join()


def test_recovery_leaves_a_live_writer_s_copies_alone(tmp_path, pids):
    target = tmp_path / "figures"
    write_directory({"old.png": b"old"}, target)
    copies = [(TMP_MARKER, pids["live"]), (OLD_MARKER, pids["live"]), (TMP_MARKER, pids["dead"]),
              (OLD_MARKER, pids["dead"]), (TMP_MARKER, pids["zombie"]),
              (TMP_MARKER, os.getpid())]
    for marker, pid in copies:
        copy = tmp_path / f"figures{marker}{pid}"
        copy.mkdir()
        (copy / "part.png").write_bytes(b"partial")
    live = [f"figures{TMP_MARKER}{pids['live']}", f"figures{OLD_MARKER}{pids['live']}"]
    recover(target)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["figures", *live])
    assert (target / "old.png").read_bytes() == b"old"
    write_directory({"new.png": b"new"}, target)              # beside the live copies
    assert [p.name for p in target.iterdir()] == ["new.png"]
    assert all((tmp_path / name / "part.png").read_bytes() == b"partial" for name in live)


def test_a_live_writer_s_group_is_completed_only_once_it_is_gone(tmp_path):
    writer = subprocess.Popen(["sleep", "60"])
    targets = [tmp_path / "table.json", tmp_path / "metrics.json"]
    stagings = [t.with_name(f"{t.name}{TMP_MARKER}{writer.pid}") for t in targets]
    for target, staging in zip(targets, stagings):
        target.write_text("old")
        staging.write_text("new")
    marker = targets[0].with_name(f"{targets[0].name}{PENDING}")
    marker.write_text(json.dumps({"stagings": list(map(str, stagings)),
                                  "targets": list(map(str, targets))}))
    try:
        recover(targets[1])                                   # it is still swapping
        assert [t.read_text() for t in targets] == ["old", "old"]
        assert marker.exists() and all(s.exists() for s in stagings)
    finally:
        writer.kill()
        writer.wait()
    recover(targets[1])                                       # killed between its swaps
    assert [t.read_text() for t in targets] == ["new", "new"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["metrics.json", "table.json"]


def test_clear_stale_keeps_a_live_writer_s_partial_write(tmp_path, pids):
    for name in ["a-k.json", f"a-k.json{TMP_MARKER}{pids['live']}", "old-k0.json",
                 f"b-k.json{TMP_MARKER}{pids['dead']}", f"b-k.json{TMP_MARKER}{pids['zombie']}"]:
        (tmp_path / name).write_text("{}")
    clear_stale(tmp_path, {"a-k.json"})
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "a-k.json", f"a-k.json{TMP_MARKER}{pids['live']}"]


# ------------------------------------------------------------ workers die with their parent

#: A stage-like program: 12 jobs on 2 workers, 4 quick ones and then slow ones, results
#: written as they arrive; ``argv[4]`` "watchdog" clears the parent-death signal in each worker.
STAGE_LIKE = """
import sys
sys.path.insert(0, sys.argv[1])
from pathlib import Path
from machinery.atomic import write_json
from machinery.params import Executor
from machinery.runner import Job, run_jobs
from tests.test_faults_concurrency import SLOW, clear_death_signal, nap
marks, out, mode = sys.argv[2], sys.argv[3], sys.argv[4]
jobs = [Job(f"n{n:02d}", "k", (n, marks, 0.1 if n < 4 else SLOW)) for n in range(12)]
run_jobs(jobs, Path(out), nap, workers=2, save=write_json, suffix=".json", desc="nap",
         initializer=clear_death_signal if mode == "watchdog" else None,
         executor=Executor(kind="dask" if mode == "dask" else "local", address=None))
"""
#: Seconds a slow job takes: an orphan still running would have finished one by then.
SLOW = 1.5


def nap(item: tuple[int, str, float]) -> dict:
    """A job: marks its start (``started-<n>-<pid>``), sleeps, marks its end (``done-<n>``)."""
    number, marks, seconds = item
    Path(marks, f"started-{number}-{os.getpid()}").touch()
    time.sleep(seconds)
    Path(marks, f"done-{number}").touch()
    return {"number": number, "pid": os.getpid()}


def clear_death_signal() -> None:
    """A worker initializer that leaves only the watchdog thread (prctl PR_SET_PDEATHSIG 0)."""
    import ctypes
    zero = ctypes.c_ulong(0)
    ctypes.CDLL(None).prctl(1, zero, zero, zero, zero)


def descendants(pid: int) -> set[int]:
    children = set()
    for task in Path(f"/proc/{pid}/task").iterdir():
        children |= {int(c) for c in (task / "children").read_text().split()}
    return children.union(*(descendants(c) for c in children))


def marks_of(marks: Path, kind: str) -> dict[int, int | None]:
    """Job number -> worker pid (``started``), or -> None (``done``)."""
    found = {}
    for path in marks.glob(f"{kind}-*"):
        parts = path.name.split("-")
        found[int(parts[1])] = int(parts[2]) if len(parts) > 2 else None
    return found


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="reads /proc")
@pytest.mark.parametrize("mode", ["local", "watchdog", "dask"])
def test_workers_die_with_their_killed_parent(tmp_path, mode):
    marks, out = tmp_path / "marks", tmp_path / "out"
    marks.mkdir()
    stage = subprocess.Popen([sys.executable, "-c", STAGE_LIKE, str(PROJECT), str(marks),
                              str(out), mode], cwd=tmp_path, stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE)
    processes: set[int] = set()
    try:
        deadline = time.monotonic() + 60
        while not {4, 5} <= set(marks_of(marks, "started")):      # both workers in slow jobs
            assert stage.poll() is None and time.monotonic() < deadline, stage.stderr.read()
            time.sleep(0.01)
        processes = descendants(stage.pid)
        workers = set(marks_of(marks, "started").values())
        assert workers <= processes and len(workers) == 2
        # on a loaded machine a slow job may end before the other worker reaches its own:
        # what ended before the kill is no job going on after it
        ended = set(marks_of(marks, "done")) | {0, 1, 2, 3}
        stage.send_signal(signal.SIGKILL)
        killed = time.monotonic()
        stage.wait(timeout=10)
        while any(map(alive, processes)) and time.monotonic() - killed < ORPHAN_LIMIT:
            time.sleep(0.005)
        survivors = [pid for pid in processes if alive(pid)]
        assert not survivors, f"alive {time.monotonic() - killed:.2f} s after the kill"
    finally:
        for pid in processes:
            if alive(pid):
                os.kill(pid, signal.SIGKILL)
        if stage.poll() is None:
            stage.kill()
            stage.wait()
    time.sleep(SLOW)
    assert set(marks_of(marks, "done")) <= ended                 # no slow job went on
    results = [p for p in out.iterdir() if TMP_MARKER not in p.name]
    assert {p.name for p in results} <= {f"n{n:02d}-k.json" for n in ended}
    assert all(json.loads(p.read_text())["number"] in ended for p in results)


# --------------------------------------------- writes the file system refuses: one line each

def test_a_refused_write_names_the_output_and_leaves_it_as_it_was(tmp_path, monkeypatch):
    target = tmp_path / "metrics.json"
    target.write_bytes(b"old")
    real_open = open

    def full_disk(file, mode="r", *args, **kwargs):
        handle = real_open(file, mode, *args, **kwargs)
        if "w" not in mode:
            return handle
        handle.write(b"half")                                 # a partial write, then full
        handle.close()
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))    # as write(2) says it
    monkeypatch.setattr("builtins.open", full_disk)
    with pytest.raises(WriteError) as raised:
        write_bytes(b"new", target)
    monkeypatch.undo()
    assert (raised.value.errno, raised.value.filename) == (errno.ENOSPC, str(target))
    assert [p.name for p in tmp_path.iterdir()] == ["metrics.json"]
    assert target.read_bytes() == b"old"


def test_a_directory_refused_part_way_is_the_old_set(tmp_path, monkeypatch):
    target = tmp_path / "figures"
    write_directory({"old.png": b"old"}, target)
    real_open, opened = open, []

    def quota(file, mode="r", *args, **kwargs):
        if "w" in mode:
            opened.append(file)
            if len(opened) > 2:                               # the third file: over quota
                raise OSError(errno.EDQUOT, os.strerror(errno.EDQUOT))
        return real_open(file, mode, *args, **kwargs)
    monkeypatch.setattr("builtins.open", quota)
    with pytest.raises(WriteError) as raised:
        write_directory({f"{n}.png": b"new" for n in range(5)}, target)
    monkeypatch.undo()
    assert raised.value.errno == errno.EDQUOT and raised.value.filename == str(target)
    assert [p.name for p in tmp_path.iterdir()] == ["figures"]
    assert [p.name for p in target.iterdir()] == ["old.png"]


@pytest.fixture
def ingest_project(tmp_path, monkeypatch) -> Path:
    """A project for the ingest stage (Cremona's tables below conductor 100) with sentinel
    outputs; the working directory."""
    params = yaml.safe_load((PROJECT / "params.yaml").read_text())
    params["ingest"]["conductor_max"] = 100
    project = tmp_path / "project"
    (project / "data").mkdir(parents=True)
    (project / "params.yaml").write_text(yaml.safe_dump(params))
    for name in INGEST_OUTPUTS:
        (project / name).write_bytes(b"previous run " + name.encode())
    monkeypatch.chdir(project)
    return project


def outputs(project: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in (project / "data").iterdir()}


def run_ingest() -> object:
    """``python -m pipeline.ingest`` in this process: its exit code or message."""
    try:
        runpy.run_module("pipeline.ingest", run_name="__main__")
    except SystemExit as exit_:
        return exit_.code
    return 0


def refusing_replace(number: int, refused: str):
    """os.replace that refuses (errno ``number``) to put a file at ``refused``, as a read-only or
    full file system would."""
    real = os.replace

    def replace(source, destination, **kwargs):
        if str(destination) == refused:
            raise OSError(number, os.strerror(number), str(source), None, str(destination))
        return real(source, destination, **kwargs)
    return replace


#: (moment, errno): polars refusing to write a table (only errnos no read raises: polars'
#: error carries no errno, only its text), or the file system refusing the group's first swap.
REFUSALS = ([("writing", n) for n in (errno.ENOSPC, errno.EROFS, errno.EDQUOT)]
            + [("publishing", n) for n in sorted(REFUSED)])


@pytest.mark.filterwarnings("ignore:.*found in sys.modules:RuntimeWarning")
@pytest.mark.parametrize("moment, number", REFUSALS,
                         ids=[f"{m}-{errno.errorcode[n]}" for m, n in REFUSALS])
def test_a_refused_write_stops_ingest_with_the_outputs_as_they_were(ingest_project, monkeypatch,
                                                                     moment, number):
    before = outputs(ingest_project)
    with monkeypatch.context() as patch:
        if moment == "writing":                 # what polars raises from Rust: no errno
            def write_parquet(frame, file, *args, **kwargs):
                Path(file).write_bytes(b"PAR1 partial")
                raise pl.exceptions.ComputeError(
                    "parquet: File out of specification: underlying IO error: "
                    f"{os.strerror(number)} (os error {number})")
            patch.setattr(pl.DataFrame, "write_parquet", write_parquet)
        else:
            patch.setattr(os, "replace", refusing_replace(number, "data/curves.parquet"))
        message = run_ingest()
    assert message == (f"ingest: error: cannot write data/curves.parquet: {os.strerror(number)} "
                       "(the outputs are as they were)")
    assert outputs(ingest_project) == before                 # and no copy or marker left


@pytest.mark.filterwarnings("ignore:.*found in sys.modules:RuntimeWarning")
def test_a_group_refused_between_its_swaps_names_what_was_replaced(ingest_project, monkeypatch):
    with monkeypatch.context() as patch:
        patch.setattr(os, "replace", refusing_replace(errno.ENOSPC, "data/published.parquet"))
        message = run_ingest()
    assert message == ("ingest: error: cannot write data/published.parquet: No space left on "
                       "device (already replaced: data/curves.parquet; the other outputs are as "
                       "they were)")
    assert any(p.name.endswith(PENDING) for p in (ingest_project / "data").iterdir())
    recover("data/published.parquet")               # what the next publication does first
    assert sorted(outputs(ingest_project)) == sorted(Path(n).name for n in INGEST_OUTPUTS)
    for name in INGEST_OUTPUTS:                     # the new set: tables, not the sentinels
        pl.read_parquet(name)


@pytest.fixture(scope="module")
def namespaces() -> None:
    """Skip unless this machine lets a process mount in user and mount namespaces of its own."""
    if shutil.which("unshare") is None or subprocess.run(
            ["unshare", "-rm", "mount", "-t", "tmpfs", "tmpfs", "/mnt"],
            capture_output=True).returncode != 0:
        pytest.skip("needs unshare and user namespaces (mounts of its own)")


#: Inside a private mount namespace: ``data`` made read-only (a bind mount) or full (a small
#: tmpfs holding the old outputs and a filler), then ingest; the data left is copied to
#: ``../after`` (the mounts vanish with the namespace).
IN_NAMESPACE = {
    "read-only": "mount --bind data data && mount -o remount,bind,ro data",
    "full": "cp -a data ../before && mount -t tmpfs -o size=64k tmpfs data && "
            "cp -a ../before/. data/ && (head -c 1M /dev/zero > data/filler 2>/dev/null; true)",
}


@pytest.mark.parametrize("kind", sorted(IN_NAMESPACE))
def test_ingest_on_a_real_read_only_or_full_disk(namespaces, ingest_project, kind):
    before = outputs(ingest_project)
    env = {**os.environ, "PYTHONPATH": str(PROJECT)}
    script = (f"{IN_NAMESPACE[kind]} && {{ {sys.executable} -m pipeline.ingest; echo $? > ../rc; }}"
              " ; rm -f data/filler; cp -a data ../after")
    result = subprocess.run(["unshare", "-rm", "sh", "-c", script], cwd=ingest_project,
                            env=env, capture_output=True, text=True, timeout=60)
    reason = {"read-only": "Read-only file system", "full": "No space left on device"}[kind]
    rc = ingest_project.parent / "rc"
    assert rc.exists() and rc.read_text().strip() == "1", result.stderr
    assert result.stderr.strip().splitlines()[-1] == (
        f"ingest: error: cannot write data/curves.parquet: {reason} "
        "(the outputs are as they were)")
    assert {p.name: p.read_bytes() for p in (ingest_project.parent / "after").iterdir()} == before


def test_two_trains_on_one_workspace(tmp_path, model_tables):
    """Two ``python -m pipeline.train`` on one data/: the second is refused at once while the
    first runs, and the first publishes one exported model per evaluated pair."""
    from models.features import resolve_groups
    params = yaml.safe_load((PROJECT / "params.yaml").read_text())
    params["search"].update(targets=["rank_parity", "log_sha_an"],
                            groups={"parity": ["parity"], "bsd": ["bsd"]}, null_datasets=3,
                            bootstrap=50, folds=3, workers=1, threads=1)
    (tmp_path / "data").mkdir()
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    model_tables["features"].write_parquet(tmp_path / "data" / "features.parquet")
    model_tables["bsd"].write_parquet(tmp_path / "data" / "bsd.parquet")
    groups = resolve_groups(model_tables["features"].columns)
    (tmp_path / "data" / "feature_groups.json").write_text(json.dumps(groups))
    env = {**os.environ, "PYTHONPATH": str(PROJECT)}

    def train() -> subprocess.Popen:
        return subprocess.Popen([sys.executable, "-m", "pipeline.train"], cwd=tmp_path, env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    first = train()
    lock = tmp_path / ".locks" / "train.lock"
    deadline = time.monotonic() + 60
    while not (lock.exists() and lock.read_text().strip()) and time.monotonic() < deadline:
        time.sleep(0.05)
    second = train()
    _, refused = second.communicate(timeout=60)
    assert second.returncode == 1 and "Traceback" not in refused
    assert f"train: error: another train run (pid {first.pid}) holds .locks/train.lock" in refused
    _, err = first.communicate(timeout=600)
    assert first.returncode == 0, err[-2000:]
    evaluations = pl.read_parquet(tmp_path / "data" / "evaluations.parquet")
    models = sorted(p.name for p in (tmp_path / "data" / "gbm_models").iterdir())
    assert len(evaluations) == len(models) == 4
