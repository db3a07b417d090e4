"""The dask executor: the PARI chunks of the bsd and features stages as dask.distributed tasks
on a LocalCluster on 127.0.0.1 give the local executor's tables bit for bit (and resume)."""
from __future__ import annotations

from functools import partial

import polars as pl
import pytest

from machinery.chunks import plan_chunks, run_chunks
from machinery.params import Executor, load_params
from pipeline.bsd import compute_bsd
from pipeline.feature_table import compute_features
from sources.elldata import read_curves
from tests.conftest import PROJECT

DASK = Executor(kind="dask", address=None)


@pytest.fixture(scope="module")
def small():
    params = load_params(PROJECT / "params.yaml")
    bsd = params.bsd.model_copy(update={"chunk_size": 100, "workers": 2})
    features = params.features.model_copy(update={"chunk_size": 100, "workers": 2})
    return read_curves(1, 400), bsd, features


def test_dask_equals_local_bit_for_bit(tmp_path, small):
    curves, bsd_section, features_section = small
    local = compute_bsd(curves, bsd_section, tmp_path / "local").collect()
    remote = compute_bsd(curves, bsd_section, tmp_path / "dask", DASK).collect()
    assert remote.equals(local) and len(local) == len(curves)
    local_features = compute_features(curves, local, features_section, tmp_path / "fl")
    dask_features = compute_features(curves, remote, features_section, tmp_path / "fd", DASK)
    assert dask_features.equals(local_features)


def no_setup() -> None:
    pass


def lengths(rows: pl.DataFrame, fail_on: str | None) -> pl.DataFrame:
    if fail_on is not None and fail_on in rows["label"].to_list():
        raise RuntimeError(f"chunk with {fail_on} failed")
    return rows.with_columns(length=pl.col("label").str.len_chars())


def test_a_failed_dask_run_resumes_with_the_chunks_it_wrote(tmp_path):
    frame = pl.DataFrame({"label": [f"c{i}" for i in range(40)],
                          "group": [f"g{i // 2}" for i in range(40)]})
    chunks = plan_chunks(frame, "group", 10, salt="s")
    with pytest.raises(RuntimeError, match="chunk with c35 failed"):
        run_chunks(frame, chunks, tmp_path, partial(lengths, fail_on="c35"), workers=2,
                   initializer=no_setup, executor=DASK)
    written = {p.name for p in tmp_path.iterdir()}
    assert chunks[3].filename not in written
    paths = run_chunks(frame, chunks, tmp_path, partial(lengths, fail_on=None), workers=2,
                       initializer=no_setup, executor=DASK)
    assert pl.read_parquet(paths).equals(lengths(frame, None))


def test_a_stage_run_as_a_module_runs_on_dask(pipeline_project, tmp_path):
    """``python -m pipeline.features`` with ``executor.kind: dask``: its chunk function is
    defined in ``__main__``, which the dask workers' spawned children do not share; the
    table equals the local executor's."""
    import shutil

    import yaml

    from tests.conftest import run
    repo = pipeline_project[0]
    copy = tmp_path / "copy"
    shutil.copytree(repo, copy, ignore=shutil.ignore_patterns(".dvc", ".git", "reports"))
    params = yaml.safe_load((copy / "params.yaml").read_text())
    params["executor"]["kind"] = "dask"
    (copy / "params.yaml").write_text(yaml.safe_dump(params))
    (copy / "data/features.parquet").unlink()
    run(["python", "-m", "pipeline.features"], copy)
    assert pl.read_parquet(copy / "data/features.parquet").equals(
        pl.read_parquet(repo / "data/features.parquet"))
