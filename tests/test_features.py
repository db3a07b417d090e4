"""Features: a_p-derived sums, conductor and BSD logs, named groups; the stage's table."""
from __future__ import annotations

import json
import math

import numpy as np
import polars as pl
import pytest

from arithmetic.feature_groups import FEATURE_GROUPS
from machinery.params import load_params
from models.features import (KEY_COLUMNS, model_frame, resolve_groups, trace_features)
from tests.conftest import PROJECT


def test_mestre_nagao_sums_by_hand():
    primes, bounds = [2, 3, 5, 7], [5, 7]
    ap = np.array([[-2, -1, 1, -2],          # 11a: good everywhere below 11
                   [1, 0, -1, 3]])           # a conductor 3 curve, say: 3 is bad
    conductor = np.array([11, 3])
    table = trace_features(ap, conductor, primes, bounds)
    good = [(2, -2), (3, -1), (5, 1)]
    assert table["mn_s0_5"][0] == pytest.approx(
        sum(a * math.log(p) / p for p, a in good) / math.log(5))
    assert table["mn_s2_5"][0] == pytest.approx(sum(a * math.log(p) for p, a in good) / 5)
    assert table["mn_s1_5"][0] == pytest.approx(
        sum((1 - (p - 1) / (p + 1 - a)) * math.log(p) for p, a in good))
    assert table["mn_s3_7"][0] == pytest.approx(
        sum(1 - (p + 1 - a) / p for p, a in good + [(7, -2)]))
    assert table["mn_s4_5"][0] == pytest.approx(
        sum(math.log((p + 1 - a) / p) for p, a in good) / math.log(math.log(5)))
    # p = 3 bad for the second curve: kept as w_3 in ap_3, left out of the sums and ap_norm
    assert table["ap_3"][1] == 0 and table["ap_norm_3"][1] == 0
    assert table["mn_s2_5"][1] == pytest.approx((1 * math.log(2) - 1 * math.log(5)) / 5)
    assert table["ap_norm_7"][1] == pytest.approx(3 / (2 * math.sqrt(7)))


def test_trace_features_in_blocks_equal_at_once():
    rng = np.random.default_rng(1)
    primes = [2, 3, 5, 7, 11, 13]
    ap = rng.integers(-3, 4, size=(11, len(primes)))
    conductor = rng.choice([11, 14, 15, 21, 35, 39, 5077], size=11)
    whole = trace_features(ap, conductor, primes, [7, 13], block=100)
    assert trace_features(ap, conductor, primes, [7, 13], block=4).equals(whole)
    assert trace_features(ap[:0], conductor[:0], primes, [7, 13]).schema == whole.schema


def test_resolve_groups_errors():
    columns = [*KEY_COLUMNS, "ap_2", "ap_3", "log_conductor"]
    assert resolve_groups(columns, {"ap": [r"ap_\d+"], "conductor": ["log_conductor"]}) == \
        {"ap": ["ap_2", "ap_3"], "conductor": ["log_conductor"]}
    with pytest.raises(ValueError, match="matches no column"):
        resolve_groups(columns, {"ap": [r"ap_\d+"], "conductor": ["log_conductor", "nothing"]})
    with pytest.raises(ValueError, match=r"in no feature group: \['log_conductor'\]"):
        resolve_groups(columns, {"ap": [r"ap_\d+"]})


def test_feature_table_below_1000(model_tables):
    features, curves = model_tables["features"], model_tables["curves"]
    assert features["label"].equals(curves["label"])
    groups = resolve_groups(features.columns)
    # only the invariants beyond their bounds are missing (the degree also off the optimal curves)
    nulls = {c: n for c, n in features.null_count().row(0, named=True).items() if n}
    assert set(nulls) <= {"degree", "degree_v2", "two_selmer_rank", "z1", "z2", "z3"}
    assert groups["invariants"] == ["degree", "degree_v2", "optimality", "class_size",
                                    "class_deg", "szpiro_ratio", "z1", "z2", "z3",
                                    "two_selmer_rank"]
    assert np.isfinite(features.drop(nulls).select(pl.selectors.float()).to_numpy()).all()
    assert len(groups["ap"]) == 50 and len(groups["mestre_nagao"]) == 15
    invariants = features.filter(pl.col("label").is_in(["11a1", "11a2", "37a1"])).select(
        "label", "degree", "optimality", "class_size", "class_deg").rows()
    assert invariants == [("11a1", 1, 1, 3, 25), ("11a2", None, 0, 3, 25), ("37a1", 2, 1, 1, 1)]
    row = features.filter(pl.col("label") == "11a1").row(0, named=True)
    # w_11 = -a_11
    assert (row["ap_2"], row["ap_3"], row["ap_11"], row["bad_primes"], row["rank"]) == (
        -2, -1, -1, 1, 0)
    assert row["log_torsion"] == pytest.approx(math.log(5))
    assert row["log_real_period"] == pytest.approx(math.log(1.26920930427955))


def test_mestre_nagao_sums_separate_ranks(model_tables):
    """S0 -> 1/2 - r: the class means must be ordered by rank (not a finding: the heuristic)."""
    means = model_tables["features"].group_by("rank").agg(pl.col("mn_s0_100").mean()).sort("rank")
    assert means["mn_s0_100"].to_list() == sorted(means["mn_s0_100"].to_list(), reverse=True)


def test_model_frame_joins_row_for_row(model_tables):
    frame = model_tables["frame"]
    assert {"sha", "torsion", "real_period", "rank", "mn_s0_10"} <= set(frame.columns)
    with pytest.raises(ValueError, match="same order"):
        model_frame(model_tables["features"], model_tables["bsd"].reverse())


def test_stage_resumes_from_chunks_and_agrees_with_two_workers(model_tables, tmp_path):
    from pipeline.feature_table import compute_features
    section = model_tables["section"].model_copy(update={"workers": 2, "chunk_size": 700})
    chunks = tmp_path / "chunks"
    first = compute_features(model_tables["curves"], model_tables["bsd"], section, chunks)
    assert first.equals(model_tables["features"].select(first.columns))
    done = sorted(chunks.iterdir())
    done[0].unlink()
    stamps = {p: p.stat().st_mtime_ns for p in done[1:]}
    again = compute_features(model_tables["curves"], model_tables["bsd"], section, chunks)
    assert again.equals(first)
    # only the missing chunk redone
    assert all(p.stat().st_mtime_ns == t for p, t in stamps.items())


def test_bsd_table_out_of_order_is_refused(model_tables, tmp_path):
    from pipeline.feature_table import compute_features
    with pytest.raises(ValueError, match="dvc repro bsd"):
        compute_features(model_tables["curves"], model_tables["bsd"].reverse(),
                         model_tables["section"], tmp_path / "c")


def test_feature_groups_json_is_written_by_the_stage_main(tmp_path, monkeypatch, model_tables):
    from pipeline import features as stage
    params = load_params(PROJECT / "params.yaml")
    data = tmp_path / "data"
    data.mkdir()
    model_tables["curves"].write_parquet(data / "curves.parquet")
    model_tables["bsd"].write_parquet(data / "bsd.parquet")
    model_tables["invariants"].write_parquet(data / "invariants.parquet")
    (tmp_path / "params.yaml").write_text((PROJECT / "params.yaml").read_text())
    monkeypatch.chdir(tmp_path)
    stage.main()
    groups = json.loads((tmp_path / params.paths.feature_groups).read_text())
    assert list(groups) == list(FEATURE_GROUPS)
    assert pl.read_parquet(tmp_path / params.paths.features).equals(model_tables["features"])
    assert not (tmp_path / params.paths.features_chunks).exists()


def test_torsion_divides_the_torsion_bound(model_tables):
    features, bsd = model_tables["features"], model_tables["bsd"]
    bound = features["torsion_bound"].to_numpy()
    assert np.all(bound % bsd["torsion"].to_numpy() == 0)
    assert np.mean(bound == bsd["torsion"].to_numpy()) > 0.5     # often exactly #T


def test_topology_features_are_per_conductor_window(model_tables):
    features, section = model_tables["features"], model_tables["section"]
    topo = [c for c in features.columns if c.startswith("topo_")]
    assert len(topo) == 2 * 2 * section.topology_bins
    assert 1 < features.select(topo).n_unique() <= section.topology_windows
    assert (features["topo_ap_h0_0"].max() > 0
            and features.select(topo).null_count().sum_horizontal().item() == 0)
    same_conductor = features.group_by("conductor").agg(pl.col(topo).n_unique())
    assert same_conductor.select(pl.max_horizontal(topo).max()).item() == 1


def test_topology_features_with_more_windows_than_conductors():
    """Equal-count windows over tied conductors come out partly empty: they must be skipped,
    not handed to the persistence code as empty clouds (the scratch pipeline of N < 300 did)."""
    from models.features import topology_features

    rng = np.random.default_rng(0)
    conductor = np.repeat([11, 14, 15], 40)
    frame = pl.DataFrame({"conductor": conductor, "ap_norm_2": rng.uniform(-1, 1, 120),
                          "ap_norm_3": rng.uniform(-1, 1, 120),
                          "slog_c4": rng.normal(size=120), "slog_c6": rng.normal(size=120)})
    table = topology_features(frame, 10, [2, 3], 20, 4, 0)
    assert table.height == 120 and table.null_count().sum_horizontal().item() == 0
    assert table.with_columns(conductor=conductor).group_by("conductor").agg(
        pl.col("topo_ap_h0_0").n_unique()).select(pl.col("topo_ap_h0_0").max()).item() == 1
