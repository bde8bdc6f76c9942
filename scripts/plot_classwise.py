"""Workflow step: the figure of per-class robust accuracy by method."""

from fairat.checkpoint import atomic_write
from fairat.figures import plot_classwise_robust
from fairat.logs import log_to
from fairat.tables import read_classwise

with log_to(snakemake.log[0]):  # noqa: F821 (injected by snakemake's script directive)
    sm = snakemake  # noqa: F821
    holder = {}
    atomic_write(
        sm.output[0],
        lambda tmp: holder.update(attack=plot_classwise_robust(read_classwise(sm.input[0]), tmp)),
    )
    print(f"per-class accuracy under {holder['attack']} -> {sm.output[0]}")
