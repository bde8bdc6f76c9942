"""Workflow step: attack each checkpoint of a run on the test split; flags and predicted labels
(.npz), metrics with confusion counts and class similarity (.json)."""

from fairat.runtime.jobserver import hand_over

# runs the rest of this file in a fork of a warm process that has imported torch, pandas
# and matplotlib (fairat.runtime.jobserver)
hand_over(snakemake, __file__)  # noqa: F821 (injected by snakemake's script directive)

from pathlib import Path

import torch

from fairat.config.runs import RunConfig
from fairat.data import load_prepared
from fairat.evaluation.evaluate import evaluate_outputs, npz_arrays, weights_digest
from fairat.runtime.logs import log_to
from fairat.training.checkpoint import rebuild_damaged_inputs, save_json, save_npz

with (
    log_to(snakemake.log[0]),  # noqa: F821 (injected by snakemake's script directive)
    rebuild_damaged_inputs(),  # a damaged input is moved aside: the next run rebuilds it
):
    sm = snakemake  # noqa: F821
    torch.set_num_threads(sm.threads)
    run = RunConfig.from_json(sm.params.run)
    data = load_prepared(sm.input.data)
    # (weights, attacks) -> flags, result and the checkpoint that gave them: best.pt is often
    # last.pt bit for bit
    done = {}
    for checkpoint, metrics, flags_path in zip(
        sm.input.checkpoints, sm.output.metrics, sm.output.flags, strict=True
    ):
        label = Path(checkpoint).stem
        attacks = run.evaluation.attacks_for(seed=run.seed, eps=run.eps, checkpoint=label)
        key = (weights_digest(checkpoint), attacks)
        if key in done:
            arrays, result, first = done[key]
            print(f"{label}: the same weights as {first}; its flags are reused")
        else:
            outputs, result = evaluate_outputs(run, data, checkpoint, resume_dir=sm.params.resume)
            arrays = npz_arrays(outputs)
            done[key] = arrays, result, label
        result = {**result, "checkpoint": label}
        save_npz(flags_path, labels=data.y_test, **arrays)
        save_json(result, metrics)
        for warning in result["sanity"]:
            print(f"sanity warning ({warning['check']}): {warning['detail']}")
        scores = ", ".join(
            f"{a} {r['average']:.3f}/{r['worst']:.3f}" for a, r in result["attacks"].items()
        )
        print(f"{result['checkpoint']}: average/worst-class accuracy {scores}")
