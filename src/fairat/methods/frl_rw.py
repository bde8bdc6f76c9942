"""FRL-Reweight (``frl_rw``): FRL's class re-weighting of a TRADES fine-tune (docs/specification.md#frl).

Xu et al., "To be Robust or to be Fair: Towards Fairness in Adversarial Training", ICML 2021;
reference code github.com/hannxu123/fair_robust (``frlrw.py``, ``utils_frl.py``). The multiplier
updates, the loss, the project's readings and the differences from the reference are described
in :mod:`fairat.methods._frl`. Only the natural and boundary multipliers (lambda0, lambda1)
move; every class keeps the radius eps. Fine-tunes the ``last`` checkpoint of the TRADES run of
the same dataset, model, eps and seed (``init_from = "trades"``).

Defaults (CIFAR-10, docs/specification.md#frl, and ``frlrw.py``'s argparse defaults, lines 101-107): tau 0.1
(``--bound0``/``--bound1``), alpha1 0.05 (``--rate1``) halved every 40 epochs, lim 0.5,
beta 1.5; TRADES attack of 10 steps of eps/4 (2/255 at 8/255, lines 30-36), validation PGD-20
(lines 38-44). Recipe (set in the config, not here): 40 epochs (line 98) of SGD with lr 1e-3,
momentum 0.9, weight decay 5e-4 (line 26).
"""

from __future__ import annotations

from fairat.methods._frl import FRLBase, FRLParams
from fairat.methods.registry import METHODS


@METHODS.register("frl_rw")
class FRLReweight(FRLBase):
    Params = FRLParams
    remargin = False
