"""WAT: Hedge weights from cumulative validation costs, the weighted TRADES loss, and costs that
accumulate over epochs."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from helpers import make_method, train_batch

from fairat.data import to_float
from fairat.methods import METHODS, EpochStats
from fairat.methods import trades as trades_module
from fairat.methods.trades import trades_terms
from fairat.methods.wat import wat_weights


def test_defaults():
    p = METHODS.get("wat").Params()
    assert (p.beta, p.eta, p.steps, p.step_ratio) == (6.0, 0.1, 10, 0.25)


def test_weights_are_k_times_softmax_of_eta_times_cumulative_cost():
    w = wat_weights(torch.tensor([1.0, 2.0, 0.0], dtype=torch.float64), 0.5)
    z = math.exp(0.5) + math.exp(1.0) + 1.0
    expected = [2 * math.exp(0.5) / z, 2 * math.exp(1.0) / z, 2 / z]
    assert w.tolist() == pytest.approx(expected, abs=1e-12)
    assert w.sum().item() == pytest.approx(2.0)
    w = wat_weights(torch.tensor([3.0, 1.0, 0.0, 2.0], dtype=torch.float64), 0.1)
    z = math.exp(0.3) + math.exp(0.1) + 1.0 + math.exp(0.2)
    assert w.tolist() == pytest.approx([3 * math.exp(0.3) / z, 3 * math.exp(0.1) / z, 3 / z,
                                        3 * math.exp(0.2) / z], abs=1e-12)  # fmt: skip
    assert wat_weights(torch.zeros(11), 0.1).tolist() == pytest.approx([10 / 11] * 11)


def test_loss_is_class_weighted_trades_plus_weighted_mean(digits, monkeypatch):
    method, model = make_method("wat", digits)
    x, y = train_batch(digits)
    x_adv = (x + 0.1 * torch.randn(x.shape, generator=torch.Generator().manual_seed(0))).clamp(0, 1)
    monkeypatch.setattr(trades_module, "perturb", lambda *a, **k: x_adv)
    model.train()
    ce, kl = trades_terms(model, x, x_adv, y)
    trades = ce.mean() + 6.0 * kl.mean()
    k = digits.num_classes

    # the reference starts from all-one weights: twice TRADES
    assert torch.equal(method.weights, torch.ones(k + 1))
    assert torch.allclose(method.loss(model, x, y), 2 * trades, rtol=1e-5)
    # uniform weights c: c * (sum of all samples / B) + c * mean = 2c * TRADES
    method.weights = torch.full((k + 1,), 10 / 11)
    assert torch.allclose(method.loss(model, x, y), 20 / 11 * trades, rtol=1e-5)
    # general weights: sum_c w_c * (class-c sum of CE + beta KL) / B + w_avg * TRADES
    method.weights = torch.linspace(0.2, 2.0, k + 1)
    per = ce + 6.0 * kl
    expected = sum(method.weights[c] * per[y == c].sum() for c in range(k)) / len(y)
    expected = expected + method.weights[k] * per.mean()
    assert torch.allclose(method.loss(model, x, y), expected, rtol=1e-5)


def clean_costs(model, digits, k):
    """Per-class and average clean CE of the validation split in eval mode (KL = 0 at x_adv = x)."""
    x, y = to_float(torch.from_numpy(digits.x_val)), torch.from_numpy(digits.y_val)
    model.eval()
    with torch.no_grad():
        ce = F.cross_entropy(model(x), y, reduction="none").double()
    per_class = [ce[y == c].mean() for c in range(k)]
    return torch.tensor([*per_class, ce.mean()], dtype=torch.float64)


def test_validation_costs_accumulate_over_epochs(digits, monkeypatch):
    method, model = make_method("wat", digits)
    k = digits.num_classes
    calls = []

    def identity(m, x, y, **kwargs):
        calls.append((m.training, kwargs["loss"], round(float(kwargs["eps"][0]), 6)))
        return x

    monkeypatch.setattr(trades_module, "perturb", identity)
    model.train()
    method.on_epoch_end(EpochStats(0, torch.ones(k), torch.ones(k), 0.0, model=model))
    assert model.training  # mode restored
    assert calls and all(c == (False, "kl", 0.1) for c in calls)
    cost1 = clean_costs(model, digits, k)
    assert torch.allclose(method.cost, cost1)
    assert torch.allclose(method.cum_cost, cost1)
    assert torch.allclose(method.weights, wat_weights(cost1, 0.1).float())

    with torch.no_grad():  # a different model for the second epoch
        for p in model.parameters():
            p.mul_(1.5)
    method.on_epoch_end(EpochStats(1, torch.ones(k), torch.ones(k), 0.0, model=model))
    cost2 = clean_costs(model, digits, k)
    assert not torch.allclose(cost1, cost2)
    assert torch.allclose(method.cost, cost2)
    assert torch.allclose(method.cum_cost, cost1 + cost2)
    assert torch.allclose(method.weights, wat_weights(cost1 + cost2, 0.1).float())
    state = method.log_state()
    assert state["weight_avg"] == pytest.approx(float(method.weights[k]))
    assert state["cost_" + digits.class_names[2]] == pytest.approx(float(cost2[2]))

    fresh, _ = make_method("wat", digits)
    fresh.load_state_dict(method.state_dict())
    assert torch.equal(fresh.weights, method.weights)
    assert torch.equal(fresh.cum_cost, method.cum_cost)


def test_real_validation_attack_adds_a_nonnegative_kl_term(digits):
    method, model = make_method("wat", digits, {"steps": 2})
    k = digits.num_classes
    method.on_epoch_end(EpochStats(0, torch.ones(k), torch.ones(k), 0.0, model=model))
    clean = clean_costs(model, digits, k)
    assert torch.isfinite(method.cost).all()
    assert (method.cost >= clean - 1e-6).all() and (method.cost > clean + 1e-6).any()
