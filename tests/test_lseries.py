"""L(E,1) and L'(E,1) from the traces (arithmetic/lseries.py) against PARI's values."""
from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from arithmetic.lseries import central_sums, dirichlet_coefficients

#: The newform of 11a: q − 2q² − q³ + 2q⁴ + q⁵ + 2q⁶ − 2q⁷ − 2q⁹ − 2q¹⁰ + q¹¹ − 2q¹² + 4q¹³
ELEVEN_A = [0, 1, -2, -1, 2, 1, 2, -2, 0, -2, -2, 1, -2, 4]


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
