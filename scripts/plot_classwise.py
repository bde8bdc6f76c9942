"""Workflow step: the figure of per-class robust accuracy by method (PNG and PDF)."""

from fairat.runtime.jobserver import hand_over

# runs the rest of this file in a fork of a warm process that has imported torch, pandas
# and matplotlib (fairat.runtime.jobserver)
hand_over(snakemake, __file__)  # noqa: F821 (injected by snakemake's script directive)

from fairat.reporting.classwise import read_classwise
from fairat.reporting.figures import plot_classwise_robust
from fairat.runtime.logs import log_to

with log_to(snakemake.log[0]):  # noqa: F821 (injected by snakemake's script directive)
    sm = snakemake  # noqa: F821
    attack = plot_classwise_robust(read_classwise(sm.input[0]), [sm.output.png, sm.output.pdf])
    print(f"per-class accuracy under {attack} -> {sm.output.png}, {sm.output.pdf}")
