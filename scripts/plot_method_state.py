"""Workflow step: each stateful run's per-epoch method state (class weights, radii, ...)."""

import json
from pathlib import Path

import pandas as pd

from fairat.checkpoint import atomic_write
from fairat.figures import plot_method_state
from fairat.logs import log_to

with log_to(snakemake.log[0]):  # noqa: F821 (injected by snakemake's script directive)
    sm = snakemake  # noqa: F821
    for state_csv, metrics, out in zip(sm.input.states, sm.input.metrics, sm.output, strict=True):
        state = pd.read_csv(state_csv)
        result = json.loads(Path(metrics).read_text())
        title = (
            f"{result['method']}: {result['dataset']} / {result['model']} / "
            f"eps {result['eps']} / seed {result['seed']}"
        )
        atomic_write(
            out,
            lambda tmp, s=state, r=result, t=title: plot_method_state(s, r["class_names"], tmp, t),
        )
        print(f"{len(state)} epochs, columns {list(state.columns)} -> {out}")
