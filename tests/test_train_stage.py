"""The train stage resumes and is incremental: every (target, group) pair is kept under its key,
so a killed run, an added target or a param no pair reads costs only the pairs still missing."""
from __future__ import annotations

import json

import polars as pl
import yaml
from threadpoolctl import threadpool_info, threadpool_limits

from machinery.params import load_params
from tests.conftest import PROJECT


def test_train_resumes_pair_by_pair(tmp_path, monkeypatch, model_tables):
    with threadpool_limits(limits=None):  # the stage caps this process's pools: undo that after
        _train_resumes_pair_by_pair(tmp_path, monkeypatch, model_tables)


def _train_resumes_pair_by_pair(tmp_path, monkeypatch, model_tables):
    from models.features import resolve_groups
    from pipeline import train
    params = yaml.safe_load((PROJECT / "params.yaml").read_text())
    params["search"].update(targets=["rank_parity", "log_sha_an"], groups={"bsd": ["bsd"]},
                            null_datasets=3, bootstrap=50, folds=3, workers=1, threads=1)
    pools, evaluate = [], train.evaluate

    def probed(*args, **kwargs):  # the BLAS and OpenMP pools a pair is computed with
        pools.extend(pool["num_threads"] for pool in threadpool_info())
        return evaluate(*args, **kwargs)

    monkeypatch.setattr(train, "evaluate", probed)
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    monkeypatch.chdir(tmp_path)
    loaded = load_params()
    (tmp_path / "data").mkdir()
    model_tables["features"].write_parquet(loaded.paths.features)
    model_tables["bsd"].write_parquet(loaded.paths.bsd)
    groups = resolve_groups(model_tables["features"].columns)
    loaded.paths.feature_groups.write_text(json.dumps(groups))

    work, first = train.run_all(loaded)
    assert [(p.target.name, p.group) for p in work] == [("rank_parity", "bsd"),
                                                        ("log_sha_an", "bsd")]
    assert [p.name.split("-")[0] for p in first] == ["rank_parity__bsd", "log_sha_an__bsd"]
    assert pools and set(pools) == {1}, pools  # search.threads, not every core
    kept = first[1].stat().st_mtime_ns
    first[0].unlink()
    _, again = train.run_all(loaded)
    assert again == first and first[1].stat().st_mtime_ns == kept

    train.main()
    evaluations = pl.read_parquet(loaded.paths.evaluations)
    assert evaluations["target"].to_list() == ["rank_parity", "log_sha_an"]
    resolved = pl.read_parquet(loaded.paths.pairs)
    assert resolved.select("target", "group").rows() == [("rank_parity", "bsd"),
                                                         ("log_sha_an", "bsd")]
    assert resolved["columns"].to_list() == [p.columns for p in work]
    assert "BSD formula" in resolved.row(1, named=True)["laws"]
    # the classes of a classification, in the order of the exported model's outputs
    assert evaluations["classes"].to_list() == [[0, 1], None]
    assert sorted(p.name for p in loaded.paths.gbm_models.iterdir()) == \
        ["log_sha_an__bsd.txt", "rank_parity__bsd.txt"]
    importances = pl.read_parquet(loaded.paths.importances)
    assert set(importances["feature"]) <= set(groups["bsd"]) and len(importances) > 0


def _computed(monkeypatch) -> list[str]:
    """The pairs whose statistics are computed from now on (not taken from the cache)."""
    from pipeline import train
    computed, evaluate = [], train.evaluate

    def counting(frame, target, group, *args, **kwargs):
        computed.append(f"{target.name} ~ {group}")
        return evaluate(frame, target, group, *args, **kwargs)

    monkeypatch.setattr(train, "evaluate", counting)
    return computed


def _evaluations(directory) -> pl.DataFrame:
    return pl.read_parquet(directory / "data" / "evaluations.parquet").drop("seconds")


def test_an_experiment_computes_only_the_pairs_it_changes(tmp_path, monkeypatch, model_tables):
    """Adding a target computes that target's pairs only; changing a param no pair reads
    computes none; the evaluations equal a cold run's (timings aside)."""
    from models.features import resolve_groups
    from pipeline import train
    base = yaml.safe_load((PROJECT / "params.yaml").read_text())
    base["search"].update(targets=["rank_parity"], groups={"bsd": ["bsd"], "parity": ["parity"]},
                          null_datasets=3, bootstrap=50, folds=3, workers=1, threads=1)
    groups = resolve_groups(model_tables["features"].columns)

    def project(name: str, **search) -> None:
        directory = tmp_path / name
        (directory / "data").mkdir(parents=True, exist_ok=True)
        params = {**base, "search": {**base["search"], **search}}
        (directory / "params.yaml").write_text(yaml.safe_dump(params))
        monkeypatch.chdir(directory)
        if not (directory / "data" / "features.parquet").exists():
            model_tables["features"].write_parquet(directory / "data" / "features.parquet")
            model_tables["bsd"].write_parquet(directory / "data" / "bsd.parquet")
            (directory / "data" / "feature_groups.json").write_text(json.dumps(groups))
        train.main()

    computed = _computed(monkeypatch)
    project("experiment")
    assert computed == ["rank_parity ~ bsd", "rank_parity ~ parity"]
    computed.clear()
    project("experiment", targets=["rank_parity", "log_sha_an"])
    assert computed == ["log_sha_an ~ bsd", "log_sha_an ~ parity"]
    computed.clear()
    project("experiment", targets=["rank_parity", "log_sha_an"], workers=2,
            groups={"parity": ["parity"], "bsd": ["bsd"]})
    assert computed == []         # how many processes, and the groups' order: no pair reads them
    project("cold", targets=["rank_parity", "log_sha_an"])
    assert _evaluations(tmp_path / "experiment").sort("target", "group").equals(
        _evaluations(tmp_path / "cold").sort("target", "group"))


def test_a_queued_experiment_reuses_the_workspace_pairs(tmp_path, monkeypatch, model_tables):
    """``dvc exp run --queue`` runs in a fresh checkout without the train cache and sets
    DVC_ROOT to the workspace it came from: the pairs computed there are copied, not
    recomputed, and the workspace's cache is left as it was."""
    from models.features import resolve_groups
    from pipeline import train
    base = yaml.safe_load((PROJECT / "params.yaml").read_text())
    base["search"].update(targets=["rank_parity"], groups={"parity": ["parity"]},
                          null_datasets=3, bootstrap=50, folds=3, workers=1, threads=1)
    groups = resolve_groups(model_tables["features"].columns)

    def project(directory, **search) -> None:
        (directory / "data").mkdir(parents=True, exist_ok=True)
        (directory / "params.yaml").write_text(
            yaml.safe_dump({**base, "search": {**base["search"], **search}}))
        monkeypatch.chdir(directory)
        model_tables["features"].write_parquet(directory / "data" / "features.parquet")
        model_tables["bsd"].write_parquet(directory / "data" / "bsd.parquet")
        (directory / "data" / "feature_groups.json").write_text(json.dumps(groups))
        train.main()

    workspace = tmp_path / "workspace"
    project(workspace)
    kept = sorted(p.name for p in (workspace / "data" / "train.cache").iterdir())
    computed = _computed(monkeypatch)
    monkeypatch.setenv("DVC_ROOT", str(workspace))
    queued = tmp_path / "workspace" / ".dvc" / "tmp" / "exps" / "tmp1"
    project(queued, targets=["rank_parity", "log_sha_an"])
    assert computed == ["log_sha_an ~ parity"]                  # rank_parity's pair was copied
    assert sorted(p.name for p in (workspace / "data" / "train.cache").iterdir()) == kept
    assert _evaluations(queued).filter(pl.col("target") == "rank_parity").equals(
        _evaluations(workspace))
