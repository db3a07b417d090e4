"""dashboard/data.py without Streamlit's AppTest: the stage it names for a missing output comes
from dvc.yaml, which declares each output once."""
from __future__ import annotations

import ast

import yaml

from dashboard import data
from tests.conftest import PROJECT


def test_built_by_reads_outs_metrics_and_plots_plain_or_with_options(tmp_path):
    """An output is ``${paths.<name>}`` alone or the key of its options; other entries (a
    literal path) name no ``paths`` entry."""
    dvc = {"stages": {
        "first": {"cmd": "true", "outs": ["${paths.a}", {"${paths.b}": {"cache": False}}],
                  "metrics": [{"${paths.a_metrics}": {"cache": False}}]},
        "second": {"cmd": "true", "outs": ["data/literal.parquet"],
                   "plots": [{"${paths.c}": {"x": "u", "y": "v"}}]},
        "third": {"cmd": "true"}}}
    location = tmp_path / "dvc.yaml"
    location.write_text(yaml.safe_dump(dvc))
    assert data._built_by(str(location), 0.0) == {"a": "first", "b": "first",
                                                  "a_metrics": "first", "c": "second"}


def test_every_output_a_page_reads_names_its_stage():
    """The outputs the pages read through ``data.path``, ``table`` or ``scan`` (the ones whose
    absence stops a page with a ``dvc repro`` target) are each declared by a stage."""
    built_by = data._built_by(str(data.DVC_FILE), data._stamp(data.DVC_FILE))
    read = set()
    for page in (PROJECT / "dashboard" / "pages").glob("*.py"):
        for node in ast.walk(ast.parse(page.read_text())):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                    and isinstance(node.func.value, ast.Name) and node.func.value.id == "data"
                    and node.func.attr in ("path", "table", "scan") and node.args
                    and isinstance(node.args[0], ast.Constant)):
                read.add(node.args[0].value)
    assert read and not read - set(built_by), sorted(read - set(built_by))
    stages = yaml.safe_load((PROJECT / "dvc.yaml").read_text())["stages"]
    assert set(built_by.values()) <= set(stages)
