"""The reference-sample stages' PARI work: chunked, resumable, the same with 1 or 2 workers."""
from __future__ import annotations

from functools import partial

from arithmetic.reference import draw_height_sample
from pipeline import reference
from pipeline.height_sample import height_chunk
from pipeline.params import HeightSample

SECTION = HeightSample(height=10**5, curves=40, seed=1, analytic_conductor_max=10**8,
                       workers=1, chunk_size=10, realprecision=38, lfunction_bits=64,
                       sha_tolerance=1e-6, saturation_bound=100,
                       generators_conductor_max=10**8, pari_stack_mb=256)


def run(section, chunk_dir):
    task = partial(height_chunk, **reference.table_settings(section))
    pairs = draw_height_sample(section.height, section.curves, section.seed)
    return reference.compute_reference(pairs, section, chunk_dir, "test", task)


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

    from arithmetic.stein_watkins import data_files, read_classes
    from pipeline.params import SteinWatkins

    table = read_classes(data_files()["a.000"].path, 35475, 35476).filter(
        pl.col("isogeny_class") == "sw35475.11")
    section = SteinWatkins(file="a.000", conductor_min=35475, conductor_max=35476, classes=10,
                           seed=1, analytic_conductor_max=10**8, workers=1, chunk_size=10,
                           realprecision=38, lfunction_bits=64, sha_tolerance=1e-6,
                           saturation_bound=100, generators_conductor_max=35474,
                           pari_stack_mb=256)
    bounded = reference.compute_reference(table, section, tmp_path / "bounded", "test")
    row = bounded.filter(pl.col("label") == "sw35475.11.3").row(0, named=True)
    assert (row["rank"], row["regulator"], row["regulator_missing"]) == (1, None, "search bound")
    searched = reference.compute_reference(
        table, section.model_copy(update={"generators_conductor_max": 35475}),
        tmp_path / "searched", "test")
    assert searched["regulator_missing"].is_null().all()
    assert (searched["rank"] == 1).all() and (searched["sha"] >= 1).all()
    assert searched["gens"].list.len().eq(1).all()
    # the class's other curves have points from their own 2-descent: the bound does not touch them
    others = pl.col("label") != "sw35475.11.3"
    assert bounded.filter(others).equals(searched.filter(others)) and len(searched) > 1
