"""The feature groups: named sets of the feature table's columns, each with what known
mathematics derives from it exactly and what it holds in words.

A pair of the search predicts a target from a group (or a search group of several, params'
``search.groups``), so a group is the unit of "what the model was given". For each group this
module is the one declaration of:

- ``columns``: full-match regular expressions over the feature table's columns (every feature
  column lies in exactly one group: :func:`models.features.resolve_groups`);
- ``known``: the columns of the model frame a number theorist derives *exactly* from the group,
  beyond its own columns (:mod:`models.known_quantities`). Knowing an input is not knowing a
  law: the conductor, the Mestre–Nagao sums, the root number, the BSD quantities and the
  invariants derive nothing beyond themselves (the laws among them are :mod:`models.laws`),
  so they declare nothing. The Weierstrass equation determines everything Tate's algorithm,
  point counting and the L-series compute from it (Cremona 1997, §3; Silverman 2009, VII);
  the a_p at p <= B give the local root numbers at the bad primes they list (Cremona's aplist
  convention), the torsion bound gcd #E(F_p) (Silverman VII.3.1) and the Mestre–Nagao sums
  (Mestre 1985; Nagao 1997);
- ``words``: what the group holds, as the report and the dashboard say it (``{primes_max}`` is
  the params' ``features.primes_max``), and a glossary of its columns (patterns in angle
  brackets).

``heuristics`` and ``local_data`` are read by the heuristic baselines and the known quantities
only; a search group may name them, but the default search does not.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from arithmetic.schemas import INVARIANT_NUMBERS, ZERO_COLUMNS

CONDUCTOR = ("log_conductor", "bad_primes", "additive_primes", "semistable", "log_largest_prime")
#: What Tate's algorithm gives at each bad prime (:mod:`arithmetic.local_data`).
LOCAL = ("split_primes", "nonsplit_primes", "local_root_number_minus", r"kodaira_.+")
INVARIANTS = (*INVARIANT_NUMBERS, ZERO_COLUMNS)
#: What the Weierstrass equation determines exactly.
EQUATION = (*CONDUCTOR, *LOCAL, "slog_discriminant", "log_tamagawa_product", "log_torsion",
            "torsion_noncyclic", "log_real_period", "root_number", "root_number_from_ap",
            r"ap_\d+", r"ap_norm_\d+", r"mn_s\d_\d+", "torsion_bound", "l_series_0",
            "l_series_1", "analytic_rank_l", "log_l_value", "bsd_log_sha_rank0",
            "bsd_log_regulator_rank1", *INVARIANTS)


@dataclass(frozen=True)
class FeatureGroup:
    """A named set of feature columns (see the module docstring)."""
    name: str
    columns: tuple[str, ...]
    words: str
    known: tuple[str, ...] = ()
    glossary: dict[str, str] = field(default_factory=dict)

    def holds(self, column: str) -> bool:
        """Whether ``column`` is one of this group's columns."""
        return any(re.fullmatch(pattern, column) for pattern in self.columns)


_GROUPS = (
    FeatureGroup(
        "conductor", CONDUCTOR, "the conductor's factorization",
        glossary={"bad_primes, additive_primes": "the number of primes dividing N, and of those "
                                                 "whose square divides N",
                  "semistable": "1 when N is squarefree",
                  "log_largest_prime": "ln of the largest prime factor of N"}),
    FeatureGroup(
        "weierstrass", ("a1", "a2", "a3", "a4", "a6", "slog_c4", "slog_c6", "slog_discriminant",
                        "log_naive_height", "log_j_height"),
        "the Weierstrass coefficients", known=EQUATION,
        glossary={"slog_<x>": "sign(x)·ln(1 + |x|) of an integer invariant x (c4, c6, the "
                              "minimal discriminant): a log scale that keeps the sign",
                  "a1 … a6": "the coefficients of the reduced minimal Weierstrass model",
                  "log_naive_height": "ln max(4|A|³, 27B²) of the short model y² = x³ + Ax + B",
                  "log_j_height": "ln of the height of the j-invariant, max(|num|, |den|)"}),
    FeatureGroup(
        "ap", (r"ap_\d+", r"ap_norm_\d+"), "the traces a_p for p ≤ {primes_max}",
        known=("torsion_bound", "root_number_from_ap", r"mn_s\d_\d+"),
        glossary={"ap_<p>": "a_p = p + 1 − #E(F_p) at a good prime p; at a bad prime Cremona's "
                            "aplist puts the Atkin–Lehner sign w_p there",
                  "ap_norm_<p>": "a_p / (2√p) in [−1, 1] (Hasse's bound), 0 at bad p"}),
    FeatureGroup(
        "mestre_nagao", (r"mn_s\d_\d+",), "the Mestre–Nagao sums",
        glossary={"mn_s0_<B>": "Mestre–Nagao sum (1/log B) Σ_{p ≤ B} a_p log p / p (tends to "
                               "−r + 1/2)",
                  "mn_s1_<B>": "Σ_{p ≤ B} (1 − (p − 1)/N_p) log p, N_p = #E(F_p) (grows like "
                               "r log B)",
                  "mn_s2_<B>": "(1/B) Σ_{p ≤ B} a_p log p (tends to −r)",
                  "mn_s3_<B>": "Σ_{p ≤ B} (1 − N_p/p)",
                  "mn_s4_<B>": "(1/log log B) Σ_{p ≤ B} log(N_p/p) (BSD's heuristic ∏ N_p/p ~ "
                               "C (log B)^r)"}),
    FeatureGroup(
        "topology", (r"topo_.+",),
        "the Betti curves of its conductor window's a_p and (c4, c6) clouds",
        glossary={"topo_<cloud>_h<k>_<i>": "Betti curve of dimension k of the conductor "
                                           "window's (cloud = ap or weierstrass) point cloud, "
                                           "at the i-th filtration value"}),
    FeatureGroup(
        "heuristics", ("l_series_0", "l_series_1", "torsion_bound"),
        "the inputs of the heuristic baselines (truncated L-series sums, the torsion bound)",
        glossary={"l_series_0, l_series_1": "truncated sums 2 Σ (a_n/n) e^{−2πn/√N} and "
                                            "2 Σ (a_n/n) E₁(2πn/√N): L(E,1) when w = +1 and "
                                            "L'(E,1) when w = −1",
                  "torsion_bound": "gcd of #E(F_p) over good primes p ≥ 3, a multiple of the "
                                   "torsion order"}),
    FeatureGroup(
        "local_data", LOCAL, "Tate's algorithm at the bad primes (split and non-split "
        "multiplicative primes, local root numbers, Kodaira symbols)"),
    FeatureGroup(
        "parity", ("root_number",), "the root number",
        glossary={"root_number": "the global root number w(E) = ±1"}),
    FeatureGroup(
        "bsd", ("rank", "log_torsion", "log_tamagawa_product", "log_real_period",
                "log_regulator", "log_special_value", "log_sha_an"),
        "the other BSD quantities",
        glossary={"log_<x>": "natural logarithm of the BSD quantity or invariant x"}),
    FeatureGroup(
        "invariants", ("degree", "degree_v2", "optimality", "class_size", "class_deg",
                       "szpiro_ratio", r"z\d+", "two_selmer_rank"),
        "the modular degree, isogeny class, Szpiro ratio, low zeros and 2-Selmer rank",
        glossary={"degree, degree_v2": "the modular degree of the Γ₀(N)-optimal curve (PARI's "
                                       "ellmoddegree, up to invariants.degree_conductor_max) and "
                                       "its 2-adic valuation",
                  "optimality": "1 for the class's Γ₀(N)-optimal curve, else 0",
                  "class_size, class_deg": "the number of curves in the isogeny class, and the "
                                           "largest degree of its isogeny matrix",
                  "szpiro_ratio": "ln|Δ_min| / ln N",
                  "z<k>": "the height of the k-th zero of L(E, s) above the centre (PARI's "
                          "lfunzeros)",
                  "two_selmer_rank": "the F₂-rank s₂ of the 2-Selmer group (PARI's ellrank): "
                                     "s₂ = r + dim E(Q)[2] + dim Ш[2] ≥ r + dim E(Q)[2]"}),
)

#: Every feature group by name, in the order of the feature table's glossary.
FEATURE_GROUPS: dict[str, FeatureGroup] = {group.name: group for group in _GROUPS}


def group(name: str) -> FeatureGroup:
    """The feature group ``name``; a KeyError naming the groups for any other name."""
    try:
        return FEATURE_GROUPS[name]
    except KeyError:
        raise KeyError(f"{name!r} is not a feature group ({', '.join(FEATURE_GROUPS)})") from None


def feature_column(name: str) -> bool:
    """Whether ``name`` is a column of some feature group."""
    return any(g.holds(name) for g in FEATURE_GROUPS.values())


def group_words(members: list[str], primes_max: int) -> str:
    """'the traces a_p for p ≤ 100 and the root number' for a search group's feature groups."""
    words = [group(g).words.format(primes_max=primes_max) for g in members]
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]
