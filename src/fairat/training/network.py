"""The network of a run: the registered model, with the head size its method asks for and the
dataset's normalisation inside (docs/specification.md#conventions). Training and evaluation both build it
here, so neither imports the other."""

from __future__ import annotations

from typing import TYPE_CHECKING

from torch import nn

from fairat.data import SplitData
from fairat.methods import METHODS
from fairat.models import create_model

if TYPE_CHECKING:
    from fairat.config.runs import RunConfig


def build_model(run: RunConfig, data: SplitData) -> nn.Module:
    """The network for a run: head size from the method, normalisation from the dataset."""
    method_cls = METHODS.get(run.method)
    return create_model(
        run.model,
        num_classes=method_cls.head_size(data.num_classes, run.params()),
        input_shape=data.input_shape,
        mean=data.mean,
        std=data.std,
        **run.model_args,
    )
