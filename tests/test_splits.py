"""Splits never separate the curves of one isogeny class, nor of one twist family."""
from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from models.splits import (class_index, extrapolation_test, grouped_folds, j_invariant,
                           sample_classes, twist_family_index, validation_rows)
from sources.elldata import read_curves


@pytest.fixture(scope="module")
def curves() -> pl.DataFrame:
    """Every curve of conductor below 1000 (5113 curves, 2463 classes)."""
    return read_curves(1, 1000)


def ainvs_of(curves: pl.DataFrame) -> list[list[int]]:
    return curves["ainvs"].cast(pl.List(pl.Int128)).to_list()


def row_of(curves: pl.DataFrame) -> dict[str, int]:
    return {label: i for i, label in enumerate(curves["label"])}


def one_per_group(groups: np.ndarray, values: np.ndarray) -> bool:
    """Does every group take one value only?"""
    per_group = pl.DataFrame({"g": groups, "v": values}).group_by("g").agg(pl.col("v").n_unique())
    return per_group["v"].max() == 1


def test_folds_keep_classes_whole_and_are_balanced(curves):
    frame = curves
    classes = class_index(frame)
    folds = grouped_folds(classes, 5, seed=1)
    per_class = pl.DataFrame({"c": classes, "f": folds}).group_by("c").agg(pl.col("f").n_unique())
    assert per_class["f"].max() == 1
    sizes = np.bincount(folds)
    assert len(sizes) == 5 and sizes.min() > 0.8 * sizes.max()
    assert np.array_equal(folds, grouped_folds(classes, 5, seed=1))
    assert not np.array_equal(folds, grouped_folds(classes, 5, seed=2))
    with pytest.raises(ValueError, match="2 groups .* cannot fill 5 folds"):
        grouped_folds(np.array([0, 0, 1]), 5, seed=0)


def test_j_invariant_is_pari_s_exactly(curves, pari):
    for ainvs in ainvs_of(curves)[::7]:
        assert str(j_invariant(ainvs)) == str(pari.ellinit(ainvs).j()), ainvs
    with pytest.raises(ValueError, match="singular"):
        j_invariant([0, 0, 0, 0, 0])


#: (curve, fundamental discriminant D, the table's curve isomorphic to its twist by D): PARI's
#: elltwist then ellminimalmodel gives exactly the table's a-invariants (checked below).
TWISTS = [("11a1", -11, "121d2"), ("11a3", -11, "121d1"), ("14a1", -7, "98a3"),
          ("11a1", -4, "176b2"), ("37a1", -4, "592c1"), ("11a1", 5, "275b2"),
          ("11a1", -3, "99d2"), ("15a1", -4, "240d4")]


def test_quadratic_twists_share_a_family_and_a_fold(curves, pari):
    ainvs, row = ainvs_of(curves), row_of(curves)
    families = twist_family_index(curves)
    folds = grouped_folds(families, 5, seed=0)
    for label, discriminant, twist in TWISTS:
        model = pari.ellminimalmodel(pari.elltwist(pari.ellinit(ainvs[row[label]]), discriminant))
        assert [int(a) for a in model[:5]] == ainvs[row[twist]], (label, discriminant, twist)
        a, b = row[label], row[twist]
        assert curves["isogeny_class"][a] != curves["isogeny_class"][b]
        assert families[a] == families[b] and folds[a] == folds[b], (label, twist)
    # 121d1 is the twist of 11a3, not of 11a1; the class joins them all
    assert families[row["11a1"]] == families[row["121d1"]] == families[row["121d3"]]
    assert families[row["11a1"]] != families[row["37a1"]]


def test_j_zero_and_1728_each_form_one_family(curves, pari):
    ainvs, row = ainvs_of(curves), row_of(curves)
    families = twist_family_index(curves)
    j = [pari.ellinit(a).j() for a in ainvs]
    has = {value: np.array([x == value for x in j]) for value in (0, 1728)}
    for value, labels in ((0, ["27a1", "27a3", "36a1", "144a1", "243b1"]),
                          (1728, ["32a1", "32a2", "64a1", "288a1", "576h2"])):
        assert all(has[value][row[label]] for label in labels), value
        assert len(np.unique(families[has[value]])) == 1, value
        assert has[value].sum() > 2 * len(labels)
    assert families[has[0]][0] != families[has[1728]][0]
    # isogeny joins 27a2 (j = -12288000) to the j = 0 family
    assert families[row["27a2"]] == families[row["27a1"]]


def test_families_are_first_appearance_unions_of_classes(curves):
    families = twist_family_index(curves)
    assert families[0] == 0 and np.all(np.diff(np.maximum.accumulate(families)) <= 1)
    assert one_per_group(class_index(curves), families)
    assert families.max() + 1 == 1619 < class_index(curves).max() + 1 == 2463
    assert np.array_equal(families, twist_family_index(curves))


def test_a_sample_of_whole_classes_keeps_its_families(curves):
    """The twist of a whole class is a whole class: the families of a sample of classes are
    the table's families restricted to it."""
    chosen = sample_classes(curves["isogeny_class"], 600, seed=3)
    sample = curves.filter(pl.col("isogeny_class").is_in(chosen.implode()))
    restricted = twist_family_index(curves)[curves["isogeny_class"].is_in(chosen.implode())]
    own = twist_family_index(sample)
    assert one_per_group(own, restricted) and one_per_group(restricted, own)


def test_class_folds_leak_through_twists_and_family_folds_do_not(curves):
    """Twists share their j-invariant, a feature of the equation. A model that only remembers
    the training mean of the target per j-invariant predicts a per-family quantity across
    class-only folds, and nothing across family folds, where no j-invariant lies on both
    sides."""
    codes: dict = {}
    j = np.array([codes.setdefault(j_invariant(a), len(codes)) for a in ainvs_of(curves)])
    families = twist_family_index(curves)
    target = np.random.default_rng(0).normal(size=families.max() + 1)[families]
    correlations = {}
    for name, groups in (("classes", class_index(curves)), ("families", families)):
        folds = grouped_folds(groups, 4, seed=0)
        prediction, shared = np.empty(len(target)), 0
        for fold in range(4):
            test = folds == fold
            means = pl.DataFrame({"j": j[~test], "y": target[~test]}).group_by("j").agg(
                pl.col("y").mean())
            remembered = dict(zip(means["j"].to_list(), means["y"].to_list()))
            prediction[test] = [remembered.get(v, target[~test].mean()) for v in j[test]]
            shared += np.isin(j[test], j[~test]).sum()
        correlations[name] = (np.corrcoef(prediction, target)[0, 1], shared)
    assert correlations["classes"][0] > 0.5 and correlations["classes"][1] > 1000
    assert abs(correlations["families"][0]) < 0.15 and correlations["families"][1] == 0


def test_the_engine_splits_whole_families(curves):
    """Cross-validation folds, early-stopping rows and confirmation rows of the findings
    engine each hold whole twist families."""
    from models.baselines import ConstantBaseline
    from models.findings import (FAMILY, SearchSettings, confirmation_families,
                                 cross_validated, with_families)
    from models.gbm import GbmModel
    from models.targets import Target

    frame = curves.with_columns(log_n=pl.col("conductor").log())
    target = Target("log_n", "regression", pl.col("log_n"), ("log_n",), ("conductor",))
    settings = SearchSettings(folds=4, extrapolation_share=0.2, bootstrap=10, null_datasets=2,
                              null_quantile=0.95, fdr=0.05, seed=5)
    make_gbm = lambda columns, task: GbmModel(task, columns, seed=0, n_estimators=5)  # noqa: E731
    oof = cross_validated(frame, target, ["number"], make_gbm, [ConstantBaseline("regression")],
                          settings)
    families = twist_family_index(curves)
    assert one_per_group(families, oof.folds) and one_per_group(oof.families, oof.folds)
    assert not one_per_group(families, grouped_folds(class_index(curves), 4, seed=5))
    row = row_of(curves)
    assert oof.folds[row["11a1"]] == oof.folds[row["121d2"]] == oof.folds[row["275b2"]]
    held = validation_rows(oof.families, oof.folds != 0, 0.15, seed=0)
    assert one_per_group(families, held)
    confirmation = confirmation_families(with_families(frame), 0.3, seed=5)
    assert one_per_group(families, confirmation) and 0.2 < confirmation.mean() < 0.4
    assert with_families(frame)[FAMILY].to_list() == families.tolist()


def test_extrapolation_tests_whole_families_starting_above_the_cut(curves):
    conductor = curves["conductor"].to_numpy()
    families = twist_family_index(curves)
    test = extrapolation_test(conductor, families, 0.2)
    assert one_per_group(families, test)
    start = pl.DataFrame({"f": families, "n": conductor}).select(
        pl.col("n").min().over("f")).to_series().to_numpy()
    assert start[test].min() > start[~test].max()
    assert conductor[test].min() > start[~test].max()
    assert 0.15 < test.mean() < 0.25
    # a twist above the cut of a family starting below it is trained on, never tested
    row = row_of(curves)
    assert not test[row["11a1"]] and not test[row["275b2"]]
    # the class-wise cut on the conductor alone would test twists of training curves
    by_conductor = conductor > np.quantile(conductor, 0.8)
    assert not one_per_group(families, by_conductor)


def test_validation_rows_are_whole_training_classes():
    classes = np.repeat(np.arange(100), 3)
    train = classes < 80
    held = validation_rows(classes, train, 0.25, seed=0)
    assert not np.any(held & ~train)
    assert len(np.unique(classes[held])) == 20
    assert np.all(np.isin(classes[train & ~held], classes[held], invert=True))


def test_class_sample_is_seeded_whole_and_spread_over_conductors(curves):
    frame = curves
    classes = frame["isogeny_class"]
    chosen = sample_classes(classes, 300, seed=7)
    assert len(chosen) == 300 and chosen.n_unique() == 300
    assert chosen.to_list() == sample_classes(classes, 300, seed=7).to_list()
    assert chosen.to_list() != sample_classes(classes, 300, seed=8).to_list()
    kept = frame.filter(pl.col("isogeny_class").is_in(chosen.to_list()))
    assert kept["isogeny_class"].n_unique() == 300
    # uniform over classes: the median conductor moves by sampling error only
    median = frame.unique("isogeny_class")["conductor"].median()
    assert abs(kept.unique("isogeny_class")["conductor"].median() - median) < 0.15 * median
    assert (sample_classes(classes, None, seed=7).to_list()
            == classes.unique(maintain_order=True).to_list())
    assert len(sample_classes(classes, 10**6, seed=7)) == classes.n_unique()
