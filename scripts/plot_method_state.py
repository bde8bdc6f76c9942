"""Workflow step: a run's per-epoch method state (class weights, radii, ...) over epochs."""

import json
from pathlib import Path

import pandas as pd

from fairat.checkpoint import atomic_write
from fairat.figures import plot_method_state
from fairat.logs import log_to

with log_to(snakemake.log[0]):  # noqa: F821 (injected by snakemake's script directive)
    sm = snakemake  # noqa: F821
    state = pd.read_csv(sm.input.state)
    class_names = json.loads(Path(sm.input.metrics).read_text())["class_names"]
    w = sm.wildcards
    title = f"{w.method}: {w.dataset} / {w.model} / eps {w.eps.replace('_', '/')} / seed {w.seed}"
    atomic_write(sm.output[0], lambda tmp: plot_method_state(state, class_names, tmp, title))
    print(f"{len(state)} epochs, columns {list(state.columns)} -> {sm.output[0]}")
