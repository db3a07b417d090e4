"""The search space: which (target, feature group) pairs, with which baselines and null model.

Baselines use their own inputs whatever the model's group is (the parity baseline always reads
the root number), so that every score sits beside what the known heuristics achieve.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache, partial
from typing import Callable

import numpy as np
import polars as pl

from models.baselines import (BsdIdentityBaseline, ConstantBaseline, LocalRootNumberBaseline,
                              MestreNagaoBaseline, ParityBaseline, SatoTateBaseline,
                              TorsionCongruenceBaseline)
from models.gbm import GbmModel
from models.delaunay import ShaModel
from models.nulls import delaunay_sha, minimalist_ranks, permute_classes, sato_tate_traces
from models.findings import KNOWN_GBM, SearchSettings
from models.known_quantities import formulas_for, known_columns
from models.targets import Target, sql_target, standard_targets
from arithmetic.traces import primes_up_to

#: Targets that are quantities of the BSD formula (or functions of them): the BSD identity applies.
BSD_TARGETS = {"rank", "rank_parity", "torsion", "sha_gt_1", "log_sha_an", "log_tamagawa_product",
               "log_real_period", "log_regulator", "log_special_value", "log_bsd_ratio"}


#: Known heuristics that combine several cheap invariants, each fitted as the searched GBM
#: restricted to its inputs (same settings and seed, so a model cannot beat one by capacity or
#: by seed): name -> (the targets it applies to, its inputs as feature groups or columns).
#: - L-series heuristic: L(E,1) and L'(E,1) from the a_n (Cremona 1997, §2.11), the root
#:   number, N and the real period: the analytic side of BSD, which fixes the rank (the order of
#:   vanishing)
#:   and, through L^(r)(E,1)/r! = Ω R Sha ∏c_p / #T², the size of the other quantities.
#: - Ogg's formula: v_p(Δ_min) = v_p(N) + m_p − 1 (Ogg 1967), with c_p = m_p at split
#:   multiplicative p, ties the Tamagawa product to the discriminant against the conductor;
#:   the torsion bound gcd(#E(F_p)) adds the torsion–Tamagawa links (a rational point of
#:   order ℓ forces ℓ | c_p at many multiplicative p: Lorenzini 2011).
#: - BSD heuristics: all of the above together, for every BSD quantity.
#: - parity + Mestre–Nagao: the root number fixes the parity of the rank, the Mestre–Nagao sums
#:   separate rank 0 from 2 and 1 from 3 (Mestre 1985; Nagao 1997).
#: - murmurations: the average of a_p depends on the root number (or rank) and on p/N
#:   (He–Lee–Oliver–Pozdnyakov 2022), for a_p at the held-out prime.
L_SERIES = ["l_series_0", "l_series_1", "root_number", "log_conductor", "log_real_period"]
LOCAL_DATA = ["slog_discriminant", "log_conductor", "bad_primes", "additive_primes",
              "torsion_bound"]
HEURISTIC_GBMS = {
    "L-series heuristic": (BSD_TARGETS - {"torsion", "log_tamagawa_product"}, L_SERIES),
    "Ogg's formula": ({"log_tamagawa_product"}, LOCAL_DATA),
    "BSD heuristics": (BSD_TARGETS - {"torsion"}, list(dict.fromkeys(L_SERIES + LOCAL_DATA))),
    "parity + Mestre-Nagao": ({"rank", "rank_parity"}, ["parity", "mestre_nagao"]),
    "murmurations": ({"held_out_ap"}, ["root_number", "rank", "log_conductor"]),
}


def heuristic_inputs(inputs: list[str], feature_groups: dict[str, list[str]]) -> list[str]:
    """Feature group names expanded to their columns; column names kept if some group has
    them (a heuristic whose inputs were not computed loses those inputs)."""
    known = {c for columns in feature_groups.values() for c in columns}
    return [c for item in inputs for c in feature_groups.get(item, [item]) if c in known]


def pair_known(members: list[str], feature_groups: dict[str, list[str]],
               excluded: tuple[str, ...] | list[str], columns: list[str]) -> list[str]:
    """The known quantities of a (target, search group) pair, in ``columns`` order. A member
    feature group keeps what it determines only while the target leaves its columns whole:
    the equation determines #T, Ω, w and every a_p even when the target is one of them, but the
    a_p without a_97 no longer give the Mestre–Nagao sums that contain a_97, and the other BSD
    quantities without the rank do not give the rank. So a member that lost columns to the
    target's ``excluded`` also loses the known quantities in ``excluded``, and a member that
    lost every column knows nothing."""
    found: set[str] = set()
    for member in members:
        own = feature_groups.get(member, [])
        kept = [c for c in own if c not in excluded]
        if not kept:
            continue
        derived = known_columns([member], columns)
        found |= set(derived if len(kept) == len(own) else
                     [c for c in derived if c not in excluded])
    return [c for c in columns if c in found]


@dataclass(frozen=True)
class Pair:
    """One question of the search: ``target`` from the ``columns`` of search group ``group``,
    beyond the ``known`` quantities that known mathematics computes exactly from that group
    (:func:`pair_known`)."""
    target: Target
    group: str
    columns: list[str]
    known: list[str]


def pairs(targets: dict[str, Target], search_groups: dict[str, list[str]],
          feature_groups: dict[str, list[str]], frame_columns: list[str]) -> list[Pair]:
    """Every pair of a target and a search group with a usable column (the others are
    skipped); ``frame_columns``: the model frame's, where the known quantities are looked up."""
    found = []
    for target in targets.values():
        for name, members in search_groups.items():
            columns = [c for g in members for c in feature_groups[g] if c not in target.excluded]
            if columns:
                found.append(Pair(target, name, list(dict.fromkeys(columns)),
                                  pair_known(members, feature_groups, target.excluded,
                                             frame_columns)))
    return found


def baselines_for(target: Target, columns: list[str], feature_groups: dict[str, list[str]],
                  seed: int, threads: int, gbm: dict, known: list[str] = ()) -> list:
    """The baselines for predicting ``target`` from ``columns``: the heuristic ones, and the
    known mathematics of the pair's group (``known``): every closed form that gives the target
    from the known quantities (:func:`models.known_quantities.formulas_for`) and the searched
    GBM on the known quantities alone (:data:`KNOWN_GBM`).

    Cheap invariants any number theorist has at hand (conductor, root number, a_p sums) feed
    their baselines whatever the model sees. The BSD identity and the parity rule read from
    the rank need BSD quantities, so they apply only when the model has them too.
    """
    found = [ConstantBaseline(target.task),
             GbmModel(target.task, feature_groups["conductor"], seed, threads=threads,
                      name="conductor only", **gbm),
             *formulas_for(target.name, target.task, list(known))]
    if known:
        found.append(GbmModel(target.task, list(known), seed, threads=threads, name=KNOWN_GBM,
                              **gbm))
    bsd_inputs = [c for c in feature_groups.get("bsd", []) if c not in target.excluded]
    if target.name in BSD_TARGETS and bsd_inputs and set(bsd_inputs) & set(columns):
        found.append(BsdIdentityBaseline(target.task, bsd_inputs))
    if (target.name in ("rank", "rank_parity")
            or (target.name == "root_number" and "rank" in columns)):
        found.append(ParityBaseline(target.name))
    primes = [int(c.removeprefix("ap_")) for c in feature_groups.get("ap", [])
              if c.removeprefix("ap_").isdigit()]
    if target.name in ("rank", "rank_parity", "root_number") and primes:
        found.append(LocalRootNumberBaseline(primes, target.name))
    if target.name == "torsion" and primes:
        found.append(TorsionCongruenceBaseline(primes))
    if target.name in ("rank", "rank_parity"):
        found.append(MestreNagaoBaseline(feature_groups["mestre_nagao"]))
    if target.name.startswith("ap_"):
        found.append(SatoTateBaseline(int(target.name.removeprefix("ap_")), task=target.task))
    for name, (targets, inputs) in HEURISTIC_GBMS.items():
        usable = [c for c in heuristic_inputs(inputs, feature_groups) if c not in target.excluded]
        applies = target.name in targets or (target.name.startswith("ap_")
                                             and "held_out_ap" in targets)
        if applies and usable:
            found.append(GbmModel(target.task, usable, seed, threads=threads, name=name, **gbm))
    return found


def null_for(target: Target, *, strata: int, high_rank_rate: float, primes: list[int],
             bounds: list[int], sha_model: Callable[[], ShaModel]
             ) -> Callable[[pl.DataFrame, np.random.Generator], pl.DataFrame]:
    """The null-dataset generator of ``target`` (its ``null`` field)."""
    if target.null == "minimalist_rank":
        return partial(_minimalist, rate=high_rank_rate)
    if target.null == "sato_tate":
        return partial(_sato_tate, primes=primes, bounds=bounds)
    if target.null == "delaunay_sha":
        return partial(_delaunay, sha_model=sha_model)
    return partial(_permutation, columns=target.permuted, strata=strata)


def _minimalist(frame, rng, rate):
    return minimalist_ranks(frame, rate, rng)


def _sato_tate(frame, rng, primes, bounds):
    return sato_tate_traces(frame, primes, bounds, rng)


def _delaunay(frame, rng, sha_model):
    return delaunay_sha(frame, sha_model(), rng)


def _permutation(frame, rng, columns, strata):
    return permute_classes(frame, [c for c in columns if c in frame.columns], strata, rng)


def sha_model_factory(nulls) -> Callable[[], ShaModel]:
    """The Delaunay Sha model of the ``nulls`` params, built on first use (its bank of random
    alternating matrices takes seconds) and then shared, seeded with ``nulls.seed``."""
    return lru_cache(maxsize=1)(lambda: ShaModel(
        nulls.delaunay_primes, nulls.delaunay_bank_size, nulls.delaunay_matrix_size,
        np.random.default_rng(nulls.seed)))


def search_targets(search, features,
                   feature_groups: dict[str, list[str]] | None = None) -> dict[str, Target]:
    """The targets named in the ``search`` params section (``held_out_ap`` -> ``ap_<p>``),
    built-in or declared in ``search.custom_targets`` (their ``excluded`` group names expanded
    with ``feature_groups``)."""
    every = standard_targets(search.held_out_prime, features.mestre_nagao_bounds)
    for name, spec in search.custom_targets.items():
        every[name] = sql_target(name, spec.task, spec.expression, spec.excluded, spec.null,
                                 spec.description, feature_groups)
    names = [f"ap_{search.held_out_prime}" if t == "held_out_ap" else t for t in search.targets]
    return {name: every[name] for name in names}


def search_settings(search, null_datasets: int | None = None) -> SearchSettings:
    return SearchSettings(search.folds, search.extrapolation_share, search.bootstrap,
                          null_datasets or search.null_datasets, search.null_quantile,
                          search.fdr, search.seed, search.strata, search.confirmation_share)


def pair_tools(pair: Pair, feature_groups: dict[str, list[str]], search, nulls, features,
               threads: int, sha_model: Callable[[], ShaModel]):
    """(GBM factory, baselines, null-dataset generator) of one pair, from the params sections
    ``search``, ``nulls`` and ``features``: what :func:`models.findings.evaluate` needs."""
    target = pair.target

    def make_gbm(cols, task):
        return GbmModel(task, cols, seed=search.seed, threads=threads, **search.gbm.model_dump())

    baselines = baselines_for(target, pair.columns, feature_groups, search.seed, threads,
                              search.gbm.model_dump(), pair.known)
    null = null_for(target, strata=nulls.conductor_strata,
                    high_rank_rate=nulls.minimalist_high_rank_rate,
                    primes=primes_up_to(features.primes_max),
                    bounds=features.mestre_nagao_bounds, sha_model=sha_model)
    return make_gbm, baselines, null
