"""Projected gradient descent in the L-infinity ball, with per-sample radius and step size.

Follows Madry et al. (2018) for PGD, Goodfellow et al. (2015) for FGSM, Wong et al. (2020) for the
random-start "fast" FGSM and yaodongyu/TRADES for the 0.001 * N(0, 1) start of the KL attack.
The model is put in eval mode while the attack runs (BatchNorm statistics frozen) and its previous
mode is restored afterwards. Attacks run in fp32 even inside a bf16 autocast region (a bf16 training
step, ``train.precision``): TRADES's 0.001 * N(0, 1) start moves the logits by far less than bf16
resolves, and the reference implementations attack in fp32.
"""

from __future__ import annotations

import torch
from torch import nn

from fairat.attacks.losses import LOSSES, attack_loss
from fairat.attacks.precision import full_precision

RANDOM_STARTS = ("none", "uniform", "normal")


def radius(value: float | torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """A scalar or per-sample (B,) radius reshaped to broadcast over x (B, ...)."""
    r = torch.as_tensor(value, dtype=x.dtype, device=x.device)
    if r.ndim == 0:
        r = r.expand(x.shape[0])
    if r.shape != (x.shape[0],):
        raise ValueError(
            f"per-sample eps/step must have shape ({x.shape[0]},), got {tuple(r.shape)}"
        )
    return r.view(-1, *([1] * (x.ndim - 1)))


def _start(
    x: torch.Tensor, eps: torch.Tensor, kind: str, generator: torch.Generator | None
) -> torch.Tensor:
    if kind == "none":
        return x.clone()
    if kind == "uniform":
        u = torch.rand(x.shape, generator=generator, device=x.device, dtype=x.dtype)
        return x + (2 * u - 1) * eps
    if kind == "normal":
        return x + 0.001 * torch.randn(x.shape, generator=generator, device=x.device, dtype=x.dtype)
    raise ValueError(f"random_start {kind!r} is unknown; valid values: {', '.join(RANDOM_STARTS)}")


def _project(x_adv: torch.Tensor, x: torch.Tensor, eps: torch.Tensor, clamp: bool) -> torch.Tensor:
    x_adv = torch.minimum(torch.maximum(x_adv, x - eps), x + eps)
    return x_adv.clamp(0.0, 1.0) if clamp else x_adv


def perturb(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    eps: float | torch.Tensor,
    step_size: float | torch.Tensor,
    steps: int,
    loss: str = "ce",
    random_start: str = "uniform",
    target: torch.Tensor | None = None,
    p_nat: torch.Tensor | None = None,
    generator: torch.Generator | None = None,
    clamp: bool = True,
    start: torch.Tensor | None = None,
) -> torch.Tensor:
    """Return x_adv with ||x_adv - x||_inf <= eps per sample (and x_adv in [0, 1] if ``clamp``).

    ``eps`` and ``step_size`` are scalars or (B,) tensors (per-class radii index them by label).
    ``loss`` is one of ``LOSSES``; ``kl`` uses ``p_nat`` (computed here from the clean input
    when not given). ``generator`` seeds the random start; without it the global RNG is used.
    The iterate after the last step is returned (no best-iterate tracking). ``start`` (shape of
    x, default x) is the point the random start is added to; the ball stays centred on x, so
    an attack that starts from an augmented input (label_aug_at's noise) stays within eps of x.
    """
    if steps < 0:
        raise ValueError(f"steps must be >= 0, got {steps}")
    if loss not in LOSSES:
        raise ValueError(f"attack loss {loss!r} is unknown; valid names: {', '.join(LOSSES)}")
    x = x.detach()
    if start is not None and start.shape != x.shape:
        raise ValueError(
            f"start must have the shape of x {tuple(x.shape)}, got {tuple(start.shape)}"
        )
    eps_t = radius(eps, x)
    step_t = radius(step_size, x)
    was_training = model.training
    model.eval()
    try:
        with full_precision(x.device):
            if loss == "kl" and p_nat is None:
                with torch.no_grad():
                    p_nat = torch.softmax(model(x).float(), dim=1)
            origin = x if start is None else start.detach()
            x_adv = _project(_start(origin, eps_t, random_start, generator), x, eps_t, clamp)
            x_adv = x_adv.detach()
            for _ in range(steps):
                x_adv.requires_grad_(True)
                objective = attack_loss(loss, model(x_adv), y, target=target, p_nat=p_nat).sum()
                (grad,) = torch.autograd.grad(objective, x_adv)
                x_adv = _project(x_adv.detach() + step_t * grad.sign(), x, eps_t, clamp).detach()
    finally:
        model.train(was_training)
    return x_adv


def fgsm(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    eps: float | torch.Tensor,
    random_start: bool = False,
    step_scale: float = 1.25,
    generator: torch.Generator | None = None,
    clamp: bool = True,
) -> torch.Tensor:
    """FGSM; with ``random_start`` the "fast" variant: uniform start, step ``step_scale * eps``."""
    if random_start:
        return perturb(
            model,
            x,
            y,
            eps=eps,
            step_size=eps * step_scale,
            steps=1,
            random_start="uniform",
            generator=generator,
            clamp=clamp,
        )
    return perturb(model, x, y, eps=eps, step_size=eps, steps=1, random_start="none", clamp=clamp)


def pgd(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    eps: float | torch.Tensor,
    steps: int,
    step_size: float | torch.Tensor | None = None,
    generator: torch.Generator | None = None,
    clamp: bool = True,
) -> torch.Tensor:
    """Untargeted CE PGD with a uniform random start; the step defaults to eps / 4 (docs/specification.md#attacks)."""
    step = eps * 0.25 if step_size is None else step_size
    return perturb(
        model,
        x,
        y,
        eps=eps,
        step_size=step,
        steps=steps,
        random_start="uniform",
        generator=generator,
        clamp=clamp,
    )
