"""Workflow step: prepare one dataset into a .npz of arrays with the stratified validation split."""

from fairat.runtime.jobserver import hand_over

# runs the rest of this file in a fork of a warm process that has imported torch, pandas
# and matplotlib (fairat.runtime.jobserver)
hand_over(snakemake, __file__)  # noqa: F821 (injected by snakemake's script directive)

from pathlib import Path

from fairat.data import prepare
from fairat.runtime.logs import log_to

with log_to(snakemake.log[0]):  # noqa: F821 (injected by snakemake's script directive)
    sm = snakemake  # noqa: F821
    options, val_fraction, split_seed = sm.params.settings
    out = Path(sm.output[0])
    data = prepare(
        sm.wildcards.dataset, Path(sm.params.raw), options, val_fraction, split_seed, out
    )
    print(
        f"{data.dataset}: train {len(data.y_train)}, val {len(data.y_val)}, "
        f"test {len(data.y_test)}, {data.num_classes} classes -> {out}"
    )
