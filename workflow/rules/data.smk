rule prepare_data:
    output:
        f"{DATA}/{{dataset}}.npz",
    log:
        "logs/prepare_data/{dataset}.log",
    conda:
        "../envs/fairat.yaml"
    params:
        settings=lambda w: data_settings(config, w.dataset),
        raw=lambda w: f"{RAW}/{w.dataset}",
    script:
        "../../scripts/prepare_data.py"
