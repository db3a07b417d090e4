"""Findings: every pair's model score against its best baseline, the table (flagged first, then
by effect), and each finding with its evidence, its baselines' inputs in words, the curves its
model leans on most, and downloads (the table as CSV, the finding as JSON)."""
import json
from pathlib import Path

import altair as alt
import polars as pl
import streamlit as st

from arithmetic.feature_groups import group_words
from dashboard import data
from dashboard.queries import driving_curves
from models.gbm import model_file
from models.verdicts import FLAGGED, KINDS, kind_of, verdict_order
from reporting.words import FINDINGS_COLUMNS, FINDINGS_SORT, METRIC_WORDS

st.title("Findings")
findings = data.table("findings")
findings = findings.with_columns(
    kind=pl.col("verdict").map_elements(kind_of, return_dtype=pl.String),
    pair=pl.col("target") + " ~ " + pl.col("group"),
).sort(pl.col("verdict").map_elements(verdict_order, return_dtype=pl.Int64),
       pl.col(FINDINGS_SORT), descending=[False, True], nulls_last=True)
counts = findings.group_by("verdict").len()
st.caption(f"{len(findings)} (target, feature group) pairs searched: " + ", ".join(
    f"{n} {v}" for v, n in sorted(counts.iter_rows(),
                                  key=lambda r: (verdict_order(r[0]), -r[1], r[0]))) + ".")

st.subheader("Each model against its best baseline")
st.caption("One point per pair; above the diagonal the model beats the best heuristic baseline "
           "on the same folds. Colour and shape: the kind of verdict (one Okabe–Ito hue each, "
           "as in the report). Hover for the pair and its verdict.")
for metric, title in (("mcc", "classification targets"), ("r2", "regression targets")):
    part = findings.filter(pl.col("metric") == metric).select(
        "pair", "verdict", "kind", "score", "baseline_score", "best_baseline", "q_value")
    if not len(part):
        continue
    words = METRIC_WORDS[metric]
    low = float(min(part["score"].min(), part["baseline_score"].min(), 0))
    diagonal = alt.Chart(pl.DataFrame({"x": [low, 1.0]})).mark_line(
        color="#B0B0B0", strokeDash=[4, 4]).encode(x="x:Q", y="x:Q")
    points = alt.Chart(part).mark_point(filled=True, size=90, opacity=0.9).encode(
        x=alt.X("baseline_score:Q", title=f"best baseline {words}"),
        y=alt.Y("score:Q", title=f"model {words}"),
        color=alt.Color("kind:N", title="kind of verdict",
                        scale=alt.Scale(domain=list(KINDS),
                                        range=[k.colour for k in KINDS.values()]),
                        legend=alt.Legend(orient="right", labelLimit=0)),
        shape=alt.Shape("kind:N", scale=alt.Scale(
            domain=list(KINDS), range=[k.vega_marker for k in KINDS.values()]),
            legend=None),
        tooltip=[alt.Tooltip("pair:N"), alt.Tooltip("verdict:N"),
                 alt.Tooltip("score:Q", format=".3f", title="model"),
                 alt.Tooltip("best_baseline:N"),
                 alt.Tooltip("baseline_score:Q", format=".3f", title="baseline"),
                 alt.Tooltip("q_value:Q", format=".2e", title="BH q")])
    st.markdown(f"**{title}** ({words})")
    st.altair_chart((diagonal + points).properties(height=360), width="stretch")

st.subheader("The table")
show_all = st.toggle("Show every pair with its verdict (not only flagged findings)",
                     value=not (findings["verdict"] == FLAGGED).any())
if show_all:
    verdicts = findings["verdict"].unique(maintain_order=True).to_list()
    chosen = st.multiselect("Verdicts", verdicts, default=verdicts)
    shown = findings.filter(pl.col("verdict").is_in(chosen))
    st.caption("Empty null, confirmation and extrapolation cells were not fitted: the pair's "
               "added value was not significant, and those tests could not change its verdict.")
else:
    shown = findings.filter(pl.col("verdict") == FLAGGED)
    st.caption(f"{len(shown)} flagged of {len(findings)} pairs; the toggle shows the others, "
               "which a baseline or a null model explains, which have no skill, or which fail "
               "a later check.")

FORMATS = {"score": "%.3f", "p": "%.2e"}
present = [(c, label, kind) for c, label, kind in FINDINGS_COLUMNS if c in shown.columns]
config = {c: (st.column_config.NumberColumn(label, format=FORMATS[kind]) if kind in FORMATS
              else st.column_config.TextColumn(label, width="large" if c == "reason" else None))
          for c, label, kind in present}
if len(shown):
    data.show(shown.select([c for c, _, _ in present]), "findings", column_config=config)
else:
    st.info("No pair is flagged: no pair's features add significant value beyond what it "
            "knows and pass the tests that follow. The toggle shows every pair, why, and the "
            "added value it could have detected.")

st.subheader("One finding")
pairs = shown["pair"].to_list() or findings["pair"].to_list()
linked = st.query_params.get("pair", "").replace("~", " ~ ")      # a link from the overview
if linked in findings["pair"].to_list() and linked not in pairs:
    pairs = [linked, *pairs]
pair = st.selectbox("Open a finding", pairs, index=pairs.index(linked) if linked in pairs else 0)
row = findings.filter(pl.col("pair") == pair).row(0, named=True)
metric = METRIC_WORDS.get(row["metric"], row["metric"])
report = data.optional_json("report_json")
written = {(f["target"], f["group"]): f for f in report["findings"]} if report else {}
statements = {key: f["statement"] for key, f in written.items()}
st.markdown(f"**{pair}** — {statements.get((row['target'], row['group']), row['reason'])}")
cells = st.columns(4)
cells[0].metric(f"model {metric}", f"{row['score']:.3f}",
                help=f"class-bootstrap interval [{row['score_low']:.3f}, {row['score_high']:.3f}]")
cells[1].metric(row["best_baseline"], f"{row['baseline_score']:.3f}")
cells[2].metric(f"null {data.params().search.null_quantile:.0%} quantile",
                "not run" if row["screened"] else f"{row['null_quantile']:.3f}",
                help="a screened pair: its p-value already exceeds the FDR level, so its null "
                     "datasets were not fitted" if row["screened"] else None)
cells[3].metric("BH q", f"{row['q_value']:.2e}")
st.markdown(f"**Verdict**: {row['verdict']} — {row['reason']}")

baseline_scores = json.loads(row["baseline_scores"])
inputs = written.get((row["target"], row["group"]), {}).get("baseline_inputs") or "{}"
inputs = json.loads(inputs) if isinstance(inputs, str) else inputs
st.markdown("**Baselines, with what each reads**")
st.table(pl.DataFrame({
    "baseline": list(baseline_scores),
    metric: [f"{v:.3f}" for v in baseline_scores.values()],
    "inputs": [inputs.get(name, "(the report, `dvc repro report`, describes them)")
               for name in baseline_scores],
}).to_pandas().set_index("baseline"))


def _named(names: list[str], shown: int = 12) -> str:
    listed = ", ".join(f"`{name}`" for name in names[:shown])
    return (listed + f" and {len(names) - shown} more" if len(names) > shown else listed) or "none"


resolved = data.optional_table("pairs")
given = None if resolved is None else resolved.filter(
    (pl.col("target") == row["target"]) & (pl.col("group") == row["group"]))
if given is not None and len(given):
    given = given.row(0, named=True)
    members = data.params().search.groups.get(row["group"], [])
    words = group_words(members, data.params().features.primes_max) if members else row["group"]
    st.markdown(f"**What the pair was given**: {words} (as the train stage resolved it)\n\n"
                f"- its features: {_named(given['columns'])}\n"
                f"- what known mathematics derives from them: {_named(given['known'])}\n"
                f"- the laws that apply (its baselines): {_named(given['laws'])}")


@st.cache_data(show_spinner=False)
def _sample_frame(stamp: float, size: int, seed: int) -> pl.DataFrame:
    features = data.scan("features")
    bsd = data.scan("bsd").select("label", "rank", "torsion", "sha", "root_number")
    frame = features.join(bsd, on="label", how="left", suffix="_bsd").collect()
    return frame.sample(min(size, len(frame)), seed=seed)


model = model_file(data.params().paths.gbm_models, row["target"], row["group"])
importances = data.table("importances")
columns = importances.filter((pl.col("target") == row["target"])
                             & (pl.col("group") == row["group"]))["feature"].to_list()
st.markdown("**The curves its model leans on most**")
if model.exists() and columns:
    settings = data.params().dashboard
    frame = _sample_frame(data.path("features").stat().st_mtime, settings.sample, settings.seed)
    if all(c in frame.columns for c in columns):
        top = driving_curves(model.read_text(), columns, frame, 10)
        st.caption(f"Of a seeded sample of {len(frame):,} curves (dashboard.sample): the largest "
                   "sums of |SHAP| of the exported model (fitted on every searched curve). "
                   "Each label opens its curve page.")
        st.markdown(" · ".join(f"[{label}](curves?curve={label}) ({feature})"
                               for label, feature in zip(top["label"], top["top_feature"])))
else:
    st.info("This pair's model is not exported: `dvc repro train` writes it.")

evidence = {k: v for k, v in row.items() if k not in ("kind", "pair")}
evidence["baseline_scores"] = baseline_scores
evidence["baseline_inputs"] = inputs
for name in ("scores", "baseline_all_scores"):
    if isinstance(evidence.get(name), str):
        evidence[name] = json.loads(evidence[name])
evidence["statement"] = statements.get((row["target"], row["group"]))
st.download_button("Download this finding with its evidence (JSON)",
                   json.dumps(evidence, indent=1, default=str),
                   f"{row['target']}__{row['group']}.json", "application/json",
                   key="download-finding")

figures = Path(data.params().paths.report_figures)
stem = f"{row['target']}__{row['group']}"
images = [(figures / f"{stem}__{kind}.png", caption) for kind, caption in (
    ("null", "The model's score on fold 1 (vermillion) against its scores on the null "
             "datasets (grey ticks) and the best baseline (blue, dashed)."),
    ("strata", "Model and best-baseline scores by conductor stratum (out-of-fold)."),
    ("features", "Top features by mean |SHAP| (model output units)."))]
present_images = [(image, caption) for image, caption in images if image.exists()]
if present_images:
    for column, (image, caption) in zip(st.columns(2) * 2, present_images):
        column.image(str(image), caption=caption)
else:
    st.info("The report's plots for this pair are not built: `dvc repro report` draws them.")
