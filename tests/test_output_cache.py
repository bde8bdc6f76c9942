"""Runs another config already trained are taken from Snakemake's between-workflow cache.

Two tiny configs, each in its own workdir as the paper configs are, share one run (pgd_at, same
resolved run config); the second also has a run of its own (natural). Both run through the
local profile, as a user types it, with one cache directory: pgd_at is trained once, by the
first config, and the second symlinks its outputs from the cache. A changed code version makes
it train again. The package's code hash itself: fairat.runtime.provenance.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from helpers import REPO, snakemake_args

from fairat.runtime.provenance import code_version, source_hash, write_code_version

pytestmark = pytest.mark.workflow

CONFIG = {
    "device": "cpu",
    "datasets": ["digits"],
    "models": ["cnn_small"],
    "model_args": {"cnn_small": {"width": 8}},
    "eps": ["16/255"],
    "seeds": [0],
    "data": {"val_fraction": 0.1},
    "train": {
        "epochs": 1,
        "batch_size": 256,
        "lr": 0.05,
        "schedule": "constant",
        "select_steps": 1,
    },
    "evaluation": {"attacks": ["clean"], "batch_size": 512},
}
RUNS = "results/runs/digits/cnn_small/{}/eps16_255/seed0"
OUTPUTS = ("last.pt", "best.pt", "history.csv", "method_state.csv", "config.json")
TRAIN_LOG = "logs/train/digits/cnn_small/{}/eps16_255/seed0.log"
# a snakemake whose code version differs from this checkout's (as after an edit of fairat)
EDITED_CODE = (
    "import sys, fairat.runtime.provenance as p; v = p.code_version; "
    "p.code_version = lambda *a: {**v(*a), 'fairat_source': 'edited'}; "
    "from snakemake.cli import main; sys.argv[0] = 'snakemake'; main()"
)


def workspace(root: Path, name: str, methods: dict) -> tuple[Path, Path]:
    workdir = root / name
    workdir.mkdir()
    config = workdir / "config.yaml"
    config.write_text(yaml.safe_dump({**CONFIG, "methods": methods}))
    return workdir, config


def run(workdir: Path, config: Path, cache: Path, *runs: str, dry: bool = False, edited=False):
    """snakemake with the local profile on the train outputs of ``runs``."""
    args = snakemake_args(
        workdir,
        "--profile",
        str(REPO / "profiles" / "local"),
        "--cores",
        "1",
        *(["-n"] if dry else []),
        *[f"{RUNS.format(r)}/last.pt" for r in runs],
        "--configfile",
        str(config),
    )
    if edited:
        args = [sys.executable, "-c", EDITED_CODE, *args[3:]]
    env = {**os.environ, "SNAKEMAKE_OUTPUT_CACHE": str(cache)}
    done = subprocess.run(args, capture_output=True, text=True, env=env)
    assert done.returncode == 0, (done.stdout + done.stderr)[-3000:]
    return done.stdout + done.stderr


def test_two_configs_sharing_a_run_train_it_once(tmp_path):
    cache = tmp_path / "cache"
    cache.mkdir()
    a, config_a = workspace(tmp_path, "a", {"pgd_at": {"steps": 1}})
    b, config_b = workspace(tmp_path, "b", {"pgd_at": {"steps": 1}, "natural": {}})

    out_a = run(a, config_a, cache, "pgd_at")
    shared = RUNS.format("pgd_at")
    assert f"Moving output file {shared}/last.pt to cache." in out_a
    out_b = run(b, config_b, cache, "pgd_at", "natural")

    # one training job per distinct run: the script trained (and logged its epoch) for a's
    # pgd_at and b's natural only; b's pgd_at came from the cache (Snakemake leaves its log
    # empty)
    trained = sorted(
        p.relative_to(tmp_path).as_posix()
        for p in tmp_path.glob("*/logs/train/**/*.log")
        if "epoch 1/1" in p.read_text()
    )
    assert trained == [f"a/{TRAIN_LOG.format('pgd_at')}", f"b/{TRAIN_LOG.format('natural')}"]
    assert (b / TRAIN_LOG.format("pgd_at")).read_text() == ""
    assert f"Symlinking output file {shared}/last.pt from cache." in out_b
    assert f"Moving output file {shared}/last.pt" not in out_b
    assert f"Moving output file {RUNS.format('natural')}/last.pt to cache." in out_b
    for name in OUTPUTS:
        file_a, file_b = a / shared / name, b / shared / name
        assert file_b.resolve() == file_a.resolve() and cache in file_b.resolve().parents
        assert file_b.read_bytes() == file_a.read_bytes()
    assert (b / shared / "branches").is_dir()  # the prefix states' directory, here empty
    entries = len(OUTPUTS) + 1
    assert len(list(cache.iterdir())) == 2 * entries  # pgd_at and natural, once each
    record = json.loads((b / shared / "config.json").read_text())
    assert record["method"] == "pgd_at" and "name" not in record and "workdir" not in record

    # another code version is another key: a third config trains the run again, while the
    # workspace that holds it is not retrained (the code version is an ancient() input)
    assert "Nothing to be done" in run(b, config_b, cache, "pgd_at", dry=True, edited=True)
    c, config_c = workspace(tmp_path, "c", {"pgd_at": {"steps": 1}})
    assert f"{shared}/last.pt will be written to global" in run(
        c, config_c, cache, "pgd_at", dry=True, edited=True
    )


def test_a_sweep_takes_its_root_and_its_prefix_from_another_configs_run(tmp_path):
    """Config a trains one DAFA run, "dafa", alone: no run of its config branches from it, but
    it keeps its state after the epoch before its warm-up (fairat.training.prefixes.offered_epochs).
    Config b sweeps lam over the same recipe, with a default written out: its point at lam 1 is
    a's run under another name (one cache entry: the training record is name-free), and its
    point at lam 2 starts from that run's kept state, training only the epochs after it."""
    cache = tmp_path / "cache"
    cache.mkdir()
    recipe = {"steps": 1, "warmup_epoch": 2}
    train = {**CONFIG["train"], "epochs": 3}
    a, config_a = workspace(tmp_path, "a", {"dafa": recipe})
    b, config_b = workspace(
        tmp_path, "b", {"dafa": {**recipe, "beta": 6.0, "sweep": {"lam": [2.0, 1.0]}}}
    )
    for config in (config_a, config_b):
        config.write_text(yaml.safe_dump({**yaml.safe_load(config.read_text()), "train": train}))
    run(a, config_a, cache, "dafa")
    kept = a / RUNS.format("dafa") / "branches"
    assert sorted(p.name for p in kept.iterdir()) == ["branch_e1.pt"]
    out_b = run(b, config_b, cache, "dafa-lam2", "dafa-lam1")
    root, child = RUNS.format("dafa-lam1"), RUNS.format("dafa-lam2")
    assert f"Symlinking output file {root}/last.pt from cache." in out_b
    assert "dafa-lam2/eps16_255/seed0: epochs 1-1 from" in out_b  # the plan, at start-up
    assert (b / TRAIN_LOG.format("dafa-lam1")).read_text() == ""  # not trained
    log = (b / TRAIN_LOG.format("dafa-lam2")).read_text()
    assert "epochs 1-1 from" in log and "epoch 1/3" not in log and "epoch 3/3" in log
    assert (b / root / "last.pt").read_bytes() == (a / RUNS.format("dafa") / "last.pt").read_bytes()
    assert json.loads((b / child / "config.json").read_text())["method_params"]["lam"] == 2.0


def test_without_output_cache_a_config_trains_its_runs_itself(tmp_path):
    cache = tmp_path / "cache"
    cache.mkdir()
    b, config_b = workspace(tmp_path, "b", {"pgd_at": {"steps": 1}})
    config_b.write_text(config_b.read_text() + "output_cache: false\n")
    plan = run(b, config_b, cache, "pgd_at", dry=True)
    assert "between-workflow cache" not in plan and "rule train:" in plan
    # the control: the same config with the cache on plans to store the run there
    config_b.write_text(config_b.read_text().replace("output_cache: false", ""))
    plan = run(b, config_b, cache, "pgd_at", dry=True)
    assert "will be written to global between-workflow cache" in plan


def test_the_code_version_changes_with_any_source_file(tmp_path):
    package = tmp_path / "pkg"
    (package / "sub").mkdir(parents=True)
    (package / "a.py").write_text("x = 1\n")
    (package / "sub" / "b.py").write_text('"""doc"""\n')
    before = source_hash(package)
    assert source_hash(package) == before  # a function of the files only
    (package / "sub" / "b.py").write_text('"""doc."""\n')
    assert source_hash(package) != before
    (package / "sub" / "b.py").write_text('"""doc"""\n')
    (package / "c.py").write_text("")
    assert source_hash(package) != before  # a new module
    version = code_version(package)
    assert set(version) == {"fairat_source", "torch", "numpy", "python"}


def test_the_code_version_file_keeps_its_time_while_the_code_is_unchanged(tmp_path):
    path = write_code_version(tmp_path / "code-version.json")
    os.utime(path, (1, 1))
    write_code_version(path)
    assert path.stat().st_mtime == 1  # unchanged content: not rewritten
    path.write_text("{}\n")
    write_code_version(path)
    assert json.loads(path.read_text()) == code_version()
