"""params.yaml is validated at load; errors name the field."""
from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml

from machinery.params import ParamsError, load_params, parse_yaml, validate_params

PROJECT_PARAMS = Path(__file__).resolve().parents[1] / "params.yaml"


def write_params(tmp_path, **changes) -> Path:
    params = yaml.safe_load(PROJECT_PARAMS.read_text())
    for dotted, value in changes.items():
        section, key = dotted.split("__")
        params[section][key] = value
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(params))
    return path


def test_project_params_load():
    params = load_params(PROJECT_PARAMS)
    assert params.ingest.conductor_max == 10_000 and params.bsd.workers >= 1


@pytest.mark.parametrize("changes, message", [
    ({"bsd__workers": 0}, r"bsd\.workers: Input should be greater than or equal to 1"),
    ({"bsd__workers": "two"}, r"bsd\.workers: Input should be a valid integer"),
    ({"bsd__realprecision": 5}, r"bsd\.realprecision"),
    ({"bsd__sha_tolerance": 0.7}, r"bsd\.sha_tolerance"),
    ({"bsd__extra": 1}, r"bsd\.extra: Extra inputs are not permitted"),
    ({"ingest__source": "sage"},
     r"ingest\.source: Input should be 'elldata', 'cremona', 'lmfdb' or 'lmfdb_db'"),
    ({"ingest__fetch": {"timeout": 0, "retries": 1, "backoff": 1, "backoff_max": 1, "rate": 1}},
     r"ingest\.fetch\.timeout: Input should be greater than 0"),
    ({"ingest__base_url": {"cremona": "x"}}, r"ingest\.base_url\.lmfdb: Field required"),
    ({"ingest__conductor_min": 10_000},
     r"ingest: conductor_max \(10000\) must exceed conductor_min \(10000\)"),
    ({"ingest__conductor_max": 600_000},
     r"beyond the embedded Cremona tables .* served by Cremona's ecdata files or the LMFDB"),
    ({"features__mestre_nagao_bounds": [10, 1000]},
     r"features\.mestre_nagao_bounds: 1000 is not within 3..primes_max \(100\)"),
    ({"features__groups": {"ap": ["ap_\\d+"]}},         # declared in arithmetic/feature_groups.py
     r"features\.groups: Extra inputs are not permitted"),
    ({"features__primes_max": 1}, r"features\.primes_max"),
    ({"nulls__delaunay_matrix_size": 11}, r"nulls: delaunay_matrix_size must be even"),
    ({"nulls__delaunay_primes": [2, 9]}, r"nulls\.delaunay_primes: 9 is not a prime"),
    ({"search__groups": {"all": ["ap", "nope"]}},
     r"search\.groups\.all: \['nope'\] are not feature groups"),
    ({"search__held_out_prime": 101},
     r"search\.held_out_prime: 101 must be a prime <= features\.primes_max"),
    ({"search__targets": ["rank", "sha"]}, r"targets: \[.sha.\] are neither built-in targets"),
    ({"search__sample_classes": 10},
     r"search\.sample_classes: Input should be greater than or equal to 100"),
])
def test_bad_params_name_the_field(tmp_path, changes, message):
    with pytest.raises(ParamsError, match=message):
        load_params(write_params(tmp_path, **changes))


def test_missing_and_malformed_files(tmp_path):
    with pytest.raises(ParamsError, match="not found"):
        load_params(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("ingest: [unclosed")
    with pytest.raises(ParamsError, match="not valid YAML"):
        load_params(bad)
    bad.write_text("- a list")
    with pytest.raises(ParamsError, match="expected a mapping"):
        load_params(bad)


def test_workers_times_threads_must_fit_the_cores():
    from machinery.params import check_cores
    cores = len(os.sched_getaffinity(0))
    check_cores(cores, 1, "search")
    check_cores(1, cores, "search")
    with pytest.raises(ParamsError, match=rf"search\.workers x search\.threads = {cores} x 2 "
                                          rf"exceeds the {cores} cores"):
        check_cores(cores, 2, "search")


@pytest.mark.parametrize("changes, message", [
    ({"ingest__workers": True}, r"ingest\.workers: Input should be a valid integer"),
    ({"bsd__workers": "2"}, r"bsd\.workers: Input should be a valid integer"),
    ({"ingest__verify_checksums": "no"},
     r"ingest\.verify_checksums: Input should be a valid boolean"),
    ({"ingest__verify_checksums": 0}, r"ingest\.verify_checksums: Input should be a valid boolean"),
    ({"features__topology_seed": 5.0}, r"features\.topology_seed: Input should be a valid integer"),
    ({"search__targets": ["rank", "rank_parity", "rank"]},
     r"search\.targets: \['rank'\] given more than once"),
    ({"search__targets": ["rank"], "search__held_out_prime": 98},
     r"search\.held_out_prime: 98 must be a prime"),
    ({"topology__conductor_windows": [["1", 300]]}, r"topology\.conductor_windows\.0\.0"),
    ({"features__mestre_nagao_bounds": [10, 10]},
     r"mestre_nagao_bounds: \[10\] given more than once"),
])
def test_strict_schema_coerces_nothing(tmp_path, changes, message):
    with pytest.raises(ParamsError, match=message):
        load_params(write_params(tmp_path, **changes))


def test_paths_and_pairs_read_from_yaml(tmp_path):
    params = load_params(PROJECT_PARAMS)
    assert isinstance(params.paths.curves, Path)
    assert all(isinstance(w, tuple) for w in params.topology.conductor_windows)
    with pytest.raises(ParamsError, match=r"paths\.curves"):
        load_params(write_params(tmp_path, paths__curves=5))


@pytest.mark.parametrize("uri, shown, reason", [
    ("postgresql://lmfdb:hunter2@[::1/lmfdb", "postgresql://lmfdb@[::1/lmfdb",
     'looking for matching "]" in IPv6 host address in URI: "…"'),
    ("postgresql://lmfdb:hunter2@h/lmfdb?colour=blue", "postgresql://lmfdb@h/lmfdb?colour=blue",
     'invalid URI query parameter: "colour"'),
    ("postgresql://lmfdb:hunter2%zz@h/lmfdb", "postgresql://lmfdb@h/lmfdb",
     'invalid percent-encoded token: "…"'),
    ("host=h password=hunter2 dbname", "host=h ...", 'missing "=" after "…"'),
])
def test_a_malformed_postgres_uri_is_refused_at_load_without_its_password(tmp_path, uri, shown,
                                                                          reason):
    urls = {**yaml.safe_load(PROJECT_PARAMS.read_text())["ingest"]["base_url"], "lmfdb_db": uri}
    with pytest.raises(ParamsError) as err:
        load_params(write_params(tmp_path, ingest__base_url=urls))
    message = str(err.value)
    assert f"ingest.base_url.lmfdb_db: {shown}: not a PostgreSQL URI" in message
    assert reason in message and "hunter2" not in message


@pytest.mark.parametrize("edit, message", [
    (lambda t: t.replace("bsd:\n  workers: 2", "bsd:\n  workers: 2\n  workers: 64"),
     r"key 'workers' given twice \(line \d+ and line \d+\)"),
    (lambda t: t.replace("fetch: {timeout: 30,", "fetch: {timeout: 30, timeout: 3,"),
     r"key 'timeout' given twice"),
    (lambda t: t + "\nbsd:\n  workers: 1\n", r"key 'bsd' given twice"),
])
def test_a_key_given_twice_is_refused_with_its_line(tmp_path, edit, message):
    text = PROJECT_PARAMS.read_text()
    edited = edit(text)
    assert edited != text
    path = tmp_path / "params.yaml"
    path.write_text(edited)
    with pytest.raises(ParamsError, match=message):
        load_params(path)


@pytest.mark.parametrize("spec, message", [
    ({"task": "regression", "expression": "log(sha_an)"},
     r"custom_targets\.q\.expression: 'log\(sha_an\)' does not parse.*ln\(x\) is the natural"),
    ({"task": "regression", "expression": "ln(sha_an) + ln(real_perod)"},
     r"custom_targets\.q\.expression: no column 'real_perod'"),
    ({"task": "regression", "expression": "2 + 3"},
     r"custom_targets\.q\.expression: .* reads no column"),
    ({"task": "regresion", "expression": "rank"}, r"custom_targets\.q\.task"),
])
def test_a_declared_target_is_checked_at_load(spec, message):
    raw = yaml.safe_load(PROJECT_PARAMS.read_text())
    raw["search"]["custom_targets"] = {"q": spec}
    raw["search"]["targets"] = ["rank", "q"]
    with pytest.raises(ParamsError, match=message):
        validate_params(raw, "params.yaml")


def test_a_declared_target_reads_as_the_readme_writes_it(tmp_path):
    # YAML 1.1 reads a plain key `null` as None, `on` as True: a key is always a name here
    declared = ("  custom_targets:\n"
                "    q:\n"
                "      task: regression\n"
                "      expression: 'ln(sha_an) + ln(real_period)'\n"
                "      excluded: [bsd]\n"
                "      null: sato_tate\n")
    text = PROJECT_PARAMS.read_text().replace("  custom_targets: {}", declared.rstrip("\n"), 1)
    text = text.replace("held_out_ap]", "held_out_ap, q]", 1)
    assert "      null: sato_tate" in text
    path = tmp_path / "params.yaml"
    path.write_text(text)
    assert load_params(path).search.custom_targets["q"].null == "sato_tate"


def test_yaml_keys_are_names_and_merge_keys_merge():
    assert parse_yaml("a: &b {null: 1, on: 2}\nc:\n  <<: *b\n  x: 3\n") == \
        {"a": {"null": 1, "on": 2}, "c": {"null": 1, "on": 2, "x": 3}}


def test_a_declared_target_may_not_take_a_built_in_name():
    raw = yaml.safe_load(PROJECT_PARAMS.read_text())
    raw["search"]["custom_targets"] = {"rank": {"task": "regression", "expression": "ln(sha_an)"}}
    with pytest.raises(ParamsError, match=r"custom_targets\.rank: the name of a built-in target"):
        validate_params(raw, "params.yaml")


@pytest.mark.parametrize("expression, message", [
    ("rank * 0", r"the constant 0.0 on every curve"),
    ("CASE WHEN rank > 9 THEN 1 END", r"null \(or not finite\) on every curve"),
    ("label + 1", r"custom_targets\.q\.expression: .*columns label"),
])
def test_a_declared_target_is_checked_on_the_curves(model_tables, expression, message):
    from models.targets import TargetError, check_target_values, sql_target
    target = sql_target("q", "regression", expression, [], "permutation", "")
    with pytest.raises(TargetError, match=message):
        check_target_values(target, model_tables["frame"])


@pytest.mark.parametrize("excluded, targets, message", [
    (["log_sha_ann"], ["rank", "q"],
     r"search\.custom_targets\.q\.excluded: 'log_sha_ann' is neither a feature group"),
    (["bsd", "ap_61"], ["rank"],
     r"search\.custom_targets\.q: declared but not searched; name it in search\.targets"),
])
def test_a_declared_target_is_checked_whole(excluded, targets, message):
    """A misspelt excluded name would leave the target's own column among the features; a
    declared target no search names would silently not run."""
    raw = yaml.safe_load(PROJECT_PARAMS.read_text())
    raw["search"]["custom_targets"] = {"q": {"task": "regression", "expression": "ln(sha_an)",
                                             "excluded": excluded}}
    raw["search"]["targets"] = targets
    with pytest.raises(ParamsError, match=message):
        validate_params(raw, "params.yaml")
    raw["search"]["custom_targets"]["q"]["excluded"] = ["bsd", "ap_61"]
    raw["search"]["targets"] = ["rank", "q"]
    validate_params(raw, "params.yaml")
