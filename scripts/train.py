"""Workflow step: train one run and write last.pt, best.pt, history.csv, config.json and the
states other runs start from (branches/, fairat.training.prefixes)."""

from fairat.runtime.jobserver import hand_over

# runs the rest of this file in a fork of a warm process that has imported torch, pandas
# and matplotlib (fairat.runtime.jobserver)
hand_over(snakemake, __file__)  # noqa: F821 (injected by snakemake's script directive)

import sys
from dataclasses import replace
from pathlib import Path

import torch

from fairat.config.runs import RunConfig
from fairat.data import load_prepared
from fairat.runtime.checkpoint import rebuild_damaged_inputs
from fairat.runtime.logs import log_to
from fairat.training.loop import train
from fairat.training.prefixes import kept_epochs

with (
    log_to(snakemake.log[0]),  # noqa: F821 (injected by snakemake's script directive)
    rebuild_damaged_inputs(),  # a damaged input is moved aside: the next run rebuilds it
):
    sm = snakemake  # noqa: F821
    torch.set_num_threads(sm.threads)
    # params.run is name-free (RunConfig.training_json: the output cache's key); the name is
    # the run's directory
    run = replace(RunConfig.from_json(sm.params.run), name=sm.wildcards.run)
    # shared prefixes: the parent's state this run starts from (absent when the parent was
    # trained under another plan: then from epoch 1), and the epochs after which this run
    # keeps its own for its children and for other configs' runs (fairat.training.prefixes.kept_epochs;
    # not a param: adding or removing a child does not retrain its parent)
    start = Path(sm.input.start) / sm.params.start if sm.params.start else None
    if start is not None and not start.exists():
        print(f"[{run.name}] {start} does not exist: training from epoch 1", file=sys.stderr)
        start = None
    train(
        run,
        load_prepared(sm.input.data),
        Path(sm.output.last).parent,
        Path(sm.params.resume),
        init_checkpoint=sm.input.init or None,
        start_from=start,
        branch_at=kept_epochs(sm.config, run),
        branch_dir=sm.output.branches,
    )
