"""Overview: what the data covers, the verdict counts, provenance."""
import altair as alt
import polars as pl
import streamlit as st

from dashboard import data
from dashboard.queries import histogram
from models.verdicts import FLAGGED, kind_of, verdict_order
from reporting.document import crosscheck_coverage
from reporting.figures import OKABE_ITO
from reporting.provenance import revision_words
from reporting.words import headline

st.title("Unexpected predictability in Cremona's tables")
bsd = data.table("bsd", ["conductor", "isogeny_class", "rank"])
low, high = int(bsd["conductor"].min()), int(bsd["conductor"].max())
columns = st.columns(4)
columns[0].metric("curves", f"{len(bsd):,}")
columns[1].metric("isogeny classes", f"{bsd['isogeny_class'].n_unique():,}")
columns[2].metric("conductors", f"{low:,} – {high:,}")
metrics = data.optional_json("findings_metrics")
columns[3].metric("flagged findings", metrics["verdicts"].get(FLAGGED, 0) if metrics else "—")

st.markdown(
    f"**Covers**: every curve of Cremona's tables with conductor {low:,} ≤ N ≤ {high:,} "
    "(complete up to the bound), with PARI-computed BSD quantities. **Does not cover**: "
    "conductors beyond the bound, curves ordered by naive height (a different, less biased "
    "sample), or any statement about the ranks that the analytic rank does not prove.")

st.subheader("Conductors")
counts = histogram(bsd["conductor"].cast(pl.Float64), 50)
st.altair_chart(alt.Chart(counts).mark_bar(color=OKABE_ITO[0]).encode(
    x=alt.X("left:Q", bin="binned", title="conductor N",
            scale=alt.Scale(domain=[low, high], nice=False)),
    x2="right:Q", y=alt.Y("count:Q", title="curves"),
    tooltip=[alt.Tooltip("left:Q", format=",.0f", title="from N"),
             alt.Tooltip("right:Q", format=",.0f", title="to N"), "count:Q"]),
    width="stretch")
ranks = bsd.group_by("rank").len().sort("rank")
data.show(ranks.rename({"len": "curves"}), "curves_by_rank")

st.subheader("Verdicts")
if metrics is None:
    st.info("No findings yet: `dvc repro findings` builds them.")
else:
    verdicts = sorted(metrics["verdicts"].items(), key=lambda item: (verdict_order(item[0]),
                                                                    item[0]))
    st.table(pl.DataFrame({"verdict": [v for v, _ in verdicts],
                           "kind": [kind_of(v) for v, _ in verdicts],
                           "pairs": [n for _, n in verdicts]}).to_pandas().set_index("verdict"))
    findings = data.table("findings")
    st.markdown("\n\n".join(headline(findings, data.params().search.fdr)))
    flagged = findings.filter(pl.col("verdict") == FLAGGED)
    if len(flagged):
        st.markdown("**Flagged findings** (each opens on the Findings page): " + " · ".join(
            f"[{t} ~ {g}](findings?pair={t}~{g})" for t, g in flagged.select("target", "group")
            .iter_rows()))
    else:
        st.markdown("**No flagged finding.** The [Findings](findings) page shows every pair "
                    "and why it was not flagged.")

st.subheader("Would this engine have found what we know?")
controls = data.optional_json("controls_metrics")
if controls is None:
    st.info("No positive controls yet: `dvc repro controls` searches each pair of "
            "`controls.pairs` again with its law withheld.")
else:
    st.markdown(f"Each pair is answered exactly by a law. With the law withheld "
                f"(`search.withhold`) the engine must find it: **it found {controls['found']} of "
                f"{controls['controls']}.**")
    st.dataframe(pl.DataFrame([{"pair": pair, "law": entry["law"],
                                "with the law": entry["with_law"],
                                "law withheld": entry["withheld"],
                                "added value": entry["added_value"]}
                               for pair, entry in controls["pairs"].items()]), hide_index=True)

st.subheader("Cross-check against the source")
check = data.optional_json("crosscheck_metrics")
if check is None:
    st.info("Not cross-checked yet: `dvc repro crosscheck` compares our PARI values with the "
            "source's.")
else:
    st.markdown(f"Source **{check['source']}**: {check['published_curves']:,} curves published, "
                f"{check['curves']:,} computed, **{check['mismatches']:,} mismatches**. "
                + crosscheck_coverage(check))
    by_quantity = check["mismatches_by_quantity"]
    st.dataframe(pl.DataFrame({"quantity": list(check["compared"]),
                               "compared": list(check["compared"].values()),
                               "mismatches": [by_quantity.get(q, 0) for q in check["compared"]]}),
                 hide_index=True)
    if check["mismatches"]:
        data.show(data.table("crosscheck").head(200), "crosscheck")

st.subheader("Provenance")
report = data.optional_json("report_json")
if report is None:
    st.info("The report has not been built: `dvc repro report` writes its provenance block.")
else:
    provenance = report["provenance"]
    rows = [("date", provenance["date"]),
            ("git revision", revision_words(provenance["git_revision"])),
            ("params.yaml sha256", provenance["params_sha256"]),
            *[(f"md5 of {k}", v) for k, v in provenance["data_md5"].items()],
            *provenance["packages"].items()]
    data.show(pl.DataFrame(rows, schema=["item", "value"], orient="row"), "provenance")
