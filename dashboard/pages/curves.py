"""Curve browser: search the BSD table by label, conductor, rank, torsion and Sha; one curve's
page shows every BSD quantity, its equation, generators and a_p."""
import polars as pl
import streamlit as st

from dashboard import data
from dashboard.queries import BROWSER_COLUMNS, CurveFilter, curve_record, search_curves

st.title("Curve browser")
settings = data.params().dashboard
bsd = data.table("bsd", BROWSER_COLUMNS).lazy()     # held in memory: queries in ~10-60 ms
bounds = bsd.select(pl.col("conductor").min().alias("low"), pl.col("conductor").max().alias("high"),
                    pl.col("rank").unique().sort().implode().alias("ranks"),
                    pl.col("torsion").unique().sort().implode().alias("torsion"),
                    pl.col("sha").max().alias("sha")).collect().row(0, named=True)

with st.form("search"):
    left, right = st.columns(2)
    label = left.text_input("Label starts with", placeholder="e.g. 389a or 5077a1")
    conductor = right.slider("Conductor", bounds["low"], bounds["high"],
                             (bounds["low"], bounds["high"]))
    ranks = left.multiselect("Rank", bounds["ranks"])
    torsion = right.multiselect("Torsion order", bounds["torsion"])
    sha = left.slider("Analytic Sha", 1, max(int(bounds["sha"]), 2), (1, max(int(bounds["sha"]), 2)))
    sort = right.selectbox("Sort by", BROWSER_COLUMNS, index=BROWSER_COLUMNS.index("conductor"))
    descending = right.toggle("Descending", value=False)
    st.form_submit_button("Search")

where = CurveFilter(label, conductor, ranks, torsion, sha)
total = search_curves(bsd, where, sort, descending, 0, 0)[1]
pages = max((total + settings.page_size - 1) // settings.page_size, 1)
page = st.number_input(f"Page (of {pages:,})", min_value=1, max_value=pages, value=1) - 1
rows, total = search_curves(bsd, where, sort, descending, page, settings.page_size)
st.caption(f"{total:,} curves match")
st.dataframe(rows, hide_index=True)

st.subheader("One curve")
chosen = st.text_input("Label", value=rows["label"][0] if len(rows) else "11a1")
features = pl.scan_parquet(data.params().paths.features) \
    if data.params().paths.features.exists() else None
found = curve_record(data.scan("bsd"), data.scan("curves"), features, chosen.strip())
if found is None:
    st.warning(f"No curve labelled {chosen!r} in the table.")
else:
    record, traces = found
    st.markdown(f"**{record['label']}**: y² + a1·xy + a3·y = x³ + a2·x² + a4·x + a6 with "
                f"[a1, a2, a3, a4, a6] = {record.get('ainvs')}")
    quantities = {k: v for k, v in record.items() if k not in ("ainvs", "gens")}
    st.dataframe(pl.DataFrame({"quantity": list(quantities),
                               "value": [str(v) for v in quantities.values()]}), hide_index=True)
    if record.get("gens"):
        st.markdown("Mordell–Weil generators (x, y): " + ", ".join(
            f"`({x}, {y})`" for x, y in record["gens"]))
    if traces:
        st.markdown("a_p (Cremona's convention: the local root number w_p at bad p)")
        st.dataframe(pl.DataFrame({f"p={p}": [a] for p, a in traces.items()}), hide_index=True)
    else:
        st.info("a_p come from the features output: `dvc repro features` builds it.")
