"""DAFA: the class-weight formula, the one-time freeze after warm-up epoch tau, per-class radii and
steps reaching the (single) attack, the weighted loss, and the resume state."""

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

from fairat.methods import trades as trades_module
from fairat.methods._dafa_weights import class_similarity, dafa_weights

K = len(NAMES)


def make(params: dict, epochs: int = 5):
    return toy_method("dafa", params, epochs)


class Spy:
    """Records every call of the real ``perturb`` that the dafa module uses."""

    def __init__(self, monkeypatch, module) -> None:
        self.calls: list[dict] = []
        self.real = module.perturb
        monkeypatch.setattr(module, "perturb", self)

    def __call__(self, model, x, y, **kwargs):
        out = self.real(model, x, y, **kwargs)
        self.calls.append({"x": x, "y": y, "out": out, **kwargs})
        return out


# --- the weight formula -------------------------------------------------------------------------

P = torch.tensor(
    [
        [0.60, 0.30, 0.10],
        [0.20, 0.70, 0.10],
        [0.05, 0.05, 0.90],
    ],
    dtype=torch.float64,
)


def test_weight_formula_on_a_hand_made_matrix():
    # Diagonal 0.6 < 0.7 < 0.9: class 0 is the weakest, class 2 the strongest.
    # P_i(j) = P[i][j]. Branches: "gain" +P_i(j)*P_j(j) if P_i(i) < P_j(j), else "give" -P_j(i)*P_i(i).
    # W_0 = 1 + P_0(1)*P_1(1) + P_0(2)*P_2(2) = 1 + 0.3*0.7 + 0.1*0.9 = 1.30  (gain, gain)
    # W_1 = 1 - P_0(1)*P_1(1) + P_1(2)*P_2(2) = 1 - 0.3*0.7 + 0.1*0.9 = 0.88  (give, gain)
    # W_2 = 1 - P_0(2)*P_2(2) - P_1(2)*P_2(2) = 1 - 0.1*0.9 - 0.1*0.9 = 0.82  (give, give)
    w = dafa_weights(P, 1.0)
    assert torch.allclose(w, torch.tensor([1.30, 0.88, 0.82], dtype=torch.float64), atol=1e-12)
    assert w.sum().item() == pytest.approx(3.0)  # weight is traded between classes
    # lam scales the deviation from 1: 1 + 1.5 * (0.30, -0.12, -0.18)
    w15 = dafa_weights(P, 1.5)
    assert torch.allclose(w15, torch.tensor([1.45, 0.82, 0.73], dtype=torch.float64), atol=1e-12)
    # Not the rucy74/DAFA utils.py variant, whose second branch is -P_i(j)*P_j(j):
    # it would give W_1 = 1 - 0.2*0.6 + 0.09 = 0.97.
    assert w[1].item() != pytest.approx(0.97)


def test_weight_formula_ties_take_the_subtracting_branch():
    tie = torch.tensor([[0.5, 0.5], [0.5, 0.5]], dtype=torch.float64)
    assert torch.allclose(dafa_weights(tie, 1.0), torch.tensor([0.75, 0.75], dtype=torch.float64))


def test_class_similarity_means_rows_and_zeroes_absent_classes():
    probs = torch.tensor([[0.8, 0.1, 0.1], [0.6, 0.3, 0.1], [0.3, 0.5, 0.2]])
    sim = class_similarity(probs, torch.tensor([0, 0, 1]), K)
    expected = torch.tensor(
        [[0.7, 0.2, 0.1], [0.3, 0.5, 0.2], [0.0, 0.0, 0.0]], dtype=torch.float64
    )
    assert torch.allclose(sim, expected, atol=1e-7)


# --- the schedule -------------------------------------------------------------------------------


def test_weights_change_once_at_the_end_of_the_warmup_epoch_and_are_frozen(monkeypatch):
    tau = 2
    method = make({"warmup_epoch": tau, "steps": 3})
    model = tiny_model()
    opt = torch.optim.SGD(model.parameters(), lr=0.5)
    spy = Spy(monkeypatch, trades_module)
    x, y = data()
    sums = torch.zeros(K, K, dtype=torch.float64)
    history = []
    for epoch in range(5):
        method.on_epoch_start(epoch)
        for xb, yb in ((x[:24], y[:24]), (x[24:], y[24:])):
            loss = method.loss(model, xb, yb)
            if (
                epoch + 1 == tau
            ):  # the adversarial softmax of the training forward (no BatchNorm here)
                with torch.no_grad():
                    p_adv = torch.softmax(model(spy.calls[-1]["out"]), dim=1).double()
                sums += F.one_hot(yb, K).double().T @ p_adv
            opt.zero_grad()
            loss.backward()
            opt.step()
        method.on_epoch_end(stats(epoch))
        history.append(method.ctx.class_weights.clone())
        assert method.log_state()["weights_frozen"] == float(epoch + 1 >= tau)

    assert torch.equal(history[0], torch.ones(K))
    assert not torch.allclose(history[1], torch.ones(K), atol=1e-3)
    expected = dafa_weights(sums / torch.bincount(y, minlength=K).double()[:, None], 1.0)
    assert torch.allclose(history[1].double(), expected, atol=1e-6)
    for later in history[2:]:
        assert torch.equal(later, history[1])
    assert torch.allclose(method.ctx.class_eps, history[1] * EPS)
    state = method.log_state()
    for i, name in enumerate(NAMES):
        assert state[f"weight_{name}"] == pytest.approx(history[1][i].item())
        assert state[f"eps_{name}"] == pytest.approx(history[1][i].item() * EPS)


def freeze_after_first_epoch(method, model, x, y):
    method.on_epoch_start(0)
    method.loss(model, x, y)
    method.on_epoch_end(stats(0))
    w = method.ctx.class_weights.clone()
    assert not torch.allclose(w, torch.ones(K), atol=1e-3)
    return w


@pytest.mark.parametrize("step_size", [None, 0.02])
def test_per_class_radius_and_step_reach_a_single_attack(monkeypatch, step_size):
    method = make({"warmup_epoch": 1, "steps": 8, "step_size": step_size})
    model = tiny_model()
    x, y = data()
    spy = Spy(monkeypatch, trades_module)
    method.on_epoch_start(0)  # warm-up epoch: uniform radius and step
    method.loss(model, x, y)
    assert len(spy.calls) == 1
    alpha = EPS * 0.25 if step_size is None else step_size
    assert torch.allclose(torch.as_tensor(spy.calls[0]["eps"]), torch.full((len(y),), EPS))
    assert torch.allclose(torch.as_tensor(spy.calls[0]["step_size"]), torch.full((len(y),), alpha))
    method.on_epoch_end(stats(0))
    w = method.ctx.class_weights.clone()
    assert not torch.allclose(w, torch.ones(K), atol=1e-3)

    spy.calls.clear()
    method.on_epoch_start(1)
    method.loss(model, x, y)
    assert len(spy.calls) == 1  # one attack per batch: no second, unscaled step
    call = spy.calls[0]
    assert call["loss"] == "kl" and call["random_start"] == "normal" and call["steps"] == 8
    assert torch.allclose(call["eps"], w[y] * EPS)
    assert torch.allclose(call["step_size"], w[y] * alpha)
    # every class's perturbation fills its own ball (a second, unscaled step would give eps for all)
    delta = (call["out"] - x).abs().flatten(1).amax(dim=1)
    for c in range(K):
        assert delta[y == c].max().item() == pytest.approx(w[c].item() * EPS, abs=1e-6)


def test_loss_weights_the_clean_cross_entropy_and_not_the_kl(monkeypatch):
    beta = 6.0
    method = make({"warmup_epoch": 1, "steps": 3, "beta": beta})
    model = tiny_model()
    x, y = data()
    w = freeze_after_first_epoch(method, model, x, y)
    spy = Spy(monkeypatch, trades_module)
    method.on_epoch_start(1)
    loss = method.loss(model, x, y)
    x_adv = spy.calls[0]["out"]
    logits, logits_adv = model(x), model(x_adv)
    ce = F.cross_entropy(logits, y, reduction="none")
    kl = F.kl_div(F.log_softmax(logits_adv, 1), F.softmax(logits, 1), reduction="batchmean")
    assert torch.allclose(loss, (w[y] * ce).mean() + beta * kl, atol=1e-6)
    assert not torch.allclose(loss, ce.mean() + beta * kl, atol=1e-4)


def test_state_round_trip_includes_the_accumulator_and_the_frozen_flag():
    x, y = data()
    model = tiny_model()
    method = make({"warmup_epoch": 1, "steps": 2})
    method.on_epoch_start(0)
    method.loss(model, x, y)  # mid warm-up epoch: the accumulator holds this batch
    state = method.state_dict()
    assert state["dafa"]["counts"].sum().item() == len(y) and not state["dafa"]["frozen"]

    fresh = make({"warmup_epoch": 1, "steps": 2})
    fresh.load_state_dict(state)
    fresh.ctx.epoch = 0
    method.on_epoch_end(stats(0))
    fresh.on_epoch_end(stats(0))
    assert torch.equal(fresh.ctx.class_weights, method.ctx.class_weights)
    assert torch.equal(fresh.ctx.class_eps, method.ctx.class_eps)

    frozen_state = method.state_dict()
    assert frozen_state["dafa"]["frozen"]
    again = make({"warmup_epoch": 1, "steps": 2})
    again.load_state_dict(frozen_state)
    assert again.schedule.frozen
    assert torch.equal(again.ctx.class_weights, method.ctx.class_weights)
    again.ctx.epoch = 0  # even a repeated end of epoch tau must not recompute the weights
    again.schedule.sums.zero_()
    again.on_epoch_end(stats(0))
    assert torch.equal(again.ctx.class_weights, method.ctx.class_weights)


def test_warmup_beyond_the_last_epoch_keeps_unit_weights(capsys):
    method = make({"warmup_epoch": 10, "steps": 1}, epochs=2)
    assert "warmup_epoch 10 > epochs 2" in capsys.readouterr().err
    model = tiny_model()
    x, y = data()
    for epoch in range(2):
        method.on_epoch_start(epoch)
        method.loss(model, x, y)
        method.on_epoch_end(stats(epoch))
    assert torch.equal(method.ctx.class_weights, torch.ones(K))
    assert not method.schedule.frozen
    with pytest.raises(ValueError, match=r"methods\.dafa\.warmup_epoch"):
        make({"warmup_epoch": 0})


def test_run_interrupted_after_the_warmup_epoch_resumes_bit_identically(digits, tmp_path):
    import dataclasses

    from helpers import assert_resumes_bit_identically, tiny_run

    run = dataclasses.replace(
        tiny_run("dafa", epochs=3), method_params={"steps": 2, "warmup_epoch": 2}
    )
    # 0-based epoch 1 is the end of warm-up epoch tau = 2
    a, b = assert_resumes_bit_identically(run, digits, tmp_path, crash=1)
    assert torch.equal(a["method"]["class_weights"], b["method"]["class_weights"])
