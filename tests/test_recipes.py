"""Every run of every paper config trains as the reference script it cites runs.

Two checks per run. The per-epoch lr: each reference formula below is a transcription of the
script its config comment cites, with epochs counted from 1 as those scripts do; the sequence
under test is the one the trainer's optimiser holds in each epoch (``fairat.training.loop.make_scheduler``,
stepped after each epoch as in ``fairat.training.loop.train``). The rest of the recipe (:class:`Recipe`):
the optimiser the trainer builds (its class, momentum, Nesterov, weight decay, read from the
``torch.optim`` object ``fairat.training.loop.make_optimizer`` returns), the batch size, the training
attack's steps and step size, and whether inputs are normalised, each against the values the
cited script runs with, traced from its command line to the optimiser or attack call (the
``source`` of each recipe names the lines). A run a paper config adds without a reference here
fails the test; so does flipping Nesterov or changing a step size (the mutation tests below).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch
import yaml

from fairat.config.runs import all_runs
from fairat.data import resolve_options
from fairat.methods.mixup_at import FAST_FGSM_STEP
from fairat.training.loop import make_optimizer, make_scheduler

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


@dataclass(frozen=True)
class Recipe:
    """What a reference script passes to its optimiser and its training attack.

    ``steps``/``step`` describe the training attack (``step`` in [0, 1] pixel units; FGSM is one
    step); ``momentum``/``nesterov`` are ``None`` for Adam.
    """

    optimizer: str
    momentum: float | None
    nesterov: bool | None
    weight_decay: float
    batch_size: int
    steps: int
    step: float | str  # "eps": one step of the radius (FGSM)
    normalize: bool
    source: str
    # train.precision: fp32 for every reference here. rucy74/DAFA and Fairness-a11y/TRIX pin
    # pytorch 1.6.0 (README.md lines 30 and 8), yaodongyu/TRADES pytorch 0.4.1 (README.md line
    # 11): TF32 (torch.backends.cudnn.allow_tf32, on by default) came with PyTorch 1.7 and
    # CUDA 11, so their published runs computed in IEEE fp32; their code sets no precision flag
    # (DAFA train.py line 59 and TRIX train.py line 46 set only cudnn.benchmark = True)
    precision: str = "fp32"


DAFA_TRAIN = Recipe(
    "sgd", 0.9, True, 5e-4, 128, 10, 0.007, False,
    source="rucy74/DAFA arguments.py: batch 128 (line 30), wd 5e-4 (line 40), momentum 0.9 "
    "(line 44), --nesterov store_true default False (line 45) flipped to True by train.py line 32 "
    "(args.nesterov = not args.nesterov; no script passes the flag) and passed to optim.SGD at "
    "train.py lines 200-201; PGD 10 steps of 0.007 (arguments.py lines 53-54); datasets.py lines "
    "13-22 end at ToTensor() (no Normalize)",
)  # fmt: skip
TRIX_TRAIN = Recipe(
    "sgd", 0.9, True, 5e-4, 128, 10, 0.007, False,
    source="Fairness-a11y/TRIX (a fork of rucy74/DAFA): arguments.py lines 30, 40, 45, 53-54 "
    "as DAFA's; train.py line 20 flips --nesterov (args.nesterov = not args.nesterov), lines "
    "176-177 build optim.SGD(..., nesterov=args.nesterov); datasets.py has no Normalize",
)  # fmt: skip
TRADES_TRAIN = Recipe(
    "sgd", 0.9, False, 2e-4, 128, 10, 0.007, False,
    source="yaodongyu/TRADES train_trades_cifar10.py: batch 128 (line 16), wd 2e-4 (line 22), "
    "momentum 0.9 (line 26), 10 steps of 0.007 (lines 32-35), optim.SGD without nesterov "
    "(line 153), transforms end at ToTensor() (lines 59-66)",
)  # fmt: skip
FRL_FINETUNE = Recipe(
    "sgd", 0.9, False, 5e-4, 128, 10, 0.007, False,
    source="hannxu123/fair_robust frlrw.py / frlrmrw.py: optim.SGD(lr=0.001, momentum=0.9, "
    "weight_decay=5e-4) without nesterov (frlrw.py line 26), batch 128 (line 99), 10 training "
    "steps (line 32); Normalize commented out in data_loader.py lines 18 and 23. The step is the "
    "0.007 of the TRADES it fine-tunes and is compared with [project choice: frlrw.py line 33 "
    "steps 2/255; one comparison, one step]",
)  # fmt: skip
LABEL_AUG_RECIPE = Recipe(
    "sgd", 0.9, True, 5e-4, 128, 10, 2 / 255, True,
    source="[project choice] paper 003 trains ImageNet/ResNet-50; its CIFAR-10 config runs "
    "rucy74/DAFA train.py's recipe (Nesterov by train.py line 32), with Madry et al.'s PGD-AT "
    "step 2/255 on both sides, and normalised inputs as in f-amerehi/LA (LA.ipynb normalises "
    "with the CIFAR-10 mean and std before the network)",
)  # fmt: skip
PAPER000_RECIPE = Recipe(
    "adam", None, None, 0.0, 256, 1, "eps", True,
    source="paper 000 (no code): Adam lr 1e-3, batch 256, FGSM (one step of eps from the "
    "input), no weight decay stated",
)  # fmt: skip

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
    # CIFAR-100 and STL-10: the headline's runs but TRADES's own 76-epoch CIFAR-10 recipe
    **{f"{d}_resnet18_fairness.yaml": {} for d in ("cifar100", "stl10")},
    "label_aug_cifar10.yaml": {
        "pgd_at": bag_of_tricks,
        "label_aug_at": bag_of_tricks,
        "label_aug_at_half": bag_of_tricks,
    },
    "paper000_resnet20_mixup.yaml": {"fgsm_at": step_every_50, "mixup_at": step_every_50},
    "sweep_codat_eta.yaml": {"trades_dafa": bag_of_tricks, "codat": bag_of_tricks},
    "sweep_trix_lambda.yaml": {"trades_trix": bag_of_tricks, "trix": bag_of_tricks},
    "ablation_trix_cifar10.yaml": {
        "trades_trix": bag_of_tricks,
        "trix": bag_of_tricks,
        "trix_basic": bag_of_tricks,
        "trix_uniform": bag_of_tricks,
    },
    "sweep_paper000_mixup_lambda.yaml": {
        "fgsm_at": step_every_50,
        "mixup_at": step_every_50,
        "mixup_at_beta": step_every_50,
    },
    "zoo_cifar10_linf.yaml": {},  # trains nothing: RobustBench's published models only
}
RECIPES = {
    "cifar10_resnet18_fairness.yaml": {
        "trades": TRADES_TRAIN,
        "trades_dafa": DAFA_TRAIN,
        "dafa": DAFA_TRAIN,
        "cfa": DAFA_TRAIN,
        "wat": DAFA_TRAIN,
        "codat": DAFA_TRAIN,
        "frl_rw": FRL_FINETUNE,
        "frl_rwrm": FRL_FINETUNE,
        "trades_trix": TRIX_TRAIN,
        "trix": TRIX_TRAIN,
    },
    **{f"{d}_resnet18_fairness.yaml": {} for d in ("cifar100", "stl10")},
    "label_aug_cifar10.yaml": {
        "pgd_at": LABEL_AUG_RECIPE,
        "label_aug_at": LABEL_AUG_RECIPE,
        "label_aug_at_half": LABEL_AUG_RECIPE,
    },
    "paper000_resnet20_mixup.yaml": {"fgsm_at": PAPER000_RECIPE, "mixup_at": PAPER000_RECIPE},
    "sweep_codat_eta.yaml": {"trades_dafa": DAFA_TRAIN, "codat": DAFA_TRAIN},
    "sweep_trix_lambda.yaml": {"trades_trix": TRIX_TRAIN, "trix": TRIX_TRAIN},
    "ablation_trix_cifar10.yaml": {
        "trades_trix": TRIX_TRAIN,
        "trix": TRIX_TRAIN,
        "trix_basic": TRIX_TRAIN,
        "trix_uniform": TRIX_TRAIN,
    },
    "sweep_paper000_mixup_lambda.yaml": {
        "fgsm_at": PAPER000_RECIPE,
        "mixup_at": PAPER000_RECIPE,
        "mixup_at_beta": PAPER000_RECIPE,
    },
    "zoo_cifar10_linf.yaml": {},
}
for table in (REFERENCES, RECIPES):
    headline = table["cifar10_resnet18_fairness.yaml"]
    for other in ("cifar100", "stl10"):
        table[f"{other}_resnet18_fairness.yaml"].update(
            {run: ref for run, ref in headline.items() if run != "trades"}
        )
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


def training_attack(run) -> tuple[int, float]:
    """(steps, step size in pixel units) of the run's training attack, as its method computes it."""
    p = run.params()
    if run.method == "fgsm_at":
        return 1, run.eps * (p.step_scale if p.random_start else 1.0)
    if run.method == "mixup_at" and p.attack == "fgsm":
        return 1, run.eps * (FAST_FGSM_STEP if p.random_start else 1.0)
    step_size = getattr(p, "step_size", None)
    return p.steps, (p.step_ratio * run.eps if step_size is None else float(step_size))


def recipe_mismatches(config: dict, recipes: dict[str, Recipe]) -> list[str]:
    """Every (run, field, runs with, reference) where a run departs from its reference recipe."""
    found = []
    for run in all_runs(config):
        ref = recipes[run.name.split("-")[0]]
        optimizer = make_optimizer(torch.nn.Linear(1, 1), run.train)
        group = optimizer.param_groups[0]
        kind = {torch.optim.SGD: "sgd", torch.optim.Adam: "adam"}.get(type(optimizer), "?")
        steps, step = training_attack(run)
        expected_step = run.eps if ref.step == "eps" else ref.step
        normalize = resolve_options(run.dataset, run.dataset_options).get("normalize", True)
        checks = {
            "optimizer": (kind, ref.optimizer),
            "momentum": (group.get("momentum") if kind == "sgd" else None, ref.momentum),
            "nesterov": (group.get("nesterov") if kind == "sgd" else None, ref.nesterov),
            "weight_decay": (group["weight_decay"], ref.weight_decay),
            "batch_size": (run.train.batch_size, ref.batch_size),
            "steps": (steps, ref.steps),
            "step": (step, pytest.approx(expected_step, abs=1e-12)),
            "normalize": (normalize, ref.normalize),
            "precision": (run.train.precision, ref.precision),
        }
        found += [
            f"{run.name} seed {run.seed} eps {run.eps_label}: {field} runs with {got!r}, "
            f"the reference with {want!r} ({ref.source})"
            for field, (got, want) in checks.items()
            if got != want
        ]
    return found


def test_every_paper_config_has_its_references_listed():
    papers = {p.name for p in CONFIG.glob("*.yaml")} - {"config.yaml"}
    assert papers == set(REFERENCES) == set(RECIPES)


@pytest.mark.parametrize("name", sorted(RECIPES))
def test_each_run_has_its_reference_optimiser_batch_attack_and_inputs(name):
    config = yaml.safe_load((CONFIG / name).read_text())
    families = {run.name.split("-")[0] for run in all_runs(config)}
    assert families == set(RECIPES[name]), "every run needs a reference recipe here"
    assert recipe_mismatches(config, RECIPES[name]) == []


MUTABLE = sorted(name for name, recipes in RECIPES.items() if recipes)


@pytest.mark.parametrize("name", MUTABLE)
def test_a_flipped_nesterov_or_a_changed_step_fails_the_recipe_check(name):
    """The check can fail: each mutation of a shipped config is caught, naming the run."""
    config = yaml.safe_load((CONFIG / name).read_text())
    sgd = config["train"].get("optimizer", "sgd") == "sgd"
    if sgd:
        flipped = copy.deepcopy(config)
        flipped["train"]["nesterov"] = not flipped["train"].get("nesterov", False)
        for spec in flipped["methods"].values():  # runs that set their own Nesterov flip too
            if isinstance(spec, dict) and "nesterov" in spec.get("train", {}):
                spec["train"]["nesterov"] = not spec["train"]["nesterov"]
        mismatches = recipe_mismatches(flipped, RECIPES[name])
        runs = {run.name for run in all_runs(config)}
        assert {m.split(" ")[0] for m in mismatches if "nesterov" in m} == runs
    runs = {run.name.split("-")[0]: run for run in all_runs(config)}
    params = {key: run.params() for key, run in runs.items()}
    for key, spec in config["methods"].items():
        if training_attack(runs[key])[0] == 1:  # FGSM: its step is the radius itself
            continue
        change = {"step_size": 0.005} if hasattr(params[key], "step_size") else {"step_ratio": 0.2}
        stepped = copy.deepcopy(config)
        stepped["methods"][key] = {**(spec or {}), **change}
        assert any(" step runs with" in m for m in recipe_mismatches(stepped, RECIPES[name])), key
    tf32 = copy.deepcopy(config)
    tf32["train"]["precision"] = "tf32"
    mismatches = recipe_mismatches(tf32, RECIPES[name])
    assert {m.split(" ")[0] for m in mismatches if "precision runs with 'tf32'" in m} == {
        run.name for run in all_runs(config) if "precision" not in run_train(config, run)
    }


def run_train(config: dict, run) -> dict:
    """The ``train:`` block a run's own entry under ``methods`` sets (empty if none)."""
    spec = config["methods"].get(run.name.split("-")[0]) or {}
    return spec.get("train", {}) if isinstance(spec, dict) else {}


def test_the_dafa_trix_and_trades_grids_state_their_precision():
    """The configs that run DAFA's, TRIX's and TRADES' recipes choose their precision in
    their ``train`` block, with the reason in its comment (the references computed in fp32)."""
    for name in (
        "cifar10_resnet18_fairness.yaml",
        "cifar100_resnet18_fairness.yaml",
        "stl10_resnet18_fairness.yaml",
        "sweep_codat_eta.yaml",
        "sweep_trix_lambda.yaml",
        "ablation_trix_cifar10.yaml",
    ):
        text = (CONFIG / name).read_text()
        assert yaml.safe_load(text)["train"]["precision"] == "fp32", name
        line = next(line for line in text.splitlines() if line.strip().startswith("precision:"))
        assert "pytorch 1.6.0" in line and "TF32" in line, (name, line)


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


FAIRNESS_GRIDS = [f"{d}_resnet18_fairness.yaml" for d in ("cifar10", "cifar100", "stl10")]


@pytest.mark.parametrize("name", FAIRNESS_GRIDS)
def test_fairness_grid_baselines_share_the_recipe_of_what_they_are_compared_with(name):
    """rho compares each run with a TRADES trained on the same schedule, optimiser, weight decay,
    Nesterov and batch size (docs/specification.md#recipes), and FRL fine-tunes the TRADES it is
    compared with."""
    from fairat.config.runs import variants

    config = yaml.safe_load((CONFIG / name).read_text())
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


@pytest.mark.parametrize("name", MUTABLE)
def test_both_sides_of_every_comparison_attack_with_the_same_steps_and_step(name):
    """A same-recipe comparison: the run and its baseline train against one attack budget."""
    from fairat.config.runs import variants

    config = yaml.safe_load((CONFIG / name).read_text())
    runs = {r.name: r for r in all_runs(config) if r.seed == config["seeds"][0]}
    runs = {n: r for n, r in runs.items() if r.eps == runs[next(iter(runs))].eps}
    for key, variant in variants(config).items():
        base = variant.baseline
        if base is None or key not in runs:
            continue
        assert training_attack(runs[key]) == pytest.approx(training_attack(runs[base])), key


@pytest.mark.parametrize("name", FAIRNESS_GRIDS[1:])
def test_dafa_and_trix_use_the_class_weight_scale_of_the_dataset(name):
    """rucy74/DAFA and Fairness-a11y/TRIX arguments.py line 62: --dafa_lambda is 1.0 on
    CIFAR-10 and 1.5 on CIFAR-100 and STL-10."""
    config = yaml.safe_load((CONFIG / name).read_text())
    runs = {r.name: r for r in all_runs(config) if r.seed == 0}
    assert runs["dafa"].params().lam == 1.5
    assert runs["trix"].params().dafa_lam == 1.5
