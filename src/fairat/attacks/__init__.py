"""L-infinity attacks on models that take [0, 1] inputs (docs/specification.md#conventions, #attacks)."""

from fairat.attacks.losses import LOSSES, attack_loss
from fairat.attacks.pgd import fgsm, perturb, pgd, radius

__all__ = ["LOSSES", "attack_loss", "fgsm", "perturb", "pgd", "radius"]
