"""Distributions of the BSD quantities by rank and conductor (a seeded sample of the table)."""
import altair as alt
import polars as pl
import streamlit as st

from dashboard import data
from dashboard.queries import bsd_ratio
from reporting.figures import OKABE_ITO

st.title("Distributions")
settings = data.params().dashboard
QUANTITIES = ["real_period", "regulator", "special_value", "tamagawa_product", "torsion", "sha"]


@st.cache_data(show_spinner=False)
def _sample(stamp: float, size: int, seed: int) -> pl.DataFrame:
    bsd = data.scan("bsd")
    ratio = bsd_ratio(bsd).select("label", "log_bsd_ratio", "log_conductor")
    frame = bsd.select("label", "conductor", "rank", *QUANTITIES).join(ratio, on="label")
    features = data.params().paths.features
    if features.exists():
        frame = frame.join(pl.scan_parquet(features).select("label", "slog_c4", "slog_c6"),
                           on="label", how="left")
    frame = frame.collect()
    return frame.sample(min(size, len(frame)), seed=seed)


sample = _sample(data.path("bsd").stat().st_mtime, settings.sample, settings.seed)
sample = sample.with_columns(rank=pl.col("rank").cast(pl.String))
RANKS = sorted(sample["rank"].unique().to_list(), key=int)
#: Ranks in Okabe–Ito colours (colour-blind safe), the same rank always the same colour.
RANK = alt.Color("rank:N", title="rank", sort=RANKS,
                 scale=alt.Scale(domain=RANKS, range=OKABE_ITO[:len(RANKS)]))
st.caption(f"A seeded sample of {len(sample):,} curves (dashboard.sample in params.yaml). "
           "Every logarithm on this page is natural (ln).")

st.subheader("The BSD ratio L^(r)(E,1) / (r! Ω R) = Sha·∏c_p / #T²")
st.caption("ln of the ratio, histograms stacked by rank (each bar's segments add up to the "
           "curves in that bin), and against ln N.")
st.altair_chart(alt.Chart(sample).mark_bar().encode(
    x=alt.X("log_bsd_ratio:Q", bin=alt.Bin(maxbins=60), title="ln BSD ratio"),
    y=alt.Y("count():Q", stack="zero", title="curves"), color=RANK,
    order=alt.Order("rank:N"), tooltip=["rank:N", "count():Q"]), width="stretch")
st.altair_chart(alt.Chart(sample).mark_circle(size=10, opacity=0.5).encode(
    x=alt.X("log_conductor:Q", title="ln N", scale=alt.Scale(zero=False)),
    y=alt.Y("log_bsd_ratio:Q", title="ln BSD ratio"), color=RANK,
    tooltip=["label", "conductor", "rank"]), width="stretch")

st.subheader("A BSD quantity by rank")
quantity = st.selectbox("Quantity", QUANTITIES, index=0)
logged = sample.with_columns(value=pl.col(quantity).cast(pl.Float64).log())
st.altair_chart(alt.Chart(logged).mark_boxplot().encode(
    x=alt.X("rank:N", sort=RANKS, axis=alt.Axis(labelAngle=0)),
    y=alt.Y("value:Q", title=f"ln {quantity}"), color=RANK),
    width="stretch")
st.altair_chart(alt.Chart(logged).mark_circle(size=10, opacity=0.5).encode(
    x=alt.X("log_conductor:Q", title="ln N", scale=alt.Scale(zero=False)),
    y=alt.Y("value:Q", title=f"ln {quantity}"), color=RANK,
    tooltip=["label", "conductor", "rank"]), width="stretch")

st.subheader("Rank in the (c4, c6) plane")
if "slog_c4" in sample.columns:
    st.altair_chart(alt.Chart(sample).mark_circle(size=10, opacity=0.5).encode(
        x=alt.X("slog_c4:Q", title="sign(c4)·ln(1+|c4|)"),
        y=alt.Y("slog_c6:Q", title="sign(c6)·ln(1+|c6|)"), color=RANK,
        tooltip=["label", "rank"]), width="stretch")
else:
    st.info("The Weierstrass features are not built: `dvc repro features`.")
st.download_button("Download the sample (distributions_sample.csv)", data.csv_bytes(sample),
                   "distributions_sample.csv", "text/csv")
