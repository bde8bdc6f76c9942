"""FRL (frl_rw, frl_rwrm): multiplier, weight and radius updates on hand-made validation
statistics, the weighted TRADES loss, and fine-tuning from the TRADES checkpoint."""

from __future__ import annotations

import dataclasses
import math

import pandas as pd
import pytest
import torch
from helpers import make_method

from fairat.data import to_float
from fairat.methods import METHODS, EpochStats, _frl
from fairat.methods import trades as trades_module
from fairat.methods._frl import (
    FRLBase,
    frl_eps_scale,
    frl_update,
    frl_weights,
    normalise_multipliers,
)
from fairat.methods.trades import trades_terms
from fairat.runtime.checkpoint import load_torch
from fairat.training.loop import train

RW = METHODS.get("frl_rw").Params()
RWRM = METHODS.get("frl_rwrm").Params()


def t(*values):
    return torch.tensor(values, dtype=torch.float64)


# acc, advacc of four equally weighted classes: total clean error 0.3, total boundary error 0.3
ACC = t(0.9, 0.8, 0.6, 0.5)
ADV = t(0.6, 0.5, 0.2, 0.3)
# R_nat = (0.1, 0.2, 0.4, 0.5), R_bdy = (0.3, 0.3, 0.4, 0.2)
# tau = 0.1: gamma0 = (-0.3, -0.2, 0.0, 0.1), gamma1 = (-0.1, -0.1, 0.0, -0.2)


def test_both_variants_fine_tune_trades_with_the_documented_defaults():
    assert METHODS.get("frl_rw").init_from == "trades"
    assert METHODS.get("frl_rwrm").init_from == "trades"
    assert (RW.tau, RW.alpha1, RW.lim, RW.beta, RW.alpha_halve_every) == (0.1, 0.05, 0.5, 1.5, 40)
    assert (RWRM.tau, RWRM.alpha2, RWRM.eps_min, RWRM.eps_max) == (0.07, 0.2, 0.98, 3.0)
    assert not hasattr(RW, "alpha2")


def test_update_from_zero_clamps_negative_multipliers():
    new = frl_update(torch.zeros(3, 4, dtype=torch.float64), ACC, ADV, RW)
    # lambda0 = 0.05 * gamma0 = (-0.015, -0.01, 0, 0.005) -> clamped at 0; sum 0.005 <= lim
    assert torch.allclose(new[0], t(0.0, 0.0, 0.0, 0.005), atol=1e-12)
    # lambda1 = 2 * 0.05 * gamma1 <= 0 everywhere -> 0
    assert torch.equal(new[1], torch.zeros(4, dtype=torch.float64))
    # reweight only: lambda2 does not move
    assert torch.equal(new[2], torch.zeros(4, dtype=torch.float64))


def test_update_rescales_to_lim_when_the_sum_exceeds_it():
    lam = torch.stack([t(0.3, 0.0, 0.2, 0.1), t(0.0, 0.1, 0.0, 0.2), t(0.0, 0.0, 0.0, 0.0)])
    new = frl_update(lam, ACC, ADV, RW)
    # lambda0: (0.285, -0.01, 0.2, 0.105) -> clamp (0.285, 0, 0.2, 0.105), sum 0.59 > 0.5
    assert torch.allclose(new[0], t(0.285, 0.0, 0.2, 0.105) * (0.5 / 0.59), atol=1e-12)
    assert new[0].sum().item() == pytest.approx(0.5)
    # lambda1: (0.0, 0.1, 0.0, 0.2) + 0.1 * gamma1 = (-0.01, 0.09, 0.0, 0.18) -> sum 0.27 kept
    assert torch.allclose(new[1], t(0.0, 0.09, 0.0, 0.18), atol=1e-12)
    assert normalise_multipliers(t(-1.0, 0.2, 0.2), 0.5).tolist() == [0.0, 0.2, 0.2]


def test_remargin_moves_lambda2_unclamped_with_alpha2():
    lam = torch.zeros(3, 4, dtype=torch.float64)
    new = frl_update(lam, ACC, ADV, RWRM)
    # tau = 0.07: gamma1 = R_bdy - 0.3 - 0.07 = (-0.07, -0.07, 0.03, -0.17); lambda2 = 0.2 gamma1
    assert torch.allclose(new[2], t(-0.014, -0.014, 0.006, -0.034), atol=1e-12)
    # lambda1 = 0.1 * gamma1 -> only class 2 stays positive
    assert torch.allclose(new[1], t(0.0, 0.0, 0.003, 0.0), atol=1e-12)


def test_halved_rate_and_class_counts_in_the_averages():
    acc, adv, counts = t(0.5, 1.0, 0.0, 0.0), t(0.5, 0.0, 0.0, 0.0), t(2, 1, 1, 0)
    new = frl_update(
        torch.zeros(3, 4, dtype=torch.float64), acc, adv, RW, alpha1=0.025, counts=counts
    )
    # sample-weighted totals: clean error (1 + 0 + 1) / 4 = 0.5, boundary error (0 + 1 + 0) / 4
    # gamma0 = (-0.1, -0.6, 0.4, absent -> 0), gamma1 = (-0.35, 0.65, -0.35, 0)
    assert torch.allclose(new[0], t(0.0, 0.0, 0.01, 0.0), atol=1e-12)
    assert torch.allclose(new[1], t(0.0, 0.0325, 0.0, 0.0), atol=1e-12)


def test_class_weights_from_multipliers():
    lam = torch.stack([t(0.25, 0.0, 0.15, 0.1), t(0.0, 0.5, 0.0, 0.0), t(0.0, 0.0, 0.0, 0.0)])
    w0, w1 = frl_weights(lam)
    # w_i = 1/4 + lambda_i - sum(lambda) / 4
    assert torch.allclose(w0, t(0.375, 0.125, 0.275, 0.225), atol=1e-12)
    assert torch.allclose(w1, t(0.125, 0.625, 0.125, 0.125), atol=1e-12)
    w0, w1 = frl_weights(torch.zeros(3, 4))
    assert torch.allclose(w0, torch.full((4,), 0.25)) and torch.allclose(w1, w0)


def test_remargin_radius_is_clamped_between_098_and_3(digits):
    lam2 = t(-0.1, 0.0, 0.2, 1.0)
    assert torch.allclose(frl_eps_scale(lam2), t(0.98, 1.0, math.exp(0.4), 3.0), atol=1e-12)
    method, _ = make_method("frl_rwrm", digits)
    lam = torch.zeros(3, digits.num_classes, dtype=torch.float64)
    lam[2, :4] = lam2
    method.load_state_dict({**method.state_dict(), "lambdas": lam})
    expected = 0.1 * torch.tensor([0.98, 1.0, math.exp(0.4), 3.0])
    assert torch.allclose(method.ctx.class_eps[:4], expected)
    assert torch.allclose(method.ctx.class_eps[4:], torch.full((digits.num_classes - 4,), 0.1))
    rw, _ = make_method("frl_rw", digits)
    rw.load_state_dict({**rw.state_dict(), "lambdas": lam})  # reweight ignores lambda2
    assert torch.equal(rw.ctx.class_eps, torch.full((digits.num_classes,), 0.1))


def test_alpha1_is_halved_every_40_epochs(digits):
    method, _ = make_method("frl_rw", digits)
    assert [method.alpha1_for(n) for n in (1, 39, 40, 79, 80)] == [
        0.05,
        0.05,
        0.025,
        0.025,
        0.0125,
    ]
    never, _ = make_method("frl_rw", digits, {"alpha_halve_every": 0})
    assert never.alpha1_for(80) == 0.05


def test_epoch_end_update_uses_validation_stats_of_the_validated_model(digits, monkeypatch):
    k = digits.num_classes
    acc = torch.linspace(0.9, 0.4, k, dtype=torch.float64)
    adv = acc - torch.linspace(0.1, 0.5, k, dtype=torch.float64)
    counts = torch.full((k,), 10.0, dtype=torch.float64)
    seen = {}

    def fake(model, x, y, num_classes, *, eps, steps, clamp, generator, batch_size=256):
        seen.update(model=model, steps=steps, eps=eps)
        return acc, adv, counts

    monkeypatch.setattr(_frl, "class_accuracy", fake)
    method, model = make_method("frl_rwrm", digits)
    stats = EpochStats(38, torch.ones(k), torch.ones(k), 0.0, model=model)
    method.on_epoch_end(stats)  # after 1-based epoch 39: the update for epoch 40 is halved
    assert seen == {"model": model, "steps": 20, "eps": 0.1}
    expected = frl_update(torch.zeros(3, k, dtype=torch.float64), acc, adv, RWRM, alpha1=0.025)
    assert torch.allclose(method.lambdas, expected)
    w0, w1 = frl_weights(expected)
    assert torch.allclose(method.w0, w0.float()) and torch.allclose(method.w1, w1.float())
    assert torch.allclose(method.ctx.class_eps, (0.1 * frl_eps_scale(expected[2])).float())
    state = method.log_state()
    assert state["w0_" + digits.class_names[0]] == pytest.approx(float(w0[0]))
    assert {"eps_" + n for n in digits.class_names} <= set(state)
    assert "lambda2_" + digits.class_names[0] in state

    fresh, _ = make_method("frl_rwrm", digits)
    fresh.load_state_dict(method.state_dict())
    assert torch.equal(fresh.lambdas, method.lambdas) and fresh.updates == 1
    assert torch.equal(fresh.w1, method.w1) and torch.equal(
        fresh.ctx.class_eps, method.ctx.class_eps
    )


def test_first_loss_call_updates_once_before_training(digits):
    method, model = make_method("frl_rw", digits, {"steps": 1, "val_steps": 1})
    x = to_float(torch.from_numpy(digits.x_train[:32]))
    y = torch.from_numpy(digits.y_train[:32])
    model.train()
    method.loss(model, x, y)
    assert method.updates == 1 and model.training
    lam = method.lambdas.clone()
    method.loss(model, x, y)
    assert method.updates == 1 and torch.equal(method.lambdas, lam)


def test_class_accuracy_counts_per_class(digits):
    method, model = make_method("frl_rw", digits)
    x, y = method.ctx.x_val, method.ctx.y_val
    acc, adv, counts = _frl.class_accuracy(
        model, x, y, digits.num_classes, eps=0.1, steps=2, clamp=True, generator=None, batch_size=50
    )
    model.eval()
    with torch.no_grad():
        ok = model(x).argmax(1) == y
    k = digits.num_classes
    assert torch.equal(counts, torch.bincount(y, minlength=k).double())
    assert torch.allclose(acc, torch.bincount(y[ok], minlength=k).double() / counts)
    assert (adv <= 1).all() and (adv >= 0).all()


@pytest.mark.parametrize("norm", ["separate", "joint"])
def test_loss_weights_ce_and_kl_by_class(digits, monkeypatch, norm):
    method, model = make_method("frl_rw", digits, {"steps": 1, "loss_norm": norm})
    x = to_float(torch.from_numpy(digits.x_train[:64]))
    y = torch.from_numpy(digits.y_train[:64])
    x_adv = (x + 0.1 * torch.randn(x.shape, generator=torch.Generator().manual_seed(0))).clamp(0, 1)
    monkeypatch.setattr(trades_module, "perturb", lambda *a, **k: x_adv)
    k = digits.num_classes
    lam = torch.zeros(3, k, dtype=torch.float64)
    lam[0, 3], lam[1, 5], lam[1, 7] = 0.4, 0.2, 0.1
    method.lambdas, method.updates = lam, 1
    method._refresh()
    model.train()
    got = method.loss(model, x, y)
    ce, kl = trades_terms(model, x, x_adv, y)
    w0, w1 = frl_weights(lam)
    w0, w1 = w0.float()[y], w1.float()[y]
    if norm == "separate":
        expected = (w0 * ce).sum() / w0.sum() + 1.5 * (w1 * kl).sum() / w1.sum()
    else:
        expected = (w0 * ce + 1.5 * w1 * kl).sum() / (w0 + w1).sum()
    assert torch.allclose(got, expected, rtol=1e-5)
    # uniform multipliers: separate normalisation is exactly TRADES with beta 1.5
    method.lambdas = torch.zeros(3, k, dtype=torch.float64)
    method._refresh()
    trades = ce.mean() + 1.5 * kl.mean()
    factor = 1.0 if norm == "separate" else 0.5
    assert torch.allclose(method.loss(model, x, y), factor * trades, rtol=1e-5)


def test_fine_tuning_starts_from_the_trades_checkpoint(digits, tiny_run, tmp_path, monkeypatch):
    trades_run = tiny_run("trades", epochs=1)
    train(trades_run, digits, tmp_path / "trades", tmp_path / "r1", progress=False)
    init = tmp_path / "trades" / "last.pt"
    run = dataclasses.replace(
        tiny_run("frl_rw", epochs=1), method_params={"steps": 1, "val_steps": 1}
    )
    with pytest.raises(
        ValueError, match="run 'frl_rw' fine-tunes the 'last' checkpoint of run 'trades'"
    ):
        train(run, digits, tmp_path / "no_init", tmp_path / "r2", progress=False)

    first = {}
    real = FRLBase.loss

    def spy(self, model, x, y):
        if not first:
            first.update({k: v.detach().clone() for k, v in model.state_dict().items()})
        return real(self, model, x, y)

    monkeypatch.setattr(FRLBase, "loss", spy)
    train(run, digits, tmp_path / "frl", tmp_path / "r3", init_checkpoint=init, progress=False)
    start = load_torch(init)["model"]
    assert first.keys() == start.keys()
    for key, value in start.items():
        assert torch.equal(first[key], value), key
    state = pd.read_csv(tmp_path / "frl" / "method_state.csv")
    assert {"w0_" + n for n in digits.class_names} <= set(state.columns)
    assert list(state["epoch"]) == [1]
