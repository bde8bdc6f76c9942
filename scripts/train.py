"""Workflow step: train one run and write last.pt, best.pt, history.csv and config.json; or
(rule branch) train it through a shared prefix and write its state then (fairat.prefixes)."""

from fairat.jobserver import hand_over

# runs the rest of this file in a fork of a warm process that has imported torch, pandas
# and matplotlib (fairat.jobserver)
hand_over(snakemake, __file__)  # noqa: F821 (injected by snakemake's script directive)

from pathlib import Path

import torch

from fairat.checkpoint import rebuild_damaged_inputs
from fairat.config import RunConfig
from fairat.data import load_prepared
from fairat.logs import log_to
from fairat.train import train

with (
    log_to(snakemake.log[0]),  # noqa: F821 (injected by snakemake's script directive)
    rebuild_damaged_inputs(),  # a damaged input is moved aside: the next run rebuilds it
):
    sm = snakemake  # noqa: F821
    torch.set_num_threads(sm.threads)
    branch = sm.output.state if sm.rule == "branch" else None  # a shared prefix's end
    train(
        RunConfig.from_json(sm.params.run),
        load_prepared(sm.input.data),
        Path(sm.output[0]).parent,
        Path(sm.params.resume),
        init_checkpoint=sm.input.init or None,
        start_from=sm.input.start or None,
        stop_at=int(sm.wildcards.branch) if branch else None,
        branch_out=branch,
    )
