"""Workflow step: collect the evaluation JSON files into the tidy classwise.csv."""

from fairat.checkpoint import save_text
from fairat.logs import log_to
from fairat.tables import classwise_table

with log_to(snakemake.log[0]):  # noqa: F821 (injected by snakemake's script directive)
    sm = snakemake  # noqa: F821
    table = classwise_table(list(sm.input))
    save_text(table.to_csv(index=False), sm.output[0])
    print(f"{len(table)} rows from {len(sm.input)} evaluations -> {sm.output[0]}")
