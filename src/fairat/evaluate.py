"""Evaluation: per-sample correctness flags under each attack of the suite, then class-wise metrics.

Attack names: ``clean``; ``fgsm``; ``pgd<k>`` (k steps of eps/4 from a uniform random start,
final iterate; METHODS.md section 9). Flags are the primary output (as in fra31/auto-attack);
class-wise accuracy is a pure function of flags and labels (:mod:`fairat.metrics`).
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch
from torch import nn

from fairat.attacks import fgsm, pgd
from fairat.checkpoint import load_torch
from fairat.data import SplitData, to_float
from fairat.device import autocast, prepare_model, resolve_device
from fairat.methods import METHODS
from fairat.metrics import attack_report
from fairat.progress import progress_bar

if TYPE_CHECKING:
    from fairat.config import RunConfig

_PGD = re.compile(r"pgd(\d+)$")
ATTACK_FORMS = ("clean", "fgsm", "pgd<k> (e.g. pgd20)")


def check_attack_name(name: str) -> None:
    if name in ("clean", "fgsm") or (_PGD.match(name) and int(name[3:]) > 0):
        return
    raise ValueError(
        f"evaluation.attacks: {name!r} is not allowed; valid forms: {', '.join(ATTACK_FORMS)}"
    )


AttackFn = Callable[[nn.Module, torch.Tensor, torch.Tensor, torch.Generator], torch.Tensor]


def make_attack(name: str, eps: float, clamp: bool) -> AttackFn:
    """A function (model, x, y, generator) -> inputs to classify, for the named attack."""
    check_attack_name(name)
    if name == "clean":
        return lambda model, x, y, g: x
    if name == "fgsm":
        return lambda model, x, y, g: fgsm(model, x, y, eps=eps, clamp=clamp)
    steps = int(name[3:])
    return lambda model, x, y, g: pgd(model, x, y, eps=eps, steps=steps, generator=g, clamp=clamp)


def predict_flags(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    attack: AttackFn,
    *,
    batch_size: int,
    seed: int,
    to_float: Callable[[torch.Tensor], torch.Tensor],
    desc: str = "",
    autocast: Callable = contextlib.nullcontext,
    progress: bool = True,
) -> np.ndarray:
    """Boolean flags: is each sample classified correctly after the attack?

    The random start of batch b is drawn from a generator seeded with (seed, b), so flags do not
    depend on how many batches ran before (evaluation can be split or resumed batch-wise).
    """
    model.eval()
    device = x.device
    out = []
    for b, start in enumerate(
        progress_bar(range(0, len(x), batch_size), desc=desc, enabled=progress)
    ):
        xb = to_float(x[start : start + batch_size])
        yb = y[start : start + batch_size]
        g = torch.Generator(device=device).manual_seed(seed * 1_000_003 + b)
        with autocast():
            x_adv = attack(model, xb, yb, g)
            with torch.no_grad():
                pred = model(x_adv).argmax(dim=1)
        out.append((pred == yb).cpu().numpy())
    return np.concatenate(out) if out else np.zeros(0, dtype=bool)


def evaluate_model(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    attacks: tuple[str, ...],
    eps: float,
    clamp: bool,
    class_names: list[str],
    batch_size: int,
    seed: int,
    to_float: Callable[[torch.Tensor], torch.Tensor],
    autocast: Callable,
    progress: bool = True,
) -> tuple[dict[str, np.ndarray], dict[str, dict]]:
    """(flags per attack, report per attack) on (x, y)."""
    flags, reports = {}, {}
    labels = y.cpu().numpy()
    for name in attacks:
        flags[name] = predict_flags(
            model,
            x,
            y,
            make_attack(name, eps, clamp),
            batch_size=batch_size,
            seed=seed,
            to_float=to_float,
            desc=name,
            autocast=autocast,
            progress=progress,
        )
        reports[name] = attack_report(flags[name], labels, class_names)
    return flags, reports


def evaluate_checkpoint(
    run: RunConfig, data: SplitData, checkpoint: str | Path, *, progress: bool = True
) -> tuple[dict[str, np.ndarray], dict]:
    """Attack a checkpoint on the test split with the run's suite.

    Returns (flags per attack, the JSON-ready result: run identity, checkpoint epoch, class
    names and one report per attack).
    """
    from fairat.train import build_model  # the trainer imports this module

    device = resolve_device(run.device)
    state = load_torch(checkpoint, device)
    model = build_model(run, data)
    model.load_state_dict(state["model"])
    model = prepare_model(model, device, image=len(data.input_shape) == 3)
    view = METHODS.get(run.method).eval_view(model, data.num_classes)
    x = torch.from_numpy(data.x_test).to(device)
    y = torch.from_numpy(data.y_test).to(device)
    flags, reports = evaluate_model(
        view,
        x,
        y,
        attacks=run.evaluation.attacks,
        eps=run.eps,
        clamp=data.clamp,
        class_names=data.class_names,
        batch_size=run.evaluation.batch_size,
        seed=run.evaluation.seed,
        to_float=to_float,
        autocast=lambda: autocast(device),
        progress=progress,
    )
    result = {
        "dataset": run.dataset,
        "model": run.model,
        "method": run.method,
        "eps": run.eps_label,
        "seed": run.seed,
        "checkpoint_epoch": int(state["epoch"]) + 1,
        "class_names": data.class_names,
        "n_test": len(y),
        "attacks": reports,
    }
    return flags, result
