rule train:
    input:
        data=f"{DATA}/{{dataset}}.npz",
        init=init_checkpoint,
        start=parent_branches,  # shared prefixes (fairat.training.prefixes)
        code=ancient(CODE_VERSION),  # fairat's code in the cache key (cache.smk)
    output:
        last=f"{RESULTS}/runs/{RUN}/last.pt",
        best=f"{RESULTS}/runs/{RUN}/best.pt",
        history=f"{RESULTS}/runs/{RUN}/history.csv",
        method_state=f"{RESULTS}/runs/{RUN}/method_state.csv",
        config=f"{RESULTS}/runs/{RUN}/config.json",
        # its states after the epochs other runs take from it, branch_e<k>.pt (may be empty)
        branches=directory(f"{RESULTS}/runs/{RUN}/branches"),
    log:
        f"logs/train/{RUN}.log",
    # with --cache: a run trained before, by this or another config (same script, params,
    # inputs' provenance and code version), is symlinked from $SNAKEMAKE_OUTPUT_CACHE
    cache: config["output_cache"]
    conda:
        "../envs/fairat.yaml"
    threads: 1
    resources:
        gpu=GPUS,
        cpus_per_gpu=JOB_RESOURCES["train"]["cpus_per_gpu"],
        mem_mb=JOB_RESOURCES["train"]["mem_mb"],
        runtime=JOB_RESOURCES["train"]["runtime"],
    params:
        run=lambda w: run_config(w).training_json(),
        resume=config["resume_dir"],
        start=branch_name,
    script:
        "../../scripts/train.py"
