"""Laws, not inputs: over every pair of the default search, no baseline reads a quantity the
pair's group does not determine, and no group is unflaggable by construction."""
from __future__ import annotations

import polars as pl
import pytest

from machinery.params import load_params
from models.features import KEY_COLUMNS, resolve_groups
from models.findings import KNOWN_GBM, TARGET, with_target
from models.laws import LAW_NAMES, LAWS, null_without, related_to
from models.search import baselines_for, pairs, search_targets
from tests.conftest import PROJECT

#: Raw columns some predictors read under another name than the feature that determines them.
RAW = {"log_torsion": "torsion"}


@pytest.fixture(scope="module")
def default_pairs(model_tables):
    params = load_params(PROJECT / "params.yaml")
    frame = model_tables["frame"]
    groups = resolve_groups(model_tables["features"].columns)
    targets = search_targets(params.search, params.features, groups)
    return frame, groups, pairs(targets, params.search.groups, groups, frame.columns)


def test_no_baseline_reads_what_its_group_does_not_determine(default_pairs):
    """Each baseline of each pair is fitted and run on the frame as the pair's group sees it:
    the curves' keys, the target, and only what the group determines (its columns and what it
    derives). A baseline that reads anything else fails on a missing column."""
    frame, groups, searched = default_pairs
    assert len(searched) > 90
    for pair in searched:
        determined = set(pair.columns) | set(pair.known)
        visible = [*KEY_COLUMNS, *sorted(determined),
                   *[RAW[c] for c in determined if c in RAW]]
        seen = with_target(frame, pair.target).select(*dict.fromkeys(visible), TARGET)
        for baseline in baselines_for(pair.target, pair.columns, groups, 1, 1,
                                      {"n_estimators": 3}, pair.known, frame.columns):
            try:
                baseline.fit(seen, TARGET).predict(seen)
            except pl.exceptions.ColumnNotFoundError as missing:
                pytest.fail(f"{pair.target.name} ~ {pair.group}: {baseline.name} reads beyond "
                            f"the group: {str(missing).splitlines()[0]}")


def test_no_group_is_unflaggable_by_construction(default_pairs):
    """What a group derives never covers its own columns, so for every search group some
    target leaves the features something to add beyond the GBM on what the pair knows."""
    frame, groups, searched = default_pairs
    open_groups = set()
    for pair in searched:
        assert not set(pair.columns) <= set(pair.known), (pair.target.name, pair.group)
        known_side = {b.name: b for b in baselines_for(
            pair.target, pair.columns, groups, 1, 1, {}, pair.known, frame.columns)}
        inputs = set(getattr(known_side.get(KNOWN_GBM), "columns", []))
        if not set(pair.columns) <= inputs:
            open_groups.add(pair.group)
    assert open_groups == {pair.group for pair in searched}


def test_rank_from_the_conductor_meets_only_the_constant(default_pairs):
    """The conductor gives no a_n, no root number and no Mestre–Nagao sum: the rank's laws are
    named, never fitted, and the question is the features' against a constant."""
    frame, groups, searched = default_pairs
    [pair] = [p for p in searched if p.target.name == "rank" and p.group == "conductor"]
    assert pair.known == []
    names = [b.name for b in baselines_for(pair.target, pair.columns, groups, 1, 1, {},
                                           pair.known, frame.columns)]
    assert names == ["constant"]
    assert {"parity conjecture", "L-series at s = 1", "Mestre-Nagao"} <= set(
        related_to(pair.target, set(pair.columns) | set(pair.known), frame.columns))
    [sha] = [p for p in searched if p.target.name == "log_sha_an" and p.group == "parity"]
    assert [b.name for b in baselines_for(sha.target, sha.columns, groups, 1, 1, {}, sha.known,
                                          frame.columns)] == ["constant"]


def test_a_withheld_law_is_no_baseline_and_its_null_goes_with_it(default_pairs):
    frame, groups, searched = default_pairs
    [pair] = [p for p in searched if p.target.name == "rank_parity" and p.group == "parity"]
    kept = [b.name for b in baselines_for(pair.target, pair.columns, groups, 1, 1, {}, pair.known,
                                          frame.columns)]
    withheld = [b.name for b in baselines_for(pair.target, pair.columns, groups, 1, 1, {},
                                              pair.known, frame.columns, ("parity conjecture",))]
    assert "parity" in kept and withheld == ["constant"]
    assert null_without("minimalist_rank", ("parity conjecture",)) == "permutation"
    assert null_without("minimalist_rank", ("BSD formula",)) == "minimalist_rank"


def test_every_law_has_a_reference_and_a_unique_name():
    assert len(set(LAW_NAMES)) == len(LAWS)
    assert all(law.reference and law.statements for law in LAWS)


def test_withhold_names_a_law():
    from machinery.params import ParamsError, validate_params
    import yaml
    raw = yaml.safe_load((PROJECT / "params.yaml").read_text())
    raw["search"]["withhold"] = ["parity conjecture", "parity conjectur"]
    with pytest.raises(ParamsError, match=r"search\.withhold: \['parity conjectur'\] are not laws"):
        validate_params(raw, "params.yaml")


def test_a_planted_product_of_traces_keeps_the_traces_as_features(default_pairs):
    """a_61·a_67 + a_97 from the a_p (a_97 and the B = 100 sums excluded): its sources' laws
    (Sato–Tate through the torsion congruences) read the torsion bound, never an a_p, so the
    features keep the product to add (through a_p/2√p, the sources being excluded)."""
    from models.targets import sql_target
    frame, groups, _ = default_pairs
    target = sql_target("planted", "regression", "ap_61 * ap_67 + 3 * ap_97",
                        ["mn_s0_100", "mn_s1_100", "mn_s2_100", "mn_s3_100", "mn_s4_100"],
                        "permutation", "", groups)
    from models.search import pair_known
    columns = [c for c in groups["ap"] if c not in target.excluded]
    known = pair_known(["ap"], groups, target.excluded, frame.columns)
    [constant, known_side] = baselines_for(target, columns, groups, 1, 1, {}, known,
                                           frame.columns)
    assert constant.name == "constant" and known_side.name == KNOWN_GBM
    assert "torsion_bound" in known_side.columns
    assert not any(c.startswith("ap_") for c in known_side.columns)
    # a source column is excluded; its normalised twin a_p/2√p stays a feature
    assert {"ap_norm_61", "ap_norm_67"} <= set(columns) and "ap_61" not in columns


def test_the_schema_names_every_law_and_a_law_without_its_name_stops_the_import(monkeypatch):
    import importlib.util
    import re
    import sys

    import machinery.params

    assert LAW_NAMES is machinery.params.LAW_NAMES == tuple(law.name for law in LAWS)
    monkeypatch.setattr(machinery.params, "LAW_NAMES", LAW_NAMES[:-1])
    spec = importlib.util.spec_from_file_location("laws_copy", PROJECT / "models/laws.py")
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "laws_copy", module)      # dataclasses look it up
    with pytest.raises(RuntimeError, match=rf"not named there \[{re.escape(repr(LAW_NAMES[-1]))}\]"
                                           r", names of no law \[\]"):
        spec.loader.exec_module(module)


def test_the_schema_names_every_built_in_target():
    """machinery.params.TARGET_NAMES (what params.yaml may name) are the built-in targets of
    models.targets, ``held_out_ap`` standing for a_p at the held-out prime."""
    from machinery.params import TARGET_NAMES
    from models.targets import standard_targets
    built_in = list(standard_targets(97, [10, 30, 100]))
    assert [("held_out_ap" if name == "ap_97" else name) for name in built_in] == \
        list(TARGET_NAMES)


def test_the_resolved_pairs_table_gives_back_the_pairs(default_pairs):
    """The table train writes (models.search.pairs_table) gives back every pair with its
    columns and known quantities, and refuses a target whose definition changed since."""
    from dataclasses import replace

    from models.search import pairs_table, read_pairs
    frame, _, searched = default_pairs
    table = pairs_table(searched)
    targets = {p.target.name: p.target for p in searched}
    again = read_pairs(table, targets, frame.columns)
    assert [(p.target.name, p.group, p.columns, p.known) for p in again.values()] == \
        [(p.target.name, p.group, p.columns, p.known) for p in searched]
    parity = table.filter(pl.col("target") == "rank_parity", pl.col("group") == "parity")
    assert "parity conjecture" in parity["laws"][0]
    changed = {**targets, "rank": replace(targets["rank"], expression=pl.col("rank") + 1)}
    with pytest.raises(ValueError, match="'rank' is not the params' target"):
        read_pairs(table, changed, frame.columns)
