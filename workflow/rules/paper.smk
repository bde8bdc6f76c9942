"""Paper-style tables and figures (fairat.reporting.paper_tables, fairat.reporting.paper_figures)."""

from fairat.reporting.paper_figures import KINDS, figure_paths
from fairat.reporting.paper_tables import TABLES

PAPER_TABLES_DIR = f"{RESULTS}/tables/paper"
# every figure of each kind, PNG and PDF, from the (dataset, model, eps) of the runs
PAPER_FIGURES = {
    kind: figure_paths(
        kind,
        f"{RESULTS}/figures/paper",
        [(r.dataset, r.model, r.eps_label) for r in RUNS],
        CHECKPOINTS,
    )
    for kind in KINDS
}
PAPER_OUTPUTS = [
    *(f"{PAPER_TABLES_DIR}/{t}.{ext}" for t in TABLES for ext in ("csv", "md", "tex")),
    *(path for kind in KINDS for path in PAPER_FIGURES[kind]),
    f"{RESULTS}/tables/training_history.csv",
]


rule paper_tables:
    input:
        classwise=f"{RESULTS}/tables/classwise.csv",
    output:
        **{
            f"{name}_{ext}": paper_report(name, f"{PAPER_TABLES_DIR}/{name}.{ext}")
            for name in TABLES
            for ext in ("csv", "md", "tex")
        },
    log:
        "logs/paper/tables.log",
    conda:
        "../envs/fairat.yaml"
    params:
        baselines={name: v.baseline for name, v in VARIANTS.items()},
    script:
        "../../scripts/paper_tables.py"


rule paper_figures:
    input:
        classwise=f"{RESULTS}/tables/classwise.csv",
    output:
        heatmap=paper_report("heatmap", PAPER_FIGURES["heatmap"]),
        eps=paper_report("eps", PAPER_FIGURES["eps"]),
        tradeoff=paper_report("tradeoff", PAPER_FIGURES["tradeoff"]),
    log:
        "logs/paper/figures.log",
    conda:
        "../envs/fairat.yaml"
    script:
        "../../scripts/paper_figures.py"


rule paper_epochs:
    input:
        [f"{RESULTS}/runs/{run_path(run)}/history.csv" for run in RUNS],
    output:
        figures=paper_report("epochs", PAPER_FIGURES["epochs"]),
        # every run's history.csv in one tidy table (dvc plots show, dvc.yaml)
        history=f"{RESULTS}/tables/training_history.csv",
    log:
        "logs/paper/epochs.log",
    conda:
        "../envs/fairat.yaml"
    params:
        runs=[
            {
                "dataset": r.dataset,
                "model": r.model,
                "run": r.name,
                "method": r.method,
                "eps": r.eps_label,
                "seed": r.seed,
            }
            for r in RUNS
        ],
    script:
        "../../scripts/paper_epochs.py"
