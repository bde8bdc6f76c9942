"""GPU check: time fairat's GPU path against its floor, and check its precision and resume.

    PYTHONPATH=src python3 benchmarks/gpu_check.py               # on a GPU (ResNet-18, batch 128)
    PYTHONPATH=src python3 benchmarks/gpu_check.py --cpu --tiny  # seconds on a CPU (tests run it)

Needs torch, torchvision, numpy, pandas and tqdm only (no snakemake, no project venv, no
network); without pyautoattack the AutoAttack rows say so and are skipped. Prints one Markdown
table, a row per measurement (docs/gpu.md explains each):

- ``fwd+bwd``: images/s of a training forward and backward at each ``train.precision`` (fp32,
  bf16, and tf32: TF32 convolutions as PyTorch's defaults), channels_last on and off,
  ``torch.compile`` on and off;
- ``PGD-10 AT step`` and ``TRADES step`` (10 KL steps): time of one step of the project's own
  trainer (``fairat.training.loop.train_epoch`` on one batch: augmentation, attack, loss, backward,
  SGD step), and its ratio to the floor of k+1 (TRADES: k+2) forward+backward passes of the same
  model on the same batch, measured in the same run; the same step at tf32 and its time over
  fp32's (``step tf32 / fp32``), the price of ``train.precision: tf32``;
- ``eval PGD-20`` and ``eval AutoAttack``: images/s of the evaluation suite
  (``fairat.evaluation.suite.evaluate_model``) on a briefly PGD-trained checkpoint;
- ``AutoAttack accuracy``: that checkpoint's robust accuracy with AutoAttack in fp32 (what the
  suite runs) and on the model's bf16-autocast logits (what it no longer runs), and the
  difference;
- ``kill and resume``: a short TRADES run (``fairat.training.loop.train`` in a child process) killed
  with SIGKILL after its first epoch and resumed, against an uninterrupted one;
- ``training processes``: aggregate PGD-10 AT images/s of 1, 2 and 4 processes training at once
  on the one device: what the workflow config's ``resources.jobs_per_gpu`` should be set from.

Data are synthetic and CIFAR-shaped (3x32x32 uint8, 10 classes: a colour and a pattern per class
plus noise), so that the script needs no dataset; accuracies are those of that task, not of
CIFAR-10. ``--tiny`` uses a small CNN, fewer images and eps 32/255 (at which AutoAttack ends
quickly) and keeps every row (compile is skipped on the CPU, saying why; tf32 rows run, with a
note that TF32 does nothing there); its timings are a smoke test, not a measurement.
"""

from __future__ import annotations

import argparse
import importlib.util
import multiprocessing
import os
import signal
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn

from fairat.config.runs import PRECISIONS, RunConfig, TrainConfig
from fairat.data import SplitData, to_float
from fairat.evaluation.suite import evaluate_model
from fairat.methods import METHODS, TrainContext
from fairat.training.device import (
    configure_backends,
    prepare_batch,
    prepare_model,
    training_autocast,
    training_tf32,
)
from fairat.training.loop import train, train_epoch
from fairat.training.network import build_model

CLASSES = [str(c) for c in range(10)]
TARGETS = {"cuda": 1.05, "cpu": 1.0}  # step / floor (issue 12: speed targets)
COLUMNS = ["check", "setting", "value", "unit", "note"]


@dataclass(frozen=True)
class Size:
    """How big each measurement is: ``full`` for a GPU, ``tiny`` for seconds on a CPU."""

    model: str
    model_args: dict = field(default_factory=dict)
    eps: float = 8 / 255
    batch: int = 128
    warmup: int = 3
    repeats: int = 10
    train_images: int = 4096  # the briefly trained checkpoint
    train_epochs: int = 2
    val_images: int = 256
    eval_images: int = 512  # PGD-20 throughput
    autoattack_images: int = 256
    resume_images: int = 1024  # the kill-and-resume TRADES run (2 epochs)
    process_seconds: float = 20.0
    processes: tuple[int, ...] = (1, 2, 4)


SIZES = {
    "full": Size(model="resnet18"),
    "tiny": Size(
        model="cnn_small",
        model_args={"width": 8},
        eps=32 / 255,  # no robust point of the synthetic task survives: AutoAttack ends quickly
        batch=32,
        warmup=1,
        repeats=3,
        train_images=256,
        val_images=32,
        eval_images=32,
        autoattack_images=8,
        resume_images=64,
        process_seconds=0.5,
    ),
}


# --- data, models, timing ---------------------------------------------------------------------
def synthetic_split(n_train: int, n_val: int, n_test: int, seed: int = 0) -> SplitData:
    """CIFAR-shaped uint8 images: per class a colour and a random pattern, plus uniform noise,
    so that a model learns the task in an epoch or two (and a globally pooled CNN by colour)."""
    rng = np.random.default_rng(seed)
    colours = rng.uniform(0, 1, (len(CLASSES), 3, 1, 1))
    patterns = rng.uniform(0, 1, (len(CLASSES), 3, 32, 32))

    def draw(n: int) -> tuple[np.ndarray, np.ndarray]:
        y = rng.integers(0, len(CLASSES), n)
        x = 0.5 * colours[y] + 0.2 * patterns[y] + 0.3 * rng.uniform(0, 1, (n, 3, 32, 32))
        return (x * 255).round().astype(np.uint8), y.astype(np.int64)

    (xt, yt), (xv, yv), (xs, ys) = draw(n_train), draw(n_val), draw(n_test)
    return SplitData(
        xt, yt, xv, yv, xs, ys, CLASSES, "synthetic", (0.5,) * 3, (0.25,) * 3, True, True
    )


def make_run(size: Size, method: str, device: str, **train_settings) -> RunConfig:
    settings = {"batch_size": size.batch, "lr": 0.05, "schedule": "constant", **train_settings}
    return RunConfig(
        dataset="synthetic",
        model=size.model,
        method=method,
        eps=size.eps,
        seed=0,
        model_args=dict(size.model_args),
        train=TrainConfig(**settings),
        device=device,
    )


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def seconds_per_call(fn: Callable[[], object], device: torch.device, size: Size) -> float:
    """Least wall time of ``fn`` over ``size.repeats`` calls after ``size.warmup`` untimed ones,
    the device synchronised after each (the least is the least disturbed by other work)."""
    for _ in range(size.warmup):
        fn()
    sync(device)
    times = []
    for _ in range(size.repeats):
        start = time.perf_counter()
        fn()
        sync(device)
        times.append(time.perf_counter() - start)
    return min(times)


def batch_of(data: SplitData, size: Size, device: torch.device) -> tuple[torch.Tensor, ...]:
    """The first training batch on the device: uint8 images and labels."""
    x = torch.from_numpy(data.x_train[: size.batch]).to(device)
    return x, torch.from_numpy(data.y_train[: size.batch]).to(device)


def model_for(size: Size, device: torch.device, data: SplitData) -> nn.Module:
    """The size's model, seeded, placed as the trainer places it (channels_last)."""
    torch.manual_seed(0)
    return prepare_model(
        build_model(make_run(size, "pgd_at", device.type), data), device, image=True
    )


def method_for(name: str, size: Size, device: torch.device, data: SplitData):
    """Method ``name`` with its default hyper-parameters (k = 10 attack steps)."""
    return METHODS.get(name)(
        make_run(size, name, device.type).params(), context(size, data, device)
    )


def context(size: Size, data: SplitData, device: torch.device) -> TrainContext:
    return TrainContext(
        num_classes=len(CLASSES),
        eps=size.eps,
        clamp=True,
        device=device,
        epochs=1,
        class_names=CLASSES,
        x_val=to_float(torch.from_numpy(data.x_val).to(device)),
        y_val=torch.from_numpy(data.y_val).to(device),
    )


def training_pass(model: nn.Module, x: torch.Tensor, y: torch.Tensor, precision: str):
    """One training forward and backward (parameter gradients): the unit of the floor, at
    ``precision`` as the trainer sets it (bf16 autocast, TF32 convolutions for tf32)."""

    def step() -> None:
        model.train()
        model.zero_grad(set_to_none=True)
        with training_tf32(precision):
            with training_autocast(x.device, precision):
                loss = F.cross_entropy(model(x).float(), y)
            loss.backward()

    return step


def row(check: str, setting: str, value: object, unit: str = "", note: str = "") -> dict:
    return dict(zip(COLUMNS, [check, setting, value, unit, note], strict=True))


def skipped(check: str, setting: str, why: str) -> dict:
    return row(check, setting, "skipped", "", why)


def guarded(check: str, rows: Callable[..., list[dict]], *args) -> list[dict]:
    """``rows(*args)``, or one ``error`` row naming the exception: a failed measurement is a
    row of the table, not the end of the check (and the script then exits 1)."""
    try:
        return rows(*args)
    except Exception as err:
        return [row(check, "", "error", "", f"{type(err).__name__}: {err}"[:200])]


def number(value: float) -> str:
    return f"{value:.3g}" if abs(value) < 1000 else f"{value:.0f}"


# --- the measurements -------------------------------------------------------------------------
def throughput_rows(size: Size, device: torch.device, data: SplitData) -> list[dict]:
    """Forward+backward images/s per precision, memory format and compile setting."""
    rows = []
    x_u8, y = batch_of(data, size, device)
    settings = [(p, cl, comp) for comp in (False, True) for cl in (False, True) for p in PRECISIONS]
    for precision, channels_last, compiled in settings:
        label = (
            f"{precision}, channels_last {'on' if channels_last else 'off'}"
            f", compile {'on' if compiled else 'off'}, batch {size.batch}"
        )
        if device.type != "cuda" and compiled:
            rows.append(skipped("fwd+bwd", label, "compile is timed on CUDA"))
            continue
        torch.manual_seed(0)
        fmt = torch.channels_last if channels_last else torch.contiguous_format
        model = build_model(make_run(size, "pgd_at", device.type), data).to(
            device, memory_format=fmt
        )
        model = torch.compile(model) if compiled else model
        x = to_float(x_u8).contiguous(memory_format=fmt)
        t = seconds_per_call(training_pass(model, x, y, precision), device, size)
        rows.append(
            row("fwd+bwd", label, number(size.batch / t), "images/s", cpu_note(precision, device))
        )
    return rows


def cpu_note(precision: str, device: torch.device) -> str:
    return (
        "TF32 is a CUDA setting: no effect on the CPU"
        if precision == "tf32" and device.type != "cuda"
        else ""
    )


def step_rows(size: Size, device: torch.device, data: SplitData) -> list[dict]:
    """One PGD-10 AT and one TRADES step of the trainer against k+1 (k+2) training passes of
    the same model on the same batch; the pass is timed before and after the steps (the least
    of both counts), so that a disturbance of either cannot favour the steps."""
    x_u8, y = batch_of(data, size, device)
    model = model_for(size, device, data)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    x = prepare_batch(to_float(x_u8))
    one_pass = training_pass(model, x, y, "fp32")
    t_pass = seconds_per_call(one_pass, device, size)
    steps = {}
    tf32 = {}
    for name, label, extra in (("pgd_at", "PGD-10 AT", 1), ("trades", "TRADES", 2)):
        method = METHODS.get(name)(
            make_run(size, name, device.type).params(), context(size, data, device)
        )
        step = trainer_step(model, method, optimizer, x_u8, y)
        steps[label] = (method.params.steps, extra, seconds_per_call(step, device, size))
        # the same step, on the same batch, as train.precision: tf32 runs it
        tf32[label] = seconds_per_call(
            trainer_step(model, method, optimizer, x_u8, y, "tf32"), device, size
        )
    t_pass = min(t_pass, seconds_per_call(one_pass, device, size))
    target = TARGETS[device.type]
    rows = [
        row("fwd+bwd pass (floor unit)", f"fp32, batch {size.batch}", number(t_pass * 1e3), "ms")
    ]
    for label, (k, extra, t_step) in steps.items():
        floor = (k + extra) * t_pass
        ratio = t_step / floor
        verdict = "meets" if ratio <= target else "misses"
        rows += [
            row(f"{label} step", f"fp32, batch {size.batch}, k={k}", number(t_step * 1e3), "ms"),
            row(
                f"{label} step / floor",
                f"floor = {k + extra} passes = {number(floor * 1e3)} ms",
                f"{ratio:.3f}",
                "x floor",
                f"{verdict} the target <= {target} on {device.type}",
            ),
            row(
                f"{label} step",
                f"tf32, batch {size.batch}, k={k}",
                number(tf32[label] * 1e3),
                "ms",
                cpu_note("tf32", device),
            ),
            row(
                f"{label} step tf32 / fp32",
                f"{number(tf32[label] * 1e3)} ms / {number(t_step * 1e3)} ms",
                f"{tf32[label] / t_step:.3f}",
                "x fp32",
                "the price of a training step under train.precision tf32",
            ),
        ]
    return rows


def trainer_step(
    model, method, optimizer, x_u8: torch.Tensor, y: torch.Tensor, precision: str = "fp32"
):
    """One step of the project's trainer: ``train_epoch`` over exactly one batch (shuffle,
    augmentation, the method's attack and loss, the NaN check, backward, SGD step) at
    ``precision``."""
    g = torch.Generator(device=x_u8.device).manual_seed(0)

    def step() -> None:
        train_epoch(
            model,
            method,
            optimizer,
            x_u8,
            y,
            batch_size=len(y),
            augment=True,
            precision=precision,
            generator=g,
            progress=False,
            desc="",
        )

    return step


def brief_checkpoint(size: Size, device: torch.device, data: SplitData, tmp: Path) -> nn.Module:
    """A model PGD-10-trained for ``size.train_epochs`` by the project's trainer, eval mode."""
    run = make_run(size, "pgd_at", device.type, epochs=size.train_epochs)
    train(run, data, tmp / "brief", tmp / "brief-resume", progress=False)
    model = build_model(run, data)
    model.load_state_dict(torch.load(tmp / "brief" / "last.pt", weights_only=True)["model"])
    return prepare_model(model, device, image=True).eval()


def evaluation_rows(size: Size, device: torch.device, data: SplitData, tmp: Path):
    """Evaluation throughput (PGD-20, AutoAttack) and AutoAttack accuracy in fp32 and bf16 of
    the :func:`brief_checkpoint`; without pyautoattack its four rows say so."""
    model = brief_checkpoint(size, device, data, tmp)
    rows, missing = [], []
    attacks = [("eval PGD-20", "pgd20", size.eval_images)]
    if importlib.util.find_spec("pyautoattack") is None:
        why = "pyautoattack is not installed"
        missing = [skipped(c, s, why) for c, s in (("eval AutoAttack", "fp32"), *AUTOATTACK_ROWS)]
    else:
        attacks.append(("eval AutoAttack", "autoattack", size.autoattack_images))
    for label, attack, n in attacks:
        x, y = (torch.from_numpy(a[:n]).to(device) for a in (data.x_test, data.y_test))
        start = time.perf_counter()
        _, reports = evaluate_model(
            model,
            x,
            y,
            attacks=(attack,),
            eps=size.eps,
            clamp=True,
            class_names=CLASSES,
            batch_size=n,  # one batch: its seed is the suite's seed, 0
            seed=0,
            to_float=to_float,
            progress=False,
        )
        sync(device)
        rate = n / (time.perf_counter() - start)
        rows.append(row(label, f"fp32, {n} images", number(rate), "images/s"))
        if attack == "autoattack":
            report = reports["autoattack"]
            rows += guarded(
                "AutoAttack accuracy", autoattack_precision_rows, model, x, y, report, size.eps
            )
    return rows + missing


AUTOATTACK_ROWS = (
    ("AutoAttack accuracy", "fp32 (the suite)"),
    ("AutoAttack accuracy", "bf16 logits"),
    ("AutoAttack accuracy", "bf16 minus fp32"),
)


class Bf16Logits(nn.Module):
    """``model`` under bf16 autocast, its logits returned as fp32: what an attack sees when the
    model runs in bf16 (AutoAttack itself cannot run inside an autocast region: its index
    assignments then mix bf16 and fp32 tensors and fail)."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        with torch.autocast(x.device.type, dtype=torch.bfloat16):
            return self.model(x).float()


def autoattack_precision_rows(model: nn.Module, x, y, report: dict, eps: float) -> list[dict]:
    """The same AutoAttack (batch, seed 0) on the model's bf16 logits, against the suite's
    fp32 run."""
    from fairat.attacks.autoattack import autoattack_correct

    x = to_float(x)
    fp32 = report["overall"]
    ok = autoattack_correct(Bf16Logits(model), x, y, eps=eps, num_classes=len(CLASSES), seed=0)
    bf16 = float(ok.float().mean())
    values = (f"{100 * fp32:.2f}", f"{100 * bf16:.2f}", f"{100 * (bf16 - fp32):+.2f}")
    units = ("%", "%", "points")
    return [
        row(check, f"{setting}, {len(y)} images", value, unit)
        for (check, setting), value, unit in zip(AUTOATTACK_ROWS, values, units, strict=True)
    ]


def processes() -> multiprocessing.context.BaseContext:
    """How children start: forked from a server that has imported torch and fairat but run
    nothing, so that a child need not import them again, and neither inherits a parent's
    CUDA context (unusable after a plain fork) nor its OpenMP threads (which can deadlock one)."""
    mp = multiprocessing.get_context("forkserver")
    mp.set_forkserver_preload(["torch", "fairat.training.loop", "fairat.evaluation.suite"])
    return mp


def resume_rows(size: Size, device: torch.device, tmp: Path) -> list[dict]:
    """A short TRADES run killed (SIGKILL) after epoch 1 and resumed in a new process, against
    a straight one: are the final ``last.pt`` weights and optimiser state bit-identical?"""
    run = make_run(size, "trades", device.type, epochs=2).to_json()
    data = (size.resume_images, size.val_images)

    def start(out: str, resume: str, kill: bool) -> int:
        job = processes().Process(target=train_child, args=(run, data, tmp, out, resume, kill))
        job.start()
        job.join()
        return job.exitcode

    start("straight", "r1", kill=False)
    killed = start("resumed", "r2", kill=True)
    start("resumed", "r2", kill=False)
    a = torch.load(tmp / "straight" / "last.pt", weights_only=True)
    b = torch.load(tmp / "resumed" / "last.pt", weights_only=True)
    pairs = [(a["model"], b["model"])] + list(
        zip(a["optimizer"]["state"].values(), b["optimizer"]["state"].values(), strict=True)
    )
    diff = max(float((ta[k].double() - tb[k].double()).abs().max()) for ta, tb in pairs for k in ta)
    same = all(torch.equal(ta[k], tb[k]) for ta, tb in pairs for k in ta)
    history = [(tmp / d / "history.csv").read_bytes() for d in ("straight", "resumed")]
    note = (
        f"exit {killed} (SIGKILL) after epoch 1; largest difference of weights and momenta "
        f"{diff:.3g}; history.csv {'equal' if history[0] == history[1] else 'differs'}"
    )
    setting = f"TRADES, {size.model}, 2 epochs, {size.resume_images} images"
    return [row("kill and resume", setting, "bit-identical" if same else "differs", "", note)]


def process_rows(name: str, device: torch.device) -> list[dict]:
    """Aggregate PGD-10 AT training images/s of n processes on the one device at once: each
    builds and warms up its model, then all train together for ``process_seconds``."""
    rows, size, mp = [], SIZES[name], processes()
    for n in size.processes:
        threads = max(1, (os.cpu_count() or 1) // n)
        go, rates = mp.Event(), mp.SimpleQueue()
        jobs = [
            mp.Process(target=throughput_child, args=(name, device.type, threads, go, rates))
            for _ in range(n)
        ]
        for job in jobs:
            job.start()
        for _ in jobs:  # each has built its model and warmed up
            assert rates.get() == "ready"
        go.set()
        per = [rates.get() for _ in jobs]
        for job in jobs:
            job.join()
        rows.append(
            row(
                "training processes",
                f"{n} x PGD-10 AT, batch {size.batch}, {size.process_seconds:g} s",
                number(sum(per)),
                "images/s",
                f"per process: {', '.join(number(r) for r in per)}",
            )
        )
    return rows


def train_child(run: str, data: tuple, tmp: Path, out: str, resume: str, kill: bool) -> None:
    """Train ``run`` on a synthetic split of ``data`` (train, val) images into ``tmp / out``;
    with ``kill`` the process SIGKILLs itself once epoch 1's resume state is saved."""

    def kill_after_first(epoch: int) -> None:
        if kill and epoch == 0:
            os.kill(os.getpid(), signal.SIGKILL)

    split = synthetic_split(*data, 0)
    config = RunConfig.from_json(run)
    train(config, split, tmp / out, tmp / resume, progress=False, after_epoch=kill_after_first)


def throughput_child(name: str, device_type: str, threads: int, go, rates) -> None:
    """Build and warm up, put ``ready`` on ``rates`` and wait for ``go``, then train PGD-10 AT
    steps for ``process_seconds`` and put the images/s on ``rates``."""
    torch.set_num_threads(threads)
    size, device = SIZES[name], torch.device(device_type)
    configure_backends()
    data = synthetic_split(size.batch, 8, 0)
    x_u8, y = batch_of(data, size, device)
    model, method = model_for(size, device, data), method_for("pgd_at", size, device, data)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    step = trainer_step(model, method, optimizer, x_u8, y)
    for _ in range(size.warmup):
        step()
    sync(device)
    rates.put("ready")
    go.wait()
    start, steps = time.perf_counter(), 0
    while time.perf_counter() - start < size.process_seconds:
        step()
        steps += 1
    sync(device)
    rates.put(steps * size.batch / (time.perf_counter() - start))


# --- main -------------------------------------------------------------------------------------
def markdown(table: pd.DataFrame) -> str:
    lines = ["| " + " | ".join(table.columns) + " |", "|" + "---|" * len(table.columns)]
    lines += ["| " + " | ".join(str(v) for v in r) + " |" for r in table.itertuples(index=False)]
    return "\n".join(lines)


def device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"CPU ({os.cpu_count()} cores, {torch.get_num_threads()} threads)"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cpu", action="store_true", help="run on the CPU instead of CUDA")
    ap.add_argument("--tiny", action="store_true", help="small model and data: seconds")
    args = ap.parse_args()
    if not args.cpu and not torch.cuda.is_available():
        print("gpu_check: no CUDA GPU is visible; use --cpu (and --tiny) to run on the CPU")
        return 2
    configure_backends()  # before any CUDA work: CUBLAS_WORKSPACE_CONFIG, TF32 off, determinism
    device = torch.device("cpu" if args.cpu else "cuda")
    name = "tiny" if args.tiny else "full"
    size = SIZES[name]
    data = synthetic_split(size.train_images, size.val_images, size.eval_images)
    started = time.perf_counter()
    rows: list[dict] = []
    with tempfile.TemporaryDirectory() as tmp:
        sections = [
            ("fwd+bwd", throughput_rows, size, device, data),
            ("steps", step_rows, size, device, data),
            ("evaluation", evaluation_rows, size, device, data, Path(tmp)),
            ("kill and resume", resume_rows, size, device, Path(tmp)),
            ("training processes", process_rows, name, device),
        ]
        for check, section, *args in sections:
            begun = time.perf_counter()
            rows += guarded(check, section, *args)
            print(f"gpu_check: {check} took {time.perf_counter() - begun:.0f} s", file=sys.stderr)
    print(
        f"gpu_check ({name}) on {device_name(device)}, torch "
        f"{torch.__version__}, CUDA {torch.version.cuda}, {time.strftime('%Y-%m-%d')}, "
        f"{time.perf_counter() - started:.0f} s"
    )
    table = pd.DataFrame(rows, columns=COLUMNS)
    print(markdown(table))
    return 1 if (table["value"] == "error").any() else 0


if __name__ == "__main__":
    sys.exit(main())
