"""Shared fixtures: the prepared digits split and a tiny, quickly trained model."""

from __future__ import annotations

import pytest
import torch
from helpers import tiny_run

from fairat.data import prepare


@pytest.fixture(scope="session")
def digits(tmp_path_factory):
    root = tmp_path_factory.mktemp("digits")
    return prepare("digits", root / "raw", {}, 0.1, 0, root / "digits.npz")


@pytest.fixture(name="tiny_run")
def tiny_run_fixture():
    """The tiny digits RunConfig builder, as a fixture."""
    return tiny_run


@pytest.fixture(scope="session")
def trained(digits, tmp_path_factory):
    """A natural cnn_small trained for a few epochs on digits (clean accuracy well above chance)."""
    from fairat.training.loop import train

    torch.set_num_threads(1)
    out = tmp_path_factory.mktemp("trained")
    run = tiny_run("natural", epochs=10, lr=0.05, batch_size=64)
    train(run, digits, out, out / "resume", progress=False)
    from fairat.runtime.checkpoint import load_torch
    from fairat.training.network import build_model

    model = build_model(run, digits)
    model.load_state_dict(load_torch(out / "last.pt")["model"])
    return model.eval()
