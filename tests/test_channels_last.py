"""Image models run in the channels_last memory format on every device (fairat.training.device)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import torch

from fairat.models import create_model
from fairat.training.device import prepare_batch, prepare_model

ROOT = Path(__file__).resolve().parents[1]


def _model(name: str, shape: tuple[int, ...], **kwargs) -> torch.nn.Module:
    torch.manual_seed(0)
    return create_model(name, num_classes=10, input_shape=shape, mean=[0.5], std=[0.25], **kwargs)


def test_image_models_are_channels_last_on_the_cpu_and_vectors_are_untouched() -> None:
    model = prepare_model(_model("cnn_small", (3, 8, 8), width=4), torch.device("cpu"), image=True)
    convs = [p for p in model.parameters() if p.ndim == 4]
    assert convs and all(p.is_contiguous(memory_format=torch.channels_last) for p in convs)
    assert not all(p.is_contiguous() for p in convs)  # NCHW-contiguous would be the old layout

    mlp = prepare_model(_model("mlp", (5,)), torch.device("cpu"), image=False)
    assert all(p.is_contiguous() for p in mlp.parameters())

    x = torch.rand(4, 3, 8, 8)
    assert prepare_batch(x).is_contiguous(memory_format=torch.channels_last)
    assert torch.equal(prepare_batch(x), x)
    v = torch.rand(4, 5)
    assert prepare_batch(v) is v


def test_channels_last_gives_the_nchw_model_s_outputs_and_input_gradients() -> None:
    reference = _model("cnn_small", (1, 8, 8), width=16).train()
    placed = prepare_model(
        _model("cnn_small", (1, 8, 8), width=16), torch.device("cpu"), image=True
    )
    placed.train()
    x = torch.rand(16, 1, 8, 8)
    y = torch.randint(0, 10, (16,))
    grads = []
    for model, inputs in ((reference, x), (placed, prepare_batch(x))):
        xx = inputs.clone().requires_grad_(True)
        loss = torch.nn.functional.cross_entropy(model(xx), y)
        grads.append((loss.detach(), torch.autograd.grad(loss, xx)[0]))
    torch.testing.assert_close(grads[1][0], grads[0][0], rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(grads[1][1], grads[0][1], rtol=1e-4, atol=1e-6)


def test_channels_last_benchmark_prints_a_ratio_per_case() -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "channels_last.py"), "--repeats", "1"],
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    )
    rows = [line for line in done.stdout.splitlines() if line.startswith("| cnn_small")]
    rows += [line for line in done.stdout.splitlines() if line.startswith("| resnet20")]
    assert len(rows) == 7, done.stdout
    for line in rows:
        nchw, cl, ratio = (float(c) for c in line.strip("|").split("|")[-3:])
        assert nchw > 0 and cl > 0
        assert abs(ratio - cl / nchw) < 0.01 + 0.01 * ratio
    assert re.search(r"1 thread\(s\), least of 1 repeats", done.stdout)
