"""The attack suite: attack names, per-sample correctness flags and class-wise reports on any data.

Attack names (METHODS.md section 9): ``clean``; ``fgsm``; ``pgd<k>`` (k steps of eps/4 from a
uniform random start, cross-entropy, final iterate); ``cw<k>`` (the same with the CW margin
loss); ``autoattack`` (AutoAttack ``standard`` via :mod:`fairat.attacks.autoattack`). With
``restarts`` > 1, PGD and CW count a sample as robust only if it survives every restart.

Flags are the primary output (as in fra31/auto-attack): an int8 array per attack, 1 correct, 0
wrong, -1 not evaluated (AutoAttack may run on a fixed subset of the split). Class-wise accuracy
is a pure function of flags and labels (:mod:`fairat.metrics`). Every batch's random start is
seeded by (seed, batch), and an :class:`EvalStore` keeps finished batches so that a killed
evaluation resumes where it stopped and ends with the same flags.

This module knows nothing of runs or checkpoints: the trainer's validation
(:mod:`fairat.train`) and the test-split evaluation (:mod:`fairat.evaluate`) both call
:func:`evaluate_model`, and the config checks attack names with :func:`check_attack_name`.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from fairat.attacks import fgsm, perturb
from fairat.checkpoint import DamagedFileError, load_torch, move_aside, save_torch
from fairat.device import full_precision
from fairat.metrics import attack_report
from fairat.progress import progress_bar

SUITES = {
    "quick": ("clean", "fgsm", "pgd20", "autoattack"),
    "paper": ("clean", "pgd20", "pgd100", "cw30", "autoattack"),
}
WORST_CASE = "worst_case"
_NAME = re.compile(r"(clean|fgsm|autoattack|(pgd|cw)([1-9][0-9]*))$")
ATTACK_FORMS = ("clean", "fgsm", "pgd<k> (e.g. pgd20)", "cw<k> (e.g. cw30)", "autoattack")


def check_attack_name(name: str) -> None:
    if not _NAME.match(name):
        raise ValueError(
            f"evaluation.attacks: {name!r} is not allowed; valid forms: {', '.join(ATTACK_FORMS)}"
        )


@dataclass(frozen=True)
class Attack:
    """One attack of the suite; ``correct`` returns per-sample correctness on a batch."""

    name: str
    eps: float
    clamp: bool
    num_classes: int
    restarts: int = 1

    def correct(
        self, model: nn.Module, x: torch.Tensor, y: torch.Tensor, seed: int
    ) -> torch.Tensor:
        if self.name == "clean":
            return _predict(model, x) == y
        if self.name == "fgsm":
            return _predict(model, fgsm(model, x, y, eps=self.eps, clamp=self.clamp)) == y
        if self.name == "autoattack":
            from fairat.attacks.autoattack import autoattack_correct

            if not self.clamp:
                raise ValueError(
                    "evaluation.attacks: 'autoattack' needs inputs in [0, 1]; this dataset has "
                    "real-valued features"
                )
            return autoattack_correct(
                model, x, y, eps=self.eps, num_classes=self.num_classes, seed=seed
            )
        kind, steps = _NAME.match(self.name).group(2, 3)
        ok = torch.ones_like(y, dtype=torch.bool)
        for restart in range(self.restarts):
            g = torch.Generator(device=x.device).manual_seed(seed * 7919 + restart)
            x_adv = perturb(
                model,
                x,
                y,
                eps=self.eps,
                step_size=self.eps / 4,
                steps=int(steps),
                loss="ce" if kind == "pgd" else "cw",
                random_start="uniform",
                generator=g,
                clamp=self.clamp,
            )
            ok &= _predict(model, x_adv) == y
        return ok


def _predict(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return model(x).argmax(dim=1)


class EvalStore:
    """Finished batches of a long evaluation, saved atomically after each batch (resumable).

    ``path`` None keeps nothing on disk.
    """

    def __init__(self, path: str | Path | None) -> None:
        self.path = Path(path) if path is not None else None
        self.done: dict[str, dict[int, torch.Tensor]] = {}
        if self.path is not None and self.path.exists():
            try:
                self.done = load_torch(self.path)
            except DamagedFileError as err:  # a cache: start the evaluation over
                aside = move_aside(self.path)
                print(
                    f"warning: {err}; moved it to {aside} and evaluating from the first batch",
                    file=sys.stderr,
                    flush=True,
                )

    def get(self, attack: str, batch: int) -> torch.Tensor | None:
        return self.done.get(attack, {}).get(batch)

    def put(self, attack: str, batch: int, flags: torch.Tensor) -> None:
        self.done.setdefault(attack, {})[batch] = flags.cpu()
        if self.path is not None:
            save_torch(self.done, self.path)

    def remove(self) -> None:
        if self.path is not None:
            self.path.unlink(missing_ok=True)


def subset_indices(y: np.ndarray, per_class: int | None) -> np.ndarray:
    """All indices, or the first ``per_class`` test samples of each class (a fixed subset)."""
    if per_class is None:
        return np.arange(len(y))
    keep = [np.flatnonzero(y == c)[:per_class] for c in np.unique(y)]
    return np.sort(np.concatenate(keep))


def predict_flags(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    attack: Attack,
    *,
    batch_size: int,
    seed: int,
    to_float: Callable[[torch.Tensor], torch.Tensor],
    indices: np.ndarray | None = None,
    store: EvalStore | None = None,
    progress: bool = True,
) -> np.ndarray:
    """int8 flags over all of x: 1 correct, 0 wrong after the attack, -1 not in ``indices``.

    Batch b (of ``indices``) draws its random start from a generator seeded by (seed, b), so
    flags do not depend on how many batches ran before: a resumed evaluation gives the same flags.
    Attacks and predictions run in fp32, also when called inside an autocast region.
    """
    model.eval()
    idx = np.arange(len(x)) if indices is None else indices
    flags = np.full(len(x), -1, dtype=np.int8)
    starts = range(0, len(idx), batch_size)
    for b, start in enumerate(progress_bar(starts, desc=attack.name, enabled=progress)):
        chunk = idx[start : start + batch_size]
        done = store.get(attack.name, b) if store is not None else None
        if done is None:
            sel = torch.as_tensor(chunk, device=x.device)
            with full_precision(x.device):
                done = attack.correct(model, to_float(x[sel]), y[sel], seed * 1_000_003 + b)
            if store is not None:
                store.put(attack.name, b, done)
        flags[chunk] = done.cpu().numpy().astype(np.int8)
    return flags


def worst_case(flags: dict[str, np.ndarray]) -> np.ndarray:
    """Correct under every attack that evaluated the sample (-1 where none did).

    With AutoAttack on a fixed subset (``autoattack_per_class``), samples of the subset must
    survive it too and the others every remaining attack, so the row keeps covering the whole
    test split.
    """
    stacked = np.stack(list(flags.values()))
    evaluated = stacked >= 0
    out = np.where(evaluated.any(axis=0), ((stacked == 1) | ~evaluated).all(axis=0), -1)
    return out.astype(np.int8)


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
    progress: bool = True,
    restarts: int = 1,
    autoattack_per_class: int | None = None,
    store: EvalStore | None = None,
    worst_case_over: tuple[str, ...] | None = None,
) -> tuple[dict[str, np.ndarray], dict[str, dict]]:
    """(flags per attack, report per attack) on (x, y); ``worst_case`` over the attacks of
    ``worst_case_over`` (default: all of ``attacks``) is added when it holds more than one."""
    flags, reports = {}, {}
    labels = y.cpu().numpy()
    for name in attacks:
        check_attack_name(name)
        attack = Attack(name, eps, clamp, len(class_names), restarts)
        indices = subset_indices(labels, autoattack_per_class if name == "autoattack" else None)
        flags[name] = predict_flags(
            model,
            x,
            y,
            attack,
            batch_size=batch_size,
            seed=seed,
            to_float=to_float,
            indices=indices,
            store=store,
            progress=progress,
        )
    over = [a for a in (attacks if worst_case_over is None else worst_case_over) if a in flags]
    if len(over) > 1:
        flags[WORST_CASE] = worst_case({a: flags[a] for a in over})
    for name, f in flags.items():
        reports[name] = attack_report(f, labels, class_names)
    return flags, reports
