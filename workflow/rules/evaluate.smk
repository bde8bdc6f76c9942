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
    params:
        run=lambda w: run_config(w).to_json(),
        resume=config["resume_dir"],
    script:
        "../../scripts/evaluate.py"
