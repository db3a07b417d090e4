"""Null models keep the schema and the structure they must keep, and break the rest."""
from __future__ import annotations

import math

import numpy as np
import polars as pl
import pytest

from arithmetic.primes import primes_up_to
from arithmetic.traces import ap_column
from models.delaunay import ShaModel, trivial_probability
from models.nulls import (class_starts, delaunay_sha, gaussian_cloud, minimalist_ranks,
                          permute_classes, sato_tate_traces, shuffled_columns)
from models.splits import conductor_strata


@pytest.fixture
def frame(model_tables) -> pl.DataFrame:
    return model_tables["frame"]


def rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


def test_permutation_moves_whole_classes_within_strata(frame):
    null = permute_classes(frame, ["rank", "torsion", "sha"], strata=5, rng=rng())
    assert null.schema == frame.schema
    assert null.drop("rank", "torsion", "sha").equals(frame.drop("rank", "torsion", "sha"))
    starts, sizes = class_starts(frame)
    stratum = np.repeat(conductor_strata(frame["conductor"].to_numpy()[starts], 5), sizes)
    for s in range(5):
        real = frame.filter(stratum == s)
        permuted = null.filter(stratum == s)
        assert len(real) == len(permuted)
        for column in ("rank", "torsion", "sha"):
            assert sorted(real[column].to_list()) == sorted(permuted[column].to_list())
    # within a class the values still come from one class: rank constant on every class
    assert null.group_by("isogeny_class").agg(pl.col("rank").n_unique())["rank"].max() == 1
    # and the permutation did move things
    assert (null["rank"] != frame["rank"]).sum() > 100


def test_permutation_is_seeded(frame):
    a = permute_classes(frame, ["rank"], 3, rng(7))
    assert a.equals(permute_classes(frame, ["rank"], 3, rng(7)))
    assert not a.equals(permute_classes(frame, ["rank"], 3, rng(8)))


def test_sato_tate_traces(frame, model_tables):
    section = model_tables["section"]
    primes = primes_up_to(section.primes_max)
    null = sato_tate_traces(frame, primes, section.mestre_nagao_bounds, rng(1))
    assert null.schema == frame.schema
    assert null.select("label", "rank", "log_conductor").equals(
        frame.select("label", "rank", "log_conductor"))
    conductor = frame["conductor"].to_numpy()
    torsion = frame["torsion"].to_numpy()
    for p in primes:
        real, fake = frame[ap_column(p)].to_numpy(), null[ap_column(p)].to_numpy()
        bad = conductor % p == 0
        assert np.array_equal(real[bad], fake[bad])                     # w_p kept
        assert np.all(np.abs(fake[~bad]) <= 2 * math.sqrt(p))          # Hasse
        if p > 2:
            assert np.all((p + 1 - fake[~bad]) % torsion[~bad] == 0)   # torsion congruence
    assert null.group_by("isogeny_class").agg(pl.col("ap_97").n_unique())["ap_97"].max() == 1
    x = np.concatenate([null[f"ap_norm_{p}"].to_numpy()[conductor % p != 0]
                        for p in primes if p > 50])
    assert np.mean(x ** 2) == pytest.approx(1 / 4, abs=0.01)
    assert np.mean(x ** 4) == pytest.approx(1 / 8, abs=0.01)
    # the Mestre-Nagao sums are recomputed, and no longer know the rank
    means = null.group_by("rank").agg(pl.col("mn_s0_100").mean()).sort("rank")["mn_s0_100"]
    assert abs(means[0] - means[1]) < 0.1 < abs(
        frame.filter(pl.col("rank") == 0)["mn_s0_100"].mean()
        - frame.filter(pl.col("rank") == 1)["mn_s0_100"].mean())


def test_minimalist_ranks(frame):
    null = minimalist_ranks(frame, 0.05, rng(2))
    assert null.schema == frame.schema
    rank, w = null["rank"].to_numpy(), null["root_number"].to_numpy()
    assert np.all((-1) ** rank == w)
    starts, _ = class_starts(frame)
    assert np.mean(rank[starts] >= 2) == pytest.approx(0.05, abs=0.015)
    assert np.all(minimalist_ranks(frame, 0.0, rng(2))["rank"].to_numpy() <= 1)


def test_delaunay_sha(frame):
    model = ShaModel([2, 3], bank_size=5000, matrix_size=12, rng=rng(3))
    null = delaunay_sha(frame, model, rng(4))
    assert null.schema == frame.schema
    sha = null["sha"].to_numpy()
    assert np.all(np.sqrt(sha).round() ** 2 == sha)
    assert (np.allclose(null["sha_an"].to_numpy(), sha)
            and np.allclose(null["log_sha_an"].exp(), sha))
    rank0 = frame["rank"].to_numpy() == 0
    expected = trivial_probability(2, 0) * trivial_probability(3, 0)
    n = rank0.sum()
    assert abs(np.mean(sha[rank0] == 1) - expected) < 5 * math.sqrt(expected * (1 - expected) / n)


def test_shuffled_columns_keep_marginals_and_break_dependence(frame):
    columns = ["log_real_period", "log_conductor"]
    null = shuffled_columns(frame, columns, rng(5))
    assert null.schema == frame.schema
    for c in columns:
        assert sorted(null[c].to_list()) == sorted(frame[c].to_list())
    real = np.corrcoef(frame["log_real_period"], frame["log_conductor"])[0, 1]
    fake = np.corrcoef(null["log_real_period"], null["log_conductor"])[0, 1]
    assert abs(real) > 0.1 and abs(fake) < 0.05


def test_gaussian_cloud_keeps_mean_and_covariance(frame):
    columns = ["log_real_period", "log_special_value", "log_conductor"]
    null = gaussian_cloud(frame, columns, rng(6))
    assert null.schema == frame.schema
    real, fake = frame.select(columns).to_numpy(), null.select(columns).to_numpy()
    assert np.allclose(real.mean(axis=0), fake.mean(axis=0), atol=0.05)
    assert np.allclose(np.cov(real, rowvar=False), np.cov(fake, rowvar=False), atol=0.05)


def test_classes_must_be_contiguous(frame):
    with pytest.raises(ValueError, match="contiguous"):
        minimalist_ranks(frame.sort("number"), 0.0, rng())
