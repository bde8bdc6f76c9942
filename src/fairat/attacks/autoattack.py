"""AutoAttack ``standard`` (APGD-CE, APGD-T, FAB-T, Square) through the ``pyautoattack`` package.

This is the only module that touches the package: Croce and Hein's original code
(fra31/auto-attack, ICML 2020) as published on PyPI by its authors' project page, kept behind
one function so that the attack is never rewritten here. It was chosen over torchattacks (which
pins ``requests`` to 2.25.x, with published security advisories) and the Adversarial Robustness
Toolbox (a large dependency whose AutoAttack is a re-implementation).

Settings: L-inf, the run's eps, an explicit seed (the package's default seed is the clock).
With K < 10 classes the targeted attacks use K - 1 target classes instead of 9. APGD-T's DLR
loss needs at least four classes, so for K < 4 the suite is APGD-CE, FAB (untargeted) and Square
[project choice]. AutoAttack assumes inputs in [0, 1].

The package's own checks (a randomised model, outputs that look like probabilities, zero
gradients, Square beating the white-box attacks, ...) report to its ``auto-attack`` logger;
:func:`autoattack_warnings` collects them so that each evaluation records them in its sanity
checks instead of a log nobody reads.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator

import torch
from torch import nn

LOGGER = "auto-attack"


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if message not in self.messages:
            self.messages.append(message)


@contextlib.contextmanager
def autoattack_warnings() -> Iterator[list[str]]:
    """Collect the distinct warnings AutoAttack's checks log while the block runs."""
    handler = _Collect()
    logger = logging.getLogger(LOGGER)
    logger.addHandler(handler)
    try:
        yield handler.messages
    finally:
        logger.removeHandler(handler)


def autoattack_outputs(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    eps: float,
    num_classes: int,
    seed: int,
) -> tuple[torch.Tensor, torch.Tensor]:
    """(adversarial inputs, the model's labels on them) as AutoAttack returns them
    (``run_standard_evaluation`` in pyautoattack's ``autoattack.py``: a sample it does not break
    keeps its clean input and label).

    The package seeds every attack with ``seed`` inside its ``perturb``, so the outputs of a
    batch depend only on the model, the batch and the seed.
    """
    from pyautoattack import AutoAttack  # imported here: only evaluations that use it pay for it

    logging.getLogger(LOGGER).setLevel(logging.WARNING)
    model.eval()
    if num_classes >= 4:
        adversary = AutoAttack(model, eps=eps, seed=seed, version="standard", device=x.device)
        adversary.apgd_targeted.n_target_classes = min(9, num_classes - 1)
        adversary.fab.n_target_classes = min(9, num_classes - 1)
    else:
        adversary = AutoAttack(
            model,
            eps=eps,
            seed=seed,
            version="custom",
            device=x.device,
            attacks=["apgd-ce", "fab", "square"],
        )
        adversary.apgd.n_restarts = 1
        adversary.fab.n_restarts = 1
    adversary.verbose = False
    x_adv, y_adv = adversary.run_standard_evaluation(x, y, batch_size=len(x))
    return x_adv.to(x.device), y_adv.to(y.device)


def autoattack_correct(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    eps: float,
    num_classes: int,
    seed: int,
) -> torch.Tensor:
    """Boolean flags: is each sample still classified correctly after AutoAttack?"""
    return autoattack_outputs(model, x, y, eps=eps, num_classes=num_classes, seed=seed)[1] == y
