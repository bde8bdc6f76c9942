"""`snakemake --profile slurm`, as a cluster user types it, from the root of a fresh checkout.

Snakemake looks a profile name up in the working directory (then ~/.config/snakemake and
/etc/xdg/snakemake); the repository's root holds ``slurm``, a symbolic link to
``profiles/slurm``, where the profile is documented and edited."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import checkout

pytestmark = pytest.mark.workflow


def test_profile_slurm_works_from_the_root_of_a_fresh_checkout(tmp_path):
    root = checkout(tmp_path / "fairat")
    assert (root / "slurm").is_symlink() and (root / "slurm" / "config.yaml").is_file()
    done = subprocess.run(
        [sys.executable, "-m", "snakemake", "--profile", "slurm", "-n"],
        cwd=root,
        capture_output=True,
        text=True,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-3000:]
    assert "Using profile slurm" in output
    # the profile's default-resources for the jobs that neither train nor evaluate
    assert "mem_mb=4000" in output and "runtime=60" in output
    assert not (root / "results").exists()  # a dry run


PARSE = (
    "from snakemake.cli import parse_args; import json, sys; "
    "_, a = parse_args(sys.argv[1:]); "
    "print(json.dumps({'executor': a.executor, 'retries': a.retries, "
    "'requeue': getattr(a, 'slurm_requeue', None) is True, "
    "'logdir': str(getattr(a, 'slurm_logdir', '')), 'cache': a.cache}))"
)


def parsed(cwd: Path, *args: str) -> dict:
    """What Snakemake's own command-line parsing makes of ``args`` in ``cwd``."""
    done = subprocess.run(
        [sys.executable, "-c", PARSE, *args], cwd=cwd, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_the_slurm_executor_and_the_profiles_settings_are_in_effect(tmp_path):
    root = checkout(tmp_path / "fairat")
    settings = parsed(root, "--profile", "slurm", "-n")
    assert settings == {
        "executor": "slurm",
        "retries": 2,
        "requeue": True,
        "logdir": "logs/slurm",
        "cache": [],  # --cache: train runs another config trained come from the cache
    }
    # the control: without the profile, nothing of it applies
    assert parsed(root, "-n")["executor"] is None
