# Two commands for a fresh machine (Python 3.11 and make):
#   make run    install into .venv/ (once) and run the pipeline (dvc repro, default params)
#   make test   install into .venv/ (once) and run the tests
#   make lint        ruff check over the tree (pyproject.toml's [tool.ruff])
#   make run-full    the full Cremona range: presets/full.yaml into params.yaml, then dvc repro
#   make dashboard   serve the Streamlit dashboard on the pipeline's outputs
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install run run-full test test-slow lint bench dashboard lock clean-venv

install: $(STAMP)

# Reinstall whenever the lock or the project metadata change.
$(STAMP): requirements.lock pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info[:2] == (3, 11), "Python 3.11 is needed, found " + sys.version' 
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.lock
	touch $(STAMP)

# params.yaml's size and YAML aliases are checked first: DVC expands every alias while it loads
# the file, so an alias bomb would exhaust memory inside `dvc repro` before any stage runs.
run: install
	$(BIN)/python -m machinery.yaml_guard params.yaml
	PATH="$(abspath $(BIN)):$$PATH" dvc repro

# The full range (3,064,705 curves): 1 h 52 min on 2 cores, peak 5.7 GiB (benchmarks/RESULTS.md).
# The preset's values land in params.yaml: `git checkout params.yaml` returns to the default run.
run-full: install
	$(BIN)/python -m machinery.yaml_guard params.yaml presets/full.yaml
	$(BIN)/python -m machinery.preset presets/full.yaml
	PATH="$(abspath $(BIN)):$$PATH" dvc repro

# pytest exits 5 when it collected no test: that is a broken test run, reported as such.
test: install
	$(BIN)/python -m pytest; status=$$?; \
	if [ $$status -eq 5 ]; then echo "make test: pytest collected no tests" >&2; fi; exit $$status

# the dashboard listens on this machine only; `make dashboard ADDRESS=0.0.0.0` to serve others
ADDRESS ?= 127.0.0.1
dashboard: install
	$(BIN)/python -m streamlit run dashboard/app.py --browser.gatherUsageStats=false \
		--server.address=$(ADDRESS)

test-slow: install
	$(BIN)/python -m pytest -m slow

lint: install
	$(BIN)/ruff check .

bench: install
	$(BIN)/python -m benchmarks.bench_bsd
	$(BIN)/python -m benchmarks.bench_null_rate --runs 100

# Re-resolve the pinned set from pyproject.toml (needs the package registry).
lock:
	rm -rf .lockvenv && $(PYTHON) -m venv .lockvenv
	.lockvenv/bin/python -c 'import tomllib; print("\n".join(tomllib.load(open("pyproject.toml", "rb"))["project"]["dependencies"]))' > .lockvenv/direct.txt
	.lockvenv/bin/python -m pip install --quiet --disable-pip-version-check -r .lockvenv/direct.txt
	.lockvenv/bin/python -m pip freeze > requirements.lock
	rm -rf .lockvenv

clean-venv:
	rm -rf $(VENV)
