"""Declared targets under attack: the closed expression language, the train cache's keys, targets
the engine cannot fit, and params that would publish nothing or crash a library.

A declared target's expression is untrusted text (params.yaml arrives through git and
``dvc exp run -S``). These cases check that no form of it reads a file, sends a request, hangs on
a FIFO or crashes polars, that two questions never share a cached pair, and that every refusal
is an error naming the field.
"""
from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import time
from http.server import BaseHTTPRequestHandler

import polars as pl
import pytest
import yaml
from threadpoolctl import threadpool_limits

from machinery.expression import ExpressionError, canonical, parse
from machinery.params import ParamsError, load_params, validate_params
from models.targets import TargetError, check_target_values, sql_target
from tests.conftest import PROJECT, local_server


def _params_with(tmp_path, expression: str, task: str = "regression", **search) -> dict:
    raw = yaml.safe_load((PROJECT / "params.yaml").read_text())
    raw["search"]["custom_targets"] = {"q": {"task": task, "expression": expression}}
    raw["search"]["targets"] = ["rank", "q"]
    raw["search"].update(search)
    return raw


# --- nothing read, nothing fetched, nothing evaluated --------------------------------------------

class _Recorder(BaseHTTPRequestHandler):
    hits: list[str] = []

    def do_GET(self):  # noqa: N802 (the handler's name is http.server's)
        _Recorder.hits.append(f"GET {self.path}")
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"served-content\n1\n")

    def do_HEAD(self):  # noqa: N802
        _Recorder.hits.append(f"HEAD {self.path}")
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass


def _hostile(marker: str, url: str) -> list[str]:
    """Every form in which polars SQL would read a file or a URL, with the marker file's path."""
    return [
        f"rank + (SELECT nope FROM read_csv('{marker}'))",
        f"read_csv('{marker}')",
        f"read_parquet('{marker}')",
        f"read_json('{marker}')",
        f"read_ndjson('{marker}')",
        f"read_ipc('{marker}')",
        f"rank IN (SELECT * FROM read_csv('{marker}'))",
        f"(SELECT 1 FROM '{marker}')",
        f"rank + (SELECT count(*) FROM read_csv('{url}/secret.csv'))",
        f"read_csv('{url}/secret.csv')",
        f"read_parquet('{url}/secret.parquet')",
        "rank + (WITH t AS (SELECT 1) SELECT * FROM t)",
        "CAST(rank AS DOUBLE)",
        "rank::DOUBLE",
        "rank; DROP TABLE curves",
        "rank -- comment",
        "rank /* comment */",
    ]


def test_no_declared_expression_reads_a_file_or_sends_a_request(tmp_path):
    marker = tmp_path / "marker.csv"
    marker.write_text("first line of a private file\n")
    _Recorder.hits = []
    with local_server(_Recorder) as url:
        for expression in _hostile(str(marker), url):
            started = time.perf_counter()
            with pytest.raises(ParamsError) as refused:
                validate_params(_params_with(tmp_path, expression), "params.yaml")
            assert time.perf_counter() - started < 1, expression
            message = str(refused.value)
            assert "search.custom_targets.q.expression" in message, message
            assert "first line" not in message and "served-content" not in message
    assert _Recorder.hits == []                              # no HEAD, no GET
    assert not list(tmp_path.glob("*.tmp*"))


def test_a_fifo_in_an_expression_never_opens(tmp_path):
    """A FIFO hangs whoever opens it for reading; the expression is refused without opening it
    (a writer's non-blocking open fails with ENXIO exactly when no reader has it open). The
    check runs in a child process, so a regression hangs that child, not the test run."""
    fifo = tmp_path / "pipe.csv"
    os.mkfifo(fifo)
    raw = _params_with(tmp_path, f"rank + (SELECT * FROM read_csv('{fifo}'))")
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(raw))
    code = ("import time; import models.targets\n"
            "from machinery.params import load_params, ParamsError\n"
            "started = time.perf_counter()\n"
            "try:\n    load_params('params.yaml')\nexcept ParamsError as err:\n"
            "    print(round(time.perf_counter() - started, 3), err)\n")
    child = subprocess.Popen([sys.executable, "-c", code], cwd=tmp_path, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True,
                             env={**os.environ, "PYTHONPATH": str(PROJECT)})
    try:
        out, err = child.communicate(timeout=30)
    finally:
        child.kill()
    seconds, _, message = out.partition(" ")
    assert child.returncode == 0 and float(seconds) < 1, (out, err)
    assert "search.custom_targets.q.expression" in message and "SELECT" in message
    with pytest.raises(OSError) as nobody:
        os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
    assert nobody.value.errno == 6                           # ENXIO: no reader ever opened it
    assert stat.S_ISFIFO(fifo.stat().st_mode)


def test_a_ten_thousand_term_sum_is_refused_in_a_second(tmp_path):
    """polars' SQL parser recursed into a segfault on this; the language refuses it by length
    before any tree is built (in a child process, so a crash fails the test, not the run)."""
    expression = " + ".join(["rank"] * 10_000)
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(_params_with(tmp_path, expression)))
    code = ("import time; import models.targets\n"      # its libraries' import is not the check
            "from machinery.params import load_params, ParamsError\n"
            "started = time.perf_counter()\n"
            "try:\n    load_params('params.yaml')\nexcept ParamsError as err:\n"
            "    print(round(time.perf_counter() - started, 3), err)\n")
    child = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True,
                           text=True, timeout=60, env={**os.environ, "PYTHONPATH": str(PROJECT)})
    assert child.returncode == 0, child.stderr[-2000:]
    seconds, _, message = child.stdout.partition(" ")
    assert float(seconds) < 1 and "too long for a declared target" in message, child.stdout


@pytest.mark.parametrize("expression, message", [
    ("(" * 60 + "rank" + ")" * 60, "nested more than"),
    ("+".join(f"ap_{p}" for p in (2, 3, 5, 7) * 60), "more than 400 terms"),
    ("rank IN (" + ",".join(map(str, range(450))) + ")", "more than 400 terms"),
    ("99999999999999999999 * rank", "beyond 64 bits"),
    ("ln(rank, 2)", "takes 1 argument"),
    ("system('touch x')", "unknown function 'system'"),
    ("rank IN (1, 'a')", "mixes numbers and text"),
    ("rank @ 2", "'@' at column 6"),
])
def test_the_language_refuses_with_its_reason(expression, message):
    started = time.perf_counter()
    with pytest.raises(ExpressionError, match=message):
        parse(expression)
    assert time.perf_counter() - started < 1


# --- the cache key is the question's meaning -----------------------------------------------------

#: Pairs of expressions that differ in one literal only: inside IN, inside CASE, as an argument.
LITERAL_CHANGES = [
    ("CASE WHEN rank IN (1, 3) THEN 1 ELSE 0 END", "CASE WHEN rank IN (2, 3) THEN 1 ELSE 0 END"),
    ("CASE WHEN rank > 0 THEN 1 ELSE 0 END", "CASE WHEN rank > 1 THEN 1 ELSE 0 END"),
    ("CASE WHEN torsion = 2 THEN 'even' ELSE 'odd' END",
     "CASE WHEN torsion = 2 THEN 'even' ELSE 'odder' END"),
    ("round(real_period, 2)", "round(real_period, 3)"),
    ("power(real_period, 2)", "power(real_period, 3)"),
    ("rank NOT IN (0)", "rank NOT IN (1)"),
    ("real_period * 0.1", "real_period * 0.10000000000000002"),
]


@pytest.mark.parametrize("first, second", LITERAL_CHANGES)
def test_a_changed_literal_is_another_question(first, second):
    assert canonical(parse(first)) != canonical(parse(second))


def test_equal_texts_up_to_spelling_are_one_question():
    assert canonical(parse("CASE WHEN rank in (1,3) THEN 1 ELSE 0 END")) == \
        canonical(parse("case when (rank) IN (1, 3) then 1 else 0 end"))


def _pair_key(expression: str, task: str = "classification") -> str:
    from models.search import Pair
    from pipeline.train import pair_key
    params = load_params(PROJECT / "params.yaml")
    target = sql_target("q", task, expression, [], "permutation", "")
    return pair_key(Pair(target, "ap", ["ap_2"], []), "data", params)


@pytest.mark.parametrize("first, second", LITERAL_CHANGES)
def test_a_changed_literal_changes_the_pair_key(first, second):
    task = "regression" if "real_period" in first else "classification"
    assert _pair_key(first, task) != _pair_key(second, task)
    assert _pair_key(first, task) == _pair_key(first, task)


def test_the_built_in_targets_keys_read_their_literals():
    """Built-in targets are keyed by polars' serialization, which keeps an is_in list."""
    from models.targets import Target
    one = Target("t", "classification", pl.col("rank").is_in([1, 3]).cast(pl.Int64), (), ())
    two = Target("t", "classification", pl.col("rank").is_in([2, 3]).cast(pl.Int64), (), ())
    assert one.definition != two.definition


def test_train_recomputes_a_pair_whose_literal_changed(tmp_path, monkeypatch, model_tables):
    """End to end: the train cache kept ``IN (1, 3)``'s pair; ``IN (2, 3)`` is computed anew and
    scores what a cold run of it scores."""
    with threadpool_limits(limits=None):
        _recomputed(tmp_path, monkeypatch, model_tables)


def _recomputed(tmp_path, monkeypatch, model_tables):
    from models.features import resolve_groups
    from pipeline import train
    computed, evaluate = [], train.evaluate

    def counting(frame, target, group, *args, **kwargs):
        computed.append(target.definition)
        return evaluate(frame, target, group, *args, **kwargs)

    monkeypatch.setattr(train, "evaluate", counting)
    base = yaml.safe_load((PROJECT / "params.yaml").read_text())
    groups = resolve_groups(model_tables["features"].columns)

    def run(directory, expression):
        raw = {**base, "search": {**base["search"], "targets": ["q"], "groups": {"ap": ["ap"]},
                                  "null_datasets": 3, "bootstrap": 50, "folds": 3,
                                  "workers": 1, "threads": 1,
                                  "custom_targets": {"q": {"task": "classification",
                                                           "expression": expression}}}}
        (directory / "data").mkdir(parents=True, exist_ok=True)
        (directory / "params.yaml").write_text(yaml.safe_dump(raw))
        monkeypatch.chdir(directory)
        model_tables["features"].write_parquet(directory / "data" / "features.parquet")
        model_tables["bsd"].write_parquet(directory / "data" / "bsd.parquet")
        (directory / "data" / "feature_groups.json").write_text(json.dumps(groups))
        train.main()
        return pl.read_parquet(directory / "data" / "evaluations.parquet").drop("seconds")

    first = "CASE WHEN rank IN (1, 3) THEN 1 ELSE 0 END"
    second = "CASE WHEN rank IN (2, 3) THEN 1 ELSE 0 END"
    run(tmp_path / "experiment", first)
    changed = run(tmp_path / "experiment", second)
    assert len(computed) == 2 and computed[0] != computed[1]
    cold = run(tmp_path / "cold", second)
    assert changed.equals(cold)


# --- targets the engine cannot fit ---------------------------------------------------------------

@pytest.mark.parametrize("expression, task, message", [
    ("real_period * 1e40", "regression", r"\.expression: values up to .*beyond float32"),
    ("real_period", "classification", r"\.task: classification, but .*non-integer value"),
    ("conductor % 1000", "classification", r"\.task: classification into \d+ classes, more "
                                           r"than search\.max_classes \(50\)"),
    ("ln(real_period) / 0", "classification", r"\.task: classification, but .*non-integer"),
])
def test_a_target_the_engine_cannot_fit_is_refused(model_tables, expression, task, message):
    target = sql_target("q", task, expression, [], "permutation", "")
    started = time.perf_counter()
    with pytest.raises(TargetError, match=r"search\.custom_targets\.q" + message):
        check_target_values(target, model_tables["frame"])
    assert time.perf_counter() - started < 5


def test_integral_floats_make_a_classification(model_tables):
    target = sql_target("q", "classification", "floor(real_period)", [], "permutation", "")
    check_target_values(target, model_tables["frame"])


# --- params that would publish nothing, or crash a library ---------------------------------------

@pytest.mark.parametrize("section, field, value, message", [
    ("search", "groups", {"empty": []}, r"search\.groups\.empty: names no feature group"),
    ("search", "seed", -1, r"search\.seed: Input should be greater than or equal to 0"),
    ("topology", "seed", -1, r"topology\.seed: Input should be greater than or equal to 0"),
    ("nulls", "seed", 2**32, r"nulls\.seed: Input should be less than or equal to 4294967295"),
    ("features", "topology_seed", -5, r"features\.topology_seed: Input should be greater"),
    ("search.gbm", "num_leaves", 200_000, r"search\.gbm\.num_leaves: Input should be less than "
                                          r"or equal to 131072"),
    ("search", "max_classes", 1, r"search\.max_classes: Input should be greater"),
])
def test_params_that_would_crash_later_are_refused_naming_the_field(section, field, value,
                                                                     message):
    raw = yaml.safe_load((PROJECT / "params.yaml").read_text())
    node = raw
    for part in section.split("."):
        node = node[part]
    node[field] = value
    with pytest.raises(ParamsError, match=message):
        validate_params(raw, "params.yaml")


def test_a_search_without_pairs_leaves_the_outputs_as_they_were(tmp_path, monkeypatch,
                                                                 model_tables):
    """Every column of the one search group is excluded by the one target: train stops naming
    the params, and the last run's evaluations and models stay."""
    from models.features import resolve_groups
    from pipeline import train
    raw = yaml.safe_load((PROJECT / "params.yaml").read_text())
    raw["search"].update(targets=["q"], groups={"parity": ["parity"]}, workers=1, threads=1,
                         custom_targets={"q": {"task": "regression", "expression": "rank * 2",
                                               "excluded": ["parity"]}})
    (tmp_path / "data" / "gbm_models").mkdir(parents=True)
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(raw))
    monkeypatch.chdir(tmp_path)
    model_tables["features"].write_parquet("data/features.parquet")
    model_tables["bsd"].write_parquet("data/bsd.parquet")
    groups = resolve_groups(model_tables["features"].columns)
    (tmp_path / "data" / "feature_groups.json").write_text(json.dumps(groups))
    old = pl.DataFrame({"target": ["rank"], "group": ["ap"]})
    old.write_parquet("data/evaluations.parquet")
    (tmp_path / "data" / "gbm_models" / "rank__ap.txt").write_text("model")
    with pytest.raises(ParamsError, match=r"search\.targets \(q\) and search\.groups \(parity\) "
                                          r"make no pair"):
        train.main()
    assert pl.read_parquet("data/evaluations.parquet").equals(old)
    assert (tmp_path / "data" / "gbm_models" / "rank__ap.txt").read_text() == "model"
