"""Workflow step: the per-method summary (mean ± std over seeds) as CSV, Markdown and LaTeX."""

from fairat.checkpoint import save_text
from fairat.logs import log_to
from fairat.tables import read_classwise, summary_latex, summary_markdown, summary_table

with log_to(snakemake.log[0]):  # noqa: F821 (injected by snakemake's script directive)
    sm = snakemake  # noqa: F821
    summary = summary_table(read_classwise(sm.input[0]))
    save_text(summary.to_csv(index=False), sm.output.csv)
    save_text(summary_markdown(summary), sm.output.md)
    save_text(summary_latex(summary), sm.output.tex)
    print(summary_markdown(summary))
