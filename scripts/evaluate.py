"""Workflow step: attack each checkpoint of a run on the test split; flags and predicted labels
(.npz), metrics with confusion counts and class similarity (.json)."""

from fairat.runtime.jobserver import hand_over

# runs the rest of this file in a fork of a warm process that has imported torch, pandas
# and matplotlib (fairat.runtime.jobserver)
hand_over(snakemake, __file__)  # noqa: F821 (injected by snakemake's script directive)

import torch

from fairat.config.runs import RunConfig
from fairat.data import load_prepared
from fairat.evaluation.evaluate import evaluate_checkpoints
from fairat.runtime.checkpoint import rebuild_damaged_inputs
from fairat.runtime.logs import log_to

with (
    log_to(snakemake.log[0]),  # noqa: F821 (injected by snakemake's script directive)
    rebuild_damaged_inputs(),  # a damaged input is moved aside: the next run rebuilds it
):
    sm = snakemake  # noqa: F821
    torch.set_num_threads(sm.threads)
    run = RunConfig.from_json(sm.params.run)
    evaluate_checkpoints(
        run,
        load_prepared(sm.input.data),
        sm.input.checkpoints,
        sm.output.metrics,
        sm.output.flags,
        resume_dir=sm.params.resume,
    )
