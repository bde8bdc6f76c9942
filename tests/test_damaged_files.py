"""Damaged and unsafe files: each gives one message naming the file; caches start over,
outputs are rebuilt by the next Snakemake run, and no message suggests weights_only=False."""

from __future__ import annotations

import dataclasses
import logging
import os
import re

import pandas as pd
import pytest
import torch
import yaml
from helpers import REPO, run_snakemake

from fairat.config.runs import resolve_run
from fairat.data import load_prepared
from fairat.evaluation.evaluate import _store_name, evaluate_checkpoint
from fairat.evaluation.suite import EvalStore
from fairat.runtime.checkpoint import (
    UnsafeFileError,
    atomic_write,
    load_torch,
    save_torch,
)
from fairat.runtime.errors import DamagedFileError
from fairat.training.loop import train


class Pickled:
    def __reduce__(self):
        return (print, ("this would run",))


def truncate(path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


@pytest.mark.parametrize("damage", ["truncated", "empty", "garbage"])
def test_a_damaged_checkpoint_is_named(tmp_path, damage):
    path = tmp_path / "last.pt"
    save_torch({"model": {"w": torch.ones(100)}}, path)
    if damage == "truncated":
        truncate(path)
    elif damage == "empty":
        path.write_bytes(b"")
    else:
        path.write_bytes(b"not a checkpoint" * 8)
    with pytest.raises(DamagedFileError, match=re.escape(str(path))) as caught:
        load_torch(path)
    assert "central directory" not in str(caught.value)


def test_a_checkpoint_holding_code_is_refused_without_suggesting_to_run_it(tmp_path):
    path = tmp_path / "evil.pt"
    torch.save({"model": Pickled()}, path)
    with pytest.raises(UnsafeFileError, match=re.escape(str(path))) as caught:
        load_torch(path)
    assert "weights_only" not in str(caught.value) and "refused" in str(caught.value)


def test_a_damaged_prepared_dataset_is_named(digits, tmp_path):
    path = tmp_path / "digits.npz"
    path.write_bytes(b"PK\x03\x04 but nothing after")
    with pytest.raises(DamagedFileError, match=re.escape(str(path))):
        load_prepared(path)


def test_atomic_writes_sync_the_file_and_its_directory(tmp_path, monkeypatch):
    synced = []
    real = os.fsync

    def spy(fd):
        synced.append(os.path.realpath(f"/proc/self/fd/{fd}"))
        real(fd)

    monkeypatch.setattr(os, "fsync", spy)
    atomic_write(tmp_path / "a.txt", lambda tmp: tmp.write_text("x"))
    assert (tmp_path / "a.txt").read_text() == "x"
    assert any(p.endswith(".tmp.txt") for p in synced)  # the data, before the rename
    assert synced.count(str(tmp_path)) >= 2  # the directory, before and after it


def test_a_damaged_resume_state_is_moved_aside_and_the_run_starts_over(digits, tiny_run, tmp_path):
    run = tiny_run("pgd_at", epochs=2)
    state = tmp_path / "resume" / f"{run.key()}.pt"
    state.parent.mkdir()
    state.write_bytes(b"half a checkpoint")
    history = pd.DataFrame(
        train(run, digits, tmp_path / "out", tmp_path / "resume", progress=False)
    )
    assert list(history["epoch"]) == [1, 2]
    assert (state.parent / f"{state.name}.damaged").read_bytes() == b"half a checkpoint"
    straight = pd.DataFrame(
        train(run, digits, tmp_path / "straight", tmp_path / "r2", progress=False)
    )
    a, b = load_torch(tmp_path / "out/last.pt"), load_torch(tmp_path / "straight/last.pt")
    assert all(torch.equal(v, b["model"][k]) for k, v in a["model"].items())
    assert straight["val_robust_avg"].tolist() == history["val_robust_avg"].tolist()


def test_a_damaged_evaluation_store_is_moved_aside(tmp_path):
    path = tmp_path / "eval-store.pt"
    path.write_bytes(b"")
    store = EvalStore(path)
    assert store.done == {} and (tmp_path / "eval-store.pt.damaged").exists()
    store.put("clean", 0, torch.ones(3, dtype=torch.bool))
    assert EvalStore(path).get("clean", 0).all()


def test_autoattack_warnings_reach_the_sanity_checks(digits, tiny_run, tmp_path, monkeypatch):
    import fairat.attacks.autoattack as aa

    def warn_and_pass(model, x, y, **kwargs):
        logging.getLogger(aa.LOGGER).warning("it seems to be a randomized defense!")
        return x, y

    monkeypatch.setattr(aa, "autoattack_outputs", warn_and_pass)
    run = tiny_run("natural", epochs=1)
    run = dataclasses.replace(
        run, evaluation=dataclasses.replace(run.evaluation, attacks=("clean", "autoattack"))
    )
    train(run, digits, tmp_path, tmp_path / "resume", progress=False)
    _, result = evaluate_checkpoint(run, digits, tmp_path / "last.pt", progress=False)
    warnings = [s for s in result["sanity"] if s["check"] == "autoattack_warning"]
    assert [w["detail"] for w in warnings] == ["it seems to be a randomized defense!"]


# --- through the workflow: damage a file, run snakemake, read the message, run again ---------

TARGET = "results/eval/digits/cnn_small/natural/eps16_255/seed0/last.json"
LAST = "results/runs/digits/cnn_small/natural/eps16_255/seed0/last.pt"


@pytest.fixture
def small_workflow(tmp_path):
    """One natural run evaluated once; returns (workdir, config path, config)."""
    config = yaml.safe_load((REPO / "tests/configs/tiny.yaml").read_text())
    config.update(
        seeds=[0],
        methods={"natural": {}},
        evaluation={"attacks": ["clean", "fgsm"], "checkpoints": ["last"]},
    )
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    work = tmp_path / "work"
    done = run_snakemake(work, TARGET, "--cores", "1", "--configfile", str(path))
    assert done.returncode == 0, done.stderr[-3000:]
    return work, path, config


def again(work, path, *args):
    return run_snakemake(work, TARGET, "--cores", "1", *args, "--configfile", str(path))


@pytest.mark.workflow
def test_a_damaged_checkpoint_is_rebuilt_by_the_next_run(small_workflow):
    work, path, _ = small_workflow
    truncate(work / LAST)
    failed = again(work, path, "--forcerun", "evaluate")
    assert failed.returncode != 0
    output = failed.stdout + failed.stderr
    assert f"{LAST}: damaged" in output and "run snakemake again" in output
    assert "weights_only" not in output
    assert (work / f"{LAST}.damaged").exists() and not (work / LAST).exists()
    fixed = again(work, path, "--forcerun", "evaluate")  # the same command, once more
    assert fixed.returncode == 0, fixed.stderr[-3000:]
    assert "rule train" in fixed.stdout + fixed.stderr and (work / TARGET).exists()
    load_torch(work / LAST)


@pytest.mark.workflow
def test_a_damaged_prepared_dataset_is_rebuilt_by_the_next_run(small_workflow):
    work, path, _ = small_workflow
    truncate(work / "data/digits.npz")
    failed = again(work, path, "--forcerun", "evaluate")
    assert failed.returncode != 0
    assert "data/digits.npz: damaged" in failed.stdout + failed.stderr
    fixed = again(work, path, "--forcerun", "evaluate")  # the same command, once more
    assert fixed.returncode == 0, fixed.stderr[-3000:]
    assert "rule prepare_data" in fixed.stdout + fixed.stderr
    load_prepared(work / "data/digits.npz")


@pytest.mark.workflow
def test_a_damaged_evaluation_store_starts_the_evaluation_over(small_workflow):
    work, path, config = small_workflow
    run = resolve_run(
        config, dataset="digits", model="cnn_small", run="natural", eps="16/255", seed=0
    )
    store = work / ".fairat-resume" / _store_name(run, work / LAST)
    store.parent.mkdir(exist_ok=True)
    store.write_bytes(b"\x00" * 10)
    done = again(work, path, "--forcerun", "evaluate")
    assert done.returncode == 0, done.stderr[-3000:]
    log = (work / "logs/evaluate/digits/cnn_small/natural/eps16_255/seed0.log").read_text()
    assert f"{store.name}: damaged" in log and "evaluating from the first batch" in log


def test_a_damaged_input_from_the_output_cache_takes_its_cache_entry_aside(tmp_path):
    """Snakemake's output cache hands a trained run over as symbolic links; a damaged cached
    file must leave the cache too, or the next run would fetch it again, on every retry."""
    from fairat.runtime.checkpoint import load_torch, rebuild_damaged_inputs

    cache = tmp_path / "cache"
    cache.mkdir()
    entry = cache / "0123abcd.pt"
    entry.write_bytes(b"half a checkpoint")
    last = tmp_path / "run" / "last.pt"
    last.parent.mkdir()
    last.symlink_to(entry)
    damaged = pytest.raises(DamagedFileError, match="and its cache entry to .*0123abcd.pt.damaged")
    with damaged, rebuild_damaged_inputs():
        load_torch(last)
    assert not last.exists() and not last.is_symlink() and not entry.exists()
    assert (cache / "0123abcd.pt.damaged").read_bytes() == b"half a checkpoint"
