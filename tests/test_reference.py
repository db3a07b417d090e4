"""Reference samples: the height box, PARI's data on known curves, the Stein–Watkins reader."""
from __future__ import annotations

import bz2

import polars as pl
import pytest
from scipy.stats import binomtest

from arithmetic.bsd import BsdError
from arithmetic.generators import RANDOM_SEED
from arithmetic.invariants import InvariantsError, invariants_schema, invariants_table
from arithmetic.pari import start_pari
from arithmetic.reference import (REGULATOR_MISSING, curve_generators, gens_points,
                                  draw_height_sample, height_box, is_reduced_pair,
                                  minimal_curves, reference_table, regulator_summary,
                                  sample_invariants)
from sources.stein_watkins import (SteinWatkinsError, check_against_pari, data_files,
                                      read_classes, sample_classes)
from tests.conftest import classes_of


@pytest.fixture(scope="module")
def pari():
    return start_pari(38, 1024)


def reference(pari, rows: pl.DataFrame, analytic_conductor_max: int = 10**8,
          generators_conductor_max: int = 10**8) -> pl.DataFrame:
    """reference_table at the defaults' tolerances, 128-bit periods, 64-bit L-values and
    generators saturated at p <= 100."""
    return reference_table(pari, rows, analytic_conductor_max, 1e-6, 128, 64, 100,
                           generators_conductor_max)


def curves(rows: list[tuple[str, list[int]]], pari) -> pl.DataFrame:
    return pl.DataFrame({
        "label": [label for label, _ in rows], "isogeny_class": [label for label, _ in rows],
        "number": [1] * len(rows),
        "conductor": [int(pari.ellglobalred(pari.ellinit(a))[0]) for _, a in rows],
        "ainvs": [a for _, a in rows]}, schema_overrides={"ainvs": pl.List(pl.Int64)})


def test_height_box_is_exact():
    a, b = height_box(10**6)
    assert 4 * a**3 <= 10**6 < 4 * (a + 1) ** 3 and 27 * b * b <= 10**6 < 27 * (b + 1) ** 2


def test_reduced_pairs():
    assert not is_reduced_pair(-3, 2)                 # 4(-27) + 27·4 = 0: singular
    assert not is_reduced_pair(16, 64)                # (2⁴·1, 2⁶·1): a rescaling of (1, 1)
    assert not is_reduced_pair(0, 64)                 # (0, 2⁶): a rescaling of (0, 1)
    assert is_reduced_pair(16, 32) and is_reduced_pair(1, 1) and is_reduced_pair(0, 1)


def test_height_sample_is_seeded_inside_the_box_and_reduced():
    first, again = draw_height_sample(10**5, 200, 1), draw_height_sample(10**5, 200, 1)
    assert first.equals(again) and first["label"].n_unique() == 200
    a, b = height_box(10**5)
    assert first["a4"].abs().max() <= a and first["a6"].abs().max() <= b
    assert all(is_reduced_pair(x, y) for x, y in first.select("a4", "a6").iter_rows())
    assert not first.equals(draw_height_sample(10**5, 200, 2))
    with pytest.raises(ValueError, match="too few"):
        draw_height_sample(100, 50, 1)


#: Reg(E) of Cremona's tables (37a1 rank 1, 389a1 rank 2, 5077a1 rank 3).
KNOWN_REGULATORS = {"37a1": 0.0511114082399688, "389a1": 0.152460177943144,
                    "5077a1": 0.417143558758384}


def test_known_curves(pari):
    table = reference(pari, curves([
        ("11a1", [0, -1, 1, -10, -20]), ("37a1", [0, 0, 1, -1, 0]), ("389a1", [0, 1, 1, -2, 0]),
        ("5077a1", [0, 0, 1, -7, 6]), ("571a1", [0, -1, 1, -929, -10595]),
        ("681b1", [1, 1, 0, -1154, -15345])], pari))
    rows = {r["label"]: r for r in table.iter_rows(named=True)}
    eleven = rows["11a1"]
    assert (eleven["torsion"], eleven["tamagawa_product"], eleven["sha"]) == (5, 5, 1)
    assert eleven["real_period"] == pytest.approx(1.26920930427955, rel=1e-12)
    assert eleven["special_value"] == pytest.approx(0.253841860855911, rel=1e-12)
    assert [rows[k]["rank"] for k in ("37a1", "389a1", "5077a1")] == [1, 2, 3]
    assert rows["5077a1"]["rank_lower"] == rows["5077a1"]["rank_upper"] == 3
    assert (rows["571a1"]["sha"], rows["681b1"]["sha"]) == (4, 9)
    for label, regulator in KNOWN_REGULATORS.items():      # Cremona's tables, the LMFDB
        row = rows[label]
        assert row["regulator"] == pytest.approx(regulator, rel=1e-12), label
        assert (row["sha"], row["regulator_missing"], len(row["gens"])) == (1, None, row["rank"])
        assert row["sha_an"] == pytest.approx(1, abs=1e-9), label
        # the stored generators lie on the curve and give the stored regulator
        curve = pari.ellinit(row["ainvs"], precision=128)
        points = gens_points(pari, row["gens"])
        assert all(pari.ellisoncurve(curve, point) for point in points)
        assert float(pari.matdet(pari.ellheightmatrix(curve, points, precision=128))) \
            == row["regulator"]
    assert (rows["11a1"]["gens"], rows["11a1"]["regulator"]) == ([], 1.0)
    # dim Sel² = rank + dim Ш[2] + dim E(Q)[2]: Ш(571a1) = (Z/2)², E(681b1)[2] = (Z/2)², Ш odd
    assert [rows[k]["selmer2_rank"] for k in ("11a1", "37a1", "389a1", "571a1", "681b1")] \
        == [0, 1, 2, 2, 2]
    # the descent's R_up + s + T agrees with the count of basis 2-covers (ell2cover), a
    # computation of dim Sel² of its own, and with the invariants' 2-Selmer rank
    covers = [len(pari.ell2cover(pari.ellinit(ainvs))) for ainvs in table["ainvs"].to_list()]
    assert table["selmer2_rank"].to_list() == covers
    invariants = sample_invariants(pari, table, zeros=1, zeros_conductor_max=0,
                                   selmer_conductor_max=10**6)
    assert invariants["two_selmer_rank"].to_list() == covers


def own_classes(labels: list[str]) -> pl.DataFrame:
    """Cremona's curves ``labels``, each in an isogeny class of its own (as the height sample
    has them)."""
    rows = classes_of(*labels).filter(pl.col("label").is_in(labels))
    return rows.with_columns(isogeny_class=pl.col("label"),
                             ainvs=pl.col("ainvs").cast(pl.List(pl.Int64)))


def test_sample_invariants_of_known_curves(pari):
    """Each curve alone in its sample class: its whole Q-isogeny class comes from ellisomat, and
    its Szpiro ratio, zeros and 2-Selmer rank are those the invariants stage gives it within its
    Cremona class (11a1 and 11a3 share their zeros); optimality and degree stay unknown."""
    labels = ["11a1", "11a3", "14a1", "37a1"]
    found = sample_invariants(pari, own_classes(labels), zeros=3, zeros_conductor_max=10**6,
                              selmer_conductor_max=10**6)
    assert found.schema == invariants_schema(3) and found["label"].to_list() == labels
    got = {row["label"]: row for row in found.iter_rows(named=True)}
    # PARI lists the curve first: 11a1, 11a2, 11a3 (Cremona's order), and 11a3, 11a1, 11a2
    assert got["11a1"]["isogeny_matrix"] == [[1, 5, 5], [5, 1, 25], [5, 25, 1]]
    assert got["11a3"]["isogeny_matrix"] == [[1, 5, 25], [5, 1, 5], [25, 5, 1]]
    assert [(got[k]["class_size"], got[k]["class_deg"], got[k]["isogeny_degrees"])
            for k in labels] == [(3, 25, [1, 5]), (3, 25, [1, 5, 25]), (6, 18, [1, 2, 3, 6]),
                                 (1, 1, [1])]
    assert got["37a1"]["isogeny_matrix"] == [[1]]
    cremona = invariants_table(pari, classes_of(*labels), degree_conductor_max=0, zeros=3,
                               zeros_conductor_max=10**6, selmer_conductor_max=10**6)
    expected = {row["label"]: row for row in cremona.iter_rows(named=True)}
    for label in labels:
        mine, theirs = got[label], expected[label]
        assert (mine["class_size"], mine["class_deg"], mine["isogeny_degrees"]) == (
            theirs["class_size"], theirs["class_deg"], theirs["isogeny_degrees"]), label
        assert mine["szpiro_ratio"] == theirs["szpiro_ratio"], label
        assert [mine[z] for z in ("z1", "z2", "z3")] == pytest.approx(
            [theirs[z] for z in ("z1", "z2", "z3")], abs=1e-9), label
        assert mine["two_selmer_rank"] == theirs["two_selmer_rank"], label
        assert (mine["degree"], mine["degree_v2"], mine["optimality"]) == (None, None, None)
    # E(Q)[2] of 14a1 (torsion Z/6) and 37a1's rank 1 each give one dimension of Sel²
    assert [got[k]["two_selmer_rank"] for k in labels] == [0, 0, 1, 1]


def test_sample_invariants_stop_at_the_bounds(pari):
    """The zeros and the 2-Selmer rank are null above their conductor bounds (N = 11, 14, 37);
    the class and the Szpiro ratio are there for every curve."""
    found = sample_invariants(pari, own_classes(["11a1", "14a1", "37a1"]), zeros=2,
                              zeros_conductor_max=14, selmer_conductor_max=13)
    assert found.columns == list(invariants_schema(2))
    assert found["z1"].is_null().to_list() == [False, False, True]
    assert found["z2"].is_null().to_list() == [False, False, True]
    assert found["two_selmer_rank"].is_null().to_list() == [False, True, True]
    assert found["szpiro_ratio"].is_not_null().all() and found["class_size"].is_not_null().all()
    assert found.select("degree", "degree_v2", "optimality").null_count().row(0) == (3, 3, 3)


def test_a_sample_class_must_lie_in_one_isogeny_class(pari):
    """Curves the sample groups share the zeros of its first curve: they must be isogenous."""
    isogenous = own_classes(["11a1", "11a3"]).with_columns(isogeny_class=pl.lit("c"))
    found = sample_invariants(pari, isogenous, zeros=1, zeros_conductor_max=100,
                              selmer_conductor_max=0)
    assert found["z1"][0] == found["z1"][1] and found["class_size"].to_list() == [3, 3]
    apart = own_classes(["11a1", "37a1"]).with_columns(isogeny_class=pl.lit("c"))
    with pytest.raises(InvariantsError, match="37a1: not Q-isogenous to the first curve of "
                                              "its sample class c"):
        sample_invariants(pari, apart, zeros=1, zeros_conductor_max=100, selmer_conductor_max=0)


def test_without_the_l_series_the_rank_comes_from_two_descent(pari):
    table = reference(pari, curves([("389a1", [0, 1, 1, -2, 0])], pari), 100)
    row = table.row(0, named=True)
    assert row["rank"] == 2 and row["special_value"] is None and row["root_number"] == 1
    # the rank is known, so are the generators; without an L-value there is no analytic Sha
    assert row["regulator"] == pytest.approx(KNOWN_REGULATORS["389a1"], rel=1e-12)
    assert row["sha_an"] is None and row["sha"] is None and row["regulator_missing"] is None


def test_rank_one_curves_of_the_height_sample_get_a_square_sha(pari):
    """Every curve of rank 1 among the first of the default height sample (H <= 10^6, seed 3)
    gets generators, a regulator and an analytic Sha within the tolerance of a square."""
    sample = reference(pari, minimal_curves(pari, draw_height_sample(10**6, 4000, 3).head(40)))
    rank_one = sample.filter(pl.col("rank") == 1)
    assert len(rank_one) >= 10 and rank_one["regulator_missing"].is_null().all()
    for row in rank_one.iter_rows(named=True):
        assert row["regulator"] > 0 and len(row["gens"]) == 1
        assert row["sha"] >= 1 and abs(row["sha_an"] - row["sha"]) <= 1e-6, row["label"]
        assert round(row["sha"] ** 0.5) ** 2 == row["sha"]


def test_a_bounded_search_leaves_the_regulator_null_and_says_why(pari):
    """5159b2 has rank 1 but its 2-descent finds no point: beyond the 2-descent the search
    (here the Heegner point) runs only up to the conductor bound."""
    rows = curves([("5159b2", [1, 0, 1, -475611, -126287863])], pari)
    bounded_table = reference(pari, rows, generators_conductor_max=5158)
    assert regulator_summary(bounded_table) == "regulator for 0 of 1 (none: search bound 1)"
    bounded = bounded_table.row(0, named=True)
    assert (bounded["rank"], bounded["rank_lower"], bounded["rank_upper"]) == (1, 1, 1)
    assert bounded["regulator"] is None and bounded["gens"] is None
    assert bounded["sha_an"] is None and bounded["sha"] is None
    assert bounded["regulator_missing"] == "search bound" and "search bound" in REGULATOR_MISSING
    assert bounded["special_value"] > 0                       # the L-value is still there
    searched = reference(pari, rows, generators_conductor_max=5159).row(0, named=True)
    assert searched["regulator"] > 0 and searched["regulator_missing"] is None
    assert searched["sha"] == 1 and len(searched["gens"]) == 1


def test_no_basis_and_no_rank_are_reasons_too(pari):
    """Claimed rank 2 on 37a1 (rank 1): every ellrank effort finds one point, so "not found";
    no rank, "rank unknown". Neither guesses a regulator."""
    curve = pari.ellinit([0, 0, 1, -1, 0], precision=128)
    settings = {"sha_tolerance": 1e-6, "precision": 128, "saturation_bound": 100,
                "generators_conductor_max": 10**8}
    pari.setrand(RANDOM_SEED)
    descent = pari.ellrank(curve)
    assert len(descent[3]) == 1
    assert curve_generators(pari, "37a1", curve, 37, 2, descent, settings) \
        == (None, None, "not found")
    assert curve_generators(pari, "37a1", curve, 37, None, descent, settings) \
        == (None, None, "rank unknown")
    assert set(REGULATOR_MISSING) == {"rank unknown", "search bound", "not found"}


def test_height_ordered_root_numbers_are_balanced(pari):
    """A known fact: ordered by height, root numbers +1 and −1 are equally likely
    (Bhargava–Kane–Lenstra–Poonen–Rains 2015; BHKSSW 2016, §5): a binomial test must not reject."""
    table = reference(pari, minimal_curves(pari, draw_height_sample(10**6, 400, 5)),
                      1)
    plus = int((table["root_number"] == 1).sum())
    assert binomtest(plus, len(table), 0.5).pvalue > 0.01, f"{plus} of {len(table)} are +1"
    assert table["conductor"].min() >= 11 and (table["rank_upper"] >= table["rank_lower"]).all()


SW_TEXT = """11 [11] 0 0.253842 25 +*1
[0,-1,1,0,0] (1) 1 5
[0,-1,1,-10,-20] (5) 1 5
15 [3,5] 0 0.350151 16 +*1
[1,1,1,-10,-10] [4,4] 1 4x
37 [37] 1 0.306000 1 +2
[0,0,1,-1,0] [1] X 1
"""


def write_bz2(path, text):
    path.write_bytes(bz2.compress(text.encode()))
    return path


def test_stein_watkins_reader(tmp_path, pari):
    path = write_bz2(tmp_path / "a.000.bz2", SW_TEXT)
    table = read_classes(path, 1, 100)
    assert table["label"].to_list() == ["sw11.1.1", "sw11.1.2", "sw15.1.1", "sw37.1.1"]
    assert table["sw_torsion"].to_list() == [5, 5, 8, 1]          # 4x: Z/2 x Z/4
    assert table["sw_discriminant"].to_list() == ["-11", "-161051", "50625", "37"]
    assert read_classes(path, 12, 37)["label"].to_list() == ["sw15.1.1"]
    computed = reference(pari, table)
    check_against_pari(table, computed)
    assert sample_classes(table, 2, 0)["isogeny_class"].n_unique() == 2


def test_stein_watkins_errors_name_file_and_line(tmp_path, pari):
    bad = write_bz2(tmp_path / "a.000.bz2",
                    SW_TEXT.replace("[1,1,1,-10,-10] [4,4]", "[1,1,1,-10] [4,4]"))
    with pytest.raises(SteinWatkinsError, match=r"a\.000\.bz2:5: not a curve line"):
        read_classes(bad, 1, 100)
    wrong = write_bz2(tmp_path / "b.bz2", SW_TEXT.replace("1 0.306000", "0 0.306000"))
    table = read_classes(wrong, 1, 100)
    with pytest.raises(SteinWatkinsError, match=r"b\.bz2:7: sw37\.1\.1: the file gives rank 0"):
        check_against_pari(table, reference(pari, table))
    huge = write_bz2(tmp_path / "d.bz2", SW_TEXT.replace("[0,0,1,-1,0]", f"[0,0,1,{2**63},0]"))
    with pytest.raises(SteinWatkinsError, match=r"d\.bz2:7: a coefficient beyond 64 bits"):
        read_classes(huge, 1, 100)
    (tmp_path / "c.bz2").write_bytes(b"not bzip2")
    with pytest.raises(SteinWatkinsError, match="cannot read"):
        read_classes(tmp_path / "c.bz2", 1, 100)


def test_the_installed_database_agrees_with_pari(pari):
    table = sample_classes(read_classes(data_files()["a.000"].path, 1000, 2000), 60, 1)
    check_against_pari(table, reference(pari, table))


@pytest.mark.parametrize("label, ainvs, conductor, sha, divisor, message", [
    # 571a1 has Sha 4; with half its L-value the analytic Sha would be 2, not a square
    ("571a1", [0, -1, 1, -929, -10595], 571, 4, 2, "analytic Sha = 2 is not within"),
    # 37a1 (Sha 1) with a third of its L'(E,1): the regulator enters the check at rank > 0
    ("37a1", [0, 0, 1, -1, 0], 37, 1, 3, "analytic Sha = 0.333333333333 is not within"),
])
def test_a_non_square_sha_fails_naming_the_curve(pari, label, ainvs, conductor, sha, divisor,
                                                 message):
    from arithmetic.bsd import class_l_data
    from arithmetic.reference import curve_reference

    curve = pari.ellinit(ainvs, precision=128)
    rank, value, sign = class_l_data(pari, curve, 64)
    settings = {"sha_tolerance": 1e-6, "precision": 128, "saturation_bound": 100,
                "generators_conductor_max": 10**8}
    found = curve_reference(pari, label, curve, conductor, (rank, value, sign), settings)
    assert found["sha"] == sha
    with pytest.raises(BsdError, match=rf"{label}: {message}"):
        curve_reference(pari, label, curve, conductor, (rank, value / divisor, sign), settings)
    with pytest.raises(BsdError, match=rf"{label}: conductor from ellglobalred is {conductor}, "
                                       rf"the table says {conductor + 1}"):
        curve_reference(pari, label, curve, conductor + 1, (rank, value, sign), settings)
