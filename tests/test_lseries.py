"""L(E,1) and L'(E,1) from the traces (arithmetic/lseries.py) against PARI's values."""
from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from arithmetic.elldata import read_curves
from arithmetic.lseries import (central_sums, class_central_values, dirichlet_coefficients,
                                terms_needed)
from arithmetic.pari import precision_bits
from arithmetic.traces import small_integers

#: The newform of 11a: q − 2q² − q³ + 2q⁴ + q⁵ + 2q⁶ − 2q⁷ − 2q⁹ − 2q¹⁰ + q¹¹ − 2q¹² + 4q¹³
ELEVEN_A = [0, 1, -2, -1, 2, 1, 2, -2, 0, -2, -2, 1, -2, 4]

#: Conductor and a-invariants of curves of rank 0, 1, 2, 3 (Cremona's tables)
SMALL_CURVES = {"11a1": (11, [0, -1, 1, -10, -20]), "37a1": (37, [0, 0, 1, -1, 0]),
                "389a1": (389, [0, 1, 1, -2, 0]), "5077a1": (5077, [0, 0, 1, -7, 6])}


def aplist(frame: pl.DataFrame) -> dict[int, np.ndarray]:
    return {int(c[3:]): frame[c].to_numpy() for c in frame.columns
            if c.startswith("ap_") and c[3:].isdigit()}


def test_coefficients_of_11a(model_tables):
    frame = model_tables["frame"].filter(pl.col("label") == "11a1")
    coefficients = dirichlet_coefficients(aplist(frame), frame["conductor"].to_numpy(), 13)
    assert coefficients[0].tolist() == ELEVEN_A     # a_11 = 1: split, aplist stores w_11 = −1


def test_central_values_match_pari(model_tables):
    frame = model_tables["frame"]
    conductor = frame["conductor"].to_numpy()
    value, derivative = central_sums(dirichlet_coefficients(aplist(frame), conductor, 97),
                                     conductor)
    labels = frame["label"].to_list()
    assert value[labels.index("11a1")] == pytest.approx(0.253841860855911, rel=1e-12)
    assert derivative[labels.index("37a1")] == pytest.approx(0.305999773834052, rel=1e-12)
    rank, special = frame["rank"].to_numpy(), frame["special_value"].to_numpy()
    for r, sums in ((0, value), (1, derivative)):   # N < 1000: the truncation is below 1e-8
        assert np.max(np.abs(sums[rank == r] / special[rank == r] - 1)) < 1e-8
    assert np.max(np.abs(value[rank == 2])) < 1e-8  # L(E,1) = 0 at rank 2


def test_missing_traces_are_named():
    with pytest.raises(ValueError, match=r"p = \[5, 7\]"):
        dirichlet_coefficients({2: np.array([0]), 3: np.array([0])}, np.array([11]), 10)


def reference_sums(pari, an: list[int], conductor: int) -> tuple[float, float]:
    """The two sums term by term in PARI's reals at 38 digits (``exp``, ``eint1``)."""
    bits = precision_bits(38)
    step = 2 * pari.Pi(precision=bits) / pari.sqrt(conductor, precision=bits)
    value = derivative = 0
    for n, a in enumerate(an, start=1):
        if a:
            value += pari.exp(-step * n) * a / n
            derivative += pari.eint1(step * n) * a / n
    return 2 * float(value), 2 * float(derivative)


def test_class_sums_match_the_term_by_term_reference(pari):
    near = read_curves(490_000, 490_010).row(0, named=True)      # 490006a1: 3,854 terms
    curves = {**SMALL_CURVES,
              near["label"]: (near["conductor"], [int(a) for a in near["ainvs"]])}
    for label, (conductor, ainvs) in curves.items():
        an = small_integers(pari, pari.ellan(pari.ellinit(ainvs), terms_needed(conductor, 1e-15)))
        expected = reference_sums(pari, an, conductor)
        batched = central_sums(np.array([[0, *an]] * 2, dtype=float), np.array([conductor] * 2))
        # rank >= 2: both sums vanish, their rounding is absolute
        for sums in (class_central_values(an, conductor), *np.array(batched).T):
            assert tuple(sums) == pytest.approx(expected, rel=1e-12, abs=1e-14), label
