"""One run of a config without Snakemake: prepare its data, train it, evaluate its checkpoints.

    python -m fairat.run CONFIG --run trix --eps 8/255 --seed 0 [--dataset D] [--model M]
                         [--out runs-debug] [--threads 1]

The path to take when debugging a method: everything runs in this process (a debugger or a
profiler sees it all), through the functions the workflow's scripts call
(:func:`fairat.data.prepare`, :func:`fairat.training.loop.train`,
:func:`fairat.evaluation.evaluate.evaluate_checkpoints`), on the run the workflow resolves from the same
config (:func:`fairat.config.checks.load_workflow_config`, :func:`fairat.config.runs.resolve_run`). Each of
``--dataset``, ``--model``, ``--eps`` and ``--seed`` may be left out when the config lists one
value; otherwise it names the choices. Outputs go under ``--out`` in the workflow's layout::

    OUT/data/<dataset>.npz                      the prepared split (kept: later runs reuse it)
    OUT/runs/<dataset>/<model>/<run>/eps<tag>/seed<seed>/   last.pt, best.pt, history.csv, ...
    OUT/eval/<dataset>/<model>/<run>/eps<tag>/seed<seed>/   <checkpoint>.json and .npz
    OUT/resume/                                 resume states of unfinished training

Raw datasets are read from where the workflow reads them (``raw_dir``, else
``<data_dir>/raw``, under the config's ``workdir``). A run that fine-tunes another
(``init_from``: FRL) starts from its parent's ``last.pt`` under ``OUT``; when that is missing the
parent is trained first, the same way (its evaluation is skipped). The run always trains from
epoch 1: the workflow's shared prefixes (:mod:`fairat.training.prefixes`) give the same weights, and the
output cache is Snakemake's. Training runs on ``--threads`` CPU threads, 1 by default as in the
train and evaluate rules, so that CPU results match the workflow's bit for bit.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from dataclasses import replace
from pathlib import Path

import torch
import yaml

from fairat.config.checks import load_workflow_config
from fairat.config.eps import format_eps, parse_eps
from fairat.config.runs import RunConfig, data_settings, resolve_run, run_dir
from fairat.config.schema import write_schema
from fairat.data import load_prepared, prepare
from fairat.evaluation.evaluate import evaluate_checkpoints
from fairat.training.loop import train

SCHEMA = Path(__file__).resolve().parents[2] / "workflow" / "schemas" / "config.schema.yaml"


class UsageError(ValueError):
    """A command line that names no run of the config, or leaves a choice open."""


def load_config(path: str | Path) -> tuple[dict, dict]:
    """(the config as the workflow sees it: schema defaults filled in, every check run; its runs
    by name). A config file replaces config/config.yaml, as ``--configfile`` does."""
    config = yaml.safe_load(Path(path).read_text()) or {}
    with tempfile.TemporaryDirectory() as tmp:
        variants, _ = load_workflow_config(
            config, write_schema(SCHEMA, Path(tmp) / "config.schema.json")
        )
    return config, variants


def choose(what: str, given: str | None, values: list, same=lambda a, b: a == b) -> str:
    """``given`` if it is one of the config's ``values`` (as the config writes it), the only value
    when ``given`` is None; otherwise an error naming the choices."""
    shown = ", ".join(str(v) for v in values)
    if given is None:
        if len(values) == 1:
            return values[0]
        raise UsageError(f"the config lists several {what} ({shown}); choose one with --{what}")
    for value in values:
        if same(str(value), str(given)):
            return value
    raise UsageError(f"--{what} {given}: not in the config; choices: {shown}")


def _same_eps(a: str, b: str) -> bool:
    return format_eps(parse_eps(a)) == format_eps(parse_eps(b))


def select_run(config: dict, variants: dict, args: argparse.Namespace) -> RunConfig:
    """The RunConfig the command line names, resolved as the workflow resolves it."""
    return resolve_run(
        config,
        dataset=choose("dataset", args.dataset, list(config["datasets"])),
        model=choose("model", args.model, list(config["models"])),
        run=choose("run", args.run, list(variants)),
        eps=choose("eps", args.eps, list(config["eps"]), _same_eps),
        seed=choose("seed", args.seed, list(config["seeds"])),
        runs=variants,
    )


def raw_dir(config: dict, dataset: str) -> Path:
    """Where the workflow's prepare_data rule reads raw ``dataset`` (relative to ``workdir``)."""
    workdir = Path(config.get("workdir", "."))
    return workdir / (config["raw_dir"] or f"{config['data_dir']}/raw") / dataset


def prepared_data(config: dict, dataset: str, out: Path) -> Path:
    """``OUT/data/<dataset>.npz``, prepared now unless it exists."""
    path = out / "data" / f"{dataset}.npz"
    if path.exists():
        print(f"data: {path} (already prepared)")
        return path
    options, val_fraction, split_seed = data_settings(config, dataset)
    data = prepare(dataset, raw_dir(config, dataset), options, val_fraction, split_seed, path)
    print(
        f"data: {data.dataset}: train {len(data.y_train)}, val {len(data.y_val)}, "
        f"test {len(data.y_test)}, {data.num_classes} classes -> {path}"
    )
    return path


def train_run(
    config: dict, variants: dict, run: RunConfig, data_path: Path, out: Path, *, why: str = ""
) -> Path:
    """Train ``run`` (its parent first when needed) into ``OUT/runs/<run>``; return that folder."""
    init = None
    if run.init_from is not None:
        parent = resolve_run(
            config,
            dataset=run.dataset,
            model=run.model,
            run=run.init_from,
            eps=run.eps,
            seed=run.seed,
            runs=variants,
        )
        init = out / "runs" / run_dir(parent) / "last.pt"
        if init.exists():
            print(f"{run.name} starts from {init} (its parent {parent.name}, trained before)")
        else:
            train_run(config, variants, parent, data_path, out, why=f" (the parent of {run.name})")
    folder = out / "runs" / run_dir(run)
    print(f"training {run_dir(run)}{why} -> {folder}")
    # the train rule's script receives the run without its evaluation settings and its name
    # (RunConfig.training_json), and takes the name from the run's directory
    train(
        replace(RunConfig.from_json(run.training_json()), name=run.name),
        load_prepared(data_path),
        folder,
        out / "resume",
        init_checkpoint=init,
    )
    return folder


def evaluate_run(run: RunConfig, data_path: Path, trained: Path, out: Path) -> list[Path]:
    """Evaluate the run's checkpoints (``evaluation.checkpoints``); return the result JSONs."""
    folder = out / "eval" / run_dir(run)
    names = run.evaluation.checkpoints
    metrics = [folder / f"{c}.json" for c in names]
    print(f"evaluating {', '.join(names)} -> {folder}")
    evaluate_checkpoints(
        RunConfig.from_json(run.to_json()),
        load_prepared(data_path),
        [trained / f"{c}.pt" for c in names],
        metrics,
        [folder / f"{c}.npz" for c in names],
        resume_dir=out / "resume",
    )
    return metrics


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m fairat.run",
        description="Train and evaluate one run of a workflow config in this process.",
    )
    parser.add_argument("config", help="a workflow config (YAML), as given to --configfile")
    parser.add_argument("--run", help="a run under methods: (or a sweep point of one)")
    parser.add_argument("--dataset")
    parser.add_argument("--model")
    parser.add_argument("--eps", help="as the config writes it (8/255) or its tag (8_255)")
    parser.add_argument("--seed")
    parser.add_argument("--out", default="runs-debug", help="output folder (default: %(default)s)")
    parser.add_argument(
        "--threads", type=int, default=1, help="CPU threads for torch (default: %(default)s)"
    )
    args = parser.parse_args(argv)
    try:
        config, variants = load_config(args.config)
        run = select_run(config, variants, args)
    except ValueError as err:  # a bad config or a choice the config does not offer
        parser.error(str(err))
    torch.set_num_threads(args.threads)
    out = Path(args.out)
    data_path = prepared_data(config, run.dataset, out)
    trained = train_run(config, variants, run, data_path, out)
    metrics = evaluate_run(run, data_path, trained, out)
    print(f"wrote: {trained}/ (checkpoints, history.csv, method_state.csv, config.json)")
    for path in metrics:
        print(f"wrote: {path} and {path.with_suffix('.npz')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
