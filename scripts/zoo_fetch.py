"""Workflow step: fetch a RobustBench model's weights with robustbench (fairat.evaluation.zoo)."""

from fairat.runtime.jobserver import hand_over

# runs the rest of this file in a fork of a warm process that has imported torch, pandas
# and matplotlib (fairat.runtime.jobserver)
hand_over(snakemake, __file__)  # noqa: F821 (injected by snakemake's script directive)

from fairat.config.external import ExternalModel
from fairat.evaluation.zoo import fetch_zoo
from fairat.runtime.logs import log_to

with log_to(snakemake.log[0]):  # noqa: F821 (injected by snakemake's script directive)
    sm = snakemake  # noqa: F821
    entry = ExternalModel(**sm.params.entry)
    path = fetch_zoo(sm.params.model_dir, entry)
    print(f"{entry.name} ({entry.dataset}, {entry.threat_model}) -> {path}")
