"""Pieces shared by the model files: the ``MODELS`` registry, model arguments and weight init.

Every entry of :data:`MODELS` is a *builder*: a callable taking keyword-only arguments
``num_classes: int``, ``input_shape: tuple[int, ...]`` and ``args``, the model's own arguments as
an instance of the frozen dataclass registered with it, and returning the bare network (no
normalisation). The network must expose its final classification layer as an ``nn.Linear``
attribute named ``fc``; :func:`fairat.models.head` relies on that. Use
:func:`fairat.models.create_model` rather than calling builders directly.

A model's arguments are declared once, next to its code, the way a method declares its
hyper-parameters (``fairat.config.params``): a frozen dataclass whose fields are the arguments with
their types and defaults, subclassing :class:`ModelArgs`: ``RANGES`` for numeric bounds,
``CHOICES`` for the values a string may take, and a ``__post_init__`` (calling the base's) for
relations between fields. :func:`parse_model_args` checks a mapping against it (unknown names,
types, ranges, choices); the workflow calls it on ``model_args.<model>`` before any job starts
(``fairat.config.checks``) and :func:`fairat.models.create_model` calls it again.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

from torch import nn

from fairat.config.eps import parse_number
from fairat.config.params import Range, parse_dataclass
from fairat.config.registry import Registry

MODELS: Registry[Callable[..., nn.Module]] = Registry("model")
MODEL_ARGS: dict[str, type] = {}  # model name -> the frozen dataclass of its arguments


class ModelArgumentError(TypeError, ValueError):
    """A bad keyword argument for a model; catchable as either ``TypeError`` or ``ValueError``."""


class ModelArgs:
    """Base of every model's frozen arguments dataclass: ``RANGES`` (numeric fields) and
    ``CHOICES`` (string fields) say what each field allows; :meth:`allowed` says it in words."""

    RANGES: ClassVar[dict[str, Range]] = {}
    CHOICES: ClassVar[dict[str, tuple[str, ...]]] = {}
    NOTES: ClassVar[dict[str, str]] = {}  # a constraint beyond RANGES, e.g. "6n + 4"

    def __post_init__(self) -> None:
        for name in [*self.RANGES, *self.CHOICES]:
            value = getattr(self, name)
            if name in self.RANGES and value is not None and not self.RANGES[name].allows(value):
                raise ValueError(f"{name}: {value!r} is not allowed; must be {self.allowed(name)}")
            if name in self.CHOICES and value not in self.CHOICES[name]:
                raise ValueError(f"{name}: {value!r} is not allowed; must be {self.allowed(name)}")

    @classmethod
    def allowed(cls, name: str) -> str:
        """What field ``name`` allows, e.g. ``an integer >= 1`` or ``one of 'A', 'B'``."""
        kind = next(_kind(f) for f in dataclasses.fields(cls) if f.name == name)
        if name in cls.CHOICES:
            text = "one of " + ", ".join(map(repr, cls.CHOICES[name]))
        else:
            text = {"int": "an integer", "float": "a number"}.get(kind, kind)
            if name in cls.RANGES:
                text += f" {cls.RANGES[name]}"
        return f"{text} ({cls.NOTES[name]})" if name in cls.NOTES else text


@dataclass(frozen=True)
class NoArgs(ModelArgs):
    """The arguments of a model that takes none."""


def register_model(
    name: str, args: type = NoArgs
) -> Callable[[Callable[..., nn.Module]], Callable[..., nn.Module]]:
    """Register a builder under ``name`` with ``args``, the frozen dataclass of its arguments."""
    if not (
        isinstance(args, type) and issubclass(args, ModelArgs) and dataclasses.is_dataclass(args)
    ):
        raise TypeError(f"model {name!r}: args must be a dataclass subclassing ModelArgs")

    def decorator(builder: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
        MODELS.register(name)(builder)
        MODEL_ARGS[name] = args
        return builder

    return decorator


def args_class(name: str) -> type:
    """The arguments dataclass of model ``name`` (an unknown name lists the valid ones)."""
    MODELS.get(name)
    try:
        return MODEL_ARGS[name]
    except KeyError:
        raise TypeError(
            f"model {name!r} was registered without its arguments; register it with "
            "fairat.models._common.register_model(name, Args)"
        ) from None


def parse_model_args(name: str, raw: dict[str, Any] | None, where: str | None = None) -> Any:
    """Model ``name``'s arguments from the mapping ``raw``: unknown names, types, ranges and
    choices are checked; errors (:class:`ModelArgumentError`) name ``where.<argument>`` (by
    default ``model_args.<name>.<argument>``), the bad value and what is allowed."""
    where = where or f"model_args.{name}"
    cls = args_class(name)
    raw = {} if raw is None else raw
    try:
        if isinstance(raw, dict):
            for field in dataclasses.fields(cls):
                if field.name in raw and not _has_type(_kind(field), raw[field.name]):
                    raise ValueError(
                        f"{where}.{field.name}: {raw[field.name]!r} is not allowed; must be "
                        f"{cls.allowed(field.name)}"
                    )
        return parse_dataclass(cls, raw, where=where)
    except ValueError as err:
        raise ModelArgumentError(str(err)) from None


def _kind(field: dataclasses.Field) -> str:
    """A field's type as written: ``int``, ``float``, ``str`` (annotations may be strings)."""
    return field.type if isinstance(field.type, str) else getattr(field.type, "__name__", "")


def _has_type(kind: str, value: object) -> bool:
    if kind == "int":
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "float":
        try:
            parse_number(value)  # a number, or a fraction string such as "1/2"
        except (TypeError, ValueError):
            return False
        return True
    if kind == "str":
        return isinstance(value, str)
    return True


def image_shape(model: str, input_shape: tuple[int, ...]) -> tuple[int, int, int]:
    """Return ``(C, H, W)``, or raise ``ValueError`` naming ``model`` when the shape is not 3-D."""
    if len(input_shape) != 3:
        raise ValueError(
            f"model {model!r} needs image input of shape (C, H, W); "
            f"got input_shape {tuple(input_shape)}"
        )
    channels, height, width = input_shape
    return channels, height, width


def residual_stages(
    block: Callable[[int, int, int], nn.Module],
    channels: int,
    blocks: tuple[int, ...],
    widths: tuple[int, ...],
) -> tuple[nn.Sequential, int]:
    """The stages of a CIFAR-style ResNet: stage ``i`` holds ``blocks[i]`` blocks of
    ``widths[i]`` channels, the first one strided by 2 (1 in the first stage).

    ``block(in_channels, out_channels, stride)`` builds one block; the blocks are built in
    order. Returns ``Sequential`` of one ``Sequential`` per stage and the output channels.
    """
    stages: list[nn.Module] = []
    for i, (count, width) in enumerate(zip(blocks, widths, strict=True)):
        stride = 1 if i == 0 else 2
        layers: list[nn.Module] = []
        for j in range(count):
            layers.append(block(channels, width, stride if j == 0 else 1))
            channels = width
        stages.append(nn.Sequential(*layers))
    return nn.Sequential(*stages), channels


def init_conv_net(module: nn.Module) -> None:
    """He (kaiming) normal init for convolutions, unit/zero batch norm, zero linear bias.

    This is the scheme of He et al. 2015 with ``mode="fan_out"`` as used by torchvision's
    ResNets and by the WideResNet of TRADES (``normal_(0, sqrt(2 / (k * k * out_channels)))``).
    Linear weights keep PyTorch's default init.
    """
    for m in module.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d | nn.GroupNorm):
            if m.weight is not None:
                nn.init.ones_(m.weight)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Linear) and m.bias is not None:
            nn.init.zeros_(m.bias)
