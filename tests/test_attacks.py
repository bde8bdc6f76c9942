"""Attack invariants: the eps-ball, the [0, 1] box, eps = 0, and the strength ordering."""

from __future__ import annotations

import pytest
import torch

from fairat.attacks import LOSSES, fgsm, perturb, pgd
from fairat.data import to_float


@pytest.fixture(scope="module")
def batch(digits):
    x = to_float(torch.from_numpy(digits.x_test[:200]))
    y = torch.from_numpy(digits.y_test[:200])
    return x, y


@pytest.mark.parametrize("loss", LOSSES)
@pytest.mark.parametrize("start", ["none", "uniform", "normal"])
def test_ball_and_box(trained, batch, loss, start):
    x, y = batch
    g = torch.Generator().manual_seed(0)
    eps = torch.linspace(0.0, 0.3, len(x))  # per-sample radii, including 0
    target = (y + 1) % 10
    x_adv = perturb(
        trained,
        x,
        y,
        eps=eps,
        step_size=eps / 3,
        steps=4,
        loss=loss,
        random_start=start,
        target=target,
        generator=g,
    )
    dist = (x_adv - x).abs().flatten(1).amax(dim=1)
    assert torch.all(dist <= eps + 1e-6)
    assert x_adv.min() >= 0.0 and x_adv.max() <= 1.0
    assert dist[-1] > 0.05  # the attack actually moved the samples with a large radius


def test_eps_zero_gives_clean_accuracy(trained, batch):
    x, y = batch
    clean = (trained(x).argmax(1) == y).float().mean()
    for x_adv in (fgsm(trained, x, y, eps=0.0), pgd(trained, x, y, eps=0.0, steps=5)):
        assert torch.equal(x_adv, x)
        assert (trained(x_adv).argmax(1) == y).float().mean() == clean


def test_strength_ordering(trained, batch):
    x, y = batch
    eps = 0.15
    g = torch.Generator().manual_seed(1)
    acc = {
        "clean": trained(x).argmax(1).eq(y).float().mean().item(),
        "fgsm": trained(fgsm(trained, x, y, eps=eps)).argmax(1).eq(y).float().mean().item(),
        "pgd": trained(pgd(trained, x, y, eps=eps, steps=20, generator=g))
        .argmax(1)
        .eq(y)
        .float()
        .mean()
        .item(),
    }
    assert acc["clean"] > 0.8
    assert acc["pgd"] <= acc["fgsm"] <= acc["clean"]
    assert acc["pgd"] < acc["clean"] - 0.2  # a real attack, not a no-op


def test_targeted_moves_toward_target(trained, batch):
    x, y = batch
    target = (y + 1) % 10
    x_adv = perturb(
        trained,
        x,
        y,
        eps=0.3,
        step_size=0.05,
        steps=10,
        loss="ce_targeted",
        random_start="none",
        target=target,
    )
    hit_before = trained(x).argmax(1).eq(target).float().mean()
    hit_after = trained(x_adv).argmax(1).eq(target).float().mean()
    assert hit_after > hit_before + 0.3


def test_seeded_random_start_is_repeatable(trained, batch):
    x, y = batch
    a = pgd(trained, x, y, eps=0.1, steps=3, generator=torch.Generator().manual_seed(5))
    b = pgd(trained, x, y, eps=0.1, steps=3, generator=torch.Generator().manual_seed(5))
    c = pgd(trained, x, y, eps=0.1, steps=3, generator=torch.Generator().manual_seed(6))
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_restores_training_mode(trained, batch):
    x, y = batch
    trained.train()
    try:
        pgd(trained, x, y, eps=0.1, steps=1)
        assert trained.training
    finally:
        trained.eval()


def test_unclamped_for_feature_data(trained, batch):
    x, y = batch
    x_adv = perturb(trained, x - 0.5, y, eps=0.2, step_size=0.1, steps=2, clamp=False)
    assert x_adv.min() < 0.0  # no [0, 1] box for real-valued features
    assert ((x_adv - (x - 0.5)).abs() <= 0.2 + 1e-6).all()


def test_bad_arguments_are_named(trained, batch):
    x, y = batch
    with pytest.raises(ValueError, match="attack loss 'xent'"):
        perturb(trained, x, y, eps=0.1, step_size=0.1, steps=1, loss="xent")
    with pytest.raises(ValueError, match="random_start 'gauss'"):
        perturb(trained, x, y, eps=0.1, step_size=0.1, steps=1, random_start="gauss")
    with pytest.raises(ValueError, match="per-sample eps"):
        perturb(trained, x, y, eps=torch.ones(3), step_size=0.1, steps=1)
