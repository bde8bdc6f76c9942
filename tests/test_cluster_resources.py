"""What train and evaluate jobs ask a scheduler for: the config's `resources` section, the
profiles, and their documentation (dry runs; the real Slurm run is tests/slurm)."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest
import yaml
from helpers import run_snakemake

REPO = Path(__file__).resolve().parents[1]
TINY = REPO / "tests" / "configs" / "tiny.yaml"
SCHEMA = REPO / "workflow" / "schemas" / "config.schema.yaml"

pytestmark = pytest.mark.workflow


def dry_run(tmp_path: Path, *args: str, **changes) -> subprocess.CompletedProcess:
    config = {**yaml.safe_load(TINY.read_text()), **changes}
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    return run_snakemake(tmp_path, "--configfile", str(path), "-n", *args)


def resources_by_rule(output: str) -> dict[str, set[str]]:
    """rule -> the distinct `resources:` lines of its jobs in a dry run's listing."""
    out: dict[str, set[str]] = {}
    for block in re.split(r"\n(?=(?:local)?rule \w+:)", output):
        rule = re.match(r"(?:local)?rule (\w+):", block)
        res = re.search(r"^\s+resources: (.*)$", block, re.M)
        if rule and res:
            out.setdefault(rule.group(1), set()).add(res.group(1))
    return out


def resource(line: str, name: str) -> str | None:
    found = re.search(rf"(?:^|, ){name}=([^,]+)", line)
    return found.group(1) if found else None


@pytest.mark.parametrize(
    ("device", "gpus_per_job", "gpu"),
    [
        ("cuda", None, "1"),
        ("auto", None, "0"),  # auto may end up on the CPU: it asks for no GPU
        ("cpu", 1, "1"),  # fake GPUs: ask for one, compute on the CPU (tests/slurm)
    ],
)
def test_train_and_evaluate_ask_for_gpus_and_the_configs_resources(
    tmp_path, device, gpus_per_job, gpu
):
    resources = {"train": {"runtime": 33, "mem_mb": 1234}, "evaluate": {"cpus_per_gpu": 3}}
    if gpus_per_job is not None:
        resources["gpus_per_job"] = gpus_per_job
    run = dry_run(
        tmp_path, "--profile", str(REPO / "profiles/slurm"), device=device, resources=resources
    )
    assert run.returncode == 0, run.stderr[-3000:]
    rules = resources_by_rule(run.stdout)
    (train,) = rules.pop("train")
    (evaluate,) = rules.pop("evaluate")
    expected = {
        "train": {"gpu": gpu, "runtime": "33", "mem_mb": "1234", "cpus_per_gpu": "4"},
        "evaluate": {"gpu": gpu, "runtime": "240", "mem_mb": "8000", "cpus_per_gpu": "3"},
    }
    for name, line in (("train", train), ("evaluate", evaluate)):
        assert {k: resource(line, k) for k in expected[name]} == expected[name], line
    # the other rules get the slurm profile's default-resources and no GPU
    assert {"prepare_data", "classwise_table", "theory_figure"} <= rules.keys()
    for lines in rules.values():
        for line in lines:
            assert resource(line, "gpu") is None, line
            assert (resource(line, "runtime"), resource(line, "mem_mb")) == ("60", "4000"), line


@pytest.mark.parametrize(
    ("resources", "message"),
    [
        ({"gpus_per_job": 2}, "2 is greater than the maximum of 1"),
        ({"evaluate": {"memory": 4000}}, "'memory' was unexpected"),
    ],
)
def test_bad_resources_fail_before_any_job_naming_the_field(tmp_path, resources, message):
    run = dry_run(tmp_path, "--cores", "1", resources=resources)
    err = run.stdout + run.stderr
    assert run.returncode != 0
    assert message in err and "['resources']" in err, err[-2000:]


@pytest.mark.parametrize(
    ("profile", "limit"),
    [("local", "at most 3 GPU jobs at once"), ("slurm", None)],
)
def test_the_workflow_limits_gpu_jobs_on_one_machine_not_on_slurm(tmp_path, profile, limit):
    """profiles/local sets no gpu limit of its own: the workflow's GPU slots (fairat.runtime.gpuslots)
    give GPUs x jobs_per_gpu, here 3 fake GPUs x 1. Under the Slurm executor it sets none."""
    settings = yaml.safe_load((REPO / "profiles" / profile / "config.yaml").read_text())
    assert "gpu" not in (settings.get("resources") or {})
    config = {**yaml.safe_load(TINY.read_text()), "device": "cuda"}
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    env = {**os.environ, "FAIRAT_FAKE_GPUS": "0,1,2"}
    run = run_snakemake(
        tmp_path,
        "--configfile",
        str(path),
        "-n",
        "--profile",
        str(REPO / "profiles" / profile),
        env=env,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    output = run.stdout + run.stderr
    if limit is None:
        assert "GPU slots" not in output
    else:
        assert settings["cores"] == "all"
        assert (
            f"GPU slots: 3 GPU(s) (0, 1, 2, from FAIRAT_FAKE_GPUS) x 1 job(s) each: {limit}"
            in output
        )
    assert resource(next(iter(resources_by_rule(run.stdout)["train"])), "gpu") == "1"


def test_config_readme_gives_the_schemas_resource_defaults():
    schema = yaml.safe_load(SCHEMA.read_text())["properties"]["resources"]["properties"]
    readme = (REPO / "config" / "README.md").read_text()
    section = readme.split("## `resources`")[1].split("\n## ")[0]
    for rule in ("train", "evaluate"):
        defaults = {k: v["default"] for k, v in schema[rule]["properties"].items()}
        row = next(line for line in section.splitlines() if line.startswith(f"| `{rule}` |"))
        for key, value in defaults.items():
            assert f"{key}: {value}" in row, (rule, key, value, row)
    assert "| `gpus_per_job` | `null` |" in section and schema["gpus_per_job"]["default"] is None
    assert "| `jobs_per_gpu` | `1` |" in section and schema["jobs_per_gpu"]["default"] == 1
