"""Workflow step: a run's checkpoints on every corrupted test split: per-sample flags and
predicted labels (.npz) and class-wise reports (.json, one per corruption and severity, in the
evaluation JSON's layout), fairat.evaluation.corruptions."""

from fairat.runtime.jobserver import hand_over

# runs the rest of this file in a fork of a warm process that has imported torch, pandas
# and matplotlib (fairat.runtime.jobserver)
hand_over(snakemake, __file__)  # noqa: F821 (injected by snakemake's script directive)

from pathlib import Path

import numpy as np
import torch

from fairat.config.runs import RunConfig
from fairat.data import load_prepared, to_float
from fairat.evaluation.evaluate import load_view, npz_arrays, run_ident
from fairat.evaluation.suite import SuiteOutputs, run_suite
from fairat.runtime.checkpoint import rebuild_damaged_inputs, save_json, save_npz
from fairat.runtime.logs import log_to
from fairat.training.device import configure_backends, resolve_device

with log_to(snakemake.log[0]), rebuild_damaged_inputs():  # noqa: F821 (snakemake's script)
    sm = snakemake  # noqa: F821
    torch.set_num_threads(sm.threads)
    configure_backends()
    run = RunConfig.from_json(sm.params.run)
    data = load_prepared(sm.input.data)
    device = resolve_device(run.device)
    with np.load(sm.input.corrupted) as z:
        corrupted = {k: z[k] for k in z.files if k != "labels"}
    y = torch.from_numpy(data.y_test).to(device)
    for checkpoint, metrics, flags_path in zip(
        sm.input.checkpoints, sm.output.metrics, sm.output.flags, strict=True
    ):
        view, state = load_view(run, data, checkpoint, device)
        flags, preds, reports = {}, {}, {}
        for name, x in corrupted.items():
            out = run_suite(
                view,
                torch.from_numpy(x).to(device),
                y,
                attacks=("clean",),
                eps=0.0,
                clamp=data.clamp,
                class_names=data.class_names,
                batch_size=run.evaluation.batch_size,
                seed=run.evaluation.seed,
                to_float=to_float,
                progress=False,
            )
            flags[name], preds[name], reports[name] = (
                out.flags["clean"],
                out.preds["clean"],
                out.reports["clean"],
            )
        result = {
            **run_ident(run, state),
            "checkpoint": Path(checkpoint).stem,
            "class_names": data.class_names,
            "n_test": len(y),
            "attacks": reports,
            "sanity": [],
        }
        arrays = npz_arrays(SuiteOutputs(flags=flags, preds=preds, reports=reports))
        save_npz(flags_path, labels=data.y_test, **arrays)
        save_json(result, metrics)
        mean = np.mean([r["average"] for r in reports.values()])
        print(f"{result['checkpoint']}: class-average accuracy {mean:.3f} over {len(reports)}")
