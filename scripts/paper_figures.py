"""Workflow step: the paper-style figures from classwise.csv (per-class heatmap, accuracy
against eps, the average/worst-class trade-off), PNG and PDF."""

from fairat.runtime.jobserver import hand_over

# runs the rest of this file in a fork of a warm process that has imported torch, pandas
# and matplotlib (fairat.runtime.jobserver)
hand_over(snakemake, __file__)  # noqa: F821 (injected by snakemake's script directive)

from fairat.reporting.classwise import read_classwise
from fairat.reporting.paper_figures import write_figures
from fairat.runtime.logs import log_to

with log_to(snakemake.log[0]):  # noqa: F821 (injected by snakemake's script directive)
    sm = snakemake  # noqa: F821
    classwise = read_classwise(sm.input.classwise)
    for stem in write_figures(classwise, None, sm.output):
        print(f"drew {stem}")
