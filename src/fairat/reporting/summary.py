"""Aggregation: the per-method summary over seeds, the paired comparisons and the DVC metrics.

The summary averages over classes within a run of the tidy class-wise table
(:mod:`fairat.reporting.classwise`; average, worst class), then reports the mean, standard deviation
and 95 % confidence half-width of those run-level numbers over seeds, a 95 % interval of the
expected worst-class accuracy that accounts for seeds and test samples
(:func:`fairat.reporting.bootstrap.seed_worst_interval`), DAFA's rho against the run's baseline
(docs/specification.md#rho, on the seeds both have) and the number of evaluation sanity warnings.
summary.md and summary.tex are written from it by :mod:`fairat.reporting.summary_text`.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np
import pandas as pd

from fairat.config.eps import eps_tag
from fairat.reporting.bootstrap import seed_class_counts, seed_class_interval
from fairat.reporting.classwise import UNRECORDED, _precisions
from fairat.reporting.stats import paired_comparison, rho, seed_summary

RUN = ["dataset", "model", "run", "method", "eps", "checkpoint"]
GROUP = [*RUN, "attack"]
BASELINE = "trades"  # the default baseline run (fairat.config.variants.DEFAULT_BASELINE)


def read_summary(path: str | Path) -> pd.DataFrame:
    """Read summary.csv; a run without a baseline keeps an empty ``baseline``."""
    return pd.read_csv(path, dtype={"eps": str, "baseline": str}).fillna({"baseline": ""})


def run_summaries(classwise: pd.DataFrame) -> pd.DataFrame:
    """Per run and attack: average over classes, worst class (classes with n = 0 left out), the
    number of test samples the attack evaluated and the precision (``unrecorded`` for a table
    without that column, written before it existed)."""
    present = classwise[classwise["n"] > 0]
    if "precision" not in present:
        present = present.assign(precision=UNRECORDED)
    return (
        present.groupby([*GROUP, "seed"], sort=False)
        .agg(
            average=("accuracy", "mean"),
            worst=("accuracy", "min"),
            n_samples=("n", "sum"),
            precision=("precision", _precisions),
        )
        .reset_index()
    )


def robust_attack(attacks: list[str]) -> str:
    """The attack that rho_rob uses: ``worst_case`` if present, else the strongest one."""
    if "worst_case" in attacks:
        return "worst_case"
    if "autoattack" in attacks:
        return "autoattack"
    iterative = [a for a in attacks if re.fullmatch(r"(pgd|cw)\d+", a)]
    if iterative:
        return max(iterative, key=lambda a: int(re.sub(r"\D", "", a)))
    return "fgsm" if "fgsm" in attacks else attacks[0]


def default_baselines(runs: list[str]) -> dict[str, str | None]:
    """Every run compared with ``trades`` when there is a run of that name, else with none."""
    return {r: (BASELINE if BASELINE in runs else None) for r in runs}


def summary_table(
    classwise: pd.DataFrame,
    sanity: pd.DataFrame | None = None,
    baselines: dict[str, str | None] | None = None,
    intervals: bool = True,
) -> pd.DataFrame:
    """Per dataset, model, run, eps, checkpoint and attack: statistics over seeds (``worst_ci95``
    the t-interval's half-width), the two-level 95 % interval of the expected worst-class
    accuracy over seeds and test samples (``worst_ci95_lo``, ``worst_ci95_hi``,
    :func:`fairat.reporting.bootstrap.seed_class_interval`; NaN with ``intervals`` False), rho against the
    run's baseline (``baselines[run]``, default :func:`default_baselines`) on the seeds both have
    (``rho_seeds`` of them), and the count of sanity warnings of the run's evaluations."""
    runs = run_summaries(classwise)
    if baselines is None:
        baselines = default_baselines(list(dict.fromkeys(runs["run"])))
    blocks = classwise.groupby(GROUP, sort=False).indices  # rows of each block, for the interval
    columns = {c: classwise[c].to_numpy() for c in ("seed", "class", "accuracy", "n")}
    rows = []
    for key, block in runs.groupby(GROUP, sort=False):
        avg, worst = seed_summary(block["average"]), seed_summary(block["worst"])
        at = blocks[key]
        correct, n = seed_class_counts(
            *(columns[c][at] for c in ("seed", "class", "accuracy", "n"))
        )
        lo, hi = seed_class_interval(correct, n) if intervals else (math.nan, math.nan)
        rows.append(
            {
                **dict(zip(GROUP, key, strict=True)),
                "n_seeds": avg.n,
                "n_samples": int(block["n_samples"].max()),
                "average_mean": avg.mean,
                "average_std": avg.std,
                "average_ci95": avg.ci95,
                "worst_mean": worst.mean,
                "worst_std": worst.std,
                "worst_ci95": worst.ci95,
                "worst_ci95_lo": lo,
                "worst_ci95_hi": hi,
                "precision": _precisions(block["precision"]),
            }
        )
    out = pd.DataFrame(rows)
    out["baseline"] = [baselines.get(r) or "" for r in out["run"]]
    out["robust_attack"] = robust_attack(list(dict.fromkeys(out["attack"])))
    out["rho_nat"], out["rho_rob"], out["rho_seeds"] = np.nan, np.nan, 0
    for i, r in out.iterrows():
        if not r["baseline"]:
            continue
        for column, attack in (("rho_nat", "clean"), ("rho_rob", r["robust_attack"])):
            own = _seed_values(runs, r, r["run"], attack)
            base = _seed_values(runs, r, r["baseline"], attack)
            shared = sorted(set(own.index) & set(base.index))
            if shared:
                a, b = own.loc[shared].mean(), base.loc[shared].mean()
                out.loc[i, column] = rho(a["average"], a["worst"], b["average"], b["worst"])
            if column == "rho_rob":
                out.loc[i, "rho_seeds"] = len(shared)
    counts = (
        sanity.groupby(RUN).size() if sanity is not None and len(sanity) else pd.Series(dtype=int)
    )
    out["sanity_warnings"] = [
        int(counts.get(tuple(r[c] for c in RUN), 0)) for _, r in out.iterrows()
    ]
    return out


def _seed_values(runs: pd.DataFrame, row: pd.Series, run: str, attack: str) -> pd.DataFrame:
    """Per-seed average and worst of ``run`` in the summary row's dataset, model, eps and
    checkpoint under ``attack``, indexed by seed (empty when it has none)."""
    sel = runs
    for column, value in (
        *((c, row[c]) for c in ("dataset", "model", "eps", "checkpoint")),
        ("run", run),
        ("attack", attack),
    ):
        sel = sel[sel[column] == value]
    return sel.set_index("seed")[["average", "worst"]]


def metrics_key(eps: str) -> str:
    """The metrics.json key of an eps label: ``16/255`` -> ``eps16_255``, ``0.1`` -> ``eps0p1``
    (no dots: ``dvc metrics`` joins nested keys with dots)."""
    return "eps" + eps_tag(eps).replace(".", "p")


def metrics_run_key(run: str) -> str:
    """The metrics.json key of a run name, dots written ``p`` (``trix-lam1.5`` -> ``trix-lam1p5``)."""
    return run.replace(".", "p")


def metrics_json(summary: pd.DataFrame) -> dict:
    """The summary as DVC metrics: ``{dataset: {model: {run: {eps key: {checkpoint:
    {attack: {"average", "worst", "n_seeds"}}}}}}}``, where ``average`` and ``worst`` are the
    means over seeds of the average and the worst-class accuracy (NaN becomes null)."""

    def number(value: float) -> float | None:
        return None if pd.isna(value) else float(value)

    out: dict = {}
    for _, r in summary.iterrows():
        keys = [r["dataset"], r["model"], metrics_run_key(r["run"]), metrics_key(str(r["eps"]))]
        node = out
        for key in [*keys, r["checkpoint"]]:
            node = node.setdefault(str(key), {})
        node[str(r["attack"])] = {
            "average": number(r["average_mean"]),
            "worst": number(r["worst_mean"]),
            "n_seeds": int(r["n_seeds"]),
        }
    return out


def paired_table(
    classwise: pd.DataFrame, baselines: dict[str, str | None] | None = None
) -> pd.DataFrame:
    """Each run against its baseline (``baselines[run]``, default :func:`default_baselines`) on
    the seeds both have, per attack, for the average and the worst-class accuracy: mean
    difference, 95 % CI half-width, paired t-test."""
    runs = run_summaries(classwise)
    if baselines is None:
        baselines = default_baselines(list(dict.fromkeys(runs["run"])))
    rows = []
    for key, block in runs.groupby(GROUP, sort=False):
        ident = dict(zip(GROUP, key, strict=True))
        baseline = baselines.get(ident["run"])
        if not baseline or baseline == ident["run"]:
            continue
        base = runs
        for c in GROUP:
            if c != "method":
                base = base[base[c] == (baseline if c == "run" else ident[c])]
        if base.empty:
            continue
        for metric in ("average", "worst"):
            c = paired_comparison(
                dict(zip(block["seed"], block[metric], strict=True)),
                dict(zip(base["seed"], base[metric], strict=True)),
            )
            rows.append(
                {
                    **ident,
                    "baseline": baseline,
                    "metric": metric,
                    "n_pairs": c.n_pairs,
                    "mean_diff": c.mean_diff,
                    "ci95": c.ci95,
                    "t": c.t,
                    "p_value": c.p_value,
                }
            )
    columns = [*GROUP, "baseline", "metric", "n_pairs", "mean_diff", "ci95", "t", "p_value"]
    return pd.DataFrame(rows, columns=columns)
