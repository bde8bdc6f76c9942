# Common corruptions (fairat.evaluation.corruptions, paper 003): only with a `corruptions:` section.


rule corrupt_data:
    input:
        data=f"{DATA}/{{dataset}}.npz",
    output:
        f"{DATA}/corruptions/{{dataset}}.npz",
    log:
        "logs/corrupt_data/{dataset}.log",
    conda:
        "../envs/fairat.yaml"
    params:
        settings=CORRUPTIONS,
        raw=RAW,
    script:
        "../../scripts/corrupt_data.py"


rule evaluate_corruptions:
    input:
        data=f"{DATA}/{{dataset}}.npz",
        corrupted=f"{DATA}/corruptions/{{dataset}}.npz",
        checkpoints=expand(
            f"{RESULTS}/runs/{RUN}/{{checkpoint}}.pt",
            checkpoint=CORRUPTION_CHECKPOINTS,
            allow_missing=True,
        ),
    output:
        metrics=expand(
            f"{RESULTS}/corruptions/{RUN}/{{checkpoint}}.json",
            checkpoint=CORRUPTION_CHECKPOINTS,
            allow_missing=True,
        ),
        flags=expand(
            f"{RESULTS}/corruptions/{RUN}/{{checkpoint}}.npz",
            checkpoint=CORRUPTION_CHECKPOINTS,
            allow_missing=True,
        ),
    log:
        f"logs/evaluate_corruptions/{RUN}.log",
    conda:
        "../envs/fairat.yaml"
    threads: 1
    resources:
        gpu=GPUS,
        cpus_per_gpu=JOB_RESOURCES["evaluate"]["cpus_per_gpu"],
        mem_mb=JOB_RESOURCES["evaluate"]["mem_mb"],
        runtime=JOB_RESOURCES["evaluate"]["runtime"],
    params:
        run=lambda w: run_config(w).to_json(),
    script:
        "../../scripts/evaluate_corruptions.py"


rule corruption_tables:
    input:
        classwise=f"{RESULTS}/tables/classwise.csv",
        metrics=[
            f"{RESULTS}/corruptions/{run_path(run)}/{checkpoint}.json"
            for run in RUNS
            for checkpoint in CORRUPTION_CHECKPOINTS
        ],
    output:
        classwise=report(
            f"{RESULTS}/tables/corruption_classwise.csv",
            caption="../report/corruptions.rst",
            category="Tables",
        ),
        csv=f"{RESULTS}/tables/paper/corruptions.csv",
        md=report(
            f"{RESULTS}/tables/paper/corruptions.md",
            caption="../report/corruptions.rst",
            category="Paper tables",
        ),
        tex=f"{RESULTS}/tables/paper/corruptions.tex",
    log:
        "logs/aggregate/corruption_tables.log",
    conda:
        "../envs/fairat.yaml"
    params:
        baseline=(CORRUPTIONS or {}).get("baseline"),
    script:
        "../../scripts/corruption_tables.py"
