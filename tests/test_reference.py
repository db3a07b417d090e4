"""Reference samples: the height box, PARI's data on known curves, the Stein–Watkins reader."""
from __future__ import annotations

import bz2

import polars as pl
import pytest
from scipy.stats import binomtest

from arithmetic.bsd import BsdError
from arithmetic.pari import start_pari
from arithmetic.reference import (draw_height_sample, height_box, is_reduced_pair,
                                  minimal_curves, reference_table)
from arithmetic.stein_watkins import (SteinWatkinsError, check_against_pari, data_files,
                                      read_classes, sample_classes)


@pytest.fixture(scope="module")
def pari():
    return start_pari(38, 1024)


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


def test_known_curves(pari):
    table = reference_table(pari, curves([
        ("11a1", [0, -1, 1, -10, -20]), ("37a1", [0, 0, 1, -1, 0]), ("389a1", [0, 1, 1, -2, 0]),
        ("5077a1", [0, 0, 1, -7, 6]), ("571a1", [0, -1, 1, -929, -10595]),
        ("681b1", [1, 1, 0, -1154, -15345])], pari), 10**8, 1e-6, 128, 64)
    rows = {r["label"]: r for r in table.iter_rows(named=True)}
    eleven = rows["11a1"]
    assert (eleven["torsion"], eleven["tamagawa_product"], eleven["sha"]) == (5, 5, 1)
    assert eleven["real_period"] == pytest.approx(1.26920930427955, rel=1e-12)
    assert eleven["special_value"] == pytest.approx(0.253841860855911, rel=1e-12)
    assert [rows[k]["rank"] for k in ("37a1", "389a1", "5077a1")] == [1, 2, 3]
    assert rows["5077a1"]["rank_lower"] == rows["5077a1"]["rank_upper"] == 3
    assert rows["37a1"]["regulator"] is None and rows["37a1"]["sha"] is None   # no generators
    assert (rows["571a1"]["sha"], rows["681b1"]["sha"]) == (4, 9)
    # dim Sel² = rank + dim Ш[2] + dim E(Q)[2]: Ш(571a1) = (Z/2)², E(681b1)[2] = (Z/2)², Ш odd
    assert [rows[k]["selmer2_rank"] for k in ("11a1", "37a1", "389a1", "571a1", "681b1")] \
        == [0, 1, 2, 2, 2]


def test_without_the_l_series_the_rank_comes_from_two_descent(pari):
    table = reference_table(pari, curves([("389a1", [0, 1, 1, -2, 0])], pari), 100, 1e-6, 128, 64)
    row = table.row(0, named=True)
    assert row["rank"] == 2 and row["special_value"] is None and row["root_number"] == 1


def test_height_ordered_root_numbers_are_balanced(pari):
    """A known fact: ordered by height, root numbers +1 and −1 are equally likely
    (Bhargava–Kane–Lenstra–Poonen–Rains 2015; BHKSSW 2016, §5): a binomial test must not reject."""
    table = reference_table(pari, minimal_curves(pari, draw_height_sample(10**6, 400, 5)),
                            1, 1e-6, 128, 64)
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
    computed = reference_table(pari, table, 10**8, 1e-6, 128, 64)
    check_against_pari(table, computed)
    assert sample_classes(table, 2, 0)["isogeny_class"].n_unique() == 2


def test_stein_watkins_errors_name_file_and_line(tmp_path, pari):
    bad = write_bz2(tmp_path / "a.000.bz2", SW_TEXT.replace("[1,1,1,-10,-10] [4,4]", "[1,1,1,-10] [4,4]"))
    with pytest.raises(SteinWatkinsError, match=r"a\.000\.bz2:5: not a curve line"):
        read_classes(bad, 1, 100)
    wrong = write_bz2(tmp_path / "b.bz2", SW_TEXT.replace("1 0.306000", "0 0.306000"))
    table = read_classes(wrong, 1, 100)
    with pytest.raises(SteinWatkinsError, match=r"b\.bz2:7: sw37\.1\.1: the file gives rank 0"):
        check_against_pari(table, reference_table(pari, table, 10**8, 1e-6, 128, 64))
    (tmp_path / "c.bz2").write_bytes(b"not bzip2")
    with pytest.raises(SteinWatkinsError, match="cannot read"):
        read_classes(tmp_path / "c.bz2", 1, 100)


def test_the_installed_database_agrees_with_pari(pari):
    table = sample_classes(read_classes(data_files()["a.000"].path, 1000, 2000), 60, 1)
    check_against_pari(table, reference_table(pari, table, 10**8, 1e-6, 128, 64))


def test_a_non_square_sha_fails_naming_the_curve(pari):
    """571a1 has Sha 4; with half its L-value the analytic Sha would be 2, not a square."""
    from arithmetic.bsd import class_l_data
    from arithmetic.reference import curve_reference

    curve = pari.ellinit([0, -1, 1, -929, -10595])
    rank, value, sign = class_l_data(pari, curve, 64)
    assert curve_reference(pari, "571a1", curve, 571, (rank, value, sign), 1e-6)["sha"] == 4
    with pytest.raises(BsdError, match=r"571a1: analytic Sha = 2 is not within"):
        curve_reference(pari, "571a1", curve, 571, (rank, value / 2, sign), 1e-6)
    with pytest.raises(BsdError, match=r"571a1: conductor from ellglobalred is 571, the table "
                                       r"says 572"):
        curve_reference(pari, "571a1", curve, 572, (rank, value, sign), 1e-6)
