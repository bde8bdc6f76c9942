"""The workflow end to end: snakemake on a tiny config in a temporary directory."""

from __future__ import annotations

import json
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import psutil
import pytest
import torch
import yaml
from helpers import run_snakemake, snakemake_args, squeeze
from PIL import Image

from fairat.runtime.checkpoint import load_torch

REPO = Path(__file__).resolve().parents[1]
TINY = REPO / "tests" / "configs" / "tiny.yaml"

pytestmark = pytest.mark.workflow


def snakemake(
    workdir: Path, *args: str, config: Path = TINY, **kwargs
) -> subprocess.CompletedProcess:
    return run_snakemake(workdir, "--configfile", str(config), *args, **kwargs)


def write_config(tmp_path: Path, **changes) -> Path:
    config = yaml.safe_load(TINY.read_text())
    config.update(changes)
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


@pytest.fixture(scope="module")
def tiny_workflow(tmp_path_factory):
    """The tiny config run once through snakemake; the tests below read its outputs."""
    workdir = tmp_path_factory.mktemp("tiny_workflow")
    done = snakemake(workdir, "--cores", "2")
    assert done.returncode == 0, done.stderr[-3000:]
    return workdir


def test_workflow_end_to_end(tiny_workflow):
    tmp_path = tiny_workflow
    classwise = pd.read_csv(tmp_path / "results/tables/classwise.csv", dtype={"class": str})
    assert list(classwise.columns) == [
        "dataset",
        "model",
        "run",
        "method",
        "eps",
        "seed",
        "checkpoint",
        "attack",
        "class",
        "accuracy",
        "n",
        "precision",
    ]
    assert set(classwise["precision"]) == {"fp32"}  # train.precision's default, fp32 attacks
    # 4 runs x 1 eps x 2 seeds x 2 checkpoints x (3 attacks + worst_case) x 10 classes
    assert len(classwise) == 4 * 2 * 2 * 4 * 10
    assert set(classwise["run"]) == {"natural", "pgd_at", "trades", "frl_rw"}
    assert (classwise["run"] == classwise["method"]).all()
    assert set(classwise["attack"]) == {"clean", "fgsm", "pgd5", "worst_case"}
    assert set(classwise["eps"]) == {"16/255"}
    assert classwise["accuracy"].between(0, 1).all()
    # per-class counts add up to the test split in every (run, checkpoint, attack)
    totals = classwise.groupby(["run", "seed", "checkpoint", "attack"])["n"].sum()
    assert (totals == 539).all()

    summary = pd.read_csv(tmp_path / "results/tables/summary.csv")
    assert len(summary) == 4 * 2 * 4 and (summary["n_seeds"] == 2).all()
    # rho against trades, the default baseline, which frl_rw also fine-tunes
    assert set(summary["baseline"]) == {"trades"} and (summary["rho_seeds"] == 2).all()
    assert {"rho_nat", "rho_rob", "average_ci95", "sanity_warnings"} <= set(summary.columns)
    # the two-level (seeds, then test samples) interval of the mean worst-class accuracy
    assert (summary["worst_ci95_lo"] <= summary["worst_mean"] + 1e-12).all()
    assert (summary["worst_mean"] <= summary["worst_ci95_hi"] + 1e-12).all()
    assert set(summary["precision"]) == {"fp32"}
    md = squeeze((tmp_path / "results/tables/summary.md").read_text())
    assert "| natural |" in md and "| pgd_at |" in md and "clean worst" in md
    assert "Precision of every number (docs/gpu.md): `fp32`." in md
    assert "robust worst [95% seeds+samples]" in md and "`worst_ci95_lo`" in md
    # the class-stratified bootstrap over test samples: 3 statistics per classwise block
    boot = pd.read_csv(tmp_path / "results/tables/bootstrap.csv")
    assert len(boot) == 3 * len(classwise) // 10
    assert (
        set(boot["statistic"]) == {"average", "worst", "gap"} and (boot["replicates"] == 1000).all()
    )
    assert (boot["ci95_lo"] <= boot["ci95_hi"]).all()
    frequency = pd.read_csv(tmp_path / "results/tables/worst_class_frequency.csv")
    assert len(frequency) == len(classwise)
    sums = frequency.groupby(["run", "seed", "checkpoint", "attack"])["frequency"].sum()
    assert np.allclose(sums, 1)
    assert r"\toprule" in (tmp_path / "results/tables/summary.tex").read_text()
    assert (tmp_path / "results/figures/classwise_robust.png").stat().st_size > 10_000

    # where attacked samples go: the confusion counts sum to the test split per run and attack,
    # and their diagonal is classwise.csv's accuracy
    confusion = pd.read_csv(
        tmp_path / "results/tables/confusion.csv", dtype={"true_class": str, "predicted_class": str}
    )
    keys = ["run", "seed", "checkpoint", "attack"]
    assert len(confusion) == len(classwise) * 10  # a K x K matrix per classwise block
    assert (confusion.groupby(keys)["count"].sum() == 539).all()
    diag = confusion[confusion["true_class"] == confusion["predicted_class"]]
    rows = confusion.groupby([*keys, "true_class"])["count"].sum()
    acc = (diag.set_index([*keys, "true_class"])["count"] / rows).rename("accuracy")
    merged = classwise.set_index([*keys, "class"])["accuracy"]
    merged.index.names = [*keys, "true_class"]
    assert np.allclose(acc.sort_index(), merged.sort_index())
    similarity = pd.read_csv(tmp_path / "results/tables/class_similarity.csv")
    assert "worst_case" not in set(similarity["attack"])
    sums = similarity.groupby([*keys, "true_class"])["probability"].sum()
    assert np.allclose(sums, 1, atol=1e-4)
    figure = tmp_path / "results/figures/confusion/digits/cnn_small/eps16_255.png"
    assert figure.stat().st_size > 10_000 and figure.with_suffix(".pdf").exists()
    with np.load(tmp_path / "results/eval/digits/cnn_small/pgd_at/eps16_255/seed0/last.npz") as z:
        assert np.array_equal(z["pgd5"], (z["pred_pgd5"] == z["labels"]).astype(np.int8))
    assert (tmp_path / "logs/train/digits/cnn_small/pgd_at/eps16_255/seed0.log").exists()
    # FRL fine-tuned the trades run of the same dataset, model, eps and seed (a DAG dependency)
    frl_log = (tmp_path / "logs/train/digits/cnn_small/frl_rw/eps16_255/seed1.log").read_text()
    trades = "results/runs/digits/cnn_small/trades/eps16_255/seed1/last.pt"
    assert f"initialised from {trades}" in frl_log
    state = tmp_path / "results/figures/method_state/digits/cnn_small/frl_rw/eps16_255/seed0.png"
    assert state.stat().st_size > 10_000 and state.with_suffix(".pdf").exists()
    frl_state = tmp_path / "results/runs/digits/cnn_small/frl_rw/eps16_255/seed0/method_state.csv"
    assert "w0_0" in frl_state.read_text()

    # paper-style tables and figures
    trix = squeeze((tmp_path / "results/tables/paper/trix.md").read_text())
    assert "| frl_rw |" in trix and "**" in trix  # a row per method, best values in bold
    assert r"\textbf" in (tmp_path / "results/tables/paper/table1.tex").read_text()
    assert list((tmp_path / "results/figures/paper").glob("heatmap_*.pdf"))

    # paper 001's theory figures: closed form and simulation, PNG and PDF, with a caption
    for kind in ("1a", "1b", "2a", "2b"):
        assert (tmp_path / f"results/figures/theory/theory_fig{kind}.pdf").exists()
        caption = (tmp_path / f"results/figures/theory/theory_fig{kind}_caption.txt").read_text()
        assert "closed form" in caption and "3 SE" in caption

    # nothing to do on a second invocation
    again = snakemake(tmp_path, "--cores", "2", "-n")
    assert again.returncode == 0 and "Nothing to be done" in again.stdout + again.stderr


CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--enable-logging=stderr",
    "--v=0",
    "--window-size=1280,1000",
]


def test_report_renders_in_chromium(tiny_workflow, tmp_path):
    report = snakemake(tiny_workflow, "--report", "results/report.html")
    assert report.returncode == 0, report.stderr[-3000:]
    html = tiny_workflow / "results/report.html"
    assert html.stat().st_size > 50_000
    chromium = shutil.which("chromium")
    if chromium is None:
        pytest.skip("Debian's chromium is not installed (make test installs it)")
    shot = tmp_path / "report.png"
    run = subprocess.run(
        [
            chromium,
            *CHROMIUM_FLAGS,
            f"--user-data-dir={tmp_path / 'profile'}",
            "--virtual-time-budget=10000",
            f"--screenshot={shot}",
            html.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert shot.exists(), run.stderr[-3000:]
    console_errors = [
        line
        for line in run.stderr.splitlines()
        if "CONSOLE" in line and ("Error" in line or "ERROR" in line or "Uncaught" in line)
    ]
    assert not console_errors, console_errors
    pixels = np.asarray(Image.open(shot).convert("L"), dtype=float)
    assert pixels.std() > 10  # not a blank page
    dom = subprocess.run(
        [
            chromium,
            *CHROMIUM_FLAGS,
            f"--user-data-dir={tmp_path / 'profile2'}",
            "--virtual-time-budget=10000",
            "--dump-dom",
            html.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    ).stdout
    for text in ("Workflow", "Tables", "Figures", "Method state"):  # the rendered navigation
        assert text in dom, text


def test_one_run_without_snakemake_matches_the_workflow(tiny_workflow, tmp_path):
    """python -m fairat.run writes what the workflow writes for the same run, byte for byte
    (checkpoints compared by weights: their zip archives name a random temporary file)."""
    run = "digits/cnn_small/frl_rw/eps16_255/seed1"  # fine-tunes trades, trained first
    done = subprocess.run(
        [sys.executable, "-m", "fairat.run", str(TINY), "--run", "frl_rw", "--seed", "1"]
        + ["--out", str(tmp_path)],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    ours, theirs = tmp_path, tiny_workflow / "results"
    assert (ours / "data/digits.npz").read_bytes() == (
        tiny_workflow / "data/digits.npz"
    ).read_bytes()
    files = [f"runs/{run}/{n}" for n in ("history.csv", "method_state.csv", "config.json")]
    files += [f"eval/{run}/{c}.{e}" for c in ("last", "best") for e in ("json", "npz")]
    files.append("runs/digits/cnn_small/trades/eps16_255/seed1/history.csv")
    for name in files:
        assert (ours / name).read_bytes() == (theirs / name).read_bytes(), name
    for name in ("last.pt", "best.pt"):
        a, b = (load_torch(d / "runs" / run / name) for d in (ours, theirs))
        assert a.keys() == b.keys() and a["config"] == b["config"]
        assert all(torch.equal(a["model"][k], b["model"][k]) for k in b["model"])


def test_misspelt_method_fails_before_any_job(tmp_path):
    config = write_config(tmp_path, methods={"natural": {}, "tradess": {}})
    result = snakemake(tmp_path, "--cores", "1", config=config)
    assert result.returncode != 0
    err = result.stdout + result.stderr
    assert "'tradess'" in err and "trades" in err and "pgd_at" in err
    assert not (tmp_path / "data").exists()


def test_bad_hyper_parameter_fails_before_any_job(tmp_path):
    config = write_config(tmp_path, methods={"pgd_at": {"stepz": 3}})
    result = snakemake(tmp_path, "--cores", "1", config=config)
    assert result.returncode != 0
    assert "methods.pgd_at: unknown key(s) 'stepz'" in result.stdout + result.stderr


def test_killed_training_resumes_to_the_same_checkpoint(tmp_path):
    config = write_config(
        tmp_path,
        seeds=[0],
        methods={"pgd_at": {"steps": 3}},
        train={"epochs": 8, "batch_size": 64, "lr": 0.05, "schedule": "cosine", "select_steps": 2},
    )
    target = "results/runs/digits/cnn_small/pgd_at/eps16_255/seed0/last.pt"
    straight = tmp_path / "straight"
    assert snakemake(straight, "--cores", "1", target, config=config).returncode == 0

    killed = tmp_path / "killed"
    proc = subprocess.Popen(
        [
            *snakemake_args(killed),
            "--configfile",
            str(config),
            "--cores",
            "1",
            target,
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    resume = killed / ".fairat-resume"
    deadline = time.time() + 120
    # a finished state, not the hidden temporary file it is written to (checkpoint.atomic_write):
    # killed during that first write, the run rightly starts again from epoch 0
    while not list(resume.glob("[!.]*.pt")) and time.time() < deadline and proc.poll() is None:
        time.sleep(0.02)
    # kill the training process itself, as a crash or a preempted node would; snakemake sees
    # the job fail and, as for any failed job, removes its declared outputs
    jobs = [
        p
        for p in psutil.Process(proc.pid).children(recursive=True)
        if any("train.py" in part for part in p.cmdline())
    ]
    assert jobs, "no training process found"
    for job in jobs:
        job.send_signal(signal.SIGKILL)
    assert proc.wait(timeout=120) != 0
    assert not (killed / target).exists(), "training finished before it could be killed"
    assert list(resume.glob("[!.]*.pt"))

    rerun = snakemake(killed, "--cores", "1", target, config=config)
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    log = (killed / "logs/train/digits/cnn_small/pgd_at/eps16_255/seed0.log").read_text()
    assert "resuming from epoch" in log
    a = torch.load(straight / target, weights_only=True)["model"]
    b = torch.load(killed / target, weights_only=True)["model"]
    assert all(torch.equal(v, b[k]) for k, v in a.items())


def test_missing_dataset_fails_with_one_clear_message(tmp_path):
    config = write_config(tmp_path, datasets=["cifar10"], methods={"natural": {}}, seeds=[0])
    result = snakemake(tmp_path, "--cores", "1", config=config)
    assert result.returncode != 0
    err = result.stdout + result.stderr
    assert "DatasetMissingError: dataset 'cifar10' not found under data/raw/cifar10" in err
    assert "set data.cifar10.download: true" in err
    assert not (tmp_path / "data/cifar10.npz").exists()


VARIANTS = REPO / "tests" / "configs" / "variants.yaml"


@pytest.fixture(scope="module")
def variants_workflow(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("variants_workflow")
    done = snakemake(workdir, "--cores", "2", config=VARIANTS)
    assert done.returncode == 0, done.stderr[-3000:]
    return workdir


def test_variants_sweeps_and_baselines_end_to_end(variants_workflow):
    from fairat.reporting.stats import rho

    results = variants_workflow / "results"
    classwise = pd.read_csv(results / "tables/classwise.csv", dtype={"class": str})
    runs = {"trades", "trades_long", "trix-dafa_lam0.5", "trix-dafa_lam1.5"}
    assert set(classwise["run"]) == runs
    assert dict(zip(classwise["run"], classwise["method"], strict=False)) == {
        "trades": "trades",
        "trades_long": "trades",
        "trix-dafa_lam0.5": "trix",
        "trix-dafa_lam1.5": "trix",
    }
    long = json.loads(
        (results / "runs/digits/cnn_small/trades_long/eps16_255/seed0/config.json").read_text()
    )
    # the training record is name-free (the output cache's key): the name is the directory
    assert "name" not in long
    assert (long["method"], long["train"]["epochs"]) == ("trades", 3)
    lam = json.loads(
        (results / "runs/digits/cnn_small/trix-dafa_lam1.5/eps16_255/seed1/config.json").read_text()
    )
    assert lam["method_params"]["dafa_lam"] == 1.5

    # rho of a swept run is against its named baseline, on the seeds both have
    summary = pd.read_csv(results / "tables/summary.csv", dtype={"eps": str})
    trix = summary[
        (summary["run"] == "trix-dafa_lam0.5") & (summary["attack"] == "worst_case")
    ].iloc[0]
    assert trix["baseline"] == "trades_long" and trix["rho_seeds"] == 2
    per_seed = (
        classwise[classwise["attack"] == "worst_case"]
        .groupby(["run", "seed"])["accuracy"]
        .agg(["mean", "min"])
        .groupby("run")
        .mean()
    )
    a, b = per_seed.loc["trix-dafa_lam0.5"], per_seed.loc["trades_long"]
    assert trix["rho_rob"] == pytest.approx(rho(a["mean"], a["min"], b["mean"], b["min"]))
    trades = summary[(summary["run"] == "trades") & (summary["attack"] == "clean")].iloc[0]
    assert trades["baseline"] == "trades" and trades["rho_nat"] == pytest.approx(0.0)
    paired = pd.read_csv(results / "tables/paired.csv")
    assert set(paired["run"]) == {"trix-dafa_lam0.5", "trix-dafa_lam1.5"}
    assert set(paired["baseline"]) == {"trades_long"}
    md = squeeze((results / "tables/summary.md").read_text())
    assert "| trix-dafa_lam1.5 | trix |" in md and "trades_long (2)" in md

    # the sensitivity table and figure put the swept values side by side
    sweeps = pd.read_csv(results / "tables/sweeps.csv", dtype={"eps": str})
    assert set(sweeps["value"]) == {0.5, 1.5} and set(sweeps["parameter"]) == {"dafa_lam"}
    assert set(sweeps["attack"]) == {"clean", "worst_case"}
    row = sweeps[(sweeps["value"] == 1.5) & (sweeps["attack"] == "worst_case")].iloc[0]
    base = summary[(summary["run"] == "trades_long") & (summary["attack"] == "worst_case")]
    assert row["baseline_worst"] == pytest.approx(base["worst_mean"].iloc[0])
    assert row["n_seeds"] == 2 and row["average_ci95"] > 0
    figure = results / "figures/sweeps/trix.png"
    assert figure.stat().st_size > 10_000 and figure.with_suffix(".pdf").exists()
    metrics = json.loads((results / "metrics.json").read_text())
    assert {"trix-dafa_lam0p5", "trix-dafa_lam1p5", "trades_long"} <= set(
        metrics["digits"]["cnn_small"]
    )
    trix_md = squeeze((results / "tables/paper/trix.md").read_text())
    assert "trix-dafa_lam0.5 vs `trades_long`" in trix_md


def test_changing_one_variant_retrains_only_that_variant(variants_workflow, tmp_path):
    config = yaml.safe_load(VARIANTS.read_text())
    config["methods"]["trades_long"]["beta"] = 3.0
    changed = tmp_path / "changed.yaml"
    changed.write_text(yaml.safe_dump(config))
    plan = snakemake(variants_workflow, "-n", "--cores", "1", config=changed)
    assert plan.returncode == 0, plan.stderr[-3000:]
    trained = set(
        re.findall(
            r"results/runs/digits/cnn_small/([\w.-]+)/eps16_255/seed\d/last\.pt", plan.stdout
        )
    )
    jobs = {m[1]: int(m[2]) for m in re.finditer(r"^(\w+)\s+(\d+)$", plan.stdout, re.M)}
    assert jobs["train"] == 2 and jobs["evaluate"] == 2  # trades_long's two seeds
    assert "trades_long" in trained
    assert "sweep_table" in jobs  # its numbers are the sweep figure's reference lines
