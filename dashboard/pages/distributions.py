"""Distributions of the BSD quantities by rank and conductor (a seeded sample of the table)."""
import altair as alt
import polars as pl
import streamlit as st

from dashboard import data
from dashboard.queries import bsd_ratio

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
st.caption(f"A seeded sample of {len(sample):,} curves (dashboard.sample in params.yaml).")

st.subheader("The BSD ratio L^(r)(E,1) / (r! Ω R) = Sha·∏c_p / #T²")
st.altair_chart(alt.Chart(sample).mark_bar(opacity=0.6).encode(
    x=alt.X("log_bsd_ratio:Q", bin=alt.Bin(maxbins=60), title="log BSD ratio"),
    y=alt.Y("count():Q", stack=None, title="curves"), color="rank:N"), width="stretch")
st.altair_chart(alt.Chart(sample).mark_circle(size=8, opacity=0.4).encode(
    x=alt.X("log_conductor:Q", title="log conductor", scale=alt.Scale(zero=False)), y=alt.Y("log_bsd_ratio:Q"),
    color="rank:N", tooltip=["label", "conductor", "rank"]), width="stretch")

st.subheader("A BSD quantity by rank")
quantity = st.selectbox("Quantity", QUANTITIES, index=0)
logged = sample.with_columns(value=pl.col(quantity).cast(pl.Float64).log())
st.altair_chart(alt.Chart(logged).mark_boxplot().encode(
    x=alt.X("rank:N"), y=alt.Y("value:Q", title=f"log {quantity}")), width="stretch")
st.altair_chart(alt.Chart(logged).mark_circle(size=8, opacity=0.4).encode(
    x=alt.X("log_conductor:Q", title="log conductor", scale=alt.Scale(zero=False)), y=alt.Y("value:Q", title=f"log {quantity}"),
    color="rank:N", tooltip=["label", "conductor"]), width="stretch")

st.subheader("Rank in the (c4, c6) plane")
if "slog_c4" in sample.columns:
    st.altair_chart(alt.Chart(sample).mark_circle(size=8, opacity=0.5).encode(
        x=alt.X("slog_c4:Q", title="sign(c4)·log(1+|c4|)"),
        y=alt.Y("slog_c6:Q", title="sign(c6)·log(1+|c6|)"), color="rank:N",
        tooltip=["label", "rank"]), width="stretch")
else:
    st.info("The Weierstrass features are not built: `dvc repro features`.")
