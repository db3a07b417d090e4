"""End to end on the default run's outputs (conductors < 10,000): the known phenomena come out
as published and get their labels; the bias stage checked every would-be finding. Slow: it
needs `make run` first (`make test-slow`)."""
from __future__ import annotations

import json

import polars as pl
import pytest

from machinery.params import load_params
from reporting.known import known_labels
from tests.conftest import PROJECT

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def outputs():
    params = load_params(PROJECT / "params.yaml")
    paths = {name: PROJECT / getattr(params.paths, name) for name in (
        "findings", "murmurations_metrics", "bias_metrics", "report_markdown")}
    missing = [str(p) for p in paths.values() if not p.exists()]
    assert not missing, f"run `make run` first: missing {missing}"
    return params, paths


def test_murmuration_signs_on_the_default_range(outputs):
    _, paths = outputs
    for window, summary in json.loads(paths["murmurations_metrics"].read_text())["windows"].items():
        means = summary["small_ratio_means"]
        assert means["rank 0"] > 0 > means["rank 1"], (window, means)
        assert abs(means["Sato-Tate null"]) < min(means["rank 0"], -means["rank 1"])


def test_known_trivial_findings_get_their_labels(outputs):
    params, paths = outputs
    labels = known_labels(pl.read_parquet(paths["findings"]), params.search.held_out_prime)
    verdicts = dict(zip(labels["pair"], labels["verdict"]))
    # rank parity from the root number: the parity conjecture, the one law the group's
    # column feeds
    assert verdicts["rank_parity ~ parity"] == "explained by parity conjecture"
    assert "parity conjecture" in " ".join(
        labels.filter(pl.col("pair") == "rank_parity ~ parity")["phenomenon"])
    assert verdicts["log_sha_an ~ bsd"] in ("explained by BSD formula",
                                            "explained by known quantities")
    text = paths["report_markdown"].read_text()
    assert "## Known phenomena, rediscovered" in text and "## Conductor bias" in text


def test_every_would_be_finding_faced_the_bias_checks(outputs):
    _, paths = outputs
    findings = pl.read_parquet(paths["findings"])
    checked = json.loads(paths["bias_metrics"].read_text())["checked"]
    assert checked == findings["verdict"].is_in(["flagged", "conductor-bias artefact",
                                                 "not replicated"]).sum()
