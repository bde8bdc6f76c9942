"""Every registered method: one training step is finite and reaches every parameter; plus each
baseline's defining property."""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from helpers import make_method, train_batch

from fairat.methods import METHODS


def test_every_method_file_is_imported_by_the_package():
    """A method registers itself from its own file; no list names it (fairat.config.registry)."""
    folder = Path(__file__).resolve().parents[1] / "src" / "fairat" / "methods"
    for path in folder.glob("[!_]*.py"):
        assert f"fairat.methods.{path.stem}" in sys.modules, path.name
    files = {p.stem for p in folder.glob("[!_]*.py")} - {"base", "registry"}
    assert {METHODS.get(n).__module__.rsplit(".", 1)[1] for n in METHODS.names()} == files


@pytest.mark.parametrize("name", METHODS.names())
def test_one_step_is_finite_and_reaches_every_parameter(name, digits):
    method, model = make_method(name, digits)
    model.train()
    x, y = train_batch(digits)
    loss = method.loss(model, x, y)
    assert loss.ndim == 0 and torch.isfinite(loss)
    loss.backward()
    for pname, p in model.named_parameters():
        assert p.grad is not None, f"{name}: no gradient for {pname}"
        assert torch.isfinite(p.grad).all(), f"{name}: non-finite gradient for {pname}"
    assert any(p.grad.abs().sum() > 0 for p in model.parameters())


@pytest.mark.parametrize("name", METHODS.names())
def test_state_round_trips(name, digits):
    method, _ = make_method(name, digits)
    method.ctx.class_weights[0] = 3.0
    state = method.state_dict()
    fresh, _ = make_method(name, digits)
    fresh.load_state_dict(state)
    assert torch.equal(fresh.ctx.class_weights, method.ctx.class_weights)


def test_natural_is_clean_cross_entropy(digits):
    method, model = make_method("natural", digits)
    x, y = train_batch(digits)
    model.train()
    assert torch.allclose(method.loss(model, x, y), F.cross_entropy(model(x), y))


def test_trades_with_beta_zero_is_natural_cross_entropy(digits):
    method, model = make_method("trades", digits, {"beta": 0.0, "steps": 2})
    x, y = train_batch(digits)
    model.train()
    expected = F.cross_entropy(model(x), y)
    assert torch.allclose(method.loss(model, x, y), expected, atol=1e-6)


def test_trades_kl_term_is_positive_and_scales_with_beta(digits):
    x, y = train_batch(digits)
    losses = {}
    for beta in (0.0, 6.0):
        method, model = make_method("trades", digits, {"beta": beta, "steps": 3})
        torch.manual_seed(1)
        model.train()
        losses[beta] = method.loss(model, x, y).item()
    assert losses[6.0] > losses[0.0]


def test_pgd_at_trains_on_perturbed_inputs(digits, trained):
    method, _ = make_method("pgd_at", digits, {"steps": 5})
    x, y = train_batch(digits, 128)
    trained.train()
    clean = F.cross_entropy(trained(x), y).item()
    adversarial = method.loss(trained, x, y).item()
    trained.eval()
    assert adversarial > clean + 0.1


def test_fgsm_without_random_start_steps_to_the_ball_surface(digits, monkeypatch):
    from fairat.methods import fgsm_at

    seen = {}
    real = fgsm_at.perturb

    def spy(*args, **kwargs):
        seen["x_adv"] = out = real(*args, **kwargs)
        return out

    monkeypatch.setattr(fgsm_at, "perturb", spy)
    method, model = make_method("fgsm_at", digits, {"random_start": False})
    x, y = train_batch(digits)
    method.loss(model, x, y)
    delta = (seen["x_adv"] - x).abs()
    interior = (x > 0.15) & (x < 0.85)  # clamping cannot touch these pixels at eps = 0.1
    moved = delta[interior]
    assert torch.allclose(moved[moved > 0], torch.tensor(0.1), atol=1e-6)


def test_params_errors_name_the_field():
    with pytest.raises(
        ValueError, match=r"methods\.trades: unknown key\(s\) 'bta'; valid keys: beta"
    ):
        METHODS.get("trades").parse_params({"bta": 1})
    with pytest.raises(ValueError, match=r"methods\.pgd_at\.steps: 'ten' is not an integer"):
        METHODS.get("pgd_at").parse_params({"steps": "ten"})
    p = METHODS.get("pgd_at").parse_params({"step_size": "2/255"})
    assert p.step_size == pytest.approx(2 / 255)


def test_unknown_method_lists_valid_names():
    with pytest.raises(KeyError, match="unknown method 'tradess'; valid names: .*trades"):
        METHODS.get("tradess")


def test_config_readme_documents_every_method_and_hyper_parameter():
    """config/README.md keeps step with the code: a row per method naming each of its keys."""
    readme = (Path(__file__).resolve().parents[1] / "config" / "README.md").read_text()
    rows = {
        line.split("|")[1].strip(" `"): line
        for line in readme.splitlines()
        if line.startswith("| `")
    }
    for name in METHODS.names():
        assert name in rows, f"config/README.md has no row for method {name!r}"
        documented = rows[name]
        if "as `frl_rw`" in documented:
            documented += rows["frl_rw"]
        for field in dataclasses.fields(METHODS.get(name).Params):
            assert f"`{field.name}`" in documented, f"methods.{name}.{field.name} is undocumented"
