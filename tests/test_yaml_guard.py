"""machinery.yaml_guard: a YAML alias bomb or an oversized file is refused from PyYAML's event
stream, before anything composes it (DVC expands aliases while it loads params.yaml)."""
from __future__ import annotations

import re
import resource
import subprocess
import sys
import time
import tracemalloc

import pytest
import yaml

from machinery.yaml_guard import (MAX_ALIASES, MAX_BYTES, MAX_NODES, YamlBudgetError,
                                 check_yaml_budget, check_yaml_file, main)
from tests.conftest import PROJECT


def bomb(levels: int = 9, width: int = 9) -> str:
    """"Billion laughs": level i is a list of ``width`` aliases of level i - 1, so the last
    level expands to width**levels scalars (9**9 = 387,420,489) from a few hundred bytes."""
    lines = ["a0: &a0 [" + ", ".join(["lol"] * width) + "]"]
    for i in range(1, levels):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * width) + "]")
    return "\n".join(lines) + "\n"


def refusal(text: str, path: str = "params.yaml") -> str:
    with pytest.raises(YamlBudgetError) as err:
        check_yaml_budget(path, text)
    return str(err.value)


def test_a_nine_level_bomb_is_refused_at_once_in_little_memory():
    text = bomb()
    assert len(text) < 500
    tracemalloc.start()
    start = time.perf_counter()
    message = refusal(text)
    elapsed = time.perf_counter() - start
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert elapsed < 1.0 and peak < 4 << 20, (elapsed, peak)
    # the alias that takes the expansion past the bound, on its line
    line = next(n for n, row in enumerate(text.splitlines(), 1) if "*a4" in row)
    assert re.fullmatch(rf"params\.yaml: line {line}: alias \*a4 takes the file beyond "
                        rf"{MAX_NODES:,} nodes once its aliases are expanded", message), message


def test_the_command_refuses_a_bomb_under_a_memory_ceiling(tmp_path):
    """``python -m machinery.yaml_guard`` as make runs it, with 512 MiB of address space (DVC
    took 6 GB on this file): exit 1 and ``<file>: error: line N: ...``, within seconds."""
    bombed = tmp_path / "params.yaml"
    bombed.write_text(bomb())

    def ceiling():
        resource.setrlimit(resource.RLIMIT_AS, (512 << 20, 512 << 20))

    out = subprocess.run([sys.executable, "-m", "machinery.yaml_guard", str(bombed)],
                         cwd=PROJECT, capture_output=True, text=True, timeout=30,
                         preexec_fn=ceiling)
    assert out.returncode == 1, out.stderr
    assert re.fullmatch(rf"{re.escape(str(bombed))}: error: line \d+: alias \*a\d+ .*\n",
                        out.stderr), out.stderr
    assert "Traceback" not in out.stderr


def test_a_bomb_within_the_alias_count_is_refused_by_its_expansion():
    text = bomb(levels=6, width=10)                  # 50 aliases, 10**6 scalars expanded
    assert text.count("*") <= MAX_ALIASES
    assert "beyond 100,000 nodes once its aliases are expanded" in refusal(text)


def test_more_aliases_than_the_bound_are_refused_naming_the_first_beyond_it():
    rows = ["one: &one 1"] + [f"k{i}: *one" for i in range(MAX_ALIASES + 5)]
    message = refusal("\n".join(rows) + "\n")
    assert message == (f"params.yaml: line {MAX_ALIASES + 2}: alias *one is alias number "
                       f"{MAX_ALIASES + 1}; at most {MAX_ALIASES} are allowed (YAML aliases "
                       "can expand without bound)")


def test_a_recursive_alias_is_refused():
    assert "inside the collection it refers to" in refusal("a: &a [1, *a]\n")
    assert "inside the collection it refers to" in refusal("a: &a {b: {c: *a}}\n")


def test_deep_nesting_is_refused():
    assert "nested more than" in refusal("x: " + "[" * 100 + "]" * 100 + "\n")


def test_a_few_small_aliases_are_accepted():
    check_yaml_budget("x.yaml", bomb(levels=3, width=3))
    check_yaml_budget("x.yaml", "base: &base {a: 1, b: 2}\nother:\n  <<: *base\n  c: 3\n")


@pytest.mark.parametrize("name", ["params.yaml", "presets/full.yaml"])
def test_the_project_params_and_presets_are_accepted(name):
    check_yaml_file(PROJECT / name)
    check_yaml_budget(name, (PROJECT / name).read_text())
    assert main([str(PROJECT / name)]) == 0


def test_an_oversized_file_is_refused_before_it_is_read(tmp_path, capsys):
    big = tmp_path / "params.yaml"
    big.write_text("# padding\n" * (MAX_BYTES // 10 + 1) + "a: 1\n")
    with pytest.raises(YamlBudgetError, match=rf"larger than {MAX_BYTES:,}"):
        check_yaml_file(big)
    assert "larger than" in refusal(big.read_text())
    assert main([str(big)]) == 1
    assert capsys.readouterr().err.startswith(f"{big}: error: ")


def test_many_nodes_without_aliases_are_refused():
    text = "a: [" + ", ".join(["1"] * (MAX_NODES + 1)) + "]\n"
    assert len(text) < MAX_BYTES and "more than 100,000 nodes" in refusal(text)


def test_malformed_yaml_is_yaml_s_own_error_naming_the_file(tmp_path, capsys):
    bad = tmp_path / "params.yaml"
    bad.write_text("a: [1\n")
    with pytest.raises(yaml.YAMLError, match=re.escape(f'"{bad}", line 1')):
        check_yaml_file(bad)
    assert main([str(bad), str(PROJECT / "params.yaml")]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"{bad}: error: not valid YAML") and "Traceback" not in err


def test_a_refusal_is_a_yaml_error():
    """Callers that report a YAMLError (machinery.preset) report a refusal as one."""
    assert issubclass(YamlBudgetError, yaml.YAMLError)


def test_make_run_and_run_full_check_params_before_dvc():
    makefile = (PROJECT / "Makefile").read_text()
    for target in ("run", "run-full"):
        recipe = re.search(rf"^{re.escape(target)}:.*\n((?:\t.*\n)+)", makefile, re.M)[1]
        commands = [line.strip() for line in recipe.splitlines()]
        guard = next(i for i, c in enumerate(commands)
                     if c.startswith("$(BIN)/python -m machinery.yaml_guard params.yaml"))
        assert guard < next(i for i, c in enumerate(commands) if c.endswith("dvc repro"))
        assert all("machinery.preset" not in c for c in commands[:guard])
