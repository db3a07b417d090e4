"""BSD quantities against published values (Cremona's tables, the LMFDB) and consistency checks."""
from __future__ import annotations

import re

import polars as pl
import pytest

from arithmetic.bsd import BsdError, bsd_table, nearest_square_root
from arithmetic.pari import precision_bits
from sources.ecdata import read_allbsd
from sources.elldata import read_curves
from tests.conftest import classes_of

TOL = 1e-10

# label: rank, torsion, tamagawa_product, real_period, special_value, regulator, sha
KNOWN = {
    "11a1": (0, 5, 5, 1.26920930427955, 0.253841860855911, 1.0, 1),
    "37a1": (1, 1, 1, 5.98691729246392, 0.305999773834052, 0.0511114082399688, 1),
    "389a1": (2, 1, 1, 4.98042512171011, 0.759316500288427, 0.152460177943144, 1),
    "5077a1": (3, 1, 1, 4.15168798308693, 1.73184990011930, 0.417143558758384, 1),
    "571a1": (0, 1, 1, 0.432341256271861, 1.72936502508744, 1.0, 4),
    "681b1": (0, 4, 4, 0.819917869389698, 1.84481520612682, 1.0, 9),
    "1058d1": (0, 1, 1, 0.0994144011140814, 2.48536002785204, 1.0, 25),
    "8350c1": (0, 1, 2, 0.00668132418540992, 1.61688045286920, 1.0, 121),
}


@pytest.fixture(scope="module")
def known_table(pari):
    return bsd_table(pari, classes_of(*KNOWN), 1e-6, 128, 64)


@pytest.mark.parametrize("label", KNOWN)
def test_known_curves(known_table, label):
    row = known_table.filter(pl.col("label") == label).row(0, named=True)
    rank, torsion, tamagawa, omega, special, regulator, sha = KNOWN[label]
    assert (row["rank"], row["torsion"], row["tamagawa_product"], row["sha"]) == \
        (rank, torsion, tamagawa, sha)
    assert row["real_period"] == pytest.approx(omega, rel=TOL)
    assert row["special_value"] == pytest.approx(special, rel=TOL)
    assert row["regulator"] == pytest.approx(regulator, rel=TOL)
    assert row["sha_an"] == pytest.approx(sha, abs=1e-9)
    assert row["root_number"] == (-1) ** rank


def test_11a1_exact_invariants(known_table):
    row = known_table.filter(pl.col("label") == "11a1").row(0, named=True)
    assert row["discriminant"] == "-161051" and row["jinv"] == "-122023936/161051"
    assert row["cm"] == 0 and row["semistable"] and row["torsion_structure"] == [5]
    assert row["real_components"] == 1


def test_agrees_with_cremona_allbsd(pari, cremona_fixtures):
    """Every curve of the allbsd sample (N < 200): exact values equal, reals to 1e-10 relative."""
    path = cremona_fixtures / "allbsd.sample"
    expected = read_allbsd(path.read_text(), str(path)).with_columns(
        sha=pl.col("sha_an").round().cast(pl.Int64))
    ours = bsd_table(pari, read_curves(1, expected["conductor"].max() + 1), sha_tolerance=1e-6,
                     precision=128, lfunction_precision=64)
    joined = expected.join(ours, on="label", how="left", suffix="_ours")
    assert joined["rank_ours"].null_count() == 0, "fixture curves missing from the tables"
    for column in ("rank", "torsion", "tamagawa_product", "sha"):
        bad = joined.filter(pl.col(column) != pl.col(f"{column}_ours"))
        assert bad.is_empty(), f"{column} differs: {bad.select('label', column, f'{column}_ours')}"
    for column in ("real_period", "special_value", "regulator"):
        relative = ((pl.col(f"{column}_ours") - pl.col(column)) / pl.col(column)).abs()
        worst = joined.select(relative.max()).item()
        # the sample prints 15 significant digits
        assert worst < TOL, f"{column}: worst relative difference {worst:.2e}"
    same = [list(map(int, a)) == b for a, b in zip(joined["ainvs_ours"].to_list(),
                                                    joined["ainvs"].to_list())]
    assert all(same)


@pytest.mark.parametrize("label, cm", [("27a1", -3), ("27a2", -27), ("32a1", -4), ("49a1", -7),
                                       ("121b1", -11), ("256a1", -8), ("11a1", 0), ("37a1", 0)])
def test_cm_discriminant(pari, label, cm):
    table = bsd_table(pari, classes_of(label), sha_tolerance=1e-6, precision=128,
                      lfunction_precision=64)
    assert table.filter(pl.col("label") == label)["cm"].item() == cm


def test_semistable_is_squarefree_conductor(pari):
    table = bsd_table(pari, read_curves(11, 60), sha_tolerance=1e-6, precision=128,
                      lfunction_precision=64)
    squarefree = table["conductor"].map_elements(
        lambda n: all(n % (p * p) for p in range(2, int(n**0.5) + 1)), return_dtype=pl.Boolean)
    assert (table["semistable"] == squarefree).all()


def test_non_square_sha_fails_naming_the_curve(pari):
    """Doubling 37a1's generator divides its index, so analytic Sha becomes 1/4: must fail."""
    curves = classes_of("37a1").with_columns(
        pl.when(pl.col("label") == "37a1").then(pl.lit([["1", "0"]]))  # 2·(0,0) = (1,0)
        .otherwise(pl.col("gens")).alias("gens"))
    with pytest.raises(BsdError, match=re.escape("37a1: analytic Sha = 0.25")):
        bsd_table(pari, curves, sha_tolerance=1e-6, precision=128, lfunction_precision=64)


def test_generator_count_must_equal_rank(pari):
    curves = classes_of("37a1").with_columns(
        pl.lit([], dtype=pl.List(pl.List(pl.String))).alias("gens"))
    with pytest.raises(BsdError, match="37a1: analytic rank 1 but the table gives 0 generators"):
        bsd_table(pari, curves, sha_tolerance=1e-6, precision=128, lfunction_precision=64)


def test_classes_must_be_contiguous(pari):
    curves = read_curves(11, 12)
    shuffled = pl.concat([curves.slice(0, 1), read_curves(14, 15).slice(0, 1), curves.slice(1, 1)])
    with pytest.raises(BsdError, match="not contiguous"):
        bsd_table(pari, shuffled, sha_tolerance=1e-6, precision=128, lfunction_precision=64)


def test_nearest_square_root():
    assert nearest_square_root(8.99999999999, 1e-6, "x") == 3
    assert nearest_square_root(121.0000000001, 1e-6, "x") == 11
    with pytest.raises(BsdError, match="x: analytic Sha = 8.9999"):
        nearest_square_root(8.9999, 1e-6, "x")
    with pytest.raises(BsdError):
        nearest_square_root(0.25, 1e-6, "x")
    with pytest.raises(BsdError):
        nearest_square_root(-1e-9, 1e-6, "x")


def test_regulators_of_huge_generators_need_the_asked_precision(pari):
    """495198m3's generator has coordinates of hundreds of digits: at cypari2's default 64 bits
    its regulator comes out 55.03129 (Sha 0.999992, not a square); at realprecision 38 (128
    bits) it equals that of its isogenous 495198m1, 55.0308626032878 (Sha 1)."""
    curves = read_curves(495198, 495199).filter(pl.col("isogeny_class") == "495198m")
    table = bsd_table(pari, curves, 1e-6, precision_bits(38), 64)
    regulators = dict(zip(table["label"], table["regulator"]))
    assert regulators["495198m3"] == pytest.approx(55.0308626032878, rel=1e-14)
    assert regulators["495198m3"] == pytest.approx(regulators["495198m1"], rel=1e-14)
    assert table["sha"].to_list() == [1, 1, 1]
    with pytest.raises(BsdError, match="495198m3: analytic Sha = 0.99999"):
        bsd_table(pari, curves, 1e-6, 64, 64)
