"""The synthetic source: the binary Gaussian model of Xu et al. (ICML 2021), Section 2."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from fairat.data.containers import RawDataset
from fairat.data.sources import register_dataset, require, resolve_options


@register_dataset(
    "gaussian",
    mean=(0.0,),  # features are used as they are (one value broadcasts over all d)
    std=(1.0,),
    augment=False,
    clamp=False,
    num_classes=2,
    how_to_get="it is synthetic and needs no files",
    defaults={
        "d": 10,
        "mu_pos": 1.0,
        "mu_neg": 1.0,
        "sigma_pos": 1.0,
        "sigma_neg": 2.0,
        "alpha": 0.5,
        "n_train": 4000,
        "n_test": 2000,
        "seed": 0,
    },
)
def _load_gaussian(root: Path, options: dict) -> RawDataset:
    """The binary Gaussian model of Xu et al., "To be Robust or to be Fair: Towards Fairness in
    Adversarial Training" (ICML 2021), Section 2.

    ``y = +1`` with probability ``alpha``; ``x | y=+1 ~ N(mu_pos * 1, sigma_pos^2 I_d)`` and
    ``x | y=-1 ~ N(-mu_neg * 1, sigma_neg^2 I_d)``. Label 1 is ``y=+1`` ("positive"), label 0 is
    ``y=-1`` ("negative"). Train and test use independent streams derived from ``seed``, so
    changing ``n_test`` leaves the training set unchanged.
    """
    opts = resolve_options("gaussian", options)
    for key in ("d", "n_train", "n_test"):
        require(f"data.gaussian.{key}", opts[key] >= 1, "a positive integer", opts[key])
    for key in ("sigma_pos", "sigma_neg"):
        require(f"data.gaussian.{key}", opts[key] > 0, "positive", opts[key])
    require("data.gaussian.alpha", 0 < opts["alpha"] < 1, "in (0, 1)", opts["alpha"])
    require("data.gaussian.seed", opts["seed"] >= 0, "a non-negative integer", opts["seed"])

    def sample(stream: int, n: int) -> tuple[np.ndarray, np.ndarray]:
        rng = np.random.default_rng([opts["seed"], stream])
        positive = rng.random(n) < opts["alpha"]
        z = rng.standard_normal((n, opts["d"]))
        x = np.where(
            positive[:, None],
            opts["mu_pos"] + opts["sigma_pos"] * z,
            -opts["mu_neg"] + opts["sigma_neg"] * z,
        )
        return x.astype(np.float32), positive.astype(np.int64)

    x_train, y_train = sample(0, opts["n_train"])
    x_test, y_test = sample(1, opts["n_test"])
    return RawDataset(x_train, y_train, x_test, y_test, class_names=["negative", "positive"])
