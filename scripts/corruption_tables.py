"""Workflow step: corruption_classwise.csv (every corruption evaluation, classwise.csv's layout)
and paper 003's corruption table as CSV, Markdown and LaTeX (fairat.reporting.corruption_tables)."""

from fairat.runtime.jobserver import hand_over

# runs the rest of this file in a fork of a warm process that has imported torch, pandas
# and matplotlib (fairat.runtime.jobserver)
hand_over(snakemake, __file__)  # noqa: F821 (injected by snakemake's script directive)

from fairat.reporting.classwise import classwise_table, read_classwise
from fairat.reporting.corruption_tables import corruption_table
from fairat.reporting.paper_tables import to_csv, to_latex, to_markdown
from fairat.runtime.checkpoint import save_text
from fairat.runtime.logs import log_to

with log_to(snakemake.log[0]):  # noqa: F821 (injected by snakemake's script directive)
    sm = snakemake  # noqa: F821
    corrupted = classwise_table(list(sm.input.metrics))
    save_text(corrupted.to_csv(index=False), sm.output.classwise)
    corrupted = read_classwise(sm.output.classwise)
    table = corruption_table(read_classwise(sm.input.classwise), corrupted, sm.params.baseline)
    save_text(to_csv(table), sm.output.csv)
    save_text(to_markdown(table), sm.output.md)
    save_text(to_latex(table), sm.output.tex)
    print(to_markdown(table))
