"""The Streamlit dashboard, page by page, with Streamlit's AppTest on the outputs of a real
small pipeline run (fixture ``pipeline_project``); its queries without Streamlit."""
from __future__ import annotations

import ast
import shutil
import subprocess
import sys

import polars as pl
import pytest
import yaml
from streamlit.testing.v1 import AppTest

from dashboard.queries import CurveFilter, histogram, prediction_words, search_curves
from tests.conftest import PROJECT, small_params

PAGES = PROJECT / "dashboard" / "pages"


@pytest.fixture(autouse=True)
def keep_main_module():
    """AppTest runs a page as ``sys.modules['__main__']`` and leaves it there; worker
    processes started later with *spawn* would re-run that page instead of starting. Restore."""
    main = sys.modules["__main__"]
    yield
    sys.modules["__main__"] = main


def page(name: str) -> AppTest:
    test = AppTest.from_file(str(PAGES / f"{name}.py"), default_timeout=120)
    test.run()
    assert not test.exception, [e.value for e in test.exception]
    return test


def test_pages_import_no_pari_in_their_thread(tmp_path):
    """Streamlit runs a page in a thread that is not the main one, where cypari2's import fails
    (cysignals installs signal handlers); the pages reach PARI only through
    ``dashboard.pari_process``. Every page's imports, and loading params with a declared target
    (whose validation imports more), run in such a thread, leave cypari2 out."""
    params = tmp_path / "params.yaml"
    params.write_text(yaml.safe_dump(small_params()))
    modules = set()
    for path in PAGES.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                modules |= {alias.name for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module:
                modules |= {node.module, *(f"{node.module}.{alias.name}" for alias in node.names)}
    code = ("import importlib, sys, threading, traceback\n"
            "def run():\n"
            f"    for name in {sorted(modules)!r}:\n"
            "        try: importlib.import_module(name)\n"
            "        except ModuleNotFoundError: pass    # a name imported from a module\n"
            "        except BaseException: traceback.print_exc(); print('failed')\n"
            "    from machinery.params import load_params\n"
            f"    try: load_params({str(params)!r})\n"
            "    except BaseException: traceback.print_exc(); print('failed')\n"
            "thread = threading.Thread(target=run); thread.start(); thread.join()\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('cypari2', 'cysignals')))")
    out = subprocess.run([sys.executable, "-c", code], cwd=PROJECT, capture_output=True,
                         text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "[]", out.stdout + out.stderr


@pytest.fixture
def in_project(pipeline_project, monkeypatch):
    repo = pipeline_project[0]
    monkeypatch.chdir(repo)
    return repo


@pytest.mark.parametrize("name", ["overview", "findings", "curves", "distributions", "topology",
                                  "bias", "known"])
def test_every_page_renders_on_pipeline_outputs(in_project, name):
    test = page(name)
    assert test.title and not test.error
    assert not [w.value for w in test.warning if "has not been built" in w.value]


def test_overview_counts_the_curves(in_project):
    bsd = pl.read_parquet(in_project / "data/bsd.parquet")
    values = {m.label: m.value for m in page("overview").metric}
    assert values["curves"] == f"{len(bsd):,}"
    assert values["isogeny classes"] == f"{bsd['isogeny_class'].n_unique():,}"


def test_overview_shows_the_cross_check(in_project):
    test = page("overview")
    text = " ".join(m.value for m in test.markdown)
    assert "Source **elldata**" in text and "**0 mismatches**" in text
    assert any("quantity" in frame.value.columns and list(frame.value["quantity"]) == ["rank"]
               for frame in test.dataframe)


def test_overview_shows_the_positive_controls(in_project):
    test = page("overview")
    text = " ".join(m.value for m in test.markdown)
    assert "it found 2 of 2" in text or "it found 1 of 2" in text, text
    [frame] = [f.value for f in test.dataframe if "law withheld" in f.value.columns]
    assert list(frame["law"]) == ["parity conjecture", "BSD formula"]
    assert frame["law withheld"][0] == "flagged"


def test_curve_filters_change_the_result(in_project):
    test = page("curves")
    everything = test.caption[0].value
    test.text_input(key="prefix").set_value("11a")
    test.button[0].click().run()
    rows = test.dataframe[0].value
    assert (test.caption[0].value.startswith("3 curves match")
            and everything != test.caption[0].value)
    assert rows["label"].tolist() == ["11a1", "11a2", "11a3"]
    test.multiselect[0].set_value([1])               # 11a has rank 0
    test.button[0].click().run()
    assert test.caption[0].value == "0 curves match" and len(test.dataframe[0].value) == 0


def curve_page(label: str) -> AppTest:
    test = page("curves")
    test.text_input(key="curve").set_value(label).run()
    assert not test.exception, [e.value for e in test.exception]
    return test


def tables(test: AppTest) -> list:
    return [t.value for t in test.table]


def test_curve_page_shows_the_whole_record_local_data_bsd_and_isogeny_class(in_project):
    test = curve_page("37a1")
    assert [s.value for s in test.subheader][0] == "37a1 (LMFDB 37.a1)"
    record = {k: v for frame in tables(test)[:2] for k, v in frame["value"].items()}
    assert record["analytic rank r"] == "1" and record["conductor N"] == "37"
    assert record["#Ш (nearest square)"] == "1" and record["minimal discriminant Δ"] == "37"
    assert abs(float(record["regulator R"]) - 0.0511114082399688) < 1e-12
    text = " ".join(m.value for m in test.markdown)
    assert "(0, 0)" in text                                         # its generator
    assert "https://www.lmfdb.org/EllipticCurve/Q/37/a/1" in text
    local = tables(test)[2]
    assert list(local.index) == [37] and local.loc[37, "Kodaira"] == "I1"
    assert local.loc[37, "c_p"] == 1 and local.loc[37, "reduction"] == "non-split multiplicative"
    ratio = float(tables(test)[3].loc["ratio", "value"])
    assert abs(ratio - 1) < 1e-9

    test = curve_page("11a1")
    local = tables(test)[2]
    assert local.loc[11, "Kodaira"] == "I5" and local.loc[11, "c_p"] == 5
    assert local.loc[11, "reduction"] == "split multiplicative"
    isogenies = tables(test)[4]
    assert dict(isogenies["degree"]) == {"11a1": 1, "11a2": 5, "11a3": 5}
    assert dict(isogenies["lmfdb"]) == {"11a1": "11.a2", "11a2": "11.a1", "11a3": "11.a3"}


@pytest.mark.parametrize("typed, label", [("11A1", "11a1"), ("11.a2", "11a1"), ("11.A1", "11a2"),
                                          ("37.a", "37a1"), ("  37a1 ", "37a1")])
def test_curve_page_takes_cremona_and_lmfdb_labels_in_any_case(in_project, typed, label):
    test = curve_page(typed)
    assert [s.value for s in test.subheader][0].startswith(f"{label} (LMFDB ")
    assert not test.warning


@pytest.mark.parametrize("typed", ["11a9", "11.b1", "zz9", "5077a1"])
def test_curve_page_says_no_such_curve(in_project, typed):
    test = curve_page(typed)
    assert any(w.value.startswith("No such curve") for w in test.warning)
    assert not test.subheader and not test.table           # nothing of another curve shown


@pytest.fixture
def tiny_bsd_project(tmp_path, monkeypatch):
    """params.yaml and a three-curve bsd table: what the curve page reads before a label
    resolves (no pipeline run)."""
    shutil.copy(PROJECT / "params.yaml", tmp_path / "params.yaml")
    (tmp_path / "data").mkdir()
    pl.DataFrame({
        "label": ["11a1", "11a2", "37a1"], "isogeny_class": ["11a", "11a", "37a"],
        "conductor": [11, 11, 37],
        "ainvs": [[0, -1, 1, -10, -20], [0, -1, 1, -7820, -263580], [0, 0, 1, -1, 0]],
        "rank": pl.Series([0, 0, 1], dtype=pl.Int8),
        "torsion": pl.Series([5, 1, 1], dtype=pl.Int16), "tamagawa_product": [5, 1, 1],
        "real_period": [1.27, 0.25, 5.98], "regulator": [1.0, 1.0, 0.05],
        "special_value": [0.25, 0.25, 0.31], "sha": [1, 1, 1],
        "root_number": pl.Series([1, 1, -1], dtype=pl.Int8)}).write_parquet(
        tmp_path / "data/bsd.parquet")
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.mark.parametrize("how", ["link", "typed"])
@pytest.mark.parametrize("text", [
    "1234567890123456789012345678901234567890.a1",   # conductor beyond Int64, LMFDB form
    "99999999999999999999.a1",                      # beyond 2^63 - 1, short enough to parse
    "1234567890123456789012345678901234567890a1",    # the same in Cremona's form
    "9" * 5000 + ".a1",                             # more digits than int() takes from text
    "[x](https://example.org)`\n*$x$",              # Markdown, a backtick: quoted inert
])
def test_curve_page_says_no_such_curve_to_what_cannot_be_a_label(tiny_bsd_project, how, text):
    test = AppTest.from_file(str(PAGES / "curves.py"), default_timeout=60)
    if how == "link":
        test.query_params["curve"] = text
        test.run()
    else:
        test.run()
        test.text_input(key="curve").set_value(text).run()
    assert not test.exception, [e.value for e in test.exception]
    [warning] = [w.value for w in test.warning]
    assert warning.startswith("No such curve: `") and not test.subheader
    quoted = warning.removeprefix("No such curve: `").split("` names no curve")[0]
    assert len(quoted) <= 43 and "`" not in quoted           # 40 characters and "..."
    assert quoted.startswith(text[:12].replace("`", "\\x60"))


def test_curve_page_waits_for_a_label(in_project):
    test = page("curves")
    assert any("No curve chosen" in i.value for i in test.info) and not test.subheader


def test_curve_page_opens_from_a_link(in_project):
    test = AppTest.from_file(str(PAGES / "curves.py"), default_timeout=120)
    test.query_params["curve"] = "11.a3"
    test.run()
    assert [s.value for s in test.subheader][0] == "11a3 (LMFDB 11.a3)"


def chart_rows(test: AppTest) -> list[list[dict]]:
    """Each Vega-Lite chart's datasets, as rows."""
    import pyarrow as pa
    return [[row for data in chart.proto.datasets
             for row in pa.ipc.open_stream(data.data.data).read_all().to_pylist()]
            for chart in test.get("vega_lite_chart")]


def test_findings_chart_has_one_point_per_pair_coloured_by_verdict_kind(in_project):
    """One point per pair; colour and shape by the kind of verdict, one distinct colour per
    kind (the report's, models.verdicts.KINDS); the verdict itself in the tooltip."""
    from models.verdicts import KINDS
    import json as json_module
    findings = pl.read_parquet(in_project / "data/findings.parquet")
    test = page("findings")
    charts = test.get("vega_lite_chart")
    points = [row for rows in chart_rows(test) for row in rows if "pair" in row]
    assert sorted(p["pair"] for p in points) == sorted(
        f"{t} ~ {g}" for t, g in findings.select("target", "group").iter_rows())
    for chart in charts:
        layer = json_module.loads(chart.proto.spec)["layer"][1]["encoding"]
        assert layer["color"]["field"] == "kind"
        scale = layer["color"]["scale"]
        assert scale["domain"] == list(KINDS)
        assert scale["range"] == [kind.colour for kind in KINDS.values()]
        assert len(set(scale["range"])) == len(scale["domain"])       # distinct colours
        assert {t["field"] for t in layer["tooltip"]} >= {"pair", "verdict", "score"}


def with_one_flagged(repo, tmp_path):
    """A copy of the project's outputs where exactly one pair is flagged."""
    shutil.copytree(repo, tmp_path / "copy", ignore=shutil.ignore_patterns(".dvc", ".git"))
    findings = pl.read_parquet(tmp_path / "copy/data/findings.parquet")
    verdicts = ["flagged"] + ["not predictable"] * (len(findings) - 1)
    findings.with_columns(verdict=pl.Series(verdicts)).write_parquet(
        tmp_path / "copy/data/findings.parquet")
    return tmp_path / "copy", len(findings)


def test_findings_page_hides_non_flagged_until_asked(in_project, tmp_path, monkeypatch):
    copy, pairs = with_one_flagged(in_project, tmp_path)
    monkeypatch.chdir(copy)
    test = page("findings")
    shown = test.dataframe[0].value
    assert len(shown) == 1 and set(shown["verdict"]) == {"flagged"}
    assert test.selectbox[0].options == [f"{shown['target'][0]} ~ {shown['group'][0]}"]
    # what the train stage resolved for the pair: its features, known quantities and laws
    resolved = pl.read_parquet(copy / "data/pairs.parquet").filter(
        (pl.col("target") == shown["target"][0]) & (pl.col("group") == shown["group"][0]))
    [given] = [m.value for m in test.markdown
               if m.value.startswith("**What the pair was given**: the ")]
    assert f"`{resolved['columns'][0][0]}`" in given and "the laws that apply" in given
    test.toggle[0].set_value(True).run()
    every = test.dataframe[0].value
    assert len(every) == pairs and every["verdict"].tolist()[0] == "flagged"
    assert {"verdict", "reason", "q_value"} <= set(every.columns)
    config = test.dataframe[0].proto.columns
    assert '"%.2e"' in config                                     # q in scientific notation


def test_a_missing_output_names_the_stage_that_builds_it(tmp_path, monkeypatch):
    shutil.copy(PROJECT / "params.yaml", tmp_path / "params.yaml")
    monkeypatch.chdir(tmp_path)
    for name, stage in (("overview", "bsd"), ("findings", "findings"), ("curves", "bsd")):
        test = AppTest.from_file(str(PAGES / f"{name}.py"), default_timeout=60).run()
        assert not test.exception
        assert any(f"dvc repro {stage}" in w.value for w in test.warning), name


def test_bad_params_are_an_error_not_a_crash(tmp_path, monkeypatch):
    params = yaml.safe_load((PROJECT / "params.yaml").read_text())
    params["dashboard"]["page_size"] = 0
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    monkeypatch.chdir(tmp_path)
    test = AppTest.from_file(str(PAGES / "curves.py"), default_timeout=60).run()
    assert not test.exception and "dashboard.page_size" in test.error[0].value


CURVES = pl.DataFrame({
    "label": ["11a1", "11a2", "37a1", "389a1", "5077a1"], "isogeny_class": ["11a", "11a", "37a",
                                                                            "389a", "5077a"],
    "conductor": [11, 11, 37, 389, 5077], "rank": [0, 0, 1, 2, 3], "torsion": [5, 1, 1, 1, 1],
    "tamagawa_product": [5, 1, 1, 2, 1], "real_period": [1.27, 6.3, 5.98, 4.98, 4.15],
    "regulator": [1.0, 1.0, 0.05, 0.15, 0.42], "special_value": [0.25, 0.25, 0.31, 0.76, 1.73],
    "sha": [1, 1, 1, 1, 1], "root_number": [1, 1, -1, 1, -1]})


def test_search_curves_filters_sorts_and_pages():
    rows, total = search_curves(CURVES.lazy(), CurveFilter(ranks=[0, 1]), "conductor", True, 0, 2)
    assert total == 3 and rows["label"].to_list() == ["37a1", "11a1"]
    rows, _ = search_curves(CURVES.lazy(), CurveFilter(ranks=[0, 1]), "conductor", True, 1, 2)
    assert rows["label"].to_list() == ["11a2"]
    rows, total = search_curves(CURVES.lazy(), CurveFilter(label="11a", torsion=[5]), "label",
                                False, 0, 10)
    assert total == 1 and rows["label"].to_list() == ["11a1"]
    _, total = search_curves(CURVES.lazy(), CurveFilter(conductor=(30, 400), sha=(1, 1)),
                             "label", False, 0, 10)
    assert total == 2


def test_histogram_counts_every_finite_value():
    counts = histogram(pl.Series([0.0, 0.5, 1.0, 1.0, float("inf"), None]), 2)
    assert counts["count"].to_list() == [1, 3] and counts["left"].to_list() == [0.0, 0.5]


def test_bias_page_shows_an_artefact_with_its_evidence(pipeline_project, tmp_path, monkeypatch):
    """A copy of the outputs with one checked pair that failed: the page names it and why."""
    repo = pipeline_project[0]
    shutil.copytree(repo, tmp_path / "copy", ignore=shutil.ignore_patterns(".dvc", ".git"))
    replications = ('[{"sample": "height-ordered", "tried": false, "why_not": "target known on '
                    '3 of 400 curves", "score": null, "baseline_score": null, '
                    '"best_baseline": null, "p_value": null, "curves": null}]')
    row = {"target": "rank", "group": "ap", "metric": "mcc", "score": 0.8,
           "best_baseline": "parity", "baseline_score": 0.7, "trend_slope": -0.4,
           "low_margin": 0.2, "high_margin": -0.01, "low_only": True, "weighted_score": 0.75,
           "weighted_baseline": 0.74, "weighted_margin_low": -0.02,
           "weighted_margin_high": 0.04, "replications": replications,
           "artefact_reason": "holds only in the low conductor strata"}
    pl.DataFrame([row]).write_parquet(tmp_path / "copy/data/bias.parquet")
    monkeypatch.chdir(tmp_path / "copy")
    test = page("bias")
    assert not test.error                         # a verdict of the checks, not an app failure
    assert [i.value for i in test.info] == [
        "**Why it is an artefact:** holds only in the low conductor strata"]
    assert "rank ~ ap: conductor-bias artefact" in [x.label for x in test.expander]
    before = test.dataframe[-1].value["quantity"].unique().tolist()
    test.selectbox[0].set_value("torsion").run()
    assert test.dataframe[-1].value["quantity"].unique().tolist() == ["torsion"] != before


def test_known_phenomena_page_window_and_range(in_project):
    test = page("known")
    tables = [frame.value for frame in test.dataframe]
    [labels] = [t for t in tables if "pair" in t.columns]
    assert "rank_parity ~ parity" in labels["pair"].tolist()
    # the conjectures: an HTML table, its result column first beside the long statements
    [checks] = [t.value for t in test.table if "statement" in t.value.columns]
    assert "Watkins' conjecture" in checks.index.tolist()
    assert checks.columns[0] == "result" and checks["result"].str.len().min() > 0
    test.radio[1].set_value("p").run()
    test.slider[0].set_value((100.0, 300.0)).run()
    assert not test.exception and test.slider[0].value == (100.0, 300.0)
    test.selectbox[0].set_value((150, 300)).run()
    assert not test.exception


def test_class_letters_and_kodaira_symbols():
    from dashboard.queries import class_letters, kodaira_symbol
    assert [class_letters(i) for i in (0, 1, 25, 26, 27, 51, 52)] == [
        "a", "b", "z", "ba", "bb", "bz", "ca"]
    assert [kodaira_symbol(c) for c in (1, 5, 9, 2, 3, 4, -1, -5, -6, -2, -3, -4)] == [
        "I0", "I1", "I5", "II", "III", "IV", "I0*", "I1*", "I2*", "II*", "III*", "IV*"]


def test_lmfdb_labels_match_the_lmfdb_sample(pari):
    """The LMFDB's ordering rule against the LMFDB's own labels (shared fixture
    lmfdb/ec_curvedata.page0.json and page1: lmfdb_label beside Clabel)."""
    import json

    from sources.elldata import read_curves
    from dashboard.queries import lmfdb_labels
    from tests.conftest import SHARED_FIXTURES

    published = {}
    for name in ("ec_curvedata.page0.json", "ec_curvedata.page1.json"):
        for record in json.loads((SHARED_FIXTURES / "lmfdb" / name).read_text())["data"]:
            published[record["Clabel"]] = record["lmfdb_label"]
    assert published                                              # 11a1..11a3, 37a1
    for conductor in sorted({int(label.rstrip("0123456789").rstrip("abcdefghijklmnopqrstuvwxyz"))
                             for label in published}):
        curves = read_curves(conductor, conductor + 1)
        ours = lmfdb_labels(pari, curves)
        for cremona, lmfdb in published.items():
            if cremona in ours:
                assert ours[cremona] == lmfdb, cremona


def test_resolve_label_in_both_forms(pari):
    from sources.elldata import read_curves
    from dashboard.queries import lmfdb_labels, resolve_label
    curves = read_curves(11, 12)
    labels_of = lambda same: lmfdb_labels(pari, same)              # noqa: E731
    assert resolve_label("11A2", curves, labels_of) == "11a2"
    assert resolve_label("11.a1", curves, labels_of) == "11a2"
    assert resolve_label("11a", curves, labels_of) == "11a1"
    assert resolve_label("11.b1", curves, labels_of) is None
    assert resolve_label("12a1", curves, labels_of) is None
    assert resolve_label("11a1; print(1)", curves, labels_of) is None
    for beyond in ("9223372036854775808.a1", "9223372036854775808a1", "9" * 5000 + ".a1"):
        assert resolve_label(beyond, curves, labels_of) is None      # beyond Int64: no lookup


def test_bsd_identity_of_a_record():
    from dashboard.queries import bsd_identity
    record = {"special_value": 0.253841860855911, "real_period": 1.26920930427955,
              "regulator": 1.0, "sha": 1, "tamagawa_product": 5, "torsion": 5}
    sides = bsd_identity(record)
    assert abs(sides["ratio"] - 1) < 1e-12 and abs(sides["right"] - 0.253841860855911) < 1e-12


def test_a_prediction_names_the_class_the_model_numbered():
    # a root number's model numbers its classes -1, 1 as 0, 1; a binary model outputs P(1)
    assert prediction_words([0.8], "classification", [-1, 1]) == "1 (probability 0.800)"
    assert prediction_words([0.1, 0.2, 0.7], "classification", [1, 2, 5]) == \
        "5 (probability 0.700)"
    assert prediction_words([0.1, 0.2, 0.7], "classification", None) == \
        "class #2 (probability 0.700)"
    assert prediction_words([1.25], "regression", None) == "1.25"
