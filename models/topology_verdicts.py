"""Verdicts of the topological tests (:mod:`models.topology`, the ``topology`` stage): what
each null cloud lacks that the mathematics forces on the real clouds, and so which departures
are expected.

A null cloud keeps some of a real cloud's structure and loses the rest: shuffled columns keep
each coordinate's distribution and lose their ties, a Gaussian keeps the covariance and loses
everything beyond it, the Sato–Tate traces keep Hasse's bound and the torsion congruences and
lose the rank, permuted labels keep the pooled cloud and lose the groups. Where known
mathematics ties what the null loses (the BSD formula ties the BSD quantities; Hasse's bound
and integrality shape the traces, the discriminant identity the (c4, c6) plane), a
significant departure is expected and is explained by that law (:data:`DEPARTURES`). A
departure no listed law accounts for is a finding.
"""
from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from models.verdicts import FINDING, NOT_SIGNIFICANT_TOPOLOGY, explained_by

#: The two kinds of test: a cloud against its null clouds, and rank 0 against rank 1 by
#: permuted labels (:func:`group_difference`).
AGAINST_NULLS = "against null clouds"
GROUP_DIFFERENCE = "group difference"


@dataclass(frozen=True)
class Departure:
    """What a null cloud lacks that the mathematics forces on the real clouds of a ``family``
    (the groups whose name starts with ``groups``): a statistic significant against that null
    is expected, and explained by ``law`` (a name of :data:`models.laws.LAWS`, or
    ``construction`` for what the definitions of the coordinates force). A finding against
    such a null would need a null that keeps the law."""
    family: str
    null_model: str
    law: str
    why: str
    groups: str = ""


_DISCRIMINANT = ("1728Δ = c4³ − c6² ties the two coordinates through the discriminant, whose "
                 "size the conductor bounds (Szpiro), so the points gather near the curve "
                 "3·log|c4| = 2·log|c6| as the coefficients grow")

#: Every departure of a real cloud from a null that known mathematics forces. A pair
#: (family, null model) not listed here has none: a significant test there is a finding.
DEPARTURES = (
    Departure("bsd", "shuffled columns", "BSD formula",
              "log L^(r)(E,1)/r! = log Ω + log R + log ∏c_p + log Sha − 2·log #T, a linear "
              "identity among the columns, which columns shuffled apart lose"),
    Departure("bsd", "gaussian", "construction",
              "#T, ∏c_p and Sha are integers (Sha a square), so their logs take a handful of "
              "values and the cloud lies on parallel sheets, which a Gaussian of the same "
              "covariance fills in"),
    Departure("bsd", "permuted labels", "rank conventions",
              "the special value L^(r)(E,1)/r! is L(E,1) at rank 0 and L'(E,1) at rank 1, so "
              "the coordinate means another quantity in each group (the regulator, 1 by "
              "convention at rank 0, is left out of the comparison)"),
    Departure("ap", "shuffled columns", "torsion congruences",
              "#T | p + 1 − a_p at every good p > 2 ties the traces of one curve together "
              "(all even with a point of order 2), which columns shuffled apart lose"),
    Departure("ap", "gaussian", "Sato-Tate",
              "a_p/2√p lies in [−1, 1] (Hasse), follows the semicircle (Sato–Tate) and sits on "
              "a lattice of step 1/2√p; a Gaussian is unbounded and continuous"),
    Departure("ap", "sato_tate", "Mestre-Nagao",
              "the null keeps Hasse's bound and the torsion congruences, not the rank: the "
              "traces of curves of higher rank lean negative (#E(F_p) larger; the Mestre–Nagao "
              "sums grow like −r·log log B)", groups="rank"),
    Departure("ap", "sato_tate", "murmurations",
              "the null keeps Hasse's bound and the torsion congruences, not the root number: "
              "the average of a_p over curves of one root number oscillates with p/N, its sign "
              "set by the root number", groups="root number"),
    Departure("ap", "permuted labels", "Mestre-Nagao",
              "the a_p of rank 0 and rank 1 curves differ on average (the Mestre–Nagao sums), "
              "which moves the two clouds apart"),
    Departure("weierstrass", "shuffled columns", "construction", _DISCRIMINANT),
    Departure("weierstrass", "gaussian", "construction", _DISCRIMINANT),
)


def departure(family: str, null_model: str, group: str) -> Departure | None:
    """The listed departure of (``family``, ``null_model``) that covers ``group``, or None."""
    return next((d for d in DEPARTURES if (d.family, d.null_model) == (family, null_model)
                 and group.startswith(d.groups)), None)


def explained(law: str) -> str:
    """The verdict of a departure ``law`` (or ``construction``) accounts for."""
    return explained_by(law)


def verdicts(tests: pl.DataFrame, fdr: float, nulls: dict[str, int]) -> pl.DataFrame:
    """``tests`` (with their Benjamini–Hochberg ``q_value``) with a ``verdict`` and a
    ``reason`` each: ``not significant`` above ``fdr``; below it, ``explained by <law>`` or
    ``explained by construction`` where :data:`DEPARTURES` lists what the null lacks, else a
    ``finding``. ``nulls``: the null clouds (or label permutations) per test, by ``kind``;
    n of them set the empirical p-value's floor 1/(n + 1). Every reason leads with the
    empirical p, then the normal fit's."""
    found, why = [], []
    for row in tests.iter_rows(named=True):
        count = nulls[row["kind"]]
        empirical = (f"empirical p {row['p_empirical']:.2g}"
                     + (f" (its floor 1/{count + 1})"
                        if row["p_empirical"] <= 1 / (count + 1) + 1e-12 else ""))
        measured = (f"{empirical}; normal fit to the nulls p = {row['p_value']:.2g}, q = "
                    f"{row['q_value']:.2g}")
        known = departure(row["family"], row["null_model"], row["group"])
        if row["q_value"] > fdr:
            found.append(NOT_SIGNIFICANT_TOPOLOGY)
            why.append(f"{measured} above {fdr} (Benjamini–Hochberg over the stage's tests)")
        elif known is not None:
            found.append(explained(known.law))
            why.append(f"{known.why}; {measured}")
        else:
            found.append(FINDING)
            why.append(f"observed {row['observed']:.4g} outside the null 5–95% band "
                       f"{row['null_low']:.4g} – {row['null_high']:.4g}, and no listed law "
                       f"makes the {row['family']} cloud depart from {row['null_model']}; "
                       f"{measured}")
    return tests.with_columns(verdict=pl.Series(found, dtype=pl.String),
                              reason=pl.Series(why, dtype=pl.String))
