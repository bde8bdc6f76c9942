"""The shipped configs: each plans exactly its own grid (dry runs in a temporary directory, no
data), whatever state the checkout's own results/ and .snakemake/ are in."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from helpers import REPO, run_snakemake, snakemake_args

from fairat.config.attack_names import SUITES
from fairat.config.runs import EvalConfig, variants

PAPER_CONFIGS = sorted(p for p in (REPO / "config").glob("*.yaml") if p.name != "config.yaml")


def planned_jobs(workdir: Path, *args: str) -> dict[str, int]:
    """Job counts per rule of ``snakemake -n`` run in ``workdir``."""
    out = run_snakemake(workdir, "-n", "--cores", "1", *args)
    assert out.returncode == 0, out.stderr[-3000:]
    return {m[1]: int(m[2]) for m in re.finditer(r"^(\w+)\s+(\d+)$", out.stdout, re.M)}


def grid_size(config: dict) -> int:
    """Runs (sweeps expanded) x eps x seeds x datasets x models."""
    runs = len(variants(config))
    return (
        runs
        * len(config["eps"])
        * len(config["seeds"])
        * len(config["datasets"])
        * len(config["models"])
    )


@pytest.mark.parametrize("path", PAPER_CONFIGS, ids=lambda p: p.stem)
def test_a_paper_config_replaces_the_default_instead_of_merging_into_it(path, tmp_path):
    config = yaml.safe_load(path.read_text())
    jobs = planned_jobs(tmp_path, "--configfile", str(path))
    # merged with config/config.yaml, the default's 13 methods and its AutoAttack subset would
    # join every paper grid
    assert jobs.get("train", 0) == jobs.get("evaluate", 0) == grid_size(config)
    zoo = sum(len(e.get("eps") or ["8/255"]) for e in config.get("zoo") or [])
    assert jobs.get("evaluate_zoo", 0) == zoo
    evaluation = EvalConfig(**config["evaluation"])
    assert set(SUITES["paper"]) <= set(evaluation.suite_attacks)
    assert evaluation.autoattack_runs is None and evaluation.autoattack_per_class is None
    assert ("sweep_table" in jobs) == any(v.sweep for v in variants(config).values())
    # the table of paper configs in docs/configs.md gives these job counts
    readme = (REPO / "docs" / "configs.md").read_text()
    row = re.search(
        rf"^\| `config/{path.name}` \|.*\| (\d+) \((\d+) train, (\d+) evaluate"
        r"(?:, (\d+) zoo)?\) \|",
        readme,
        re.M,
    )
    assert row, f"docs/configs.md has no row for config/{path.name}"
    counts = [int(g or 0) for g in row.groups()]
    assert counts == [jobs["total"], grid_size(config), grid_size(config), zoo]


def test_the_default_config_plans_every_method_on_its_grid(tmp_path):
    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    jobs = planned_jobs(tmp_path, "--configfile", str(REPO / "config" / "config.yaml"))
    assert jobs["train"] == grid_size(config) == 52


def test_the_headline_config_trains_a_trades_baseline_on_each_recipe(tmp_path):
    path = REPO / "config" / "cifar10_resnet18_fairness.yaml"
    out = run_snakemake(tmp_path, "-n", "--cores", "1", "--configfile", str(path))
    assert out.returncode == 0, out.stderr[-3000:]
    trained = set(
        re.findall(r"results/runs/cifar10/resnet18/([\w.-]+)/eps8_255/seed0/last\.pt", out.stdout)
    )
    assert {"trades", "trades_dafa", "trades_trix"} <= trained
    # FRL fine-tunes the 110-epoch TRADES it is compared with (the seed-0 job, wherever the dry
    # run prints it)
    job = re.search(
        r"rule train:\n\s+input: ([^\n]*)\n(?:.*\n){0,6}?\s+wildcards: [^\n]*run=frl_rw, "
        r"eps=8_255, seed=0\n",
        out.stdout,
    )
    assert job, "no seed-0 frl_rw training job in the dry run"
    assert "results/runs/cifar10/resnet18/trades_dafa/eps8_255/seed0/last.pt" in job.group(1)


def test_helpers_refuse_to_run_snakemake_in_the_repository():
    with pytest.raises(ValueError, match="outside the repository"):
        snakemake_args(REPO)
    with pytest.raises(ValueError, match="outside the repository"):
        snakemake_args(REPO / "results")
