"""Training: outputs, bit-identical resume after a crash, no resume across configs, schedules."""

from __future__ import annotations

import dataclasses

import pandas as pd
import pytest
import torch
from helpers import Crash, crash_after, digits_context

from fairat.config.runs import EvalConfig, RunConfig, TrainConfig
from fairat.methods import EpochStats
from fairat.runtime.checkpoint import load_torch
from fairat.training.loop import lr_factor, selection_score, train, validate
from fairat.training.network import build_model


def test_outputs_and_checkpoint_contents(digits, tiny_run, tmp_path):
    run = tiny_run("trades", epochs=2)
    history = pd.DataFrame(
        train(run, digits, tmp_path / "out", tmp_path / "resume", progress=False)
    )
    assert list(history["epoch"]) == [1, 2]
    for name in ("last.pt", "best.pt", "history.csv", "method_state.csv", "config.json"):
        assert (tmp_path / "out" / name).exists()
    last = load_torch(tmp_path / "out" / "last.pt")
    assert {"model", "optimizer", "scheduler", "epoch", "rng", "config", "method"} <= set(last)
    assert last["epoch"] == 1
    assert last["config"] == run.training_json()
    assert RunConfig.from_json(last["config"]).training_json() == run.training_json()
    best = load_torch(tmp_path / "out" / "best.pt")
    assert best["epoch"] in (0, 1)
    assert not list((tmp_path / "resume").glob("*.pt"))  # resume state removed after success
    assert {f"val_robust_{c}" for c in digits.class_names} <= set(history.columns)


def test_interrupted_run_resumes_bit_identically(digits, tiny_run, tmp_path):
    run = tiny_run("pgd_at", epochs=3)
    train(run, digits, tmp_path / "straight", tmp_path / "r1", progress=False)

    with pytest.raises(Crash):
        train(
            run,
            digits,
            tmp_path / "resumed",
            tmp_path / "r2",
            progress=False,
            after_epoch=crash_after(1),
        )
    assert not (tmp_path / "resumed" / "last.pt").exists()  # nothing half-written
    assert len(list((tmp_path / "r2").glob("*.pt"))) == 1
    history = pd.DataFrame(
        train(run, digits, tmp_path / "resumed", tmp_path / "r2", progress=False)
    )
    assert list(history["epoch"]) == [1, 2, 3]

    a = load_torch(tmp_path / "straight" / "last.pt")
    b = load_torch(tmp_path / "resumed" / "last.pt")
    for key, value in a["model"].items():
        assert torch.equal(value, b["model"][key]), key
    assert a["optimizer"]["state"].keys() == b["optimizer"]["state"].keys()
    for k, state in a["optimizer"]["state"].items():
        assert torch.equal(state["momentum_buffer"], b["optimizer"]["state"][k]["momentum_buffer"])
    best_a = load_torch(tmp_path / "straight" / "best.pt")
    best_b = load_torch(tmp_path / "resumed" / "best.pt")
    assert best_a["epoch"] == best_b["epoch"]


def test_training_depends_on_the_run_but_not_on_its_evaluation(tiny_run):
    run = tiny_run("pgd_at")
    suite = dataclasses.replace(run, evaluation=EvalConfig(suite="paper", batch_size=7))
    assert suite.training_json() == run.training_json() and suite.key() == run.key()
    assert suite.to_json() != run.to_json()
    stronger = dataclasses.replace(run, method_params={"steps": 3})
    assert stronger.training_json() != run.training_json() and stronger.key() != run.key()


def test_changed_config_does_not_resume(digits, tiny_run, tmp_path):
    run = tiny_run("natural", epochs=3)
    with pytest.raises(Crash):
        train(
            run,
            digits,
            tmp_path / "out",
            tmp_path / "resume",
            progress=False,
            after_epoch=crash_after(1),
        )
    changed = dataclasses.replace(run, train=dataclasses.replace(run.train, lr=0.01))
    assert changed.key() != run.key()
    epochs_run = []
    train(
        changed,
        digits,
        tmp_path / "out",
        tmp_path / "resume",
        progress=False,
        after_epoch=epochs_run.append,
    )
    assert epochs_run == [0, 1, 2]  # started from scratch
    # the old run's state is still there and still resumes only its own config
    assert (tmp_path / "resume" / f"{run.key()}.pt").exists()
    # evaluation-only changes keep the key
    assert dataclasses.replace(run, device="cuda").key() == run.key()


def test_same_seed_same_weights_different_seed_different(digits, tiny_run, tmp_path):
    runs = {"a": tiny_run("natural", epochs=1), "b": tiny_run("natural", epochs=1)}
    runs["c"] = dataclasses.replace(runs["a"], seed=1)
    weights = {}
    for name, run in runs.items():
        train(run, digits, tmp_path / name, tmp_path / f"r{name}", progress=False)
        weights[name] = load_torch(tmp_path / name / "last.pt")["model"]
    assert all(torch.equal(v, weights["b"][k]) for k, v in weights["a"].items())
    assert not all(torch.equal(v, weights["c"][k]) for k, v in weights["a"].items())


def test_lr_schedules():
    # milestones are 1-based epoch numbers from which the lr is lower (the reference scripts'
    # ``epoch >= m``): 0-based epoch 99 is epoch 100, the first at a tenth
    piecewise = lr_factor(TrainConfig(epochs=110, milestones=(100, 105), gamma=0.1))
    assert [piecewise(e) for e in (0, 98, 99, 103, 104, 109)] == pytest.approx(
        [1, 1, 0.1, 0.1, 0.01, 0.01]
    )
    cosine = lr_factor(TrainConfig(epochs=10, schedule="cosine"))
    assert cosine(0) == 1.0 and cosine(5) == pytest.approx(0.5)


def test_train_config_errors_name_the_field():
    with pytest.raises(
        ValueError, match=r"train\.optimizer: 'adamw' is not allowed; valid values: sgd, adam"
    ):
        TrainConfig(optimizer="adamw")
    with pytest.raises(ValueError, match=r"train\.milestones"):
        TrainConfig(epochs=10, milestones=(20,))


def expected_best(history, prefix: str) -> int:
    """0-based epoch maximising (worst, average) of ``prefix`` accuracy, ties to the later."""
    rows = zip(history[f"{prefix}_worst"], history[f"{prefix}_avg"], history["epoch"], strict=True)
    return max(list(rows))[2] - 1


def test_selection_rule_and_its_tie_breaks():
    stats = EpochStats(
        epoch=0,
        val_clean=torch.tensor([0.9, 0.5]),
        val_robust=torch.tensor([0.0, 0.0]),
        train_loss=0.0,
    )
    assert selection_score(stats, "clean") == pytest.approx((0.5, 0.7))
    assert selection_score(stats, "robust") == (0.0, 0.0)


def test_natural_training_selects_best_on_worst_class_clean_accuracy(digits, tiny_run, tmp_path):
    """Natural's robust accuracy is 0 in every epoch: selecting on it would pick by ties."""
    run = tiny_run("natural", epochs=4, lr=0.05, batch_size=64)
    history = pd.DataFrame(train(run, digits, tmp_path, tmp_path / "resume", progress=False))
    best = load_torch(tmp_path / "best.pt")
    assert best["selects_on"] == "clean"
    assert list(history["select_worst"]) == list(history["val_clean_worst"])
    assert best["epoch"] == expected_best(history, "val_clean")
    assert best["select_score"] == pytest.approx(
        [history["val_clean_worst"][best["epoch"]], history["val_clean_avg"][best["epoch"]]]
    )


def test_ties_go_to_the_later_epoch(digits, tiny_run, tmp_path, monkeypatch):
    import fairat.training.loop as trainer

    constant = EpochStats(
        epoch=0,
        val_clean=torch.full((10,), 0.5),
        val_robust=torch.full((10,), 0.25),
        train_loss=0.0,
    )
    monkeypatch.setattr(trainer, "validate", lambda *a, **k: dataclasses.replace(constant))
    run = tiny_run("pgd_at", epochs=3)
    train(run, digits, tmp_path, tmp_path / "resume", progress=False)
    assert load_torch(tmp_path / "best.pt")["epoch"] == 2  # every epoch ties: the last wins


def test_cfa_best_is_selected_by_validating_the_averaged_weights_it_saves(
    digits, tiny_run, tmp_path
):
    """CFA saves FAWA-averaged weights; best.pt must be chosen on their own validation score
    (docs/specification.md#conventions), not on the current model's."""
    run = dataclasses.replace(
        tiny_run("cfa", epochs=4),
        method_params={"steps": 2, "warmup_epoch": 1, "fawa_threshold": 0.0},
    )
    history = pd.DataFrame(train(run, digits, tmp_path, tmp_path / "resume", progress=False))
    # from the first epoch on, the average exists and differs from the current model
    assert (history["select_worst"] != history["val_robust_worst"]).any() or (
        history["select_avg"] != history["val_robust_avg"]
    ).any()
    best = load_torch(tmp_path / "best.pt")
    assert best["epoch"] == expected_best(history, "select")
    # validating the saved weights gives the score they were selected by
    model = build_model(run, digits)
    model.load_state_dict(best["model"])
    stats = validate(model, digits_context(digits, run.eps, 4), run)
    assert [float(stats.val_robust.min()), float(stats.val_robust.mean())] == pytest.approx(
        best["select_score"]
    )
