"""Label-augmented AT (docs/specification.md#label-aug-at): the K + M head, the soft targets, the K-class view
used by prediction and by every attack."""

from __future__ import annotations

import dataclasses

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from fairat.methods import METHODS, TrainContext
from fairat.methods.label_aug_at import FirstK, soft_targets
from fairat.training.network import build_model

K = 4


def make(params: dict | None = None, eps: float = 0.1, m: int = 2):
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
    cls = METHODS.get("label_aug_at")
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(64, K + m))
    return cls(cls.parse_params({"steps": 3, **(params or {})}), ctx), model


def data(n=32, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(n, 1, 8, 8, generator=g), torch.randint(0, K, (n,), generator=g)


@pytest.mark.parametrize(
    ("params", "m"),
    [
        ({"ops": "identity,pgd", "attack": "op"}, 2),
        ({"ops": "identity, pgd, noise", "attack": "op"}, 3),
        ({}, 2),  # the default: identity and noise, every input attacked
    ],
)
def test_the_head_has_k_plus_m_outputs(digits, tiny_run, params, m):
    run = dataclasses.replace(tiny_run("label_aug_at"), method_params=params)
    model = build_model(run, digits)
    x = torch.zeros(2, *digits.input_shape)
    assert model(x).shape == (2, digits.num_classes + m)
    view = METHODS.get("label_aug_at").eval_view(model, digits.num_classes)
    assert view(x).shape == (2, digits.num_classes)


def test_soft_targets_put_one_minus_delta_on_the_class_and_delta_on_the_operation():
    t = soft_targets(torch.tensor([2, 0]), torch.tensor([1, 0]), 3, 2, 0.03)
    expected = torch.tensor([[0.0, 0.0, 0.97, 0.0, 0.03], [0.97, 0.0, 0.0, 0.03, 0.0]])
    torch.testing.assert_close(t, expected)


def test_eval_view_predicts_from_the_first_k_logits():
    method, model = make()
    x, _ = data()
    with torch.no_grad():
        model[1].bias[K:] = 100.0  # the extra logits dominate the full argmax ...
        view = method.validation_model(model)
        assert isinstance(view, FirstK)
        full = model(x)
        assert torch.all(full.argmax(1) >= K)
        torch.testing.assert_close(view(x), full[:, :K])
        assert torch.equal(view(x).argmax(1), full[:, :K].argmax(1))  # ... but not the view's


def test_pgd_examples_are_computed_on_the_k_class_view():
    method, model = make({"ops": "pgd", "attack": "op"}, m=1)
    x, y = data()
    ops_idx = torch.zeros(len(y), dtype=torch.long)
    torch.manual_seed(1)
    before = method.transform(model, x, y, ops_idx)
    assert (before - x).abs().max() > 0.05 and (before - x).abs().max() <= 0.1 + 1e-6
    with torch.no_grad():  # change only the extra (transformation) logit
        model[1].weight[K:] = torch.randn(1, 64) * 10
        model[1].bias[K:] = 5.0
    torch.manual_seed(1)
    after = method.transform(model, x, y, ops_idx)
    assert torch.equal(before, after)
    # an attack on the full K + M logits would have changed (the test can fail)
    from fairat.attacks import perturb

    torch.manual_seed(1)
    full = perturb(model, x, y, eps=0.1, step_size=0.025, steps=3, random_start="uniform")
    assert not torch.equal(full, after)


def test_operations_are_assigned_per_sample_and_applied():
    method, model = make({"ops": "identity,noise,pgd", "attack": "op"}, m=3)
    x, y = data(n=300)
    torch.manual_seed(2)
    ops_idx = torch.randint(3, (len(y),))
    out = method.transform(model, x, y, ops_idx)
    ident, noise, pgd = (ops_idx == 0), (ops_idx == 1), (ops_idx == 2)
    assert ident.sum() > 50 and noise.sum() > 50 and pgd.sum() > 50
    assert torch.equal(out[ident], x[ident])
    dist = (out - x).abs().flatten(1).amax(1)
    assert torch.all(dist[noise | pgd] <= 0.1 + 1e-6) and torch.all(dist[noise | pgd] > 0.05)
    assert out.min() >= 0 and out.max() <= 1


def test_loss_is_soft_target_cross_entropy_over_k_plus_m_logits():
    method, model = make({"ops": "identity,noise", "delta": 0.2}, eps=0.0)  # eps 0: x unchanged
    x, y = data()
    torch.manual_seed(4)
    loss = method.loss(model, x, y)
    torch.manual_seed(4)
    ops_idx = torch.randint(2, (len(y),))
    assert 0 < ops_idx.sum() < len(y)
    log_p = F.log_softmax(model(x), dim=1)
    expected = -(
        0.8 * log_p[torch.arange(len(y)), y] + 0.2 * log_p[:, K:][torch.arange(len(y)), ops_idx]
    )
    torch.testing.assert_close(loss, expected.mean())
    loss.backward()
    assert model[1].weight.grad[K:].abs().sum() > 0  # the extra outputs are trained


def test_unknown_operations_are_rejected_with_the_allowed_list():
    cls = METHODS.get("label_aug_at")
    with pytest.raises(
        ValueError,
        match=r"methods\.label_aug_at\.ops: unknown operation\(s\) 'augmix'; "
        r"valid names: identity, pgd, noise",
    ):
        cls.parse_params({"ops": "identity,augmix"})
    with pytest.raises(ValueError, match="twice"):
        cls.parse_params({"ops": "pgd,pgd", "attack": "op"})
    with pytest.raises(ValueError, match=r"methods\.label_aug_at\.ops: 'identity,pgd' names 'pgd'"):
        cls.parse_params({"ops": "identity,pgd"})  # pgd is an operation only with attack: op
    with pytest.raises(ValueError, match=r"methods\.label_aug_at\.ops: 'identity,noise' has no"):
        cls.parse_params({"ops": "identity,noise", "attack": "op"})
    with pytest.raises(ValueError, match=r"methods\.label_aug_at\.attack: 'half'"):
        cls.parse_params({"attack": "half"})
    with pytest.raises(ValueError, match=r"methods\.label_aug_at\.delta"):
        cls.parse_params({"delta": 1.5})


def test_by_default_every_input_is_attacked_after_its_augmentation():
    """Paper 003's critical path: no training input stays clean (docs/specification.md#label-aug-at)."""
    method, model = make({}, m=2)  # ops identity,noise; attack all
    x, y = data(n=300)
    torch.manual_seed(3)
    ops_idx = torch.randint(2, (len(y),))
    out = method.transform(model, x, y, ops_idx)
    ident, noise = ops_idx == 0, ops_idx == 1
    assert ident.sum() > 50 and noise.sum() > 50
    dist = (out - x).abs().flatten(1).amax(1)
    assert torch.all(dist > 0.05)  # identity samples too: they are PGD examples of x
    # the identity samples' inputs are exactly the PGD examples the attack gives for x
    torch.manual_seed(9)
    again = method.attack_inputs(model, x[ident], y[ident], method.eps_for(y[ident]))
    assert (again - x[ident]).abs().max() <= 0.1 + 1e-6
    logits = model(again)[:, :K]
    clean = model(x[ident])[:, :K]
    assert F.cross_entropy(logits, y[ident]) > F.cross_entropy(clean, y[ident])


def linf_by_operation(params: dict, m: int, eps: float = 0.1, n: int = 400):
    """The L-inf distance to the clean image of every training input ``transform`` gives,
    per operation name, and the inputs' range."""
    method, model = make(params, eps=eps, m=m)
    x, y = data(n=n, seed=5)
    torch.manual_seed(6)
    ops_idx = torch.randint(m, (n,))
    out = method.transform(model, x, y, ops_idx)
    dist = (out - x).abs().flatten(1).amax(1)
    by_op = {name: dist[ops_idx == j] for j, name in enumerate(method.ops)}
    assert all(len(d) > 50 for d in by_op.values())  # every operation was drawn
    return by_op, (out.min().item(), out.max().item())


@pytest.mark.parametrize(
    ("params", "m"),
    [
        ({}, 2),  # the default: identity and noise, every input attacked, clean ball
        ({"ops": "noise,identity", "radius": "clean"}, 2),
        ({"ops": "identity,noise,pgd", "attack": "op"}, 3),
        ({"ops": "noise", "steps": 1}, 1),  # one step: the start still counts
    ],
)
def test_every_training_input_stays_within_eps_of_the_clean_image(params, m):
    """docs/specification.md#label-aug-radius: augmentation plus attack stay in the eps-ball of x, for
    every operation, as pgd_at's inputs do; and in [0, 1]."""
    by_op, (lo, hi) = linf_by_operation(params, m)
    for name, dist in by_op.items():
        assert dist.max() <= 0.1 + 1e-6, (name, dist.max().item())
        if name != "identity" or params.get("attack", "all") == "all":
            assert dist.min() > 0.0, name  # moved: the bound is not met by doing nothing
    assert lo >= 0.0 and hi <= 1.0


def test_the_augmented_radius_option_lets_noise_samples_leave_the_eps_ball():
    """``radius: augmented`` (the earlier behaviour) centres the attack on the noisy input:
    noise samples end up to 2 eps from x, identity samples stay within eps."""
    by_op, (lo, hi) = linf_by_operation({"radius": "augmented"}, 2)
    assert by_op["identity"].max() <= 0.1 + 1e-6
    assert by_op["noise"].max() > 0.15  # well past eps ...
    assert by_op["noise"].max() <= 0.2 + 1e-6  # ... within 2 eps
    assert (by_op["noise"] > 0.1 + 1e-6).float().mean() > 0.9  # most of them, not one outlier
    assert lo >= 0.0 and hi <= 1.0


def test_with_the_clean_ball_noise_starts_the_attack_from_the_noisy_input():
    """radius: clean keeps the augmentation as the attack's start. With a model whose gradient
    is zero the steps do not move, so a sample ends at its start projected onto x's ball:
    x + U for identity (no pixel on the ball's surface), x + noise + U clipped to the ball for
    noise (a quarter of the pixels on the surface: P(|U1 + U2| > eps) = 1/4)."""
    method, model = make({}, m=2)
    with torch.no_grad():
        model[1].weight.zero_()
    x, y = data(n=400, seed=7)
    x = 0.2 + 0.6 * x  # away from the [0, 1] clamp
    torch.manual_seed(13)
    ops_idx = torch.randint(2, (len(y),))
    out = method.transform(model, x, y, ops_idx)
    on_surface = ((out - x).abs() >= 0.1 - 1e-6).flatten(1).float().mean(1)
    assert (out - x).abs().max() <= 0.1 + 1e-6
    assert on_surface[ops_idx == 0].mean() < 0.01
    assert 0.22 < on_surface[ops_idx == 1].mean() < 0.28


def test_perturb_from_a_start_point_stays_in_the_ball_of_x():
    method, model = make()
    x, y = data(n=64)
    from fairat.attacks import perturb

    far = (x + 0.5).clamp(0, 1)
    out = perturb(model, x, y, eps=0.1, step_size=0.0, steps=0, random_start="none", start=far)
    torch.testing.assert_close(out, torch.minimum(far, x + 0.1))
    with pytest.raises(ValueError, match="start must have the shape of x"):
        perturb(model, x, y, eps=0.1, step_size=0.0, steps=0, start=far[:3])


def test_radius_values_are_checked_with_the_allowed_list():
    cls = METHODS.get("label_aug_at")
    assert cls.parse_params({}).radius == "clean"
    with pytest.raises(
        ValueError,
        match=r"methods\.label_aug_at\.radius: 'noisy' is not allowed; valid values: clean, "
        r"augmented",
    ):
        cls.parse_params({"radius": "noisy"})
    with pytest.raises(ValueError, match=r"methods\.label_aug_at\.radius: 'augmented' is only"):
        cls.parse_params({"ops": "identity,pgd", "attack": "op", "radius": "augmented"})
    assert cls.parse_params({"radius": "augmented"}).radius == "augmented"
