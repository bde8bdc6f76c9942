"""Start-up cost: the table and figure jobs must not import torch (about 2 s per job on the CPU,
most of a small job's time), and a training job need not import pandas."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

TORCH_FREE = [
    "fairat.reporting.classwise",
    "fairat.reporting.summary",
    "fairat.reporting.summary_text",
    "fairat.reporting.table_format",
    "fairat.reporting.figures",
    "fairat.reporting.paper_tables",
    "fairat.reporting.paper_figures",
    "fairat.reporting.sweeps",
    "fairat.theory.closed_forms",
    "fairat.theory.printed",
    "fairat.theory.simulation",
    "fairat.theory.figure_data",
    "fairat.theory.figures",
    "fairat.runtime.checkpoint",
    "fairat.reporting.bootstrap",
    "fairat.evaluation.confusion",
    "fairat.reporting.confusion_figures",
    "fairat.evaluation.corruptions",
    "fairat.reporting.corruption_tables",
    "fairat.evaluation.zoo",
    "fairat.config.attack_names",
    "fairat.config.corruptions",
    "fairat.config.external",
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
    assert not loaded("fairat.training.loop", "pandas")


def run_python(code: str) -> str:
    env = {k: v for k, v in os.environ.items() if k != "TORCHINDUCTOR_DETERMINISTIC"}
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env
    )
    return done.stdout.strip()


def test_backend_flags_do_not_load_inductor_but_reach_it():
    """configure_backends sets deterministic algorithms (warn-only) without importing
    torch._inductor (3.4 s of every training and evaluation job), and Inductor, imported later
    by torch.compile, still starts in deterministic mode."""
    code = (
        "import sys, torch\n"
        "from fairat.training.device import configure_backends\n"
        "configure_backends()\n"
        "print(torch.are_deterministic_algorithms_enabled(),"
        " torch.is_deterministic_algorithms_warn_only_enabled(),"
        " 'torch._inductor' in sys.modules, 'torch._dynamo' in sys.modules)\n"
        "import torch._inductor.config as c\n"
        "print(c.deterministic)\n"
    )
    assert run_python(code).split() == ["True", "True", "False", "False", "True"]


def test_backend_flags_reach_an_inductor_already_loaded():
    code = (
        "import torch, torch._inductor.config as c\n"
        "assert not c.deterministic\n"
        "from fairat.training.device import configure_backends\n"
        "configure_backends()\n"
        "print(c.deterministic, torch.are_deterministic_algorithms_enabled())\n"
    )
    assert run_python(code).split() == ["True", "True"]
