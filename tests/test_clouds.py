"""The clouds of curves and their null clouds (models/clouds.py) on conductors below 1000."""
from __future__ import annotations

import numpy as np

from arithmetic.primes import primes_up_to
from models.clouds import BSD_COLUMNS, clouds, null_clouds

PRIMES = primes_up_to(50)


def test_clouds_by_family_group_and_window(model_tables):
    frame = model_tables["frame"]
    found = clouds(frame, [(1, 500), (500, 1000)], PRIMES, 30)
    names = {(c.family, c.group, c.window) for c in found}
    assert ("bsd", "rank 0", (1, 500)) in names and ("bsd", "rank 1", (500, 1000)) in names
    assert {("ap", g, (1, 1000)) for g in ("rank 0", "rank 1", "root number +1",
                                           "root number -1")} <= names
    assert ("weierstrass", "rank 2", (1, 1000)) not in names or len(
        [c for c in found if c.group == "rank 2"][0].rows) >= 30
    for cloud in found:
        rows = frame[cloud.rows]
        assert rows["conductor"].is_between(*cloud.window, closed="left").all()
        if cloud.group.startswith("rank"):
            assert (rows["rank"].clip(0, 2) == int(cloud.group[-1])).all()
        if cloud.family == "ap":              # one curve per isogeny class
            assert rows["isogeny_class"].n_unique() == len(rows)
        assert cloud.points(frame).shape == (len(cloud.rows), len(cloud.columns))
    bsd = next(c for c in found if c.family == "bsd")
    assert list(bsd.columns) == BSD_COLUMNS


def test_null_clouds_keep_what_they_promise(model_tables):
    frame = model_tables["frame"]
    found = clouds(frame, [(1, 1000)], PRIMES, 30)
    ap = next(c for c in found if c.family == "ap" and c.group == "rank 0")
    nulls = null_clouds(frame, ap, PRIMES, [10, 30, 100])
    assert set(nulls) == {"shuffled columns", "gaussian", "sato_tate"}
    rng = np.random.default_rng(0)
    points = ap.points(frame)
    shuffled = nulls["shuffled columns"](rng)
    assert np.array_equal(np.sort(shuffled, axis=0), np.sort(points, axis=0))   # marginals
    traces = nulls["sato_tate"](rng)
    assert traces.shape == points.shape and np.all(np.abs(traces) <= 1)        # Hasse
    assert not np.array_equal(traces, points)
    gaussian = nulls["gaussian"](rng)
    covariance = np.cov(points, rowvar=False)               # within ~5 standard errors
    tolerance = 5 * covariance.diagonal().max() / np.sqrt(len(points))
    assert np.abs(np.cov(gaussian, rowvar=False) - covariance).max() < tolerance
    weierstrass = next(c for c in found if c.family == "weierstrass")
    assert set(null_clouds(frame, weierstrass, PRIMES, [10])) == {"shuffled columns", "gaussian"}


#: A cloud like the rank-0 BSD clouds: a constant column (log R = 0) and a column that an
#: identity ties to three others (log L = log Ω + log Sha + log ∏c_p), so its covariance has
#: two zero eigenvalues that floating point computes as ±1e-17.
DEGENERATE = """
import hashlib, sys
import numpy as np
from models.clouds import gaussian
from models.topology import landmark_cloud
mixing = np.random.default_rng(2).normal(size=(4, 4))
base = np.random.default_rng(1).normal(size=(3000, 4)) @ mixing
points = np.column_stack([base, np.zeros(3000), base[:, 0] + base[:, 1] + base[:, 2]])
rng = np.random.default_rng(3)
clouds = [landmark_cloud(gaussian(points)(rng), 150, rng) for _ in range(3)]
sys.stdout.write(hashlib.sha256(b"".join(c.tobytes() for c in clouds)).hexdigest())
"""


def test_gaussian_null_clouds_do_not_depend_on_the_blas_kernel():
    """The Gaussian null's landmarks are the same under two OpenBLAS kernels and two numpy
    SIMD levels (this machine's, and Haswell's with AVX-512 switched off): a sample from
    numpy's ``multivariate_normal`` is not (the BSD clouds' landmarks differed)."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    def digest(env: dict) -> str:
        return subprocess.run([sys.executable, "-c", DEGENERATE], check=True, text=True,
                              capture_output=True, env={**os.environ, **env},
                              cwd=Path(__file__).parents[1]).stdout

    avx2 = {"OPENBLAS_CORETYPE": "Haswell", "NPY_DISABLE_CPU_FEATURES":
            "AVX512F AVX512CD AVX512_SKX AVX512_CLX AVX512_CNL AVX512_ICL AVX512_SPR"}
    assert digest({}) == digest(avx2)


def test_gaussian_null_keeps_identities_exact():
    """A column that is a sum of others stays that sum in the Gaussian null, to rounding: the
    null directions of the covariance get no variance."""
    from models.nulls import normal_draw, normal_model
    base = np.random.default_rng(1).normal(size=(2000, 3))
    points = np.column_stack([base, np.zeros(2000), base.sum(axis=1)])
    sample = normal_draw(*normal_model(points), 5000, np.random.default_rng(2))
    assert np.abs(sample[:, 3]).max() < 1e-12
    assert np.abs(sample[:, 4] - sample[:, :3].sum(axis=1)).max() < 1e-12
    assert np.allclose(np.cov(sample[:, :3], rowvar=False), np.cov(base, rowvar=False), atol=0.1)
