"""CFA: calibrated radii and TRADES weights from class accuracies, training robust accuracy
counted in the loss, and FAWA weight averaging only in epochs that pass the worst-class bar."""

from __future__ import annotations

import pytest
import torch
from helpers import make_method, train_batch

from fairat.methods import METHODS, EpochStats
from fairat.methods import trades as trades_module
from fairat.methods.cfa import cfa_beta, cfa_eps
from fairat.methods.trades import trades_terms


def stats(epoch, worst, model, k=10):
    robust = torch.full((k,), 0.9)
    robust[3] = worst
    return EpochStats(epoch, torch.ones(k), robust, 0.0, model=model)


def test_defaults():
    p = METHODS.get("cfa").Params()
    assert (p.beta, p.lam1, p.lam2, p.warmup_epoch) == (6.0, 0.5, 0.5, 10)
    assert (p.fawa_threshold, p.fawa_decay) == (0.2, 0.88)


def test_calibrated_radius_and_beta_from_class_accuracies():
    r = torch.tensor([0.2, 0.5, 0.9], dtype=torch.float64)
    eps = 8 / 255
    assert torch.allclose(
        cfa_eps(r, eps, 0.5), torch.tensor([0.7, 1.0, 1.4], dtype=torch.float64) * eps
    )
    assert torch.allclose(
        cfa_eps(r, eps, 0.3), torch.tensor([0.5, 0.8, 1.2], dtype=torch.float64) * eps
    )
    expected = torch.tensor([4.2 / 5.2, 6 / 7, 8.4 / 9.4], dtype=torch.float64)
    assert torch.allclose(cfa_beta(r, 6.0, 0.5), expected)
    assert torch.allclose(cfa_beta(torch.zeros(1), 1.0, 1.0), torch.tensor([0.5]))


def test_loss_counts_training_robust_accuracy_and_weights_by_class(digits, monkeypatch):
    method, model = make_method("cfa", digits, {"warmup_epoch": 1})
    x, y = train_batch(digits)
    x_adv = (x + 0.1 * torch.randn(x.shape, generator=torch.Generator().manual_seed(0))).clamp(0, 1)
    seen = {}

    def fake(model, x, y, **kwargs):
        seen.update(kwargs)
        return x_adv

    monkeypatch.setattr(trades_module, "perturb", fake)
    k = digits.num_classes
    method.ctx.class_eps = torch.linspace(0.05, 0.14, k)
    method.class_beta = torch.linspace(0.5, 0.95, k)
    method.on_epoch_start(0)
    model.train()
    got = method.loss(model, x, y)
    assert torch.equal(seen["eps"], method.ctx.class_eps[y])
    assert torch.allclose(seen["step_size"], 0.25 * method.ctx.class_eps[y])
    assert seen["loss"] == "kl" and seen["random_start"] == "normal"

    ce, kl = trades_terms(model, x, x_adv, y)
    b = method.class_beta[y]
    assert torch.allclose(got, ((1 - b) * ce + b * kl).mean(), rtol=1e-5)

    hits = model(x_adv).argmax(1) == y  # train mode, as in the loss
    correct = torch.bincount(y[hits], minlength=k)
    counts = torch.bincount(y, minlength=k)
    assert torch.equal(method.correct, correct) and torch.equal(method.seen, counts)

    method.on_epoch_end(stats(0, 0.0, model, k))  # epoch 2 > warmup_epoch 1: calibrated
    r = correct.float() / counts.clamp(min=1).float()
    assert torch.allclose(method.train_robust, r)
    assert torch.allclose(method.ctx.class_eps, (0.5 + r) * 0.1)
    assert torch.allclose(method.class_beta, cfa_beta(r, 6.0, 0.5))
    state = method.log_state()
    assert state["calibrated"] == 1.0 and state["fawa_used"] == 0.0
    assert state["train_robust_" + digits.class_names[0]] == pytest.approx(float(r[0]))
    method.on_epoch_start(1)
    assert method.seen.sum() == 0  # counts restart every epoch


def test_warm_up_epochs_are_uniform_trades_over_one_plus_beta(digits):
    method, model = make_method("cfa", digits, {"warmup_epoch": 3})
    k = digits.num_classes
    method.correct = torch.arange(k)
    method.seen = torch.full((k,), k)
    for epoch in (0, 1):  # after epochs 1 and 2: epochs 2 and 3 are still warm-up
        method.on_epoch_end(stats(epoch, 0.0, model, k))
        assert torch.equal(method.ctx.class_eps, torch.full((k,), 0.1))
        assert torch.allclose(method.class_beta, torch.full((k,), 6 / 7))
        assert not method.calibrated
    method.on_epoch_end(stats(2, 0.0, model, k))  # epoch 4 is calibrated
    r = torch.arange(k) / k
    assert torch.allclose(method.ctx.class_eps, (0.5 + r) * 0.1)


def fill(model, value, tracked=None):
    for v in model.state_dict().values():
        if v.is_floating_point():
            v.fill_(value)
        elif tracked is not None:
            v.fill_(tracked)


def test_fawa_averages_only_epochs_whose_worst_class_passes(digits):
    method, model = make_method("cfa", digits)
    k = digits.num_classes

    fill(model, 1.0, tracked=5)
    method.on_epoch_end(stats(0, 0.1, model, k))  # fails: nothing averaged
    assert method.fawa is None and not method.fawa_used
    for key, v in method.checkpoint_weights(model).items():
        assert torch.equal(v, model.state_dict()[key])

    fill(model, 2.0, tracked=6)
    method.on_epoch_end(stats(1, 0.3, model, k))  # first pass: a copy of the model
    assert method.fawa_used and method.fawa_epochs == 1
    fill(model, 3.0, tracked=7)  # the average is a copy, not a view of the model
    weights = method.checkpoint_weights(model)
    assert weights.keys() == model.state_dict().keys()
    assert all(torch.all(v == (2.0 if v.is_floating_point() else 6)) for v in weights.values())

    method.on_epoch_end(stats(2, 0.1, model, k))  # fails: the average is unchanged
    assert not method.fawa_used and method.fawa_epochs == 1
    weights = method.checkpoint_weights(model)
    assert all(torch.all(v == (2.0 if v.is_floating_point() else 6)) for v in weights.values())

    fill(model, 4.0, tracked=8)
    method.on_epoch_end(stats(3, 0.3, model, k))  # passes: 0.88 * 2 + 0.12 * 4
    weights = method.checkpoint_weights(model)
    for key, v in weights.items():
        if v.is_floating_point():
            assert torch.allclose(v, torch.full_like(v, 0.88 * 2.0 + 0.12 * 4.0)), key
        else:
            assert torch.all(v == 8), key  # integer buffers take the current value
    assert method.log_state()["fawa_epochs"] == 2.0

    fresh, other = make_method("cfa", digits)
    fresh.load_state_dict(method.state_dict())
    for key, v in fresh.checkpoint_weights(other).items():
        assert torch.equal(v, weights[key]), key
    assert torch.equal(fresh.class_beta, method.class_beta) and fresh.fawa_epochs == 2


def test_fawa_unwraps_a_compiled_model(digits):
    method, model = make_method("cfa", digits)

    class Wrapped(torch.nn.Module):  # torch.compile's OptimizedModule keeps the model here
        def __init__(self, inner):
            super().__init__()
            self._orig_mod = inner

    method.on_epoch_end(stats(0, 0.5, Wrapped(model), digits.num_classes))
    assert method.checkpoint_weights(model).keys() == model.state_dict().keys()
