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
    assert {f.name: f.stat().st_mtime_ns for f in sorted((tmp_path / "chunks" / "pari").iterdir())[1:]} == kept


def test_two_workers_give_the_same_table(tmp_path):
    one = run(SECTION, tmp_path / "one")
    two = run(SECTION.model_copy(update={"workers": 2}), tmp_path / "two")
    assert one.equals(two) and len(one) == 40
