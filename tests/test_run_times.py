"""benchmarks/run_times.py: job-seconds by rule from a Snakemake log, on a log written here."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "run_times.py"

LOG = """\
Building DAG of jobs...
Provided cores: 2
Rules claiming more threads will be scaled down.
Select jobs to execute...
[Thu Dec  3 12:00:00 2026]
rule train:
    jobid: 3
    wildcards: run=a
[Thu Dec  3 12:00:00 2026]
rule train:
    jobid: 4
    wildcards: run=b
[Thu Dec  3 12:00:10 2026]
Finished jobid: 3 (Rule: train)
[Thu Dec  3 12:00:12 2026]
localrule summary:
    jobid: 1
[Thu Dec  3 12:00:20 2026]
Finished jobid: 4 (Rule: train)
[Thu Dec  3 12:00:21 2026]
Finished jobid: 1 (Rule: summary)
[Thu Dec  3 12:00:22 2026]
localrule all:
    jobid: 0
[Thu Dec  3 12:00:22 2026]
Finished jobid: 0 (Rule: all)
"""


def run(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args], cwd=tmp_path, capture_output=True, text=True
    )


def test_job_seconds_by_rule_and_the_epochs_share(tmp_path):
    log_dir = tmp_path / ".snakemake/log"
    log_dir.mkdir(parents=True)
    (log_dir / "2026-12-03T120000.000000.snakemake.log").write_text(LOG)
    # a later `snakemake --report` leaves a log of no job: the run's log is still the one read
    (log_dir / "2026-12-03T130000.000000.snakemake.log").write_text("Building DAG of jobs...\n")
    train_log = tmp_path / "logs/train/d/m/a/eps8_255/seed0.log"
    train_log.parent.mkdir(parents=True)
    train_log.write_text(
        "[a eps=8/255 seed=0] epoch 1/2 loss 1.0 lr 0.1 val clean 0.5 2.5s\n"
        "[a eps=8/255 seed=0] epoch 2/2 loss 0.9 lr 0.1 val clean 0.6 3.5s\n"
    )
    done = run(tmp_path)
    assert done.returncode == 0, done.stderr
    assert "T120000" in done.stdout.splitlines()[0]
    rows = {line.split()[0]: line.split()[1:] for line in done.stdout.splitlines()[2:6]}
    assert rows["train"] == ["2", "15.0", "30", "20"]
    assert rows["summary"] == ["1", "9.0", "9", "9"]
    assert rows["all"] == ["1", "0.0", "0", "0"]
    # 39 job-seconds over 22 s on 2 cores
    assert "4 jobs, 39 job-seconds in a span of 22 s on 2 cores: the cores were busy 89%" in (
        done.stdout
    )
    assert "training: 30 job-seconds, of which the epochs 6 s (20%)" in done.stdout


def test_a_missing_or_empty_log_is_an_error(tmp_path):
    done = run(tmp_path)
    assert done.returncode == 2
    assert "no .snakemake/log/*.snakemake.log here" in done.stderr
    assert "no such log: nope.log" in run(tmp_path, "nope.log").stderr
    (tmp_path / "empty.log").write_text("Building DAG of jobs...\n")
    assert "records no finished job" in run(tmp_path, "empty.log").stderr
