"""Device placement, numerical precision and the backend flags of the GPU path (docs/gpu.md).

Precision: validation, checkpoint selection and evaluation always run in IEEE fp32
(:func:`fairat.attacks.precision.full_precision`, :func:`strict_fp32`), as in the reference implementations
(fra31/auto-attack, RobustBench). ``train.precision: bf16`` puts only the training loss forward
(and so its backward) under bf16 autocast (:func:`training_autocast`); the attack inside it stays
fp32. ``train.precision: tf32`` trains as PyTorch's defaults do on Ampere and later GPUs, as the
references ran: cuDNN convolutions in TF32, matmuls in fp32, for the whole training step, its
attack included (:func:`training_tf32`). :func:`configure_backends` sets every backend flag that
changes numbers, once per process, instead of leaving them to library defaults: no TF32 (fp32
matmuls and convolutions round in IEEE fp32), cuDNN autotuning off, cuDNN and PyTorch
deterministic algorithms on where they exist (PyTorch "Reproducibility" notes,
https://pytorch.org/docs/stable/notes/randomness.html).
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator

import torch
from torch import nn

EVAL_PRECISION = "fp32"  # evaluation and checkpoint selection, whatever train.precision says
# cuBLAS is deterministic only with a fixed workspace; read when CUDA first creates a handle
CUBLAS_WORKSPACE = ":4096:8"


def resolve_device(name: str) -> torch.device:
    """``auto`` picks CUDA when available; ``cuda`` without a GPU is an error naming the field."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise RuntimeError(
            "device: 'cuda' was requested but no CUDA GPU is visible; use auto or cpu"
        )
    if name not in ("cpu", "cuda"):
        raise ValueError(f"device: {name!r} is not allowed; valid values: auto, cpu, cuda")
    return torch.device(name)


def configure_backends() -> None:
    """Set the numerics flags of this process: IEEE fp32 (no TF32) for matmuls and cuDNN,
    ``cudnn.benchmark`` off, ``cudnn.deterministic`` on, and deterministic algorithms where
    PyTorch has them (``warn_only``: an op without one, such as CUDA ``index_add_``, warns
    instead of failing the run). ``CUBLAS_WORKSPACE_CONFIG`` takes effect only if set before
    CUDA creates its first cuBLAS handle, so call this before any CUDA work; one already set in
    the environment is kept. TF32 uses the ``fp32_precision`` API of torch >= 2.9 (mixing it
    with the legacy ``allow_tf32`` flags is an error there)."""
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", CUBLAS_WORKSPACE)
    torch.backends.fp32_precision = "ieee"
    torch.backends.cuda.matmul.fp32_precision = "ieee"
    torch.backends.cudnn.conv.fp32_precision = "ieee"
    torch.backends.cudnn.rnn.fp32_precision = "ieee"
    torch.backends.cudnn.benchmark = False
    torch.backends.cudnn.deterministic = True
    deterministic_algorithms()


def deterministic_algorithms() -> None:
    """What ``torch.use_deterministic_algorithms(True, warn_only=True)`` does, without its
    import of ``torch._inductor`` (which loads TorchDynamo, seconds of CPU:
    benchmarks/README.md#start-up; an evaluation job builds no optimizer and so never needs it,
    while a training job's ``torch.optim`` optimizer imports it anyway, preloaded by
    :mod:`fairat.runtime.jobserver`; torch 2.14 ``torch/__init__.py``, ``use_deterministic_algorithms``,
    imports ``torch._inductor.config`` to set its
    ``deterministic`` flag and then calls ``_C._set_deterministic_algorithms``). Inductor reads
    that flag from ``TORCHINDUCTOR_DETERMINISTIC`` when it is first imported (by
    ``torch.compile``), so the variable is set instead; when Inductor is already loaded its
    config is set directly, as torch does."""
    os.environ["TORCHINDUCTOR_DETERMINISTIC"] = "1"
    inductor = sys.modules.get("torch._inductor.config")
    if inductor is not None:
        inductor.deterministic = True
    torch._C._set_deterministic_algorithms(True, warn_only=True)


def backend_flags() -> dict[str, bool]:
    """The numerics flags in effect now, as recorded beside every result."""
    return {
        "tf32_matmul": torch.backends.cuda.matmul.fp32_precision == "tf32",
        "tf32_cudnn": torch.backends.cudnn.conv.fp32_precision == "tf32",
        "cudnn_benchmark": torch.backends.cudnn.benchmark,
        "cudnn_deterministic": torch.backends.cudnn.deterministic,
        "deterministic_algorithms": torch.are_deterministic_algorithms_enabled(),
    }


def precision_record(train_precision: str) -> dict:
    """What produced a number: the training precision, the precision of the attacks inside
    training (``tf32`` under ``train.precision: tf32``, else fp32), of evaluation (always fp32),
    and :func:`backend_flags`. Written into each run's config.json and each evaluation JSON."""
    return {
        "train": train_precision,
        "train_attacks": "tf32" if train_precision == "tf32" else EVAL_PRECISION,
        "evaluation": EVAL_PRECISION,
        **backend_flags(),
    }


def training_autocast(device: torch.device, precision: str) -> contextlib.AbstractContextManager:
    """The context of the training loss forward: bf16 autocast when ``train.precision`` is
    bf16 (on any device, so that the CPU runs what a GPU would), else none. Its backward
    follows the forward's dtypes; attacks inside opt out with
    :func:`fairat.attacks.precision.full_precision`."""
    if precision == "bf16":
        return torch.autocast(device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()


@contextlib.contextmanager
def training_tf32(precision: str) -> Iterator[None]:
    """The backend flags of one training step (the loss forward, the attack inside it, the
    backward and the optimiser step): with ``train.precision: tf32`` those of PyTorch's
    defaults, cuDNN convolutions in TF32 and cuBLAS matmuls in IEEE fp32 (torch 2.x:
    ``torch.backends.cudnn.allow_tf32`` defaults to True, ``torch.backends.cuda.matmul.allow_tf32``
    to False; in the ``fp32_precision`` API of torch >= 2.9, conv ``tf32`` and matmul ``ieee``).
    The references never set these flags (rucy74/DAFA train.py sets only
    ``cudnn.benchmark = True``, line 59), so every convolution of their training, attack
    included, ran in TF32 on Ampere and later GPUs. The previous flags are restored on exit, so
    validation and checkpoint selection after the step run in IEEE fp32. Other precisions: no
    change. TF32 has no effect on the CPU."""
    if precision != "tf32":
        yield
        return
    before = torch.backends.cudnn.conv.fp32_precision
    torch.backends.cudnn.conv.fp32_precision = "tf32"
    try:
        yield
    finally:
        torch.backends.cudnn.conv.fp32_precision = before


@contextlib.contextmanager
def strict_fp32() -> Iterator[None]:
    """IEEE fp32 for cuBLAS matmuls and cuDNN convolutions inside, whatever the caller set
    (a TF32 training step included); the flags are restored on exit. The attack suite runs
    inside it: validation, checkpoint selection and evaluation (:func:`fairat.evaluation.suite.run_suite`).
    Usable as a decorator."""
    before = (torch.backends.cuda.matmul.fp32_precision, torch.backends.cudnn.conv.fp32_precision)
    torch.backends.cuda.matmul.fp32_precision = "ieee"
    torch.backends.cudnn.conv.fp32_precision = "ieee"
    try:
        yield
    finally:
        torch.backends.cuda.matmul.fp32_precision, torch.backends.cudnn.conv.fp32_precision = before


def prepare_model(model: nn.Module, device: torch.device, *, image: bool) -> nn.Module:
    """Move to the device; image models use the channels_last memory format on every device.

    On CUDA that is cuDNN's fast layout for convolutions. On the CPU, oneDNN's convolution and
    PyTorch's max-pool are faster in it as well, for the default model and CIFAR-shaped ones
    (``benchmarks/channels_last.py``, measured in benchmarks/README.md#channels-last). The
    layout changes the order of floating-point sums inside a convolution, not what is computed;
    a run is still bit-identical to itself and to its resumed copy.
    """
    model = model.to(device)
    if image:
        model = model.to(memory_format=torch.channels_last)
    return model


def prepare_batch(x: torch.Tensor) -> torch.Tensor:
    """An image batch in the layout :func:`prepare_model` gives image models (other inputs as
    they are)."""
    return x.contiguous(memory_format=torch.channels_last) if x.ndim == 4 else x


def maybe_compile(model: nn.Module, device: torch.device, enabled: bool) -> nn.Module:
    """One ``torch.compile`` per process on CUDA when the config asks for it."""
    return torch.compile(model) if enabled and device.type == "cuda" else model
