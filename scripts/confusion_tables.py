"""Workflow step: where attacked samples go, from the evaluation JSON files: the confusion counts
(confusion.csv) and DAFA's class-similarity matrices (class_similarity.csv) of every run, seed,
checkpoint and attack (fairat.evaluation.confusion)."""

from fairat.runtime.jobserver import hand_over

# runs the rest of this file in a fork of a warm process that has imported torch, pandas
# and matplotlib (fairat.runtime.jobserver)
hand_over(snakemake, __file__)  # noqa: F821 (injected by snakemake's script directive)

from fairat.evaluation.confusion import confusion_tables
from fairat.runtime.checkpoint import save_text
from fairat.runtime.logs import log_to

with log_to(snakemake.log[0]):  # noqa: F821 (injected by snakemake's script directive)
    sm = snakemake  # noqa: F821
    confusion, similarity = confusion_tables(list(sm.input))
    save_text(confusion.to_csv(index=False), sm.output.confusion)
    save_text(similarity.to_csv(index=False), sm.output.similarity)
    print(f"{len(confusion)} confusion cells -> {sm.output.confusion}")
    print(f"{len(similarity)} class-similarity cells -> {sm.output.similarity}")
