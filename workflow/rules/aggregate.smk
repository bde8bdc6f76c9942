rule classwise_table:
    input:
        eval_jsons(),
    output:
        report(
            f"{RESULTS}/tables/classwise.csv",
            caption="../report/classwise.rst",
            category="Tables",
        ),
    log:
        "logs/aggregate/classwise.log",
    conda:
        "../envs/fairat.yaml"
    script:
        "../../scripts/classwise_table.py"


rule summary_tables:
    input:
        f"{RESULTS}/tables/classwise.csv",
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
    log:
        "logs/aggregate/summary.log",
    conda:
        "../envs/fairat.yaml"
    script:
        "../../scripts/summary_tables.py"


rule figure_classwise:
    input:
        f"{RESULTS}/tables/classwise.csv",
    output:
        report(
            f"{RESULTS}/figures/classwise_robust.png",
            caption="../report/classwise_robust.rst",
            category="Figures",
        ),
    log:
        "logs/aggregate/figure_classwise.log",
    conda:
        "../envs/fairat.yaml"
    script:
        "../../scripts/plot_classwise.py"


rule figure_method_state:
    input:
        state=f"{RESULTS}/runs/{RUN}/method_state.csv",
        metrics=f"{RESULTS}/eval/{RUN}/{CHECKPOINTS[0]}.json",
    output:
        report(
            f"{RESULTS}/figures/method_state/{RUN}.png",
            caption="../report/method_state.rst",
            category="Method state",
            subcategory="{method}",
        ),
    log:
        f"logs/figure_method_state/{RUN}.log",
    conda:
        "../envs/fairat.yaml"
    script:
        "../../scripts/plot_method_state.py"
