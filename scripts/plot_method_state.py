"""Workflow step: each stateful run's per-epoch method state (class weights, radii, ...)."""

from fairat.runtime.jobserver import hand_over

# runs the rest of this file in a fork of a warm process that has imported torch, pandas
# and matplotlib (fairat.runtime.jobserver)
hand_over(snakemake, __file__)  # noqa: F821 (injected by snakemake's script directive)

import numpy as np
import pandas as pd

from fairat.reporting.figures import plot_method_state
from fairat.runtime.logs import log_to

with log_to(snakemake.log[0]):  # noqa: F821 (injected by snakemake's script directive)
    sm = snakemake  # noqa: F821
    # dataset file -> its class names, read without fairat.data.load_prepared, which imports
    # torch (3 s where no job server runs) and loads every array; a damaged file has already
    # failed the training jobs that read it before this job can run
    class_names = {}
    outputs = zip(
        sm.input.states, sm.input.data, sm.params.titles, sm.output.png, sm.output.pdf, strict=True
    )
    for state_csv, data, title, png, pdf in outputs:
        if data not in class_names:
            with np.load(data, allow_pickle=False) as arrays:
                class_names[data] = [str(c) for c in arrays["class_names"]]
        state = pd.read_csv(state_csv)
        plot_method_state(state, class_names[data], [png, pdf], title)
        print(f"{len(state)} epochs, columns {list(state.columns)} -> {png}, {pdf}")
