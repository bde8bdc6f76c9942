"""Workflow step: attack a RobustBench zoo model or an external checkpoint with the config's
suite on the dataset's test split; flags and predicted labels (.npz), metrics (.json), as for a
trained run's `last` checkpoint (fairat.evaluation.zoo, fairat.evaluation.evaluate.evaluate_view)."""

from fairat.runtime.jobserver import hand_over

# runs the rest of this file in a fork of a warm process that has imported torch, pandas
# and matplotlib (fairat.runtime.jobserver)
hand_over(snakemake, __file__)  # noqa: F821 (injected by snakemake's script directive)

import hashlib
import json
from importlib.metadata import version
from pathlib import Path

import torch

from fairat.config.eps import parse_eps
from fairat.config.external import ExternalModel
from fairat.config.runs import EvalConfig
from fairat.data import load_prepared
from fairat.evaluation.evaluate import evaluate_view, npz_arrays
from fairat.evaluation.zoo import load_external, load_zoo
from fairat.runtime.checkpoint import rebuild_damaged_inputs, save_json, save_npz
from fairat.runtime.logs import log_to
from fairat.training.device import (
    configure_backends,
    precision_record,
    prepare_model,
    resolve_device,
)

with log_to(snakemake.log[0]), rebuild_damaged_inputs():  # noqa: F821 (snakemake's script)
    sm = snakemake  # noqa: F821
    torch.set_num_threads(sm.threads)
    configure_backends()
    entry = ExternalModel(**sm.params.entry)
    data = load_prepared(sm.input.data)
    device = resolve_device(sm.params.device)
    if entry.kind == "zoo":
        model = load_zoo(sm.params.model_dir, entry)
    else:
        model = load_external(entry, data, sm.params.model_args)
    model = prepare_model(model, device, image=len(data.input_shape) == 3)
    outputs, result = evaluate_view(
        model,
        data,
        EvalConfig(**json.loads(sm.params.evaluation)),
        ident=entry.ident(),
        eps=parse_eps(entry.eps),
        checkpoint="last",
        precision=precision_record("fp32"),
        device=device,
    )
    result = {**result, "checkpoint": "last"}
    save_npz(sm.output.flags, labels=data.y_test, **npz_arrays(outputs))
    save_json(result, sm.output.metrics)
    source = {
        **{k: v for k, v in sm.params.entry.items() if v is not None},
        "weights": sm.input.weights,
        "sha256": hashlib.sha256(Path(sm.input.weights).read_bytes()).hexdigest(),
        "robustbench": version("robustbench") if entry.kind == "zoo" else None,
    }
    save_json(source, sm.output.source)
    scores = ", ".join(
        f"{a} {r['average']:.3f}/{r['worst']:.3f}" for a, r in result["attacks"].items()
    )
    print(f"{entry.run} eps {entry.eps}: average/worst-class accuracy {scores}")
