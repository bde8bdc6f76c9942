"""Workflow step: the confusion figure of one run block (dataset, model, eps), PNG and PDF."""

from fairat.runtime.jobserver import hand_over

# runs the rest of this file in a fork of a warm process that has imported torch, pandas
# and matplotlib (fairat.runtime.jobserver)
hand_over(snakemake, __file__)  # noqa: F821 (injected by snakemake's script directive)

from fairat.config.eps import eps_tag
from fairat.evaluation.confusion import read_confusion
from fairat.reporting.confusion_figures import plot_confusion_block
from fairat.reporting.summary import robust_attack
from fairat.runtime.logs import log_to

with log_to(snakemake.log[0]):  # noqa: F821 (injected by snakemake's script directive)
    sm = snakemake  # noqa: F821
    w = sm.wildcards
    table = read_confusion(sm.input[0])
    block = table[
        (table["dataset"] == w.dataset)
        & (table["model"] == w.model)
        & (table["eps"].map(eps_tag) == w.eps)
        & (table["checkpoint"] == sm.params.checkpoint)
    ]
    if block.empty:
        raise ValueError(f"confusion.csv has no rows for {w.dataset}/{w.model}/eps {w.eps}")
    attack = robust_attack(list(dict.fromkeys(block["attack"])))
    eps = block["eps"].iloc[0]
    title = f"{w.dataset} / {w.model} / eps {eps} / {sm.params.checkpoint}"
    plot_confusion_block(
        block[block["attack"] == attack], [sm.output.png, sm.output.pdf], attack=attack, title=title
    )
    print(f"{title}: confusion under {attack} -> {sm.output.png}, {sm.output.pdf}")
