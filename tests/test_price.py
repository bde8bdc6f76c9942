"""benchmarks/price.py: the price of a config before launch, from the same planner the workflow
uses, with reuse across configs counted once."""

from __future__ import annotations

import importlib.util
import sys

import pytest
import yaml
from helpers import REPO

from fairat.config.runs import all_runs
from fairat.training.prefixes import count_training_passes, plan_prefixes

spec = importlib.util.spec_from_file_location("price", REPO / "benchmarks" / "price.py")
price = importlib.util.module_from_spec(spec)
sys.modules["price"] = price
spec.loader.exec_module(price)

HEADLINE = REPO / "config" / "cifar10_resnet18_fairness.yaml"
CODAT = REPO / "config" / "sweep_codat_eta.yaml"


def table(capsys, *paths: str) -> dict[str, list[str]]:
    assert price.main([str(p) for p in paths]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert "an assumption, not measured" in lines[0]
    return {cells[0].strip(): cells[1:] for cells in (line.split(" | ") for line in lines[2:-1])}


def number(cell: str) -> float:
    return float(cell.replace(",", ""))


def test_one_config_is_priced_with_the_workflows_own_plan(capsys):
    rows = table(capsys, HEADLINE)
    counts = count_training_passes(yaml.safe_load(HEADLINE.read_text()))
    row = [number(c) for c in rows["cifar10_resnet18_fairness"]]
    assert row[0] == counts["runs"] == 30
    assert row[1:4] == [counts["without_sharing"], counts["with_sharing"], counts["with_sharing"]]
    assert row[1] == 35_886  # issue 28's count of this grid
    train_scratch, train, evaluation, autoattack, total = row[4:]
    assert train < train_scratch and total == pytest.approx(
        train + evaluation + autoattack, abs=0.15
    )


def test_a_run_another_config_trained_is_not_trained_again(capsys):
    """The output cache keys a run on its name-free training record (RunConfig.training_json):
    the sweep's trades_dafa (3 seeds x 110 epochs x 12 passes) and its codat-eta0.3 (3 x 110 x
    11) are the headline's trades_dafa and codat; the other sweep points are trained."""
    rows = table(capsys, HEADLINE, CODAT)
    codat = [number(c) for c in rows["sweep_codat_eta"]]
    assert codat[2] - codat[3] == 3 * 110 * 12 + 3 * 110 * 11
    headline = all_runs(yaml.safe_load(HEADLINE.read_text()))
    keys = {price.reuse_key(r, plan_prefixes(headline)) for r in headline}
    sweep = all_runs(yaml.safe_load(CODAT.read_text()))
    plan = plan_prefixes(sweep)
    assert {r.name for r in sweep if price.reuse_key(r, plan) in keys} == {
        "trades_dafa",
        "codat-eta0.3",
    }
    alone = table(capsys, CODAT)
    assert number(alone["sweep_codat_eta"][3]) == codat[1]


SWEEP, ABLATION = (
    REPO / "config" / "sweep_trix_lambda.yaml",
    REPO / "config" / "ablation_trix_cifar10.yaml",
)


def test_a_child_branches_from_a_parent_another_config_trained(capsys):
    """The ablation's trix_basic branches from trades_trix after 69 epochs. The trades_trix it
    gets from the cache was trained by the lambda sweep, where no run needed its state after
    epoch 69, but it kept it (fairat.training.prefixes.offered_epochs: DAFA's default warm-up); the
    ablation's trix is the sweep's trix-dafa_lam1 (the root of the sweep's plan)."""
    rows = table(capsys, SWEEP, ABLATION)
    scratch, shared, reused = (number(c) for c in rows["ablation_trix_cifar10"][1:4])
    assert shared == scratch - 3 * 69 * 12
    # trades_trix and trix come from the sweep; trix_basic trains epochs 70-150; trix_uniform all
    assert reused == 3 * (150 - 69) * 12 + 3 * 150 * 12


def test_a_child_of_a_cached_parent_without_its_state_trains_from_the_start(capsys, monkeypatch):
    """A cached parent that kept no state at the child's epoch (written before it offered any):
    the child trains all its epochs, as the train job does when its start file is missing."""
    monkeypatch.setattr(price, "offered_epochs", lambda run: [])
    rows = table(capsys, SWEEP, ABLATION)
    scratch, shared, reused = (number(c) for c in rows["ablation_trix_cifar10"][1:4])
    assert shared == scratch - 3 * 69 * 12
    assert reused == 3 * 150 * 12 + 3 * 150 * 12  # trix_basic and trix_uniform, all epochs


def test_attack_prices():
    assert price.attack_passes("clean", 0.5, 1) == pytest.approx(1 / 3)
    assert price.attack_passes("pgd20", 0.5, 2) == pytest.approx(2 * (20 + 1 / 3))
    assert price.attack_passes("pgd40@2/255", 0.5, 1) == pytest.approx(40 + 1 / 3)
    assert price.attack_passes("autoattack", 0.0, 1) == 100
    with pytest.raises(SystemExit, match="cannot price"):
        price.attack_passes("apgd", 0.5, 1)
