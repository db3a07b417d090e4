"""Plain polars queries behind the dashboard's pages (testable without Streamlit)."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Callable

import polars as pl

from arithmetic.bsd_ratio import log_bsd_ratio
from arithmetic.local_data import kodaira_symbol
from sources.fetch import shown

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
    """Counts in equal-width bins: (bin left edge, bin right edge, count)."""
    finite = values.drop_nulls().filter(values.drop_nulls().is_finite())
    low, high = finite.min(), finite.max()
    width = (high - low) / bins if high > low else 1.0
    index = ((finite - low) / width).floor().clip(0, bins - 1).cast(pl.Int64)
    counts = index.value_counts().sort(index.name)
    return counts.select(left=low + pl.col(index.name) * width,
                         right=low + (pl.col(index.name) + 1) * width, count=pl.col("count"))


def bsd_ratio(bsd: pl.LazyFrame) -> pl.LazyFrame:
    """The log BSD ratio (:func:`arithmetic.bsd_ratio.log_bsd_ratio`), with rank and
    conductor."""
    return bsd.select(
        "label", "conductor", "rank", log_bsd_ratio=log_bsd_ratio(),
        log_conductor=pl.col("conductor").cast(pl.Float64).log())


# --- One curve: its label in either form, its local data, BSD, isogeny class, predictions ----
#: A Cremona label (11a1, or an isogeny class 11a) and an LMFDB label (11.a2, or 11.a); the
#: class letters are base 26 in both (a … z, ba, bb, …). Matched case-insensitively.
CREMONA_FORM = re.compile(r"(?P<conductor>\d+)(?P<iso>[a-z]+)(?P<number>\d+)?", re.ASCII)
LMFDB_FORM = re.compile(r"(?P<conductor>\d+)\.(?P<iso>[a-z]+)(?P<number>\d+)?", re.ASCII)
#: The largest conductor a curve of the tables can have: the conductor column is Int64, and a
#: larger integer handed to a polars lookup on it raises instead of finding nothing.
CONDUCTOR_LIMIT = 2**63 - 1
#: Longer text is no label of the tables (19 digits of conductor, class letters, a number), and
#: is refused before any integer is parsed from it.
LABEL_LENGTH_LIMIT = 40
LMFDB_CURVE_URL = "https://www.lmfdb.org/EllipticCurve/Q/{conductor}/{iso}/{number}"


def class_letters(index: int) -> str:
    """0 -> 'a', 25 -> 'z', 26 -> 'ba': the isogeny class code of Cremona and the LMFDB."""
    letters = ""
    while True:
        index, digit = divmod(index, 26)
        letters = chr(ord("a") + digit) + letters
        if index == 0:
            return letters


def _traces(pari, ainvs: list[int], primes: list[int]) -> list[int]:
    curve = pari.ellinit([int(a) for a in ainvs])
    return [int(pari.ellap(curve, p)) for p in primes]


def lmfdb_labels(pari, curves: pl.DataFrame) -> dict[str, str]:
    """Cremona label -> LMFDB label, for the curves of one conductor (columns label,
    isogeny_class, conductor, ainvs; every curve of that conductor).

    The LMFDB orders the isogeny classes of a conductor lexicographically by their a_p for
    p = 2, 3, 5, … (the a_p of the bad primes included: those of the newform), and the curves
    of a class lexicographically by the coefficients [a1, a2, a3, a4, a6] of their reduced
    minimal models (LMFDB knowl ec.q.lmfdb_label). A table with an ``lmfdb_label`` column
    (the LMFDB source) is used as it is.
    """
    if "lmfdb_label" in curves.columns:
        return dict(zip(curves["label"], curves["lmfdb_label"]))
    conductor = int(curves["conductor"][0])
    classes = curves.group_by("isogeny_class", maintain_order=True).first()
    primes, bound = [], 0
    keys: dict[str, list[int]] = {c: [] for c in classes["isogeny_class"]}
    # distinct classes differ at some a_p (multiplicity one); extend the primes until they do
    while len({tuple(k) for k in keys.values()}) < len(keys):
        bound = bound * 2 or 100
        new = [int(p) for p in pari.primes([bound // 2 + 1 if primes else 2, bound])]
        primes += new
        for row in classes.iter_rows(named=True):
            keys[row["isogeny_class"]] += _traces(pari, [int(a) for a in row["ainvs"]], new)
        if bound > 10_000:
            raise ValueError(f"conductor {conductor}: classes with the same a_p up to {bound}")
    letter = {c: class_letters(i) for i, c in enumerate(sorted(keys, key=lambda c: keys[c]))}
    labels = {}
    for iso, members in curves.group_by("isogeny_class", maintain_order=True):
        ordered = sorted(members.iter_rows(named=True),
                         key=lambda r: [int(a) for a in r["ainvs"]])
        for number, row in enumerate(ordered, 1):
            labels[row["label"]] = f"{conductor}.{letter[iso[0]]}{number}"
    return labels


def resolve_label(text: str, curves: "pl.DataFrame | CurveIndex",
                  labels_of: Callable[[pl.DataFrame], dict[str, str]]) -> str | None:
    """The Cremona label of the curve that ``text`` names (Cremona 11a1 or LMFDB 11.a2, any
    case; a class without a number means its first curve), or None when there is none.
    ``curves``: label, isogeny_class, conductor, ainvs for every curve (or a frame with at
    least every curve of the named conductor), or a :class:`CurveIndex` of them;
    ``labels_of``: :func:`lmfdb_labels` of the curves of one conductor."""
    index = curves if isinstance(curves, CurveIndex) else CurveIndex(curves)
    text = text.strip().lower()
    if len(text) > LABEL_LENGTH_LIMIT:
        return None
    match = CREMONA_FORM.fullmatch(text) or LMFDB_FORM.fullmatch(text)
    if match is None or not 1 <= int(match["conductor"]) <= CONDUCTOR_LIMIT:
        return None                     # neither form, or a conductor beyond the tables
    wanted = text if match["number"] else f"{text}1"
    if match.re is CREMONA_FORM:
        return wanted if index.curve(wanted) is not None else None
    same = index.conductor(int(match["conductor"]))
    if not len(same):
        return None
    for label, other in labels_of(same).items():
        if other == wanted:
            return label
    return None


def shown_label(text: str) -> str:
    """Typed or linked text as a message quotes it: a short escaped excerpt
    (:func:`sources.fetch.shown`) in a Markdown code span, so that nothing of it renders as
    a link, emphasis or formula; its backticks are escaped too, since they would end the span."""
    return "`" + shown(text.strip()).replace("`", "\\x60") + "`"


def lmfdb_url(lmfdb_label: str) -> str:
    """The curve's page on the LMFDB."""
    match = LMFDB_FORM.fullmatch(lmfdb_label)
    return LMFDB_CURVE_URL.format(**match.groupdict())


def local_data(pari, ainvs: list[int]) -> pl.DataFrame:
    """At each bad prime p of the curve with these a-invariants (Python integers, handed to
    PARI as integers, never as text): the exponent f_p of p in the conductor, v_p of the minimal
    discriminant, the Kodaira symbol, the Tamagawa number c_p, the reduction type (split or
    non-split multiplicative when f_p = 1, additive when f_p ≥ 2; Tate's algorithm in PARI's
    ``elllocalred``) and a_p (1, −1 or 0)."""
    curve = pari.ellinit([int(a) for a in ainvs])
    minimal = pari.ellglobalred(curve)
    conductor = int(minimal[0])
    discriminant = pari.ellminimalmodel(curve).disc()
    rows = []
    for p in [int(q) for q in pari.factor(conductor)[0]]:
        f, kodaira, _, c = pari.elllocalred(curve, p)
        ap = int(pari.ellap(curve, p))
        kind = ("additive" if int(f) >= 2 else
                "split multiplicative" if ap == 1 else "non-split multiplicative")
        rows.append({"p": p, "f_p": int(f), "v_p(Δ)": int(pari.valuation(discriminant, p)),
                     "Kodaira": kodaira_symbol(int(kodaira)), "c_p": int(c),
                     "reduction": kind, "a_p": ap})
    return pl.DataFrame(rows, schema={"p": pl.Int64, "f_p": pl.Int64, "v_p(Δ)": pl.Int64,
                                      "Kodaira": pl.String, "c_p": pl.Int64,
                                      "reduction": pl.String, "a_p": pl.Int64})


def bsd_identity(record: dict) -> dict[str, float]:
    """Both sides of the BSD formula for one curve of the bsd table and their ratio:
    L^(r)(E,1)/r! against Ω·R·#Ш·∏c_p/#T², with #Ш the perfect square nearest the analytic
    order (Cremona 1997, §3.8). The ratio is 1 up to the precision of the computation."""
    left = record["special_value"]
    right = (record["real_period"] * record["regulator"] * record["sha"]
             * record["tamagawa_product"] / record["torsion"] ** 2)
    return {"left": left, "right": right, "ratio": left / right}


def isogeny_degrees(pari, chosen: list[int], members: pl.DataFrame) -> pl.DataFrame:
    """The curves of an isogeny class (columns label, ainvs) with the degree of the cyclic
    isogeny from the chosen curve to each (1 for itself), from PARI's ``ellisomat`` (its
    curves matched to ours by their reduced minimal models, which are unique over Q).
    Degrees are null where PARI gives no matrix (``ellisomat`` refuses some curves with
    complex multiplication)."""
    def reduced(curve) -> tuple[int, ...]:
        model = pari.ellminimalmodel(curve)
        return tuple(int(model[i]) for i in range(5))

    degrees = {}
    try:
        curves, matrix = pari.ellisomat(pari.ellinit([int(a) for a in chosen]))
        index = {reduced(pari.ellinit(c[0])): i for i, c in enumerate(curves)}
        for row in members.iter_rows(named=True):
            found = index.get(tuple(int(a) for a in row["ainvs"]))
            if found is not None:
                degrees[row["label"]] = int(matrix[0, found])
    except Exception:          # cypari2.PariError; the degrees are left null
        degrees = {}
    return members.select("label", "ainvs").with_columns(
        degree=pl.Series([degrees.get(label) for label in members["label"]], dtype=pl.Int64),
        ainvs=pl.col("ainvs").map_elements(lambda a: str([int(x) for x in a]),
                                           return_dtype=pl.String))


def model_output(model_text: str, columns: list[str], row: pl.DataFrame) -> list[float]:
    """The exported GBM of a pair (LightGBM's text format, parsed, not unpickled) on one curve's
    features ``columns`` (in the order the model was fitted on): the predicted value of a
    regression target, or one probability per class (a binary model: of the second class)."""
    import lightgbm
    import numpy as np

    booster = lightgbm.Booster(model_str=model_text)
    output = booster.predict(row.select(columns).to_numpy().astype(np.float64))
    return [float(v) for v in np.ravel(output)]


def prediction_words(output: list[float], task: str, classes: list | None) -> str:
    """The model's output in words: a value, or the most probable class with its probability
    (``classes``: the target's values in the order the model numbered them, when known)."""
    if task == "regression":
        return f"{output[0]:.4g}"
    probabilities = [1 - output[0], output[0]] if len(output) == 1 else output
    best = max(range(len(probabilities)), key=probabilities.__getitem__)
    name = classes[best] if classes and len(classes) == len(probabilities) else f"class #{best}"
    return f"{name} (probability {probabilities[best]:.3f})"


def driving_curves(model_text: str, columns: list[str], frame: pl.DataFrame,
                   count: int) -> pl.DataFrame:
    """The ``count`` curves of ``frame`` on which the exported model leans most on its inputs:
    the largest sum over features of |SHAP| (LightGBM's ``pred_contrib``, summed over classes),
    with the model's raw output and the top feature of each."""
    import lightgbm
    import numpy as np

    booster = lightgbm.Booster(model_str=model_text)
    x = frame.select(columns).to_numpy().astype(np.float64)
    contributions = booster.predict(x, pred_contrib=True)
    width = len(columns) + 1
    shap = np.abs(contributions.reshape(len(x), -1, width)[:, :, :-1]).sum(axis=1)
    total = shap.sum(axis=1)
    order = np.argsort(-total, kind="stable")[:count]
    return pl.DataFrame({"label": frame["label"].gather(order),
                         "sum_abs_shap": total[order],
                         "top_feature": [columns[int(shap[i].argmax())] for i in order]})



class CurveIndex:
    """Lookups of one curve, its isogeny class and its conductor in a table of millions of
    curves in O(log n): the label, class and conductor columns sorted once, then binary
    search (a filter would scan every row at each interaction)."""

    def __init__(self, table: pl.DataFrame,
                 keys: tuple[str, ...] = ("label", "isogeny_class", "conductor")):
        self.table = table
        rows = pl.int_range(pl.len(), dtype=pl.UInt32).alias("row")
        self._keys = {key: table.select(pl.col(key), rows).sort(key) for key in keys}

    def rows(self, key: str, value) -> pl.DataFrame:
        """The rows whose ``key`` equals ``value``, in table order."""
        keys = self._keys[key]
        low = keys[key].search_sorted(value, side="left")
        high = keys[key].search_sorted(value, side="right")
        return self.table.gather(keys["row"][low:high].sort())

    def curve(self, label: str) -> dict | None:
        found = self.rows("label", label)
        return found.row(0, named=True) if len(found) else None

    def isogeny_class(self, iso: str) -> pl.DataFrame:
        return self.rows("isogeny_class", iso)

    def conductor(self, conductor: int) -> pl.DataFrame:
        return self.rows("conductor", conductor)
