"""Workflow step: the paper-style tables (TRIX/DAFA, Table I, error statistics, per class),
each as CSV, Markdown and LaTeX."""

from fairat.runtime.jobserver import hand_over

# runs the rest of this file in a fork of a warm process that has imported torch, pandas
# and matplotlib (fairat.runtime.jobserver)
hand_over(snakemake, __file__)  # noqa: F821 (injected by snakemake's script directive)

from fairat.reporting.classwise import read_classwise
from fairat.reporting.paper_tables import paper_tables, to_csv, to_latex, to_markdown
from fairat.runtime.checkpoint import save_text
from fairat.runtime.logs import log_to

with log_to(snakemake.log[0]):  # noqa: F821 (injected by snakemake's script directive)
    sm = snakemake  # noqa: F821
    tables = paper_tables(read_classwise(sm.input.classwise), dict(sm.params.baselines))
    for name, table in tables.items():
        save_text(to_csv(table), sm.output[f"{name}_csv"])
        save_text(to_markdown(table), sm.output[f"{name}_md"])
        save_text(to_latex(table), sm.output[f"{name}_tex"])
        print(to_markdown(table))
