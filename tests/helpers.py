"""Builders shared by the test modules (plain functions; fixtures live in conftest.py)."""

from __future__ import annotations

import dataclasses
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from fairat.config.runs import RunConfig, TrainConfig
from fairat.data import SplitData, to_float
from fairat.methods import METHODS, EpochStats, Method, TrainContext
from fairat.training.network import build_model

REPO = Path(__file__).resolve().parents[1]


def snakemake_args(workdir: Path, *args: str) -> list[str]:
    """The command line of snakemake on this repository's Snakefile, working in ``workdir``,
    which must lie outside the repository: a test never reads or writes the checkout's
    results/, data/, logs/, .snakemake/ or .fairat-resume/ (they may hold a user's run)."""
    workdir = Path(workdir).resolve()
    if workdir == REPO or REPO in workdir.parents:
        raise ValueError(f"tests run snakemake outside the repository, not in {workdir}")
    snakefile = str(REPO / "Snakefile")
    return [
        sys.executable,
        "-m",
        "snakemake",
        "--snakefile",
        snakefile,
        "--directory",
        str(workdir),
        *args,
    ]


def project_files() -> list[str]:
    """The project's files as a fresh clone has them: tracked, and new ones git does not ignore
    (no venv, caches or build output), as paths relative to the repository."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return [name for name in listed.split("\0") if name]


def checkout(dest: Path) -> Path:
    """The project's files (:func:`project_files`) copied to ``dest`` as a fresh clone has
    them, symbolic links kept as links; returns ``dest``."""
    for name in project_files():
        src, dst = REPO / name, dest / name
        if not src.is_symlink() and not src.is_file():
            continue  # deleted in the working tree
        dst.parent.mkdir(parents=True, exist_ok=True)
        if src.is_symlink():
            os.symlink(os.readlink(src), dst)
        else:
            shutil.copy2(src, dst)
    return dest


def digits_context(digits: SplitData, eps: float, epochs: int) -> TrainContext:
    """The TrainContext the trainer builds for a digits run on the CPU."""
    return TrainContext(
        num_classes=digits.num_classes,
        eps=eps,
        clamp=digits.clamp,
        device=torch.device("cpu"),
        epochs=epochs,
        class_names=digits.class_names,
        x_val=to_float(torch.from_numpy(digits.x_val)),
        y_val=torch.from_numpy(digits.y_val),
    )


def run_snakemake(workdir: Path, *args: str, **kwargs) -> subprocess.CompletedProcess:
    """Run :func:`snakemake_args` and capture its output as text."""
    return subprocess.run(snakemake_args(workdir, *args), capture_output=True, text=True, **kwargs)


def tiny_run(method: str = "pgd_at", **train) -> RunConfig:
    """A digits / cnn_small (width 8) run of two epochs; PGD and TRADES take two attack steps."""
    settings = {"epochs": 2, "batch_size": 128, "lr": 0.05, "schedule": "constant", **train}
    return RunConfig(
        dataset="digits",
        model="cnn_small",
        method=method,
        eps=0.1,
        seed=0,
        model_args={"width": 8},
        method_params={"steps": 2} if method in ("pgd_at", "trades") else {},
        train=TrainConfig(**settings),
        val_fraction=0.1,
        device="cpu",
    )


def make_method(
    method: str, digits: SplitData, params: dict | None = None
) -> tuple[Method, torch.nn.Module]:
    """A method instance on the digits split and a freshly initialised model (seed 0).

    ``params`` replaces tiny_run's hyper-parameters when given.
    """
    run = tiny_run(method)
    if params is not None:
        run = dataclasses.replace(run, method_params=params)
    torch.manual_seed(0)
    model = build_model(run, digits)
    return METHODS.get(method)(run.params(), digits_context(digits, run.eps, 2)), model


def train_batch(digits: SplitData, n: int = 64) -> tuple[torch.Tensor, torch.Tensor]:
    """The first n training images (float) and labels."""
    return to_float(torch.from_numpy(digits.x_train[:n])), torch.from_numpy(digits.y_train[:n])


# A three-class toy problem on 1x8x8 inputs, for methods whose state is tested by hand.
TOY_CLASSES = ["a", "b", "c"]
TOY_EPS = 0.1


def toy_context(epochs: int = 5) -> TrainContext:
    return TrainContext(
        num_classes=len(TOY_CLASSES),
        eps=TOY_EPS,
        clamp=True,
        device=torch.device("cpu"),
        epochs=epochs,
        class_names=TOY_CLASSES,
        x_val=torch.zeros(3, 1, 8, 8),
        y_val=torch.arange(3),
    )


def toy_method(name: str, params: dict, epochs: int = 5) -> Method:
    cls = METHODS.get(name)
    return cls(cls.parse_params(params), toy_context(epochs))


def toy_model(seed: int = 0) -> torch.nn.Module:
    torch.manual_seed(seed)
    return torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, len(TOY_CLASSES)))


def toy_data(n: int = 48, seed: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    """Inputs whose brightness depends a little on the class, so a model can separate them."""
    g = torch.Generator().manual_seed(seed)
    y = torch.arange(n) % len(TOY_CLASSES)
    x = torch.rand(n, 1, 8, 8, generator=g) * 0.6 + 0.2 + 0.1 * y.view(-1, 1, 1, 1)
    return x, y


def toy_stats(epoch: int) -> EpochStats:
    k = len(TOY_CLASSES)
    return EpochStats(
        epoch=epoch, val_clean=torch.zeros(k), val_robust=torch.zeros(k), train_loss=0
    )


class Crash(RuntimeError):
    """A simulated crash between epochs."""


def crash_after(n: int):
    """An ``after_epoch`` hook that crashes once 0-based epoch ``n`` is saved."""

    def hook(epoch: int) -> None:
        if epoch == n:
            raise Crash(f"simulated crash after epoch {epoch + 1}")

    return hook


def assert_resumes_bit_identically(run: RunConfig, digits: SplitData, tmp: Path, crash: int):
    """Train ``run`` straight and with a crash after 0-based epoch ``crash`` plus a resume; the
    two ``last.pt`` weights and ``method_state.csv`` files must be identical. Returns both
    ``last.pt`` contents for further checks."""
    from fairat.runtime.checkpoint import load_torch
    from fairat.training.loop import train

    train(run, digits, tmp / "straight", tmp / "r1", progress=False)
    with pytest.raises(Crash):
        train(
            run, digits, tmp / "resumed", tmp / "r2", progress=False, after_epoch=crash_after(crash)
        )
    train(run, digits, tmp / "resumed", tmp / "r2", progress=False)
    a, b = load_torch(tmp / "straight" / "last.pt"), load_torch(tmp / "resumed" / "last.pt")
    for key, value in a["model"].items():
        assert torch.equal(value, b["model"][key]), key
    state = "method_state.csv"
    assert (tmp / "straight" / state).read_text() == (tmp / "resumed" / state).read_text()
    return a, b


def squeeze(markdown: str) -> str:
    """Markdown with each pipe-table row's padding removed (``| a | b |``), so that a test can
    look for a row whatever the column widths tabulate chose."""

    def row(line: str) -> str:
        if not line.startswith("|"):
            return line
        return "| " + " | ".join(c.strip() for c in line.strip().strip("|").split("|")) + " |"

    return "\n".join(row(line) for line in markdown.split("\n"))
