"""Evaluation of a run's checkpoint on the test split with the configured suite.

:func:`evaluate_checkpoint` loads a checkpoint, attacks its K-class view (``Method.eval_view``)
with the attacks :class:`fairat.config.runs.EvalConfig` selects for it (:mod:`fairat.evaluation.suite` computes
the flags), and returns the flags and a JSON-ready result: run identity, the checkpoint's epoch,
one class-wise report per attack and the sanity checks. The derived ``worst_case`` row counts a
sample as correct only if it is correct under every attack of
``EvalConfig.worst_case_attacks``: the attacks that run on every sample of every checkpoint
(per-point worst case). An attack run on a subset (``autoattack_per_class``) or on selected
checkpoints only (``autoattack_runs``) stays out of it and is reported as its own row, so a
``worst_case`` averaged over seeds or compared between runs always combines one suite on one set
of samples.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch

from fairat.attacks.autoattack import autoattack_warnings
from fairat.config.attack_names import WORST_CASE, attack_steps
from fairat.config.eps import attack_base, own_radius
from fairat.data import SplitData, to_float
from fairat.evaluation.suite import EvalStore, SuiteOutputs, run_suite
from fairat.methods import METHODS
from fairat.runtime.checkpoint import load_torch, save_json, save_npz
from fairat.training.device import (
    configure_backends,
    precision_record,
    prepare_model,
    resolve_device,
)
from fairat.training.network import build_model

if TYPE_CHECKING:
    from fairat.config.runs import EvalConfig, RunConfig


def sanity_checks(
    flags: dict[str, np.ndarray], *, tolerance: float, masking_gap: float
) -> list[dict]:
    """Signs of a broken evaluation or of gradient masking, each compared on the samples that
    both attacks evaluated: an attack above clean accuracy; a stronger attack above a weaker one
    (more PGD/CW steps, PGD against FGSM, AutoAttack against any other); PGD far above
    AutoAttack. Apart from clean, only attacks at the same radius are compared (an attack at
    its own, smaller radius, ``pgd40@2/255``, is expected above the run's ``pgd20``)."""

    def acc(a: str, b: str) -> tuple[float, float]:
        both = (flags[a] >= 0) & (flags[b] >= 0)
        if not both.any():
            return float("nan"), float("nan")
        return float((flags[a][both] == 1).mean()), float((flags[b][both] == 1).mean())

    names = [n for n in flags if n != WORST_CASE]
    stronger_than = []  # (weaker, stronger) pairs whose order is expected
    for a in names:
        for b in names:
            if a == b or (a != "clean" and own_radius(a) != own_radius(b)):
                continue
            same_kind = (
                a[:2] == b[:2] and a[:2] in ("pg", "cw") and attack_steps(b) > attack_steps(a)
            )
            if (
                a == "clean"
                or same_kind
                or (attack_base(a) == "fgsm" and b.startswith("pgd"))
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
            if name.startswith("pgd") and own_radius(name) is None:
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
    """(flags per attack, result) of :func:`evaluate_outputs` (same arguments)."""
    outputs, result = evaluate_outputs(
        run, data, checkpoint, progress=progress, resume_dir=resume_dir
    )
    return outputs.flags, result


def npz_arrays(outputs: SuiteOutputs) -> dict[str, np.ndarray]:
    """The arrays of an evaluation's ``.npz`` beside ``labels``: per attack its int8 flags
    (``<attack>``) and its predicted labels (``pred_<attack>``, int16, -1 not evaluated)."""
    arrays = dict(outputs.flags)
    arrays.update({f"pred_{a}": p.astype(np.int16) for a, p in outputs.preds.items()})
    return arrays


def run_ident(run: RunConfig, state: dict) -> dict:
    """What an evaluation result of a trained run starts with: dataset, model, run, method, eps
    label, seed and the 1-based epoch of the checkpoint ``state`` (as :func:`load_view` gives
    it); zoo and external models have ``fairat.config.external.ExternalModel.ident``."""
    return {
        "dataset": run.dataset,
        "model": run.model,
        "run": run.name,
        "method": run.method,
        "eps": run.eps_label,
        "seed": run.seed,
        "checkpoint_epoch": int(state["epoch"]) + 1,
    }


def evaluate_outputs(
    run: RunConfig,
    data: SplitData,
    checkpoint: str | Path,
    *,
    progress: bool = True,
    resume_dir: str | Path | None = None,
) -> tuple[SuiteOutputs, dict]:
    """Attack a checkpoint on the test split with the run's suite.

    Returns (flags, predicted labels and reports per attack (:class:`fairat.evaluation.suite.SuiteOutputs`),
    the JSON-ready result: run identity, checkpoint epoch, class names, the precision record
    (:func:`fairat.training.device.precision_record`: the attacks run in fp32 whatever the checkpoint
    was trained in), one report per attack with its confusion counts and class-similarity
    matrix, and the sanity checks). With ``resume_dir``, finished batches are kept there until
    the evaluation completes.
    """
    configure_backends()
    device = resolve_device(run.device)
    view, state = load_view(run, data, checkpoint, device)
    store = EvalStore(
        None if resume_dir is None else Path(resume_dir) / _store_name(run, checkpoint)
    )
    outputs, result = evaluate_view(
        view,
        data,
        run.evaluation,
        ident=run_ident(run, state),
        eps=run.eps,
        # the file's stem, last or best, is what evaluation.autoattack_runs selects
        checkpoint=Path(checkpoint).stem,
        precision=precision_record(run.train.precision),
        device=device,
        store=store,
        progress=progress,
    )
    store.remove()
    return outputs, result


def evaluate_checkpoints(
    run: RunConfig,
    data: SplitData,
    checkpoints: list[str | Path],
    metrics: list[str | Path],
    flags: list[str | Path],
    *,
    resume_dir: str | Path | None = None,
) -> None:
    """Evaluate each checkpoint of a run and write its result (JSON, ``metrics``) and its
    flags and predicted labels (``.npz``, ``flags``; :func:`npz_arrays`), printing its sanity
    warnings and scores. Checkpoints with the same weights under the same attacks (``best.pt``
    is often ``last.pt`` bit for bit) are attacked once. The evaluate rule's script and
    ``python -m fairat.run`` call it."""
    # (weights, attacks) -> arrays, result and the checkpoint that gave them
    done = {}
    for checkpoint, metrics_path, flags_path in zip(checkpoints, metrics, flags, strict=True):
        label = Path(checkpoint).stem
        attacks = run.evaluation.attacks_for(seed=run.seed, eps=run.eps, checkpoint=label)
        key = (weights_digest(checkpoint), attacks)
        if key in done:
            arrays, result, first = done[key]
            print(f"{label}: the same weights as {first}; its flags are reused")
        else:
            outputs, result = evaluate_outputs(run, data, checkpoint, resume_dir=resume_dir)
            arrays = npz_arrays(outputs)
            done[key] = arrays, result, label
        result = {**result, "checkpoint": label}
        save_npz(flags_path, labels=data.y_test, **arrays)
        save_json(result, metrics_path)
        for warning in result["sanity"]:
            print(f"sanity warning ({warning['check']}): {warning['detail']}")
        scores = ", ".join(
            f"{a} {r['average']:.3f}/{r['worst']:.3f}" for a, r in result["attacks"].items()
        )
        print(f"{result['checkpoint']}: average/worst-class accuracy {scores}")


def load_view(
    run: RunConfig, data: SplitData, checkpoint: str | Path, device: torch.device
) -> tuple[torch.nn.Module, dict]:
    """(the K-class model evaluation attacks, the checkpoint) of a run's checkpoint."""
    state = load_torch(checkpoint, device)
    model = build_model(run, data)
    model.load_state_dict(state["model"])
    model = prepare_model(model, device, image=len(data.input_shape) == 3)
    return METHODS.get(run.method).eval_view(model, data.num_classes), state


def evaluate_view(
    view: torch.nn.Module,
    data: SplitData,
    cfg: EvalConfig,
    *,
    ident: dict,
    eps: float,
    checkpoint: str,
    precision: dict,
    device: torch.device,
    store: EvalStore | None = None,
    progress: bool = True,
) -> tuple[SuiteOutputs, dict]:
    """The suite ``cfg`` selects for (``ident["seed"]``, eps, checkpoint) on the test split of
    ``data``, against a K-class model on ``device`` that takes inputs in [0, 1]; the result
    holds ``ident`` (dataset, model, run, method, eps label, seed, checkpoint epoch) first. Trained
    runs, RobustBench zoo models and external checkpoints (:mod:`fairat.evaluation.zoo`) all go through it.
    """
    x = torch.from_numpy(data.x_test).to(device)
    y = torch.from_numpy(data.y_test).to(device)
    with autoattack_warnings() as aa_warnings:
        outputs = run_suite(
            view,
            x,
            y,
            attacks=cfg.attacks_for(seed=ident["seed"], eps=eps, checkpoint=checkpoint),
            eps=eps,
            clamp=data.clamp,
            class_names=data.class_names,
            batch_size=cfg.batch_size,
            seed=cfg.seed,
            to_float=to_float,
            progress=progress,
            restarts=cfg.restarts,
            autoattack_per_class=cfg.autoattack_per_class,
            store=store,
            worst_case_over=cfg.worst_case_attacks,
        )
    flags = outputs.flags
    result = {
        **ident,
        "class_names": data.class_names,
        "n_test": len(y),
        "worst_case_over": [a for a in cfg.worst_case_attacks if a in flags],
        "precision": precision,
        "attacks": outputs.reports,
        "sanity": sanity_checks(flags, tolerance=cfg.sanity_tolerance, masking_gap=cfg.masking_gap)
        + [{"check": "autoattack_warning", "detail": m} for m in aa_warnings],
    }
    return outputs, result


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
