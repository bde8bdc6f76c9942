"""Workflow step: per run, seed, checkpoint and attack, the class-stratified bootstrap over test
samples and the 95 % intervals of the average, worst class and gap (bootstrap.csv: exact binomial
bounds for the worst class and the gap) and how often each class is the worst one
(worst_class_frequency.csv), from classwise.csv (fairat.reporting.bootstrap)."""

from fairat.runtime.jobserver import hand_over

# runs the rest of this file in a fork of a warm process that has imported torch, pandas
# and matplotlib (fairat.runtime.jobserver)
hand_over(snakemake, __file__)  # noqa: F821 (injected by snakemake's script directive)

from fairat.reporting.bootstrap import BOOTSTRAP_SAMPLES, BOOTSTRAP_SEED, bootstrap_tables
from fairat.reporting.classwise import read_classwise
from fairat.runtime.checkpoint import save_text
from fairat.runtime.logs import log_to

with log_to(snakemake.log[0]):  # noqa: F821 (injected by snakemake's script directive)
    sm = snakemake  # noqa: F821
    table, frequency = bootstrap_tables(read_classwise(sm.input.classwise))
    save_text(table.to_csv(index=False), sm.output.bootstrap)
    save_text(frequency.to_csv(index=False), sm.output.frequency)
    print(
        f"B = {BOOTSTRAP_SAMPLES} replicates (seed {BOOTSTRAP_SEED}) for {len(table) // 3} "
        f"run, seed, checkpoint and attack rows -> {sm.output.bootstrap}, {sm.output.frequency}"
    )
