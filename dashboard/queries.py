"""Plain polars queries behind the dashboard's pages (testable without Streamlit)."""
from __future__ import annotations

from dataclasses import dataclass, field

import polars as pl

#: Columns of the curve browser's table, from the bsd output.
BROWSER_COLUMNS = ["label", "isogeny_class", "conductor", "rank", "torsion", "tamagawa_product",
                   "real_period", "regulator", "special_value", "sha", "root_number"]


@dataclass(frozen=True)
class CurveFilter:
    """A curve search: label prefix, conductor range, ranks, torsion orders, Sha range."""
    label: str = ""
    conductor: tuple[int, int] | None = None
    ranks: list[int] = field(default_factory=list)
    torsion: list[int] = field(default_factory=list)
    sha: tuple[int, int] | None = None

    def expression(self) -> pl.Expr:
        conditions = [pl.lit(True)]
        if self.label.strip():
            conditions.append(pl.col("label").str.starts_with(self.label.strip()))
        if self.conductor:
            conditions.append(pl.col("conductor").is_between(*self.conductor))
        if self.ranks:
            conditions.append(pl.col("rank").is_in(self.ranks))
        if self.torsion:
            conditions.append(pl.col("torsion").is_in(self.torsion))
        if self.sha:
            conditions.append(pl.col("sha").is_between(*self.sha))
        return pl.all_horizontal(conditions)


def search_curves(curves: pl.LazyFrame, where: CurveFilter, sort: str, descending: bool,
                  page: int, page_size: int) -> tuple[pl.DataFrame, int]:
    """(one page of matching curves, sorted; the number of matches)."""
    matching = curves.select(BROWSER_COLUMNS).filter(where.expression())
    count = matching.select(pl.len())
    rows = matching.sort(sort, descending=descending, maintain_order=True) \
        .slice(page * page_size, page_size)
    count, rows = pl.collect_all([count, rows])      # one scan of the file serves both
    return rows, count.item()


def curve_record(bsd: pl.LazyFrame, curves: pl.LazyFrame, features: pl.LazyFrame | None,
                 label: str) -> tuple[dict, dict[int, int]] | None:
    """All BSD quantities and the Weierstrass data of one curve, and its a_p (p -> a_p)."""
    row = bsd.filter(pl.col("label") == label).collect()
    if not len(row):
        return None
    record = row.row(0, named=True)
    equation = curves.filter(pl.col("label") == label).select("ainvs", "gens").collect()
    if len(equation):
        record["ainvs"] = [int(a) for a in equation["ainvs"][0]]
        record["gens"] = [tuple(point) for point in equation["gens"][0].to_list()]
    traces = {}
    if features is not None:
        ap = features.filter(pl.col("label") == label).select(pl.col(r"^ap_\d+$")).collect()
        if len(ap):
            traces = {int(name.removeprefix("ap_")): value
                      for name, value in ap.row(0, named=True).items()}
    return record, traces


def histogram(values: pl.Series, bins: int) -> pl.DataFrame:
    """Counts in equal-width bins: (bin left edge, count)."""
    finite = values.drop_nulls().filter(values.drop_nulls().is_finite())
    low, high = finite.min(), finite.max()
    width = (high - low) / bins if high > low else 1.0
    index = ((finite - low) / width).floor().clip(0, bins - 1).cast(pl.Int64)
    counts = index.value_counts().sort(index.name)
    return counts.select(left=low + pl.col(index.name) * width, count=pl.col("count"))


def bsd_ratio(bsd: pl.LazyFrame) -> pl.LazyFrame:
    """log of the BSD ratio L^(r)(E,1)/(r! Ω R) = Sha·∏c_p/#T², with rank and conductor."""
    return bsd.select(
        "label", "conductor", "rank",
        log_bsd_ratio=(pl.col("special_value") / (pl.col("real_period") * pl.col("regulator"))).log(),
        log_conductor=pl.col("conductor").cast(pl.Float64).log())
