"""Config validation, wildcard constraints, paths and input functions (nothing else)."""

import dataclasses
import json
import os
import sys
from pathlib import Path

from fairat.config.checks import load_workflow_config
from fairat.config.runs import EvalConfig, data_settings, resolve_run
from fairat.methods.base import parse_dataclass
from fairat.config.eps import eps_tag
from fairat.runtime import gpuslots
from fairat.methods import METHODS, Method
from fairat.training.prefixes import describe, workflow_plan
from fairat.config.schema import write_schema
from fairat.config.corruptions import settings as corruption_settings
from fairat.config.external import entries as external_entries
from fairat.evaluation.zoo import zoo_weights

BASE = Path(workflow.basedir)
# the schema, then every check that can run before any job (fairat.config.checks): run names,
# sweeps, baselines, hyper-parameter ranges, epochs, data options, model arguments, selections
VARIANTS, RUNS = load_workflow_config(
    config,
    write_schema(
        BASE / "workflow/schemas/config.schema.yaml",
        Path(".snakemake/fairat/config.schema.json"),
    ),
)

# swept runs: {run: {variant, sweep values, baseline}} for the sensitivity tables and figures
SWEPT = {
    name: {"variant": v.family, "sweep": v.sweep, "baseline": v.baseline}
    for name, v in VARIANTS.items()
    if v.sweep
}
SWEEP_VARIANTS = list(dict.fromkeys(m["variant"] for m in SWEPT.values()))

DATA = config["data_dir"]
RAW = config["raw_dir"] or f"{DATA}/raw"
RESULTS = config["results_dir"]
RUN = "{dataset}/{model}/{run}/eps{eps}/seed{seed}"
CHECKPOINTS = config["evaluation"].get("checkpoints", ["last", "best"])
# what train and evaluate jobs ask a scheduler for (defaults from the schema)
JOB_RESOURCES = config["resources"]
GPUS = JOB_RESOURCES["gpus_per_job"]
if GPUS is None:  # 1 with device cuda, else 0
    GPUS = 1 if config["device"] == "cuda" else 0

# GPU slots on one machine (fairat.runtime.gpuslots): each GPU job holds one of GPUs x jobs_per_gpu
# slots, and unless the command line gives --resources gpu=K, Snakemake runs at most that many
# GPU jobs at once. Not on a cluster (--jobs with an executor: `_nodes` is set) nor inside a
# Slurm job: Slurm assigns the GPUs there.
if (
    GPUS
    and workflow.global_resources["_nodes"].value is None
    and not gpuslots.slurm_assigns()
):
    SLOT_GPUS, _gpu_source = gpuslots.detect_gpus()
    os.environ[gpuslots.POOL_ENV] = ",".join(SLOT_GPUS)  # the jobs use this pool
    os.environ[gpuslots.PER_GPU_ENV] = str(JOB_RESOURCES["jobs_per_gpu"])
    if _gpu_source == "nvidia-smi":  # "GPU 1" in a job's log is nvidia-smi's GPU 1
        os.environ.setdefault("CUDA_DEVICE_ORDER", "PCI_BUS_ID")
    _gpu_limit = gpuslots.workflow_limit(
        (
            workflow.global_resources["gpu"].value
            if "gpu" in workflow.global_resources
            else None
        ),
        SLOT_GPUS,
        JOB_RESOURCES["jobs_per_gpu"],
        GPUS,
    )
    if _gpu_limit is not None:
        workflow.register_resource("gpu", _gpu_limit)
        print(
            f"GPU slots: {len(SLOT_GPUS)} GPU(s) ({', '.join(SLOT_GPUS)}, from {_gpu_source})"
            f" x {JOB_RESOURCES['jobs_per_gpu']} job(s) each: at most {_gpu_limit} GPU jobs"
            " at once",
            file=sys.stderr,
        )


wildcard_constraints:
    dataset="[a-z0-9_]+",
    model="[a-z0-9_]+",
    run="[a-z0-9][a-z0-9_.-]*",
    eps="[0-9._]+",
    seed="[0-9]+",
    checkpoint="last|best",
    variant="[a-z0-9][a-z0-9_.-]*",


def run_config(wildcards):
    """The resolved RunConfig of a run, from its wildcards."""
    return resolve_run(
        config,
        dataset=wildcards.dataset,
        model=wildcards.model,
        run=wildcards.run,
        eps=wildcards.eps,
        seed=wildcards.seed,
        runs=VARIANTS,
    )


def run_path(run):
    return RUN.format(
        dataset=run.dataset,
        model=run.model,
        run=run.name,
        eps=eps_tag(run.eps),
        seed=run.seed,
    )


# shared prefixes (fairat.training.prefixes): {run path: Branch(parent, epoch)}; printed at start-up,
# so that `snakemake -n` shows who branches from whom
PREFIXES = workflow_plan(config, RUNS)
if PREFIXES:
    print(
        f"fairat: {len(PREFIXES)} run(s) start from another run's state (share_prefixes):",
        *describe(PREFIXES),
        sep="\n  ",
        file=sys.stderr,
    )


def parent_branches(wildcards):
    """The `branches` directory of the run whose first epochs this run takes, or nothing."""
    branch = PREFIXES.get(RUN.format(**wildcards))
    if branch is None:
        return []
    return f"{RESULTS}/runs/{run_path(branch.parent)}/branches"


def branch_name(wildcards):
    """The state file in `parent_branches` this run starts from ("" for epoch 1)."""
    branch = PREFIXES.get(RUN.format(**wildcards))
    return "" if branch is None else f"branch_e{branch.epoch}.pt"


def init_checkpoint(wildcards):
    """The `last` checkpoint of the run a method fine-tunes (FRL: `init_from`), else nothing."""
    parent = VARIANTS[wildcards.run].init_from
    if parent is None:
        return []
    run = RUN.format(**{**wildcards, "run": parent})
    return f"{RESULTS}/runs/{run}/last.pt"


# zoo and external models (fairat.evaluation.zoo): one evaluation each per eps, seed 0, checkpoint last
EXTERNAL = external_entries(config)
EVAL_CONFIG = parse_dataclass(
    EvalConfig, config.get("evaluation", {}), where="evaluation"
)
EVALUATION = json.dumps(dataclasses.asdict(EVAL_CONFIG))


# common corruptions (fairat.evaluation.corruptions): settings with defaults filled in, or None
CORRUPTIONS = corruption_settings(config)
CORRUPTION_CHECKPOINTS = (CORRUPTIONS or {}).get("checkpoints", [])


def external_entry(kind, wildcards):
    """The zoo or external entry of a job's wildcards, as a dict (its eps left out for zoo_fetch)."""
    for e in EXTERNAL:
        if (
            e.kind == kind
            and e.name == wildcards.name
            and e.dataset == wildcards.dataset
        ):
            if "eps" not in wildcards.keys() or eps_tag(e.eps) == wildcards.eps:
                return dataclasses.asdict(e)
    raise ValueError(f"no {kind} entry for {dict(wildcards)}")


def zoo_weights_path(wildcards):
    entry = next(e for e in EXTERNAL if e.kind == "zoo" and e.name == wildcards.name)
    return str(zoo_weights(f"{DATA}/zoo", entry))


def eval_jsons():
    return [
        f"{RESULTS}/eval/{run_path(run)}/{checkpoint}.json"
        for run in RUNS
        for checkpoint in CHECKPOINTS
    ] + [f"{RESULTS}/eval/{e.path}/last.json" for e in EXTERNAL]


# the run blocks of the confusion figures: (dataset, model, eps tag) in config order
BLOCKS = list(
    dict.fromkeys(
        [(r.dataset, r.model, eps_tag(r.eps)) for r in RUNS]
        + [(e.dataset, e.model, eps_tag(e.eps)) for e in EXTERNAL]
    )
)


# where each paper table and figure kind (workflow/rules/paper.smk) goes in the HTML report:
# (category, subcategory); its caption is workflow/report/paper_<name>.rst
PAPER_REPORT = {
    "trix": ("Paper tables", "TRIX / DAFA"),
    "table1": ("Paper tables", "Table I (paper 000)"),
    "error_stats": ("Paper tables", "Error statistics (paper 003)"),
    "per_class": ("Paper tables", "Per class"),
    "heatmap": ("Paper figures", "Per-class heatmap"),
    "eps": ("Paper figures", "Accuracy against eps"),
    "tradeoff": ("Paper figures", "Average / worst-class trade-off"),
    "epochs": ("Paper figures", "Validation accuracy over epochs"),
}


def paper_report(name, paths):
    """``paths`` (a paper table's file, or a figure kind's files) in the HTML report with the
    caption, category and subcategory of paper table or figure kind ``name``."""
    category, subcategory = PAPER_REPORT[name]
    return report(
        paths,
        caption=f"../report/paper_{name}.rst",
        category=category,
        subcategory=subcategory,
    )


def keeps_state(method):
    """Whether a method logs per-epoch state (it overrides Method.log_state)."""
    cls = METHODS.get(method)
    return cls.log_state is not Method.log_state


STATEFUL = [run for run in RUNS if keeps_state(run.method)]


def final_outputs():
    return (
        [
            f"{RESULTS}/figures/method_state/{run_path(run)}.{ext}"
            for run in STATEFUL
            for ext in ("png", "pdf")
        ]
        + [
            f"{RESULTS}/tables/classwise.csv",
            f"{RESULTS}/tables/summary.csv",
            f"{RESULTS}/tables/bootstrap.csv",
            f"{RESULTS}/tables/worst_class_frequency.csv",
            f"{RESULTS}/tables/summary.md",
            f"{RESULTS}/tables/summary.tex",
            f"{RESULTS}/metrics.json",
            f"{RESULTS}/figures/classwise_robust.png",
            f"{RESULTS}/figures/classwise_robust.pdf",
            f"{RESULTS}/tables/class_similarity.csv",
        ]
        + (
            [
                f"{RESULTS}/tables/corruption_classwise.csv",
                f"{RESULTS}/tables/paper/corruptions.md",
            ]
            if CORRUPTIONS
            else []
        )
        + [
            f"{RESULTS}/figures/confusion/{dataset}/{model}/eps{eps}.{ext}"
            for dataset, model, eps in BLOCKS
            for ext in ("png", "pdf")
        ]
        + (
            [f"{RESULTS}/tables/sweeps.csv"]
            + [
                f"{RESULTS}/figures/sweeps/{variant}.{ext}"
                for variant in SWEEP_VARIANTS
                for ext in ("png", "pdf")
            ]
            if SWEPT
            else []
        )
    )
