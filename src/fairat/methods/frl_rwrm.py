"""FRL-Reweight+Remargin (``frl_rwrm``): FRL with class weights and class radii (docs/specification.md#frl).

Xu et al., "To be Robust or to be Fair: Towards Fairness in Adversarial Training", ICML 2021;
reference code github.com/hannxu123/fair_robust (``frlrmrw.py``, ``utils_frl2.py``). As
``frl_rw`` (see :mod:`fairat.methods._frl`), plus the radius multiplier
lambda2 += alpha2 * gamma1 (boundary-error violation; neither clamped nor rescaled, as the
reference) and the class radius eps_i = eps * clamp(exp(2 lambda2_i), eps_min, eps_max), used by
the TRADES attack of class-i samples (the step scales with it, see :mod:`fairat.methods._frl`).
Fine-tunes the ``last`` checkpoint of the TRADES run (``init_from = "trades"``).

Defaults (CIFAR-10, docs/specification.md#frl, and ``frlrmrw.py``'s argparse defaults, lines 91-97): tau 0.07
(``--bound0``/``--bound1``), alpha2 0.2 (``--rate2``), radius factor in [0.98, 3]
(``utils_frl2.py`` line 94), and otherwise as ``frl_rw``: alpha1 0.05 halved every 40 epochs,
lim 0.5, beta 1.5. (Before the reference's change of 27 April 2022 these defaults were tau 0.1,
rate2 0.1 and beta 1.0.)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from fairat.methods._frl import FRLBase, FRLParams
from fairat.methods.base import POSITIVE, Range
from fairat.methods.registry import METHODS


@METHODS.register("frl_rwrm")
class FRLReweightRemargin(FRLBase):
    @dataclass(frozen=True)
    class Params(FRLParams):
        tau: float = 0.07
        alpha2: float = 0.2
        eps_min: float = 0.98
        eps_max: float = 3.0

        RANGES: ClassVar[dict[str, Range]] = {
            **FRLParams.RANGES,
            "alpha2": POSITIVE,
            "eps_min": POSITIVE,
        }

        def __post_init__(self) -> None:
            super().__post_init__()
            if not 0 < self.eps_min <= self.eps_max:
                raise ValueError(
                    f"eps_min, eps_max: need 0 < eps_min <= eps_max, got "
                    f"{self.eps_min}, {self.eps_max}"
                )

    remargin = True
