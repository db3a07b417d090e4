"""Presets change only their own lines of params.yaml, and only to valid values."""
from __future__ import annotations

import shutil

import pytest

from machinery.params import ParamsError, load_params
from machinery.preset import apply_preset
from tests.conftest import PROJECT


@pytest.fixture
def params_copy(tmp_path):
    target = tmp_path / "params.yaml"
    shutil.copy(PROJECT / "params.yaml", target)
    return target


def _preset(tmp_path, text: str):
    path = tmp_path / "preset.yaml"
    path.write_text(text)
    return path


def test_full_range_preset_changes_its_lines_only(params_copy):
    before = params_copy.read_text().splitlines()
    changed = apply_preset(PROJECT / "presets" / "full.yaml", params_copy)
    after = params_copy.read_text().splitlines()
    assert changed == ["ingest.conductor_max", "search.sample_classes"]
    differing = [(b, a) for b, a in zip(before, after) if a != b]
    assert len(after) == len(before) and len(differing) == 2
    for old, new in differing:      # the comment stays where it was
        assert old.index("#") == new.index("#") and old.split("#")[1] == new.split("#")[1]
    params = load_params(params_copy)
    assert params.ingest.conductor_max == 500_000 and params.search.sample_classes == 40_000
    assert apply_preset(PROJECT / "presets" / "full.yaml", params_copy) == []   # idempotent


def test_lists_strings_and_null(params_copy, tmp_path):
    preset = _preset(tmp_path, "executor: {kind: dask, address: 'tcp://10.0.0.5:8786'}\n"
                               "features: {mestre_nagao_bounds: [10, 50]}\n")
    apply_preset(preset, params_copy)
    params = load_params(params_copy)
    assert params.executor.kind == "dask" and params.executor.address == "tcp://10.0.0.5:8786"
    assert params.features.mestre_nagao_bounds == [10, 50]
    apply_preset(_preset(tmp_path, "executor: {address: null}\n"), params_copy)
    assert load_params(params_copy).executor.address is None


@pytest.mark.parametrize("text, message", [
    ("search: {sample_clases: 10}\n", r"search\.sample_clases is not a setting of"),
    ("ingest: {conductor_max: 600000}\n", r"with .*preset\.yaml: ingest: .*beyond"),
    ("search: {targets: [rank]}\n", r"search\.targets: its value spans several lines"),
    ("[1, 2]\n", r"expected a mapping of params sections"),
    ("search:\n  seed: 1\n  seed: 2\n",
     r"not valid YAML: .*key 'seed' given twice \(line 2 and line 3\)"),
])
def test_bad_presets_name_the_setting_and_leave_params_alone(params_copy, tmp_path, text, message):
    before = params_copy.read_text()
    with pytest.raises(ParamsError, match=message):
        apply_preset(_preset(tmp_path, text), params_copy)
    assert params_copy.read_text() == before
