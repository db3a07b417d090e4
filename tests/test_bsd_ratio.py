"""The log BSD ratio, defined once (arithmetic/bsd_ratio.py) and read by the search's target,
the murmurations stage and the dashboard."""
from __future__ import annotations

import math

import polars as pl
import pytest

from arithmetic.bsd_ratio import log_bsd_ratio

#: Published BSD data (Cremona 1997, Table 4): L^(r)(E,1)/r!, Ω (with the real components),
#: Reg, and #Ш·∏c_p/#T², which BSD says the ratio equals.
CURVES = pl.DataFrame({
    "label": ["11a1", "37a1", "571a1", "5077a1"],
    "conductor": [11, 37, 571, 5077],
    "rank": [0, 1, 0, 3],
    "special_value": [0.2538418608559107, 0.3059997738340523, 1.729365025087444,
                      1.7318499001193006],
    "real_period": [1.2692093042795534, 5.986917292463919, 0.432341256271861,
                    4.151687983086933],
    "regulator": [1.0, 0.05111140823996884, 1.0, 0.417143558758384],
    "arithmetic_part": [5 / 5**2, 1.0, 4.0, 1.0],     # 11a1: c_11 = 5, #T = 5; 571a1: #Ш = 4
})


def test_the_log_ratio_is_the_arithmetic_part_of_bsd():
    ratio = CURVES.select(log_bsd_ratio())["special_value"].to_list()
    expected = [math.log(v) for v in CURVES["arithmetic_part"]]
    assert ratio == pytest.approx(expected, abs=1e-12)


def test_its_operations_are_the_ones_the_outputs_were_computed_with():
    """log L − log Ω − log Reg, each cast to Float64: the order the stages' tables and the train
    cache's keys (a digest of the serialized expression) were made with."""
    log = lambda name: pl.col(name).cast(pl.Float64).log()  # noqa: E731
    before = log("special_value") - log("real_period") - log("regulator")
    assert log_bsd_ratio().meta.serialize() == before.meta.serialize()


def test_the_target_and_the_dashboard_read_it():
    from dashboard.queries import bsd_ratio
    from models.targets import standard_targets

    target = standard_targets(97, [100])["log_bsd_ratio"]
    assert target.expression.meta.serialize() == log_bsd_ratio().meta.serialize()
    shown = bsd_ratio(CURVES.lazy()).collect()
    assert shown["log_bsd_ratio"].to_list() == CURVES.select(log_bsd_ratio())[
        "special_value"].to_list()
