"""Workflow step: each stateful run's per-epoch method state (class weights, radii, ...)."""

import json
from pathlib import Path

import pandas as pd

from fairat.figures import plot_method_state
from fairat.logs import log_to

with log_to(snakemake.log[0]):  # noqa: F821 (injected by snakemake's script directive)
    sm = snakemake  # noqa: F821
    outputs = zip(sm.input.states, sm.input.metrics, sm.output.png, sm.output.pdf, strict=True)
    for state_csv, metrics, png, pdf in outputs:
        state = pd.read_csv(state_csv)
        result = json.loads(Path(metrics).read_text())
        title = (
            f"{result['run']} ({result['method']}): {result['dataset']} / {result['model']} / "
            f"eps {result['eps']} / seed {result['seed']}"
        )
        plot_method_state(state, result["class_names"], [png, pdf], title)
        print(f"{len(state)} epochs, columns {list(state.columns)} -> {png}, {pdf}")
