"""Workflow step: one of paper 001's Figures 1(a), 1(b), 2(a), 2(b) (closed form and Monte Carlo),
its tidy data and its caption sentence."""

from fairat.runtime.jobserver import hand_over

# runs the rest of this file in a fork of a warm process that has imported torch, pandas
# and matplotlib (fairat.runtime.jobserver)
hand_over(snakemake, __file__)  # noqa: F821 (injected by snakemake's script directive)

import time

from fairat.runtime.checkpoint import atomic_write, save_text
from fairat.runtime.logs import log_to
from fairat.theory.figure_data import figure_data
from fairat.theory.figures import plot_theory_figure, theory_caption

with log_to(snakemake.log[0]):  # noqa: F821 (injected by snakemake's script directive)
    sm = snakemake  # noqa: F821
    kind = sm.wildcards.kind
    sim = dict(sm.params.simulation)
    start = time.perf_counter()
    df = figure_data(
        kind,
        simulate=True,
        include_paper_printed=bool(sm.params.include_paper_printed),
        **sim,
    )
    print(f"figure {kind}: {len(df)} rows in {time.perf_counter() - start:.1f} s ({sim})")
    caption = theory_caption(kind, df, simulation=sim)
    save_text(df.to_csv(index=False), sm.output.csv)
    atomic_write(sm.output.png, lambda tmp: plot_theory_figure(df, tmp, None))
    atomic_write(sm.output.pdf, lambda tmp: plot_theory_figure(df, None, tmp))
    save_text(caption + "\n", sm.output.caption)
    print(caption)
