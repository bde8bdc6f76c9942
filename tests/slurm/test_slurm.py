"""The workflow through a real Slurm (one node on localhost, fake GPUs) with `--profile profiles/slurm`.

One test, several minutes: `make test-slurm` (deselected from the default `pytest` run by the
`slurm` marker). It brings up munged, slurmctld and slurmd in a temporary directory
(slurm_cluster.py), runs the tiny test config with `resources.gpus_per_job: 1` (the jobs ask
for a GPU and compute on the CPU), and while it runs

* records every Slurm job with `scontrol show job` (its rule, state, `TresPerJob`, restarts) and
  every sbatch call (Snakemake's verbose log),
* `scontrol requeue`s the training job of pgd_at seed 0 once it has saved a resume state,
* `scancel`s the training job of pgd_at seed 1 once it has saved a resume state.

Then the workflow must have finished, train and evaluate jobs (only they) must have asked for a
GPU, the two interrupted runs must have resumed, and every checkpoint and every evaluation flag
must equal those of the same config run without Slurm and without interruption.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from slurm_cluster import SlurmCluster, missing_commands

from fairat.config.runs import resolve_run

REPO = Path(__file__).resolve().parents[2]
TINY = REPO / "tests" / "configs" / "tiny.yaml"
PROFILE = REPO / "profiles" / "slurm"
SNAKEMAKE = [sys.executable, "-m", "snakemake", "--snakefile", str(REPO / "Snakefile")]
RUN = "digits/cnn_small/{method}/eps16_255/seed{seed}"
EPOCHS = 40  # pgd_at: long enough (about a second an epoch) for a kill to land mid-run
DEADLINE = 1200  # seconds for the workflow on Slurm: 5 minutes on 2 idle cores, 12 on busy ones

pytestmark = pytest.mark.slurm


def slurm_config(path: Path) -> Path:
    config = yaml.safe_load(TINY.read_text())
    config.update(
        seeds=[0, 1],
        methods={
            "natural": {},
            "pgd_at": {"steps": 5, "train": {"epochs": EPOCHS, "batch_size": 64}},
        },
        resources={
            "gpus_per_job": 1,  # ask for a GPU, compute on the CPU (device: cpu)
            "train": {"runtime": 15, "mem_mb": 1000, "cpus_per_gpu": 1},
            "evaluate": {"runtime": 15, "mem_mb": 1000, "cpus_per_gpu": 1},
        },
        theory={"n_train": 1000, "n_test": 10000, "n_trials": 4},
    )
    path.write_text(yaml.safe_dump(config))
    return path


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    if missing := missing_commands():
        pytest.fail(f"Slurm is not installed (missing {missing}); `make test-slurm` installs it")
    with SlurmCluster(tmp_path_factory.mktemp("slurm")) as c:
        yield c


def show_jobs(cluster: SlurmCluster) -> dict[str, dict[str, str]]:
    """`scontrol show job -o`: job id -> its fields (JobState, Comment, TresPerJob, Restarts...)."""
    out = cluster.run("scontrol", "show", "job", "-o", check=False).stdout
    jobs = {}
    for line in out.splitlines():
        fields = dict(item.split("=", 1) for item in line.split() if "=" in item)
        if "JobId" in fields:
            jobs[fields["JobId"]] = fields
    return jobs


def resume_state(work: Path, config: dict, seed: int) -> Path:
    """Where the pgd_at run of ``seed`` keeps its per-epoch resume state (fairat.training.loop)."""
    run = resolve_run(
        config, dataset="digits", model="cnn_small", run="pgd_at", eps="16/255", seed=seed
    )
    return work / config.get("resume_dir", ".fairat-resume") / f"{run.key()}.pt"


def trains(job: dict[str, str], *, seed: int) -> bool:
    """Whether a Slurm job (its comment names rule and wildcards) trains pgd_at with ``seed``."""
    comment = job.get("Comment", "")
    return comment.startswith("rule_train_") and comment.endswith(f"_pgd_at_16_255_{seed}")


def stop_group(proc: subprocess.Popen) -> None:
    """End a snakemake we started (its own session) and whatever it started locally."""
    if proc.poll() is not None:
        return
    os.killpg(proc.pid, signal.SIGINT)
    try:
        proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def same(a, b) -> bool:
    """Deep equality of checkpoint contents (tensors bit for bit)."""
    if isinstance(a, torch.Tensor):
        return isinstance(b, torch.Tensor) and a.dtype == b.dtype and torch.equal(a, b)
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list | tuple):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    return a == b


def test_workflow_on_slurm_survives_requeue_and_scancel(cluster, tmp_path):
    config_path = slurm_config(tmp_path / "config.yaml")
    config = yaml.safe_load(config_path.read_text())
    runs = [(m, s) for m in ("natural", "pgd_at") for s in (0, 1)]
    flags = [
        f"results/eval/{RUN.format(method=m, seed=s)}/{c}.npz"
        for m, s in runs
        for c in ("last", "best")
    ]

    # the same runs on this machine without Slurm, uninterrupted: the reference
    reference = tmp_path / "reference"
    reference.mkdir()
    work = tmp_path / "slurm"
    work.mkdir()
    resume = {seed: resume_state(work, config, seed) for seed in (0, 1)}
    # the profile turns the output cache on: a cache of its own, so that every run of this test
    # trains (an entry left by an earlier run would be fetched instead) and the checkout's
    # workspaces/.output-cache is never written
    env = {**cluster.env(), "SNAKEMAKE_OUTPUT_CACHE": str(tmp_path / "output-cache")}
    seen: dict[str, dict[str, str]] = {}
    requeued = cancelled = None
    start = time.time()
    with (
        open(tmp_path / "reference.log", "w") as ref_log,
        open(tmp_path / "snakemake-slurm.log", "w") as log,
    ):
        ref = subprocess.Popen(
            [*SNAKEMAKE, "--directory", str(reference), "--configfile", str(config_path)]
            + ["--cores", "1", *flags],
            stdout=ref_log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        proc = subprocess.Popen(
            [*SNAKEMAKE, "--profile", str(PROFILE), "--directory", str(work)]
            + ["--configfile", str(config_path)]
            # poll the queue every few seconds instead of the plugin's 40 s (tests only)
            + ["--slurm-init-seconds-before-status-checks", "2"]
            + ["--seconds-between-status-checks", "2"]
            + ["--verbose"],  # logs each sbatch call
            cwd=work,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            while proc.poll() is None and time.time() - start < DEADLINE:
                jobs = show_jobs(cluster)
                seen.update(jobs)
                for job_id, job in jobs.items():
                    if job.get("JobState") != "RUNNING":
                        continue
                    if requeued is None and trains(job, seed=0) and resume[0].exists():
                        cluster.run("scontrol", "requeue", job_id)
                        requeued = job_id
                    if cancelled is None and trains(job, seed=1) and resume[1].exists():
                        cluster.run("scancel", job_id)
                        cancelled = job_id
                time.sleep(0.5)
            elapsed = time.time() - start
            ref.wait(timeout=max(DEADLINE - elapsed, 60))
        finally:
            stop_group(proc)
            stop_group(ref)
            seen.update(show_jobs(cluster))
    log_text = (tmp_path / "snakemake-slurm.log").read_text()
    assert proc.returncode == 0, log_text[-5000:] + "\n" + cluster.logs()
    assert ref.returncode == 0, (tmp_path / "reference.log").read_text()[-3000:]
    print(f"workflow on Slurm: {elapsed:.0f} s, {len(seen)} Slurm jobs")

    # train and evaluate jobs asked for one GPU each (sbatch --gpus=1), the other rules none
    rules = {}
    for job in seen.values():
        rule = job["Comment"].removeprefix("rule_").split("_wildcards_")[0]
        rules.setdefault(rule, set()).add(job.get("TresPerJob", "(none)"))
    assert rules.pop("train") == {"gres:gpu:1"} and rules.pop("evaluate") == {"gres:gpu:1"}
    assert {"prepare_data", "theory_figure", "classwise_table"} <= rules.keys()
    assert all(tres == {"(none)"} for tres in rules.values()), rules

    # ... because Snakemake submitted them so, with the config's resources and the profile's
    # --requeue (the sbatch calls as the plugin logs them)
    calls = [line for line in log_text.splitlines() if line.startswith("sbatch call: ")]
    assert len(calls) == len(seen)
    for call in calls:
        assert " --requeue " in call, call
        if "--comment rule_train_" in call or "--comment rule_evaluate_" in call:
            assert all(
                f" {o} " in call for o in ("--gpus=1", "--cpus-per-gpu=1", "--mem 1000", "-t 15")
            ), call
        else:
            assert "--gpus" not in call and " -t 60 --mem 4000 " in call, call

    # the requeued job ran again under the same Slurm id; the cancelled one was resubmitted
    assert requeued is not None, "the pgd_at seed-0 training job was never seen running"
    assert seen[requeued]["Restarts"] == "1" and seen[requeued]["JobState"] == "COMPLETED"
    assert cancelled is not None, "the pgd_at seed-1 training job was never seen running"
    assert seen[cancelled]["JobState"] == "CANCELLED"
    retried = [j for j, job in seen.items() if trains(job, seed=1)]
    assert len(retried) == 2 and seen[max(retried, key=int)]["JobState"] == "COMPLETED"
    assert f"SLURM-job '{cancelled}' failed, SLURM status is: 'CANCELLED'" in log_text
    for seed in (0, 1):  # each resumed mid-run from its last saved epoch
        run_log = (
            work / "logs/train" / f"{RUN.format(method='pgd_at', seed=seed)}.log"
        ).read_text()
        assert "resuming from epoch" in run_log, run_log[-2000:]
        epoch = int(run_log.split("resuming from epoch ")[1].split()[0])
        assert 1 <= epoch < EPOCHS
        print(f"pgd_at seed {seed}: resumed from epoch {epoch} of {EPOCHS}")
    assert not resume[0].exists() and not resume[1].exists(), "resume states left behind"

    # checkpoints and flags equal those of the uninterrupted run, bit for bit
    for method, seed in runs:
        run = RUN.format(method=method, seed=seed)
        for name in ("last.pt", "best.pt", "history.csv"):
            a, b = work / "results/runs" / run / name, reference / "results/runs" / run / name
            if name.endswith(".pt"):
                assert same(torch.load(a, weights_only=True), torch.load(b, weights_only=True)), a
            else:
                assert a.read_text() == b.read_text(), a
    for path in flags:
        a, b = np.load(work / path), np.load(reference / path)
        assert a.files == b.files and all(np.array_equal(a[k], b[k]) for k in a.files), path
    assert (work / "results/tables/summary.csv").exists()

    dry = subprocess.run(
        [*SNAKEMAKE, "--profile", str(PROFILE), "--directory", str(work)]
        + ["--configfile", str(config_path), "-n"],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
    )
    assert dry.returncode == 0 and "Nothing to be done" in dry.stdout + dry.stderr
