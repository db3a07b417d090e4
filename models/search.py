"""The search space: which (target, feature group) pairs, with which baselines and null model.

A pair's baselines are the laws of known mathematics that apply to it (:mod:`models.laws`: a
law applies when the pair's group determines every quantity it reads), the constant, and the
GBM on everything the pair knows: the quantities known mathematics derives from the group and
what the applicable laws read. Laws that speak about the target but read more than the group
gives are named beside the verdict, never fitted.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache, partial
from typing import Callable

import numpy as np
import polars as pl

from arithmetic.primes import primes_up_to
from models.baselines import ConstantBaseline
from models.delaunay import ShaModel
from models.findings import KNOWN_GBM, SearchSettings, evaluate
from models.gbm import GbmModel
from models.known_quantities import known_columns
from models.laws import Context, applicable_to, null_without, produced_by
from models.nulls import delaunay_sha, minimalist_ranks, permute_classes, sato_tate_traces
from models.targets import Target, sql_target, standard_targets
from models.verdicts import decide


def pair_known(members: list[str], feature_groups: dict[str, list[str]],
               excluded: tuple[str, ...] | list[str], columns: list[str],
               withhold: tuple[str, ...] = ()) -> list[str]:
    """The known quantities of a (target, search group) pair, in ``columns`` order: what known
    mathematics derives exactly from each member feature group beyond that member's own
    columns. Knowing an input is not knowing a law: the conductor group, the root number and
    the BSD quantities derive nothing beyond themselves (the BSD formula among the latter is a
    law, :mod:`models.laws`), and whether the rank depends on the conductor is a question.
    Another member may derive a member's columns: the equation gives the a_p.

    A member keeps what it determines only while the target leaves its columns whole: the
    equation determines #T, Ω, w and every a_p even when the target is one of them, but the
    a_p without a_97 no longer give the Mestre–Nagao sums that contain a_97. So a member that
    lost columns to the target's ``excluded`` also loses the known quantities in ``excluded``,
    and a member that lost every column knows nothing. What a ``withhold``-en law computes
    (:func:`models.laws.produced_by`) is not known either."""
    found: set[str] = set()
    for member in members:
        own = feature_groups[member]
        kept = [c for c in own if c not in excluded]
        if not kept:
            continue
        derived = [c for c in known_columns([member], columns) if c not in own]
        found |= set(derived if len(kept) == len(own) else
                     [c for c in derived if c not in excluded])
    withheld = produced_by(withhold)
    return [c for c in columns if c in found
            and not any(re.fullmatch(p, c) for p in withheld)]


@dataclass(frozen=True)
class Pair:
    """One question of the search: ``target`` from the ``columns`` of search group ``group``,
    beyond the ``known`` quantities that known mathematics computes exactly from that group
    (:func:`pair_known`)."""
    target: Target
    group: str
    columns: list[str]
    known: list[str]
    frame_columns: list[str] = field(default_factory=list, repr=False)


def pairs(targets: dict[str, Target], search_groups: dict[str, list[str]],
          feature_groups: dict[str, list[str]], frame_columns: list[str],
          withhold: tuple[str, ...] = ()) -> list[Pair]:
    """Every pair of a target and a search group with a usable column (the others are
    skipped); ``frame_columns``: the model frame's, where the known quantities are looked up."""
    found = []
    for target in targets.values():
        for name, members in search_groups.items():
            columns = [c for g in members for c in feature_groups[g] if c not in target.excluded]
            if columns:
                found.append(Pair(target, name, list(dict.fromkeys(columns)),
                                  pair_known(members, feature_groups, target.excluded,
                                             frame_columns, withhold), frame_columns))
    return found


#: The resolved pairs (the train stage writes them, ``paths.pairs``): what each pair of the
#: search predicts and from what, resolved once. ``definition``: the target as computed
#: (:attr:`models.targets.Target.definition`); ``null``: its null model with the withheld laws
#: taken into account; ``laws``: the laws of known mathematics that apply to it (its baselines).
PAIRS_SCHEMA = {"target": pl.String, "group": pl.String, "task": pl.String,
                "description": pl.String, "definition": pl.String, "null": pl.String,
                "columns": pl.List(pl.String), "known": pl.List(pl.String),
                "laws": pl.List(pl.String)}


def pairs_table(found: list[Pair], withhold: tuple[str, ...] = ()) -> pl.DataFrame:
    """The resolved pairs as a table (:data:`PAIRS_SCHEMA`), in search order."""
    rows = []
    for pair in found:
        uses = applicable_to(pair.target, set(pair.columns) | set(pair.known),
                             pair.frame_columns, withhold)
        rows.append({"target": pair.target.name, "group": pair.group, "task": pair.target.task,
                     "description": pair.target.description,
                     "definition": pair.target.definition,
                     "null": null_without(pair.target.null, withhold),
                     "columns": pair.columns, "known": pair.known,
                     "laws": list(dict.fromkeys(use.law.name for use in uses))})
    return pl.DataFrame(rows, schema=PAIRS_SCHEMA)


def read_pairs(table: pl.DataFrame, targets: dict[str, Target],
               frame_columns: list[str]) -> dict[tuple[str, str], Pair]:
    """The pairs of a resolved pairs table (:func:`pairs_table`) by (target, group), with the
    ``targets`` of the same params; a ValueError if a target's definition differs from the
    one the table was resolved with (the params changed since the train stage ran)."""
    found = {}
    for row in table.iter_rows(named=True):
        target = targets.get(row["target"])
        if target is None or target.definition != row["definition"]:
            raise ValueError(f"the pairs table's target {row['target']!r} is not the params' "
                             "target of that name; rerun `dvc repro train`")
        found[(row["target"], row["group"])] = Pair(target, row["group"], row["columns"],
                                                    row["known"], frame_columns)
    return found


def baselines_for(target: Target, columns: list[str], feature_groups: dict[str, list[str]],
                  seed: int, threads: int, gbm: dict, known: list[str] = (),
                  frame_columns: list[str] | None = None, withhold: tuple[str, ...] = ()
                  ) -> list:
    """The baselines of predicting ``target`` from ``columns`` (with the ``known`` quantities
    the group derives): the constant; each applicable law's predictor (:mod:`models.laws`;
    for a declared target its sources' laws only feed the next one, since they predict
    another quantity); and the searched GBM on everything the pair knows (:data:`KNOWN_GBM`:
    the known quantities and what the applicable laws read), whose added value the features
    must beat. ``frame_columns``: the model frame's (by default the feature groups' and the
    known quantities'); ``withhold``: laws left out for this run. Each law's predictor names
    its law in ``law``."""
    determined = set(columns) | set(known)
    universe = frame_columns or list(dict.fromkeys(
        [c for group in feature_groups.values() for c in group] + list(known)))
    found: list = [ConstantBaseline(target.task)]
    reads: list[str] = []
    for use in applicable_to(target, determined, universe, withhold):
        reads += use.reads
        if target.tree is not None:
            continue
        if use.through:          # the law through estimates: the searched GBM on their inputs
            predictor = GbmModel(target.task, use.reads, seed, threads=threads,
                                 name=f"{use.law.name} through {', '.join(use.through)}", **gbm)
        else:
            predictor = use.statement.build(Context(target.name, target.task, use.reads, seed,
                                                    threads, gbm))
        if predictor.name not in {b.name for b in found}:
            predictor.law = use.law.name
            found.append(predictor)
    inputs = [c for c in universe if c in set(known) | set(reads)]
    if inputs:
        found.append(GbmModel(target.task, inputs, seed, threads=threads, name=KNOWN_GBM, **gbm))
    return found


def null_for(target: Target, *, strata: int, high_rank_rate: float, primes: list[int],
             bounds: list[int], sha_model: Callable[[], ShaModel],
             withhold: tuple[str, ...] = ()
             ) -> Callable[[pl.DataFrame, np.random.Generator], pl.DataFrame]:
    """The null-dataset generator of ``target`` (its ``null`` field, unless it is built on a
    withheld law: :func:`models.laws.null_without`)."""
    null = null_without(target.null, withhold)
    if null == "minimalist_rank":
        return partial(_minimalist, rate=high_rank_rate)
    if null == "sato_tate":
        return partial(_sato_tate, primes=primes, bounds=bounds)
    if null == "delaunay_sha":
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
                          search.fdr, search.seed, search.strata, search.confirmation_share,
                          tuple(search.withhold))


def pair_tools(pair: Pair, feature_groups: dict[str, list[str]], search, nulls, features,
               threads: int, sha_model: Callable[[], ShaModel]):
    """(GBM factory, baselines, null-dataset generator) of one pair, from the params sections
    ``search``, ``nulls`` and ``features``: what :func:`models.findings.evaluate` needs."""
    target = pair.target

    def make_gbm(cols, task):
        return GbmModel(task, cols, seed=search.seed, threads=threads, **search.gbm.model_dump())

    withhold = tuple(search.withhold)
    baselines = baselines_for(target, pair.columns, feature_groups, search.seed, threads,
                              search.gbm.model_dump(), pair.known, pair.frame_columns or None,
                              withhold)
    null = null_for(target, strata=nulls.conductor_strata,
                    high_rank_rate=nulls.minimalist_high_rank_rate,
                    primes=primes_up_to(features.primes_max),
                    bounds=features.mestre_nagao_bounds, sha_model=sha_model,
                    withhold=withhold)
    return make_gbm, baselines, null


def evaluate_alone(frame: pl.DataFrame, target: Target, group: str,
                   feature_groups: dict[str, list[str]], search, nulls, features, threads: int,
                   sha_model: Callable[[], ShaModel] | None = None) -> dict:
    """One (target, search group) evaluated as the train stage evaluates a pair (its group's
    known quantities, the laws not in ``search.withhold`` that apply, its null model), with
    every test run, and decided on its own: Benjamini–Hochberg over one test is the raw level,
    and the bias checks, which need the reference samples, are not part of it. What a positive
    control or a planted signal needs."""
    withhold = tuple(search.withhold)
    [pair] = pairs({target.name: target}, {group: search.groups[group]}, feature_groups,
                   frame.columns, withhold)
    make_gbm, baselines, null = pair_tools(pair, feature_groups, search, nulls, features,
                                           threads, sha_model or sha_model_factory(nulls))
    result = evaluate(frame, target, group, pair.columns, make_gbm, baselines, null,
                      search_settings(search), pair.known, screen=False)
    return decide([result.row()], search.fdr)[0]
