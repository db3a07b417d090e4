"""Train/test splits that respect isogeny classes and twist families.

Isogenous curves share their L-function, hence rank, a_p and root number: a split that puts one
curve of a class in training and another in testing leaks the answer. A quadratic twist leaks
almost as much: E^d: dy² = f(x) has a_p(E^d) = χ_d(p)·a_p(E) at every p ∤ 2dN (count points:
a_p(E) = −Σ_x (f(x)/p) for y² = f(x)), so a model that has seen E reads off |a_p| of E^d.
The engine therefore splits by *twist family* (:func:`twist_family_index`): the classes joined
by isogeny or by a common j-invariant. Every split here assigns whole groups of rows (the
engine's groups are twist families). The extrapolation split trains on the families that start
at the smaller conductors and tests on those that start above a cut (:func:`extrapolation_test`):
a family never straddles it.
"""
from __future__ import annotations

from fractions import Fraction

import numpy as np
import polars as pl
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from arithmetic.weierstrass import c_invariants


def class_index(frame: pl.DataFrame) -> np.ndarray:
    """0..n_classes−1 for each row, in the sorted order of its isogeny class's label."""
    return frame.select(pl.col("isogeny_class").rank("dense").cast(pl.Int64) - 1) \
        .to_series().to_numpy()


def first_appearance(groups: np.ndarray) -> np.ndarray:
    """The labels ``groups`` renumbered 0..k−1 by order of first appearance (a subset of the
    rows of a grouping, renumbered, has no empty group)."""
    _, first, inverse = np.unique(groups, return_index=True, return_inverse=True)
    rank = np.empty(len(first), dtype=np.int64)
    rank[np.argsort(first)] = np.arange(len(first))
    return rank[inverse.reshape(-1)]


def j_invariant(ainvs: list[int]) -> Fraction:
    """j = c4³/Δ in lowest terms, Δ = (c4³ − c6²)/1728 (Silverman III.1), exactly."""
    c4, c6 = c_invariants(ainvs)
    discriminant = (c4 ** 3 - c6 ** 2) // 1728
    if discriminant == 0:
        raise ValueError(f"[{', '.join(map(str, ainvs))}] is singular (discriminant 0)")
    return Fraction(c4 ** 3, discriminant)


def twist_family_index(frame: pl.DataFrame) -> np.ndarray:
    """0..n_families−1 for each row, by order of first appearance of its twist family.

    A twist family is a connected component of the relation "same isogeny class" ∪ "same
    j-invariant" on the rows (``isogeny_class``, ``ainvs``). Curves with the same j are
    isomorphic over Q̄ (Silverman, *Arithmetic of Elliptic Curves*, III.1.4), and over Q those
    with j ≠ 0, 1728 are quadratic twists of each other (Silverman X.5.4: their twists are
    classified by Q*/Q*²). The twist of a class by d is the class of the twisted curve, so a
    family with j ≠ 0, 1728 is a class and its quadratic twists in the table, whose a_p agree
    up to the character χ_d(p). All the curves with j = 0 form one family, as do those with
    j = 1728 (their twists are sextic, resp. quartic, as well as quadratic), joined with the
    classes of their isogenous curves of other j and those classes' twists.

    The twist of a whole class is a whole class, so the families of a set of whole classes
    (a sample of the table) are the table's families restricted to it."""
    classes = class_index(frame)
    ainvs = frame["ainvs"].cast(pl.List(pl.Int128)).to_list()
    codes: dict[Fraction, int] = {}
    j_code = np.array([codes.setdefault(j_invariant(a), len(codes)) for a in ainvs],
                      dtype=np.int64)
    n_classes = int(classes.max()) + 1 if len(classes) else 0
    nodes = n_classes + len(codes)
    # a bipartite graph of classes and j-values, one edge per row: its components are families
    edges = coo_matrix((np.ones(len(classes)), (classes, n_classes + j_code)),
                       shape=(nodes, nodes))
    _, component = connected_components(edges, directed=False)
    return first_appearance(component[classes])


def grouped_folds(groups: np.ndarray, folds: int, seed: int) -> np.ndarray:
    """Fold 0..folds−1 of each row: the groups 0..k−1 (twist families or isogeny classes)
    shuffled (seeded) and dealt round-robin."""
    n_groups = groups.max() + 1
    if n_groups < folds:
        raise ValueError(f"{n_groups} groups (twist families or classes) cannot fill "
                         f"{folds} folds")
    order = np.random.default_rng(seed).permutation(n_groups)
    fold_of_group = np.empty(n_groups, dtype=np.int64)
    fold_of_group[order] = np.arange(n_groups) % folds
    return fold_of_group[groups]


def conductor_strata(conductor: np.ndarray, strata: int) -> np.ndarray:
    """Stratum 0..strata−1 of each curve: equal-count bins of the conductor (the null
    datasets' permutation strata, the topology and murmuration windows)."""
    edges = np.quantile(conductor, np.linspace(0, 1, strata + 1)[1:-1])
    return np.searchsorted(edges, conductor, side="right")


def extrapolation_test(conductor: np.ndarray, families: np.ndarray,
                       test_share: float) -> np.ndarray:
    """True for the rows of the families whose *smallest* conductor lies above the cut, the
    (1 − ``test_share``) quantile over the rows of their family's smallest conductor.

    So about ``test_share`` of the rows are tested (up to ties), every tested curve has a
    conductor above the cut, and the model is tested on families it has never seen a member
    of. A family that starts below the cut is trained on whole, its twists above the cut
    among them: testing on those would score twists of training curves (a twist by d can
    multiply the conductor by up to d², so a family spreads far above its start)."""
    start = pl.DataFrame({"f": families, "n": conductor}).select(
        pl.col("n").min().over("f")).to_series().to_numpy()
    cut = np.quantile(start, 1 - test_share)
    return start > cut


def validation_rows(groups: np.ndarray, train: np.ndarray, share: float,
                    seed: int) -> np.ndarray:
    """A seeded share of the training groups (twist families or isogeny classes) held back for
    early stopping (boolean rows)."""
    train_groups = np.unique(groups[train])
    rng = np.random.default_rng(seed)
    held = rng.choice(train_groups, size=max(1, int(share * len(train_groups))), replace=False)
    return train & np.isin(groups, held)


def sample_classes(classes: pl.Series, size: int | None, seed: int) -> pl.Series:
    """A seeded uniform sample of ``size`` distinct isogeny classes, in their table order
    (all of them when ``size`` is None or not smaller than their number).

    Sampling whole classes keeps the splits honest (no class is cut), and a uniform draw keeps
    the sample's conductor distribution that of the table (up to sampling error)."""
    distinct = classes.unique(maintain_order=True)
    if size is None or size >= len(distinct):
        return distinct
    chosen = np.sort(np.random.default_rng(seed).choice(len(distinct), size, replace=False))
    return distinct.gather(chosen)
