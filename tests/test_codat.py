"""CODAT (docs/specification.md#codat): the worst-case class weights in the chi-square ball, the
objective mean + sqrt(eta Var), Danskin gradients and the logged per-class weights."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy.optimize import minimize
from torch import nn

from fairat.methods import METHODS, TrainContext
from fairat.methods._codat_weights import chi2_divergence, worst_case_weights
from fairat.methods.codat import codat_objective

K = 4


def reference_solution(h: np.ndarray, eta: float) -> np.ndarray:
    """max p.h over the simplex with K sum (p - 1/K)^2 <= eta, by a generic solver (SLSQP)."""
    k = len(h)
    constraints = [
        {"type": "eq", "fun": lambda q: q.sum() - 1.0, "jac": lambda q: np.ones(k)},
        {
            "type": "ineq",
            "fun": lambda q: eta - k * ((q - 1.0 / k) ** 2).sum(),
            "jac": lambda q: -2.0 * k * (q - 1.0 / k),
        },
    ]
    best = None
    rng = np.random.default_rng(0)
    for start in [np.full(k, 1.0 / k)] + [rng.dirichlet(np.ones(k)) for _ in range(3)]:
        r = minimize(
            lambda q: -q @ h,
            start,
            jac=lambda q: -h,
            bounds=[(0.0, 1.0)] * k,
            constraints=constraints,
            method="SLSQP",
            options={"ftol": 1e-15, "maxiter": 2000},
        )
        if best is None or r.fun < best.fun:
            best = r
    return best.x


def closed_form(h: torch.Tensor, eta: float) -> torch.Tensor:
    std = h.std(unbiased=False)
    return (1 + math.sqrt(eta) * (h - h.mean()) / std) / len(h)


def check_feasible(p: torch.Tensor, eta: float) -> None:
    assert p.min() >= 0
    assert abs(p.sum().item() - 1.0) < 1e-12
    assert chi2_divergence(p).item() <= eta + 1e-9


@pytest.mark.parametrize("seed", range(6))
def test_closed_form_regime_matches_a_generic_solver(seed):
    g = torch.Generator().manual_seed(seed)
    k = 3 + seed
    h = torch.rand(k, generator=g, dtype=torch.float64) * 3
    eta = 0.05
    p = worst_case_weights(h, eta)
    assert p.min() > 0  # this regime: the closed form is non-negative
    check_feasible(p, eta)
    torch.testing.assert_close(p, closed_form(h, eta), rtol=0, atol=1e-12)
    np.testing.assert_allclose(p.numpy(), reference_solution(h.numpy(), eta), atol=1e-5)
    objective = (p * h).sum()
    expected = h.mean() + torch.sqrt(eta * h.var(unbiased=False))
    torch.testing.assert_close(objective, expected, rtol=0, atol=1e-12)


@pytest.mark.parametrize("seed", range(6))
def test_clipped_regime_matches_a_generic_solver(seed):
    g = torch.Generator().manual_seed(100 + seed)
    k = 5 + seed
    h = torch.rand(k, generator=g, dtype=torch.float64) * 3
    eta = 2.0
    assert closed_form(h, eta).min() < 0  # the closed form would give a negative weight
    p = worst_case_weights(h, eta)
    assert (p == 0).any()
    check_feasible(p, eta)
    assert chi2_divergence(p).item() == pytest.approx(eta, abs=1e-9)  # constraint is active
    np.testing.assert_allclose(p.numpy(), reference_solution(h.numpy(), eta), atol=1e-5)


def test_hand_computed_weights():
    # closed form: H = (1, 2, 3), eta = 0.3: p = (1 -+ sqrt(0.3) / sqrt(2/3)) / 3, value 2 + sqrt(0.2)
    p = worst_case_weights(torch.tensor([1.0, 2.0, 3.0]), 0.3)
    r = math.sqrt(0.3) / math.sqrt(2 / 3)
    torch.testing.assert_close(
        p, torch.tensor([(1 - r) / 3, 1 / 3, (1 + r) / 3], dtype=torch.float64), atol=1e-12, rtol=0
    )
    assert (p * torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64)).sum().item() == pytest.approx(
        2 + math.sqrt(0.2), abs=1e-12
    )
    # clipped: H = (0, 1, 2), eta = 1.5: support {1, 2}, p = (0, 1/2 -+ sqrt(2/3) / 2)
    p = worst_case_weights(torch.tensor([0.0, 1.0, 2.0]), 1.5)
    half = math.sqrt(2 / 3) / 2
    torch.testing.assert_close(
        p, torch.tensor([0.0, 0.5 - half, 0.5 + half], dtype=torch.float64), atol=1e-12, rtol=0
    )
    # the whole simplex lies in the ball (eta >= K - 1): the vertex of the largest risk
    p = worst_case_weights(torch.tensor([0.5, 2.0, 1.0]), 2.0)
    assert p.tolist() == [0.0, 1.0, 0.0]


def test_equal_risks_give_uniform_weights():
    p = worst_case_weights(torch.full((5,), 0.7), 0.3)
    assert torch.equal(p, torch.full((5,), 0.2, dtype=torch.float64))
    p = worst_case_weights(torch.tensor([1.3]), 0.3)
    assert p.tolist() == [1.0]


def test_objective_uses_the_classes_present_and_danskin_gradients():
    ce = torch.tensor([1.0, 3.0, 2.0, 2.0, 6.0], requires_grad=True)
    y = torch.tensor([0, 0, 1, 1, 3])  # class 2 absent: H = (2, 2, 6) over K = 3 classes
    loss, p_full = codat_objective(ce, y, 4, 0.3)
    h = torch.tensor([2.0, 2.0, 6.0], dtype=torch.float64)
    p = closed_form(h, 0.3)
    assert p_full[2] == 0
    torch.testing.assert_close(p_full[[0, 1, 3]], p, rtol=0, atol=1e-12)
    assert loss.item() == pytest.approx(10 / 3 + math.sqrt(0.3 * 32 / 9), abs=1e-5)
    loss.backward()  # d loss / d ce_i = p*_{y_i} / n_{y_i}
    expected = torch.tensor([p[0] / 2, p[0] / 2, p[1] / 2, p[1] / 2, p[2]], dtype=torch.float32)
    torch.testing.assert_close(ce.grad, expected)


def make(params: dict | None = None):
    ctx = TrainContext(
        num_classes=K,
        eps=0.1,
        clamp=True,
        device=torch.device("cpu"),
        epochs=1,
        class_names=["a", "b", "c", "d"],
        x_val=torch.zeros(0, 1, 8, 8),
        y_val=torch.zeros(0, dtype=torch.long),
    )
    cls = METHODS.get("codat")
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(64, K))
    return cls(cls.parse_params({"steps": 2, **(params or {})}), ctx), model


def test_loss_reaches_the_model_and_logs_epoch_average_weights():
    method, model = make()
    g = torch.Generator().manual_seed(0)
    x = torch.rand(32, 1, 8, 8, generator=g)
    y1 = torch.arange(32) % 4
    y2 = torch.arange(32) % 3  # class d absent from the second batch
    method.on_epoch_start(0)
    loss = method.loss(model, x, y1)
    loss.backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in model.parameters())
    p1 = method.p_sum.clone()
    method.loss(model, x, y2)
    p2 = method.p_sum - p1
    assert (
        p2[3] == 0 and p1.sum().item() == pytest.approx(1) and p2.sum().item() == pytest.approx(1)
    )
    state = method.log_state()
    assert list(state) == ["p_a", "p_b", "p_c", "p_d"]
    np.testing.assert_allclose(list(state.values()), ((p1 + p2) / 2).tolist(), atol=1e-12)
    assert sum(state.values()) == pytest.approx(1.0)

    fresh, _ = make()
    fresh.load_state_dict(method.state_dict())
    assert fresh.log_state() == state
    fresh.on_epoch_start(1)
    assert fresh.batches == 0 and fresh.p_sum.sum() == 0


def test_higher_risk_classes_get_more_weight_in_training():
    method, model = make({"eta": 0.8})
    x = torch.rand(40, 1, 8, 8, generator=torch.Generator().manual_seed(1))
    y = torch.arange(40) % 4
    with torch.no_grad():
        model[1].bias.copy_(torch.tensor([3.0, 1.0, 0.0, -2.0]))  # class d is the hardest
    method.loss(model, x, y)
    p = method.p_sum
    assert torch.argmax(p) == 3 and torch.argmin(p) == 0


def test_negative_eta_is_rejected():
    with pytest.raises(ValueError, match=r"methods\.codat\.eta"):
        METHODS.get("codat").parse_params({"eta": -0.1})
