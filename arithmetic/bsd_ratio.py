r"""The log BSD ratio of a curve, from the columns of the BSD table (:mod:`arithmetic.bsd`).

Apart from the PARI code of :mod:`arithmetic.bsd` because the targets of the search and the
dashboard's pages read it, and they are imported in threads that are not the main one, where
cypari2 cannot be imported (cysignals installs signal handlers on import).
"""
from __future__ import annotations

import polars as pl


def log_bsd_ratio() -> pl.Expr:
    r"""log of L^(r)(E,1)/(r!·Ω·Reg), over the BSD table's columns ``special_value`` =
    L^(r)(E,1)/r!, ``real_period`` = Ω (the least positive real period times the number of
    real components) and ``regulator`` = Reg (1 at rank 0). The Birch–Swinnerton-Dyer formula
    (Birch–Swinnerton-Dyer 1965; in the form of Cremona 1997, §3.8) predicts

        L^(r)(E,1) / (r!·Ω·Reg)  =  #Ш · ∏_p c_p / #E(Q)_tors²,

    the arithmetic part of the special value, which the period and the regulator leave.

    Evaluated as log L^(r)(E,1)/r! − log Ω − log Reg, in this order: the stages' tables and the
    train cache's keys (the digest of a target's serialized expression,
    :attr:`models.targets.Target.definition`) depend on the expression bit for bit."""
    special_value, real_period, regulator = (
        pl.col(column).cast(pl.Float64).log()
        for column in ("special_value", "real_period", "regulator"))
    return special_value - real_period - regulator
