"""Our BSD quantities and a_p, computed with PARI, against the values a source publishes.

The online sources publish, curve by curve, the quantities of the BSD formula (Cremona's
``allbsd``: rank, torsion, Tamagawa product, real period Ω, L^(r)(E,1)/r!, regulator, analytic
Ш; the LMFDB's ``ec_curvedata`` and ``ec_mwbsd``: the same, with Ш rounded to an integer) and,
class by class, a_p for p < 100. The embedded tables publish generators only, hence the rank.

Exact quantities (rank, torsion, Tamagawa product, Ш, a_p) must be equal; real ones must agree
to a relative tolerance (the files print 15 significant digits). A quantity a source does not
publish is null in its table and not compared. A curve present on one side only is a mismatch.
"""
from __future__ import annotations

import polars as pl

#: One row per curve: what the source publishes of each BSD quantity (null: not published).
PUBLISHED_SCHEMA = {
    "label": pl.String,
    "rank": pl.Int8,
    "torsion": pl.Int16,
    "tamagawa_product": pl.Int64,
    "real_period": pl.Float64,
    "special_value": pl.Float64,
    "regulator": pl.Float64,
    "sha_an": pl.Float64,
    "sha": pl.Int64,
}
EXACT = ["rank", "torsion", "tamagawa_product", "sha"]
REAL = ["real_period", "special_value", "regulator", "sha_an"]

#: One row per (isogeny class, prime p < 100): a_p at good p, w_p = ±1 at bad p (Cremona's
#: aplist convention, that of the ``ap_<p>`` features); a source without w_p omits bad p.
PUBLISHED_AP_SCHEMA = {"isogeny_class": pl.String, "prime": pl.Int64, "ap": pl.Int64}

#: The mismatch table: the curve (or isogeny class, for a_p), the quantity, both values as text.
MISMATCH_SCHEMA = {"label": pl.String, "quantity": pl.String, "published": pl.String,
                   "computed": pl.String, "relative_difference": pl.Float64}


def published_frame(rows: pl.DataFrame) -> pl.DataFrame:
    """``rows`` with the published columns it has, the others null, cast to the schema."""
    return rows.select(
        [pl.col(c) if c in rows.columns else pl.lit(None).alias(c) for c in PUBLISHED_SCHEMA]
    ).cast(PUBLISHED_SCHEMA)


def ap_long(table: pl.DataFrame, primes: list[int]) -> pl.DataFrame:
    """The ``ap_<p>`` columns of a per-class table, for ``primes``, as one row per (isogeny
    class, p): ``isogeny_class``, ``prime``, ``ap`` (the layout of published a_p)."""
    return (table.select("isogeny_class", *[f"ap_{p}" for p in primes])
            .unpivot(index="isogeny_class", variable_name="prime", value_name="ap")
            .with_columns(pl.col("prime").str.strip_prefix("ap_").cast(pl.Int64),
                          pl.col("ap").cast(pl.Int64))
            .sort("isogeny_class", "prime", maintain_order=True))


def _text(column: str) -> pl.Expr:
    return pl.col(column).cast(pl.String).fill_null("absent")


def compare_bsd(computed: pl.DataFrame, published: pl.DataFrame,
                tolerance: float) -> tuple[pl.DataFrame, dict[str, int]]:
    """(mismatches, number of curves compared per quantity) of ``computed`` (the ``bsd`` table)
    against ``published``; curves on one side only are mismatches of quantity ``curve``."""
    ours = computed.select(["label", *[c for c in PUBLISHED_SCHEMA if c != "label"]])
    both = published.with_columns(_published=True).join(
        ours.with_columns(_computed=True), on="label", how="full", suffix="_ours", coalesce=True)

    def side(flag: str) -> pl.Expr:
        return pl.when(pl.col(flag)).then(pl.lit("present")).otherwise(pl.lit("absent"))

    one_side = both.filter(pl.col("_published").is_null() | pl.col("_computed").is_null()).select(
        "label", quantity=pl.lit("curve"), published=side("_published"),
        computed=side("_computed"), relative_difference=pl.lit(None, pl.Float64))
    frames, compared = [one_side], {}
    matched = both.filter(pl.col("_published") & pl.col("_computed"))
    for quantity in [*EXACT, *REAL]:
        rows = matched.filter(pl.col(quantity).is_not_null())
        if rows.is_empty():
            continue
        compared[quantity] = len(rows)
        ours = pl.col(f"{quantity}_ours")
        if quantity in EXACT:
            relative, wrong = pl.lit(None, pl.Float64), pl.col(quantity) != ours
        else:
            relative = (ours - pl.col(quantity)).abs() / pl.col(quantity).abs()
            wrong = (ours - pl.col(quantity)).abs() > tolerance * pl.col(quantity).abs()
        frames.append(rows.filter(wrong).select(
            "label", quantity=pl.lit(quantity), published=_text(quantity),
            computed=_text(f"{quantity}_ours"), relative_difference=relative))
    return pl.concat(frames).cast(MISMATCH_SCHEMA), compared


def compare_ap(features: pl.DataFrame, published_ap: pl.DataFrame) -> tuple[pl.DataFrame, int]:
    """(mismatches, number of (class, p) compared) of the ``ap_<p>`` features (first curve of
    each class) against the published a_p / w_p, for the primes both tables hold."""
    primes = [p for p in published_ap["prime"].unique().sort().to_list()
              if f"ap_{p}" in features.columns]
    ours = ap_long(features.unique("isogeny_class", keep="first", maintain_order=True),
                   primes).rename({"ap": "ap_ours"})
    both = published_ap.filter(pl.col("prime").is_in(primes)).join(
        ours, on=["isogeny_class", "prime"], how="left")
    wrong = both.filter(pl.col("ap_ours").is_null() | (pl.col("ap") != pl.col("ap_ours")))
    mismatches = wrong.select(
        label="isogeny_class", quantity=pl.format("a_{}", "prime"), published=_text("ap"),
        computed=_text("ap_ours"), relative_difference=pl.lit(None, pl.Float64))
    return mismatches.cast(MISMATCH_SCHEMA), len(both)
