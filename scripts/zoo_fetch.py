"""Workflow step: fetch a RobustBench model's weights with robustbench (fairat.zoo)."""

from fairat.jobserver import hand_over

# runs the rest of this file in a fork of a warm process that has imported torch, pandas
# and matplotlib (fairat.jobserver)
hand_over(snakemake, __file__)  # noqa: F821 (injected by snakemake's script directive)

from fairat.logs import log_to
from fairat.zoo import ExternalModel, fetch_zoo

with log_to(snakemake.log[0]):  # noqa: F821 (injected by snakemake's script directive)
    sm = snakemake  # noqa: F821
    entry = ExternalModel(**sm.params.entry)
    path = fetch_zoo(sm.params.model_dir, entry)
    print(f"{entry.name} ({entry.dataset}, {entry.threat_model}) -> {path}")
