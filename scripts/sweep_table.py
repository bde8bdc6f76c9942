"""Workflow step: the sensitivity table of every swept variant (sweeps.csv)."""

from fairat.runtime.jobserver import hand_over

# runs the rest of this file in a fork of a warm process that has imported torch, pandas
# and matplotlib (fairat.runtime.jobserver)
hand_over(snakemake, __file__)  # noqa: F821 (injected by snakemake's script directive)

from fairat.reporting.summary import read_summary
from fairat.reporting.sweeps import sweep_table
from fairat.runtime.checkpoint import save_text
from fairat.runtime.logs import log_to

with log_to(snakemake.log[0]):  # noqa: F821 (injected by snakemake's script directive)
    sm = snakemake  # noqa: F821
    table = sweep_table(read_summary(sm.input.summary), dict(sm.params.runs))
    save_text(table.to_csv(index=False), sm.output.csv)
    print(f"{len(table)} rows for {table['run'].nunique()} swept runs -> {sm.output.csv}")
