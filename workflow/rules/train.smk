rule train:
    input:
        data=f"{DATA}/{{dataset}}.npz",
        init=init_checkpoint,
        start=start_state,
    output:
        last=f"{RESULTS}/runs/{RUN}/last.pt",
        best=f"{RESULTS}/runs/{RUN}/best.pt",
        history=f"{RESULTS}/runs/{RUN}/history.csv",
        method_state=f"{RESULTS}/runs/{RUN}/method_state.csv",
        config=f"{RESULTS}/runs/{RUN}/config.json",
    log:
        f"logs/train/{RUN}.log",
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
    script:
        "../../scripts/train.py"


# a parent's leading epochs up to a shared prefix (fairat.prefixes): its state after epoch
# {branch}, from which its child and its own next job start
rule branch:
    input:
        data=f"{DATA}/{{dataset}}.npz",
        init=init_checkpoint,
        start=lambda w: start_state(w, w.branch),
    output:
        state=f"{RESULTS}/runs/{RUN}/branch_e{{branch}}.pt",
    log:
        f"logs/train/{RUN}.branch_e{{branch}}.log",
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
    script:
        "../../scripts/train.py"
