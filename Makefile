# Two commands do everything on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
CORES ?= all

.PHONY: run test lint pytest browser report lock clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Reinstall whenever the project's requirements or lock change.
$(VENV)/.installed-run: $(BIN)/python pyproject.toml requirements.lock
	$(BIN)/pip install --quiet -c requirements.lock -e .
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed-run
	$(BIN)/pip install --quiet -c requirements.lock -e ".[test]"
	touch $@

run: $(VENV)/.installed-run
	$(BIN)/snakemake --cores $(CORES)

report: $(VENV)/.installed-run
	$(BIN)/snakemake --cores $(CORES) --report results/report.html

test: $(VENV)/.installed-test lint pytest

lint: $(VENV)/.installed-test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/snakefmt --check Snakefile workflow/rules
	$(BIN)/snakemake --lint --cores 1

pytest: $(VENV)/.installed-test browser
	$(BIN)/python -m pytest -q

# The report test renders results/report.html in Debian's headless Chromium.
browser:
	@command -v chromium >/dev/null || (apt-get update -qq && apt-get install -y -qq chromium) \
	  || echo "warning: could not install chromium; the report rendering test will be skipped"

# Refresh the pinned versions after changing dependencies in pyproject.toml.
lock: $(VENV)/.installed-test
	$(BIN)/pip freeze --exclude-editable | grep -v '^fairat' > requirements.lock

clean:
	rm -rf results logs .fairat-resume .snakemake
