"""The reference-sample stages' PARI work: chunked, resumable, the same with 1 or 2 workers,
keyed by the invariants' bounds; their features carry the Cremona curves' known quantities."""
from __future__ import annotations

import polars as pl

from arithmetic.invariants import invariants_schema
from arithmetic.reference import draw_height_sample
from arithmetic.schemas import INVARIANT_NUMBERS
from machinery.params import HeightSample, Invariants
from pipeline import reference
from pipeline.height_sample import height_chunk

SECTION = HeightSample(height=10**5, curves=40, seed=1, analytic_conductor_max=10**8,
                       workers=1, chunk_size=10, realprecision=38, lfunction_bits=64,
                       sha_tolerance=1e-6, saturation_bound=100,
                       generators_conductor_max=10**8, pari_stack_mb=256)
#: The default bounds of the invariants: 2 of the 40 curves (N = 1080, 1892) are below them.
INVARIANTS = Invariants(workers=1, chunk_size=10, pari_stack_mb=256, degree_conductor_max=700,
                        zeros=3, zeros_conductor_max=2000, selmer_conductor_max=2000)


def run(section, chunk_dir, invariants=INVARIANTS):
    pairs = draw_height_sample(section.height, section.curves, section.seed)
    return reference.compute_reference(pairs, section, invariants, chunk_dir, "test",
                                       height_chunk)


def test_a_lost_chunk_is_recomputed_and_nothing_else(tmp_path):
    first = run(SECTION, tmp_path / "chunks")
    files = sorted((tmp_path / "chunks" / "pari").iterdir())
    assert len(files) == 4
    kept = {f.name: f.stat().st_mtime_ns for f in files[1:]}
    files[0].unlink()
    again = run(SECTION, tmp_path / "chunks")
    assert again.equals(first)
    assert {f.name: f.stat().st_mtime_ns
            for f in sorted((tmp_path / "chunks" / "pari").iterdir())[1:]} == kept


def test_two_workers_give_the_same_table(tmp_path):
    one = run(SECTION, tmp_path / "one")
    two = run(SECTION.model_copy(update={"workers": 2}), tmp_path / "two")
    assert one.equals(two) and len(one) == 40


def test_the_generator_search_bound_reaches_the_chunks(tmp_path):
    """sw35475.11.3 has rank 1 and no point from its 2-descent: with the search bounded below
    its conductor its regulator stays null, with the reason; above, the Heegner point gives it."""
    import polars as pl

    from sources.stein_watkins import data_files, read_classes
    from machinery.params import SteinWatkins

    table = read_classes(data_files()["a.000"].path, 35475, 35476).filter(
        pl.col("isogeny_class") == "sw35475.11")
    section = SteinWatkins(file="a.000", conductor_min=35475, conductor_max=35476, classes=10,
                           seed=1, analytic_conductor_max=10**8, workers=1, chunk_size=10,
                           realprecision=38, lfunction_bits=64, sha_tolerance=1e-6,
                           saturation_bound=100, generators_conductor_max=35474,
                           pari_stack_mb=256)
    bounded = reference.compute_reference(table, section, INVARIANTS, tmp_path / "bounded",
                                          "test")
    row = bounded.filter(pl.col("label") == "sw35475.11.3").row(0, named=True)
    assert (row["rank"], row["regulator"], row["regulator_missing"]) == (1, None, "search bound")
    searched = reference.compute_reference(
        table, section.model_copy(update={"generators_conductor_max": 35475}), INVARIANTS,
        tmp_path / "searched", "test")
    assert searched["regulator_missing"].is_null().all()
    assert (searched["rank"] == 1).all() and (searched["sha"] >= 1).all()
    assert searched["gens"].list.len().eq(1).all()
    # the class's other curves have points from their own 2-descent: the bound does not touch them
    others = pl.col("label") != "sw35475.11.3"
    assert bounded.filter(others).equals(searched.filter(others)) and len(searched) > 1
    # the Stein–Watkins chunks carry the invariants too: the file's class is PARI's whole class
    assert (searched["class_size"] == len(searched)).all()
    assert searched["szpiro_ratio"].is_not_null().all() and searched["z1"].is_null().all()


def test_the_invariants_bounds_reach_the_chunks(tmp_path):
    """The chunks are keyed by the invariants' bounds: a lowered bound recomputes them, and the
    zeros or the 2-Selmer rank of N = 1892 become null; fewer zeros drop a column."""
    first = run(SECTION, tmp_path / "chunks")
    assert first.columns[-len(invariants_schema(3)) + 1:] == list(invariants_schema(3))[1:]
    below = pl.col("conductor") <= 2000
    assert first.filter(below)["conductor"].sort().to_list() == [1080, 1892]
    assert first.filter(below).select("z1", "z3", "two_selmer_rank").null_count().row(0) \
        == (0, 0, 0)
    assert first.filter(~below).select("z1", "two_selmer_rank").null_count().row(0) == (38, 38)
    for field, columns in (("zeros_conductor_max", ["z1", "z2", "z3"]),
                           ("selmer_conductor_max", ["two_selmer_rank"])):
        lowered = run(SECTION, tmp_path / "chunks", INVARIANTS.model_copy(update={field: 1500}))
        for column in columns:
            assert lowered.filter(below)[column].is_null().to_list() == [
                n > 1500 for n in first.filter(below)["conductor"]], field
        assert lowered.drop(columns).equals(first.drop(columns)), field
    fewer = run(SECTION, tmp_path / "chunks", INVARIANTS.model_copy(update={"zeros": 2}))
    assert "z3" not in fewer.columns and fewer["z2"].equals(first["z2"])


def test_the_sample_features_carry_the_known_quantities_of_every_group(tmp_path, pari):
    """The sample's feature table has the Cremona feature table's columns, invariants included,
    so a pair of the groups whose known quantities include them (weierstrass, arithmetic,
    invariants) can be replicated there; the sample's features without them are refused."""
    from arithmetic.bsd import bsd_table
    from sources.elldata import read_curves
    from arithmetic.invariants import invariants_table
    from models.bias import replicable
    from models.features import model_frame, resolve_groups
    from models.search import pair_known
    from pipeline.feature_table import feature_table, invariant_features
    from machinery.params import load_params
    from tests.conftest import PROJECT, TEST_INVARIANT_BOUNDS

    params = load_params(PROJECT / "params.yaml")
    computed = run(SECTION, tmp_path / "chunks")
    features = reference.sample_features(computed, params.features, 1, 100, tmp_path / "chunks")
    zeros = [f"z{k}" for k in range(1, INVARIANTS.zeros + 1)]
    assert {*INVARIANT_NUMBERS, *zeros} <= set(features.columns)
    curves = read_curves(1, 100)
    bsd = bsd_table(pari, curves, 1e-6, 128, 64)
    section = params.features.model_copy(update={"workers": 1})
    cremona = feature_table(curves, bsd,
                            invariant_features(invariants_table(pari, curves,
                                                                **TEST_INVARIANT_BOUNDS), curves),
                            section, tmp_path / "cremona")
    assert features.columns == cremona.columns
    groups = resolve_groups(cremona.columns)
    sample, cremona_columns = model_frame(features, computed), model_frame(cremona, bsd).columns
    without = sample.drop(*INVARIANT_NUMBERS, *zeros)
    for name in ("weierstrass", "arithmetic", "invariants"):
        members = params.search.groups[name]
        columns = [c for member in members for c in groups[member]]
        known = pair_known(members, groups, (), cremona_columns)
        # the equation derives the invariants; the invariants group derives nothing more
        assert {*INVARIANT_NUMBERS, *zeros} <= set(known) | set(columns), name
        assert replicable(sample, pl.col("rank"), columns, 20, 0.5, known) == (True, ""), name
        # the invariants are the invariants pair's inputs, the others' known quantities
        missing = "inputs" if name == "invariants" else "known quantities"
        tried, why = replicable(without, pl.col("rank"), columns, 20, 0.5, known)
        assert not tried and why.startswith(f"{missing} missing: degree"), name
