r"""Further invariants of elliptic curves over Q, with PARI: the modular degree, the isogeny class,
optimality, the Szpiro ratio, the low zeros of L(E, s) and the 2-Selmer rank.

**Modular degree.** For E/Q of conductor N the modular parametrization φ: X₀(N) → E (Wiles,
Taylor–Wiles, Breuil–Conrad–Diamond–Taylor 2001) has a degree deg φ; for the Γ₀(N)-optimal curve
of the class (the one with the least degree) it is *the* modular degree (Cremona, *Algorithms
for modular elliptic curves*, 2nd ed. 1997, §2.14; Watkins, *Computing the modular degree of an
elliptic curve*, Experiment. Math. 11 (2002) 487–502). PARI's ``ellmoddegree`` returns
deg φ / c², c the Manin constant, computed from modular symbols (about 100 µs × N on one
thread here): for the optimal curves of Cremona's tables c = 1, so it is the degree; it is
computed for the optimal curves only. **Watkins' conjecture** (Watkins 2002, §5.3): 2^r
divides the modular degree of the optimal curve, r the rank.

**Isogeny class.** ``ellisomat`` lists the curves Q-isogenous to E (Cremona §3.8; over Q the
class is finite, of at most 8 curves, Kenku 1982) and the matrix M of the least degrees of the
cyclic isogenies between them. It is reordered here as Cremona numbers the class (for 11a:
[1,5,5; 5,1,25; 5,25,1]), each curve matched by its reduced minimal model, so that a curve PARI
finds but the table lacks (or the converse) stops the stage.

**Optimality.** The Γ₀(N)-optimal (strong Weil) curve of each class is curve number 1 in
Cremona's tables, with one exception, class 990h, whose optimal curve is 990h3 (Cremona,
ecdata ``README`` and *Algorithms* Table 1 notes). The tests check this against PARI's
``ellweilcurve``: the optimal curve is the one whose modular-symbol lattice has Smith
invariants [c, c] = [1, 1].

**Szpiro ratio** σ = log|Δ_min| / log N (as in the LMFDB's ``szpiro_ratio``). Szpiro's
conjecture (Szpiro, *Discriminant et conducteur des courbes elliptiques*, Astérisque 183 (1990)
7–18; equivalent to the abc conjecture up to constants, Oesterlé 1988): for every ε > 0,
|Δ_min| <= C(ε) N^(6+ε), so limsup σ <= 6 as N → ∞; finitely many curves may exceed 6.

**Low zeros.** L(E, s) has its centre at s = 1 (PARI's normalization); ``lfunzeros`` returns
the heights t >= 0 of the zeros 1 + it on the critical line, the central zero repeated by its
order. The first ``count`` heights t > 0 are kept (the LMFDB's z1, z2, z3 of ``lfunc_lfunctions``);
the L-function, hence its zeros, is an isogeny invariant (computed once per class). PARI's
search assumes simple zeros off the centre and may miss a pair of very close zeros (its
documentation).

**2-Selmer rank.** PARI 2.15's ``ellrank`` computes exactly (its documentation, "Technical
explanation") the F₂-rank C of the 2-Selmer group, the rank T of E(Q)[2] and the rank s of
Ш[2]/2Ш[4], with C = T + R + S (R the Mordell–Weil rank, S the 2-rank of Ш), and returns
[r, R_up, s, points] with R_up = C − T − s; so C = R_up + s + T. An isogeny of odd degree induces
an isomorphism of the 2-Selmer groups (its dual composed with it is multiplication by an odd
integer), so C is computed once per set of curves linked by odd-degree isogenies.
"""
from __future__ import annotations

import math

import cypari2
import polars as pl

from arithmetic.schemas import INVARIANTS_SCHEMA

#: The classes of Cremona's tables whose Γ₀(N)-optimal curve is not curve number 1.
OPTIMAL_NUMBER_EXCEPTIONS = {"990h": 3}


class InvariantsError(ValueError):
    """An invariant fails a consistency check; the message names the curve or class."""


def single_threaded(pari: cypari2.Pari, stack_mb: int) -> None:
    """One PARI thread per process, whose stack may grow to ``stack_mb`` MiB: ``ellmoddegree``
    runs in PARI's parallel engine (2 threads by default here, each process's workers already
    use every core), and its fixed 32 MiB thread stack overflows at N ≈ 30,000."""
    pari.default("nbthreads", "1")
    pari.default("threadsizemax", str(stack_mb * 2**20))


def zero_columns(count: int) -> list[str]:
    """The names of the first ``count`` zero heights: z1, z2, ... (the LMFDB's)."""
    return [f"z{k}" for k in range(1, count + 1)]


def invariants_schema(zeros: int) -> dict:
    """:data:`INVARIANTS_SCHEMA` with the ``zeros`` zero columns after ``szpiro_ratio``."""
    schema = dict(INVARIANTS_SCHEMA)
    selmer = schema.pop("two_selmer_rank")
    schema |= {name: pl.Float64 for name in zero_columns(zeros)}
    schema["two_selmer_rank"] = selmer
    return schema


def two_adic_valuation(n: int) -> int:
    """v₂(n) for a positive integer n."""
    if n <= 0:
        raise ValueError(f"v2 of {n}: a positive integer is needed")
    return (n & -n).bit_length() - 1


def modular_degree(pari: cypari2.Pari, curve, label: str) -> int:
    """The modular degree of an optimal curve (``ellmoddegree``: deg φ / c², with c = 1 for the
    optimal curves of Cremona's tables); an answer that is not a positive integer (c ≠ 1 or a
    curve that is not optimal) stops with the curve's label."""
    degree = pari.ellmoddegree(curve)
    if degree.type() != "t_INT" or degree <= 0:
        raise InvariantsError(f"{label}: ellmoddegree gives {degree}, not a positive integer; "
                              "is the curve the optimal one of its class?")
    return int(degree)


def optimal_number(isogeny_class: str) -> int:
    """The number, within its class of Cremona's tables, of the Γ₀(N)-optimal curve."""
    return OPTIMAL_NUMBER_EXCEPTIONS.get(isogeny_class, 1)


def reduced_model(pari: cypari2.Pari, model) -> tuple[int, ...]:
    """The a-invariants of the reduced global minimal model (a1, a3 in {0, 1}, a2 in {−1, 0, 1};
    Cremona §3.2), as Cremona's tables give every curve, of a PARI curve or model (PARI's own
    output, e.g. a rational [a4, a6] of ``ellisomat``)."""
    minimal = pari.ellminimalmodel(pari.ellinit(model))
    return tuple(int(a) for a in minimal[:5])


def isogeny_matrix(pari: cypari2.Pari, curves: list[tuple], isogeny_class: str) -> list[list[int]]:
    """The isogeny matrix of a class, rows and columns in the order of ``curves`` (the class's
    a-invariants as the table lists them): M[i][j] is the least degree of a cyclic isogeny from
    curve i to curve j. PARI's curves are matched to the table's by reduced minimal model; a
    mismatch raises :class:`InvariantsError` naming the class."""
    listed, matrix = pari.ellisomat(pari.ellinit([int(a) for a in curves[0]]), 0, 1)
    found = [reduced_model(pari, model) for model in listed]
    table = [tuple(int(a) for a in ainvs) for ainvs in curves]
    if sorted(found) != sorted(table):
        raise InvariantsError(
            f"{isogeny_class}: ellisomat finds {len(found)} curves {sorted(found)}, the table "
            f"lists {len(table)} {sorted(table)}")
    where = [found.index(model) for model in table]
    return [[int(matrix[i, j]) for j in where] for i in where]


def szpiro_ratio(discriminant: int, conductor: int) -> float:
    """log|Δ_min| / log N (N > 1); Δ_min is the discriminant of the global minimal model."""
    return math.log(abs(discriminant)) / math.log(conductor)


def low_zeros(pari: cypari2.Pari, curve, conductor: int, count: int) -> list[float]:
    """The heights of the first ``count`` zeros of L(E, s) above the centre (t > 0), searched up
    to a height that grows until ``count`` are found. The first guess follows the zero density
    (1/2π)·log(N t²/4π²) near the centre (Iwaniec–Kowalski 2004, Th. 5.8): about 2π·k/log N for
    k zeros, with a margin."""
    height = 1.5 * 2 * math.pi * count / math.log(conductor)
    while True:
        zeros = [float(t) for t in pari.lfunzeros(curve, height)]
        above = [t for t in zeros if t > 1e-9]
        if len(above) >= count:
            return above[:count]
        height *= 1.6


def two_torsion_rank(torsion) -> int:
    """The F₂-rank T of E(Q)[2] from ``elltors``' [order, cyclic factors, generators]: the
    number of even cyclic factors."""
    return sum(1 for n in torsion[1] if int(n) % 2 == 0)


def selmer_rank(descent, torsion) -> int:
    """The F₂-rank C = R_up + s + T of the 2-Selmer group from ``ellrank``'s [r, R_up, s,
    points] and ``elltors`` (module docstring)."""
    return int(descent[1]) + int(descent[2]) + two_torsion_rank(torsion)


def two_selmer_rank(pari: cypari2.Pari, curve) -> int:
    """The F₂-rank of the 2-Selmer group of ``curve`` (:func:`selmer_rank`)."""
    return selmer_rank(pari.ellrank(curve), pari.elltors(curve))


def odd_components(matrix: list[list[int]]) -> list[int]:
    """For each curve of a class, the index of the first curve linked to it by a chain of
    odd-degree isogenies (equal indices: isomorphic 2-Selmer groups)."""
    root = list(range(len(matrix)))
    for i in range(len(matrix)):
        for j in range(i):
            if matrix[i][j] % 2:
                root[i] = root[j]
                break
    return root


def class_invariants(pari: cypari2.Pari, rows: list[dict], *, degree_conductor_max: int,
                     zeros: int, zeros_conductor_max: int,
                     selmer_conductor_max: int) -> list[dict]:
    """The invariants of the curves of one isogeny class (rows of the curve table, in table
    order); the costly ones only up to their conductor bounds."""
    isogeny_class, conductor = rows[0]["isogeny_class"], rows[0]["conductor"]
    curves = [pari.ellinit([int(a) for a in row["ainvs"]]) for row in rows]
    matrix = isogeny_matrix(pari, [row["ainvs"] for row in rows], isogeny_class)
    optimal = optimal_number(isogeny_class)
    if optimal not in [row["number"] for row in rows]:
        raise InvariantsError(f"{isogeny_class}: its optimal curve, number {optimal}, is not "
                              "in the table")
    heights = (low_zeros(pari, curves[0], conductor, zeros)
               if zeros and conductor <= zeros_conductor_max else [None] * zeros)
    selmer: list[int | None] = [None] * len(rows)
    if conductor <= selmer_conductor_max:
        roots = odd_components(matrix)
        for i, root in enumerate(roots):
            selmer[i] = selmer[root] if root != i else two_selmer_rank(pari, curves[i])
    degrees = sorted({d for row in matrix for d in row})
    results = []
    for i, (row, curve) in enumerate(zip(rows, curves)):
        is_optimal = row["number"] == optimal
        degree = (modular_degree(pari, curve, row["label"])
                  if is_optimal and conductor <= degree_conductor_max else None)
        results.append({
            "label": row["label"],
            "degree": degree,
            "degree_v2": None if degree is None else two_adic_valuation(degree),
            "optimality": int(is_optimal),
            "class_size": len(rows),
            "class_deg": degrees[-1],
            "isogeny_degrees": sorted(set(matrix[i])),
            "isogeny_matrix": matrix,
            "szpiro_ratio": szpiro_ratio(int(curve.disc()), conductor),
            **dict(zip(zero_columns(zeros), heights)),
            "two_selmer_rank": selmer[i],
        })
    return results


def invariants_table(pari: cypari2.Pari, curves: pl.DataFrame, *, degree_conductor_max: int,
                     zeros: int, zeros_conductor_max: int,
                     selmer_conductor_max: int) -> pl.DataFrame:
    """The invariants of a table of curves (columns of ``data/curves.parquet``, whole isogeny
    classes, each contiguous), one row per curve in input order: :func:`invariants_schema`."""
    results, current, seen = [], [], set()
    bounds = dict(degree_conductor_max=degree_conductor_max, zeros=zeros,
                  zeros_conductor_max=zeros_conductor_max,
                  selmer_conductor_max=selmer_conductor_max)
    for row in curves.select("label", "isogeny_class", "number", "conductor", "ainvs") \
            .iter_rows(named=True):
        if current and row["isogeny_class"] != current[0]["isogeny_class"]:
            results += class_invariants(pari, current, **bounds)
            current = []
        if not current:
            if row["isogeny_class"] in seen:
                raise InvariantsError(f"{row['label']}: isogeny class {row['isogeny_class']} "
                                      "is not contiguous")
            seen.add(row["isogeny_class"])
        current.append(row)
    if current:
        results += class_invariants(pari, current, **bounds)
    return pl.DataFrame(results, schema=invariants_schema(zeros))


def watkins_divisibility(degree: pl.Expr, rank: pl.Expr) -> pl.Expr:
    """Whether 2^rank divides the modular degree (Watkins' conjecture), null where the degree is."""
    return (degree % (pl.lit(2, pl.Int64).pow(rank.cast(pl.Int64)))) == 0


__all__ = ["INVARIANTS_SCHEMA", "InvariantsError", "OPTIMAL_NUMBER_EXCEPTIONS",
           "class_invariants", "single_threaded", "invariants_schema", "invariants_table",
           "isogeny_matrix",
           "low_zeros", "modular_degree", "odd_components", "optimal_number", "reduced_model",
           "selmer_rank", "szpiro_ratio", "two_adic_valuation", "two_selmer_rank",
           "two_torsion_rank", "watkins_divisibility", "zero_columns"]
