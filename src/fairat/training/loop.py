"""The training loop: in-memory data, batched augmentation, validation each epoch, atomic resume.

Read top to bottom: build the model and method, restore the resume state if one exists for this
run's config hash, then for each epoch shuffle, augment, step, validate (clean and PGD on the
validation split), call the method's hook, log one line and save the resume state. At the end
write ``last.pt`` (model, optimiser, scheduler, epoch, RNG states, config), ``best.pt`` (the
saved weights of the epoch with the best worst-class validation robust accuracy, ties broken by
the average and then by the later epoch, docs/specification.md#conventions; see :func:`selection_score`),
``history.csv``, ``method_state.csv`` (per-epoch method state: class weights, radii, ...) and
``config.json`` (the run and its precision record, :func:`fairat.training.device.precision_record`),
each atomically, then delete the resume state.

Precision (docs/gpu.md): ``train.precision: bf16`` puts the training loss forward under bf16
autocast, the attacks inside it staying fp32; ``tf32`` runs each training step (attack included)
with TF32 convolutions, as PyTorch's defaults do. Validation and checkpoint selection stay IEEE
fp32 under either. Each batch synchronises host and device once, to read its loss (the NaN check
and the epoch's mean loss).

Randomness is drawn from generators seeded by (seed, epoch), so a resumed run repeats the
uninterrupted one bit for bit on the CPU.

It stays one module over 400 lines: :func:`train` is the loop read top to bottom, and the
helpers below it (the epoch step, validation, checkpoint selection, resume and branch states,
the outputs) are its steps; the one candidate seam, the resume and branch-state helpers, uses
the loop's lr schedule (:func:`lr_factor`) and logger, so a module of them would import the loop
back.
"""

from __future__ import annotations

import copy
import csv
import io
import json
import math
import random
import sys
import time
from collections.abc import Callable
from pathlib import Path
from shutil import copyfile
from typing import Any

import numpy as np
import torch
from torch import nn

from fairat.config.runs import RunConfig, TrainConfig
from fairat.data import SplitData, augment_batch, to_float
from fairat.evaluation.suite import evaluate_model
from fairat.methods import METHODS, EpochStats, Method, TrainContext
from fairat.runtime.checkpoint import (
    atomic_write,
    load_torch,
    move_aside,
    rng_state,
    save_text,
    save_torch,
    set_rng_state,
)
from fairat.runtime.errors import DamagedFileError
from fairat.runtime.progress import progress_bar
from fairat.training.device import (
    configure_backends,
    maybe_compile,
    precision_record,
    prepare_batch,
    prepare_model,
    resolve_device,
    training_autocast,
    training_tf32,
)
from fairat.training.network import build_model

VALIDATION_BATCH = 512  # not evaluation.batch_size: evaluation settings never change training


def epoch_seed(seed: int, epoch: int) -> int:
    return (seed + 1) * 1_000_003 + epoch


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def make_optimizer(model: nn.Module, cfg: TrainConfig) -> torch.optim.Optimizer:
    if cfg.optimizer == "sgd":
        return torch.optim.SGD(
            model.parameters(),
            lr=cfg.lr,
            momentum=cfg.momentum,
            nesterov=cfg.nesterov,
            weight_decay=cfg.weight_decay,
        )
    return torch.optim.Adam(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)


def lr_factor(cfg: TrainConfig) -> Callable[[int], float]:
    """Multiplier of the base lr for 0-based epoch e.

    ``piecewise``: a milestone m is the 1-based number of the first epoch that runs at the
    lowered lr, so the factor is ``gamma`` once for each m with e + 1 >= m. This is how the
    reference scripts count: they loop ``for epoch in range(1, epochs + 1)`` and lower the lr
    ``if epoch >= m`` (yaodongyu/TRADES ``train_trades_cifar10.py`` lines 137-147 and 155:
    milestones [75] give 0.01 in epochs 75 and 76; rucy74/DAFA and Fairness-a11y/TRIX
    ``train.py``, ``adjust_learning_rate``, schedule ``bag_of_tricks``: ``epoch >= epochs - 10``
    and ``epoch >= epochs - 5``, i.e. milestones [100, 105] of 110 and [140, 145] of 150).
    ``cosine``: 0.5 (1 + cos(pi e / epochs)); ``constant``: 1.
    """
    if cfg.schedule == "piecewise":
        return lambda e: cfg.gamma ** sum(e + 1 >= m for m in cfg.milestones)
    if cfg.schedule == "cosine":
        return lambda e: 0.5 * (1 + math.cos(math.pi * e / cfg.epochs))
    return lambda e: 1.0


def make_scheduler(
    optimizer: torch.optim.Optimizer, cfg: TrainConfig
) -> torch.optim.lr_scheduler.LRScheduler:
    """The per-epoch schedule of :func:`lr_factor`, stepped once after each epoch."""
    return torch.optim.lr_scheduler.LambdaLR(optimizer, lr_factor(cfg))


def train(
    run: RunConfig,
    data: SplitData,
    out_dir: str | Path,
    resume_dir: str | Path,
    *,
    init_checkpoint: str | Path | None = None,
    start_from: str | Path | None = None,
    branch_at: tuple[int, ...] | list[int] = (),
    branch_dir: str | Path | None = None,
    progress: bool = True,
    after_epoch: Callable[[int], None] | None = None,
) -> list[dict[str, float]]:
    """Train one run and write its outputs to ``out_dir``; returns the per-epoch history, one
    dict per epoch (the rows of history.csv).

    Shared prefixes (:mod:`fairat.training.prefixes`): after each epoch k of ``branch_at`` the run's
    complete state (weights, optimiser, scheduler, RNG, history, best-so-far, method state and
    its log) is kept beside the resume state, and at the end it is written atomically to
    ``branch_dir/branch_e<k>.pt`` (``branch_dir`` is created, empty if nothing branches).
    ``start_from`` is such a state of a run whose first epochs are this run's: training
    continues after its epoch (:func:`_adopt_branch`); a resume state of this run past that
    epoch is used instead.

    ``after_epoch(epoch)`` is called once the epoch's resume state is saved (tests use it to
    simulate a crash).
    """
    out_dir, resume_dir = Path(out_dir), Path(resume_dir)
    configure_backends()
    device = resolve_device(run.device)
    cfg = run.train
    method_cls = METHODS.get(run.method)
    params = run.params()
    seed_everything(run.seed)
    raw_model = prepare_model(build_model(run, data), device, image=len(data.input_shape) == 3)
    if run.init_from is not None:
        _load_init(raw_model, run, init_checkpoint, device)
    model = maybe_compile(raw_model, device, run.compile)

    x_train = torch.from_numpy(data.x_train).to(device)
    y_train = torch.from_numpy(data.y_train).to(device)
    x_val = torch.from_numpy(data.x_val).to(device)
    y_val = torch.from_numpy(data.y_val).to(device)
    ctx = TrainContext(
        num_classes=data.num_classes,
        eps=run.eps,
        clamp=data.clamp,
        device=device,
        epochs=cfg.epochs,
        class_names=data.class_names,
        x_val=to_float(x_val),
        y_val=y_val,
    )
    method: Method = method_cls(params, ctx)
    optimizer = make_optimizer(raw_model, cfg)
    scheduler = make_scheduler(optimizer, cfg)
    augment = data.augment if cfg.augment is None else cfg.augment

    state_path = resume_dir / f"{run.key()}.pt"
    start, history, method_state, best = (
        0,
        [],
        [],
        {"score": [-1.0, -1.0], "epoch": -1, "model": None},
    )
    cuts = sorted(set(branch_at))
    if cuts and (branch_dir is None or not 0 < cuts[0] <= cuts[-1] < cfg.epochs):
        raise ValueError(f"branch_at {cuts} needs branch_dir and epochs in 1..{cfg.epochs - 1}")
    branch = None if start_from is None else load_torch(start_from, device)
    state = _load_resume_state(state_path, device)
    if state is not None and branch is not None and state["epoch"] < branch["epoch"]:
        state = None  # the branch state lies further on
    if state is None and branch is not None:
        start, best, history, method_state = _adopt_branch(
            branch, run, raw_model, optimizer, scheduler, method
        )
        _log(f"[{run.name}] epochs 1-{start} from {start_from} ({branch['method_name']})")
    if state is not None:
        raw_model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        method.load_state_dict(state["method"])
        set_rng_state(state["rng"])
        start, best = state["epoch"] + 1, state["best"]
        history, method_state = state["history"], state["method_state"]
        _log(f"[{run.name}] resuming from epoch {start} ({state_path})")

    for epoch in range(start, cfg.epochs):
        t0 = time.time()
        method.on_epoch_start(epoch)
        torch.manual_seed(epoch_seed(run.seed, epoch))
        g = torch.Generator(device=device).manual_seed(epoch_seed(run.seed, epoch))
        train_loss = train_epoch(
            model,
            method,
            optimizer,
            x_train,
            y_train,
            batch_size=cfg.batch_size,
            augment=augment,
            precision=cfg.precision,
            generator=g,
            progress=progress,
            desc=f"{run.name} epoch {epoch + 1}/{cfg.epochs}",
        )
        lr = optimizer.param_groups[0]["lr"]
        scheduler.step()

        stats = validate(method.validation_model(model), ctx, run)
        stats.train_loss = train_loss
        stats.epoch = epoch
        method.on_epoch_end(stats)
        row = _history_row(stats, lr, data.class_names)
        history.append(row)
        method_state.append({"epoch": epoch + 1, **method.log_state()})
        weights = method.checkpoint_weights(raw_model)
        selected = select_stats(method, weights, stats, raw_model, ctx, run)
        row["select_worst"], row["select_avg"] = selection_score(selected, method_cls.selects_on)
        score = [row["select_worst"], row["select_avg"]]
        if score >= best["score"]:  # a tie on both criteria goes to the later epoch
            best = {
                "score": score,
                "epoch": epoch,
                "model": {k: v.detach().clone() for k, v in weights.items()},
            }
        _log(
            f"[{run.name} eps={run.eps_label} seed={run.seed}] epoch {epoch + 1}/{cfg.epochs} "
            f"loss {row['train_loss']:.4f} lr {lr:.4g} val clean {row['val_clean_avg']:.3f} "
            f"(worst {row['val_clean_worst']:.3f}) robust {row['val_robust_avg']:.3f} "
            f"(worst {row['val_robust_worst']:.3f}) {time.time() - t0:.1f}s"
        )
        state = {
            "model": raw_model.state_dict(),
            "optimizer": optimizer.state_dict(),
            "scheduler": scheduler.state_dict(),
            "method": method.state_dict(),
            "epoch": epoch,
            "rng": rng_state(),
            "history": history,
            "method_state": method_state,
            "best": best,
            "config": run.training_json(),  # name-free: a branch state may serve another name
            "method_name": run.method,
        }
        save_torch(state, state_path)
        if epoch + 1 in cuts:  # kept with the resume state until the run's outputs are written
            save_torch(state, _kept_branch(state_path, epoch + 1))
        if after_epoch is not None:
            after_epoch(epoch)

    _write_outputs(out_dir, run, raw_model, optimizer, scheduler, method, best)
    save_text(csv_text(method_state), out_dir / "method_state.csv")
    save_text(csv_text(history), out_dir / "history.csv")
    if branch_dir is not None:
        _write_branches(run, state_path, cuts, Path(branch_dir))
    state_path.unlink(missing_ok=True)
    for k in cuts:  # after the resume state: a crash before this trains the run again
        _kept_branch(state_path, k).unlink(missing_ok=True)
    return history


def csv_text(rows: list[dict]) -> str:
    """``rows`` as CSV text, columns in first-seen order (the csv module, not pandas: a
    training job need not import pandas, and this keeps its start-up short)."""
    columns = list(dict.fromkeys(key for row in rows for key in row))
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    for row in rows:  # NaN as an empty field, as pandas writes it
        writer.writerow(
            {k: "" if isinstance(v, float) and math.isnan(v) else v for k, v in row.items()}
        )
    return out.getvalue()


def train_epoch(
    model: nn.Module,
    method: Method,
    optimizer: torch.optim.Optimizer,
    x_train: torch.Tensor,
    y_train: torch.Tensor,
    *,
    batch_size: int,
    augment: bool,
    precision: str,
    generator: torch.Generator,
    progress: bool,
    desc: str,
) -> float:
    """One pass over the shuffled training set; returns the mean training loss.

    The loss forward runs under :func:`fairat.training.device.training_autocast` (``precision``: bf16
    autocast), the whole step (the loss and the attack inside it, backward, optimiser step)
    under :func:`fairat.training.device.training_tf32` (``precision``: TF32 convolutions); each batch
    reads its loss from the device once, for the NaN check and the running mean.
    """
    device = x_train.device
    perm = torch.randperm(len(x_train), generator=generator, device=device)
    model.train()
    total, count = 0.0, 0
    bar = progress_bar(range(0, len(perm), batch_size), desc=desc, enabled=progress)
    for i in bar:
        idx = perm[i : i + batch_size]
        xb, yb = to_float(x_train[idx]), y_train[idx]
        if augment:
            xb = augment_batch(xb, generator=generator)
        xb = prepare_batch(xb)
        with training_tf32(precision):  # the loss, its attack, backward and step
            with training_autocast(device, precision):
                loss = method.loss(model, xb, yb)
            value = loss.item()  # the batch's one host-device synchronisation
            if not math.isfinite(value):
                raise FloatingPointError(f"[{method.name}] training loss became {value}")
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
        total += value * len(idx)
        count += len(idx)
        bar.set_postfix(loss=f"{total / count:.4f}", refresh=False)
    return total / max(count, 1)


def validate(model: nn.Module, ctx: TrainContext, run: RunConfig) -> EpochStats:
    """Per-class clean and PGD-k (``train.select_steps``) accuracy on the validation split, in
    fp32 whatever ``train.precision`` is (:func:`fairat.evaluation.suite.evaluate_model`)."""
    flags, reports = evaluate_model(
        model,
        ctx.x_val,
        ctx.y_val,
        attacks=("clean", f"pgd{run.train.select_steps}"),
        eps=run.eps,
        clamp=ctx.clamp,
        class_names=ctx.class_names,
        batch_size=VALIDATION_BATCH,  # fixed: batches seed the random starts
        seed=run.split_seed,
        to_float=lambda t: t,
        progress=False,
    )
    names = ctx.class_names
    clean, robust = (
        torch.tensor([reports[a]["per_class"][n]["accuracy"] or 0.0 for n in names])
        for a in ("clean", f"pgd{run.train.select_steps}")
    )
    return EpochStats(epoch=-1, val_clean=clean, val_robust=robust, train_loss=0.0, model=model)


def selection_score(stats: EpochStats, selects_on: str) -> tuple[float, float]:
    """(worst-class, average) validation accuracy that ``best.pt`` maximises, in that order of
    priority: under the selection attack (docs/specification.md#conventions), or clean for a method trained
    without an attack (``Method.selects_on == "clean"``), whose robust accuracy is 0 in every
    epoch and would leave the choice to ties."""
    acc = stats.val_clean if selects_on == "clean" else stats.val_robust
    return float(acc.min()), float(acc.mean())


def select_stats(
    method: Method,
    weights: dict[str, torch.Tensor],
    stats: EpochStats,
    model: nn.Module,
    ctx: TrainContext,
    run: RunConfig,
) -> EpochStats:
    """The validation statistics of the weights ``best.pt`` would save: ``stats`` when they are
    the validated model's own, else (CFA's FAWA average) a validation of those weights."""
    if not method.saves_other_weights():
        return stats
    scratch = copy.deepcopy(model)
    scratch.load_state_dict(weights)
    return validate(method.eval_view(scratch, ctx.num_classes), ctx, run)


def _history_row(stats: EpochStats, lr: float, names: list[str]) -> dict[str, Any]:
    row = {
        "epoch": stats.epoch + 1,
        "lr": lr,
        "train_loss": stats.train_loss,
        "val_clean_avg": float(stats.val_clean.mean()),
        "val_clean_worst": float(stats.val_clean.min()),
        "val_robust_avg": float(stats.val_robust.mean()),
        "val_robust_worst": float(stats.val_robust.min()),
    }
    row.update({f"val_robust_{n}": float(v) for n, v in zip(names, stats.val_robust, strict=True)})
    return row


def _write_outputs(out_dir, run, model, optimizer, scheduler, method, best) -> None:
    config = run.training_json()
    save_torch(
        {
            "model": method.checkpoint_weights(model),
            "optimizer": optimizer.state_dict(),
            "scheduler": scheduler.state_dict(),
            "method": method.state_dict(),
            "epoch": run.train.epochs - 1,
            "rng": rng_state(),
            "config": config,
        },
        out_dir / "last.pt",
    )
    save_torch(
        {
            "model": best["model"],
            "epoch": best["epoch"],
            "selects_on": METHODS.get(run.method).selects_on,
            "select_score": best["score"],
            "config": config,
        },
        out_dir / "best.pt",
    )
    record = {**json.loads(config), "precision": precision_record(run.train.precision)}
    save_text(json.dumps(record, sort_keys=True) + "\n", out_dir / "config.json")


def _adopt_branch(branch: dict, run: RunConfig, model, optimizer, scheduler, method: Method):
    """Load a branch state (:func:`train` with ``branch_at``) into this run's objects; return
    (first epoch to train, best-so-far, history rows, method_state rows).

    The writer's method state carries over when it ran the same method; otherwise this run's
    method keeps its fresh state and logs it for each shared epoch (``Method.prefix_epochs``
    promises that state is the one it would have). The lr of the next epoch is this run's own
    (its schedule may differ from the writer's from that epoch on), computed as the scheduler
    does (``base_lr * factor(epoch)``).
    """
    model.load_state_dict(branch["model"])
    optimizer.load_state_dict(branch["optimizer"])
    scheduler.load_state_dict(branch["scheduler"])
    set_rng_state(branch["rng"])
    start = branch["epoch"] + 1
    if branch["method_name"] == run.method:
        method.load_state_dict(branch["method"])
        method_state = branch["method_state"]
    else:
        method_state = [{"epoch": e + 1, **method.log_state()} for e in range(start)]
    factor = lr_factor(run.train)(start)
    for group, base in zip(optimizer.param_groups, scheduler.base_lrs, strict=True):
        group["lr"] = base * factor
    scheduler._last_lr = [group["lr"] for group in optimizer.param_groups]
    return start, branch["best"], branch["history"], method_state


def _kept_branch(state_path: Path, epoch: int) -> Path:
    return state_path.with_name(f"{state_path.stem}.branch_e{epoch}.pt")


def _write_branches(run: RunConfig, state_path: Path, cuts: list[int], branch_dir: Path) -> None:
    """Copy the kept branch states into ``branch_dir`` (atomically; the directory is made even
    when empty). A state this job never saw (it resumed past the epoch from a resume state
    saved without ``branch_at``) is missing: the child then trains from epoch 1."""
    branch_dir.mkdir(parents=True, exist_ok=True)
    for k in cuts:
        kept = _kept_branch(state_path, k)
        if not kept.exists():
            _log(f"warning: [{run.name}] no state after epoch {k} was kept; its child starts over")
            continue
        atomic_write(branch_dir / f"branch_e{k}.pt", lambda tmp, kept=kept: copyfile(kept, tmp))
        _log(f"[{run.name}] wrote its state after epoch {k} to {branch_dir}/branch_e{k}.pt")


def _load_resume_state(path: Path, device: torch.device) -> dict | None:
    """The resume state of this run, or None; a damaged one (a cache) is moved aside with a
    warning and the run starts over, instead of failing the same way on every retry."""
    if not path.exists():
        return None
    try:
        return load_torch(path, device)
    except DamagedFileError as err:
        aside = move_aside(path)
        _log(f"warning: {err}; moved it to {aside} and starting this run from epoch 1")
        return None


def _load_init(model: nn.Module, run: RunConfig, path: str | Path | None, device) -> None:
    if path is None:
        raise ValueError(
            f"run {run.name!r} fine-tunes the 'last' checkpoint of run {run.init_from!r}; "
            "pass init_checkpoint"
        )
    model.load_state_dict(load_torch(path, device)["model"])
    _log(f"[{run.name}] initialised from {path}")


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


__all__ = ["epoch_seed", "lr_factor", "make_scheduler", "train", "validate"]
