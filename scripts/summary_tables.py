"""Workflow step: the per-run summary (CSV, Markdown, LaTeX), the paired comparisons and
metrics.json (the summary's means as DVC metrics)."""

from fairat.runtime.jobserver import hand_over

# runs the rest of this file in a fork of a warm process that has imported torch, pandas
# and matplotlib (fairat.runtime.jobserver)
hand_over(snakemake, __file__)  # noqa: F821 (injected by snakemake's script directive)

from fairat.reporting.classwise import read_classwise, read_sanity
from fairat.reporting.engagement import idle_runs
from fairat.reporting.summary import metrics_json, paired_table, summary_table
from fairat.reporting.summary_text import summary_latex, summary_markdown
from fairat.runtime.checkpoint import save_json, save_text
from fairat.runtime.logs import log_to

with log_to(snakemake.log[0]):  # noqa: F821 (injected by snakemake's script directive)
    sm = snakemake  # noqa: F821
    classwise = read_classwise(sm.input.classwise)
    baselines = dict(sm.params.baselines)
    summary = summary_table(classwise, read_sanity(sm.input.sanity), baselines)
    paired = paired_table(classwise, baselines)
    idle = idle_runs(sm.input.states, sm.params.state_runs)
    markdown = summary_markdown(summary, paired, list(sm.params.worst_case_over), idle)
    save_text(summary.to_csv(index=False), sm.output.csv)
    save_text(paired.to_csv(index=False), sm.output.paired)
    save_text(markdown, sm.output.md)
    save_text(summary_latex(summary), sm.output.tex)
    save_json(metrics_json(summary), sm.output.metrics)
    print(markdown)
