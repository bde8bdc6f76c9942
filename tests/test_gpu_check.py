"""benchmarks/gpu_check.py cannot rot: its CPU mode runs here as a person with a GPU would run
it (``PYTHONPATH=src python3 benchmarks/gpu_check.py``), with snakemake, yaml, scikit-learn,
matplotlib and seaborn made unimportable, and prints every row of its table. Timings are not
checked (this CPU is shared); the resume row must say bit-identical, as it is on a CPU."""

from __future__ import annotations

import os
import subprocess
import sys

import torch
from helpers import REPO

ABSENT = ("snakemake", "yaml", "sklearn", "matplotlib", "seaborn")
# None in sys.modules: an import fails as for a missing package, importlib.util.find_spec is None
BLOCKER = f"import sys\nsys.modules.update(dict.fromkeys({ABSENT!r}))\n"
CHECKS = {
    "fwd+bwd": 12,  # fp32, bf16 and tf32 x channels_last x compile
    "fwd+bwd pass (floor unit)": 1,
    "PGD-10 AT step": 2,  # fp32 and tf32
    "PGD-10 AT step / floor": 1,
    "PGD-10 AT step tf32 / fp32": 1,
    "TRADES step": 2,
    "TRADES step / floor": 1,
    "TRADES step tf32 / fp32": 1,
    "eval PGD-20": 1,
    "eval AutoAttack": 1,
    "AutoAttack accuracy": 3,
    "kill and resume": 1,
    "training processes": 3,
}


def table_rows(stdout: str) -> list[list[str]]:
    lines = [line for line in stdout.splitlines() if line.startswith("| ")]
    return [[cell.strip() for cell in line.strip("|").split(" | ")] for line in lines[1:]]


def test_the_cpu_tiny_mode_prints_every_row(tmp_path):
    (tmp_path / "sitecustomize.py").write_text(BLOCKER)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), str(REPO / "src")])}
    done = subprocess.run(
        [sys.executable, "benchmarks/gpu_check.py", "--cpu", "--tiny"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=1200,
    )
    assert done.returncode == 0, done.stdout + done.stderr[-3000:]
    assert done.stdout.startswith("gpu_check (tiny) on CPU")
    rows = table_rows(done.stdout)
    counts = {check: sum(r[0] == check for r in rows) for check in CHECKS}
    assert counts == CHECKS and len(rows) == sum(CHECKS.values())
    by_check = {r[0]: r for r in rows}
    for ratio in ("PGD-10 AT step / floor", "TRADES step / floor"):
        assert float(by_check[ratio][2]) > 0 and by_check[ratio][3] == "x floor"
    for ratio in ("PGD-10 AT step tf32 / fp32", "TRADES step tf32 / fp32"):
        assert float(by_check[ratio][2]) > 0 and by_check[ratio][3] == "x fp32"
    # the tf32 path runs on the CPU too (saying that TF32 does nothing there)
    tf32 = [
        r for r in rows if r[0] == "fwd+bwd" and r[1].startswith("tf32,") and "compile off" in r[1]
    ]
    assert len(tf32) == 2 and all(float(r[2]) > 0 and "no effect on the CPU" in r[4] for r in tf32)
    assert by_check["kill and resume"][2] == "bit-identical", by_check["kill and resume"]
    assert "exit -9 (SIGKILL)" in by_check["kill and resume"][4]
    skipped = [r for r in rows if r[2] == "skipped"]
    assert all(r[4] for r in skipped)  # every skipped row says why
    assert {r[0] for r in skipped} <= {"fwd+bwd", "eval AutoAttack", "AutoAttack accuracy"}


def test_it_needs_cuda_unless_told_cpu():
    env = {**os.environ, "PYTHONPATH": str(REPO / "src"), "CUDA_VISIBLE_DEVICES": ""}
    done = subprocess.run(
        [sys.executable, "benchmarks/gpu_check.py"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 2 and "use --cpu" in done.stdout


def test_without_pyautoattack_its_rows_say_so(monkeypatch, tmp_path):
    """On a machine without pyautoattack the AutoAttack rows are skipped, naming the reason."""
    sys.path.insert(0, str(REPO / "benchmarks"))
    import gpu_check

    sys.path.pop(0)
    real = gpu_check.importlib.util.find_spec
    monkeypatch.setattr(
        gpu_check.importlib.util,
        "find_spec",
        lambda name, *a: None if name == "pyautoattack" else real(name, *a),
    )
    monkeypatch.setattr(gpu_check, "brief_checkpoint", lambda size, device, data, tmp: model)
    size = gpu_check.SIZES["tiny"]
    data = gpu_check.synthetic_split(8, 8, size.eval_images)
    model = gpu_check.model_for(size, torch.device("cpu"), data).eval()
    rows = gpu_check.evaluation_rows(size, torch.device("cpu"), data, tmp_path)
    assert [r["check"] for r in rows] == [
        "eval PGD-20",
        "eval AutoAttack",
        *["AutoAttack accuracy"] * 3,
    ]
    assert all(r["note"] == "pyautoattack is not installed" for r in rows[1:])
