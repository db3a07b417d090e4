"""Topology and null models: persistence of the BSD, a_p and Weierstrass clouds against
their null clouds, and the null datasets every findings pair was compared with."""
from pathlib import Path

import altair as alt
import polars as pl
import streamlit as st

from dashboard import data
from reporting.document import topology_findings, topology_summary
from reporting.figures import NULL_COLOUR, OKABE_ITO

st.title("Topology and null models")

st.header("Persistent homology against null clouds")
location = Path(data.params().paths.topology)
if not location.exists():
    st.info("The topology stage has not run: `dvc repro topology` builds it.")
else:
    tests = data.table("topology")
    fdr = data.params().topology.fdr
    counts = tests.group_by("verdict").len().sort("len", "verdict", descending=[True, False])
    st.caption(f"{len(tests):,} tests; {int((tests['q_value'] <= fdr).sum())} with "
               f"Benjamini–Hochberg q ≤ {fdr}. A statistic counts only where the null clouds "
               "(shuffled columns, Gaussian of the same covariance, Sato–Tate traces) or the "
               "permuted rank labels do not reach it, and it is explained where the null lacks "
               "what the mathematics forces on the cloud (the BSD identity, Hasse's bound, the "
               "torsion congruences, the rank's bias of the a_p, 1728Δ = c4³ − c6²).")
    st.markdown("**Verdicts:** " + "; ".join(f"{v} {n}" for v, n in counts.iter_rows()))
    for line in topology_findings(tests):
        st.markdown(line)
    st.subheader("Summary: what differs from which null, by how much")
    st.caption("Per cloud and null model: the tests, how many survive Benjamini–Hochberg, and "
               "the statistic furthest outside its null 5–95% band (distance in band widths).")
    st.table(topology_summary(tests, fdr).to_pandas().set_index(["cloud", "against"]))
    st.subheader("Every test")
    left, right = st.columns(2)
    family = left.selectbox("Cloud family", sorted(tests["family"].unique().to_list()))
    kinds = counts["verdict"].to_list()
    chosen = right.multiselect("Verdicts", kinds, default=kinds)
    shown = tests.filter(pl.col("family") == family, pl.col("verdict").is_in(chosen))
    # the empirical p leads: with 39 null clouds it cannot go below 1/40, and the normal
    # fit's tail beside it is a model, not a measurement
    data.show(shown.sort("q_value").select(
        "group", "null_model", "statistic", "verdict", "p_empirical", "p_value", "q_value",
        "observed", "null_low", "null_high", "reason", "window_low", "window_high", "curves"),
        f"topology_{family}",
        column_config={"p_empirical": st.column_config.NumberColumn("p (empirical)",
                                                                    format="%.3f"),
                       "p_value": st.column_config.NumberColumn("p (normal fit)", format="%.2e"),
                       "q_value": st.column_config.NumberColumn("q (BH, normal fit)",
                                                                format="%.2e")})
    figures = Path(data.params().paths.topology_figures)
    images = sorted(figures.glob(f"{family}__*.png")) if figures.exists() else []
    columns = st.columns(3)
    for index, image in enumerate(images):
        columns[index % 3].image(str(image), caption=image.stem.replace("__", " · "))

st.header("Null datasets of the findings engine")
findings = data.table("findings")
null_models = sorted(findings["null_model"].unique().to_list())
chosen = st.multiselect("Null models", null_models, default=null_models)
tested = findings.filter(~pl.col("screened"))
rows = tested.filter(pl.col("null_model").is_in(chosen))
screened = len(findings) - len(tested)
if screened:
    st.caption(f"{screened} pairs are not shown: their added value was not significant, "
               "which decides their verdict, so their null datasets were not fitted.")
if not len(rows):
    st.stop()
nulls = rows.select(pair=pl.col("target") + " ~ " + pl.col("group"), metric="metric",
                    null_score="null_scores").explode("null_score")
model = rows.select(pair=pl.col("target") + " ~ " + pl.col("group"), metric="metric",
                    model="score_first_fold", verdict="verdict")
for metric in model["metric"].unique().sort().to_list():
    st.subheader(f"{metric}: the model on fold 1 (vermillion dot) against its null datasets "
                 "(grey ticks)")
    part_nulls, part_model = nulls.filter(pl.col("metric") == metric), \
        model.filter(pl.col("metric") == metric)
    height = 24 * len(part_model) + 50
    axis = alt.Axis(labelLimit=400, labelOverlap=False, labelFontSize=12)
    dots = alt.Chart(part_nulls).mark_tick(color=NULL_COLOUR, thickness=2).encode(
        x=alt.X("null_score:Q", title=metric), y=alt.Y("pair:N", title=None, axis=axis))
    marks = alt.Chart(part_model).mark_point(color=OKABE_ITO[1], filled=True, size=70).encode(
        x="model:Q", y=alt.Y("pair:N", axis=axis), tooltip=["pair", "model", "verdict"])
    st.altair_chart((dots + marks).properties(height=height), width="stretch")
