"""Workflow step: per-class validation robust accuracy over the training epochs, one
multi-panel figure (a panel per method) per dataset, model and eps, PNG and PDF."""

from fairat.logs import log_to
from fairat.paper_figures import read_histories, write_figures

with log_to(snakemake.log[0]):  # noqa: F821 (injected by snakemake's script directive)
    sm = snakemake  # noqa: F821
    histories = read_histories(sm.input, sm.params.runs)
    for stem in write_figures(None, histories, sm.output):
        print(f"drew {stem}")
