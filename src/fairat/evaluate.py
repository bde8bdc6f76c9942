"""Evaluation: per-sample correctness flags under each attack of the suite, then class-wise metrics.

Attack names (METHODS.md section 9): ``clean``; ``fgsm``; ``pgd<k>`` (k steps of eps/4 from a
uniform random start, cross-entropy, final iterate); ``cw<k>`` (the same with the CW margin
loss); ``autoattack`` (AutoAttack ``standard`` via :mod:`fairat.attacks.autoattack`). With
``restarts`` > 1, PGD and CW count a sample as robust only if it survives every restart. The
derived ``worst_case`` row counts a sample as correct only if it is correct under every attack of
``EvalConfig.worst_case_attacks``: the attacks that run on every sample of every checkpoint
(per-point worst case). An attack run on a subset (``autoattack_per_class``) or on selected
checkpoints only (``autoattack_runs``) stays out of it and is reported as its own row, so a
``worst_case`` averaged over seeds or compared between runs always combines one suite on one set
of samples.

Flags are the primary output (as in fra31/auto-attack): an int8 array per attack, 1 correct, 0
wrong, -1 not evaluated (AutoAttack may run on a fixed subset of the test split). Class-wise
accuracy is a pure function of flags and labels (:mod:`fairat.metrics`). Every batch's random
start is seeded by (seed, batch), and a long evaluation stores finished batches so that a killed
evaluation resumes where it stopped and ends with the same flags.
"""

from __future__ import annotations

import contextlib
import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch
from torch import nn

from fairat.attacks import fgsm, perturb
from fairat.checkpoint import load_torch, save_torch
from fairat.data import SplitData, to_float
from fairat.device import autocast, prepare_model, resolve_device
from fairat.methods import METHODS
from fairat.metrics import attack_report
from fairat.progress import progress_bar

if TYPE_CHECKING:
    from fairat.config import RunConfig

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
            self.done = load_torch(self.path)

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
    autocast: Callable = contextlib.nullcontext,
    store: EvalStore | None = None,
    progress: bool = True,
) -> np.ndarray:
    """int8 flags over all of x: 1 correct, 0 wrong after the attack, -1 not in ``indices``.

    Batch b (of ``indices``) draws its random start from a generator seeded by (seed, b), so
    flags do not depend on how many batches ran before: a resumed evaluation gives the same flags.
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
            with autocast():
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
    autocast: Callable = contextlib.nullcontext,
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
            autocast=autocast,
            store=store,
            progress=progress,
        )
    over = [a for a in (attacks if worst_case_over is None else worst_case_over) if a in flags]
    if len(over) > 1:
        flags[WORST_CASE] = worst_case({a: flags[a] for a in over})
    for name, f in flags.items():
        reports[name] = attack_report(f, labels, class_names)
    return flags, reports


def sanity_checks(
    flags: dict[str, np.ndarray], *, tolerance: float, masking_gap: float
) -> list[dict]:
    """Signs of a broken evaluation or of gradient masking, each compared on the samples that
    both attacks evaluated: an attack above clean accuracy; a stronger attack above a weaker one
    (more PGD/CW steps, PGD against FGSM, AutoAttack against any other); PGD far above
    AutoAttack."""

    def acc(a: str, b: str) -> tuple[float, float]:
        both = (flags[a] >= 0) & (flags[b] >= 0)
        if not both.any():
            return float("nan"), float("nan")
        return float((flags[a][both] == 1).mean()), float((flags[b][both] == 1).mean())

    def steps(name: str) -> int:
        m = _NAME.match(name)
        return int(m.group(3)) if m and m.group(3) else 0

    names = [n for n in flags if n != WORST_CASE]
    stronger_than = []  # (weaker, stronger) pairs whose order is expected
    for a in names:
        for b in names:
            if a == b:
                continue
            same_kind = a[:2] == b[:2] and a[:2] in ("pg", "cw") and steps(b) > steps(a)
            if (
                a == "clean"
                or same_kind
                or (a == "fgsm" and b.startswith("pgd"))
                or (b == "autoattack" and a != "clean")
            ):
                stronger_than.append((a, b))
    found = []
    for weak, strong in stronger_than:
        a_weak, a_strong = acc(weak, strong)
        if a_strong > a_weak + tolerance:
            found.append(
                {
                    "check": "above_clean" if weak == "clean" else "stronger_attack_higher",
                    "detail": f"{strong} accuracy {a_strong:.4f} exceeds {weak} accuracy {a_weak:.4f}",
                }
            )
    if "autoattack" in names:
        for name in names:
            if name.startswith("pgd"):
                a_pgd, a_aa = acc(name, "autoattack")
                if a_pgd - a_aa > masking_gap:
                    found.append(
                        {
                            "check": "pgd_autoattack_gap",
                            "detail": f"{name} accuracy {a_pgd:.4f} exceeds AutoAttack {a_aa:.4f} by "
                            f"more than {masking_gap} (a sign of gradient masking)",
                        }
                    )
    return found


def evaluate_checkpoint(
    run: RunConfig,
    data: SplitData,
    checkpoint: str | Path,
    *,
    progress: bool = True,
    resume_dir: str | Path | None = None,
) -> tuple[dict[str, np.ndarray], dict]:
    """Attack a checkpoint on the test split with the run's suite.

    Returns (flags per attack, the JSON-ready result: run identity, checkpoint epoch, class
    names, one report per attack and the sanity checks). With ``resume_dir``, finished batches
    are kept there until the evaluation completes.
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
    cfg = run.evaluation
    store = EvalStore(
        None if resume_dir is None else Path(resume_dir) / _store_name(run, checkpoint)
    )
    flags, reports = evaluate_model(
        view,
        x,
        y,
        # the file's stem, last or best, is what evaluation.autoattack_runs selects
        attacks=cfg.attacks_for(seed=run.seed, eps=run.eps, checkpoint=Path(checkpoint).stem),
        eps=run.eps,
        clamp=data.clamp,
        class_names=data.class_names,
        batch_size=cfg.batch_size,
        seed=cfg.seed,
        to_float=to_float,
        autocast=lambda: autocast(device),
        progress=progress,
        restarts=cfg.restarts,
        autoattack_per_class=cfg.autoattack_per_class,
        store=store,
        worst_case_over=cfg.worst_case_attacks,
    )
    store.remove()
    result = {
        "dataset": run.dataset,
        "model": run.model,
        "run": run.name,
        "method": run.method,
        "eps": run.eps_label,
        "seed": run.seed,
        "checkpoint_epoch": int(state["epoch"]) + 1,
        "class_names": data.class_names,
        "n_test": len(y),
        "worst_case_over": [a for a in cfg.worst_case_attacks if a in flags],
        "attacks": reports,
        "sanity": sanity_checks(flags, tolerance=cfg.sanity_tolerance, masking_gap=cfg.masking_gap),
    }
    return flags, result


def weights_digest(checkpoint: str | Path) -> str:
    """A hash of a checkpoint's model weights: ``best`` often is the final epoch, i.e. ``last``
    bit for bit, and then need not be attacked twice."""
    digest = hashlib.sha256()
    for name, tensor in sorted(load_torch(checkpoint)["model"].items()):
        digest.update(name.encode())
        digest.update(
            tensor.detach().cpu().reshape(-1).contiguous().view(torch.uint8).numpy().tobytes()
        )
    return digest.hexdigest()


def _store_name(run: RunConfig, checkpoint: str | Path) -> str:
    digest = hashlib.sha256(Path(checkpoint).read_bytes())
    digest.update(run.to_json().encode())
    return f"eval-{digest.hexdigest()[:16]}.pt"
