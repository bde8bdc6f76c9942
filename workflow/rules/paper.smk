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
        trix_csv=report(
            f"{PAPER_TABLES_DIR}/trix.csv",
            caption="../report/paper_trix.rst",
            category="Paper tables",
            subcategory="TRIX / DAFA",
        ),
        trix_md=report(
            f"{PAPER_TABLES_DIR}/trix.md",
            caption="../report/paper_trix.rst",
            category="Paper tables",
            subcategory="TRIX / DAFA",
        ),
        trix_tex=report(
            f"{PAPER_TABLES_DIR}/trix.tex",
            caption="../report/paper_trix.rst",
            category="Paper tables",
            subcategory="TRIX / DAFA",
        ),
        table1_csv=report(
            f"{PAPER_TABLES_DIR}/table1.csv",
            caption="../report/paper_table1.rst",
            category="Paper tables",
            subcategory="Table I (paper 000)",
        ),
        table1_md=report(
            f"{PAPER_TABLES_DIR}/table1.md",
            caption="../report/paper_table1.rst",
            category="Paper tables",
            subcategory="Table I (paper 000)",
        ),
        table1_tex=report(
            f"{PAPER_TABLES_DIR}/table1.tex",
            caption="../report/paper_table1.rst",
            category="Paper tables",
            subcategory="Table I (paper 000)",
        ),
        error_stats_csv=report(
            f"{PAPER_TABLES_DIR}/error_stats.csv",
            caption="../report/paper_error_stats.rst",
            category="Paper tables",
            subcategory="Error statistics (paper 003)",
        ),
        error_stats_md=report(
            f"{PAPER_TABLES_DIR}/error_stats.md",
            caption="../report/paper_error_stats.rst",
            category="Paper tables",
            subcategory="Error statistics (paper 003)",
        ),
        error_stats_tex=report(
            f"{PAPER_TABLES_DIR}/error_stats.tex",
            caption="../report/paper_error_stats.rst",
            category="Paper tables",
            subcategory="Error statistics (paper 003)",
        ),
        per_class_csv=report(
            f"{PAPER_TABLES_DIR}/per_class.csv",
            caption="../report/paper_per_class.rst",
            category="Paper tables",
            subcategory="Per class",
        ),
        per_class_md=report(
            f"{PAPER_TABLES_DIR}/per_class.md",
            caption="../report/paper_per_class.rst",
            category="Paper tables",
            subcategory="Per class",
        ),
        per_class_tex=report(
            f"{PAPER_TABLES_DIR}/per_class.tex",
            caption="../report/paper_per_class.rst",
            category="Paper tables",
            subcategory="Per class",
        ),
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
        heatmap=report(
            PAPER_FIGURES["heatmap"],
            caption="../report/paper_heatmap.rst",
            category="Paper figures",
            subcategory="Per-class heatmap",
        ),
        eps=report(
            PAPER_FIGURES["eps"],
            caption="../report/paper_eps.rst",
            category="Paper figures",
            subcategory="Accuracy against eps",
        ),
        tradeoff=report(
            PAPER_FIGURES["tradeoff"],
            caption="../report/paper_tradeoff.rst",
            category="Paper figures",
            subcategory="Average / worst-class trade-off",
        ),
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
        figures=report(
            PAPER_FIGURES["epochs"],
            caption="../report/paper_epochs.rst",
            category="Paper figures",
            subcategory="Validation accuracy over epochs",
        ),
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
