"""Topology and null models: the null datasets every pair was compared with (persistence
diagrams join this page when the topology stage exists)."""
import altair as alt
import polars as pl
import streamlit as st

from dashboard import data

st.title("Topology and null models")
st.info("Persistence diagrams of the BSD, a_p and Weierstrass point clouds are not computed "
        "yet: the giotto-tda topology stage is still to come. This page shows the null models "
        "the findings engine compares every model with.")

findings = data.table("findings")
null_models = sorted(findings["null_model"].unique().to_list())
chosen = st.multiselect("Null models", null_models, default=null_models)
rows = findings.filter(pl.col("null_model").is_in(chosen))
if not len(rows):
    st.stop()
nulls = rows.select(pair=pl.col("target") + " ~ " + pl.col("group"), metric="metric",
                    null_score="null_scores").explode("null_score")
model = rows.select(pair=pl.col("target") + " ~ " + pl.col("group"), metric="metric",
                    model="score_first_fold", verdict="verdict")
for metric in model["metric"].unique().sort().to_list():
    st.subheader(f"{metric}: the model on fold 1 (red) against its null datasets (grey)")
    part_nulls, part_model = nulls.filter(pl.col("metric") == metric), \
        model.filter(pl.col("metric") == metric)
    height = 14 * len(part_model) + 40
    dots = alt.Chart(part_nulls).mark_tick(color="#7f8c8d").encode(
        x=alt.X("null_score:Q", title=metric), y=alt.Y("pair:N", title=None))
    marks = alt.Chart(part_model).mark_point(color="#c0392b", filled=True).encode(
        x="model:Q", y="pair:N", tooltip=["pair", "model", "verdict"])
    st.altair_chart((dots + marks).properties(height=height), width="stretch")
