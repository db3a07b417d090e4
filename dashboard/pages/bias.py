"""Conductor bias: the checks each would-be finding faced (conductor strata, reweighting onto
the height-ordered sample, replication on the height-ordered and Stein–Watkins samples), and
the three samples' distributions side by side."""
import json

import altair as alt
import polars as pl
import streamlit as st

from dashboard import data
from models.verdicts import ARTEFACT, NOT_REPLICATED
from reporting.figures import OKABE_ITO

st.title("Conductor bias")
st.caption("Cremona's tables hold every curve up to a conductor bound, a biased sample. A pair "
           "that would be flagged faces three checks: the upper conductor strata, its margin "
           "reweighted onto curves ordered by naive height, and replication on the "
           "height-ordered and Stein–Watkins samples where its target is known. A failed check "
           "makes it a conductor-bias artefact only with positive evidence; otherwise it is "
           "not replicated, with the effect the check could have detected.")

metrics = data.optional_json("bias_metrics") or {}
checks = data.table("bias")
columns = st.columns(5)
columns[0].metric("Pairs checked", metrics.get("checked", len(checks)))
columns[1].metric("Conductor-bias artefacts", metrics.get("artefacts", 0))
columns[2].metric("Not replicated", metrics.get("not_replicated", 0))
columns[3].metric("Survive", metrics.get("survive", 0))
columns[4].metric("Height sample covered by reweighting",
                  f"{metrics.get('height_mass_covered', 0):.0%}")

st.header("Checks of each pair")
if not len(checks):
    st.info("No pair would have been flagged, so no pair needed the bias checks.")
for row in checks.iter_rows(named=True):
    not_replicated = row.get("not_replicated_reason") or ""
    outcome = (ARTEFACT if row["artefact_reason"] else
               NOT_REPLICATED if not_replicated else "survives")
    with st.expander(f"{row['target']} ~ {row['group']}: {outcome}",
                     expanded=outcome != "survives"):
        if row["artefact_reason"]:
            # a verdict of the checks, not a failure of the app
            st.info(f"**Why it is an artefact:** {row['artefact_reason']}", icon="ℹ️")
        elif not_replicated:
            st.info(f"**Why it is not replicated:** {not_replicated}", icon="ℹ️")
        st.write(f"Margin over {row['best_baseline']} in the low conductor strata "
                 f"{row['low_margin']:.3f}, in the high ones {row['high_margin']:.3f} "
                 f"(slope {row['trend_slope']:+.3f}).")
        st.write(f"Reweighted onto the height-ordered sample: model {row['weighted_score']:.3f}, "
                 f"baseline {row['weighted_baseline']:.3f}, margin "
                 f"[{row['weighted_margin_low']:.3f}, {row['weighted_margin_high']:.3f}].")
        data.show(pl.DataFrame(json.loads(row["replications"])),
                  f"replications_{row['target']}__{row['group']}")

st.header("The three samples")
shares = data.table("bias_distributions")
quantity = st.selectbox("Quantity", shares["quantity"].unique(maintain_order=True).to_list())
part = shares.filter(pl.col("quantity") == quantity)
chart = alt.Chart(part).mark_bar().encode(
    x=alt.X("value:N", title=quantity, sort=part["value"].unique(maintain_order=True).to_list(),
            axis=alt.Axis(labelAngle=0)),
    xOffset="sample:N", y=alt.Y("share:Q", title="share of curves"),
    color=alt.Color("sample:N", scale=alt.Scale(range=OKABE_ITO)),
    tooltip=["sample", "value", "curves", alt.Tooltip("share:Q", format=".3~g")])
st.altair_chart(chart, width="stretch")
data.show(part, "bias_distributions")
