"""Known phenomena: the murmurations of a_p (interactive window, split and prime range), rank
from a_p beside its baselines, the labels the known phenomena got, the BSD ratio's Beta fits."""
from pathlib import Path

import altair as alt
import polars as pl
import streamlit as st

from dashboard import data
from models.known import baseline_shares, known_labels

st.title("Known phenomena")
st.caption("What the pipeline must rediscover, not flag: murmurations (He–Lee–Oliver–Pozdnyakov "
           "2022), rank parity, the BSD identity, torsion congruences, Ogg's formula.")

averages = data.table("murmurations")
metrics = data.optional_json("murmurations_metrics") or {}
st.header("Murmurations")
windows = averages.select("window_low", "window_high").unique(maintain_order=True).rows()
left, middle, right = st.columns(3)
window = left.selectbox("Conductor window", windows, format_func=lambda w: f"{w[0]} ≤ N < {w[1]}")
split = middle.radio("Average by", ["rank", "root number"], horizontal=True)
axis = right.radio("Against", ["p/N", "p"], horizontal=True)
shown = averages.filter((pl.col("window_low") == window[0]) & (pl.col("window_high") == window[1])
                        & pl.col("split").is_in([split, "null"]) & (pl.col("axis") == axis))
low, high = float(shown["x"].min()), float(shown["x"].max())
x_range = st.slider(f"{axis} range", low, high, (low, high))
shown = shown.filter(pl.col("x").is_between(*x_range))
band = alt.Chart(shown).mark_area(opacity=0.2).encode(
    x=alt.X("x:Q", title=axis), y=alt.Y("low:Q", title="average a_p"), y2="high:Q",
    color="group:N")
line = alt.Chart(shown).mark_line().encode(x="x:Q", y="mean:Q", color="group:N",
                                           tooltip=["group", "x", "mean", "low", "high", "curves"])
st.altair_chart(band + line, width="stretch")
summary = metrics.get("windows", {}).get(f"{window[0]}-{window[1]}")
if summary:
    st.write(f"Mean a_p over p/N ≤ {metrics['small_ratio']}: " + ", ".join(
        f"{g} {v:+.3f}" for g, v in summary["small_ratio_means"].items()))

findings = data.table("findings")
st.header("Rank from a_p, beside its baselines")
st.dataframe(baseline_shares(findings), hide_index=True)
st.header("Labels of the known phenomena")
st.dataframe(known_labels(findings, data.params().search.held_out_prime), hide_index=True)

st.header("The BSD ratio and its Beta fits")
st.dataframe(data.table("bsd_ratio_fits"), hide_index=True)
figure = Path(data.params().paths.murmurations_figures) / "bsd_ratio.png"
if figure.exists():
    st.image(str(figure))
