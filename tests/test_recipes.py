"""Every run of every paper config trains with its reference script's per-epoch lr sequence.

Each reference formula below is a transcription of the script its config comment cites, with
epochs counted from 1 as those scripts do; the sequence under test is the one the trainer's
optimiser holds in each epoch (``fairat.train.make_scheduler``, stepped after each epoch as in
``fairat.train.train``). A run a paper config adds without a reference here fails the test.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import yaml

from fairat.config import all_runs
from fairat.train import make_optimizer, make_scheduler

CONFIG = Path(__file__).resolve().parents[1] / "config"


def trades_reference(epoch: int, epochs: int, lr: float) -> float:
    """yaodongyu/TRADES train_trades_cifar10.py, adjust_learning_rate (lines 137-147)."""
    if epoch >= 100:
        return lr * 0.001
    if epoch >= 90:
        return lr * 0.01
    if epoch >= 75:
        return lr * 0.1
    return lr


def bag_of_tricks(epoch: int, epochs: int, lr: float) -> float:
    """rucy74/DAFA and Fairness-a11y/TRIX train.py, adjust_learning_rate, the default
    ``bag_of_tricks`` schedule: x0.1 from epochs - 10, x0.01 from epochs - 5."""
    if epoch >= epochs - 5:
        return lr * 0.01
    if epoch >= epochs - 10:
        return lr * 0.1
    return lr


def frl_reference(epoch: int, epochs: int, lr: float) -> float:
    """hannxu123/fair_robust frlrw.py / frlrmrw.py: lr 1e-3, MultiStepLR milestones [40, 80]
    stepped after each epoch (``lr_scheduler.step(now_epoch)``), i.e. x0.1 from epoch 41."""
    return lr * 0.1 ** sum(epoch > m for m in (40, 80))


def step_every_50(epoch: int, epochs: int, lr: float) -> float:
    """Paper 000 (no code): Adam 1e-3, "x0.1 every 50 epochs", read as StepLR(step_size=50)."""
    return lr * 0.1 ** ((epoch - 1) // 50)


REFERENCES = {
    "cifar10_resnet18_fairness.yaml": {
        "trades": trades_reference,
        "trades_dafa": bag_of_tricks,
        "dafa": bag_of_tricks,
        "cfa": bag_of_tricks,
        "wat": bag_of_tricks,
        "codat": bag_of_tricks,
        "frl_rw": frl_reference,
        "frl_rwrm": frl_reference,
        "trades_trix": bag_of_tricks,
        "trix": bag_of_tricks,
    },
    "label_aug_cifar10.yaml": {
        "pgd_at": bag_of_tricks,
        "label_aug_at": bag_of_tricks,
        "label_aug_at_half": bag_of_tricks,
    },
    "paper000_resnet20_mixup.yaml": {"fgsm_at": step_every_50, "mixup_at": step_every_50},
    "sweep_codat_eta.yaml": {"trades_dafa": bag_of_tricks, "codat": bag_of_tricks},
    "sweep_trix_lambda.yaml": {"trades_trix": bag_of_tricks, "trix": bag_of_tricks},
    "sweep_paper000_mixup_lambda.yaml": {
        "fgsm_at": step_every_50,
        "mixup_at": step_every_50,
        "mixup_at_beta": step_every_50,
    },
    "zoo_cifar10_linf.yaml": {},  # trains nothing: RobustBench's published models only
}
# the reference's epoch count and base lr, which the config must match too
EXPECTED = {
    trades_reference: (76, 0.1),
    frl_reference: (40, 0.001),
    step_every_50: (80, 0.001),
}


def trainer_lrs(cfg) -> list[float]:
    """The lr of each epoch as the trainer's optimiser holds it while the epoch runs."""
    optimizer = make_optimizer(torch.nn.Linear(1, 1), cfg)
    scheduler = make_scheduler(optimizer, cfg)
    lrs = []
    for _ in range(cfg.epochs):
        lrs.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    return lrs


def test_every_paper_config_has_its_references_listed():
    papers = {p.name for p in CONFIG.glob("*.yaml")} - {"config.yaml"}
    assert papers == set(REFERENCES)


@pytest.mark.parametrize("name", sorted(REFERENCES))
def test_each_run_follows_its_reference_lr_sequence(name):
    config = yaml.safe_load((CONFIG / name).read_text())
    runs = {run.name: run for run in all_runs(config) if run.seed == config["seeds"][0]}
    families = {n.split("-")[0] for n in runs}
    assert families == set(REFERENCES[name]), "every run needs a reference formula here"
    for run_name, run in runs.items():
        reference = REFERENCES[name][run_name.split("-")[0]]
        cfg = run.train
        if reference in EXPECTED:
            assert (cfg.epochs, cfg.lr) == pytest.approx(EXPECTED[reference]), run_name
        expected = [reference(e, cfg.epochs, cfg.lr) for e in range(1, cfg.epochs + 1)]
        assert trainer_lrs(cfg) == pytest.approx(expected, rel=1e-9), run_name


def test_the_trades_recipe_runs_its_last_two_epochs_at_a_tenth():
    """The off-by-one the project once had: TRADES's epochs 75 and 76 both run at 0.01."""
    config = yaml.safe_load((CONFIG / "cifar10_resnet18_fairness.yaml").read_text())
    trades = next(r for r in all_runs(config) if r.name == "trades")
    lrs = trainer_lrs(trades.train)
    assert lrs[73] == pytest.approx(0.1) and lrs[74:] == pytest.approx([0.01, 0.01])


def test_headline_baselines_share_the_recipe_of_what_they_are_compared_with():
    """rho compares each run with a TRADES trained on the same schedule, optimiser, weight decay,
    Nesterov and batch size (METHODS.md section 1), and FRL fine-tunes the TRADES it is
    compared with."""
    from fairat.config import variants

    config = yaml.safe_load((CONFIG / "cifar10_resnet18_fairness.yaml").read_text())
    runs = {r.name: r for r in all_runs(config) if r.seed == 0}
    recipe = ("epochs", "batch_size", "optimizer", "lr", "momentum", "nesterov")
    recipe += ("weight_decay", "schedule", "milestones", "gamma")
    for name, variant in variants(config).items():
        base = variant.baseline
        assert base is not None and runs[base].method == "trades", name
        if variant.init_from is not None:  # FRL: fine-tunes its baseline
            assert variant.init_from == base, name
            continue
        for field in recipe:
            assert getattr(runs[name].train, field) == getattr(runs[base].train, field), (
                name,
                field,
            )
