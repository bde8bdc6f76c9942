"""Models fairat did not train, fetched and loaded: RobustBench's model zoo and external
weights-only checkpoints (the ``zoo:`` and ``external:`` entries of a config,
:mod:`fairat.config.external`, which names, checks and lists them).

A zoo entry's weights are fetched once with ``robustbench.utils.load_model`` into
``<data_dir>/zoo/<dataset>/<threat_model>/<name>.pt``, the path that function reads (and skips
the download for when the file exists: robustbench 1.1.1 ``utils.py``, ``load_model``). An
external entry's weights-only state dict of a registered architecture is loaded with
``torch.load(weights_only=True)``.

RobustBench's models take inputs in [0, 1] and normalise inside (its README's convention), as
fairat's networks do, so the model is attacked as it is. Each is evaluated with the config's suite
at each of its eps as seed 0, checkpoint ``last`` (the one checkpoint there is).
"""

from __future__ import annotations

from pathlib import Path

from fairat.config.external import ZOO_DATASETS, ExternalModel, robustbench_utils


def zoo_weights(model_dir: str | Path, entry: ExternalModel) -> Path:
    """The file ``robustbench.utils.load_model`` reads for a zoo entry under ``model_dir``."""
    return Path(model_dir) / ZOO_DATASETS[entry.dataset] / entry.threat_model / f"{entry.name}.pt"


def fetch_zoo(model_dir: str | Path, entry: ExternalModel) -> Path:
    """Download a zoo entry's weights with robustbench (nothing to do when the file exists);
    offline, one error naming the model, the file and how to get it."""
    path = zoo_weights(model_dir, entry)
    if path.is_file():
        return path
    utils = robustbench_utils()
    try:
        utils.load_model(
            entry.name,
            model_dir=str(model_dir),
            dataset=ZOO_DATASETS[entry.dataset],
            threat_model=entry.threat_model,
        )
    except Exception as err:  # robustbench's download raises whatever requests/gdown raise
        path.unlink(missing_ok=True)  # a partial download is not a checkpoint
        raise FileNotFoundError(
            f"zoo: could not fetch RobustBench model {entry.name!r} ({entry.dataset}, "
            f"{entry.threat_model}): {type(err).__name__}: {err}. It looked for {path}. On a "
            "machine with internet run the workflow's zoo_fetch job (snakemake --until "
            f"zoo_fetch), or call robustbench.utils.load_model('{entry.name}', model_dir=..., "
            f"dataset='{ZOO_DATASETS[entry.dataset]}', threat_model='{entry.threat_model}') and "
            f"copy the file to {path}"
        ) from err
    return path


def load_zoo(model_dir: str | Path, entry: ExternalModel):
    """The zoo model through ``robustbench.utils.load_model`` from its fetched weights (never a
    download: a missing file is an error naming it)."""
    path = zoo_weights(model_dir, entry)
    if not path.is_file():
        raise FileNotFoundError(
            f"zoo: the weights of {entry.name!r} are missing: {path}; fetch them with the "
            "zoo_fetch job on a machine with internet"
        )
    return (
        robustbench_utils()
        .load_model(
            entry.name,
            model_dir=str(model_dir),
            dataset=ZOO_DATASETS[entry.dataset],
            threat_model=entry.threat_model,
        )
        .eval()
    )


def load_external(entry: ExternalModel, data, model_args: dict):
    """A registered architecture with an external weights-only state dict (``weights_only``:
    a file holding pickled code is refused, :func:`fairat.runtime.checkpoint.load_torch`)."""
    from fairat.models import create_model
    from fairat.runtime.checkpoint import load_torch

    state = load_torch(entry.file)
    if isinstance(state, dict) and isinstance(state.get("model"), dict):
        state = state["model"]  # a fairat checkpoint
    model = create_model(
        entry.model,
        num_classes=data.num_classes,
        input_shape=data.input_shape,
        mean=data.mean,
        std=data.std,
        **model_args,
    )
    try:
        model.load_state_dict(state)
    except RuntimeError as err:
        raise ValueError(
            f"external {entry.name!r}: {entry.file} does not hold weights of {entry.model} for "
            f"{entry.dataset}: {str(err).splitlines()[0]}"
        ) from err
    return model.eval()
