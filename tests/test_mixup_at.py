"""Same-class mixup AT (docs/specification.md#mixup-at): partners, the mixing segment, the attack's start."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from fairat.attacks import perturb
from fairat.methods import METHODS, TrainContext, fgsm_at, pgd_at
from fairat.methods.mixup_at import mix, same_class_partners

K = 4


def make(params: dict | None = None, eps: float = 0.1):
    ctx = TrainContext(
        num_classes=K,
        eps=eps,
        clamp=True,
        device=torch.device("cpu"),
        epochs=1,
        class_names=[f"c{i}" for i in range(K)],
        x_val=torch.zeros(0, 1, 8, 8),
        y_val=torch.zeros(0, dtype=torch.long),
    )
    cls = METHODS.get("mixup_at")
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(64, K))
    return cls(cls.parse_params(params or {}), ctx), model


def data(n=40, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(n, 1, 8, 8, generator=g)
    y = torch.cat([torch.tensor([3]), torch.randint(0, 3, (n - 1,), generator=g)])  # 3: singleton
    return x, y


def test_partners_share_the_class_and_differ_when_possible():
    for seed in range(20):
        _, y = data(seed=seed)
        partners = same_class_partners(y, torch.Generator().manual_seed(seed))
        assert torch.equal(y[partners], y)
        counts = torch.bincount(y, minlength=K)
        several = counts[y] >= 2
        idx = torch.arange(len(y))
        assert torch.all(partners[several] != idx[several])
        assert torch.equal(partners[~several], idx[~several])  # the singleton pairs with itself


def test_partner_is_uniform_over_the_other_members_of_the_class():
    y = torch.tensor([0, 1, 0, 0, 1])  # class 0 at 0, 2, 3
    hits = torch.zeros(5)
    for seed in range(600):
        hits[same_class_partners(y, torch.Generator().manual_seed(seed))[0]] += 1
    assert hits[0] == 0 and hits[1] == 0 and hits[4] == 0
    assert 240 < hits[2] < 360 and 240 < hits[3] < 360  # 300 expected for each


def test_mixed_inputs_lie_on_the_segment_between_the_parents():
    x, y = data()
    torch.manual_seed(1)
    x_mix, partners, lam = mix(x, y, alpha=1.0)
    assert lam.shape == (len(x),) and lam.min() >= 0 and lam.max() <= 1
    assert lam.std() > 0.1  # drawn per sample, not one value for the batch
    x_j = x[partners]
    torch.testing.assert_close(x_mix - x_j, lam.view(-1, 1, 1, 1) * (x - x_j))
    x_fixed, partners_fixed, lam_fixed = mix(x, y, lam=0.25)
    assert torch.all(lam_fixed == 0.25)
    torch.testing.assert_close(x_fixed, 0.25 * x + 0.75 * x[partners_fixed])


def test_beta_alpha_controls_lam():
    x, y = data(n=2000)
    torch.manual_seed(0)
    _, _, lam_uniform = mix(x, y, alpha=1.0)
    _, _, lam_peaked = mix(x, y, alpha=50.0)
    assert abs(lam_uniform.mean() - 0.5) < 0.03 and abs(lam_uniform.var() - 1 / 12) < 0.01
    assert lam_peaked.std() < 0.08


def spy_perturb(monkeypatch):
    seen = {}

    def spy(model, x, y, **kwargs):
        seen.update(x=x.clone(), y=y.clone(), kwargs=kwargs)
        seen["x_adv"] = out = perturb(model, x, y, **kwargs)
        return out

    # Mixup-AT attacks through fgsm_attack and pgd_attack, which call perturb from their modules
    monkeypatch.setattr(fgsm_at, "perturb", spy)
    monkeypatch.setattr(pgd_at, "perturb", spy)
    return seen


def test_the_attack_starts_from_the_mixed_input_and_labels_are_unchanged(monkeypatch):
    seen = spy_perturb(monkeypatch)
    method, model = make()
    x, y = data()
    torch.manual_seed(5)
    loss = method.loss(model, x, y)
    torch.manual_seed(5)
    x_mix, _, _ = mix(x, y, alpha=1.0)
    assert torch.equal(seen["x"], x_mix)
    assert not torch.equal(x_mix, x)
    assert torch.equal(seen["y"], y)
    # FGSM from x_mix (the paper's attack): one step of exactly eps where no clamping occurs.
    assert seen["kwargs"]["steps"] == 1 and seen["kwargs"]["random_start"] == "none"
    step = (seen["x_adv"] - x_mix).abs()
    interior = (x_mix > 0.1) & (x_mix < 0.9)
    assert torch.allclose(step[interior], torch.tensor(0.1), atol=1e-6)
    torch.testing.assert_close(loss, F.cross_entropy(model(seen["x_adv"]), y))


def test_with_eps_zero_the_training_input_is_the_mixed_input():
    method, model = make(eps=0.0)
    x, y = data()
    inputs = []
    model.register_forward_pre_hook(lambda _m, args: inputs.append(args[0].clone()))
    torch.manual_seed(3)
    method.loss(model, x, y)
    torch.manual_seed(3)
    x_mix, _, _ = mix(x, y)
    assert torch.equal(inputs[-1], x_mix)  # the training forward pass


def test_pgd_attack_option(monkeypatch):
    seen = spy_perturb(monkeypatch)
    method, model = make({"attack": "pgd", "steps": 3, "step_ratio": 0.5})
    x, y = data()
    method.loss(model, x, y).backward()
    kw = seen["kwargs"]
    assert kw["steps"] == 3 and kw["random_start"] == "uniform"
    assert torch.allclose(kw["step_size"], torch.full((len(y),), 0.05))
    assert (seen["x_adv"] - seen["x"]).abs().max() <= 0.1 + 1e-6


def test_bad_params_name_the_field():
    cls = METHODS.get("mixup_at")
    with pytest.raises(ValueError, match=r"methods\.mixup_at\.attack: 'cw' is unknown.*fgsm, pgd"):
        cls.parse_params({"attack": "cw"})
    with pytest.raises(ValueError, match=r"methods\.mixup_at\.lam"):
        cls.parse_params({"lam": 1.5})
    with pytest.raises(ValueError, match=r"methods\.mixup_at\.alpha"):
        cls.parse_params({"alpha": 0})
