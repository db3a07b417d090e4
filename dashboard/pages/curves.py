"""Curve browser: search the BSD table by label, conductor, rank, torsion and Sha; click a row,
or type a label in Cremona (11a1) or LMFDB (11.a2) form, for the curve's page: its whole record,
local data at each bad prime, the BSD identity evaluated, its isogeny class, its LMFDB page and
what each flagged finding's model predicts for it."""
import re
from pathlib import Path

import polars as pl
import streamlit as st

from dashboard import data
from dashboard.pari_process import Arithmetic
from dashboard.queries import (BROWSER_COLUMNS, CurveFilter, CurveIndex, bsd_identity, lmfdb_url,
                               model_output, prediction_words, resolve_label, search_curves,
                               shown_label)
from models.gbm import model_file
from models.verdicts import FLAGGED

st.title("Curve browser")
settings = data.params().dashboard
bsd = data.table("bsd")                    # held in memory (cached): queries in milliseconds
browse = bsd.lazy()
stamp = data.path("bsd").stat().st_mtime


@st.cache_data(show_spinner=False)
def _bounds(stamp: float) -> dict:
    return browse.select(pl.col("conductor").min().alias("low"),
                         pl.col("conductor").max().alias("high"),
                         pl.col("rank").unique().sort().implode().alias("ranks"),
                         pl.col("torsion").unique().sort().implode().alias("torsion"),
                         pl.col("sha").max().alias("sha")).collect().row(0, named=True)


@st.cache_data(show_spinner=False, max_entries=64)
def _search(stamp: float, where: CurveFilter, sort: str, descending: bool, page: int,
            size: int) -> tuple[pl.DataFrame, int]:
    return search_curves(browse, where, sort, descending, page, size)


bounds = _bounds(stamp)
# a link to one curve (?curve=) opens on that curve: the search stays above it, folded
with st.expander("Search the table", expanded="curve" not in st.query_params):
    with st.form("search"):
        left, right = st.columns(2)
        prefix = left.text_input("Label starts with", key="prefix",
                                 placeholder="e.g. 389a or 5077a1")
        conductor = right.slider("Conductor", bounds["low"], bounds["high"],
                                 (bounds["low"], bounds["high"]))
        ranks = left.multiselect("Rank", bounds["ranks"])
        torsion = right.multiselect("Torsion order", bounds["torsion"])
        top = max(int(bounds["sha"]), 2)
        sha = left.slider("Analytic Sha", 1, top, (1, top))
        sort = right.selectbox("Sort by", BROWSER_COLUMNS, index=BROWSER_COLUMNS.index("conductor"))
        descending = right.toggle("Descending", value=False)
        st.form_submit_button("Search")

    where = CurveFilter(prefix, conductor, ranks, torsion, sha)
    total = _search(stamp, where, sort, descending, 0, 0)[1]
    pages = max((total + settings.page_size - 1) // settings.page_size, 1)
    page = st.number_input(f"Page (of {pages:,})", min_value=1, max_value=pages, value=1) - 1
    rows, total = _search(stamp, where, sort, descending, page, settings.page_size)
    st.caption(f"{total:,} curves match" + ("" if not total else "; click a row to open the curve"))
    picked = st.dataframe(rows, hide_index=True, on_select="rerun", selection_mode="single-row",
                          key="results")
    chosen_rows = picked.selection.rows if picked is not None else []
    if chosen_rows and chosen_rows[0] < len(rows):
        clicked = rows["label"][chosen_rows[0]]
        if st.session_state.get("clicked") != clicked:   # a new click overrides the typed label
            st.session_state["clicked"] = clicked
            st.session_state["curve"] = clicked

st.header("One curve")
if "curve" in st.query_params and st.session_state.get("linked") != st.query_params["curve"]:
    st.session_state["linked"] = st.query_params["curve"]      # a link from another page
    st.session_state["curve"] = st.query_params["curve"]
typed = st.text_input("Curve label, Cremona (11a1) or LMFDB (11.a2) form, any case",
                      key="curve", placeholder="click a row above, or type 37a1 or 389.a1")


@st.cache_resource(show_spinner=False)
def _pari() -> Arithmetic:
    return Arithmetic()


@st.cache_resource(show_spinner=False, max_entries=2)
def _index(stamp: float) -> CurveIndex:
    return CurveIndex(bsd)


@st.cache_resource(show_spinner=False, max_entries=2)
def _generators(stamp: float) -> CurveIndex:
    return CurveIndex(data.table("curves", ["label", "gens"]), keys=("label",))


index = _index(stamp)


@st.cache_data(show_spinner=False, max_entries=256)
def _lmfdb_labels(stamp: float, conductor: int) -> dict[str, str]:
    return _pari().lmfdb_labels(index.conductor(conductor))


@st.cache_data(show_spinner=False, max_entries=256)
def _curve_arithmetic(stamp: float, label: str) -> tuple[pl.DataFrame, pl.DataFrame]:
    record = index.curve(label)
    members = index.isogeny_class(record["isogeny_class"])
    return (_pari().local_data(record["ainvs"]),
            _pari().isogeny_degrees(record["ainvs"], members))


if not typed.strip():
    st.info("No curve chosen: click a row of the table or type a label.")
    st.stop()

label = resolve_label(typed, index, lambda same: _lmfdb_labels(stamp, int(same["conductor"][0])))
if label is None:
    st.warning(f"No such curve: {shown_label(typed)} names no curve of this table (conductors "
               f"{bounds['low']:,} to {bounds['high']:,}). Labels look like 11a1 (Cremona) or "
               "11.a2 (LMFDB); a class alone, 11a or 11.a, opens its first curve.")
    st.stop()

record = index.curve(label)
ainvs = [int(a) for a in record["ainvs"]]
lmfdb = _lmfdb_labels(stamp, record["conductor"])
local, degrees = _curve_arithmetic(stamp, label)
st.subheader(f"{label} (LMFDB {lmfdb[label]})")
st.markdown(f"y² + a₁xy + a₃y = x³ + a₂x² + a₄x + a₆ with [a₁, a₂, a₃, a₄, a₆] = `{ainvs}` "
            f"(reduced minimal model). [{lmfdb[label]} on the LMFDB]({lmfdb_url(lmfdb[label])})")

gens = _generators(data.path("curves").stat().st_mtime).rows("label", label)
FIELDS = {"conductor": "conductor N", "discriminant": "minimal discriminant Δ",
          "jinv": "j-invariant", "cm": "CM discriminant (0: none)", "semistable": "semistable",
          "root_number": "root number w", "rank": "analytic rank r",
          "torsion": "#E(Q)_tors", "torsion_structure": "torsion structure",
          "tamagawa_product": "∏ c_p", "real_components": "components of E(R)",
          "real_period": "Ω (real period × components)", "regulator": "regulator R",
          "special_value": "L^(r)(E,1)/r!", "sha_an": "analytic #Ш", "sha": "#Ш (nearest square)",
          "isogeny_class": "isogeny class", "number": "number in class"}
shown = [(words, record[name]) for name, words in FIELDS.items() if name in record]
shown += [(name, record[name]) for name in record
          if name not in FIELDS and name not in ("label", "ainvs")]
left, right = st.columns(2)
half = (len(shown) + 1) // 2
for column, part in ((left, shown[:half]), (right, shown[half:])):
    column.table(pl.DataFrame({"quantity": [w for w, _ in part],
                               "value": [str(v) for _, v in part]})
                 .to_pandas().set_index("quantity"))
if len(gens) and gens["gens"][0] is not None and len(gens["gens"][0]):
    st.markdown("Mordell–Weil generators (x, y): " + ", ".join(
        f"`({x}, {y})`" for x, y in gens["gens"][0].to_list()))

features_path = Path(data.params().paths.features)


@st.cache_data(show_spinner=False, max_entries=256)
def _features(location: str, stamp: float, label: str, conductor: int,
              pattern: str) -> pl.DataFrame:
    # only the columns asked for; the table is in conductor order, so the conductor's row-group
    # statistics skip the other row groups
    return pl.scan_parquet(location).filter(
        (pl.col("conductor") == conductor) & (pl.col("label") == label)) \
        .select(pl.col(pattern)).collect()


def curve_features(pattern: str) -> pl.DataFrame | None:
    """The curve's features whose names match ``pattern``, None if the table is not built."""
    if not features_path.exists():
        return None
    return _features(str(features_path.resolve()), features_path.stat().st_mtime, label,
                     record["conductor"], pattern)


# the invariants stage's columns, as the features stage grouped them
invariant_columns = (data.optional_json("feature_groups") or {}).get("invariants", [])
invariants = curve_features("^(" + "|".join(map(re.escape, invariant_columns)) + ")$") \
    if invariant_columns else None
if invariants is not None and len(invariants):
    values = invariants.row(0, named=True)
    st.markdown("Further invariants (the invariants stage; — beyond its bounds in params.yaml, "
                "the report's glossary says what each is): " + ", ".join(
                    f"`{c}` {'—' if v is None else f'{v:.6g}'}" for c, v in values.items())
                + ".")

st.subheader("Local data at the bad primes")
st.caption("Tate's algorithm (PARI's elllocalred) on the a-invariants: f_p the exponent of p "
           "in N, the Kodaira symbol, the Tamagawa number c_p, the reduction type (a_p = 1 "
           "split, −1 non-split multiplicative, 0 additive).")
st.table(local.to_pandas().set_index("p"))

st.subheader("The BSD identity for this curve")
sides = bsd_identity(record)
st.table(pl.DataFrame({
    "side": ["L^(r)(E,1) / r!  (analytic)", "Ω·R·#Ш·∏c_p / #T²  (arithmetic)", "ratio"],
    "value": [f"{sides['left']:.15g}", f"{sides['right']:.15g}", f"{sides['ratio']:.15f}"],
}).to_pandas().set_index("side"))
st.caption("The ratio is 1 when the BSD formula holds with #Ш the perfect square nearest the "
           f"analytic order. ∏c_p from the table: {record['tamagawa_product']}; from the "
           f"local data above: {int(local['c_p'].product()) if len(local) else 1}.")

st.subheader("Isogeny class")
members = index.isogeny_class(record["isogeny_class"]).select(
    "label", "ainvs", "rank", "torsion", "sha")
degrees = degrees.with_columns(lmfdb=pl.col("label").replace_strict(lmfdb, default=None)) \
    .join(members.select("label", "torsion", "sha"), on="label")
st.caption(f"The curves isogenous to {label} over Q, with the degree of the cyclic isogeny "
           "from it (PARI's ellisomat); click a label in the search above to open another.")
st.table(degrees.select("label", "lmfdb", "degree", "ainvs", "torsion", "sha").to_pandas()
         .set_index("label"))

traces = curve_features(r"^ap_\d+$")
if traces is not None and len(traces):
    st.subheader("a_p")
    st.caption("Cremona's convention: at a bad p the local root number w_p.")
    st.dataframe(traces.rename({c: c.removeprefix("ap_") for c in traces.columns}),
                 hide_index=True)

st.subheader("What the flagged findings predict for this curve")
findings_path = Path(data.params().paths.findings)
models_dir = Path(data.params().paths.gbm_models)
flagged = pl.read_parquet(findings_path).filter(pl.col("verdict") == FLAGGED) \
    if findings_path.exists() else pl.DataFrame()
if not len(flagged):
    st.info("No finding is flagged, so there is no model prediction to show.")
elif (features := curve_features(r"^.*$")) is None or not len(features):
    st.info("The features of this curve are not built: `dvc repro features`.")
else:
    importances = data.table("importances")
    frame = pl.concat([features, index.isogeny_class(record["isogeny_class"]).filter(
        pl.col("label") == label).drop(
        [c for c in bsd.columns if c in features.columns])], how="horizontal")
    lines = []
    for row in flagged.iter_rows(named=True):
        model = model_file(models_dir, row["target"], row["group"])
        columns = importances.filter((pl.col("target") == row["target"])
                                     & (pl.col("group") == row["group"]))["feature"].to_list()
        if not model.exists() or not columns:
            lines.append(f"- **{row['target']} ~ {row['group']}**: its model is not exported "
                         f"(`dvc repro train`).")
            continue
        output = model_output(model.read_text(), columns, frame)
        lines.append(f"- **{row['target']} ~ {row['group']}**: the model predicts "
                     f"{prediction_words(output, row['task'], row.get('classes'))}.")
    st.markdown("\n".join(lines))
    st.caption("The exported model of each pair is fitted on every searched curve, this one "
               "included; its out-of-fold predictions are what the findings' scores measure.")
