"""The invariants against known values (modular degrees, 11a's isogeny matrix, optimality, first
zeros, 2-Selmer ranks), their consistency checks, and the stage: local and dask executors give
the same table, a rerun resumes from its chunks, the metrics count Watkins' conjecture."""
from __future__ import annotations

import json
import math

import polars as pl
import pytest

from arithmetic.bsd import bsd_table
from arithmetic.invariants import (InvariantsError, OPTIMAL_NUMBER_EXCEPTIONS, invariants_schema,
                                   invariants_table, isogeny_matrix, low_zeros, modular_degree,
                                   odd_components, optimal_number, reduced_model, szpiro_ratio,
                                   two_adic_valuation, two_selmer_rank, watkins_divisibility)
from machinery.params import Executor, load_params
from pipeline.invariants import compute_invariants, invariants_metrics
from sources.elldata import read_curves
from tests.conftest import PROJECT, classes_of

UNBOUNDED = dict(degree_conductor_max=10**6, zeros=3, zeros_conductor_max=10**6,
                 selmer_conductor_max=10**6)


def curve(pari, label: str):
    row = classes_of(label).filter(pl.col("label") == label).row(0, named=True)
    return pari.ellinit([int(a) for a in row["ainvs"]])


@pytest.mark.parametrize("label, degree", [("11a1", 1), ("37a1", 2), ("389a1", 40),
                                           ("5077a1", 1984)])
def test_modular_degrees_of_known_curves(pari, label, degree):
    assert modular_degree(pari, curve(pari, label), label) == degree


def test_modular_degree_of_a_curve_that_is_not_optimal_is_refused(pari):
    # 11a3: ellmoddegree gives deg/c² = 1/5 (Manin constant 5), not a degree
    with pytest.raises(InvariantsError, match="11a3: ellmoddegree gives 1/5"):
        modular_degree(pari, curve(pari, "11a3"), "11a3")


def test_isogeny_matrix_of_11a_in_cremona_order(pari):
    curves = classes_of("11a1")
    assert curves["label"].to_list() == ["11a1", "11a2", "11a3"]
    assert isogeny_matrix(pari, curves["ainvs"].to_list(), "11a") == [
        [1, 5, 5], [5, 1, 25], [5, 25, 1]]
    # the same class listed in another order gives the matrix in that order
    reordered = [curves["ainvs"][i] for i in (2, 0, 1)]
    assert isogeny_matrix(pari, reordered, "11a") == [[1, 5, 25], [5, 1, 5], [25, 5, 1]]


def test_isogeny_matrix_refuses_a_class_missing_a_curve(pari):
    curves = classes_of("11a1")["ainvs"].to_list()[:2]
    with pytest.raises(InvariantsError, match="11a: ellisomat finds 3 curves"):
        isogeny_matrix(pari, curves, "11a")


def test_isogeny_class_with_cm(pari):
    """27a (CM by Z[(1+√-3)/2]): four curves, degrees 3, 9, 27, each matched to its number."""
    curves = classes_of("27a1")
    matrix = isogeny_matrix(pari, curves["ainvs"].to_list(), "27a")
    assert len(matrix) == 4 and all(matrix[i][i] == 1 for i in range(4))
    assert sorted({d for row in matrix for d in row}) == [1, 3, 9, 27]
    assert all(matrix[i][j] == matrix[j][i] for i in range(4) for j in range(4))


def test_reduced_model_is_the_tables_model(pari):
    for row in classes_of("990h1", "14a1").iter_rows(named=True):
        ainvs = tuple(int(a) for a in row["ainvs"])
        assert reduced_model(pari, [int(a) for a in ainvs]) == ainvs


@pytest.mark.parametrize("label", ["11a1", "14a1", "37b1", "990h1", "1058d1"])
def test_optimal_curve_agrees_with_ellweilcurve(pari, label):
    """ellweilcurve lists the class in ellisomat's order with the Smith invariants of each
    curve's lattice; the optimal curve's are [1, 1] (Manin constant 1). 990h is the exception
    of Cremona's numbering: its optimal curve is 990h3."""
    curves = classes_of(label)
    models, smith = pari.ellweilcurve(pari.ellinit([int(a) for a in curves["ainvs"][0]]))
    optimal = [reduced_model(pari, m) for m, s in zip(models, smith)
               if [int(x) for x in s] == [1, 1]]
    assert len(optimal) == 1
    number = optimal_number(curves["isogeny_class"][0])
    chosen = curves.filter(pl.col("number") == number)["ainvs"][0]
    assert optimal[0] == tuple(int(a) for a in chosen)
    assert OPTIMAL_NUMBER_EXCEPTIONS == {"990h": 3} and optimal_number("990h") == 3


def test_szpiro_ratio_and_valuation():
    assert szpiro_ratio(-11**5, 11) == pytest.approx(5.0)
    assert szpiro_ratio(-(2**4) * 37, 37 * 2) == pytest.approx(math.log(592) / math.log(74))
    assert [two_adic_valuation(n) for n in (1, 2, 40, 1984, 1728)] == [0, 1, 3, 6, 6]
    with pytest.raises(ValueError):
        two_adic_valuation(0)


def test_first_zeros_of_11a_and_37a(pari):
    # 11a: first zero 6.3626138... (LMFDB L-function 2-11-1.1-c1-0-0); 37a (rank 1): the central
    # zero is skipped, the first above it is 5.0035...
    assert low_zeros(pari, curve(pari, "11a1"), 11, 3)[0] == pytest.approx(6.36261389, abs=1e-6)
    zeros = low_zeros(pari, curve(pari, "37a1"), 37, 2)
    assert len(zeros) == 2 and zeros[0] == pytest.approx(5.00317001, abs=1e-6)
    assert zeros[0] < zeros[1]


@pytest.mark.parametrize("label, selmer", [
    ("11a1", 0),      # rank 0, T = Z/5
    ("37a1", 1),      # rank 1
    ("389a1", 2),     # rank 2
    ("5077a1", 3),    # rank 3
    ("571a1", 2),     # rank 0, Sha = (Z/2)²
    ("681b1", 2),     # rank 0, Sha of order 9, E(Q)[2] = (Z/2)²
    ("1058d1", 0),    # rank 0, Sha of order 25
    ("14a1", 1),      # rank 0, T = Z/6: E(Q)[2] = Z/2
])
def test_two_selmer_ranks(pari, label, selmer):
    assert two_selmer_rank(pari, curve(pari, label)) == selmer


def test_odd_components():
    assert odd_components([[1, 5, 5], [5, 1, 25], [5, 25, 1]]) == [0, 0, 0]
    assert odd_components([[1, 2, 3, 6], [2, 1, 6, 3], [3, 6, 1, 2], [6, 3, 2, 1]]) == [0, 1, 0, 1]


@pytest.fixture(scope="module")
def small_range(pari):
    """Every curve with N < 400 (the classes of 11a, 37a, 389a among them) and the classes 571a
    (Sha of order 4) and 990h (optimal curve 990h3), all bounds open."""
    curves = pl.concat([read_curves(1, 400), classes_of("571a1", "990h1")])
    return curves, invariants_table(pari, curves, **UNBOUNDED), bsd_table(pari, curves, 1e-6,
                                                                           128, 64)


def test_selmer_shared_along_odd_isogenies_equals_direct(pari, small_range):
    curves, table, _ = small_range
    direct = [two_selmer_rank(pari, pari.ellinit([int(a) for a in ainvs]))
              for ainvs in curves["ainvs"].to_list()]
    assert table["two_selmer_rank"].to_list() == direct


def test_table_shape_and_known_rows(small_range):
    curves, table, _ = small_range
    assert table.schema == pl.Schema(invariants_schema(3))
    assert table["label"].equals(curves["label"])
    assert table["optimality"].sum() == curves["isogeny_class"].n_unique()
    row = table.row(table["label"].to_list().index("11a1"), named=True)
    assert row["degree"] == 1 and row["class_size"] == 3 and row["class_deg"] == 25
    assert row["isogeny_degrees"] == [1, 5] and row["szpiro_ratio"] == pytest.approx(5.0)
    assert row["isogeny_matrix"] == [[1, 5, 5], [5, 1, 25], [5, 25, 1]]
    assert table.filter(pl.col("label") == "11a2")["isogeny_degrees"].item().to_list() == [1, 5, 25]
    h3 = table.filter(pl.col("label").str.starts_with("990h"))
    assert h3["optimality"].to_list() == [0, 0, 1, 0] and h3["degree"].null_count() == 3
    # the zeros are a class invariant; the degree is given for the optimal curve only
    assert table.group_by("label").len()["len"].max() == 1
    per_class = table.join(curves.select("label", "isogeny_class"), on="label").group_by(
        "isogeny_class").agg(pl.col("z1").n_unique())
    assert per_class["z1"].max() == 1
    assert table.filter(pl.col("optimality") == 0)["degree"].null_count() == \
        (table["optimality"] == 0).sum()


def test_selmer_rank_is_consistent_with_bsd(small_range):
    """C = T + R + S: with the analytic rank (= R here, r <= 3) and Sha of odd order (S = 0),
    the 2-Selmer rank is T + r; with Sha of order 4 (Ш[2] = (Z/2)²), T + r + 2."""
    _, table, bsd = small_range
    torsion_2 = bsd["torsion_structure"].list.eval((pl.element() % 2 == 0).cast(pl.Int8)).list.sum()
    frame = table.select("label", "two_selmer_rank").with_columns(
        rank=bsd["rank"], sha=bsd["sha"], t2=torsion_2)
    odd = frame.filter(pl.col("sha") % 2 == 1)
    assert (odd["two_selmer_rank"] == odd["t2"] + odd["rank"]).all()
    four = frame.filter(pl.col("sha") == 4)
    assert len(four) and (four["two_selmer_rank"] == four["t2"] + four["rank"] + 2).all()


def test_watkins_holds_and_the_metrics_count_it(small_range):
    curves, table, _ = small_range
    section = load_params(PROJECT / "params.yaml").invariants.model_copy(
        update={"degree_conductor_max": 10**6})
    metrics = invariants_metrics(table, curves, section)
    watkins = metrics["watkins"]
    assert watkins["curves"] == curves["isogeny_class"].n_unique()
    assert watkins["violations"] == 0 and watkins["holds"] == watkins["curves"]
    assert metrics["szpiro"]["max"] == pytest.approx(table["szpiro_ratio"].max())
    json.dumps(metrics)                                     # serializable as the metrics file
    frame = pl.DataFrame({"degree": [4, 6, None], "rank": [2, 2, 1]})
    assert frame.select(watkins_divisibility(pl.col("degree"), pl.col("rank")))[
        "degree"].to_list() == [True, False, None]


def test_bounds_leave_nulls(pari):
    curves = read_curves(30, 60)
    table = invariants_table(pari, curves, degree_conductor_max=40, zeros=2,
                             zeros_conductor_max=45, selmer_conductor_max=35)
    conductor = curves["conductor"]
    assert table.columns[-3:] == ["z1", "z2", "two_selmer_rank"]
    assert (table["degree"].is_not_null() == ((conductor <= 40) & (table["optimality"] == 1))).all()
    assert (table["z2"].is_not_null() == (conductor <= 45)).all()
    assert (table["two_selmer_rank"].is_not_null() == (conductor <= 35)).all()


def test_stage_local_and_dask_agree_and_resume(tmp_path):
    curves = read_curves(1, 150)
    section = load_params(PROJECT / "params.yaml").invariants.model_copy(
        update={"chunk_size": 40, "workers": 2, "degree_conductor_max": 100})
    local = compute_invariants(curves, section, tmp_path / "local").collect()
    assert local["label"].equals(curves["label"])
    dask = compute_invariants(curves, section, tmp_path / "dask",
                              Executor(kind="dask", address=None)).collect()
    assert dask.equals(local)
    chunk_files = sorted((tmp_path / "local").iterdir())
    chunk_files[1].unlink()
    stamps = {p.name: p.stat().st_mtime_ns for p in chunk_files[2:]}
    again = compute_invariants(curves, section, tmp_path / "local").collect()
    assert again.equals(local)
    assert {p.name: p.stat().st_mtime_ns for p in chunk_files[2:]} == stamps
