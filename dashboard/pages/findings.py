"""Findings: by default only the flagged ones; a toggle shows every pair with its verdict."""
import json
from pathlib import Path

import polars as pl
import streamlit as st

from dashboard import data
from reporting.words import METRIC_WORDS

st.title("Findings")
findings = data.table("findings")
show_all = st.toggle("Show every pair with its verdict (not only flagged findings)", value=False)
verdicts = sorted(findings["verdict"].unique().to_list())
if show_all:
    chosen = st.multiselect("Verdicts", verdicts, default=verdicts)
    shown = findings.filter(pl.col("verdict").is_in(chosen))
else:
    shown = findings.filter(pl.col("verdict") == "flagged")
    st.caption(f"{len(shown)} flagged of {len(findings)} pairs searched; the others are "
               "explained by a baseline or a null model, not predictable, or fail on the "
               "largest conductors.")
shown = shown.sort("effect", descending=True)
if not len(shown):
    st.info("No pair is shown: nothing beats the baselines and the null models at the FDR "
            "level. Use the toggle to see every pair and why.")
    st.stop()

st.dataframe(shown.select(
    "target", "group", "metric", pl.col("score").round(3), pl.col("score_low").round(3),
    pl.col("score_high").round(3), "best_baseline", pl.col("baseline_score").round(3),
    pl.col("effect").round(3), pl.col("q_value"), "verdict", "reason"), hide_index=True)

pairs = [f"{t} ~ {g}" for t, g in shown.select("target", "group").iter_rows()]
pair = st.selectbox("Open a finding", pairs)
row = shown.row(pairs.index(pair), named=True)
st.subheader(pair)
metric = METRIC_WORDS.get(row["metric"], row["metric"])
report = data.optional_json("report_json")
statements = {(f["target"], f["group"]): f["statement"] for f in report["findings"]} if report else {}
st.markdown(statements.get((row["target"], row["group"]), row["reason"]))
cells = st.columns(4)
cells[0].metric(f"model {metric}", f"{row['score']:.3f}",
                help=f"95% class-bootstrap interval [{row['score_low']:.3f}, {row['score_high']:.3f}]")
cells[1].metric(row["best_baseline"], f"{row['baseline_score']:.3f}")
cells[2].metric("null 95% quantile", f"{row['null_quantile']:.3f}")
cells[3].metric("BH q", f"{row['q_value']:.2g}")
st.markdown(f"**Verdict**: {row['verdict']} — {row['reason']}")
st.markdown("**All baselines**: " + ", ".join(
    f"{name} {score:.3f}" for name, score in json.loads(row["baseline_scores"]).items()))

figures = Path(data.params().paths.report_figures)
stem = f"{row['target']}__{row['group']}"
images = [(figures / f"{stem}__{kind}.png", caption) for kind, caption in (
    ("null", "model against its null datasets"), ("strata", "score by conductor stratum"),
    ("features", "top features (mean |SHAP|)"))]
present = [(image, caption) for image, caption in images if image.exists()]
if present:
    for image, caption in present:
        st.image(str(image), caption=caption)
else:
    st.info("The report's plots for this pair are not built: `dvc repro report` draws them "
            "for flagged findings.")
