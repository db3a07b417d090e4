"""dvc.yaml declares, for every stage, each project module its command imports (directly or
through other project modules, :func:`machinery.code_digest.imported_files`, the same closure
the stages' resume keys hash): otherwise `dvc repro` would keep a result after the code that
computed it changed. machinery/params.py is the documented exception (dvc.yaml's header)."""
from __future__ import annotations

import shutil

import pytest
import yaml

from machinery.code_digest import PACKAGES, code_digest, imported_files
from machinery.dvc_deps import with_code_deps
from tests.conftest import PROJECT

STAGES = yaml.safe_load((PROJECT / "dvc.yaml").read_text())["stages"]


@pytest.mark.parametrize("stage", sorted(STAGES))
def test_stage_declares_the_code_it_imports(stage):
    command = STAGES[stage]["cmd"]
    assert command.startswith("python -m "), command
    declared = {str(dep) for dep in STAGES[stage].get("deps", [])}
    folders = tuple(dep.rstrip("/") + "/" for dep in declared)       # a folder covers its files
    missing = sorted(path for path in imported_files(command.split()[2], PROJECT)
                     if path not in declared and not path.startswith(folders))
    assert not missing, f"dvc.yaml stage {stage!r} imports but does not declare {missing}"


def test_the_closure_follows_imports_through_modules():
    closure = imported_files("pipeline.bsd", PROJECT)
    assert {"pipeline/bsd.py", "machinery/chunks.py", "machinery/runner.py", "arithmetic/bsd.py",
            "arithmetic/curves.py", "arithmetic/pari.py", "machinery/code_digest.py"} <= closure
    assert "machinery/params.py" not in closure and "pipeline/train.py" not in closure
    with pytest.raises(ValueError, match="not a module of the project"):
        imported_files("polars", PROJECT)


def test_code_digest_follows_every_file_of_the_closure(tmp_path):
    root = tmp_path / "project"
    for package in PACKAGES:
        shutil.copytree(PROJECT / package, root / package,
                        ignore=shutil.ignore_patterns("__pycache__"))
    before = code_digest("pipeline.bsd", root=root)
    assert before == code_digest("pipeline.bsd", root=root) != code_digest("pipeline.features",
                                                                           root=root)
    assert code_digest("pipeline.bsd", "pipeline.features", root=root) == code_digest(
        "pipeline.features", "pipeline.bsd", root=root)
    # params.py and a module outside the closure do not count; one imported two levels down does.
    (root / "machinery/params.py").write_text("# changed\n")
    (root / "pipeline/train.py").write_text("# changed\n")
    assert code_digest("pipeline.bsd", root=root) == before
    with open(root / "machinery/atomic.py", "a") as handle:      # bsd -> chunks -> runner -> atomic
        handle.write("# changed\n")
    assert code_digest("pipeline.bsd", root=root) != before


@pytest.mark.parametrize("stage", ["height_sample", "stein_watkins"])
def test_a_reference_sample_reruns_for_the_feature_params_it_reads(stage):
    """The samples' features run on their stage's own workers and never read the groups, so
    ``features.workers`` or a new group leaves them alone; every other field may change them."""
    from machinery.params import Features
    declared = {str(p).removeprefix("features.") for p in STAGES[stage]["params"]
                if str(p).startswith("features")}
    assert declared == set(Features.model_fields) - {"workers", "groups"}


@pytest.mark.parametrize("stage", ["height_sample", "stein_watkins"])
def test_a_reference_sample_reruns_for_the_invariants_bounds_it_reads(stage):
    """The samples' invariants read the bounds of the section ``invariants`` (the same as for
    the Cremona curves): exactly those are the stage's params, the rest of the section (its
    workers, chunks, modular-degree bound) is the invariants stage's own."""
    from machinery.params import load_params
    from pipeline.reference import invariant_settings
    declared = {str(p) for p in STAGES[stage]["params"] if str(p).startswith("invariants")}
    read = invariant_settings(load_params(PROJECT / "params.yaml").invariants)
    assert declared == {f"invariants.{name}" for name in read}


def test_the_code_lists_are_the_generated_ones():
    text = (PROJECT / "dvc.yaml").read_text()
    assert with_code_deps(text) == text, "run `python -m machinery.dvc_deps`"


def test_a_stale_code_list_is_rewritten():
    text = (PROJECT / "dvc.yaml").read_text()
    stale = text.replace("      - arithmetic/bsd.py\n", "", 1).replace(
        "      - pipeline/bsd.py\n", "      - pipeline/bsd.py\n      - models/gone.py\n", 1)
    assert stale != text and with_code_deps(stale) == text
