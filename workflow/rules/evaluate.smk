rule evaluate:
    input:
        data=f"{DATA}/{{dataset}}.npz",
        checkpoints=expand(
            f"{RESULTS}/runs/{RUN}/{{checkpoint}}.pt",
            checkpoint=CHECKPOINTS,
            allow_missing=True,
        ),
    output:
        metrics=expand(
            f"{RESULTS}/eval/{RUN}/{{checkpoint}}.json",
            checkpoint=CHECKPOINTS,
            allow_missing=True,
        ),
        flags=expand(
            f"{RESULTS}/eval/{RUN}/{{checkpoint}}.npz",
            checkpoint=CHECKPOINTS,
            allow_missing=True,
        ),
    log:
        f"logs/evaluate/{RUN}.log",
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
        resume=config["resume_dir"],
    script:
        "../../scripts/evaluate.py"
