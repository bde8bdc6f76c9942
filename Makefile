# Two commands do everything on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
CORES ?= all

.PHONY: run test test-slurm slurm lint pytest browser report lock clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Reinstall whenever the project's requirements or lock change.
$(VENV)/.installed-run: $(BIN)/python pyproject.toml requirements.lock
	$(BIN)/pip install --quiet -c requirements.lock -e .
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed-run
	$(BIN)/pip install --quiet -c requirements.lock -e ".[test,zoo,corruptions]"
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

# The workflow through a one-node Slurm started on this machine (tests/slurm; needs root, takes
# minutes): profiles/slurm, GPU requests, a requeued and a cancelled training job.
test-slurm: $(VENV)/.installed-test slurm
	$(BIN)/python -m pytest -q -m slurm tests/slurm

# Debian's Slurm 22.05 and MUNGE; the test starts and stops its own daemons.
slurm:
	@for c in slurmctld slurmd sbatch munged; do command -v $$c >/dev/null || missing=1; done; \
	  [ -z "$$missing" ] || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
	    apt-get install -y -qq --no-install-recommends slurmctld slurmd slurm-client munge)

# Refresh the pinned versions after changing dependencies in pyproject.toml.
lock: $(VENV)/.installed-test
	$(BIN)/pip freeze --exclude-editable | grep -v '^fairat' > requirements.lock

clean:
	rm -rf results logs .fairat-resume .snakemake
