"""Cremona's ecdata formats: the fixture samples read into the embedded tables' schema and agree
with them; malformed lines name file, line and field."""
from __future__ import annotations

import polars as pl
import pytest

from arithmetic.pari import start_pari
from arithmetic.traces import ap_column, class_arithmetic
from machinery.params import load_params
from sources.ecdata import (EcdataError, read_allbigsha, read_allbsd, read_allcurves,
                               read_aplist)
from sources.elldata import read_curves
from tests.conftest import PROJECT

#: The L-series settings of the project's params.
_FEATURES = load_params(PROJECT / "params.yaml").features
L_SERIES = (_FEATURES.l_series_tolerance, _FEATURES.l_series_terms_max)



def read(cremona_fixtures, name):
    path = cremona_fixtures / f"{name}.sample"
    return path.read_text(), str(path)


def test_allcurves_equals_the_embedded_tables(cremona_fixtures):
    table = read_allcurves(*read(cremona_fixtures, "allcurves"))
    embedded = read_curves(1, table["conductor"].max() + 1)
    assert table["label"].to_list() == embedded["label"].to_list()
    assert [list(map(int, a)) for a in embedded["ainvs"]] == table["ainvs"].to_list()
    assert (table["rank"] == embedded["gens"].list.len()).all()
    assert table.filter(pl.col("label") == "11a1").row(0, named=True)["torsion"] == 5


def test_allbsd_and_allcurves_describe_the_same_curves(cremona_fixtures):
    bsd = read_allbsd(*read(cremona_fixtures, "allbsd"))
    curves = read_allcurves(*read(cremona_fixtures, "allcurves"))
    assert bsd.select(curves.columns).equals(curves)
    eleven = bsd.filter(pl.col("label") == "11a1").row(0, named=True)
    assert eleven["real_period"] == pytest.approx(1.26920930427955)
    assert eleven["special_value"] == pytest.approx(0.253841860855911)


def test_aplist_agrees_with_pari(cremona_fixtures):
    table = read_aplist(*read(cremona_fixtures, "aplist"))
    curves = read_curves(1, table["conductor"].max() + 1)
    first = curves.unique("isogeny_class", keep="first", maintain_order=True)
    primes = [int(c.removeprefix("ap_")) for c in table.columns if c.startswith("ap_")]
    ours = class_arithmetic(start_pari(19, 256), first, primes, *L_SERIES).with_columns(
        first["isogeny_class"])
    joined = table.join(ours, on="isogeny_class", suffix="_pari")
    assert len(joined) == len(table) == len(first)
    for p in primes:
        assert (joined[ap_column(p)] == joined[f"{ap_column(p)}_pari"]).all(), p
    eleven = table.filter(pl.col("isogeny_class") == "11a").row(0, named=True)
    assert eleven["ap_2"] == -2 and eleven["ap_11"] == -1      # 11a: split at 11, w_11 = -1


def test_allbigsha():
    table = read_allbigsha("571 a 1 [0,-1,1,-929,-10595] 0 1 4\n", "allbigsha.00000-09999")
    assert table.row(0, named=True)["sha"] == 4 and table["label"].item() == "571a1"


@pytest.mark.parametrize("line, message", [
    ("11 a 1 [0,-1,1,-10,-20] 0", r"x:1: 5 fields, expected 6"),
    ("11 a 1 [0,-1,1,-10] 0 5", r"x:1: ainvs '\[0,-1,1,-10\]' is not \[a1,a2,a3,a4,a6\]"),
    ("11 A 1 [0,-1,1,-10,-20] 0 5", r"x:1: isogeny class 'A'"),
    ("11 a 1 [0,-1,1,-10,-20] zero 5", r"x:1: rank 'zero' is not an integer"),
])
def test_malformed_allcurves_lines(line, message):
    with pytest.raises(EcdataError, match=message):
        read_allcurves(line, "x")


def test_malformed_aplist_lines(cremona_fixtures):
    text, _ = read(cremona_fixtures, "aplist")
    first = text.splitlines()[0]
    with pytest.raises(EcdataError, match=r"aplist:1: p = 11 divides N = 11"):
        read_aplist(first.replace(" -  4", " 3  4", 1), "aplist")
    with pytest.raises(EcdataError, match=r"aplist:2: 'x\(7\)' is not a sign"):
        read_aplist(first + "\n" + first + " x(7)", "aplist")
    with pytest.raises(EcdataError, match=r"aplist:1: 5 fields"):
        read_aplist("11 a -2 -1 1", "aplist")
