"""The stages' job runner (:mod:`machinery.runner`): resumable, on local processes or dask, and
failing fast with the cause (an initializer or a job that raises, a worker that dies), never
respawning a worker."""
from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import polars as pl
import pytest

from machinery.atomic import write_json
from machinery.params import Executor
from machinery.runner import Job, WorkerDied, run_jobs

DASK = Executor(kind="dask", address=None)
LOCAL = Executor(kind="local", address=None)
#: A failing stage must stop within this many seconds more than a stage of one quick job
#: takes to start its workers (measured beside it: the machine may be loaded).
PROMPT = 10

_setting: dict = {}


def set_offset(offset: int) -> None:
    _setting["offset"] = offset


def failing_initializer(offset: int) -> None:
    raise ValueError(f"cannot start with offset {offset}")


def record(item: tuple[int, str]) -> dict:
    """The job's result; a file in the item's folder says it ran (and where)."""
    number, folder = item
    Path(folder, f"ran-{number}-{os.getpid()}").touch()
    if number == 13:
        raise ArithmeticError(f"item {number} is unlucky")
    if number == 66:
        os._exit(3)
    if number == 99:
        os.kill(os.getpid(), signal.SIGKILL)
    if number == 1000:
        time.sleep(120)
    return {"number": number, "value": number + _setting.get("offset", 0)}


def numbers_frame(item: tuple[int, str]) -> pl.DataFrame:
    return pl.DataFrame({"number": [record(item)["number"]] * 3})


def jobs(numbers, folder: Path, key: str = "k1") -> list[Job]:
    folder.mkdir(exist_ok=True)
    return [Job(f"n{n:04d}", key, (n, str(folder))) for n in numbers]


def ran(folder: Path) -> list[int]:
    return sorted(int(p.name.split("-")[1]) for p in folder.glob("ran-*"))


def startup(tmp_path: Path, executor: Executor) -> float:
    """Seconds for a successful run of two quick jobs (workers started and stopped)."""
    started = time.monotonic()
    run(jobs([1, 2], tmp_path / "startup"), tmp_path / "startup-out", executor)
    return time.monotonic() - started


def run(job_list, directory, executor=LOCAL, workers=2, initializer=set_offset, initargs=(5,)):
    return run_jobs(job_list, directory, record, workers=workers, initializer=initializer,
                    initargs=initargs, save=write_json, suffix=".json", desc="test",
                    executor=executor)


@pytest.mark.parametrize("workers", [1, 2])
def test_results_in_job_order_and_resume_skips_finished_jobs(tmp_path, workers):
    out, marks = tmp_path / "out", tmp_path / "marks"
    first = jobs([1, 2, 3, 4, 5, 13, 7, 8], marks)
    with pytest.raises(ArithmeticError, match="item 13 is unlucky"):
        run(first, out, workers=workers)
    done = {p.name for p in out.iterdir()}
    assert "n0013-k1.json" not in done and "n0001-k1.json" in done
    (out / "other-k0.json").write_text("{}")                       # another plan's result
    (out / "n0002-k1.json.tmp-77").write_text("partial")            # a partial write
    (out / "n0002-k1.txt").write_text("a further file of the job")  # kept with its job
    for mark in marks.iterdir():
        mark.unlink()

    again = jobs([1, 2, 3, 4, 5, 14, 7, 8], marks)
    paths = run(again, out, workers=workers)
    assert ran(marks) == sorted({1, 2, 3, 4, 5, 14, 7, 8} - {int(n[1:5]) for n in done})
    assert [json.loads(p.read_text())["value"] for p in paths] == [6, 7, 8, 9, 10, 19, 12, 13]
    assert sorted(p.name for p in out.iterdir()) == sorted(
        [p.name for p in paths] + ["n0002-k1.txt"])
    for mark in marks.iterdir():
        mark.unlink()
    run(jobs([1, 2, 3, 4, 5, 14, 7, 8], marks, key="k2"), out, workers=workers)  # other code
    assert ran(marks) == [1, 2, 3, 4, 5, 7, 8, 14]
    assert not any(p.name.endswith("-k1.json") for p in out.iterdir())


def test_a_shared_cache_keeps_other_jobs(tmp_path):
    marks, out = tmp_path / "marks", tmp_path / "out"
    run_jobs(jobs([1, 2], marks), out, record, workers=1, save=write_json, suffix=".json",
             keep_others=True)
    (out / "n0001-k1.json.tmp-5").write_text("partial")
    paths = run_jobs(jobs([2, 3], marks), out, record, workers=1, save=write_json,
                     suffix=".json", keep_others=True)
    assert ran(marks) == [1, 2, 3]                              # job 2 was not run again
    assert sorted(p.name for p in out.iterdir()) == ["n0001-k1.json", "n0002-k1.json",
                                                     "n0003-k1.json"]
    assert [p.name for p in paths] == ["n0002-k1.json", "n0003-k1.json"]


def test_costly_jobs_start_first(tmp_path):
    order = []
    work = [Job(f"j{n}", "k", n, cost=c) for n, c in enumerate([1, 5, 3, 5, 0])]
    run_jobs(work, tmp_path / "out", lambda n: order.append(n) or {"n": n}, workers=1,
             save=write_json, suffix=".json")
    assert order == [1, 3, 2, 0, 4]


@pytest.mark.parametrize("executor", [LOCAL, DASK], ids=["local", "dask"])
def test_both_executors_give_the_same_results(tmp_path, executor):
    marks = tmp_path / "marks"
    here = run_jobs(jobs(range(6), marks), tmp_path / "here", numbers_frame, workers=1)
    there = run_jobs(jobs(range(6), marks), tmp_path / "there", numbers_frame, workers=2,
                     executor=executor)
    assert pl.read_parquet(there).equals(pl.read_parquet(here))
    assert pl.read_parquet(here)["number"].to_list() == [n for n in range(6) for _ in range(3)]


@pytest.mark.parametrize("executor", [LOCAL, DASK], ids=["local", "dask"])
def test_an_initializer_that_raises_fails_the_stage_with_its_cause(tmp_path, executor, capsys):
    limit = startup(tmp_path, executor) + PROMPT
    capsys.readouterr()
    started = time.monotonic()
    with pytest.raises(ValueError, match="cannot start with offset 5") as raised:
        run(jobs(range(8), tmp_path / "marks"), tmp_path / "out", executor,
            initializer=failing_initializer)
    assert time.monotonic() - started < limit
    notes = "\n".join(raised.value.__notes__)
    assert ("raised by the initializer " in notes
            and "failing_initializer of worker process" in notes)
    assert "test: in job n00" in notes
    assert ran(tmp_path / "marks") == [] and list((tmp_path / "out").iterdir()) == []
    assert "test: job n00" in capsys.readouterr().err


def test_an_initializer_that_raises_here_names_it(tmp_path):
    with pytest.raises(ValueError, match="offset 5") as raised:
        run(jobs(range(3), tmp_path / "marks"), tmp_path / "out", workers=1,
            initializer=failing_initializer)
    assert any("failing_initializer" in note for note in raised.value.__notes__)


@pytest.mark.parametrize("executor", [LOCAL, DASK], ids=["local", "dask"])
def test_a_job_that_raises_names_the_job(tmp_path, executor, capsys):
    with pytest.raises(ArithmeticError, match="item 13 is unlucky") as raised:
        run(jobs([13], tmp_path / "marks"), tmp_path / "out", executor)
    assert raised.value.__notes__[-1] == "test: in job n0013"
    assert "test: job n0013 failed: ArithmeticError: item 13 is unlucky" in capsys.readouterr().err


@pytest.mark.parametrize("executor", [LOCAL, DASK], ids=["local", "dask"])
@pytest.mark.parametrize("number", [66, 99], ids=["os._exit", "SIGKILL"])
def test_a_worker_that_dies_fails_the_stage(tmp_path, executor, number):
    marks = tmp_path / "marks"
    limit = startup(tmp_path, executor) + PROMPT
    started = time.monotonic()
    with pytest.raises(WorkerDied, match=f"died while running .*n{number:04d}.*nothing is retried"):
        run(jobs([number, 1, 2, 3, 4, 5], marks), tmp_path / "out", executor)
    assert time.monotonic() - started < limit
    assert ran(marks).count(number) == 1                     # never run again


def test_a_failure_does_not_wait_for_the_other_workers(tmp_path):
    limit = startup(tmp_path, LOCAL) + PROMPT
    started = time.monotonic()
    with pytest.raises(ArithmeticError):
        run([Job("slow", "k", (1000, str(tmp_path))), Job("bad", "k", (13, str(tmp_path)))],
            tmp_path / "out")
    assert time.monotonic() - started < limit           # not the slow job's 120 s


def test_bad_job_lists_are_refused(tmp_path):
    with pytest.raises(ValueError, match="not unique"):
        run([Job("a", "k", (1, str(tmp_path))), Job("a", "k", (2, str(tmp_path)))],
            tmp_path / "out")
    with pytest.raises(ValueError, match="must start with"):
        run_jobs([], tmp_path, record, workers=1, suffix="json")
