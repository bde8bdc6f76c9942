"""TRIX: the per-batch strength t, targeted attacks for strong classes and untargeted ones for weak
classes, per-class radii from the DAFA weights, ``mix_from_epoch``, the loss and the state."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from helpers import TOY_CLASSES as NAMES
from helpers import TOY_EPS as EPS
from helpers import toy_data as data
from helpers import toy_method
from helpers import toy_model as tiny_model
from helpers import toy_stats as stats

from fairat.methods import trix as trix_module
from fairat.methods.trix import draw_targets, strong_mask, trix_strength

K = len(NAMES)


def make(params: dict, epochs: int = 5):
    return toy_method("trix", params, epochs)


class Spy:
    def __init__(self, monkeypatch) -> None:
        self.calls: list[dict] = []
        self.real = trix_module.perturb
        monkeypatch.setattr(trix_module, "perturb", self)

    def __call__(self, model, x, y, **kwargs):
        out = self.real(model, x, y, **kwargs)
        self.calls.append({"x": x, "y": y, "out": out, **kwargs})
        return out

    def by_loss(self, name: str) -> list[dict]:
        return [c for c in self.calls if c["loss"] == name]


def expected_strong(model, x, y, lam=1.0):
    model.eval()
    with torch.no_grad():
        p = torch.softmax(model(x), dim=1)
    model.train()
    return strong_mask(p, y, K, lam)


# --- the strength t -----------------------------------------------------------------------------

ROWS = torch.tensor([[0.60, 0.30, 0.10], [0.20, 0.70, 0.10], [0.05, 0.05, 0.90]])


def test_strength_formula_on_a_hand_made_similarity_matrix():
    # One sample per class whose probabilities are the rows: S = ROWS (+ 1e-8 I).
    # t_0 = 1 + S01*S11 + S02*S22 = 1 + 0.21 + 0.09 = 1.30   (S00 < S11, S00 < S22)
    # t_1 = 1 - S01*S11 + S12*S22 = 1 - 0.21 + 0.09 = 0.88   (S11 > S00, S11 < S22)
    # t_2 = 1 - S02*S22 - S12*S22 = 1 - 0.09 - 0.09 = 0.82   (S22 above both)
    y = torch.tensor([0, 1, 2])
    t = trix_strength(ROWS, y, K, 1.0)
    assert torch.allclose(t, torch.tensor([1.30, 0.88, 0.82], dtype=torch.float64), atol=1e-7)
    # lam = 2 doubles the deviations from 1
    t2 = trix_strength(ROWS, y, K, 2.0)
    assert torch.allclose(t2, torch.tensor([1.60, 0.76, 0.64], dtype=torch.float64), atol=1e-7)
    # strong = t_y below the mean over the batch's samples (here 1.0): classes 1 and 2
    assert strong_mask(ROWS, y, K, 1.0).tolist() == [False, True, True]
    # The mean is over samples, not classes: with 8 samples of class 2 it is
    # (1.30 + 0.88 + 8 * 0.82) / 10 = 0.874, so class 1 (0.88) becomes weak.
    y8 = torch.tensor([0, 1] + [2] * 8)
    probs8 = ROWS[y8]
    assert strong_mask(probs8, y8, K, 1.0).tolist() == [False, False] + [True] * 8


def test_strength_with_an_absent_class_uses_a_zero_row_plus_the_diagonal_floor():
    # class 0: mean of (0.8, 0.1, 0.1) and (0.6, 0.3, 0.1) = (0.7, 0.2, 0.1); class 1: (0.3, 0.5, 0.2);
    # class 2 absent: row (0, 0, 1e-8).
    # t_0 = 1 - S10*S00 - S20*S00 = 1 - 0.3*0.7 - 0 = 0.79; t_1 = 1 + S10*S00 - S21*S11 = 1.21;
    # t_2 = 1 + S20*S00 + S21*S11 = 1 (its row is zero).
    probs = torch.tensor([[0.8, 0.1, 0.1], [0.6, 0.3, 0.1], [0.3, 0.5, 0.2]])
    y = torch.tensor([0, 0, 1])
    t = trix_strength(probs, y, K, 1.0)
    assert torch.allclose(t, torch.tensor([0.79, 1.21, 1.0], dtype=torch.float64), atol=1e-7)
    assert strong_mask(probs, y, K, 1.0).tolist() == [True, True, False]


def test_targets_are_uniform_over_the_other_classes():
    g = torch.Generator().manual_seed(0)
    y = torch.tensor([1] * 6000)
    t = draw_targets(y, K, generator=g)
    assert (t != y).all() and ((t >= 0) & (t < K)).all()
    share = (t == 0).double().mean().item()
    assert 0.47 < share < 0.53


# --- the attack ---------------------------------------------------------------------------------


def test_strong_samples_get_targeted_attacks_and_weak_ones_untargeted(monkeypatch):
    method = make({"steps": 4})
    model = tiny_model()
    x, y = data()
    strong = expected_strong(model, x, y)
    assert 0 < strong.sum() < len(y)  # the batch has both kinds
    spy = Spy(monkeypatch)
    method.on_epoch_start(0)
    method.loss(model, x, y)
    assert len(spy.calls) == 2
    (tgt,) = spy.by_loss("ce_targeted")
    (unt,) = spy.by_loss("kl")
    assert torch.equal(tgt["x"], x[strong]) and torch.equal(tgt["y"], y[strong])
    assert torch.equal(unt["x"], x[~strong]) and torch.equal(unt["y"], y[~strong])
    assert (tgt["target"] != tgt["y"]).all()
    assert ((tgt["target"] >= 0) & (tgt["target"] < K)).all()
    assert tgt["random_start"] == unt["random_start"] == "normal"
    assert unt.get("target") is None
    # the targeted attack walks toward its target: CE to the target falls
    with torch.no_grad():
        before = F.cross_entropy(model(tgt["x"]), tgt["target"])
        after = F.cross_entropy(model(tgt["out"]), tgt["target"])
    assert after < before
    # per-class share of targeted samples in the epoch's log
    state = method.log_state()
    for c, name in enumerate(NAMES):
        assert state[f"targeted_{name}"] == pytest.approx(strong[y == c].double().mean().item())


def test_per_class_radius_and_step_follow_the_dafa_weights(monkeypatch):
    method = make({"steps": 3, "warmup_epoch": 1})
    model = tiny_model()
    x, y = data()
    spy = Spy(monkeypatch)
    method.on_epoch_start(0)  # warm-up: the same radius and step for everyone
    method.loss(model, x, y)
    for call in spy.calls:
        assert torch.allclose(call["eps"], torch.full_like(call["eps"], EPS))
        assert torch.allclose(call["step_size"], torch.full_like(call["eps"], EPS / 4))
    method.on_epoch_end(stats(0))
    w = method.ctx.class_weights.clone()
    assert not torch.allclose(w, torch.ones(K), atol=1e-3)
    assert torch.allclose(method.ctx.class_eps, w * EPS)

    spy.calls.clear()
    method.on_epoch_start(1)
    method.loss(model, x, y)
    assert {c["loss"] for c in spy.calls} == {"ce_targeted", "kl"}
    for call in spy.calls:
        assert torch.allclose(call["eps"], w[call["y"]] * EPS)
        assert torch.allclose(call["step_size"], w[call["y"]] * EPS / 4)
        delta = (call["out"] - call["x"]).abs().flatten(1).amax(dim=1)
        assert (delta <= w[call["y"]] * EPS + 1e-6).all()
    state = method.log_state()
    assert state["weight_a"] == pytest.approx(w[0].item())
    assert state["eps_c"] == pytest.approx(w[2].item() * EPS)


def test_mix_from_epoch_delays_the_targeted_attacks(monkeypatch):
    method = make({"steps": 2, "mix_from_epoch": 2})
    model = tiny_model()
    x, y = data()
    assert 0 < expected_strong(model, x, y).sum() < len(y)
    spy = Spy(monkeypatch)
    for epoch in range(3):
        spy.calls.clear()
        method.on_epoch_start(epoch)
        method.loss(model, x, y)
        kinds = [c["loss"] for c in spy.calls]
        if epoch + 1 <= 2:
            assert kinds == ["kl"] and torch.equal(spy.calls[0]["x"], x)
            assert method.log_state()["targeted_a"] == 0.0
        else:
            assert "ce_targeted" in kinds


def test_loss_reassembles_the_batch_and_weights_only_the_clean_term(monkeypatch):
    beta = 6.0
    method = make({"steps": 3, "warmup_epoch": 1, "beta": beta})
    model = tiny_model()
    x, y = data()
    method.on_epoch_start(0)
    method.loss(model, x, y)
    method.on_epoch_end(stats(0))
    w = method.ctx.class_weights
    spy = Spy(monkeypatch)
    method.on_epoch_start(1)
    loss = method.loss(model, x, y)
    strong = expected_strong(model, x, y)
    x_adv = torch.empty_like(x)
    x_adv[strong] = spy.by_loss("ce_targeted")[0]["out"]
    x_adv[~strong] = spy.by_loss("kl")[0]["out"]
    logits, logits_adv = model(x), model(x_adv)
    ce = F.cross_entropy(logits, y, reduction="none")
    kl = F.kl_div(F.log_softmax(logits_adv, 1), F.softmax(logits, 1), reduction="batchmean")
    assert torch.allclose(loss, (w[y] * ce).mean() + beta * kl, atol=1e-6)


def test_state_round_trip_restores_weights_accumulator_and_counts():
    x, y = data()
    model = tiny_model()
    method = make({"steps": 2, "warmup_epoch": 1})
    method.on_epoch_start(0)
    method.loss(model, x, y)
    state = method.state_dict()
    fresh = make({"steps": 2, "warmup_epoch": 1})
    fresh.load_state_dict(state)
    fresh.ctx.epoch = 0
    assert fresh.log_state() == method.log_state()
    method.on_epoch_end(stats(0))
    fresh.on_epoch_end(stats(0))
    assert torch.equal(fresh.ctx.class_weights, method.ctx.class_weights)
    again = make({"steps": 2, "warmup_epoch": 1})
    again.load_state_dict(method.state_dict())
    assert again.schedule.frozen
    assert torch.equal(again.ctx.class_eps, method.ctx.class_eps)


def test_run_interrupted_after_the_warmup_epoch_resumes_bit_identically(digits, tmp_path):
    import dataclasses

    from helpers import assert_resumes_bit_identically, tiny_run

    run = dataclasses.replace(
        tiny_run("trix", epochs=3), method_params={"steps": 2, "warmup_epoch": 2}
    )
    # 0-based epoch 1 is the end of warm-up epoch tau = 2
    a, b = assert_resumes_bit_identically(run, digits, tmp_path, crash=1)
    assert torch.equal(a["method"]["class_weights"], b["method"]["class_weights"])


def test_the_split_depends_on_the_sign_of_lam_only():
    """Why the lambda sweep of paper 004 is over dafa_lam: t = 1 + lam s is below its batch
    mean exactly when s is, so every lam > 0 marks the same samples strong."""
    g = torch.Generator().manual_seed(0)
    y = torch.randint(0, 4, (64,), generator=g)
    probs = torch.softmax(torch.randn(64, 4, generator=g) * 2, dim=1)
    masks = [strong_mask(probs, y, 4, lam) for lam in (0.1, 0.5, 1.0, 2.0, 10.0)]
    assert 0 < masks[0].sum() < len(y)
    assert all(torch.equal(m, masks[0]) for m in masks)
    assert not torch.equal(strong_mask(probs, y, 4, -1.0), masks[0])  # the sign does matter


# --- the attack assignment (the paper's ablation: TRIX-Basic, TRIX-Uniform, TRIX) ---------------


def run_epoch_loss(method, model, x, y, epoch: int, seed: int = 0) -> torch.Tensor:
    method.on_epoch_start(epoch)
    torch.manual_seed(seed)
    return method.loss(model, x, y)


def test_untargeted_assignment_targets_no_sample(monkeypatch):
    method = make({"steps": 2, "assignment": "untargeted"})
    model = tiny_model()
    x, y = data()
    assert 0 < expected_strong(model, x, y).sum() < len(y)  # similarity would split this batch
    spy = Spy(monkeypatch)
    run_epoch_loss(method, model, x, y, 0)
    assert [c["loss"] for c in spy.calls] == ["kl"]
    assert torch.equal(spy.calls[0]["x"], x) and torch.equal(spy.calls[0]["y"], y)
    assert all(method.log_state()[f"targeted_{n}"] == 0.0 for n in NAMES)


def test_targeted_assignment_targets_every_sample_uniformly_over_the_other_classes(monkeypatch):
    method = make({"steps": 1, "assignment": "targeted"})
    model = tiny_model()
    x, y = data(n=3000)
    spy = Spy(monkeypatch)
    run_epoch_loss(method, model, x, y, 0)
    (call,) = spy.calls
    assert call["loss"] == "ce_targeted"
    assert torch.equal(call["x"], x) and torch.equal(call["y"], y)
    target = call["target"]
    assert (target != y).all() and ((target >= 0) & (target < K)).all()
    # 1000 samples per class, 2 other classes: each share 0.5 with standard error 0.016
    for c in range(K):
        share = (target[y == c] == (c + 1) % K).double().mean().item()
        assert 0.43 < share < 0.57, (c, share)
    assert all(method.log_state()[f"targeted_{n}"] == 1.0 for n in NAMES)


def test_similarity_assignment_is_the_default_and_splits_by_strength(monkeypatch):
    model = tiny_model()
    x, y = data()
    strong = expected_strong(model, x, y)
    assert 0 < strong.sum() < len(y)
    losses = {}
    for name, params in {
        "default": {"steps": 2},
        "similarity": {"steps": 2, "assignment": "similarity"},
        "untargeted": {"steps": 2, "assignment": "untargeted"},
        "targeted": {"steps": 2, "assignment": "targeted"},
    }.items():
        spy = Spy(monkeypatch)
        losses[name] = run_epoch_loss(make(params), model, x, y, 0).detach()
        if name in ("default", "similarity"):
            (tgt,) = spy.by_loss("ce_targeted")
            assert torch.equal(tgt["y"], y[strong])
        monkeypatch.undo()
    assert torch.equal(losses["default"], losses["similarity"])
    # the three settings train on different examples
    assert len({v.item() for v in losses.values()}) == 3


def test_untargeted_assignment_is_dafa_step_for_step():
    """TRIX-Basic keeps TRIX's DAFA weights, radii and loss: it is the ``dafa`` method."""
    params = {"steps": 2, "warmup_epoch": 1, "beta": 6.0}
    trix = make({**params, "assignment": "untargeted", "dafa_lam": 1.5})
    dafa = toy_method("dafa", {**params, "lam": 1.5}, 5)
    x, y = data()
    models = [tiny_model(), tiny_model()]
    for epoch in range(3):
        a = run_epoch_loss(trix, models[0], x, y, epoch, seed=epoch)
        b = run_epoch_loss(dafa, models[1], x, y, epoch, seed=epoch)
        assert torch.equal(a, b), epoch
        for method, model, loss in ((trix, models[0], a), (dafa, models[1], b)):
            model.zero_grad()
            loss.backward()
            with torch.no_grad():
                for w in model.parameters():
                    w -= 0.5 * w.grad
            method.on_epoch_end(stats(epoch))
        assert torch.equal(trix.ctx.class_weights, dafa.ctx.class_weights)
    assert not torch.allclose(trix.ctx.class_weights, torch.ones(K), atol=1e-3)


def test_mix_from_epoch_delays_every_assignment(monkeypatch):
    method = make({"steps": 1, "mix_from_epoch": 1, "assignment": "targeted"})
    model = tiny_model()
    x, y = data()
    spy = Spy(monkeypatch)
    run_epoch_loss(method, model, x, y, 0)
    run_epoch_loss(method, model, x, y, 1)
    assert [c["loss"] for c in spy.calls] == ["kl", "ce_targeted"]


def test_an_unknown_assignment_names_the_field_and_the_allowed_values():
    from fairat.config.runs import variants
    from fairat.methods.registry import METHODS

    with pytest.raises(
        ValueError,
        match=r"methods\.trix\.assignment: 'uniform' is not allowed; valid values: "
        r"similarity, untargeted, targeted",
    ):
        METHODS.get("trix").parse_params({"assignment": "uniform"})
    config = {"methods": {"trix_uniform": {"method": "trix", "assignment": "uniform"}}}
    with pytest.raises(ValueError, match=r"methods\.trix_uniform\.assignment: 'uniform'"):
        variants(config)
