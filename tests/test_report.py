"""The report: plain words, the Markdown/HTML document, provenance (reporting/)."""
from __future__ import annotations

import json
import re

import polars as pl
import pytest

from arithmetic.feature_groups import group_words
from reporting.document import Context, markdown, pair_figures, to_html, topology_section
from reporting.provenance import file_md5, provenance
from reporting.words import statement


def finding(target="rank", group="ap", verdict="flagged", **changes) -> dict:
    row = {"target": target, "group": group, "task": "classification", "metric": "mcc",
           "features": 50, "curves": 1000, "score": 0.62, "score_low": 0.60, "score_high": 0.64,
           "best_baseline": "Mestre-Nagao", "baseline_score": 0.41, "baseline_low": 0.39,
           "baseline_high": 0.43,
           "baseline_scores": json.dumps({"constant": 0.0, "Mestre-Nagao": 0.41}),
           "null_model": "minimalist_rank", "null_mean": 0.01, "null_quantile": 0.03,
           "null_level": 0.9,
           "null_scores": [0.0, 0.01, 0.02, 0.03, 0.01], "score_first_fold": 0.61,
           "effect": 0.21, "effect_low": 0.18, "effect_high": 0.24, "known_formula": None,
           "known_formula_score": None, "known_gbm_score": 0.45, "added_value": 0.17,
           "added_value_low": 0.14, "added_value_high": 0.2, "known_plus_features_score": 0.62,
           "confirmation_added_value": 0.16, "confirmation_low": 0.12, "confirmation_high": 0.2,
           "confirmation_curves": 400,
           "q_confirmation": 1e-6, "p_added": 1e-10, "p_added_empirical": 1 / 201, "p_null": 1e-9,
           "p_null_empirical": 1 / 6, "p_baseline": 1e-12, "p_baseline_empirical": 1 / 201,
           "p_value": 1e-9, "extrapolation_score": 0.58, "extrapolation_baseline": "Mestre-Nagao",
           "extrapolation_baseline_score": 0.40, "extrapolation_effect_low": 0.15,
           "extrapolation_effect_high": 0.21, "q_value": 1e-8, "verdict": verdict,
           "reason": "beats Mestre-Nagao", "statement": "",
           "strata": [{"conductor_low": 11, "conductor_high": 99, "curves": 500, "model": 0.6,
                       "baseline": 0.4},
                      {"conductor_low": 100, "conductor_high": 999, "curves": 500,
                       "model": 0.63, "baseline": 0.42}]}
    return {**row, **changes}


def context() -> Context:
    return Context(targets={"rank": "analytic rank", "log_sha_an": "log of Sha"},
                   groups={"ap": "the traces a_p for p ≤ 100", "bsd": "the other BSD quantities"},
                   coverage={"curves": 1000, "classes": 600, "conductor_min": 11,
                             "conductor_max": 999},
                   provenance={"date": "2026-11-25 12:00 UTC", "git_revision": "abc",
                               "params_sha256": "0" * 64, "data_md5": {"bsd": "1" * 32},
                               "packages": {"polars": "1"}},
                   fdr=0.05, top_features=3)


def importances() -> pl.DataFrame:
    return pl.DataFrame({"target": ["rank"] * 4, "group": ["ap"] * 4,
                         "feature": ["ap_2", "ap_3", "ap_5", "ap_7"],
                         "gain": [4.0, 3.0, 2.0, 1.0], "mean_abs_shap": [0.4, 0.3, 0.2, 0.1]})


def test_group_words_name_every_member():
    assert group_words(["ap"], 97) == "the traces a_p for p ≤ 97"
    assert group_words(["conductor", "ap", "parity"], 100) == (
        "the conductor's factorization, the traces a_p for p ≤ 100 and the root number")
    with pytest.raises(KeyError, match="'novel' is not a feature group"):
        group_words(["novel"], 100)


def test_statement_says_what_the_verdict_means():
    flagged = statement(finding(), "analytic rank", "the traces a_p for p ≤ 100")
    assert flagged.startswith("Analytic rank is predictable from the traces a_p for p ≤ 100 "
                              "beyond the Mestre-Nagao baseline (0.410)")
    assert "MCC 0.620 [0.600, 0.640]" in flagged and "largest conductors" in flagged
    assert "null model (90% quantile 0.030)" in flagged       # search.null_quantile, not 95%
    explained = statement(finding(verdict="explained by parity", reason="parity scores 0.9"),
                          "analytic rank", "the root number")
    assert "is explained by parity: parity scores 0.9" in explained
    assert "not predictable from" in statement(finding(verdict="not predictable"), "x", "y")
    assert "matched by the minimalist_rank null" in statement(
        finding(verdict="explained by minimalist_rank null model"), "x", "y")
    assert "by less on the largest conductors (0.580 against Mestre-Nagao 0.400" in statement(
        finding(verdict="fails extrapolation"), "x", "y")


def test_markdown_details_flagged_and_tables_the_rest():
    findings = pl.DataFrame([finding(), finding(target="log_sha_an", group="bsd",
                                                verdict="explained by BSD formula",
                                                metric="r2", task="regression",
                                                added_value=-0.002,
                                                detectable_added_value=0.0123)])
    images = pair_figures(findings, importances(), 3)
    assert set(images) == {"rank__ap__null.png", "rank__ap__strata.png", "rank__ap__features.png",
                           "log_sha_an__bsd__null.png", "log_sha_an__bsd__strata.png"}
    text = markdown(findings, importances(), context(), images)
    assert "## Flagged findings (1)" in text and "### 1. rank ~ ap" in text
    assert "## All other results (1)" in text and "| 1 | log_sha_an | bsd |" in text
    # the question in words leads, with the verdict and the reason
    question = next(line for line in text.splitlines() if "(`log_sha_an ~ bsd`)" in line)
    assert question.startswith("| 1 | ") and "| explained by BSD formula |" in question
    # every pair not flagged says the added value it could have detected, and so does the
    # headline, which names only the tests that ran
    row = next(line for line in text.splitlines() if line.startswith("| 1 | log_sha_an | bsd |"))
    assert "| -0.002 | 0.012 |" in row
    assert "**Found:** 1 flagged of 2. 0 pairs were decided by the added-value test alone" in text
    assert "**Could have found:**" in text and "R² median 0.012" in text
    assert "`ap_2` 0.4, `ap_3` 0.3, `ap_5` 0.2" in text and "ap_7" not in text
    assert "![score by conductor stratum](figures/rank__ap__strata.png)" in text
    assert "log_sha_an__bsd__null.png" not in text        # only flagged pairs are detailed
    # the flagged pair's card: its added value beyond the best baseline, with its interval,
    # on the discovery folds and on the held-out families, and the laws it does not read
    assert ("GBM on what the pair knows and the features 0.620 − Mestre-Nagao 0.410 = +0.170 "
            "[0.140, 0.200]; p 1e-10 (empirical 0.005)") in text
    assert "| related laws, not applicable | — |" in text
    assert "added value +0.160 [0.120, 0.200] on 400 curves; BH q 1e-06" in text
    unconfirmed = markdown(pl.DataFrame([finding(confirmation_added_value=None)]),
                           importances(), context(), images)
    assert "not fitted (no confirmation fit ran for this pair)" in unconfirmed
    assert all(png.startswith(b"\x89PNG") for png in images.values())

    page = to_html(text, {f"figures/{name}": png for name, png in images.items()}, "t")
    sources = re.findall(r'src="([^"]+)"', page)
    assert len(sources) == 4 and all(s.startswith("data:image/png;base64,") for s in sources)
    assert "http://" not in page and "https://" not in page       # opens offline
    assert "<table>" in page and '<h3 id="1-rank--ap">1. rank ~ ap</h3>' in page


def test_report_has_contents_captions_and_a_glossary():
    findings = pl.DataFrame([finding(baseline_inputs=json.dumps({
        "constant": "nothing: the majority class or the mean",
        "Mestre-Nagao": "one Mestre–Nagao sum, thresholded"})),
        finding(target="log_sha_an", group="bsd", verdict="explained by BSD identity",
                metric="r2", task="regression")])
    images = pair_figures(findings, importances(), 3)
    text = markdown(findings, importances(), context(), images)
    page = to_html(text, {f"figures/{name}": png for name, png in images.items()}, "t")
    targets = re.findall(r'href="#([^"]+)"', page)
    ids = set(re.findall(r'<h[23] id="([^"]+)"', page))
    assert {"glossary", "provenance", "flagged-findings-1"} <= set(targets) <= ids
    lines = text.splitlines()
    figures = [i for i, line in enumerate(lines) if line.startswith("![")]
    assert figures and all(lines[i + 2].startswith("*Figure: ") for i in figures)
    glossary = text[text.index("## Glossary"):]
    for term in ("flagged", "explained by BSD identity", "`slog_<x>`", "`mn_s0_<B>`",
                 "one Mestre–Nagao sum, thresholded"):
        assert term in glossary, term
    detail = text[text.index("### 1. rank ~ ap"):text.index("## All other results")]
    assert "**Mestre-Nagao**: one Mestre–Nagao sum, thresholded" in detail


def test_one_colour_per_verdict_kind():
    """Ten "explained by ..." verdicts share one colour, that of their kind; the five kinds
    have five distinct colours and markers, one definition for the report and the dashboard;
    a verdict no module declares has no kind."""
    from models.verdicts import KINDS, VERDICT_KINDS, kind_of
    from reporting.figures import kind_colour

    assert set(VERDICT_KINDS.values()) <= set(KINDS)

    verdicts = ["flagged", "explained by parity", "explained by the BSD formula",
                "explained by minimalist_rank null model", "conductor-bias artefact",
                "fails extrapolation", "not predictable", "borderline", "finding",
                "not significant"]
    assert [kind_of(v) for v in verdicts] == [
        "flagged", "explained", "explained", "explained", "artefact", "artefact",
        "not predictable", "other", "flagged", "other"]
    assert len({k.colour for k in KINDS.values()}) == len({k.marker for k in KINDS.values()}) \
        == len({k.vega_marker for k in KINDS.values()}) == 5
    assert {kind_colour(v) for v in verdicts[1:4]} == {KINDS["explained"].colour}
    for unknown in ("explained", "flagged!", "a new verdict"):
        with pytest.raises(ValueError, match="not a verdict of models.verdicts"):
            kind_of(unknown)


def test_topology_summary_names_the_largest_departure():
    from reporting.document import topology_summary
    tests = pl.DataFrame({"family": ["ap", "ap", "bsd"], "group": ["rank 0", "rank 1", "rank 0"],
                          "null_model": ["sato_tate", "sato_tate", "gaussian"],
                          "statistic": ["longest_h1", "entropy_h0", "bars_h0"],
                          "observed": [2.0, 0.95, 1.0], "null_low": [0.1, 0.9, 0.9],
                          "null_high": [0.3, 1.1, 1.1], "q_value": [1e-9, 0.5, 0.4]})
    summary = topology_summary(tests, 0.05).to_dicts()
    assert summary[0] == {"cloud": "ap", "against": "sato_tate", "tests": 2, "q ≤ 0.05": 1,
                          "furthest": "rank 0: longest_h1", "observed": 2.0,
                          "null_band": "0.1 – 0.3", "band_widths_outside": 8.5}
    assert summary[1]["band_widths_outside"] == 0.0 and summary[1]["q ≤ 0.05"] == 0


def test_baseline_inputs_come_from_the_search_definitions():
    """Every baseline says what it reads (``words``), from its own definition: the heuristic
    GBMs the inputs their law reads (models.laws), the closed forms their formula."""
    from models.laws import L_SERIES
    from models.search import baselines_for
    from models.targets import standard_targets
    groups = {"conductor": ["log_conductor", "bad_primes"], "parity": ["root_number"],
              "heuristics": ["l_series_0", "l_series_1"], "bsd": ["log_real_period"],
              "mestre_nagao": ["mn_s0_10"]}
    target = standard_targets(97, [10])["log_special_value"]
    known = ["log_l_value", "analytic_rank_l", "l_series_0", "l_series_1", "root_number",
             "log_conductor"]
    words = {b.name: b.words for b in baselines_for(
        target, ["log_real_period"], groups, 1, 1, {}, known)}
    assert all(c in words["L-series heuristic"] for c in L_SERIES)
    assert words["L-series at s = 1"].startswith("L(E,1) and L'(E,1)")
    assert "log_l_value" in words["known quantities"]


def test_topology_section_lists_what_survives_bh():
    tests = pl.DataFrame({"family": ["ap", "bsd"], "group": ["rank 0", "rank 1"],
                          "window_low": [1, 1], "window_high": [10000, 5000],
                          "null_model": ["sato_tate", "gaussian"],
                          "statistic": ["longest_h1", "entropy_h0"], "observed": [2.0, 1.0],
                          "null_low": [0.1, 0.9], "null_high": [0.3, 1.1],
                          "p_value": [1e-20, 0.4], "p_empirical": [0.025, 0.5],
                          "q_value": [2e-20, 0.4]})
    lines = "\n".join(topology_section(tests, ["ap__rank_0__1-10000.png"], context()))
    assert "2 tests" in lines and "1 with Benjamini–Hochberg q ≤ 0.05" in lines
    assert "| ap: rank 0 | 1–10000 | sato_tate | longest_h1 | 2 |" in lines
    assert "| bsd: rank 1 |" not in lines                       # q = 0.4: only in the summary
    assert "| bsd | gaussian | 1 | 0 | rank 1: entropy_h0 |" in lines
    assert "![persistence diagram](topology/ap__rank_0__1-10000.png)" in lines


def test_topology_section_gives_verdicts_and_writes_up_findings():
    from models.topology_verdicts import AGAINST_NULLS, GROUP_DIFFERENCE, verdicts
    tests = pl.DataFrame({"family": ["ap", "weierstrass"], "group": ["rank 0", "rank 0 vs rank 1"],
                          "kind": [AGAINST_NULLS, GROUP_DIFFERENCE], "curves": [700, 9000],
                          "window_low": [1, 1], "window_high": [10000, 10000],
                          "null_model": ["gaussian", "permuted labels"],
                          "statistic": ["longest_h1", "entropy_h0"], "observed": [2.0, 1.5],
                          "null_low": [0.1, 0.9], "null_high": [0.3, 1.1],
                          "p_value": [1e-20, 1e-9], "p_empirical": [0.025, 0.025],
                          "q_value": [2e-20, 2e-9]})
    tests = verdicts(tests, 0.05, {AGAINST_NULLS: 39, GROUP_DIFFERENCE: 39})
    lines = "\n".join(topology_section(tests, [], context()))
    assert "explained by Sato-Tate 1; finding 1" in lines
    assert "| ap | gaussian | 1 | 1 | explained by Sato-Tate 1 |" in lines
    assert ("- **The weierstrass cloud of rank 0 vs rank 1** (9,000 curves, conductors 1–9999): "
            "its entropy_h0 is 1.5, where permuted labels give 0.9 – 1.1") in lines
    assert "| 0.025 (< 1e-16) | < 1e-16 | explained by Sato-Tate |" in lines


def test_markdown_says_when_nothing_is_flagged():
    findings = pl.DataFrame([finding(verdict="not predictable")])
    text = markdown(findings, importances(), context(), {})
    assert "## Flagged findings (0)" in text
    assert "No pair is flagged (what the search could have detected: above)" in text


def test_provenance_hashes_like_dvc(tmp_path):
    data = tmp_path / "x.parquet"
    data.write_bytes(b"abc")
    params = tmp_path / "params.yaml"
    params.write_text("a: 1\n")
    block = provenance(params, {"x": data, "missing": tmp_path / "nothing"})
    assert block["data_md5"] == {"x": "900150983cd24fb0d6963f7d28e17f72"} == {"x": file_md5(data)}
    assert re.fullmatch(r"[0-9a-f]{40}( \+changes)?", block["git_revision"])
    assert block["packages"]["PARI"].startswith("2.15") and block["packages"]["polars"]


def test_report_stage_on_a_real_run(pipeline_project):
    import yaml
    repo = pipeline_project[0]
    findings = pl.read_parquet(repo / "data/findings.parquet")
    exported = json.loads((repo / "reports/findings.json").read_text())
    assert (len(exported["findings"]) == len(findings)
            == len(pl.read_csv(repo / "reports/findings.csv")))
    assert all(f["statement"].endswith(".") for f in exported["findings"])
    lock = yaml.safe_load((repo / "dvc.lock").read_text())["stages"]
    locked = {out["path"]: out["md5"] for stage in lock.values() for out in stage.get("outs", [])}
    assert exported["provenance"]["data_md5"]["findings"] == locked["data/findings.parquet"]
    assert exported["provenance"]["data_md5"]["bsd"] == locked["data/bsd.parquet"]
    page = (repo / "reports/findings.html").read_text()
    assert "## " not in page and '<h2 id="provenance">Provenance</h2>' in page
    assert all(s.startswith("data:") for s in re.findall(r'src="([^"]+)"', page))
    figures = {p.name for p in (repo / "reports/figures").iterdir()}
    diagrams = {p.name for p in (repo / "reports/topology").iterdir()}
    assert ("## Topology: persistent homology against null clouds"
            in (repo / "reports/findings.md").read_text())
    assert "ap__rank_0__1-300.png" in diagrams
    assert {"overview.png", "rank__ap__strata.png", "rank__ap__features.png"} <= figures
    decided = pl.read_parquet(repo / "data/findings.parquet")
    tested = decided.filter(~pl.col("screened"))
    nulls = {f"{r['target']}__{r['group']}__null.png" for r in tested.iter_rows(named=True)}
    assert nulls == {name for name in figures if name.endswith("__null.png")}
    markdown_text = (repo / "reports/findings.md").read_text()
    for name in re.findall(r"\]\(figures/([^)]+)\)", markdown_text):
        assert name in figures
    for name in re.findall(r"\]\(topology/([^)]+)\)", markdown_text):
        assert name in diagrams


def test_report_has_the_bias_and_known_phenomena_sections(pipeline_project):
    repo = pipeline_project[0]
    text = (repo / "reports/findings.md").read_text()
    assert "## Conductor bias: do the findings survive other samples?" in text
    assert "## Known phenomena, rediscovered" in text
    assert re.search(r"\| rank_parity ~ parity \| explained by parity conjecture \| "
                     r"explained by parity conjecture \| as expected \|",
                     text)
    for directory in ("bias", "murmurations"):
        present = {p.name for p in (repo / "reports" / directory).iterdir()}
        linked = re.findall(rf"\]\({directory}/([^)]+)\)", text)
        assert linked and set(linked) <= present
    signs = json.loads((repo / "metrics/murmurations.json").read_text())["windows"]
    for window in signs.values():
        means = window["small_ratio_means"]
        assert means["rank 0"] > 0 > means["rank 1"], means
    bias = json.loads((repo / "metrics/bias.json").read_text())
    findings = pl.read_parquet(repo / "data/findings.parquet")
    would_flag = findings.filter(pl.col("verdict").is_in(["flagged", "conductor-bias artefact"]))
    assert bias["checked"] == len(would_flag) and bias["curves"]["height-ordered"] == 400


def test_markdown_says_when_the_search_ran_on_a_sample_of_classes():
    findings = pl.DataFrame([finding(verdict="not predictable")])
    whole = markdown(findings, importances(), context(), {})
    assert "sample" not in whole.split("##")[0]
    ctx = context()
    ctx.coverage["searched_classes"] = 400
    sampled = markdown(findings, importances(), ctx, {})
    assert "searched a seeded uniform sample of 400 of these isogeny classes" in sampled


def test_figures_drawn_in_worker_processes_equal_the_serial_ones():
    """The stage draws the pairs' figures in ``report.workers`` processes: the same files, the
    same bytes, as one process drawing them in order."""
    from pipeline.report import rendered_figures

    rows = pl.DataFrame([finding(), finding(group="bsd"), finding(target="log_sha_an"),
                         finding(target="log_sha_an", group="bsd", screened=True)],
                        infer_schema_length=None)
    weights = pl.concat([importances(), importances().with_columns(group=pl.lit("bsd"))])
    serial = pair_figures(rows, weights, 3)
    assert len(serial) == 9     # the screened pair has no null-dataset figure, and only the
                                # rank pairs have importances
    assert rendered_figures(rows, weights, 3, workers=2) == serial
    assert rendered_figures(rows, weights, 3, workers=1) == serial


def test_the_controls_section_says_what_the_engine_found():
    from reporting.document import controls_section
    controls = pl.DataFrame([
        {"target": "rank_parity", "group": "parity", "law": "parity conjecture",
         "verdict_with_law": "explained by parity conjecture", "reason_with_law": "",
         "verdict": "flagged", "reason": "adds +1.000", "found": True, "added_value": 1.0,
         "added_value_low": 1.0, "added_value_high": 1.0, "metric": "mcc", "seconds": 2.0},
        {"target": "log_tamagawa_product", "group": "weierstrass", "law": "Tate's algorithm",
         "verdict_with_law": "explained by Tate's algorithm", "reason_with_law": "",
         "verdict": "explained by known quantities", "reason": "Ogg's formula reads the rest",
         "found": False, "added_value": -0.0, "added_value_low": -0.001,
         "added_value_high": 0.0, "metric": "r2", "seconds": 19.0}])
    text = "\n".join(controls_section(controls))
    assert "## Would this engine have found what we know?" in text
    assert "**The engine found 1 of 2.**" in text and "| **flagged** |" in text
    assert ("Not found without Tate's algorithm: log_tamagawa_product ~ weierstrass is "
            "explained by known quantities (Ogg's formula reads the rest).") in text


def test_the_cross_check_says_what_it_compared():
    """The embedded tables publish generators, not allbsd: the rank alone is compared, and the
    text says so instead of a tolerance for real quantities that were never compared."""
    from reporting.document import crosscheck_coverage
    rank_only = {"compared": {"rank": 64687}, "relative_tolerance": 1e-10}
    text = crosscheck_coverage(rank_only)
    assert text.startswith("Compared: rank (must be equal). Not published by this source")
    assert "real_period" in text and "1e-10" not in text
    allbsd = {"compared": {q: 5 for q in ("rank", "torsion", "real_period", "a_p")},
              "relative_tolerance": 1e-10}
    assert "real_period (within 1e-10 relative)" in crosscheck_coverage(allbsd)


def test_uncommitted_changes_are_explained_in_the_provenance():
    from reporting.provenance import revision_words
    assert revision_words("abc123") == "abc123"
    assert "differed from this commit" in revision_words("abc123 +changes")
