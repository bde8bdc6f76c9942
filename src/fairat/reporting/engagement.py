"""Rows whose method never engaged its mechanism, read from the runs' logged method state.

A short budget can leave a method in its warm-up (DAFA's and TRIX's class weights never
computed, CFA never calibrated or its FAWA never averaging, FRL's multipliers at 0): its row
then measures the budget, not the method. ``Method.idle_mechanism`` says, per method, what its
``method_state.csv`` shows; :func:`idle_runs` collects the verdicts of every run, and the summary
marks those rows with the reason.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from fairat.methods import METHODS

IDLE_COLUMNS = ["dataset", "model", "run", "method", "eps", "seed", "reason"]


def idle_runs(paths: Sequence[str | Path], runs: Sequence[dict]) -> pd.DataFrame:
    """One row per run (dataset, model, run, eps label, seed) whose mechanism stayed idle.
    ``runs[i]`` describes ``paths[i]``: its identity, ``method`` and ``params`` (the run's
    hyper-parameters, as in its config.json)."""
    rows = []
    for path, run in zip(paths, runs, strict=True):
        cls = METHODS.get(run["method"])
        params = cls.parse_params(run.get("params") or {})
        state = pd.read_csv(path).to_dict("records")
        reason = cls.idle_mechanism(params, state)
        if reason:
            rows.append({**{k: run[k] for k in IDLE_COLUMNS[:-1]}, "reason": reason})
    return pd.DataFrame(rows, columns=IDLE_COLUMNS)


def idle_note(idle: pd.DataFrame, dataset: str, model: str, eps: str, seeds: int) -> str:
    """The summary.md line of one block: each idle run, on how many seeds, and why."""
    block = idle[(idle["dataset"] == dataset) & (idle["model"] == model) & (idle["eps"] == eps)]
    if block.empty:
        return ""
    parts = []
    for (run, reason), rows in block.groupby(["run", "reason"], sort=False):
        parts.append(f"`{run}` ({rows['seed'].nunique()} of {seeds} seeds): {reason}")
    return (
        "\nMechanism never engaged (the row measures the budget, not the method): "
        + "; ".join(parts)
        + ".\n"
    )
