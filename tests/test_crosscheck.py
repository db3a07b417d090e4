"""Cross-check of our PARI quantities against published ones: Cremona's allbsd and aplist
samples agree with PARI on every curve; a changed value, a missing curve, a wrong a_p are named."""
from __future__ import annotations

import polars as pl
import pytest

from arithmetic.bsd import bsd_table
from arithmetic.crosscheck import ap_long, compare_ap, compare_bsd, published_frame
from arithmetic.primes import primes_up_to
from arithmetic.traces import class_arithmetic
from machinery.params import load_params
from sources.ecdata import APLIST_PRIMES, read_allbsd, read_aplist
from sources.elldata import read_curves
from tests.conftest import PROJECT

#: The L-series settings of the project's params.
_FEATURES = load_params(PROJECT / "params.yaml").features
L_SERIES = (_FEATURES.l_series_tolerance, _FEATURES.l_series_terms_max)



@pytest.fixture(scope="module")
def tables(pari, cremona_fixtures):
    allbsd = cremona_fixtures / "allbsd.sample"
    published = published_frame(read_allbsd(allbsd.read_text(), str(allbsd)))
    aplist = cremona_fixtures / "aplist.sample"
    published_ap = ap_long(read_aplist(aplist.read_text(), str(aplist)), APLIST_PRIMES)
    curves = read_curves(1, 200)
    ours = bsd_table(pari, curves, 1e-6, 128, 64)
    features = class_arithmetic(pari, curves, primes_up_to(100), *L_SERIES).with_columns(
        curves["isogeny_class"])
    return published, published_ap, ours, features


def test_the_samples_agree_with_pari(tables):
    published, published_ap, ours, features = tables
    mismatches, compared = compare_bsd(ours, published, 1e-10)
    assert mismatches.is_empty()
    assert compared == {q: 739 for q in ["rank", "torsion", "tamagawa_product", "real_period",
                                         "special_value", "regulator", "sha_an"]}
    ap_mismatches, ap_compared = compare_ap(features, published_ap)
    assert ap_mismatches.is_empty() and ap_compared == 276 * 25


def test_differences_are_named(tables):
    published, published_ap, ours, features = tables
    changed = published.with_columns(
        real_period=pl.when(pl.col("label") == "37a1").then(pl.col("real_period") * (1 + 1e-8))
        .otherwise(pl.col("real_period")),
        torsion=pl.when(pl.col("label") == "11a1").then(1).otherwise(pl.col("torsion")))
    mismatches, _ = compare_bsd(ours.filter(pl.col("label") != "14a1"), changed, 1e-10)
    rows = {(r["label"], r["quantity"]): r for r in mismatches.iter_rows(named=True)}
    assert set(rows) == {("14a1", "curve"), ("11a1", "torsion"), ("37a1", "real_period")}
    assert rows[("14a1", "curve")]["computed"] == "absent"
    assert rows[("11a1", "torsion")]["published"] == "1"
    assert rows[("11a1", "torsion")]["computed"] == "5"
    assert rows[("37a1", "real_period")]["relative_difference"] == pytest.approx(1e-8, rel=1e-3)

    wrong = published_ap.with_columns(ap=pl.when((pl.col("isogeny_class") == "11a")
                                                 & (pl.col("prime") == 2)).then(2)
                                      .otherwise(pl.col("ap")))
    ap_mismatches, _ = compare_ap(features, wrong)
    assert ap_mismatches.select("label", "quantity", "published", "computed").rows() == [
        ("11a", "a_2", "2", "-2")]


def test_unpublished_quantities_are_not_compared(tables):
    published, _, ours, _ = tables
    ranks_only = published_frame(published.select("label", "rank"))
    mismatches, compared = compare_bsd(ours, ranks_only, 1e-10)
    assert mismatches.is_empty() and compared == {"rank": 739}
