"""a_p with Cremona's aplist convention, and the conductor's factorization, once per class."""
from __future__ import annotations

import math

import pytest

from arithmetic.primes import primes_up_to
from arithmetic.traces import (aplist, ap_column, class_arithmetic, class_arithmetic_by_ellan,
                               class_arithmetic_by_point_counts, conductor_factorization,
                               small_integers, tables_pay_off)
from machinery.params import load_params
from sources.elldata import read_curves
from tests.conftest import PROJECT

#: The L-series settings of the project's params.
_FEATURES = load_params(PROJECT / "params.yaml").features
L_SERIES = (_FEATURES.l_series_tolerance, _FEATURES.l_series_terms_max)


def read_aplist(path) -> dict[str, list[int | str]]:
    """``isogeny class -> 25 entries`` (ints at good primes, '+'/'-' at bad ones)."""
    table = {}
    for line in path.read_text().splitlines():
        conductor, iso, *values = line.split()
        table[conductor + iso] = [v if v in "+-" else int(v) for v in values[:25]]
    return table


def test_primes_up_to():
    assert primes_up_to(1) == [] and primes_up_to(2) == [2]
    assert primes_up_to(30) == [2, 3, 5, 7, 11, 13, 17, 19, 23, 29]
    assert len(primes_up_to(1000)) == 168 and len(primes_up_to(100)) == 25


def test_small_integers_are_the_entries_of_the_vector(pari):
    """ellan's coefficients read through one Vecsmall equal the entries read one by one, for a
    conductor near 10^11 and to 20,000 terms (the height sample's case); 11a1's start is
    q - 2q^2 - q^3 + 2q^4 + q^5 + 2q^6 - 2q^7 (Cremona's tables)."""
    an = pari.ellan(pari.ellinit([1, -1, 0, -1234, 6543]), 20000)
    assert small_integers(pari, an) == [int(a) for a in an]
    assert small_integers(pari, pari.ellan(pari.ellinit([0, -1, 1, -10, -20]), 7)) == [
        1, -2, -1, 2, 1, 2, -2]


def test_conductor_factorization(pari):
    assert conductor_factorization(pari, 11) == ([11], [1])
    assert conductor_factorization(pari, 8350) == ([2, 5, 167], [1, 2, 1])
    assert conductor_factorization(pari, 1) == ([], [])


def test_every_class_below_200_matches_cremonas_aplist(pari, cremona_fixtures):
    expected = read_aplist(cremona_fixtures / "aplist.sample")
    curves = read_curves(1, 200)
    primes = primes_up_to(100)
    table = class_arithmetic(pari, curves, primes, *L_SERIES).join(
        curves.select("label", "isogeny_class"),
                                                      on="label")
    seen = 0
    for row in table.unique("isogeny_class", keep="first").iter_rows(named=True):
        values = [row[ap_column(p)] for p in primes]
        cremona = [{"+": 1, "-": -1}.get(v, v) for v in expected[row["isogeny_class"]]]
        assert values == cremona, row["isogeny_class"]
        seen += 1
    assert seen == len(expected) == curves["isogeny_class"].n_unique()


def test_isogenous_curves_share_every_trace(pari):
    curves = read_curves(990, 1000)
    primes = primes_up_to(100)
    table = class_arithmetic(pari, curves, primes, *L_SERIES)
    per_curve = [aplist(pari, pari.ellinit([int(a) for a in ainvs]), n, primes)
                 for n, ainvs in curves.select("conductor", "ainvs").iter_rows()]
    assert table.select([ap_column(p) for p in primes]).rows() == [tuple(r) for r in per_curve]


def test_traces_to_1000_respect_hasse_and_count_points(pari):
    curves = read_curves(5077, 5078)
    primes = primes_up_to(1000)
    table = class_arithmetic(pari, curves, primes, *L_SERIES)
    curve = pari.ellinit([int(a) for a in curves["ainvs"][0]])
    for p in primes:
        a = table[ap_column(p)][0]
        assert abs(a) <= 2 * math.sqrt(p)
        if p in (2, 3, 997):
            assert p + 1 - a == pari.ellcard(curve, p)
    assert table["bad_primes"][0] == 1 and table["largest_prime"][0] == 5077


def test_bad_prime_sign_is_the_local_root_number(pari):
    curves = read_curves(27, 28).head(1)          # 27a1: additive at 3, a_3 = 0
    table = class_arithmetic(pari, curves, [2, 3, 5], *L_SERIES)
    curve = pari.ellinit([int(a) for a in curves["ainvs"][0]])
    assert table["ap_3"][0] == int(pari.ellrootno(curve, 3)) and pari.ellap(curve, 3) == 0
    assert table["additive_primes"][0] == 1


@pytest.mark.parametrize("conductor", [11, 14, 15])
def test_multiplicative_sign_is_minus_a_p(pari, conductor):
    curves = read_curves(conductor, conductor + 1).head(1)
    curve = pari.ellinit([int(a) for a in curves["ainvs"][0]])
    bad, _ = conductor_factorization(pari, conductor)
    table = class_arithmetic(pari, curves, bad, *L_SERIES)
    for p in bad:
        assert table[ap_column(p)][0] == -int(pari.ellap(curve, p))


@pytest.mark.parametrize("bounds", [(1, 300), (490_000, 490_040)])
def test_class_arithmetic_equals_the_ellan_reference(pari, bounds):
    """Every column and value of the point-count implementation, the L-series sums to the last
    bit, equal those of the reference with PARI's ellan, with a_p to 100 (the params') and to
    1000 (beyond the sums' 95 terms at N < 300); and the empty table."""
    curves = read_curves(*bounds)
    for primes in (primes_up_to(100), primes_up_to(1000)):
        table = class_arithmetic_by_point_counts(pari, curves, primes, *L_SERIES)
        assert table.equals(class_arithmetic_by_ellan(pari, curves, primes, *L_SERIES))
        assert table.schema == class_arithmetic_by_ellan(pari, curves.head(5), primes,
                                                         *L_SERIES).schema
    none = curves.head(0)
    assert class_arithmetic_by_point_counts(pari, none, [2, 3], *L_SERIES).equals(
        class_arithmetic_by_ellan(pari, none, [2, 3], *L_SERIES))
    assert class_arithmetic(pari, none, [2, 3], *L_SERIES).equals(
        class_arithmetic_by_ellan(pari, none, [2, 3], *L_SERIES))


def test_the_tables_are_used_where_they_pay_off():
    """The measured costs' crossing: about 130 classes at 3,856 terms, 290 at 20,000."""
    assert tables_pay_off(200, 3856) and not tables_pay_off(100, 3856)
    assert tables_pay_off(350, 20_000) and not tables_pay_off(250, 20_000)
    assert tables_pay_off(3_000, 600)
