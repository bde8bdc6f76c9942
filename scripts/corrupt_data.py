"""Workflow step: the corrupted test split of a dataset (fairat.evaluation.corruptions): read from the
published CIFAR-10-C / CIFAR-100-C files, or generated with imagecorruptions; one uint8 array per
corruption and severity (.npz)."""

from fairat.runtime.jobserver import hand_over

# runs the rest of this file in a fork of a warm process that has imported torch, pandas
# and matplotlib (fairat.runtime.jobserver)
hand_over(snakemake, __file__)  # noqa: F821 (injected by snakemake's script directive)

from pathlib import Path

from fairat.config.corruptions import PUBLISHED
from fairat.data import load_prepared
from fairat.evaluation.corruptions import generate, read_published
from fairat.runtime.checkpoint import rebuild_damaged_inputs, save_npz
from fairat.runtime.logs import log_to

with log_to(snakemake.log[0]), rebuild_damaged_inputs():  # noqa: F821 (snakemake's script)
    sm = snakemake  # noqa: F821
    s = sm.params.settings
    data = load_prepared(sm.input.data)
    if s["source"] == "generate":
        arrays = generate(data.x_test, s["names"], s["severities"], s["seed"])
    else:
        folder = Path(sm.params.raw) / PUBLISHED[s["source"]][1]
        arrays = read_published(folder, s["names"], s["severities"], data.y_test)
    save_npz(sm.output[0], labels=data.y_test, **arrays)
    print(f"{len(arrays)} corrupted test splits ({s['source']}) -> {sm.output[0]}")
