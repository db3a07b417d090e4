"""Overview: what the data covers, the verdict counts, provenance."""
import altair as alt
import polars as pl
import streamlit as st

from dashboard import data
from dashboard.queries import histogram

st.title("Unexpected predictability in Cremona's tables")
bsd = data.table("bsd", ["conductor", "isogeny_class", "rank"])
low, high = int(bsd["conductor"].min()), int(bsd["conductor"].max())
columns = st.columns(4)
columns[0].metric("curves", f"{len(bsd):,}")
columns[1].metric("isogeny classes", f"{bsd['isogeny_class'].n_unique():,}")
columns[2].metric("conductors", f"{low:,} – {high:,}")
metrics = data.optional_json("findings_metrics")
columns[3].metric("flagged findings", metrics["verdicts"].get("flagged", 0) if metrics else "—")

st.markdown(
    f"**Covers**: every curve of Cremona's tables with conductor {low:,} ≤ N ≤ {high:,} "
    "(complete up to the bound), with PARI-computed BSD quantities. **Does not cover**: "
    "conductors beyond the bound, curves ordered by naive height (a different, less biased "
    "sample), or any statement about the ranks that the analytic rank does not prove.")

st.subheader("Conductors")
counts = histogram(bsd["conductor"].cast(pl.Float64), 50)
st.altair_chart(alt.Chart(counts).mark_bar().encode(
    x=alt.X("left:Q", title="conductor"), y=alt.Y("count:Q", title="curves")),
    width="stretch")
ranks = bsd.group_by("rank").len().sort("rank")
st.dataframe(ranks.rename({"len": "curves"}), hide_index=True)

st.subheader("Verdicts")
if metrics is None:
    st.info("No findings yet: `dvc repro findings` builds them.")
else:
    st.dataframe(pl.DataFrame({"verdict": list(metrics["verdicts"]),
                               "pairs": list(metrics["verdicts"].values())}), hide_index=True)

st.subheader("Cross-check against the source")
check = data.optional_json("crosscheck_metrics")
if check is None:
    st.info("Not cross-checked yet: `dvc repro crosscheck` compares our PARI values with the "
            "source's.")
else:
    st.markdown(f"Source **{check['source']}**: {check['published_curves']:,} curves published, "
                f"{check['curves']:,} computed, **{check['mismatches']:,} mismatches** (real "
                f"quantities within {check['relative_tolerance']:g} relative).")
    by_quantity = check["mismatches_by_quantity"]
    st.dataframe(pl.DataFrame({"quantity": list(check["compared"]),
                               "compared": list(check["compared"].values()),
                               "mismatches": [by_quantity.get(q, 0) for q in check["compared"]]}),
                 hide_index=True)
    if check["mismatches"]:
        st.dataframe(data.table("crosscheck").head(200), hide_index=True)

st.subheader("Provenance")
report = data.optional_json("report_json")
if report is None:
    st.info("The report has not been built: `dvc repro report` writes its provenance block.")
else:
    provenance = report["provenance"]
    rows = [("date", provenance["date"]), ("git revision", provenance["git_revision"]),
            ("params.yaml sha256", provenance["params_sha256"]),
            *[(f"md5 of {k}", v) for k, v in provenance["data_md5"].items()],
            *provenance["packages"].items()]
    st.dataframe(pl.DataFrame(rows, schema=["item", "value"], orient="row"), hide_index=True)
