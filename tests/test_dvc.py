"""DVC on top of the workflow: push from one clone, pull into a fresh one, and nothing retrains.

The project's files (tracked and new, as ``git ls-files`` sees them) are committed to a
temporary git repository with the tiny config as config/config.yaml and a second, smaller
config (config/second.yaml, its own workdir) given its stage in dvc.yaml's ``foreach``;
``dvc repro`` runs both stages there and ``dvc push`` sends their outputs to a local-directory
remote. A fresh ``git clone`` then pulls one config, then the other, its files' mtimes are set
to the worst order for Snakemake (every job's inputs newer than its outputs), and the test shows
that neither ``dvc repro`` nor the documented Snakemake command reruns a job, that without the
versioned Snakemake metadata (or with input checksums for tiny files only) the same command
would retrain every run, and that changing one method's hyper-parameter retrains that method's
runs of that config only (and re-evaluates and re-aggregates them), leaving the other config's
outputs as they were.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml
from helpers import checkout

from fairat.reporting.summary import metrics_json, summary_table

REPO = Path(__file__).resolve().parents[1]
TINY = REPO / "tests" / "configs" / "tiny.yaml"
RUNS = "results/runs/digits/cnn_small"


def test_the_dvc_docs_show_the_stage_command():
    cmd = stage_command()
    assert cmd.startswith("snakemake ") and "--rerun-triggers" in cmd
    assert "mtime" not in cmd.split("--rerun-triggers")[1].split("--")[0]
    assert cmd in (REPO / "docs" / "dvc.md").read_text(), "docs/dvc.md must show dvc.yaml's command"


def test_metrics_json_nests_the_summary_means():
    rows = [
        {
            "dataset": "digits",
            "model": "cnn_small",
            "run": m,
            "method": m,
            "eps": eps,
            "seed": seed,
            "checkpoint": "last",
            "attack": "pgd5",
            "class": c,
            "accuracy": acc,
            "n": 10,
        }
        for m, eps in (("pgd_at", "16/255"), ("trades", "0.1"))
        for seed, shift in ((0, 0.0), (1, 0.2))
        for c, acc in (("0", 0.2 + shift), ("1", 0.6 + shift))
    ]
    metrics = metrics_json(summary_table(pd.DataFrame(rows)))
    cell = metrics["digits"]["cnn_small"]["pgd_at"]["eps16_255"]["last"]["pgd5"]
    assert cell == pytest.approx({"average": 0.5, "worst": 0.3, "n_seeds": 2})
    assert set(metrics["digits"]["cnn_small"]["trades"]) == {"eps0p1"}  # no dots in keys
    json.dumps(metrics, allow_nan=False)  # plain JSON: NaN would have become null


STAGES = ("pipeline@config", "pipeline@second")


def stage_command(config: str = "config") -> str:
    """dvc.yaml's command for one config, as DVC expands it (``${key}``, folded lines)."""
    cmd = yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]["pipeline"]["do"]["cmd"]
    return " ".join(cmd.replace("${key}", config).split())


def test_every_shipped_config_has_its_stage_and_its_own_workdir():
    items = yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]["pipeline"]["foreach"]
    configs = {p.stem: yaml.safe_load(p.read_text()) for p in (REPO / "config").glob("*.yaml")}
    assert set(items) == set(configs), "one dvc.yaml stage per config/*.yaml"
    for name, config in configs.items():
        prefix = items[name]["prefix"]
        assert prefix == "" or prefix.endswith("/"), (name, prefix)
        assert Path(prefix or ".") == Path(config.get("workdir", ".")), name
    workdirs = [Path(item["prefix"] or ".") for item in items.values()]
    assert len(set(workdirs)) == len(workdirs)
    for a in workdirs:  # no config's workdir lies inside another's outputs
        outputs = [a / "data", a / "results", a / ".snakemake", a / "logs"]
        for b in workdirs:
            assert not any(out == b or out in b.parents for out in outputs), (a, b)


def environment(tmp_path: Path) -> dict[str, str]:
    """This interpreter's bin directory first on PATH (snakemake, dvc), DVC kept off the
    user's global config and caches, no analytics."""
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env["DVC_NO_ANALYTICS"] = "1"
    env["DVC_STUDIO_OFFLINE"] = "1"
    for name in ("DVC_GLOBAL_CONFIG_DIR", "DVC_SYSTEM_CONFIG_DIR", "DVC_SITE_CACHE_DIR"):
        env[name] = str(tmp_path / "dvc-home" / name.lower())
    for name in [n for n in env if n.startswith("GIT_")]:
        del env[name]
    return env


def run(args: list[str] | str, cwd: Path, env: dict) -> str:
    """Run a command (a string is split like a shell line); fail with its output unless it
    exits 0; return stdout and stderr together."""
    args = shlex.split(args) if isinstance(args, str) else args
    start = time.monotonic()
    done = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True)
    print(f"{time.monotonic() - start:6.1f} s  {shlex.join(args)}")  # pytest -s shows them
    output = done.stdout + done.stderr
    assert done.returncode == 0, f"{' '.join(args)} exited {done.returncode}:\n{output[-4000:]}"
    return output


def write_origin(origin: Path, config: dict, second: dict) -> None:
    """The project with ``config`` as the default config and ``second`` as config/second.yaml,
    whose stage is added to dvc.yaml's ``foreach`` as a shipped config's would be."""
    checkout(origin)
    (origin / "config/config.yaml").write_text(yaml.safe_dump(config))
    (origin / "config/second.yaml").write_text(yaml.safe_dump(second))
    dvc = yaml.safe_load((origin / "dvc.yaml").read_text())
    dvc["stages"]["pipeline"]["foreach"]["second"] = {"prefix": f"{second['workdir']}/"}
    (origin / "dvc.yaml").write_text(yaml.safe_dump(dvc, sort_keys=False))


def snapshot(root: Path, under: str = "results/runs") -> dict[str, tuple[str, int]]:
    """sha256 and mtime (ns) of every file under ``root / under``."""
    return {
        str(p.relative_to(root)): (hashlib.sha256(p.read_bytes()).hexdigest(), p.stat().st_mtime_ns)
        for p in sorted((root / under).rglob("*"))
        if p.is_file()
    }


def shuffle_mtimes(clone: Path, workdirs: tuple[str, ...] = ("", "workspaces/second/")) -> None:
    """The worst mtime order for Snakemake's "input newer than output" rule, in each config's
    workdir: the sources an hour old (as if cloned then), the prepared data newest, the
    checkpoints older, and the evaluations, tables, figures and metrics oldest (but newer than
    the sources, which git wrote before the pull)."""
    now = time.time()
    stamps = {".": now - 3600}
    for w in workdirs:
        stamps |= {f"{w}data": now - 10, f"{w}results/runs": now - 20}
        for top in ("eval", "tables", "figures", "metrics.json"):
            stamps[f"{w}results/{top}"] = now - 30
    for top, stamp in stamps.items():
        root = clone / top
        for path in [root] if root.is_file() else root.rglob("*"):
            if path.is_file() and not {".git", ".dvc"} & set(path.parts):
                os.utime(path, (stamp, stamp))


def planned(output: str, rule: str) -> set[str]:
    """The run wildcard of each ``rule`` job that snakemake's output lists."""
    methods = set()
    for block in re.split(r"\n(?=\S)", output):
        if re.match(rf"(local)?rule {rule}:", block):
            wildcards = re.search(r"wildcards: (.*)", block)
            assert wildcards, block
            methods.add(dict(kv.split("=", 1) for kv in wildcards.group(1).split(", "))["run"])
    return methods


def logged(clone: Path, kind: str) -> set[str]:
    """Methods with a job log under logs/<kind>/ (logs are not versioned: a log in a fresh
    clone means the job ran there)."""
    return {
        p.relative_to(clone / "logs" / kind).parts[2] for p in clone.glob(f"logs/{kind}/**/*.log")
    }


@pytest.mark.workflow
def test_pull_reproduces_without_retraining_and_a_change_retrains_one_method(tmp_path):
    env = environment(tmp_path)
    config = yaml.safe_load(TINY.read_text())
    # pgd_at, frl_rw and the trades run it fine-tunes; one seed, the last checkpoints, a small
    # theory simulation: the behaviours below need no more
    del config["methods"]["natural"]
    config["seeds"] = [0]
    config["evaluation"]["checkpoints"] = ["last"]
    config["theory"] = {"n_train": 200, "n_test": 2000, "n_trials": 2}
    # the second config: pgd_at alone, in its own workdir, as each paper config has
    second = {**config, "workdir": "workspaces/second", "methods": {"pgd_at": {"steps": 2}}}
    origin, clone, remote = tmp_path / "origin", tmp_path / "clone", tmp_path / "remote"
    write_origin(origin, config, second)
    for args in (
        "git init -q -b main",
        "git config user.name fairat-test",
        "git config user.email fairat-test@example.invalid",
        f"dvc remote add -d local {remote}",
        "git add -A",
        "git commit -q -m project",
    ):
        run(args, origin, env)
    stages = " ".join(STAGES)
    listed = run("dvc stage list", origin, env)
    assert all(f"pipeline@{p.stem}" in listed for p in (REPO / "config").glob("*.yaml"))

    # the origin: the default config through DVC; the second as a cluster would run it,
    # Snakemake first, then `dvc commit` (docs/dvc.md); push both, commit dvc.lock
    run("dvc repro pipeline@config", origin, env)
    run(stage_command("second"), origin, env)
    run("dvc commit -f pipeline@second", origin, env)
    run(f"dvc push {stages}", origin, env)
    run("git add -A", origin, env)
    run("git commit -q -m results", origin, env)
    assert run("git ls-files dvc.lock", origin, env).strip() == "dvc.lock"
    locked = yaml.safe_load((origin / "dvc.lock").read_text())["stages"]
    assert set(locked) == set(STAGES)  # the paper configs' stages did not run
    lock = locked["pipeline@config"]
    assert {o["path"] for o in lock["outs"]} >= {"results/runs", ".snakemake/metadata"}
    outs = {o["path"] for o in locked["pipeline@second"]["outs"]}
    assert outs >= {"workspaces/second/results/runs", "workspaces/second/.snakemake/metadata"}
    assert not (origin / "workspaces/second/results/runs/digits/cnn_small/trades").exists()
    plots = run("dvc plots show --json", origin, env)
    assert '"errors"' not in plots and "per_class_accuracy" in plots

    # a fresh clone pulls one config: only its outputs arrive
    run(["git", "clone", "-q", str(origin), str(clone)], tmp_path, env)
    run("dvc pull pipeline@config", clone, env)
    assert (clone / f"{RUNS}/pgd_at/eps16_255/seed0/last.pt").is_file()
    assert not (clone / "workspaces").exists()
    run("dvc pull pipeline@second", clone, env)
    assert (clone / f"workspaces/second/{RUNS}/pgd_at/eps16_255/seed0/last.pt").is_file()
    assert not (clone / "logs").exists()
    # its mtimes are whatever the checkout gave, made worst
    shuffle_mtimes(clone)
    before = snapshot(clone)
    second_before = snapshot(clone, "workspaces/second/results")

    # DVC sees nothing changed and runs nothing
    assert run(f"dvc repro {stages}", clone, env).count("didn't change, skipping") == 2
    metrics = run("dvc metrics show", clone, env)
    assert "results/metrics.json" in metrics and "pgd_at" in metrics

    # nor does the documented snakemake command, dry or real
    cmd = stage_command()
    assert "Nothing to be done" in run(f"{cmd} -n", clone, env)
    assert "Nothing to be done" in run(cmd, clone, env)
    assert "Nothing to be done" in run(stage_command("second"), clone, env)
    assert not (clone / "logs").exists() and snapshot(clone) == before

    # the controls: with checksums only for files smaller than these, or without the pulled
    # metadata, the same command would retrain every run
    small = planned(run(f"{cmd} -n --max-checksum-file-size 1000", clone, env), "train")
    assert small == {"pgd_at", "trades", "frl_rw"}
    aside = tmp_path / "metadata-aside"
    shutil.move(clone / ".snakemake/metadata", aside)
    assert planned(run(f"{cmd} -n", clone, env), "train") == {"pgd_at", "trades", "frl_rw"}
    shutil.rmtree(clone / ".snakemake/metadata")  # the empty one the dry run made
    shutil.move(aside, clone / ".snakemake/metadata")

    # a TRADES change would retrain TRADES and the FRL run that fine-tunes it, nothing else
    changed = {**config, "methods": {**config["methods"], "trades": {"beta": 3.0, "steps": 2}}}
    (tmp_path / "trades.yaml").write_text(yaml.safe_dump(changed))
    dry = run(f"{cmd} -n --configfile {tmp_path / 'trades.yaml'}", clone, env)
    assert planned(dry, "train") == {"trades", "frl_rw"}

    # one method's hyper-parameter changes in the default config: DVC sees the param,
    # Snakemake retrains that method of that config; the second config is left as it was
    config["methods"]["pgd_at"]["steps"] = 3
    (clone / "config/config.yaml").write_text(yaml.safe_dump(config))
    assert "methods.pgd_at.steps" in run("dvc params diff", clone, env)
    run(f"dvc repro {stages}", clone, env)
    assert logged(clone, "train") == {"pgd_at"}
    assert logged(clone, "evaluate") == {"pgd_at"}
    assert (clone / "logs/aggregate/summary.log").exists()  # re-aggregated
    assert snapshot(clone, "workspaces/second/results") == second_before
    assert not (clone / "workspaces/second/logs").exists()
    after = snapshot(clone)
    assert after.keys() == before.keys()
    retrained = {path for path in before if after[path] != before[path]}
    assert retrained and all("/pgd_at/" in path for path in retrained)
    last = f"{RUNS}/pgd_at/eps16_255/seed0/last.pt"
    assert after[last][0] != before[last][0]  # new weights, not just a new mtime
    diff = run("dvc metrics diff", clone, env)  # only the metrics that changed
    assert "pgd_at" in diff and "frl_rw" not in diff
    assert "workspaces/second" not in diff
    assert "up to date" in run(f"dvc status {stages}", clone, env)
