"""Model registry: build a network by name with the input normalisation inside it.

>>> model = create_model("cnn_small", num_classes=10, input_shape=(1, 8, 8),
...                      mean=(0.5,), std=(0.25,))

Every model returned by :func:`create_model` is a :class:`NormalizedModel`: it takes inputs in
[0, 1] pixel units (raw features for vector data), applies ``(x - mean) / std`` with buffers
``normalize.mean``/``normalize.std``, then runs the network ``net``. Every network exposes its
classification layer as ``net.fc`` (an ``nn.Linear``); use :func:`head` and
:func:`replace_head` rather than reaching for it.

Registered names: ``linear``, ``mlp``, ``cnn_small``, ``resnet18``, ``preact_resnet18``,
``resnet20``, ``wrn34_10`` (one file each in this package). To add a model, write in a new module
here a frozen dataclass ``Args`` of its own arguments (types, defaults, ``RANGES`` and any choices
in ``__post_init__``, as a method's ``Params``), a builder
``f(*, num_classes, input_shape, args: Args) -> nn.Module`` registered with
``@register_model(name, Args)``; its network must have an ``fc`` attribute. The package imports
every module whose name does not start with ``_`` (:func:`fairat.config.registry.import_modules`), so the
new file is all it takes, and the arguments are then checked before any job
(``model_args.<name>``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from torch import nn

from fairat.config.registry import import_modules
from fairat.models._common import (
    MODEL_ARGS,
    MODELS,
    ModelArgumentError,
    args_class,
    parse_model_args,
    register_model,
)
from fairat.models.normalize import Normalize, NormalizedModel

import_modules(__name__, __path__)  # each model module registers its builder

__all__ = [
    "MODELS",
    "MODEL_ARGS",
    "ModelArgumentError",
    "Normalize",
    "NormalizedModel",
    "create_model",
    "head",
    "model_kwargs",
    "parse_model_args",
    "register_model",
    "replace_head",
]


def model_kwargs(name: str) -> dict[str, object]:
    """The arguments model ``name`` accepts (``model_args.<name>``), with their defaults."""
    return {f.name: f.default for f in dataclasses.fields(args_class(name))}


def _check_shape(name: str, input_shape: Sequence[int]) -> tuple[int, ...]:
    shape = tuple(input_shape)
    if not shape or any(isinstance(s, bool) or not isinstance(s, int) or s < 1 for s in shape):
        raise ValueError(
            f"model {name!r}: input_shape must be a non-empty tuple of positive integers, "
            f"(C, H, W) or (d,); got {input_shape!r}"
        )
    return shape


def create_model(
    name: str,
    *,
    num_classes: int,
    input_shape: tuple[int, ...],
    mean: Sequence[float],
    std: Sequence[float],
    **kwargs: object,
) -> NormalizedModel:
    """Build model ``name`` as ``NormalizedModel(Normalize(mean, std), net)``.

    Args:
        name: a registered name (``MODELS.names()``); an unknown name raises an error listing
            the valid ones.
        num_classes: size of the classification head (methods may ask for more than the
            number of labels).
        input_shape: per-example shape, ``(C, H, W)`` for images or ``(d,)`` for vector data.
            Conv nets reject non-image shapes with a ``ValueError`` naming model and shape.
        mean, std: per-channel (or per-feature) statistics in input units; one value
            broadcasts over all channels.
        **kwargs: the model's own arguments (see :func:`model_kwargs`), checked by
            :func:`parse_model_args` like ``model_args.<name>`` of a config: an unknown key, a
            wrong type or a value out of range raises :class:`ModelArgumentError` (a
            ``TypeError`` and ``ValueError``) naming ``model_args.<name>.<key>``, the value and
            what is allowed.
    """
    MODELS.get(name)  # fail early, listing the valid names
    shape = _check_shape(name, input_shape)
    if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 1:
        raise ValueError(
            f"model {name!r}: num_classes must be a positive integer; got {num_classes!r}"
        )
    args = parse_model_args(name, kwargs)
    normalize = Normalize(mean, std, shape)
    net = MODELS.get(name)(num_classes=num_classes, input_shape=shape, args=args)
    if not isinstance(getattr(net, "fc", None), nn.Linear):
        raise TypeError(f"model {name!r}: the network has no nn.Linear attribute 'fc'")
    return NormalizedModel(normalize, net)


def _network(model: nn.Module) -> nn.Module:
    """Strip wrappers (torch.compile, DataParallel/DDP, normalisation) down to the network."""
    while True:
        inner = getattr(model, "_orig_mod", None)  # torch.compile's OptimizedModule
        if isinstance(inner, nn.Module):
            model = inner
        elif isinstance(model, nn.DataParallel | nn.parallel.DistributedDataParallel):
            model = model.module
        elif isinstance(model, NormalizedModel):
            model = model.net
        elif (
            isinstance(model, nn.Sequential) and len(model) == 2 and isinstance(model[0], Normalize)
        ):
            model = model[1]
        else:
            return model


def head(model: nn.Module) -> nn.Linear:
    """The final classification layer of a model from :func:`create_model` (its ``net.fc``).

    Also accepts the bare network and models wrapped by ``torch.compile`` or (Distributed)
    DataParallel. Raises ``TypeError`` if no ``nn.Linear`` ``fc`` is found.
    """
    fc = getattr(_network(model), "fc", None)
    if not isinstance(fc, nn.Linear):
        raise TypeError(f"{type(model).__name__} has no nn.Linear classification layer 'fc'")
    return fc


def replace_head(model: nn.Module, num_classes: int) -> nn.Linear:
    """Swap the head for a freshly initialised ``nn.Linear`` with ``num_classes`` outputs.

    The new layer has the old one's input size, bias setting, device and dtype, and is returned.
    Optimisers holding the old parameters must be rebuilt.
    """
    if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 1:
        raise ValueError(f"num_classes must be a positive integer; got {num_classes!r}")
    old = head(model)
    new = nn.Linear(
        old.in_features,
        num_classes,
        bias=old.bias is not None,
        device=old.weight.device,
        dtype=old.weight.dtype,
    )
    _network(model).fc = new
    return new
