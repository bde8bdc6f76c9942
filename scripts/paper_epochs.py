"""Workflow step: per-class validation robust accuracy over the training epochs, one
multi-panel figure (a panel per method) per dataset, model and eps, PNG and PDF; and every
run's history in one tidy CSV (training_history.csv)."""

from fairat.runtime.jobserver import hand_over

# runs the rest of this file in a fork of a warm process that has imported torch, pandas
# and matplotlib (fairat.runtime.jobserver)
hand_over(snakemake, __file__)  # noqa: F821 (injected by snakemake's script directive)

from fairat.reporting.paper_epochs import read_histories
from fairat.reporting.paper_figures import write_figures
from fairat.runtime.checkpoint import save_text
from fairat.runtime.logs import log_to

with log_to(snakemake.log[0]):  # noqa: F821 (injected by snakemake's script directive)
    sm = snakemake  # noqa: F821
    histories = read_histories(sm.input, sm.params.runs)
    save_text(histories.to_csv(index=False), sm.output.history)
    for stem in write_figures(None, histories, sm.output.figures):
        print(f"drew {stem}")
