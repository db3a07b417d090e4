"""Typed, validated view of ``params.yaml``: the only place parameters are read.

Every stage calls :func:`load_params` and takes its own section. A bad value raises
:class:`ParamsError` naming the field (e.g. ``bsd.workers``) and what is wrong with it.

The schema is strict (pydantic strict mode): nothing is coerced, so ``workers: true`` or
``verify_checksums: 'no'`` is an error, not 1 or False. Only the two conversions YAML cannot
express are made: a path is written as a string, a pair (``[low, high]``) as a list. The YAML
loader refuses a key given twice in one mapping, naming it and its line; every cross-field
check applies whatever the other fields say.
"""
from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Annotated, Literal

import yaml
from arithmetic.feature_groups import FEATURE_GROUPS, feature_column
from arithmetic.schemas import (BSD_SCHEMA, ELLDATA_CONDUCTOR_BOUND, INVARIANT_NUMBERS,
                                KEY_COLUMNS as BSD_KEYS, ZERO_COLUMNS)
from machinery.expression import columns, declared_sources, parse, parse_declared
from machinery.yaml_guard import YamlBudgetError, check_yaml_budget
from pydantic import (AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field,
                      ValidationError, model_validator)

PARAMS_FILE = Path("params.yaml")
#: The columns of the bsd and invariants tables, which declared targets may read (beside the
#: features).
TABLE_COLUMNS = [*BSD_KEYS, *BSD_SCHEMA, *INVARIANT_NUMBERS]



class ParamsError(ValueError):
    """params.yaml is missing, unreadable, or has a bad value."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


def _pair(value):
    """A YAML list of two items as the tuple a pair field holds (its items stay strict)."""
    return tuple(value) if isinstance(value, list) else value


#: A pair of integers written ``[low, high]``.
IntPair = Annotated[tuple[int, int], BeforeValidator(_pair)]

#: A random seed: numpy's generators and LightGBM take a non-negative integer below 2**32.
Seed = Annotated[int, Field(ge=0, le=2**32 - 1)]


def _postgres_uri(value: str) -> str:
    """``value`` if libpq can read it as a connection URI or key=value string, so a malformed
    one stops at load naming its field rather than when the ingest stage connects; the error
    shows it without its password."""
    # imported when a URI is validated, not with this module: the rest of the schema does not
    # need psycopg
    from machinery.postgres_uri import unreadable
    problem = unreadable(value)
    if problem:
        raise ValueError(problem)
    return value


#: A PostgreSQL URI (``postgresql://user:password@host:port/database``) or key=value string.
PostgresUri = Annotated[str, AfterValidator(_postgres_uri)]


def _duplicates(values: list) -> list:
    return sorted({v for v in values if values.count(v) > 1}, key=str)


class Paths(_Section):
    # paths are strings in YAML; pydantic's lax mode turns a string (only) into a Path
    model_config = ConfigDict(extra="forbid", frozen=True, strict=False)

    curves: Path
    bsd: Path
    bsd_chunks: Path
    bsd_metrics: Path
    features: Path
    features_chunks: Path
    feature_groups: Path
    pairs: Path
    evaluations: Path
    train_cache: Path
    gbm_models: Path
    importances: Path
    findings: Path
    findings_metrics: Path
    findings_plot: Path
    controls: Path
    controls_metrics: Path
    report_markdown: Path
    report_html: Path
    report_json: Path
    report_csv: Path
    report_figures: Path
    topology: Path
    topology_chunks: Path
    topology_metrics: Path
    topology_figures: Path
    height_sample: Path
    height_sample_features: Path
    height_sample_chunks: Path
    stein_watkins: Path
    stein_watkins_features: Path
    stein_watkins_chunks: Path
    bias: Path
    bias_chunks: Path
    bias_distributions: Path
    bias_metrics: Path
    bias_figures: Path
    murmurations: Path
    murmurations_chunks: Path
    murmurations_metrics: Path
    murmurations_figures: Path
    bsd_ratio_fits: Path
    downloads: Path
    sources_lock: Path
    published: Path
    published_ap: Path
    ingest_chunks: Path
    crosscheck: Path
    crosscheck_metrics: Path
    invariants: Path
    invariants_chunks: Path
    invariants_metrics: Path


class Executor(_Section):
    """Where the chunked PARI work runs (:func:`machinery.chunks.run_chunks`)."""
    kind: Literal["local", "dask"] = Field(
        description="local: worker processes here; dask: dask.distributed tasks")
    address: str | None = Field(
        default=None, description="dask: the scheduler's address; None: a LocalCluster here")


class Fetch(_Section):
    """Downloads of the online sources (:mod:`sources.fetch`)."""
    timeout: float = Field(gt=0, description="seconds per request")
    retries: int = Field(ge=0, le=20, description="further attempts after a retryable failure")
    backoff: float = Field(ge=0, description="seconds before the first retry, doubled each time")
    backoff_max: float = Field(ge=0, description="ceiling of one wait and of a Retry-After")
    rate: float = Field(gt=0, description="requests per second at most")
    max_mb: float = Field(default=256, gt=0,
                          description="largest body accepted, MiB (decompressed)")


class BaseUrls(_Section):
    cremona: str = Field(min_length=1, description="ecdata: allcurves/, allbsd/, aplist/ beneath")
    lmfdb: str = Field(min_length=1, description="the LMFDB site: /api/ beneath")
    lmfdb_db: PostgresUri = Field(min_length=1, description="a PostgreSQL URI of the LMFDB's "
                                  "tables (default: its public read-only mirror)")


class Ingest(_Section):
    source: Literal["elldata", "cremona", "lmfdb", "lmfdb_db"] = Field(
        description="elldata: the embedded Cremona tables; cremona: the ecdata files; lmfdb: the "
                    "API; lmfdb_db: the LMFDB's PostgreSQL tables")
    conductor_min: int = Field(ge=1)
    conductor_max: int = Field(ge=2)
    base_url: BaseUrls
    verify_checksums: bool = True
    pari_stack_mb: int = Field(ge=16)
    saturation_bound: int = Field(ge=2, description="online sources: points saturated at p <= this")
    workers: int = Field(ge=1, le=256, description="online sources: processes finding generators")
    chunk_size: int = Field(ge=1, description="online sources: curves per resumable chunk")
    lmfdb_window: int = Field(ge=1, description="lmfdb: conductors per query (halved if refused)")
    lmfdb_batch: int = Field(ge=1, le=100,
                             description="lmfdb: labels per ec_mwbsd/ec_classdata query")
    lmfdb_db_window: int = Field(ge=1, description="lmfdb_db: conductors per cached query")
    fetch: Fetch

    @model_validator(mode="after")
    def _range(self) -> "Ingest":
        if self.conductor_max <= self.conductor_min:
            raise ValueError(f"conductor_max ({self.conductor_max}) must exceed "
                             f"conductor_min ({self.conductor_min})")
        if self.source == "elldata" and self.conductor_max > ELLDATA_CONDUCTOR_BOUND:
            raise ValueError(
                f"conductor_max={self.conductor_max} is beyond the embedded Cremona tables "
                f"(passagemath-pari-elldata: conductors < {ELLDATA_CONDUCTOR_BOUND}); larger "
                "conductors are served by Cremona's ecdata files or the LMFDB "
                "(ingest.source: cremona | lmfdb)")
        return self


class Bsd(_Section):
    workers: int = Field(ge=1, le=256)
    chunk_size: int = Field(ge=1)
    realprecision: int = Field(ge=19, le=2000,
                               description="decimal digits of periods and regulators")
    lfunction_bits: int = Field(ge=64, le=8192, description="bits of the L-values")
    sha_tolerance: float = Field(gt=0, lt=0.5)
    pari_stack_mb: int = Field(ge=16)


class Invariants(_Section):
    """The invariants stage (:mod:`pipeline.invariants`): each costly quantity up to its bound."""
    workers: int = Field(ge=1, le=256)
    chunk_size: int = Field(ge=1)
    pari_stack_mb: int = Field(ge=16)
    degree_conductor_max: int = Field(
        ge=0, description="modular degree of the optimal curves with N <= this (~100 µs × N each)")
    zeros: int = Field(ge=1, le=50, description="heights of the first zeros of L(E,s) kept "
                       "(the feature group invariants reads z1..; zeros_conductor_max: 0 computes "
                       "none)")
    zeros_conductor_max: int = Field(ge=0, description="the zeros for classes with N <= this")
    selmer_conductor_max: int = Field(ge=0, description="2-Selmer rank for curves with N <= this")


class Features(_Section):
    workers: int = Field(ge=1, le=256)
    chunk_size: int = Field(ge=1)
    pari_stack_mb: int = Field(ge=16)
    primes_max: int = Field(ge=2, le=100_000, description="a_p for the primes p <= primes_max")
    mestre_nagao_bounds: list[int] = Field(min_length=1)
    topology_windows: int = Field(ge=1, description="equal-count conductor windows")
    topology_primes_max: int = Field(ge=2, description="the windows' a_p clouds use p <= this")
    topology_landmarks: int = Field(ge=10, le=5000)
    topology_bins: int = Field(ge=2, le=100, description="Betti-curve values per dimension")
    topology_seed: Seed
    l_series_tolerance: float = Field(gt=0, lt=1e-3, description=(
        "central L-series sums: terms until exp(-2 pi n / sqrt N) is below this"))
    l_series_terms_max: int = Field(ge=100, description="and at most this many terms")

    @model_validator(mode="after")
    def _bounds(self) -> "Features":
        if _duplicates(self.mestre_nagao_bounds):
            raise ValueError(f"mestre_nagao_bounds: {_duplicates(self.mestre_nagao_bounds)} "
                             "given more than once")
        for bound in self.mestre_nagao_bounds:
            if not 3 <= bound <= self.primes_max:
                raise ValueError(f"mestre_nagao_bounds: {bound} is not within 3..primes_max "
                                 f"({self.primes_max}); the sums need a_p for p <= B")
        if self.topology_primes_max > self.primes_max:
            raise ValueError(f"topology_primes_max ({self.topology_primes_max}) must be <= "
                             f"primes_max ({self.primes_max})")
        return self


class Nulls(_Section):
    seed: Seed
    conductor_strata: int = Field(ge=1, description="equal-count conductor bins for permutations")
    minimalist_high_rank_rate: float = Field(ge=0, le=1)
    delaunay_primes: list[int] = Field(min_length=1)
    delaunay_bank_size: int = Field(ge=100)
    delaunay_matrix_size: int = Field(ge=2, le=40)

    @model_validator(mode="after")
    def _delaunay(self) -> "Nulls":
        if _duplicates(self.delaunay_primes):
            raise ValueError(f"delaunay_primes: {_duplicates(self.delaunay_primes)} given "
                             "more than once")
        if self.delaunay_matrix_size % 2:
            raise ValueError(f"delaunay_matrix_size must be even, got {self.delaunay_matrix_size}")
        for p in self.delaunay_primes:
            if p < 2 or any(p % d == 0 for d in range(2, int(p ** 0.5) + 1)):
                raise ValueError(f"delaunay_primes: {p} is not a prime")
        return self


class GbmSettings(_Section):
    n_estimators: int = Field(ge=1)
    learning_rate: float = Field(gt=0, le=1)
    num_leaves: int = Field(ge=2, le=131_072, description="LightGBM's own upper bound")
    min_child_samples: int = Field(ge=1)
    early_stopping_rounds: int = Field(ge=0)
    validation_share: float = Field(gt=0, lt=1)


TARGET_NAMES = ("rank", "rank_parity", "torsion", "sha_gt_1", "log_sha_an",
                "log_tamagawa_product", "log_real_period", "log_regulator", "log_special_value",
                "root_number", "log_bsd_ratio", "held_out_ap")

#: The names of the laws of :mod:`models.laws`, in its order: what ``search.withhold`` and
#: ``controls.pairs[].law`` may name, here so that the schema checks them without loading the
#: models (models.laws refuses to load when its laws' names differ from these).
LAW_NAMES = ("Tate's algorithm", "torsion subgroup", "root number", "real period",
             "point counting", "parity conjecture", "local root numbers", "torsion congruences",
             "Mestre-Nagao", "L-series at s = 1", "BSD formula", "rank conventions",
             "Euler-product heuristic", "Tamagawa numbers at the bad primes", "Ogg's formula",
             "torsion and isogenies", "2-descent", "explicit formula", "Watkins' conjecture",
             "Sato-Tate", "murmurations")


class CustomTarget(_Section):
    """A question declared in params.yaml (:func:`models.targets.sql_target`)."""
    task: Literal["classification", "regression"]
    expression: str = Field(min_length=1, description="an expression of machinery.expression's "
                            "closed language over the curve tables' columns")
    excluded: list[str] = Field(default=[], description="features (or groups) that contain it")
    null: Literal["permutation", "minimalist_rank", "delaunay_sha", "sato_tate"] = "permutation"
    description: str = ""


class Search(_Section):
    targets: list[str] = Field(min_length=1, description="built-in names and custom_targets")
    custom_targets: dict[str, CustomTarget] = Field(
        default={}, description="name -> a declared target, searched when named in targets")
    held_out_prime: int = Field(ge=2, description="the prime p of the target held_out_ap")
    withhold: list[str] = Field(
        default=[], description="laws of models.laws left out of this run (positive controls)")
    max_classes: int = Field(default=50, ge=2, le=1000,
                             description="a declared classification target's classes at most")
    groups: dict[str, list[str]] = Field(min_length=1,
                                         description="search group -> feature groups combined")
    folds: int = Field(ge=2, le=20)
    extrapolation_share: float = Field(gt=0, lt=0.5)
    confirmation_share: float = Field(
        gt=0, lt=0.9, description="isogeny classes held out of every discovery fit, to confirm "
                                  "the candidates on")
    bootstrap: int = Field(ge=50)
    null_datasets: int = Field(ge=3)
    null_quantile: float = Field(gt=0.5, lt=1)
    fdr: float = Field(gt=0, lt=0.5)
    strata: int = Field(ge=1, le=100, description="conductor strata of the score-by-stratum table")
    seed: Seed
    sample_classes: int | None = Field(
        default=None, ge=100,
        description="search a seeded sample of this many isogeny classes; null: all of them")
    workers: int = Field(ge=1, le=256)
    threads: int = Field(ge=1, le=256,
                         description="threads per worker: LightGBM's, BLAS's and OpenMP's")
    gbm: GbmSettings

    @model_validator(mode="after")
    def _targets(self) -> "Search":
        for name, members in self.groups.items():
            if not members:
                raise ValueError(f"groups.{name}: names no feature group (a search group "
                                 "without features would publish no pair)")
        if _duplicates(self.targets):
            raise ValueError(f"targets: {_duplicates(self.targets)} given more than once")
        unknown_laws = [law for law in self.withhold if law not in LAW_NAMES]
        if unknown_laws:
            raise ValueError(f"withhold: {unknown_laws} are not laws of models.laws "
                             f"({', '.join(LAW_NAMES)})")
        for name, spec in self.custom_targets.items():
            if name in TARGET_NAMES or re.fullmatch(r"ap_\d+", name):
                raise ValueError(f"custom_targets.{name}: the name of a built-in target")
            # the checks of models.targets.sql_target that need no data: it parses, and it
            # reads a column
            declared_sources(name, spec.expression, parse_declared(name, spec.expression))
        unknown = [t for t in self.targets
                   if t not in TARGET_NAMES and t not in self.custom_targets]
        if unknown:
            raise ValueError(f"targets: {unknown} are neither built-in targets "
                             f"({', '.join(TARGET_NAMES)}) nor custom_targets")
        for name in self.custom_targets:
            if name not in self.targets:
                raise ValueError(f"custom_targets.{name}: declared but not searched; name it in "
                                 "search.targets (or remove it)")
        return self


class Topology(_Section):
    landmarks: int = Field(ge=10, le=5000, description="maxmin landmarks per cloud")
    null_clouds: int = Field(ge=5, description="null clouds per cloud and null model")
    permutations: int = Field(ge=5, description="label permutations per group difference")
    homology_dimensions: list[Literal[0, 1, 2]] = Field(min_length=1)
    conductor_windows: list[IntPair] = Field(min_length=1)
    ap_primes_max: int = Field(ge=2, description="the a_p cloud uses a_p/2√p for p <= this")
    minimum_curves: int = Field(ge=10, description="smaller clouds are skipped")
    fdr: float = Field(gt=0, lt=0.5)
    seed: Seed
    workers: int = Field(ge=1, le=256, description="processes, one cloud each")

    @model_validator(mode="after")
    def _windows(self) -> "Topology":
        for low, high in self.conductor_windows:
            if not 1 <= low < high:
                raise ValueError(f"conductor_windows: [{low}, {high}] is not a range "
                                 "1 <= low < high")
        if sorted(set(self.homology_dimensions)) != list(self.homology_dimensions):
            raise ValueError("homology_dimensions: list each dimension once, increasing")
        return self


class _ReferenceWork(Bsd):
    """The PARI work on a reference sample: the bsd stage's settings, and a conductor bound
    for the L-series."""
    analytic_conductor_max: int = Field(
        ge=1, description="analytic rank and L^(r)(E,1)/r! only for conductors <= this")
    saturation_bound: int = Field(ge=2, description="Mordell-Weil points saturated at p <= this")
    generators_conductor_max: int = Field(
        ge=0, description="generators beyond the 2-descent's own points (higher ellrank "
                          "efforts, Heegner points) searched only for conductors <= this")


class HeightSample(_ReferenceWork):
    height: int = Field(ge=100, description="naive height bound X: max(4|A|^3, 27B^2) <= X")
    curves: int = Field(ge=10, description="curves drawn uniformly from the box")
    seed: Seed


class SteinWatkins(_ReferenceWork):
    file: Literal["a.000", "a.001", "p.00"] = Field(
        description="a.000: N < 10^5; a.001: 10^5 <= N < 2*10^5; p.00: prime N < 10^8")
    conductor_min: int = Field(ge=1)
    conductor_max: int = Field(ge=2)
    classes: int = Field(ge=10, description="isogeny classes in the seeded sample")
    seed: Seed

    @model_validator(mode="after")
    def _range(self) -> "SteinWatkins":
        if self.conductor_max <= self.conductor_min:
            raise ValueError(f"conductor_max ({self.conductor_max}) must exceed "
                             f"conductor_min ({self.conductor_min})")
        return self


class Bias(_Section):
    discriminant_bins: int = Field(ge=1, le=100,
                                   description="log|Δ| bins of the reweighting strata")
    bad_primes_cap: int = Field(ge=1, description="strata by number of bad primes, capped here")
    minimum_curves: int = Field(ge=20, description="a replication needs this many curves")
    minimum_coverage: float = Field(gt=0, le=1, description="and the target on this share")
    null_datasets: int = Field(ge=3, description="null datasets per replication")
    low_strata_share: float = Field(gt=0, lt=1, description="the 'low' conductor strata")
    bootstrap: int = Field(ge=50, description="class resamples of the reweighted scores")
    seed: Seed


class Murmurations(_Section):
    conductor_windows: list[IntPair] = Field(min_length=1)
    primes_max: int = Field(ge=11, le=100_000, description="a_p for the primes p <= this")
    prime_bin: int = Field(ge=1, description="consecutive primes averaged into one point")
    ratio_bins: int = Field(ge=2, le=10_000, description="bins of p/N in (0, ratio_max]")
    ratio_max: float = Field(gt=0)
    small_ratio: float = Field(gt=0, description="the sign summary averages p/N <= this")
    beta_windows: int = Field(ge=1, le=100, description="conductor windows of the Beta fits")
    seed: Seed
    workers: int = Field(ge=1, le=256)
    chunk_size: int = Field(ge=1)
    pari_stack_mb: int = Field(ge=16)
    split_primes_max: int = Field(ge=50, description="the split test averages a_p over p < this")
    split_permutations: int = Field(ge=99, description="label permutations per split test")
    split_strata: int = Field(ge=1, le=100, description="conductor strata of the permutations")
    split_level: float = Field(gt=0, lt=1, description="a shift is 'seen' below this p-value")

    @model_validator(mode="after")
    def _windows(self) -> "Murmurations":
        for low, high in self.conductor_windows:
            if not 1 <= low < high:
                raise ValueError(f"conductor_windows: [{low}, {high}] is not a range "
                                 "1 <= low < high")
        if self.small_ratio > self.ratio_max:
            raise ValueError(f"small_ratio ({self.small_ratio}) must be <= ratio_max "
                             f"({self.ratio_max})")
        if self.split_primes_max > self.primes_max:
            raise ValueError(f"split_primes_max ({self.split_primes_max}) must be <= "
                             f"primes_max ({self.primes_max})")
        return self


class Crosscheck(_Section):
    relative_tolerance: float = Field(gt=0, lt=1, description="|ours - published| / |published|")


class Report(_Section):
    top_features: int = Field(ge=1, le=100, description="features shown per finding (mean |SHAP|)")
    workers: int = Field(ge=1, le=256, description="processes drawing the pairs' figures")


class Control(_Section):
    """A positive control: a pair that the law ``law`` answers exactly (pipeline/controls.py)."""
    target: str = Field(min_length=1, description="a built-in target or a custom_targets name")
    group: str = Field(min_length=1,
                       description="a feature group (arithmetic/feature_groups.py), searched alone")
    law: str = Field(min_length=1, description="the law of models.laws withheld")


class Controls(_Section):
    pairs: list[Control] = Field(min_length=1, description="the positive controls")


class Dashboard(_Section):
    page_size: int = Field(ge=1, le=10_000, description="rows per page of the curve browser")
    sample: int = Field(ge=100, description="curves in the seeded sample of the plots")
    seed: Seed


class Params(_Section):
    paths: Paths
    executor: Executor
    ingest: Ingest
    bsd: Bsd
    invariants: Invariants
    features: Features
    nulls: Nulls
    search: Search
    topology: Topology
    height_sample: HeightSample
    stein_watkins: SteinWatkins
    bias: Bias
    murmurations: Murmurations
    crosscheck: Crosscheck
    report: Report
    controls: Controls
    dashboard: Dashboard

    @model_validator(mode="after")
    def _search_uses_known_groups(self) -> "Params":
        for name, members in self.search.groups.items():
            unknown = [g for g in members if g not in FEATURE_GROUPS]
            if unknown:
                raise ValueError(f"search.groups.{name}: {unknown} are not feature groups "
                                 f"({', '.join(FEATURE_GROUPS)}: arithmetic/feature_groups.py)")
        prime = self.search.held_out_prime
        if prime > self.features.primes_max or any(prime % d == 0 for d in range(2, prime)):
            raise ValueError(f"search.held_out_prime: {prime} must be a prime <= "
                             f"features.primes_max ({self.features.primes_max})")
        for name, spec in self.search.custom_targets.items():
            typos = [e for e in spec.excluded if e not in FEATURE_GROUPS and not feature_column(e)]
            if typos:
                raise ValueError(f"search.custom_targets.{name}.excluded: "
                                 f"{', '.join(map(repr, typos))} is neither a feature group "
                                 f"({', '.join(FEATURE_GROUPS)}) nor a column of one")
            unknown = [c for c in columns(parse(spec.expression))
                       if c not in TABLE_COLUMNS and not re.fullmatch(ZERO_COLUMNS, c)
                       and not feature_column(c)]
            if unknown:
                raise ValueError(f"search.custom_targets.{name}.expression: no column "
                                 f"{', '.join(map(repr, unknown))} in the curve tables (bsd and "
                                 f"invariants: {', '.join(TABLE_COLUMNS)}, z1, z2, ...; or a "
                                 "feature group's column)")
        for index, control in enumerate(self.controls.pairs):
            where = f"controls.pairs[{index}]"
            if control.group not in FEATURE_GROUPS:
                raise ValueError(f"{where}.group: {control.group!r} is not a feature group "
                                 f"({', '.join(FEATURE_GROUPS)})")
            if control.law not in LAW_NAMES:
                raise ValueError(f"{where}.law: {control.law!r} is not a law of models.laws "
                                 f"({', '.join(LAW_NAMES)})")
            if control.target not in TARGET_NAMES and control.target not in \
                    self.search.custom_targets:
                raise ValueError(f"{where}.target: {control.target!r} is neither a built-in "
                                 f"target ({', '.join(TARGET_NAMES)}) nor a custom_targets name")
        if self.topology.ap_primes_max > self.features.primes_max:
            raise ValueError(f"topology.ap_primes_max ({self.topology.ap_primes_max}) must be "
                             f"<= features.primes_max ({self.features.primes_max})")
        return self


class _UniqueKeyLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):
    """YAML's safe loader, refusing a key given twice in one mapping (YAML would keep the last).

    A plain key is always a name: YAML 1.1 would read the key ``null`` (a declared target's null
    model) as None, and ``on``, ``no`` or ``1`` as a boolean or a number."""

    def construct_mapping(self, node, deep=False):
        seen: dict = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":       # <<: the base's keys, merged
                continue
            if isinstance(key_node, yaml.ScalarNode) and not key_node.style:     # plain
                key_node.tag = "tag:yaml.org,2002:str"
            key = self.construct_object(key_node, deep=True)
            line = key_node.start_mark.line + 1
            try:
                first = seen.get(key)
                seen.setdefault(key, line)
            except TypeError:
                continue                  # an unhashable key: the constructor reports it
            if first is not None:
                raise yaml.constructor.ConstructorError(
                    None, None, f"key {key!r} given twice (line {first} and line {line})",
                    key_node.start_mark)
        return super().construct_mapping(node, deep)


def parse_yaml(text: str):
    """The YAML document ``text`` (safe types only), refusing duplicate keys."""
    return yaml.load(text, Loader=_UniqueKeyLoader)


def load_params(path: Path | str = PARAMS_FILE) -> Params:
    """Read and validate the whole params file."""
    path = Path(path)
    try:
        text = path.read_text()
        check_yaml_budget(path, text)      # before composing: an alias bomb stops here
        raw = parse_yaml(text)
    except FileNotFoundError:
        raise ParamsError(f"{path}: not found (run from the project root)") from None
    except YamlBudgetError as err:
        raise ParamsError(str(err)) from None
    except yaml.YAMLError as err:
        raise ParamsError(f"{path}: not valid YAML: {err}") from None
    return validate_params(raw, path)


def validate_params(raw, source: Path | str) -> Params:
    """The typed params of a parsed params file; errors name ``source`` and the field."""
    if not isinstance(raw, dict):
        raise ParamsError(f"{source}: expected a mapping of sections, got {type(raw).__name__}")
    try:
        return Params.model_validate(raw)
    except ValidationError as err:
        raise ParamsError(f"{source}: {'; '.join(map(_problem, err.errors()))}") from None


def _problem(error: dict) -> str:
    """One validation error as ``field.path: what is wrong``: a cross-field check's message,
    which starts with the field it names (``groups.x: ...``), is put under its section
    (``search.groups.x: ...``) without pydantic's "Value error" prefix."""
    where = ".".join(str(part) for part in error["loc"])
    message = error["msg"].removeprefix("Value error, ")
    head, colon, rest = message.partition(": ")
    if error["type"] == "value_error" and colon and re.fullmatch(r"[\w.]+", head):
        if not where or head == where or head.startswith(f"{where}."):
            return message
        return f"{where}.{head}: {rest}"
    return f"{where or '<top>'}: {message}"


def check_cores(workers: int, threads: int, section: str) -> None:
    """Refuse ``workers`` processes of ``threads`` threads each beyond this machine's cores:
    LightGBM's OpenMP threads wait for each other at every split, and one descheduled thread
    stalls its team (the test suite, whose fits use 2 threads, took 21 min instead of 5 on
    2 cores while another process kept one of them busy)."""
    cores = len(os.sched_getaffinity(0))
    if workers * threads > cores:
        raise ParamsError(f"{section}.workers x {section}.threads = {workers} x {threads} "
                          f"exceeds the {cores} cores of this machine")
