"""The price of a config before anyone launches it: training and evaluation cost in GPU-hours.

    .venv/bin/python benchmarks/price.py config/cifar10_resnet18_fairness.yaml [MORE.yaml ...]
        [--rate 10000] [--robust 0.5]

For each config (and, with several, for all of them together) it prints

- training epoch-passes, the unit of issue 28: epochs x forward-backward passes per training
  sample (:func:`fairat.training.prefixes.passes_per_sample`: PGD family steps + 1, TRADES family
  steps + 2), summed over runs: as every run trains from scratch, with shared prefixes
  (:func:`fairat.training.prefixes.plan_prefixes`), and with shared prefixes plus the runs an earlier
  config of the list already trained (the output cache: same :func:`reuse_key`);
- GPU-hours of training (those passes over the training split, plus the per-epoch selection
  attack on the validation split), of the evaluation suite without AutoAttack, and of AutoAttack.

How a pass is priced. The model's forward FLOPs at the config's input size are counted on the
CPU with ``torch.utils.flop_counter`` (one image), and a forward+backward pass is taken as 3
forwards. ``--rate`` is the throughput of one GPU in ResNet-18 forward+backward passes per
second on 32x32 images; every model is priced by its FLOPs relative to that. The default,
10,000 per second in fp32 on one H100, is an assumption, not a measurement (issue 28's estimate;
``benchmarks/gpu_check.py`` measures the real rate on a GPU: docs/gpu.md), and the output says
so. Evaluation counts, per test image and checkpoint, a forward alone as 1/3 pass: clean 1/3,
FGSM 4/3, PGD-K and CW-K K + 1/3 per restart, AutoAttack ``standard`` 100 APGD-CE steps on every
image and, on the ``--robust`` fraction that survives them (default 0.5, about a TRADES
ResNet-18 on CIFAR-10), APGD-T (9 targets x 100 steps), FAB-T (9 x 100) and Square (5,000
queries, forwards only). AutoAttack's subsets (``autoattack_per_class``) are not modelled: the
paper configs run it on the whole test split.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from functools import cache
from pathlib import Path

import yaml

from fairat.config.runs import RunConfig, all_runs, run_dir
from fairat.data import DATASETS
from fairat.training.prefixes import branch_epochs, offered_epochs, passes_per_sample, plan_prefixes

DEFAULT_RATE = 10_000  # ResNet-18 32x32 forward+backward passes per second, fp32, one H100
# (train, test) sizes and the native image side of the datasets the paper configs use
SIZES = {
    "cifar10": (50_000, 10_000, 32),
    "cifar100": (50_000, 10_000, 32),
    "svhn": (73_257, 26_032, 32),
    "stl10": (5_000, 8_000, 96),
}
CHANNELS = 3
ATTACK = re.compile(r"(clean|fgsm|autoattack|(pgd|cw)([1-9][0-9]*))(?:@.+)?$")


def reuse_key(run: RunConfig, plan: dict) -> str:
    """What the output cache keys a trained run on, among the things that differ between
    configs: the train rule's ``params.run``, the run's ``RunConfig.training_json`` (name-free,
    with the method's defaults filled in, so a sweep point ``codat-eta0.3`` is the run ``codat``
    of another config; the prepared data and the code are the same for every config of one
    checkout), and, for a run that starts from a parent's branch state in this config's
    ``plan``, that parent's key and the branch epoch: Snakemake's key hashes every upstream
    job's key and the params (``start``), so a run branched in one config and trained from
    scratch in another has two keys (snakemake/caching/hash.py, ``_get_provenance_hash``)."""
    branch = plan.get(run_dir(run))
    if branch is None:
        return run.training_json()
    return f"{run.training_json()} from {reuse_key(branch.parent, plan)} at {branch.epoch}"


@cache
def forward_flops(model: str, side: int, num_classes: int, model_args: str = "{}") -> int:
    """Forward FLOPs of one ``side`` x ``side`` RGB image through ``model``."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    from fairat.models import create_model

    net = create_model(
        model,
        num_classes=num_classes,
        input_shape=(CHANNELS, side, side),
        mean=(0.0,),
        std=(1.0,),
        **json.loads(model_args),
    ).eval()
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        net(torch.zeros(1, CHANNELS, side, side))
    return counter.get_total_flops()


def data_shape(run: RunConfig) -> tuple[int, int, int, int]:
    """(train images, validation images, test images, image side) of a run's dataset."""
    if run.dataset not in SIZES:
        raise SystemExit(f"price.py knows the sizes of {sorted(SIZES)}, not {run.dataset!r}")
    train, test, side = SIZES[run.dataset]
    side = int(run.dataset_options.get("image_size", side))
    val = round(train * run.val_fraction)
    return train - val, val, test, side


def attack_passes(name: str, robust: float, restarts: int) -> float:
    """Forward-backward pass equivalents per test image of one attack of the suite."""
    m = ATTACK.match(name)
    if m is None:
        raise SystemExit(f"price.py cannot price the attack {name!r}")
    if m.group(1) == "clean":
        return 1 / 3
    if m.group(1) == "fgsm":
        return 4 / 3
    if m.group(1) == "autoattack":
        return 100 + robust * (9 * 100 + 9 * 100 + 5000 / 3)
    return (int(m.group(3)) + 1 / 3) * (restarts if m.group(2) == "pgd" else 1)


def price(runs: list[RunConfig], plan: dict, trained: dict, rate: float, robust: float):
    """Epoch-passes and GPU-hours of ``runs``. ``trained`` maps the :func:`reuse_key` of every
    run an earlier config trained to the branch epochs whose states it saved; such a run costs
    no training. A run whose parent comes from there but saved no state at its branch epoch
    trains from epoch 1, as the workflow's train job does. The runs this config trains are
    added to ``trained``."""
    unit = forward_flops("resnet18", 32, 10)
    before = dict(trained)
    saves = branch_epochs(plan)
    out = dict.fromkeys(
        ("scratch", "shared", "reused", "train_h", "eval_h", "autoattack_h", "train_h_scratch"), 0.0
    )
    for run in runs:
        n_train, n_val, n_test, side = data_shape(run)
        classes = DATASETS.get(run.dataset).num_classes
        cost = forward_flops(run.model, side, classes, json.dumps(run.model_args)) / unit
        per_epoch = passes_per_sample(run)
        branch = plan.get(run_dir(run))
        epochs = run.train.epochs - (branch.epoch if branch else 0)
        key = reuse_key(run, plan)
        out["scratch"] += run.train.epochs * per_epoch
        out["shared"] += epochs * per_epoch
        selection = n_val * (run.train.select_steps + 2 / 3)  # attack, plus clean forwards
        if key not in trained:
            parent = reuse_key(branch.parent, plan) if branch else None
            if parent in before and branch.epoch not in before[parent]:
                epochs = run.train.epochs  # the cached parent kept no state at this epoch
            out["reused"] += epochs * per_epoch
            out["train_h"] += epochs * (n_train * per_epoch + selection) * cost / rate / 3600
            trained[key] = set(saves.get(run_dir(run), [])) | set(offered_epochs(run))
        out["train_h_scratch"] += (
            run.train.epochs * (n_train * per_epoch + selection) * cost / rate / 3600
        )
        ev = run.evaluation
        checkpoints = len(ev.checkpoints)
        for attack in ev.suite_attacks:
            hours = checkpoints * n_test * attack_passes(attack, robust, ev.restarts) * cost
            hours /= rate * 3600
            out["autoattack_h" if attack == "autoattack" else "eval_h"] += hours
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("configs", nargs="+", type=Path)
    parser.add_argument("--rate", type=float, default=DEFAULT_RATE)
    parser.add_argument("--robust", type=float, default=0.5)
    args = parser.parse_args(argv)
    measured = args.rate != DEFAULT_RATE
    print(
        f"rate: {args.rate:,.0f} ResNet-18 32x32 forward+backward passes/s per GPU "
        + ("(given with --rate)" if measured else "(an assumption, not measured: docs/gpu.md)")
        + f"; AutoAttack priced with {args.robust:.0%} of images surviving APGD-CE"
    )
    header = (
        "config",
        "runs",
        "epoch-passes scratch",
        "shared prefixes",
        "+ reuse",
        "train h (scratch)",
        "train h",
        "eval h",
        "AutoAttack h",
        "total h",
    )
    rows, trained = [], {}
    total = dict.fromkeys(header[2:], 0.0)
    for path in args.configs:
        config = yaml.safe_load(path.read_text())
        runs = all_runs(config)
        sharing = config.get("share_prefixes", True)
        plan = plan_prefixes(runs) if sharing else {}
        p = price(runs, plan, trained, args.rate, args.robust)
        hours = p["train_h"] + p["eval_h"] + p["autoattack_h"]
        values = (p["scratch"], p["shared"], p["reused"], p["train_h_scratch"], p["train_h"])
        values += (p["eval_h"], p["autoattack_h"], hours)
        rows.append((path.stem, len(runs), *values))
        for key, value in zip(header[2:], values, strict=True):
            total[key] += value
    if len(rows) > 1:
        rows.append(("all together", sum(r[1] for r in rows), *total.values()))
    widths = [max(len(h), 14) for h in header]
    widths[0] = max(len(h) for h in [header[0], *(r[0] for r in rows)])
    print(" | ".join(h.rjust(w) for h, w in zip(header, widths, strict=True)))
    for row in rows:
        cells = [row[0].ljust(widths[0]), str(row[1]).rjust(widths[1])]
        cells += [f"{v:,.0f}".rjust(w) for v, w in zip(row[2:5], widths[2:5], strict=True)]
        cells += [f"{v:,.1f}".rjust(w) for v, w in zip(row[5:], widths[5:], strict=True)]
        print(" | ".join(cells))
    scratch, reused = total["epoch-passes scratch"], total["+ reuse"]
    if scratch:
        print(
            f"training epoch-passes: {reused:,.0f} of {scratch:,.0f} ({1 - reused / scratch:.1%} fewer)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
