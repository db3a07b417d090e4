"""The clouds of curves and their null clouds (models/clouds.py) on conductors below 1000."""
from __future__ import annotations

import numpy as np

from arithmetic.traces import primes_up_to
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
