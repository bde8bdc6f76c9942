"""The README is a front page and the docs keep step with what is tested: every command shown in
a bash block is one that a test or CI runs, every link resolves, every config snippet parses."""

from __future__ import annotations

import re

import pytest
import yaml
from helpers import REPO

from fairat.variants import expand_variants

DOCS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md")), REPO / "config" / "README.md"]

# every command a reader is shown, and what runs it
TESTED = {
    r"make run": ".ci/run (first, as the README orders it)",
    r"make report": ".ci/run, after make run",
    r"make test": ".ci/run",
    r"make test-slurm": ".ci/run",
    r"\.venv/bin/snakemake --cores all --configfile \S+": "tests/test_workflow.py (tiny config)",
    r"\.venv/bin/snakemake -n --configfile \S+": "tests/test_configs.py",
    r"(\.venv/bin/)?snakemake --profile slurm --configfile \S+": "tests/test_profiles.py, tests/slurm",
    r"snakemake --configfile config/config.yaml --cores all --rerun-triggers code params input "
    r"software-env --max-checksum-file-size 1GB": "tests/test_dvc.py (the stage command)",
    r"dvc (remote add -d \S+ \S+|(repro|push|pull|commit -f|status) pipeline@\S+|"
    r"metrics show|metrics diff|params diff|plots show|stage list)": "tests/test_dvc.py",
    r'git add \S+ && git commit -m "[^"]+"': "tests/test_dvc.py",
    r"\.venv/bin/python benchmarks/run_times\.py": "tests/test_run_times.py",
    r"\.venv/bin/python -m fairat\.run tests/configs/tiny\.yaml --run frl_rw --seed 0( --out \S+)?": (
        "tests/test_run_module.py, tests/test_workflow.py (against the workflow's outputs)"
    ),
    r"PYTHONPATH=src python3 benchmarks/gpu_check\.py --cpu --tiny": "tests/test_gpu_check.py",
    r"PYTHONPATH=src python3 benchmarks/gpu_check\.py": "tests/test_gpu_check.py (needs a GPU: "
    "without one it must refuse, naming --cpu)",
}


def commands(path) -> list[str]:
    """The commands of a file's bash blocks, comments stripped."""
    blocks = re.findall(r"^```bash\n(.*?)^```", path.read_text(), re.M | re.S)
    lines = [line.split("  #")[0].split(" #")[0].strip() for b in blocks for line in b.splitlines()]
    return [line for line in lines if line and not line.startswith("#")]


def test_the_readme_is_a_front_page():
    text = (REPO / "README.md").read_text()
    assert len(text.splitlines()) <= 150
    figure = re.search(r"!\[[^]]*\]\(([^)]+\.png)\)", text)
    assert figure and (REPO / figure.group(1)).read_bytes()[:4] == b"\x89PNG"


@pytest.mark.parametrize("path", DOCS, ids=lambda p: str(p.relative_to(REPO)))
def test_every_command_shown_is_one_a_test_or_ci_runs(path):
    for command in commands(path):
        assert any(re.fullmatch(p, command) for p in TESTED), (
            f"{path.name}: {command!r} is run by no test or CI; test it, then list it in TESTED"
        )


def test_ci_runs_the_readme_commands_in_its_order():
    ci = (REPO / ".ci" / "run").read_text()
    steps = re.findall(r"^make ([\w-]+)$", ci, re.M)
    assert steps == ["run", "report", "test", "test-slurm"]


@pytest.mark.parametrize("path", DOCS, ids=lambda p: str(p.relative_to(REPO)))
def test_every_relative_link_resolves(path):
    for target in re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", path.read_text()):
        if not re.match(r"[a-z]+://", target):
            assert (path.parent / target).exists(), f"{path.name}: {target} does not exist"


def test_the_readme_config_snippet_expands():
    blocks = re.findall(r"^```yaml\n(.*?)^```", (REPO / "README.md").read_text(), re.M | re.S)
    assert blocks
    runs = expand_variants(yaml.safe_load(blocks[0])["methods"])
    assert "trix-dafa_lam1.5" in runs and runs["dafa"].baseline == "trades_dafa"
