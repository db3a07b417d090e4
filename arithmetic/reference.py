r"""Reference samples that are *not* ordered by conductor, with their arithmetic from PARI.

Cremona's tables hold every curve of conductor below a bound, so small conductors and smooth
conductors dominate them, and statistics of such a sample differ from those of curves ordered by
height (Balakrishnan, Ho, Kaplan, Spicer, Stein, Weigandt, *Databases of elliptic curves ordered
by height and distributions of Selmer groups and ranks*, LMS J. Comput. Math. 19 (2016)).

The height-ordered sample draws y² = x³ + Ax + B uniformly from the box of naive height
H(A, B) = max(4|A|³, 27B²) <= X, keeping each Q-isomorphism class once: a pair with p⁴ | A and
p⁶ | B for some prime p is the twist-free rescaling of a smaller pair and is dropped, as are the
singular pairs (4A³ + 27B² = 0). Every curve of either reference sample gets, from PARI: its
minimal model, conductor, Tamagawa product, root number, torsion, real period, rank bounds from
2-descent (``ellrank``, PARI >= 2.15), the 2-Selmer rank dim Sel²(E/Q) = rank + dim Ш[2] +
dim E(Q)[2] (from the same descent, :func:`arithmetic.invariants.selmer_rank`; the count of
basis 2-covers ``ell2cover`` returns is the same number), and — where the conductor is
at most a bound, since the L-series costs about √N terms — the analytic rank and L^(r)(E,1)/r!.

Where the rank r is known (the analytic rank, else the 2-descent rank when its bounds meet),
generators of E(Q)/E(Q)_tors come from :func:`arithmetic.generators.mordell_weil_basis`, the
path of the online sources (``ellrank``, ``ellheegner`` for rank 1, ``ellsaturation``), and
Reg(E) = det(⟨P_i, P_j⟩) from the Néron–Tate pairing (``ellheightmatrix``, normalized as in
BSD). Then the analytic Sha of the BSD formula (Cremona 1997, §3.8),

    sha_an = (L^(r)(E,1)/r!) · #T² / (Ω · Reg(E) · ∏c_p),

must be within the tolerance of a perfect square (Cassels 1962), for every rank: points of
index m in E(Q)/E(Q)_tors (m with a prime factor above the saturation bound) give m²·Reg(E)
and Sha/m², which fails the check unless m² divides Sha. The search is bounded: the points
of the 2-descent (``ellrank`` at effort 0, the search that gives the rank bounds) are always
used; the further search (higher ``ellrank`` efforts; for rank 1 a Heegner point, whose cost
grows with the conductor and the generator's height) only for N <= ``generators_conductor_max``.
Where no basis is found the regulator and Sha stay null and ``regulator_missing`` says why
(:data:`REGULATOR_MISSING`).

Every curve of a sample also gets the invariants of the Cremona curves' invariants stage that
do not need its place in Cremona's tables (:func:`sample_invariants`): its isogeny class, its
Szpiro ratio, and under the same conductor bounds the low zeros of L(E, s) and the 2-Selmer
rank; its optimality and modular degree stay unknown (null).
"""
from __future__ import annotations

from fractions import Fraction

import cypari2
import numpy as np
import polars as pl

from arithmetic.bsd import CM_DISCRIMINANT, BsdError, class_l_data, nearest_square_root
from arithmetic.curves import CurveError
from arithmetic.generators import RANDOM_SEED, mordell_weil_basis
from arithmetic.invariants import (InvariantsError, invariants_schema, low_zeros, reduced_model,
                                   selmer_rank, szpiro_ratio, two_selmer_rank,
                                   zero_columns)
from arithmetic.schemas import CURVE_SCHEMA

#: Columns of a reference sample's curve table (as in ``data/curves.parquet``, without gens).
CURVE_COLUMNS = ["label", "isogeny_class", "number", "conductor", "ainvs"]
#: Why a curve of known or unknown rank has no regulator: the values of ``regulator_missing``.
REGULATOR_MISSING = {
    "rank unknown": "no L-series (N above analytic_conductor_max) and the 2-descent bounds differ",
    "search bound": "the 2-descent found fewer independent points than the rank, and N is above "
                    "generators_conductor_max, which bounds the further search",
    "not found": "ellrank at every effort (and for rank 1 the Heegner point) found fewer "
                 "independent points than the rank",
}
#: The BSD quantities a reference sample carries: those of :data:`arithmetic.schemas.BSD_SCHEMA`
#: (null where unknown), the 2-descent rank bounds and the generators.
REFERENCE_SCHEMA = {
    "rank": pl.Int8,             # analytic rank where computed, else the 2-descent rank if exact
    "rank_lower": pl.Int8,       # ellrank: lower bound (independent points found)
    "rank_upper": pl.Int8,       # ellrank: upper bound from 2-descent
    "selmer2_rank": pl.Int8,     # dim_F2 of the 2-Selmer group Sel^2(E/Q) (ellrank)
    "torsion": pl.Int16,
    "torsion_structure": pl.List(pl.Int16),
    "tamagawa_product": pl.Int64,
    "real_components": pl.Int8,
    "real_period": pl.Float64,
    "regulator": pl.Float64,     # det of the height pairing on gens; 1 for rank 0
    "special_value": pl.Float64,  # L^(r)(E,1)/r! where the conductor allows
    "sha_an": pl.Float64,        # where the L-value and the regulator are known
    "sha": pl.Int64,
    "root_number": pl.Int8,
    "discriminant": pl.String,
    "jinv": pl.String,
    "cm": pl.Int16,
    "semistable": pl.Boolean,
    "gens": CURVE_SCHEMA["gens"],            # a basis of E(Q)/E(Q)_tors, [[x, y], ...]; [] rank 0
    "regulator_missing": pl.String,         # a key of REGULATOR_MISSING; null when known
}


def height_box(height: int) -> tuple[int, int]:
    """(A_max, B_max): 4|A|³ <= X and 27B² <= X, in exact integers."""
    a = int(round((height / 4) ** (1 / 3))) + 1
    while 4 * a**3 > height:
        a -= 1
    b = int(round((height / 27) ** 0.5)) + 1
    while 27 * b * b > height:
        b -= 1
    return a, b


def is_reduced_pair(a: int, b: int) -> bool:
    """Nonsingular, and no prime p with p⁴ | A and p⁶ | B (the curve is not a rescaling
    (A, B) = (u⁴A', u⁶B') of a pair of smaller height)."""
    if 4 * a**3 + 27 * b * b == 0:
        return False
    limit = 2
    while (a == 0 or limit**4 <= abs(a)) and (b == 0 or limit**6 <= abs(b)):
        limit += 1
    return not any(a % d**4 == 0 and b % d**6 == 0 for d in range(2, limit))


def draw_height_sample(height: int, size: int, seed: int) -> pl.DataFrame:
    """``size`` distinct reduced pairs (A, B), uniform in the box H(A, B) <= ``height``, in the
    order drawn; labels ``A,B`` (each curve is its own isogeny class: a uniform draw from a
    large box almost never holds two isogenous curves)."""
    a_max, b_max = height_box(height)
    if (2 * a_max + 1) * (2 * b_max + 1) < 4 * size:
        raise ValueError(f"the box H <= {height} holds {(2 * a_max + 1) * (2 * b_max + 1)} "
                         f"pairs: too few to draw {size} curves; raise the height bound")
    rng = np.random.default_rng(seed)
    kept: dict[tuple[int, int], None] = {}
    while len(kept) < size:
        draws = np.stack([rng.integers(-a_max, a_max + 1, 2 * size),
                          rng.integers(-b_max, b_max + 1, 2 * size)], axis=1)
        for a, b in draws.tolist():
            if len(kept) < size and (a, b) not in kept and is_reduced_pair(a, b):
                kept[(a, b)] = None
    labels = [f"{a},{b}" for a, b in kept]
    return pl.DataFrame({"label": labels, "isogeny_class": labels, "number": [1] * size,
                         "a4": [a for a, _ in kept], "a6": [b for _, b in kept]},
                        schema_overrides={"number": pl.Int64, "a4": pl.Int64, "a6": pl.Int64})


def gens_points(pari: cypari2.Pari, gens: list[list[str]]):
    """The ``gens`` column's exact rational strings as a PARI vector of points, parsed by
    :class:`fractions.Fraction` (never handed to PARI's parser)."""
    def rational(text: str):
        value = Fraction(text)
        return pari(value.numerator) / value.denominator
    return pari([[rational(x), rational(y)] for x, y in gens])


def curve_generators(pari: cypari2.Pari, label: str, curve, conductor: int, rank: int | None,
                     descent, settings: dict) -> tuple[list | None, object, str | None]:
    """(gens, Reg(E) as a PARI real, None), or (None, None, a :data:`REGULATOR_MISSING` key).

    ``descent`` is the 2-descent (``ellrank`` at effort 0 after ``setrand``, the first step
    of :func:`mordell_weil_basis`, which takes its points); when it found fewer independent
    points than the rank, the further search runs only for N <=
    ``settings["generators_conductor_max"]``. The regulator
    is det(⟨P_i, P_j⟩) of the stored generators at ``settings["precision"]`` bits, as in
    :func:`arithmetic.bsd.curve_bsd`."""
    if rank is None:
        return None, None, "rank unknown"
    if rank == 0:
        return [], pari(1), None
    if len(descent[3]) < rank and conductor > settings["generators_conductor_max"]:
        return None, None, "search bound"
    try:
        gens = mordell_weil_basis(pari, curve, rank, settings["saturation_bound"], label,
                                  descent)
    except CurveError:
        return None, None, "not found"
    heights = pari.ellheightmatrix(curve, gens_points(pari, gens),
                                   precision=settings["precision"])
    return gens, pari.matdet(heights), None


def curve_reference(pari: cypari2.Pari, label: str, curve, conductor: int,
                    l_data: tuple | None, settings: dict) -> dict:
    """PARI's quantities of ``curve`` (an ``ellinit`` of a minimal model whose table gives
    ``conductor``) given its class's L-data (:func:`arithmetic.bsd.class_l_data`, or None where
    the conductor is too large); ``settings``: ``sha_tolerance``, ``saturation_bound``,
    ``generators_conductor_max`` and ``precision`` (bits of the regulator)."""
    reduction = pari.ellglobalred(curve)
    if int(reduction[0]) != conductor:
        raise BsdError(f"{label}: conductor from ellglobalred is {reduction[0]}, "
                       f"the table says {conductor}")
    # ellrank's search uses PARI's random generator: the same state as the generators' search,
    # so that the bounds depend on the curve alone
    pari.setrand(RANDOM_SEED)
    descent = pari.ellrank(curve)
    lower, upper = int(descent[0]), int(descent[1])
    torsion = pari.elltors(curve)
    torsion_order, tamagawa = int(torsion[0]), int(reduction[2])
    discriminant = curve.disc()
    components = 2 if discriminant > 0 else 1
    real_period = curve.omega()[0] * components
    special_value = sha_an = sha = None
    if l_data is not None:
        rank, value, root_number = l_data
        if not lower <= rank <= upper:
            raise BsdError(f"{label}: analytic rank {rank} outside the 2-descent bounds "
                           f"[{lower}, {upper}]")
        special_value = float(value)
    else:
        root_number = int(pari.ellrootno(curve))
        rank = lower if lower == upper else None
    gens, regulator, missing = curve_generators(pari, label, curve, conductor, rank, descent,
                                                settings)
    if l_data is not None and regulator is not None:
        sha_an = float(value * torsion_order**2 / (real_period * regulator * tamagawa))
        sha = nearest_square_root(sha_an, settings["sha_tolerance"], label) ** 2
    j = curve.j()
    return {
        "rank": rank, "rank_lower": lower, "rank_upper": upper,
        "selmer2_rank": selmer_rank(descent, torsion),
        "torsion": torsion_order, "torsion_structure": [int(n) for n in torsion[1]],
        "tamagawa_product": tamagawa, "real_components": components,
        "real_period": float(real_period),
        "regulator": None if regulator is None else float(regulator),
        "special_value": special_value, "sha_an": sha_an, "sha": sha,
        "root_number": root_number, "discriminant": str(discriminant), "jinv": str(j),
        "cm": CM_DISCRIMINANT.get(int(j), 0) if j.type() == "t_INT" else 0,
        "semistable": bool(pari.issquarefree(reduction[0])),
        "gens": gens, "regulator_missing": missing,
    }


def reference_table(pari: cypari2.Pari, curves: pl.DataFrame, analytic_conductor_max: int,
                    sha_tolerance: float, precision: int, lfunction_precision: int,
                    saturation_bound: int, generators_conductor_max: int) -> pl.DataFrame:
    """The reference quantities of a table of minimal curves (:data:`CURVE_COLUMNS`, whole
    isogeny classes contiguous): the L-data once per class, where N <= the bound; periods and
    regulators to ``precision`` bits, L-values to ``lfunction_precision`` bits; generators
    saturated at p <= ``saturation_bound``, searched beyond the 2-descent's points only for
    N <= ``generators_conductor_max``."""
    settings = {"sha_tolerance": sha_tolerance, "precision": precision,
                "saturation_bound": saturation_bound,
                "generators_conductor_max": generators_conductor_max}
    rows, current, l_data = [], None, None
    for row in curves.select(CURVE_COLUMNS).iter_rows(named=True):
        curve = pari.ellinit(row["ainvs"], precision=precision)
        if row["isogeny_class"] != current:
            current, l_data = row["isogeny_class"], None
            if row["conductor"] <= analytic_conductor_max:
                l_data = class_l_data(pari, curve, lfunction_precision)
        rows.append(curve_reference(pari, row["label"], curve, row["conductor"], l_data,
                                    settings))
    return pl.concat([curves.select(CURVE_COLUMNS), pl.DataFrame(rows, schema=REFERENCE_SCHEMA)],
                     how="horizontal")


def regulator_summary(table: pl.DataFrame) -> str:
    """How many curves of a reference table got a regulator, and why the others did not."""
    missing = table["regulator_missing"].drop_nulls().value_counts(sort=True)
    reasons = ", ".join(f"{reason} {count}" for reason, count in missing.iter_rows())
    return (f"regulator for {table['regulator'].is_not_null().sum()} of {len(table)}"
            + (f" (none: {reasons})" if reasons else ""))


def minimal_curves(pari: cypari2.Pari, pairs: pl.DataFrame) -> pl.DataFrame:
    """The height sample's pairs (A, B) as curves: global minimal model and conductor."""
    ainvs, conductors = [], []
    for a, b in pairs.select("a4", "a6").iter_rows():
        curve = pari.ellminimalmodel(pari.ellinit([a, b]))
        ainvs.append([int(x) for x in curve[:5]])
        conductors.append(int(pari.ellglobalred(curve)[0]))
    return pairs.select("label", "isogeny_class", "number").with_columns(
        conductor=pl.Series(conductors, dtype=pl.Int64),
        ainvs=pl.Series(ainvs, dtype=pl.List(pl.Int64)))


def isogeny_class_of(pari: cypari2.Pari, curve, label: str) -> tuple[list[tuple], list[list[int]]]:
    """The Q-isogeny class of ``curve`` by ``ellisomat``: the reduced minimal models of its
    curves in PARI's order, which lists ``curve`` itself first (checked: :class:`InvariantsError`
    naming ``label`` otherwise), and the matrix of the least degrees of the cyclic isogenies
    between them, in that order."""
    listed, matrix = pari.ellisomat(curve, 0, 1)
    models = [reduced_model(pari, model) for model in listed]
    if models[0] != reduced_model(pari, curve):
        raise InvariantsError(f"{label}: ellisomat lists {models[0]} first, not the curve "
                              f"{reduced_model(pari, curve)}")
    size = len(models)
    return models, [[int(matrix[i, j]) for j in range(size)] for i in range(size)]


def sample_invariants(pari: cypari2.Pari, curves: pl.DataFrame, *, zeros: int,
                      zeros_conductor_max: int, selmer_conductor_max: int) -> pl.DataFrame:
    r"""The invariants of the curves of a reference sample (:data:`CURVE_COLUMNS`, the sample's
    isogeny classes contiguous), one row per curve in input order, in the invariants stage's
    schema (:func:`arithmetic.invariants.invariants_schema`), with the same mathematics as
    :func:`arithmetic.invariants.class_invariants` where it applies:

    - **Isogeny class.** A sample need not hold whole Q-isogeny classes (the height sample puts
      each curve in a class of its own; the Stein–Watkins file groups its curves into classes,
      complete on every class of the default sample, but only the curves of small coefficients
      are in the database), so the class is PARI's ``ellisomat`` of the curve itself (Cremona,
      *Algorithms for modular elliptic curves*, 2nd ed. 1997, §3.8; at most 8 curves over Q,
      Kenku 1982): ``class_size`` the number of curves it lists, ``class_deg`` the largest
      entry of its matrix M of least cyclic isogeny degrees, ``isogeny_degrees`` the distinct
      entries of the curve's row (1 included), ``isogeny_matrix`` M in PARI's order, the curve
      first (Cremona's numbering is not known here). Every curve of a sample class must be
      among the curves of the first one's (:class:`InvariantsError` otherwise).
    - **Szpiro ratio** σ = log|Δ_min| / log N, Δ_min the discriminant of the global minimal
      model (Szpiro, Astérisque 183 (1990) 7–18), for every curve.
    - **Low zeros** z1, z2, ...: the heights t > 0 of the first ``zeros`` zeros 1 + it of
      L(E, s) (``lfunzeros``), once per sample class (the L-function is an isogeny invariant),
      for N <= ``zeros_conductor_max``, else null.
    - **2-Selmer rank** dim_F₂ Sel²(E/Q) = R_up + s + T from ``ellrank`` (PARI >= 2.15, as in
      :func:`arithmetic.invariants.two_selmer_rank`), for N <= ``selmer_conductor_max``, else
      null. PARI's random generator is reset first, so the result depends on the curve alone.

    The bounds are the invariants stage's, so that each column means on a sample what it means
    on the Cremona curves. ``optimality``, ``degree`` and ``degree_v2`` are null: which curve of
    a class is Γ₀(N)-optimal is read from Cremona's numbering for the Cremona curves (curve 1,
    990h3 excepted) and is not known here without the modular symbols of level N (the optimal
    curve's period lattice is the newform's lattice of periods, Cremona §2.14, which PARI's
    ``ellweilcurve`` finds from them); and the modular degree (Watkins, Experiment. Math. 11
    (2002) 487–502) is computed only for optimal curves: ``ellmoddegree`` gives deg φ / c², c
    the Manin constant, which is the degree only where c = 1, as on the optimal curves of
    Cremona's tables."""
    rows, current, members, heights = [], None, set(), [None] * zeros
    for row in curves.select(CURVE_COLUMNS).iter_rows(named=True):
        conductor = row["conductor"]
        curve = pari.ellinit([int(a) for a in row["ainvs"]])
        models, matrix = isogeny_class_of(pari, curve, row["label"])
        if row["isogeny_class"] != current:
            current, members = row["isogeny_class"], set(models)
            heights = (low_zeros(pari, curve, conductor, zeros)
                       if zeros and conductor <= zeros_conductor_max else [None] * zeros)
        elif models[0] not in members:
            raise InvariantsError(f"{row['label']}: not Q-isogenous to the first curve of its "
                                  f"sample class {current} (ellisomat)")
        selmer = None
        if conductor <= selmer_conductor_max:
            pari.setrand(RANDOM_SEED)
            selmer = two_selmer_rank(pari, curve)
        rows.append({
            "label": row["label"], "degree": None, "degree_v2": None, "optimality": None,
            "class_size": len(models), "class_deg": max(max(r) for r in matrix),
            "isogeny_degrees": sorted(set(matrix[0])), "isogeny_matrix": matrix,
            "szpiro_ratio": szpiro_ratio(int(pari.ellminimalmodel(curve).disc()), conductor),
            **dict(zip(zero_columns(zeros), heights)),
            "two_selmer_rank": selmer,
        })
    return pl.DataFrame(rows, schema=invariants_schema(zeros))
