"""DVC stage ``topology``: persistent homology of the BSD, a_p and Weierstrass clouds against
their null clouds, and rank 0 against rank 1 by permuted labels (:mod:`models.topology`,
:mod:`models.clouds`).

Outputs: ``paths.topology`` (one row per cloud, statistic and null model, or per group
difference; empirical p-values and Benjamini–Hochberg q over the whole stage),
``paths.topology_metrics`` (DVC metrics) and ``paths.topology_figures`` (the real clouds'
persistence diagrams). Each cloud is a job of :func:`machinery.runner.run_jobs`: its result is
written to ``paths.topology_chunks`` as it finishes, keyed by data, params and code, so a
killed run resumes cloud by cloud; clouds run in ``topology.workers`` processes, each seeded by
its place in the list (results do not depend on the number of workers).
"""
from __future__ import annotations

import hashlib
import shutil
import sys
from pathlib import Path

import numpy as np
import polars as pl
from statsmodels.stats.multitest import multipletests

from arithmetic.primes import primes_up_to
from machinery.atomic import write_directory, write_json, write_parquet
from machinery.code_digest import code_digest, source_digest
from machinery.inputs import require_inputs
from machinery.params import Params, ParamsError, load_params
from machinery.runner import Job, run_jobs
from machinery.stage import run_stage
from models.clouds import Cloud, clouds, null_clouds
from models.features import model_frame
from models.topology import cloud_test, diagrams, group_difference, landmarks, standardized
from models.topology_verdicts import AGAINST_NULLS, GROUP_DIFFERENCE, verdicts
from models.verdicts import FINDING
from reporting.figures import persistence_diagram


def cloud_name(cloud: Cloud) -> str:
    return (f"{cloud.family}__{cloud.group.replace(' ', '_')}__"
            f"{cloud.window[0]}-{cloud.window[1]}")


def load_frame(params: Params) -> pl.DataFrame:
    """The model frame of the curves inside the span of ``topology.conductor_windows`` (every
    cloud lies there), read from lazily filtered parquet scans: on the full range the stage
    and its workers hold these curves, not the whole table."""
    windows = params.topology.conductor_windows
    span = pl.col("conductor").is_between(min(w[0] for w in windows), max(w[1] for w in windows),
                                          closed="left")
    return model_frame(pl.scan_parquet(params.paths.features).filter(span).collect(),
                       pl.scan_parquet(params.paths.bsd).filter(span).collect())


def run_key(params: Params) -> str:
    digest = hashlib.sha256()
    digest.update(source_digest(params.paths.features, params.paths.bsd).encode())
    digest.update(params.topology.model_dump_json().encode())
    digest.update(code_digest("pipeline.topology").encode())
    return digest.hexdigest()[:16]


def _labelled(result: pl.DataFrame, cloud: Cloud, kind: str) -> pl.DataFrame:
    return result.with_columns(family=pl.lit(cloud.family), group=pl.lit(cloud.group),
                               window_low=pl.lit(cloud.window[0]),
                               window_high=pl.lit(cloud.window[1]), kind=pl.lit(kind),
                               curves=pl.lit(len(cloud.rows)))


def test_cloud(frame: pl.DataFrame, cloud: Cloud, params: Params, seed) -> pl.DataFrame:
    """The cloud against its null clouds."""
    section = params.topology
    primes = primes_up_to(section.ap_primes_max)
    rng = np.random.default_rng(seed)
    nulls = null_clouds(frame, cloud, primes, [b for b in params.features.mestre_nagao_bounds])
    result = cloud_test(cloud.points(frame), nulls, section.null_clouds, section.landmarks,
                        tuple(section.homology_dimensions), rng)
    return _labelled(result, cloud, AGAINST_NULLS)


#: Left out when rank groups are compared: the regulator is 1 exactly at rank 0, so its log
#: alone would tell the groups apart.
RANK_DETERMINED = ("log_regulator",)


def test_difference(frame: pl.DataFrame, first: Cloud, second: Cloud, params: Params,
                    seed) -> pl.DataFrame:
    """``first`` against ``second`` (same family and window), by permuted group labels, on
    the columns not determined by the rank."""
    section = params.topology
    columns = tuple(c for c in first.columns if c not in RANK_DETERMINED)
    first, second = (Cloud(c.family, c.group, c.window, columns, c.rows) for c in (first, second))
    points = np.r_[first.points(frame), second.points(frame)]
    labels = np.r_[np.zeros(len(first.rows)), np.ones(len(second.rows))]
    result = group_difference(points, labels, (0, 1), section.landmarks,
                              tuple(section.homology_dimensions), section.permutations,
                              np.random.default_rng(seed))
    joined = Cloud(first.family, f"{first.group} vs {second.group}", first.window,
                   first.columns, np.r_[first.rows, second.rows])
    return _labelled(result.with_columns(null_model=pl.lit("permuted labels")), joined,
                     GROUP_DIFFERENCE)


def jobs(frame: pl.DataFrame, params: Params) -> list[tuple[str, Cloud, Cloud | None]]:
    """(name, cloud, None) for every cloud, (name, rank 0, rank 1) for every family and window."""
    section = params.topology
    found = clouds(frame, [tuple(w) for w in section.conductor_windows],
                   primes_up_to(section.ap_primes_max), section.minimum_curves)
    work = [(cloud_name(c), c, None) for c in found]
    by_key = {(c.family, c.window, c.group): c for c in found}
    for (family, window, group), cloud in by_key.items():
        other = by_key.get((family, window, "rank 1"))
        if group == "rank 0" and other is not None:
            work.append((cloud_name(cloud).replace("rank_0", "rank_0_vs_rank_1"), cloud, other))
    return work


def draw_diagrams(frame: pl.DataFrame, work, params: Params) -> dict[str, bytes]:
    """The persistence diagram of every real cloud (its landmarks), as PNG by file name."""
    section = params.topology
    images = {}
    for index, (name, cloud, other) in enumerate(work):
        if other is not None:
            continue
        points = standardized(cloud.points(frame))
        chosen = points[landmarks(points, section.landmarks,
                                  np.random.default_rng([section.seed, index]))]
        diagram = diagrams([chosen], tuple(section.homology_dimensions))[0]
        title = f"{cloud.family}: {cloud.group}, {cloud.window[0]} ≤ N < {cloud.window[1]}"
        images[f"{name}.png"] = persistence_diagram(diagram, title)
    return images


_state: dict = {}


def start_worker(params: Params) -> None:
    """Load the model frame and the list of clouds once per process."""
    frame = load_frame(params)
    _state.update(params=params, frame=frame, work=jobs(frame, params))


def run_job(index: int) -> pl.DataFrame:
    """The test of cloud (or difference) number ``index`` of the list, seeded by it."""
    params, frame = _state["params"], _state["frame"]
    _, cloud, other = _state["work"][index]
    seed = [params.topology.seed, index]
    return (test_cloud(frame, cloud, params, seed) if other is None
            else test_difference(frame, cloud, other, params, seed))


def main() -> None:
    params = load_params()
    require_inputs("topology", params.paths, "features", "bsd")
    paths, section = params.paths, params.topology
    frame = load_frame(params)
    work = jobs(frame, params)
    directory = Path(paths.topology_chunks)
    key = run_key(params)
    files = run_jobs([Job(name, key, index) for index, (name, _, _) in enumerate(work)],
                     directory, run_job, workers=section.workers, initializer=start_worker,
                     initargs=(params,), desc="topology", unit="cloud")
    tests = pl.concat([pl.read_parquet(f) for f in files])
    tests = tests.with_columns(q_value=pl.Series(multipletests(tests["p_value"].to_numpy(),
                                                               method="fdr_bh")[1]))
    tests = verdicts(tests.select("family", "group", "window_low", "window_high", "curves",
                                  "kind", "null_model", "statistic", "observed", "null_mean",
                                  "null_low", "null_high", "p_value", "p_empirical", "q_value"),
                     section.fdr, {AGAINST_NULLS: section.null_clouds,
                                   GROUP_DIFFERENCE: section.permutations})
    write_directory(draw_diagrams(frame, work, params), paths.topology_figures)
    write_parquet(tests, paths.topology)
    significant = tests.filter(pl.col("q_value") <= section.fdr)
    write_json({"clouds": sum(other is None for _, _, other in work), "tests": len(tests),
                "significant": len(significant),
                "significant_by_kind": dict(
                    significant.group_by("kind").len().sort("kind").iter_rows()),
                "verdicts": dict(tests.group_by("verdict").len().sort("verdict").iter_rows())},
               paths.topology_metrics)
    shutil.rmtree(directory)
    print(f"topology: {len(tests)} tests on {len(work)} clouds and differences, "
          f"{len(significant)} with q <= {section.fdr}, "
          f"{int((tests['verdict'] == FINDING).sum())} not explained by a listed law -> "
          f"{paths.topology}", file=sys.stderr)


if __name__ == "__main__":
    run_stage("topology", main, (ParamsError,))
