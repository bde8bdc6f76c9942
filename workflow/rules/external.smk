# Models fairat did not train (fairat.evaluation.zoo): RobustBench's zoo and external state dicts, evaluated
# with the config's suite into the same evaluation JSON and flags as a trained run.


# the download needs the internet, which cluster nodes often lack: it runs where snakemake runs
localrules:
    zoo_fetch,


rule zoo_fetch:
    output:
        f"{DATA}/zoo/{{dataset}}/{{threat_model}}/{{name}}.pt",
    log:
        "logs/zoo_fetch/{dataset}/{threat_model}/{name}.log",
    wildcard_constraints:
        name="[A-Za-z0-9][A-Za-z0-9_.-]*",
    conda:
        "../envs/fairat.yaml"
    params:
        entry=lambda w: external_entry("zoo", w),
        # robustbench's model_dir: <model_dir>/<dataset>/<threat_model>/<name>.pt
        model_dir=lambda w, output: str(Path(output[0]).parents[2]),
    script:
        "../../scripts/zoo_fetch.py"


rule evaluate_zoo:
    input:
        data=f"{DATA}/{{dataset}}.npz",
        weights=lambda w: zoo_weights_path(w),
    output:
        metrics=f"{RESULTS}/eval/zoo/{{dataset}}/zoo/{{name}}/eps{{eps}}/last.json",
        flags=f"{RESULTS}/eval/zoo/{{dataset}}/zoo/{{name}}/eps{{eps}}/last.npz",
        # what was evaluated: the weights' sha256 and the robustbench version
        source=f"{RESULTS}/runs/zoo/{{dataset}}/zoo/{{name}}/eps{{eps}}/source.json",
    log:
        "logs/evaluate/zoo/{dataset}/{name}/eps{eps}.log",
    wildcard_constraints:
        name="[A-Za-z0-9][A-Za-z0-9_.-]*",
    conda:
        "../envs/fairat.yaml"
    threads: 1
    resources:
        gpu=GPUS,
        cpus_per_gpu=JOB_RESOURCES["evaluate"]["cpus_per_gpu"],
        mem_mb=JOB_RESOURCES["evaluate"]["mem_mb"],
        runtime=JOB_RESOURCES["evaluate"]["runtime"],
    params:
        entry=lambda w: external_entry("zoo", w),
        evaluation=EVALUATION,
        device=config["device"],
        model_dir=lambda w, input: str(Path(input.weights).parents[2]),
        model_args={},
    script:
        "../../scripts/evaluate_external.py"


rule evaluate_external:
    input:
        data=f"{DATA}/{{dataset}}.npz",
        weights=lambda w: external_entry("external", w)["file"],
    output:
        metrics=f"{RESULTS}/eval/external/{{dataset}}/{{model}}/{{name}}/eps{{eps}}/last.json",
        flags=f"{RESULTS}/eval/external/{{dataset}}/{{model}}/{{name}}/eps{{eps}}/last.npz",
        source=f"{RESULTS}/runs/external/{{dataset}}/{{model}}/{{name}}/eps{{eps}}/source.json",
    log:
        "logs/evaluate/external/{dataset}/{model}/{name}/eps{eps}.log",
    conda:
        "../envs/fairat.yaml"
    threads: 1
    resources:
        gpu=GPUS,
        cpus_per_gpu=JOB_RESOURCES["evaluate"]["cpus_per_gpu"],
        mem_mb=JOB_RESOURCES["evaluate"]["mem_mb"],
        runtime=JOB_RESOURCES["evaluate"]["runtime"],
    params:
        entry=lambda w: external_entry("external", w),
        evaluation=EVALUATION,
        device=config["device"],
        model_dir="",  # unused: the file is an input
        model_args=lambda w: (config.get("model_args") or {}).get(w.model) or {},
    script:
        "../../scripts/evaluate_external.py"
