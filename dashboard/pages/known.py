"""Known phenomena: the murmurations of a_p (interactive window, split and prime range), rank
from a_p beside its baselines, the labels the known phenomena got, the BSD ratio's Beta fits."""
from pathlib import Path

import altair as alt
import polars as pl
import streamlit as st

from dashboard import data
from reporting.figures import NULL_COLOUR, OKABE_ITO
from reporting.known import baseline_shares, known_checks, known_labels

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
nulls = set(averages.filter(pl.col("split") == "null")["group"].unique().to_list())
shown = averages.filter((pl.col("window_low") == window[0]) & (pl.col("window_high") == window[1])
                        & pl.col("split").is_in([split, "null"]) & (pl.col("axis") == axis))
low, high = float(shown["x"].min()), float(shown["x"].max())
x_range = st.slider(f"{axis} range", low, high, (low, high))
shown = shown.filter(pl.col("x").is_between(*x_range))
groups = shown["group"].unique(maintain_order=True).to_list()
data_groups = [g for g in groups if g not in nulls]
# the data in Okabe-Ito colours, the null lighter and dashed behind them
colour = alt.Color("group:N", title=None, scale=alt.Scale(
    domain=data_groups + [g for g in groups if g in nulls],
    range=OKABE_ITO[:len(data_groups)] + [NULL_COLOUR] * (len(groups) - len(data_groups))))
band = alt.Chart(shown).mark_area(opacity=0.2).encode(
    x=alt.X("x:Q", title=axis), y=alt.Y("low:Q", title="average a_p"), y2="high:Q",
    color=colour)
line = alt.Chart(shown).mark_line().encode(
    x="x:Q", y="mean:Q", color=colour,
    strokeDash=alt.condition(alt.FieldOneOfPredicate("group", list(nulls)), alt.value([4, 3]),
                             alt.value([1, 0])),
    tooltip=["group", "x", "mean", "low", "high", "curves"])
st.altair_chart(band + line, width="stretch")
st.caption("Lines: the mean of a_p over the window's curves (one per isogeny class) in bins of "
           "consecutive primes; bands: 95% intervals. The grey dashed line is the Sato–Tate "
           "null: the same classes' traces redrawn from the Sato–Tate law.")
summary = metrics.get("windows", {}).get(f"{window[0]}-{window[1]}")
if summary:
    st.write(f"Mean a_p over p/N ≤ {metrics['small_ratio']}: " + ", ".join(
        f"{g} {v:+.3f}" for g, v in summary["small_ratio_means"].items()))

findings = data.table("findings")
st.header("Rank from a_p, beside its baselines")
st.caption("share_of_model = the predictor's score ÷ the model's score, on the same folds "
           "(the same metric, e.g. MCC): 1 means the heuristic does as well as the model, above 1 "
           "better, below 1 worse (Kazalicki–Vlah 2023 made this comparison for rank).")
data.show(baseline_shares(findings), "rank_from_ap_baselines",
          column_config={"score": st.column_config.NumberColumn(format="%.3f"),
                         "share_of_model": st.column_config.NumberColumn(format="%.2f")})
st.header("Conjectures checked on the tables")
st.caption("Watkins' and Szpiro's conjectures on the invariants stage's curves, and the "
           "murmuration split by Tamagawa product, Sha and real period (Wachs 2026) against "
           "its null models.")
checks = {name: found for name in ("invariants_metrics", "murmurations_metrics")
          if (found := data.optional_json(name)) is not None}
# an HTML table wraps its text, so the result stays in view beside the long statements
st.table(known_checks(checks).select("phenomenon", "result", "as_expected", "statement",
                                     "reference").to_pandas().set_index("phenomenon"))
st.header("Labels of the known phenomena")
data.show(known_labels(findings, data.params().search.held_out_prime), "known_labels")

st.header("The BSD ratio and its Beta fits")
data.show(data.table("bsd_ratio_fits"), "bsd_ratio_fits")
figure = Path(data.params().paths.murmurations_figures) / "bsd_ratio.png"
if figure.exists():
    st.image(str(figure))
