r"""Known mathematics as laws: what each one says, about which targets, and what it reads.

A prediction is only interesting beyond the laws that already make it (Sawin's warning: know the
quasirandom models and the trivial bounds a prediction must beat). The warning cuts both ways:

- *too little*: a model that predicts Sha from the other BSD quantities has relearned the BSD
  formula, and one that predicts rank parity from the root number the parity conjecture;
- *too much*: a law is a baseline of a question only when the question's own inputs determine
  what the law reads. The L-series at s = 1 says nothing about "rank from the conductor", since
  the conductor does not give the a_n; whether the rank depends on the conductor *is* the
  question.

So each :class:`Law` declares the targets it speaks about and the quantities (model-frame
columns) it reads, and :func:`applicable` keeps a law for a (target, search group) pair only
when the group *determines* every quantity it reads: the group's own columns, or what known
mathematics computes exactly from them (:func:`models.known_quantities.known_columns`: the
equation gives c_p, #T, Ω, w and every a_n; the a_p for p <= B give the Mestre–Nagao sums to B
and the torsion bound, not L(E,1)). A law that would need more is only *named* beside the
verdict (:func:`related`). A declared target (``search.custom_targets``) is spoken about by the
laws of the columns its expression reads (:data:`SOURCE_TARGETS`).

``search.withhold`` removes laws by name for one run (a positive control: with the parity
conjecture withheld, rank parity from the root number must be *found*). A null model that is
built on a law (the minimalist rank model reads the parity conjecture) is withheld with it
(:func:`null_without`).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable

from arithmetic.feature_groups import LOCAL
from machinery.params import LAW_NAMES
from models.baselines import (BsdIdentityBaseline, LocalRootNumberBaseline, MestreNagaoBaseline,
                              ParityBaseline, SatoTateBaseline, TorsionCongruenceBaseline)
from models.gbm import GbmModel
from models.known_quantities import FORMULAS, exact_trace

#: The a-invariants: what "from the equation" reads.
EQUATION = ("a1", "a2", "a3", "a4", "a6")
#: The BSD quantities of the ``bsd`` feature group, among which the BSD formula is an identity.
BSD_QUANTITIES = ("rank", "log_torsion", "log_tamagawa_product", "log_real_period",
                  "log_regulator", "log_special_value", "log_sha_an")
#: The built-in targets that are BSD quantities or functions of them.
BSD_TARGETS = ("rank", "rank_parity", "torsion", "sha_gt_1", "log_sha_an",
               "log_tamagawa_product", "log_real_period", "log_regulator", "log_special_value",
               "log_bsd_ratio")
L_SERIES = ("l_series_0", "l_series_1", "root_number", "log_conductor", "log_real_period")
LOCAL_DATA = ("slog_discriminant", "log_conductor", "bad_primes", "additive_primes",
              "torsion_bound")
TRACES = r"ap_\d+"
MESTRE_NAGAO = r"mn_s\d_\d+"


@dataclass(frozen=True)
class Context:
    """What a law's predictor is built from: the target, its task, the columns the law reads
    (resolved against the model frame, the target's excluded columns removed), and the
    searched GBM's settings (a fitted heuristic is that GBM on exactly the law's inputs, so
    the model cannot beat it by capacity or by seed)."""
    target: str
    task: str
    reads: list[str]
    seed: int
    threads: int
    gbm: dict


@dataclass(frozen=True)
class Statement:
    """One thing a law says: ``targets`` (a full-match pattern of target names) from the
    columns ``reads`` (full-match patterns), by the predictor ``build`` makes."""
    targets: str
    reads: tuple[str, ...]
    build: Callable[[Context], object]


@dataclass(frozen=True)
class Law:
    name: str                      # a verdict "explained by <name>" names it
    reference: str
    statements: tuple[Statement, ...]
    #: The derived quantities (column patterns) its algorithm computes: withholding the law
    #: takes them off what a group knows (Tate's algorithm computes ∏c_p from the equation).
    produces: tuple[str, ...] = ()


def _formula(name: str) -> Callable[[Context], object]:
    [found] = [f for f in FORMULAS if f.name == name]
    return lambda c: found.for_target(c.target, c.task)


def _heuristic(name: str) -> Callable[[Context], object]:
    return lambda c: GbmModel(c.task, c.reads, c.seed, threads=c.threads, name=name, **c.gbm)


def _any_of(targets: tuple[str, ...], *but: str) -> str:
    """A full-match pattern of ``targets`` without ``but`` (in a fixed order)."""
    return "|".join(t for t in targets if t not in but)


def _point_count(c: Context):
    return exact_trace(int(c.target.removeprefix("ap_"))).for_target(c.target, c.task)


LAWS: tuple[Law, ...] = (
    # the algorithm's outputs at each bad p: the Kodaira symbol, the reduction type and w_p,
    # and c_p, with what is computed from c_p (the BSD formula's Sha at rank 0 and regulator
    # at rank 1); the conductor it shares with Ogg's formula
    Law("Tate's algorithm", "Silverman, Advanced Topics IV.9; Cremona, Algorithms §3.2",
        (Statement("log_tamagawa_product", EQUATION, _formula("Tate's algorithm")),),
        ("log_tamagawa_product", *LOCAL, "bsd_log_sha_rank0", "bsd_log_regulator_rank1")),
    Law("torsion subgroup", "Cremona, Algorithms §3.3 (Nagell–Lutz, division polynomials)",
        (Statement("torsion", EQUATION, _formula("torsion subgroup")),),
        ("log_torsion", "torsion_noncyclic")),
    Law("root number", "Rohrlich 1993; Cremona, Algorithms §3.2",
        (Statement("root_number", EQUATION, _formula("root number")),), ("root_number",)),
    Law("real period", "Cremona, Algorithms §3.7 (the AGM)",
        (Statement("log_real_period", EQUATION, _formula("real period")),), ("log_real_period",)),
    Law("point counting", "a_p = p + 1 − #E(F_p); Cremona, Algorithms §3.5",
        (Statement(TRACES, EQUATION, _point_count),), (TRACES, r"ap_norm_\d+")),
    Law("parity conjecture", "Dokchitser–Dokchitser 2010 (true if Sha is finite)",
        (Statement("rank_parity|rank", ("root_number",), lambda c: ParityBaseline(c.target)),
         Statement("root_number", ("rank",), lambda c: ParityBaseline("root_number")))),
    Law("local root numbers", "w(E) = −∏ w_p (Rohrlich 1993), w_p from Cremona's aplist",
        (Statement("root_number|rank_parity|rank", ("root_number_from_ap",),
                   lambda c: LocalRootNumberBaseline(c.target)),), ("root_number_from_ap",)),
    Law("torsion congruences", "#T | p + 1 − a_p at good p > 2 (Silverman VII.3.1)",
        (Statement("torsion", ("torsion_bound",), lambda c: TorsionCongruenceBaseline()),),
        ("torsion_bound",)),
    Law("Mestre-Nagao", "Mestre 1985; Nagao 1997; Kazalicki–Vlah 2023",
        (Statement("rank|rank_parity", (MESTRE_NAGAO,),
                   lambda c: MestreNagaoBaseline(c.reads)),
         Statement("rank|rank_parity", ("root_number", MESTRE_NAGAO),
                   _heuristic("parity + Mestre-Nagao")))),
    Law("L-series at s = 1", "L(E,1), L'(E,1) from the a_n (Cremona, Algorithms §2.11)",
        (Statement("rank|rank_parity|log_special_value", ("analytic_rank_l", "log_l_value"),
                   _formula("L-series at s = 1")),
         Statement(_any_of(BSD_TARGETS, "torsion", "log_tamagawa_product"), L_SERIES,
                   _heuristic("L-series heuristic"))),
        ("l_series_0", "l_series_1", "analytic_rank_l", "log_l_value")),
    Law("BSD formula", "Birch–Swinnerton-Dyer; Cremona, Algorithms §3.8",
        (Statement("log_bsd_ratio|log_regulator|log_sha_an|sha_gt_1",
                   ("log_tamagawa_product", "log_torsion", "analytic_rank_l",
                    "bsd_log_regulator_rank1", "bsd_log_sha_rank0"),
                   _formula("BSD formula (Sha = 1)")),
         Statement(_any_of(BSD_TARGETS), BSD_QUANTITIES,
                   lambda c: BsdIdentityBaseline(c.task, c.reads)),
         Statement(_any_of(BSD_TARGETS, "torsion"), L_SERIES + LOCAL_DATA,
                   _heuristic("BSD heuristics"))),
        ("bsd_log_sha_rank0", "bsd_log_regulator_rank1")),
    Law("rank conventions", "R = 1 at rank 0, and the special value is L^(r)(E,1)/r! at rank r "
        "(Cremona, Algorithms §3.8)",
        (Statement("log_regulator|log_special_value|log_bsd_ratio", ("rank",),
                   _heuristic("rank conventions")),)),
    Law("Euler-product heuristic", "∏_{p ≤ x} N_p/p ~ C (log x)^r and L(E,1) from partial "
        "Euler products (Birch–Swinnerton-Dyer 1965; Goldfeld 1982)",
        (Statement("log_special_value|log_bsd_ratio|log_sha_an|sha_gt_1", (MESTRE_NAGAO,),
                   _heuristic("Euler-product heuristic")),)),
    Law("Tamagawa numbers at the bad primes", "c_p = 1 at good p; c_p <= 4 at additive p outside "
        "I_n* (Kodaira–Néron; Silverman, Advanced Topics IV.9, Table 4.1)",
        (Statement("log_tamagawa_product|log_bsd_ratio", ("bad_primes", "additive_primes"),
                   _heuristic("Tamagawa numbers at the bad primes")),)),
    Law("Ogg's formula", "v_p(Δ_min) = v_p(N) + m_p − 1 (Ogg 1967; Lorenzini 2011)",
        (Statement("log_tamagawa_product", LOCAL_DATA, _heuristic("Ogg's formula")),
         # the Szpiro ratio log|Δ_min|/log N weighs v_p(Δ) against v_p(N): what Ogg's formula
         # turns into the components m_p, hence c_p at the split multiplicative primes
         Statement("log_tamagawa_product|log_bsd_ratio", ("szpiro_ratio",),
                   _heuristic("Ogg's formula (Szpiro ratio)")))),
    Law("torsion and isogenies", "a rational point P of order ℓ gives the rational ℓ-isogeny "
        "E → E/<P> (Silverman III.4.12; Kenku 1982 on class sizes)",
        (Statement("torsion|log_bsd_ratio", ("class_size", "class_deg"),
                   _heuristic("torsion and isogenies")),)),
    Law("2-descent", "r <= s_2 − dim E[2](Q), r ≡ s_2 − dim E[2](Q) mod 2 if Sha is finite "
        "(Cassels 1965; Cremona, Algorithms §3.6)",
        (Statement("rank|rank_parity", ("two_selmer_rank",), _heuristic("2-descent")),
         # s_2 = r + dim E(Q)[2] + dim Sha[2]: the 2-Selmer rank reads Sha's 2-part too
         Statement("log_sha_an|sha_gt_1|log_bsd_ratio", ("two_selmer_rank",),
                   _heuristic("2-descent (Sha[2])")))),
    Law("explicit formula", "low-lying zeros against the rank (Mestre 1986; Katz–Sarnak 1999)",
        (Statement("rank|rank_parity", (r"z\d+",), _heuristic("explicit formula")),)),
    Law("Watkins' conjecture", "2^r divides the modular degree (Watkins 2002, §5.3)",
        (Statement("rank|rank_parity", ("degree", "degree_v2"),
                   _heuristic("Watkins' conjecture")),)),
    Law("Sato-Tate", "Sato–Tate with Hasse's bound and #T | p + 1 − a_p (Silverman VII.3.1)",
        # the conductor (exp of its log, exactly) says where p is bad and a_p is w_p = ±1
        (Statement(TRACES, ("log_torsion", "log_conductor"), lambda c: SatoTateBaseline(
            int(c.target.removeprefix("ap_")), task=c.task)),
         Statement(TRACES, ("log_torsion",), lambda c: SatoTateBaseline(
             int(c.target.removeprefix("ap_")), task=c.task, knows_conductor=False)))),
    Law("murmurations", "He–Lee–Oliver–Pozdnyakov 2022",
        (Statement(TRACES, ("root_number", "rank", "log_conductor"),
                   _heuristic("murmurations")),)),
)

# LAW_NAMES (the names params.yaml may give, defined with the schema) must name these laws, in
# this order: a law added without its name could never be withheld, a name without its law
# would be accepted by the schema and found nowhere
if tuple(law.name for law in LAWS) != LAW_NAMES:
    raise RuntimeError(
        "models.laws: the laws' names differ from machinery.params.LAW_NAMES: laws not named "
        f"there {[law.name for law in LAWS if law.name not in LAW_NAMES]}, names of no law "
        f"{[name for name in LAW_NAMES if name not in {law.name for law in LAWS}]} (both empty: "
        "the same names in another order); make LAW_NAMES the names of LAWS")

#: A declared target's source column -> the built-in targets whose laws speak about it.
SOURCE_TARGETS: dict[str, tuple[str, ...]] = {
    "rank": ("rank", "rank_parity"), "torsion": ("torsion",), "sha": ("log_sha_an",),
    "sha_an": ("log_sha_an",), "tamagawa_product": ("log_tamagawa_product",),
    "real_period": ("log_real_period",), "regulator": ("log_regulator",),
    "special_value": ("log_special_value",), "root_number": ("root_number",),
}


def spoken_targets(target_name: str, sources: tuple[str, ...], declared: bool) -> list[str]:
    """The built-in target names whose laws speak about a target: itself, or for a declared
    target those of the columns its expression reads (an ``ap_<p>`` column is the target
    ``ap_<p>``)."""
    if not declared:
        return [target_name]
    found = [t for s in sources for t in SOURCE_TARGETS.get(s, (s,) if re.fullmatch(TRACES, s)
                                                             else ())]
    return list(dict.fromkeys(found))


def resolve(patterns: tuple[str, ...], columns: list[str], excluded) -> list[str]:
    """The model-frame ``columns`` matching ``patterns``, in frame order, without ``excluded``."""
    return [c for c in columns if c not in excluded
            and any(re.fullmatch(p, c) for p in patterns)]


@dataclass(frozen=True)
class Use:
    """A statement of a law that applies to a pair: the law, what it predicts, what it reads."""
    law: Law
    statement: Statement
    target: str
    reads: list[str]
    through: tuple[str, ...] = ()          # the laws that estimate what it reads (composed)


def uses(target_name: str, sources: tuple[str, ...], declared: bool, excluded,
         frame_columns: list[str], withhold: tuple[str, ...] = ()) -> list[Use]:
    """Every statement of a law not withheld that speaks about the target, with the columns
    it reads: each of its patterns must match some column of the frame, and the target's
    excluded columns are not read (a law whose inputs are all excluded reads nothing)."""
    found = []
    for spoken in spoken_targets(target_name, sources, declared):
        for law in LAWS:
            if law.name in withhold:
                continue
            for statement in law.statements:
                if not re.fullmatch(statement.targets, spoken):
                    continue
                reads = resolve(statement.reads, frame_columns, excluded)
                present = all(resolve((p,), frame_columns, ()) for p in statement.reads)
                if reads and present:       # excluded inputs drop, the rest is still read
                    found.append(Use(law, statement, spoken, reads))
    return found


#: Quantities a law may read that other laws estimate: column -> the target whose laws do.
ESTIMATED = {"rank": "rank", "root_number": "root_number", "log_torsion": "torsion"}


def applicable(all_uses: list[Use], determined: set[str], estimates: list[Use] = ()) -> list[Use]:
    """The uses whose every read column the pair's group determines (its own columns and what
    known mathematics derives from them), and those whose missing reads other applicable laws
    estimate from what the group determines (``estimates``: the uses of the targets of
    :data:`ESTIMATED`). A composed use reads the estimators' inputs instead: the regulator is
    1 at rank 0, and the Mestre–Nagao sums estimate the rank, so the sums speak about the
    regulator through the rank. One step of composition, no more."""
    direct = [u for u in all_uses if set(u.reads) <= determined]
    by_quantity: dict[str, list[Use]] = {}
    for estimate in estimates:
        if set(estimate.reads) <= determined:
            by_quantity.setdefault(estimate.target, []).append(estimate)
    composed = []
    for use in all_uses:
        missing = [c for c in use.reads if c not in determined]
        if not missing or use in direct or not all(
                by_quantity.get(ESTIMATED.get(c, "")) for c in missing):
            continue
        through = [e for c in missing for e in by_quantity[ESTIMATED[c]]]
        reads = [c for c in use.reads if c in determined] + [c for e in through for c in e.reads]
        composed.append(Use(use.law, use.statement, use.target, list(dict.fromkeys(reads)),
                            tuple(dict.fromkeys(e.law.name for e in through))))
    return direct + composed


def estimates_for(excluded, frame_columns: list[str], withhold: tuple[str, ...] = ()
                  ) -> list[Use]:
    """The uses of the laws that estimate the quantities of :data:`ESTIMATED`."""
    return [u for target in dict.fromkeys(ESTIMATED.values())
            for u in uses(target, (), False, excluded, frame_columns, withhold)]


def applicable_to(target, determined: set[str], frame_columns: list[str],
                  withhold: tuple[str, ...] = ()) -> list[Use]:
    """The uses of the laws that apply to ``target`` (a :class:`models.targets.Target`) for a
    pair that determines ``determined``, directly or through the estimated quantities."""
    return applicable(_uses_of(target, frame_columns, withhold), determined,
                      estimates_for(target.excluded, frame_columns, withhold))


def related_to(target, determined: set[str], frame_columns: list[str],
               withhold: tuple[str, ...] = ()) -> list[str]:
    """The laws that speak about ``target`` but read more than ``determined``, even through
    the estimated quantities (:func:`related`)."""
    return related(_uses_of(target, frame_columns, withhold), determined,
                   estimates_for(target.excluded, frame_columns, withhold))


def _uses_of(target, frame_columns: list[str], withhold: tuple[str, ...]) -> list[Use]:
    return uses(target.name, target.sources, target.tree is not None, target.excluded,
                list(frame_columns), withhold)


def related(all_uses: list[Use], determined: set[str], estimates: list[Use] = ()) -> list[str]:
    """The laws that speak about the target but read what the group does not determine, even
    through the estimated quantities: named beside the verdict, never deciding it."""
    applied = {u.law.name for u in applicable(all_uses, determined, estimates)}
    return list(dict.fromkeys(u.law.name for u in all_uses
                              if not set(u.reads) <= determined and u.law.name not in applied))


def produced_by(withhold: tuple[str, ...]) -> tuple[str, ...]:
    """The derived quantities (column patterns) the withheld laws compute."""
    return tuple(p for law in LAWS if law.name in withhold for p in law.produces)


def null_without(null: str, withhold: tuple[str, ...]) -> str:
    """The null model of a target once laws are withheld: the minimalist rank model assigns
    ranks from the root number by the parity conjecture, so it is replaced by class
    permutations when that law is withheld (else the null would know what the search may not)."""
    if null == "minimalist_rank" and "parity conjecture" in withhold:
        return "permutation"
    return null
