"""Precision of the GPU path, on the CPU: the CPU's bf16 autocast stands in for CUDA's.

A spy around the model records, for every forward, whether the model was in train mode and
whether autocast was on. Attacks, validation and evaluation put the model in eval mode; the
training loss forward is the only one in train mode. With ``train.precision: bf16`` the
train-mode forwards must run under autocast and every eval-mode forward (attack generation
inside training, validation, checkpoint selection, the evaluation suite) without it; with fp32
none runs under autocast. Also: the precision record in config.json, the evaluation JSON and
the tables, and one host-device synchronisation per training batch.
"""

from __future__ import annotations

import dataclasses
import json

import pandas as pd
import pytest
import torch
from helpers import make_method, squeeze, train_batch
from torch import nn

import fairat.evaluation.evaluate
import fairat.training.loop
from fairat.evaluation.evaluate import evaluate_checkpoint
from fairat.evaluation.suite import evaluate_model
from fairat.methods import METHODS, EpochStats
from fairat.reporting.classwise import CLASSWISE_COLUMNS, classwise_rows, precision_label
from fairat.reporting.summary import summary_table
from fairat.reporting.summary_text import summary_markdown
from fairat.training.device import (
    configure_backends,
    precision_record,
    training_autocast,
    training_tf32,
)
from fairat.training.loop import train, train_epoch

CPU = torch.device("cpu")


class Spy(nn.Module):
    """The wrapped model, recording (train mode, autocast on) for each forward."""

    def __init__(self, inner: nn.Module) -> None:
        super().__init__()
        self.inner = inner
        self.calls: list[tuple[bool, bool]] = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.calls.append((self.training, torch.is_autocast_enabled("cpu")))
        return self.inner(x)


def modes(calls: list[tuple[bool, bool]]) -> dict[str, set[bool]]:
    """Whether autocast was on, for the train-mode and the eval-mode forwards."""
    return {
        "train": {amp for training, amp in calls if training},
        "eval": {amp for training, amp in calls if not training},
    }


def spied(monkeypatch, module) -> list[Spy]:
    """Wrap every model ``module`` builds in a :class:`Spy`; returns the spies made."""
    spies, build = [], module.build_model

    def build_spy(*args, **kwargs):
        spies.append(Spy(build(*args, **kwargs)))
        return spies[-1]

    monkeypatch.setattr(module, "build_model", build_spy)
    return spies


@pytest.mark.parametrize("method", sorted(METHODS.names()))
def test_bf16_training_leaves_every_attack_of_every_method_in_fp32(method, digits):
    """One bf16 training step and the epoch-end hook of each method: the attack generation
    (and the validation statistics DAFA, FRL and WAT gather) runs without autocast."""
    m, model = make_method(method, digits)
    spy = Spy(model)
    x, y = train_batch(digits)
    spy.train()
    with training_autocast(CPU, "bf16"):
        loss = m.loss(spy, x, y)
    loss.backward()
    k = digits.num_classes
    stats = EpochStats(0, torch.ones(k), torch.ones(k), float(loss.detach()), model=spy.eval())
    m.on_epoch_end(stats)
    seen = modes(spy.calls)
    assert seen["train"] == {True}, "the training loss forward must run under bf16 autocast"
    if METHODS.get(method).selects_on == "robust":  # a method trained with an attack
        assert seen["eval"] == {False}, "an attack or validation forward ran under autocast"


@pytest.mark.parametrize("precision", ["fp32", "bf16", "tf32"])
def test_validation_and_selection_forwards_never_run_under_autocast(
    precision, digits, tiny_run, tmp_path, monkeypatch
):
    spies = spied(monkeypatch, fairat.training.loop)
    run = tiny_run("trades", epochs=1, precision=precision)
    train(run, digits, tmp_path / "out", tmp_path / "resume", progress=False)
    seen = modes(spies[0].calls)
    assert seen == {"train": {precision == "bf16"}, "eval": {False}}
    record = json.loads((tmp_path / "out" / "config.json").read_text())["precision"]
    assert record == precision_record(precision)
    assert (record["train"], record["train_attacks"], record["evaluation"]) == (
        precision,
        "tf32" if precision == "tf32" else "fp32",
        "fp32",
    )


class FlagSpy(nn.Module):
    """The wrapped model, recording for each forward (and each backward through a train-mode
    forward) the phase ``phase[0]`` the test is in, the model's mode and the cuDNN convolution
    and cuBLAS matmul fp32 precisions in effect."""

    def __init__(self, inner: nn.Module, phase: list[str]) -> None:
        super().__init__()
        self.inner, self.phase = inner, phase
        self.calls: list[tuple[str, str, str, str]] = []

    def flags(self, what: str) -> tuple[str, str, str, str]:
        return (
            self.phase[0],
            what,
            torch.backends.cudnn.conv.fp32_precision,
            torch.backends.cuda.matmul.fp32_precision,
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        what = "train forward" if self.training else "eval forward"
        self.calls.append(self.flags(what))
        out = self.inner(x)
        if self.training:
            out.register_hook(lambda g: self.calls.append(self.flags("backward")))
        return out


@pytest.mark.parametrize("method", ["pgd_at", "trades", "dafa"])
def test_tf32_trains_as_pytorch_defaults_and_validates_in_ieee_fp32(
    method, digits, tiny_run, tmp_path, monkeypatch
):
    """``train.precision: tf32``: every forward and backward of the training step, the attack's
    (eval-mode) forwards included, runs with TF32 convolutions and IEEE matmuls (PyTorch's
    defaults); validation and checkpoint selection run with both in IEEE fp32, and the flags
    are IEEE again when training returns. The flags are CUDA settings: the CPU records them."""
    phase = ["setup"]
    spies, build = [], fairat.training.loop.build_model

    def build_spy(*args, **kwargs):
        spies.append(FlagSpy(build(*args, **kwargs), phase))
        return spies[-1]

    def in_phase(name, function):
        def wrapped(*args, **kwargs):
            outer, phase[0] = phase[0], name
            try:
                return function(*args, **kwargs)
            finally:
                phase[0] = outer

        return wrapped

    monkeypatch.setattr(fairat.training.loop, "build_model", build_spy)
    monkeypatch.setattr(
        fairat.training.loop, "train_epoch", in_phase("train", fairat.training.loop.train_epoch)
    )
    monkeypatch.setattr(
        fairat.training.loop, "validate", in_phase("validate", fairat.training.loop.validate)
    )
    run = tiny_run(method, epochs=1, precision="tf32")
    train(run, digits, tmp_path / "out", tmp_path / "resume", progress=False)
    seen: dict[tuple[str, str], set[tuple[str, str]]] = {}
    for where, what, conv, matmul in spies[0].calls:
        seen.setdefault((where, what), set()).add((conv, matmul))
    assert seen[("train", "train forward")] == {("tf32", "ieee")}
    assert seen[("train", "backward")] == {("tf32", "ieee")}
    assert seen[("train", "eval forward")] == {("tf32", "ieee")}  # the training attack
    assert seen[("validate", "eval forward")] == {("ieee", "ieee")}
    assert set(seen) <= {
        ("train", "train forward"),
        ("train", "backward"),
        ("train", "eval forward"),
        ("validate", "eval forward"),
    }
    assert torch.backends.cudnn.conv.fp32_precision == "ieee"
    record = json.loads((tmp_path / "out" / "config.json").read_text())["precision"]
    assert (record["train"], record["train_attacks"], record["evaluation"]) == (
        "tf32",
        "tf32",
        "fp32",
    )
    assert record["tf32_cudnn"] is False  # the flags in effect when it was written
    assert precision_label(record) == "tf32-train+tf32-train-attacks"


def test_the_suite_runs_in_ieee_fp32_inside_a_tf32_training_step(trained, digits):
    configure_backends()
    phase = ["suite"]
    spy = FlagSpy(trained, phase)
    x, y = torch.from_numpy(digits.x_test[:32]), torch.from_numpy(digits.y_test[:32])
    with training_tf32("tf32"):
        torch.backends.cuda.matmul.fp32_precision = "tf32"  # a caller's TF32 matmuls too
        evaluate_model(
            spy,
            x,
            y,
            attacks=("clean", "pgd2"),
            eps=0.1,
            clamp=True,
            class_names=digits.class_names,
            batch_size=32,
            seed=0,
            to_float=fairat.evaluation.evaluate.to_float,
            progress=False,
        )
        after = (
            torch.backends.cudnn.conv.fp32_precision,
            torch.backends.cuda.matmul.fp32_precision,
        )
    configure_backends()
    assert spy.calls and {c[2:] for c in spy.calls} == {("ieee", "ieee")}
    assert after == ("tf32", "tf32")  # the caller's flags are restored after the suite


def test_the_evaluation_suite_runs_in_fp32_inside_an_autocast_region(trained, digits):
    spy = Spy(trained)
    x, y = torch.from_numpy(digits.x_test[:64]), torch.from_numpy(digits.y_test[:64])
    with torch.autocast("cpu", dtype=torch.bfloat16):
        evaluate_model(
            spy,
            x,
            y,
            attacks=("clean", "fgsm", "pgd5", "cw5"),
            eps=0.1,
            clamp=True,
            class_names=digits.class_names,
            batch_size=32,
            seed=0,
            to_float=fairat.evaluation.evaluate.to_float,
            progress=False,
        )
    assert spy.calls and modes(spy.calls)["eval"] == {False}


def test_a_bf16_checkpoint_is_evaluated_in_fp32_and_says_so(
    digits, tiny_run, tmp_path, monkeypatch
):
    run = tiny_run("pgd_at", epochs=1, precision="bf16")
    spied(monkeypatch, fairat.training.loop)
    spies = spied(monkeypatch, fairat.evaluation.evaluate)
    train(run, digits, tmp_path, tmp_path / "resume", progress=False)
    with torch.autocast("cpu", dtype=torch.bfloat16):  # a caller's autocast does not leak in
        _, result = evaluate_checkpoint(run, digits, tmp_path / "last.pt", progress=False)
    assert modes(spies[0].calls) == {"train": set(), "eval": {False}}
    assert result["precision"] == precision_record("bf16")
    rows = classwise_rows({**result, "checkpoint": "last"})
    assert {r["precision"] for r in rows} == {"bf16-train"}


def test_backend_flags_are_set_and_recorded():
    configure_backends()
    record = precision_record("fp32")
    assert record == {
        "train": "fp32",
        "train_attacks": "fp32",
        "evaluation": "fp32",
        "tf32_matmul": False,
        "tf32_cudnn": False,
        "cudnn_benchmark": False,
        "cudnn_deterministic": True,
        "deterministic_algorithms": True,
    }
    assert precision_label(record) == "fp32"
    assert precision_label({**record, "train": "bf16", "tf32_cudnn": True}) == "bf16-train+tf32"
    assert precision_label(None) == "unrecorded"


def summary_rows(precisions: dict[str, str]) -> pd.DataFrame:
    """Two runs, one seed, two classes under clean; each run's precision label."""
    rows = [
        ["d", "m", run, "trades", "8/255", 0, "last", "clean", c, 0.5, 10, label]
        for run, label in precisions.items()
        for c in ("a", "b")
    ]
    return pd.DataFrame(rows, columns=CLASSWISE_COLUMNS)


def test_summary_carries_the_precision_and_shows_it_where_runs_differ():
    same = summary_table(summary_rows({"trades": "fp32", "other": "fp32"}))
    assert set(same["precision"]) == {"fp32"}
    text = squeeze(summary_markdown(same))
    assert "Precision of every number (docs/gpu.md): `fp32`." in text
    assert "| precision |" not in text
    mixed = squeeze(
        summary_markdown(summary_table(summary_rows({"trades": "fp32", "b": "bf16-train"})))
    )
    assert "| precision |" in mixed and "| bf16-train |" in mixed
    legacy = summary_table(summary_rows({"trades": "fp32"}).drop(columns="precision"))
    assert set(legacy["precision"]) == {"unrecorded"}


SYNCS = ("item", "cpu", "tolist", "numpy", "__bool__", "__float__", "__int__")


@pytest.mark.parametrize("method", ["pgd_at", "trades"])
def test_one_host_device_synchronisation_per_training_batch(method, digits, monkeypatch):
    """On a GPU each of these calls waits for the device; a training batch makes one."""
    m, model = make_method(method, digits)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
    x, y = torch.from_numpy(digits.x_train[:256]), torch.from_numpy(digits.y_train[:256])
    count = []
    for name in SYNCS:
        original = getattr(torch.Tensor, name)

        def spy(self, *args, _original=original, **kwargs):
            count.append(1)
            return _original(self, *args, **kwargs)

        monkeypatch.setattr(torch.Tensor, name, spy)
    train_epoch(
        model,
        m,
        optimizer,
        x,
        y,
        batch_size=64,
        augment=True,
        precision="fp32",
        generator=torch.Generator().manual_seed(0),
        progress=False,
        desc="",
    )
    monkeypatch.undo()
    assert len(count) == 4  # 256 samples in batches of 64


def test_a_changed_precision_is_another_run(tiny_run):
    run = tiny_run("trades")
    bf16 = dataclasses.replace(run, train=dataclasses.replace(run.train, precision="bf16"))
    assert run.key() != bf16.key()
