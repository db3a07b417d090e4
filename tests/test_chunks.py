"""Chunked, resumable, parallel work: whole groups per chunk, only missing chunks redone."""
from __future__ import annotations

import polars as pl
import pytest

from machinery.chunks import plan_chunks, run_chunks, source_digest


def table(groups: list[int]) -> pl.DataFrame:
    """One row per member: ``groups`` gives the size of each consecutive group."""
    labels = [f"g{g}m{m}" for g, size in enumerate(groups) for m in range(size)]
    return pl.DataFrame({"label": labels, "group": [label.split("m")[0] for label in labels]})


def no_setup() -> None:
    pass


def with_length(rows: pl.DataFrame) -> pl.DataFrame:
    return rows.with_columns(pl.col("label").str.len_chars().alias("length"))


def test_chunks_hold_whole_groups():
    frame = table([3, 1, 4, 1, 5, 9, 2, 6])
    chunks = plan_chunks(frame, "group", 5, salt="s")
    assert [(c.start, c.stop) for c in chunks] == [(0, 8), (8, 14), (14, 23), (23, 31)]
    for c in chunks:
        inside = set(frame["group"][c.start:c.stop])
        outside = set(frame["group"][:c.start]) | set(frame["group"][c.stop:])
        assert not inside & outside


def test_keys_follow_content_and_salt():
    frame = table([2, 2, 2])
    keys = [c.key for c in plan_chunks(frame, "group", 2, salt="a")]
    assert keys == [c.key for c in plan_chunks(frame, "group", 2, salt="a")]
    assert not set(keys) & {c.key for c in plan_chunks(frame, "group", 2, salt="b")}
    changed = frame.with_columns(pl.when(pl.int_range(pl.len()) == 3).then(pl.lit("x"))
                                 .otherwise(pl.col("label")).alias("label"))
    new_keys = [c.key for c in plan_chunks(changed, "group", 2, salt="a")]
    assert [k == n for k, n in zip(keys, new_keys)] == [True, False, True]


def test_rerun_redoes_only_missing_chunks(tmp_path):
    frame = table([2] * 10)
    chunks = plan_chunks(frame, "group", 4, salt="s")
    seen = []

    def failing_on_g3(rows):
        seen.append(rows["group"][0])
        if "g3" in rows["group"].to_list():
            raise RuntimeError("boom")
        return with_length(rows)

    with pytest.raises(RuntimeError, match="boom"):
        run_chunks(frame, chunks, tmp_path, failing_on_g3, workers=1, initializer=no_setup)
    assert seen == ["g0", "g2"] and len(list(tmp_path.iterdir())) == 1  # chunk 0 kept

    (tmp_path / "junk.parquet").write_text("stale")
    (tmp_path / f"{chunks[1].filename}.tmp-123").write_text("partial write")
    seen.clear()
    paths = run_chunks(frame, chunks, tmp_path,
                       lambda r: (seen.append(r["group"][0]), with_length(r))[1],
                       workers=1, initializer=no_setup)
    assert seen == ["g2", "g4", "g6", "g8"]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(c.filename for c in chunks)
    assert pl.read_parquet(paths)["label"].to_list() == frame["label"].to_list()


def test_two_workers_give_the_same_table(tmp_path):
    frame = table([3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5])
    chunks = plan_chunks(frame, "group", 6, salt="s")
    one = run_chunks(frame, chunks, tmp_path / "one", with_length, workers=1, initializer=no_setup)
    two = run_chunks(frame, chunks, tmp_path / "two", with_length, workers=2, initializer=no_setup)
    assert pl.read_parquet(one).equals(pl.read_parquet(two))
    assert pl.read_parquet(two).equals(with_length(frame))


def test_source_digest_follows_contents_and_order(tmp_path):
    first, second = tmp_path / "a", tmp_path / "b"
    first.write_bytes(b"x" * 3_000_000)
    second.write_bytes(b"x" * 3_000_000)
    assert source_digest(first) == source_digest(second)
    assert source_digest(first, second) != source_digest(first)
    second.write_bytes(b"x" * 2_999_999 + b"y")
    assert source_digest(first) != source_digest(second)
    assert source_digest(first, second) != source_digest(second, first)
