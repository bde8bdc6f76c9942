"""The shipped configs: each paper config plans exactly its own grid (dry runs, no data)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
PAPER_CONFIGS = sorted(p for p in (REPO / "config").glob("*.yaml") if p.name != "config.yaml")


def planned_jobs(*args: str) -> dict[str, int]:
    """Job counts per rule of ``snakemake -n`` run in the repository."""
    out = subprocess.run(
        [sys.executable, "-m", "snakemake", "-n", "--cores", "1", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    return {m[1]: int(m[2]) for m in re.finditer(r"^(\w+)\s+(\d+)$", out.stdout, re.M)}


def grid_size(config: dict) -> int:
    runs = {(m, e, s) for m in config["methods"] for e in config["eps"] for s in config["seeds"]}
    if "frl_rw" in config["methods"] or "frl_rwrm" in config["methods"]:
        runs |= {("trades", e, s) for e in config["eps"] for s in config["seeds"]}  # FRL's parent
    return len(runs) * len(config["datasets"]) * len(config["models"])


@pytest.mark.parametrize("path", PAPER_CONFIGS, ids=lambda p: p.stem)
def test_a_paper_config_replaces_the_default_instead_of_merging_into_it(path):
    config = yaml.safe_load(path.read_text())
    jobs = planned_jobs("--configfile", str(path))
    # merged with config/config.yaml, the default's 13 methods and its AutoAttack subset would
    # join every paper grid
    assert jobs["train"] == jobs["evaluate"] == grid_size(config)
    assert config["evaluation"]["suite"] == "paper"


def test_the_default_config_plans_every_method_on_its_grid():
    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    assert planned_jobs()["train"] == grid_size(config) == 52
