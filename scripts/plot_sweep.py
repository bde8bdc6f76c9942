"""Workflow step: one swept variant's accuracy against the swept values (PNG and PDF)."""

from fairat.runtime.jobserver import hand_over

# runs the rest of this file in a fork of a warm process that has imported torch, pandas
# and matplotlib (fairat.runtime.jobserver)
hand_over(snakemake, __file__)  # noqa: F821 (injected by snakemake's script directive)

from fairat.reporting.sweeps import plot_sweep, read_sweeps
from fairat.runtime.logs import log_to

with log_to(snakemake.log[0]):  # noqa: F821 (injected by snakemake's script directive)
    sm = snakemake  # noqa: F821
    panels = plot_sweep(
        read_sweeps(sm.input[0]), sm.wildcards.variant, [sm.output.png, sm.output.pdf]
    )
    print(f"{sm.wildcards.variant}: {panels} panel(s) -> {sm.output.png}, {sm.output.pdf}")
