"""The attack suite: attack names, per-sample correctness flags and class-wise reports on any data.

Attack names (docs/specification.md#attacks): ``clean``; ``fgsm``; ``pgd<k>`` (k steps of eps/4 from a
uniform random start, cross-entropy, final iterate); ``cw<k>`` (the same with the CW margin
loss); ``autoattack`` (AutoAttack ``standard`` via :mod:`fairat.attacks.autoattack`). With
``restarts`` > 1, PGD and CW count a sample as robust only if it survives every restart.
``fgsm``, ``pgd<k>`` and ``cw<k>`` take an evaluation-only radius after ``@`` (``pgd40@2/255``:
PGD-40 at 2/255, step 0.5/255, whatever eps the run was trained at), so that a paper's own
radius is evaluated beside the run's without training at it
(:func:`fairat.config.attack_names.attack_eps`); such an attack stays out of ``worst_case`` and
is compared only with attacks of its radius in the sanity checks.

Each attack keeps every sample's predicted label at the input it found (-1: not evaluated;
AutoAttack may run on a fixed subset of the split) and its softmax there. The flags, an int8
array per attack (1 correct, 0 wrong, -1 not evaluated, as in fra31/auto-attack), derive from
the labels; class-wise accuracy is a pure function of flags and labels (:mod:`fairat.evaluation.metrics`).
Each report adds where attacked samples go, the K x K confusion counts, and DAFA's
class-similarity matrix (the mean softmax of class-i samples on class j). Every batch's random
start is seeded by (seed, batch), and an :class:`EvalStore` keeps finished batches so that a
killed evaluation resumes where it stopped and ends with the same outputs.

This module knows nothing of runs or checkpoints: the trainer's validation
(:mod:`fairat.training.loop`) and the test-split evaluation (:mod:`fairat.evaluation.evaluate`) both call
:func:`run_suite` (or :func:`evaluate_model`, its flags and reports). The names' grammar, which
the config checks too, is :mod:`fairat.config.attack_names`.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from fairat.attacks import fgsm, perturb
from fairat.attacks.precision import full_precision
from fairat.config.attack_names import NAME, WORST_CASE, attack_eps, check_attack_name
from fairat.config.eps import attack_base
from fairat.evaluation.metrics import attack_report
from fairat.runtime.checkpoint import load_torch, move_aside, save_torch
from fairat.runtime.errors import DamagedFileError
from fairat.runtime.progress import progress_bar
from fairat.training.device import strict_fp32


@dataclass(frozen=True)
class Attack:
    """One attack of the suite; ``outputs`` gives each sample's prediction after it on a batch."""

    name: str
    eps: float
    clamp: bool
    num_classes: int
    restarts: int = 1

    def outputs(
        self, model: nn.Module, x: torch.Tensor, y: torch.Tensor, seed: int
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """(predicted label, softmax) of each sample of the batch at the input the attack found.

        With ``restarts`` > 1 the input kept is that of the first restart that fooled the
        sample (the last restart's if none did), so the flag ``pred == y`` is "survives every
        restart", as before predictions were kept.
        """
        base = attack_base(self.name)
        if base == "autoattack":
            from fairat.attacks.autoattack import autoattack_outputs

            if not self.clamp:
                raise ValueError(
                    "evaluation.attacks: 'autoattack' needs inputs in [0, 1]; this dataset has "
                    "real-valued features"
                )
            x_adv, pred = autoattack_outputs(
                model, x, y, eps=self.eps, num_classes=self.num_classes, seed=seed
            )
            return pred, _softmax(model, x_adv)
        if base == "clean":
            return _pred_probs(model, x)
        if base == "fgsm":
            return _pred_probs(model, fgsm(model, x, y, eps=self.eps, clamp=self.clamp))
        kind, steps = NAME.match(self.name).group(2, 3)
        pred = probs = None
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
            p, q = _pred_probs(model, x_adv)
            if pred is None:
                pred, probs = p, q
            else:  # samples not yet fooled take this restart's outputs
                keep = pred != y
                pred = torch.where(keep, pred, p)
                probs = torch.where(keep[:, None], probs, q)
        return pred, probs


def _pred_probs(model: nn.Module, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    with torch.no_grad():
        logits = model(x).float()
    return logits.argmax(dim=1), logits.softmax(dim=1)


def _softmax(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    return _pred_probs(model, x)[1]


class EvalStore:
    """Finished batches of a long evaluation, saved atomically after each batch (resumable).

    ``path`` None keeps nothing on disk.
    """

    def __init__(self, path: str | Path | None) -> None:
        self.path = Path(path) if path is not None else None
        self.done: dict[str, dict[int, object]] = {}
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

    def get(self, attack: str, batch: int) -> object | None:
        return self.done.get(attack, {}).get(batch)

    def put(self, attack: str, batch: int, value: torch.Tensor | dict[str, torch.Tensor]) -> None:
        """Keep a finished batch: a tensor, or a dict of tensors (``predict_outputs``)."""
        is_dict = isinstance(value, dict)
        value = {k: v.cpu() for k, v in value.items()} if is_dict else value.cpu()
        self.done.setdefault(attack, {})[batch] = value
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


def predict_outputs(
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
) -> tuple[np.ndarray, np.ndarray]:
    """(predicted label, softmax) of every sample of x after the attack: int64 labels with -1
    and float32 softmax rows of NaN for samples not in ``indices``.

    Batch b (of ``indices``) draws its random start from a generator seeded by (seed, b), so
    the outputs do not depend on how many batches ran before: a resumed evaluation gives the
    same ones. Attacks and predictions run in fp32, also when called inside an autocast region.
    """
    model.eval()
    idx = np.arange(len(x)) if indices is None else indices
    pred = np.full(len(x), -1, dtype=np.int64)
    probs = np.full((len(x), attack.num_classes), np.nan, dtype=np.float32)
    starts = range(0, len(idx), batch_size)
    for b, start in enumerate(progress_bar(starts, desc=attack.name, enabled=progress)):
        chunk = idx[start : start + batch_size]
        done = store.get(attack.name, b) if store is not None else None
        if not (isinstance(done, dict) and {"pred", "probs"} <= done.keys()):
            # nothing kept, or a batch kept before predictions were (flags only): attack it
            sel = torch.as_tensor(chunk, device=x.device)
            with full_precision(x.device):
                p, q = attack.outputs(model, to_float(x[sel]), y[sel], seed * 1_000_003 + b)
            done = {"pred": p, "probs": q}
            if store is not None:
                store.put(attack.name, b, done)
        pred[chunk] = done["pred"].cpu().numpy()
        probs[chunk] = done["probs"].cpu().float().numpy()
    return pred, probs


def flags_from(pred: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """int8 flags from predicted labels: 1 correct, 0 wrong, -1 not evaluated (label -1)."""
    return np.where(pred < 0, -1, pred == labels).astype(np.int8)


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


def worst_case_prediction(preds: dict[str, np.ndarray], labels: np.ndarray) -> np.ndarray:
    """The label a sample ends at under the worst case: that of the last attack (in suite order,
    weakest to strongest) that misclassified it, its true label if none did, -1 where no attack
    evaluated it. Its flags equal :func:`worst_case` of the attacks' flags."""
    out = np.full(len(labels), -1, dtype=np.int64)
    for pred in preds.values():
        evaluated = pred >= 0
        out = np.where(evaluated & (out < 0), labels, out)  # correct until an attack fools it
        out = np.where(evaluated & (pred != labels), pred, out)
    return out


def confusion_counts(pred: np.ndarray, labels: np.ndarray, num_classes: int) -> np.ndarray:
    """K x K counts: row = true class, column = predicted class, over the evaluated samples
    (label -1 left out); the diagonal over the row sum is class-wise accuracy."""
    evaluated = pred >= 0
    cells = labels[evaluated].astype(np.int64) * num_classes + pred[evaluated]
    return np.bincount(cells, minlength=num_classes * num_classes).reshape(num_classes, num_classes)


def class_similarity(probs: np.ndarray, labels: np.ndarray, num_classes: int) -> np.ndarray:
    """DAFA's class-similarity matrix: row i is the mean softmax of the evaluated class-i
    samples (P_i(j), :mod:`fairat.methods.dafa`; rucy74/DAFA ``utils.py``), here on the test
    split at the inputs an attack found. A class with no evaluated sample gets a row of NaN."""
    evaluated = ~np.isnan(probs[:, 0])
    sums = np.zeros((num_classes, num_classes))
    np.add.at(sums, labels[evaluated].astype(np.int64), probs[evaluated].astype(np.float64))
    n = np.bincount(labels[evaluated].astype(np.int64), minlength=num_classes)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n[:, None] > 0, sums / np.maximum(n, 1)[:, None], np.nan)


@dataclass
class SuiteOutputs:
    """What a suite run gives: per attack the int8 flags, the predicted labels (-1 not
    evaluated) and the report (:func:`fairat.evaluation.metrics.attack_report` plus ``confusion``, the
    K x K counts, and ``similarity``, the K x K mean softmax, None for ``worst_case``)."""

    flags: dict[str, np.ndarray]
    preds: dict[str, np.ndarray]
    reports: dict[str, dict]


@strict_fp32()  # validation, selection and evaluation: IEEE fp32 inside a TF32 training step too
def run_suite(
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
) -> SuiteOutputs:
    """Every attack of ``attacks`` on (x, y); ``worst_case`` over the attacks of
    ``worst_case_over`` (default: all of ``attacks``) is added when it holds more than one."""
    labels = y.cpu().numpy()
    k = len(class_names)
    preds, similarity = {}, {}
    for name in attacks:
        check_attack_name(name)
        attack = Attack(name, attack_eps(name, eps), clamp, k, restarts)
        indices = subset_indices(labels, autoattack_per_class if name == "autoattack" else None)
        preds[name], probs = predict_outputs(
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
        similarity[name] = class_similarity(probs, labels, k)
    over = [a for a in (attacks if worst_case_over is None else worst_case_over) if a in preds]
    if len(over) > 1:
        preds[WORST_CASE] = worst_case_prediction({a: preds[a] for a in over}, labels)
    flags = {name: flags_from(pred, labels) for name, pred in preds.items()}
    reports = {}
    for name, f in flags.items():
        sim = similarity.get(name)
        reports[name] = {
            **attack_report(f, labels, class_names),
            "confusion": confusion_counts(preds[name], labels, k).tolist(),
            "similarity": None
            if sim is None
            else [[None if np.isnan(v) else round(float(v), 6) for v in row] for row in sim],
        }
    return SuiteOutputs(flags=flags, preds=preds, reports=reports)


def evaluate_model(model: nn.Module, x: torch.Tensor, y: torch.Tensor, **kwargs) -> tuple:
    """(flags per attack, report per attack) of :func:`run_suite` (same keyword arguments)."""
    out = run_suite(model, x, y, **kwargs)
    return out.flags, out.reports
