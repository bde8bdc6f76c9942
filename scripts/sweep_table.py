"""Workflow step: the sensitivity table of every swept variant (sweeps.csv)."""

from fairat.jobserver import hand_over

# runs the rest of this file in a fork of a warm process that has imported torch, pandas
# and matplotlib (fairat.jobserver)
hand_over(snakemake, __file__)  # noqa: F821 (injected by snakemake's script directive)

from fairat.checkpoint import save_text
from fairat.logs import log_to
from fairat.sweeps import sweep_table
from fairat.tables import read_summary

with log_to(snakemake.log[0]):  # noqa: F821 (injected by snakemake's script directive)
    sm = snakemake  # noqa: F821
    table = sweep_table(read_summary(sm.input.summary), dict(sm.params.runs))
    save_text(table.to_csv(index=False), sm.output.csv)
    print(f"{len(table)} rows for {table['run'].nunique()} swept runs -> {sm.output.csv}")
