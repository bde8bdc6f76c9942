"""The data of paper 001's Figures 1(a), 1(b), 2(a), 2(b) (docs/specification.md#theory): the
sweeps (``FIGURES``) and ``figure_data``, which puts the closed form, the simulation and
optionally the paper's printed form side by side at every point of a sweep.
"""

from __future__ import annotations

import pandas as pd

from fairat.theory.closed_forms import adversarial_risks_closed_form
from fairat.theory.printed import adversarial_risks_paper_theorem4
from fairat.theory.simulation import simulate_classwise_risks

_BASE = {"sigma_pos": 1.0, "sigma_neg": 1.0, "alpha": 0.7, "lam": 0.5}

FIGURES: dict[str, dict] = {
    # Fig. 1(a): natural risks of natural vs mixup training against |mu_pos + mu_neg|
    "1a": {
        **_BASE,
        "risk": "natural",
        "x_name": "|mu_pos + mu_neg|",
        "x": [0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 1.1, 1.2, 1.35, 1.5],
        "d": 10,
        "eps": 0.0,
    },
    # Fig. 1(b): adversarial risks of AT vs mixup AT against eps at |mu_pos + mu_neg| = 1
    "1b": {
        **_BASE,
        "risk": "adversarial",
        "x_name": "eps",
        "x": [0.0, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35],
        "d": 10,
        "mu_sum": 1.0,
    },
    # Fig. 2(a): adversarial risks of AT vs mixup AT against |mu_pos + mu_neg| at eps = 0.1
    "2a": {
        **_BASE,
        "risk": "adversarial",
        "x_name": "|mu_pos + mu_neg|",
        "x": [0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 1.1, 1.2, 1.3, 1.45, 1.6, 1.8],
        "d": 10,
        "eps": 0.1,
    },
    # Fig. 2(b): adversarial risks of AT vs mixup AT against d, |mu_pos + mu_neg| = 0.5, eps = 0.1
    "2b": {
        **_BASE,
        "risk": "adversarial",
        "x_name": "d",
        "x": [4, 6, 8, 12, 16, 24, 32, 48, 64, 96, 128],
        "mu_sum": 0.5,
        "eps": 0.1,
    },
}
"""Sweeps of the paper's Figures 1(a), 1(b), 2(a), 2(b). The paper states only the swept
variable (its captions); the fixed values are the project's choice: sigma_pos = sigma_neg = 1
(Remarks 1-4 are about equal variances), alpha = 0.7 (with equal variances the class gap comes
from the prior; alpha > 1/2 makes the paper's K positive), lam = 0.5 (g = 1/2, the largest
variance reduction), mu_pos = mu_neg = |mu_pos + mu_neg| / 2 (only the sum matters), d = 10
and eps = 0.1 where not swept. Ranges keep mu_pos + mu_neg - 2 eps > 0 and the risks inside
roughly (0.002, 0.85)."""


def _figure_point(spec: dict, x: float) -> dict:
    kind = spec["x_name"]
    params = {k: spec[k] for k in ("sigma_pos", "sigma_neg", "alpha")}
    mu_sum = x if kind == "|mu_pos + mu_neg|" else spec["mu_sum"]
    params.update(
        mu_pos=mu_sum / 2.0,
        mu_neg=mu_sum / 2.0,
        d=int(x) if kind == "d" else spec["d"],
        eps=float(x) if kind == "eps" else spec["eps"],
    )
    return params


def figure_data(
    kind: str,
    *,
    simulate: bool = True,
    n_train: int = 50_000,
    n_test: int = 200_000,
    n_trials: int = 8,
    seed: int = 0,
    include_paper_printed: bool = False,
    overrides: dict | None = None,
) -> pd.DataFrame:
    """Tidy data of the paper's Figure ``kind`` in {"1a", "1b", "2a", "2b"} (spec in
    ``FIGURES``; ``overrides`` replaces entries of it, e.g. ``{"lam": "uniform"}``).

    Columns: ``figure``, ``x_name``, ``x``, ``source`` ("closed_form", "simulation" and, with
    ``include_paper_printed``, "paper_printed"), ``training`` ("standard" | "mixup": natural
    training for 1(a), eps-adversarial training for the others), ``cls`` (+1 | -1),
    ``risk_type`` ("natural" | "adversarial"), ``risk``, ``se`` (0 for the formulas).

    "closed_form" and "simulation" measure risks on the original (un-mixed) test distribution.
    "paper_printed" is Theorem 3 / 4 (Propositions 1 / 2 for standard training) as printed,
    which measures the mixup-trained classifier on mixed data; with the default equal variances
    it equals the exact closed form evaluated on mixed data. Simulations use the same seed, hence
    the same test set, for both trainings at a point. The fixed parameters are in
    ``DataFrame.attrs["params"]``.
    """
    if kind not in FIGURES:
        raise ValueError(f"unknown figure {kind!r}; choose from {sorted(FIGURES)}")
    spec = {**FIGURES[kind], **(overrides or {})}
    risk_type = spec["risk"]
    rows = []
    for x in spec["x"]:
        p = _figure_point(spec, x)
        eps = p["eps"] if risk_type == "adversarial" else 0.0
        for training, lam in (("standard", None), ("mixup", spec["lam"])):
            common = {"figure": kind, "x_name": spec["x_name"], "x": x, "training": training}
            args = (p["mu_pos"], p["mu_neg"], p["sigma_pos"], p["sigma_neg"], p["alpha"], p["d"])
            closed = adversarial_risks_closed_form(*args, eps, lam)
            results = [("closed_form", closed, (0.0, 0.0))]
            if include_paper_printed and not isinstance(lam, str):
                results.append(
                    ("paper_printed", adversarial_risks_paper_theorem4(*args, eps, lam), (0.0, 0.0))
                )
            if simulate:
                sim = simulate_classwise_risks(
                    *args, eps, lam, n_train=n_train, n_test=n_test, n_trials=n_trials, seed=seed
                )
                if risk_type == "natural":
                    results.append(("simulation", sim.natural, sim.natural_se))
                else:
                    results.append(("simulation", sim.adversarial, sim.adversarial_se))
            for source, risks, ses in results:
                for cls, risk, se in zip((1, -1), risks, ses, strict=True):
                    rows.append(
                        {
                            **common,
                            "source": source,
                            "cls": cls,
                            "risk_type": risk_type,
                            "risk": risk,
                            "se": se,
                        }
                    )
    df = pd.DataFrame(rows)
    df = df[["figure", "x_name", "x", "source", "training", "cls", "risk_type", "risk", "se"]]
    df.attrs["params"] = {k: v for k, v in spec.items() if k not in ("x",)}
    return df
