"""Workflow step: collect the evaluation JSON files into classwise.csv and sanity.csv."""

from fairat.runtime.jobserver import hand_over

# runs the rest of this file in a fork of a warm process that has imported torch, pandas
# and matplotlib (fairat.runtime.jobserver)
hand_over(snakemake, __file__)  # noqa: F821 (injected by snakemake's script directive)

from fairat.reporting.classwise import classwise_table, sanity_table
from fairat.runtime.checkpoint import save_text
from fairat.runtime.logs import log_to

with log_to(snakemake.log[0]):  # noqa: F821 (injected by snakemake's script directive)
    sm = snakemake  # noqa: F821
    inputs = list(sm.input)
    table = classwise_table(inputs)
    sanity = sanity_table(inputs)
    save_text(table.to_csv(index=False), sm.output.classwise)
    save_text(sanity.to_csv(index=False), sm.output.sanity)
    print(f"{len(table)} rows from {len(inputs)} evaluations -> {sm.output.classwise}")
    print(f"{len(sanity)} sanity warnings -> {sm.output.sanity}")
