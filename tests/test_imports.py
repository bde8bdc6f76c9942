"""Start-up cost: the table and figure jobs must not import torch (about 2 s per job on the CPU,
most of a small job's time), and a training job need not import pandas."""

from __future__ import annotations

import subprocess
import sys

import pytest

TORCH_FREE = [
    "fairat.tables",
    "fairat.figures",
    "fairat.paper_tables",
    "fairat.paper_figures",
    "fairat.sweeps",
    "fairat.theory",
    "fairat.theory_figures",
    "fairat.checkpoint",
    "fairat.bootstrap",
    "fairat.confusion",
    "fairat.confusion_figures",
    "fairat.corruptions",
    "fairat.corruption_tables",
    "fairat.zoo",
]


def loaded(module: str, heavy: str) -> bool:
    """Whether importing ``module`` in a fresh interpreter loads ``heavy``."""
    code = f"import sys, {module}; print({heavy!r} in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return out.stdout.strip() == "True"


@pytest.mark.parametrize("module", TORCH_FREE)
def test_table_and_figure_modules_do_not_import_torch(module):
    assert not loaded(module, "torch")


def test_training_does_not_import_pandas():
    assert not loaded("fairat.train", "pandas")
