rule classwise_table:
    input:
        eval_jsons(),
    output:
        classwise=report(
            f"{RESULTS}/tables/classwise.csv",
            caption="../report/classwise.rst",
            category="Tables",
        ),
        sanity=report(
            f"{RESULTS}/tables/sanity.csv",
            caption="../report/sanity.rst",
            category="Tables",
        ),
    log:
        "logs/aggregate/classwise.log",
    conda:
        "../envs/fairat.yaml"
    script:
        "../../scripts/classwise_table.py"


rule confusion_tables:
    input:
        eval_jsons(),
    output:
        confusion=report(
            f"{RESULTS}/tables/confusion.csv",
            caption="../report/confusion.rst",
            category="Tables",
        ),
        similarity=report(
            f"{RESULTS}/tables/class_similarity.csv",
            caption="../report/confusion.rst",
            category="Tables",
        ),
    log:
        "logs/aggregate/confusion.log",
    conda:
        "../envs/fairat.yaml"
    script:
        "../../scripts/confusion_tables.py"


rule figure_confusion:
    input:
        f"{RESULTS}/tables/confusion.csv",
    output:
        png=report(
            f"{RESULTS}/figures/confusion/{{dataset}}/{{model}}/eps{{eps}}.png",
            caption="../report/confusion_figure.rst",
            category="Figures",
        ),
        pdf=f"{RESULTS}/figures/confusion/{{dataset}}/{{model}}/eps{{eps}}.pdf",
    log:
        "logs/aggregate/figure_confusion/{dataset}/{model}/eps{eps}.log",
    conda:
        "../envs/fairat.yaml"
    params:
        checkpoint=CHECKPOINTS[0],
    script:
        "../../scripts/plot_confusion.py"


rule bootstrap_tables:
    input:
        classwise=f"{RESULTS}/tables/classwise.csv",
    output:
        bootstrap=report(
            f"{RESULTS}/tables/bootstrap.csv",
            caption="../report/bootstrap.rst",
            category="Tables",
        ),
        frequency=report(
            f"{RESULTS}/tables/worst_class_frequency.csv",
            caption="../report/worst_class_frequency.rst",
            category="Tables",
        ),
    log:
        "logs/aggregate/bootstrap.log",
    conda:
        "../envs/fairat.yaml"
    script:
        "../../scripts/bootstrap_tables.py"


rule summary_tables:
    input:
        classwise=f"{RESULTS}/tables/classwise.csv",
        sanity=f"{RESULTS}/tables/sanity.csv",
        states=[f"{RESULTS}/runs/{run_path(run)}/method_state.csv" for run in STATEFUL],
    output:
        csv=report(
            f"{RESULTS}/tables/summary.csv",
            caption="../report/summary.rst",
            category="Tables",
        ),
        md=report(
            f"{RESULTS}/tables/summary.md",
            caption="../report/summary.rst",
            category="Tables",
        ),
        tex=report(
            f"{RESULTS}/tables/summary.tex",
            caption="../report/summary.rst",
            category="Tables",
        ),
        paired=report(
            f"{RESULTS}/tables/paired.csv",
            caption="../report/paired.rst",
            category="Tables",
        ),
        metrics=f"{RESULTS}/metrics.json",  # dvc metrics show (dvc.yaml)
    log:
        "logs/aggregate/summary.log",
    conda:
        "../envs/fairat.yaml"
    params:
        baselines={name: v.baseline for name, v in VARIANTS.items()},
        worst_case_over=list(EVAL_CONFIG.worst_case_attacks),
        # what each method_state.csv belongs to (fairat.reporting.engagement: idle mechanisms)
        state_runs=[
            {
                "dataset": r.dataset,
                "model": r.model,
                "run": r.name,
                "method": r.method,
                "eps": r.eps_label,
                "seed": r.seed,
                "params": r.method_params,
            }
            for r in STATEFUL
        ],
    script:
        "../../scripts/summary_tables.py"


rule figure_classwise:
    input:
        f"{RESULTS}/tables/classwise.csv",
    output:
        png=report(
            f"{RESULTS}/figures/classwise_robust.png",
            caption="../report/classwise_robust.rst",
            category="Figures",
        ),
        pdf=f"{RESULTS}/figures/classwise_robust.pdf",
    log:
        "logs/aggregate/figure_classwise.log",
    conda:
        "../envs/fairat.yaml"
    script:
        "../../scripts/plot_classwise.py"


rule figures_method_state:
    input:
        # training outputs only: the figures are drawn while evaluations still run
        states=[f"{RESULTS}/runs/{run_path(run)}/method_state.csv" for run in STATEFUL],
        data=[f"{DATA}/{run.dataset}.npz" for run in STATEFUL],  # the class names
    output:
        png=report(
            [
                f"{RESULTS}/figures/method_state/{run_path(run)}.png"
                for run in STATEFUL
            ],
            caption="../report/method_state.rst",
            category="Method state",
        ),
        pdf=[f"{RESULTS}/figures/method_state/{run_path(run)}.pdf" for run in STATEFUL],
    log:
        "logs/aggregate/figures_method_state.log",
    conda:
        "../envs/fairat.yaml"
    params:
        titles=[
            f"{run.name} ({run.method}): {run.dataset} / {run.model} / "
            f"eps {run.eps_label} / seed {run.seed}"
            for run in STATEFUL
        ],
    script:
        "../../scripts/plot_method_state.py"


rule sweep_table:
    input:
        summary=f"{RESULTS}/tables/summary.csv",
    output:
        csv=report(
            f"{RESULTS}/tables/sweeps.csv",
            caption="../report/sweeps.rst",
            category="Sweeps",
        ),
    log:
        "logs/aggregate/sweep_table.log",
    conda:
        "../envs/fairat.yaml"
    params:
        runs=SWEPT,
    script:
        "../../scripts/sweep_table.py"


rule figure_sweep:
    input:
        f"{RESULTS}/tables/sweeps.csv",
    output:
        png=report(
            f"{RESULTS}/figures/sweeps/{{variant}}.png",
            caption="../report/sweeps.rst",
            category="Sweeps",
        ),
        pdf=f"{RESULTS}/figures/sweeps/{{variant}}.pdf",
    log:
        "logs/aggregate/figure_sweep_{variant}.log",
    conda:
        "../envs/fairat.yaml"
    script:
        "../../scripts/plot_sweep.py"
