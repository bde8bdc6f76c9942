"""Objectives that an attack *ascends*: untargeted CE, targeted CE, the TRADES KL and the CW margin."""

from __future__ import annotations

import torch
import torch.nn.functional as F

LOSSES = ("ce", "ce_targeted", "kl", "cw")


def attack_loss(
    name: str,
    logits: torch.Tensor,
    y: torch.Tensor,
    *,
    target: torch.Tensor | None = None,
    p_nat: torch.Tensor | None = None,
) -> torch.Tensor:
    """Per-sample objective to maximise, shape (B,).

    - ``ce``: cross-entropy with the true label (Madry et al. 2018).
    - ``ce_targeted``: minus the cross-entropy with ``target``, so ascending it walks toward the target.
    - ``kl``: KL(p_nat || softmax(logits)), ``p_nat`` the clean prediction (TRADES, Zhang et al. 2019).
    - ``cw``: the margin max_{j != y} z_j - z_y (Carlini & Wagner 2017, L-inf form).
    """
    logits = logits.float()
    if name == "ce":
        return F.cross_entropy(logits, y, reduction="none")
    if name == "ce_targeted":
        if target is None:
            raise ValueError("attack loss 'ce_targeted' needs target labels")
        return -F.cross_entropy(logits, target, reduction="none")
    if name == "kl":
        if p_nat is None:
            raise ValueError("attack loss 'kl' needs the clean probabilities p_nat")
        log_p_adv = F.log_softmax(logits, dim=1)
        return F.kl_div(log_p_adv, p_nat, reduction="none").sum(dim=1)
    if name == "cw":
        true = logits.gather(1, y[:, None]).squeeze(1)
        others = logits.masked_fill(F.one_hot(y, logits.shape[1]).bool(), float("-inf"))
        return others.max(dim=1).values - true
    raise ValueError(f"attack loss {name!r} is unknown; valid names: {', '.join(LOSSES)}")
