"""Tests for the model registry; the per-model tests are generated from ``MODELS.names()``."""

from __future__ import annotations

import dataclasses
import re
import sys
from pathlib import Path

import pytest
import torch
from torch import nn

from fairat.config.registry import import_modules
from fairat.models import (
    MODEL_ARGS,
    MODELS,
    ModelArgumentError,
    Normalize,
    NormalizedModel,
    create_model,
    head,
    model_kwargs,
    parse_model_args,
    replace_head,
)
from fairat.models._common import ModelArgs

REPO = Path(__file__).resolve().parents[1]

NUM_CLASSES = 13  # deliberately not 10
IMAGE_SHAPES = [(1, 8, 8), (3, 32, 32)]
VECTOR_SHAPE = (20,)
VECTOR_MODELS = {"linear", "mlp"}
CONV_MODELS = {"cnn_small", "resnet18", "preact_resnet18", "resnet20", "wrn34_10"}

# Cheaper settings for the generic tests; the defaults are checked by the dedicated tests below.
SMALL_KWARGS: dict[str, dict[str, object]] = {"wrn34_10": {"depth": 10, "widen_factor": 1}}

# Default size for 10 classes and RGB input: the reference implementations' counts.
REFERENCE_PARAMS = {
    "resnet18": 11.17e6,  # kuangliu/pytorch-cifar, TRADES: 11,173,962
    "preact_resnet18": 11.17e6,
    "resnet20": 0.27e6,  # He et al. 2016, Table 6
    "wrn34_10": 46.16e6,  # TRADES WRN-34-10 (without its unused sub_block1)
}


def _stats(shape: tuple[int, ...]) -> tuple[list[float], list[float]]:
    channels = shape[0]
    mean = [0.2 + 0.1 * (i % 5) for i in range(channels)]
    std = [0.15 + 0.05 * (i % 3) for i in range(channels)]
    return mean, std


def _build(name: str, shape: tuple[int, ...], **kwargs: object) -> NormalizedModel:
    mean, std = _stats(shape)
    merged = {**SMALL_KWARGS.get(name, {}), **kwargs}
    return create_model(
        name, num_classes=NUM_CLASSES, input_shape=shape, mean=mean, std=std, **merged
    )


def _supports(name: str, shape: tuple[int, ...]) -> bool:
    try:
        with torch.device("meta"):
            _build(name, shape)
    except ValueError:
        return False
    return True


def _cases(shapes: list[tuple[int, ...]]) -> list[object]:
    return [
        pytest.param(name, shape, id=f"{name}-{'x'.join(map(str, shape))}")
        for name in MODELS.names()
        for shape in shapes
        if _supports(name, shape)
    ]


ALL_CASES = _cases([*IMAGE_SHAPES, VECTOR_SHAPE])
IMAGE_CASES = _cases(IMAGE_SHAPES)


def test_every_model_supports_some_input() -> None:
    for name in MODELS.names():
        assert any(_supports(name, s) for s in [*IMAGE_SHAPES, VECTOR_SHAPE]), name


def test_expected_models_registered() -> None:
    assert set(MODELS.names()) >= VECTOR_MODELS | CONV_MODELS


def test_import_modules_imports_each_public_module_once(tmp_path, monkeypatch) -> None:
    """How methods, models and data sources register: a new file is imported by its package."""
    package = tmp_path / "fake_registry_package"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "b_model.py").write_text(
        "import fake_registry_package as p\np.seen = [*getattr(p, 'seen', []), 'b']\n"
    )
    (package / "a_model.py").write_text(
        "import fake_registry_package as p\np.seen = [*getattr(p, 'seen', []), 'a']\n"
    )
    (package / "_helper.py").write_text("raise RuntimeError('a private helper is not imported')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    import fake_registry_package as fake

    assert import_modules(fake.__name__, fake.__path__) == ["a_model", "b_model"]
    assert fake.seen == ["a", "b"]
    assert import_modules(fake.__name__, fake.__path__) == ["a_model", "b_model"]
    assert fake.seen == ["a", "b"]  # imported once: nothing registers twice
    assert "fake_registry_package._helper" not in sys.modules
    for name in [m for m in sys.modules if m.startswith("fake_registry_package")]:
        del sys.modules[name]


def test_every_model_file_is_imported_by_the_package() -> None:
    folder = REPO / "src" / "fairat" / "models"
    for path in folder.glob("[!_]*.py"):
        assert f"fairat.models.{path.stem}" in sys.modules, path.name
    # one builder per model file (normalize.py holds the wrapper every model shares)
    files = {p.stem for p in folder.glob("[!_]*.py")} - {"normalize"}
    assert {MODELS.get(n).__module__.rsplit(".", 1)[1] for n in MODELS.names()} == files


@pytest.mark.parametrize(("name", "shape"), ALL_CASES)
def test_forward_backward(name: str, shape: tuple[int, ...]) -> None:
    torch.manual_seed(0)
    model = _build(name, shape).train()
    x = torch.rand(2, *shape, requires_grad=True)
    out = model(x)
    assert out.shape == (2, NUM_CLASSES)
    assert torch.isfinite(out).all()
    nn.functional.cross_entropy(out, torch.tensor([0, NUM_CLASSES - 1])).backward()
    for pname, p in model.named_parameters():
        assert p.grad is not None, f"{name}: {pname} got no gradient"
        assert torch.isfinite(p.grad).all(), f"{name}: {pname} has a non-finite gradient"
    assert x.grad is not None and torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0


@pytest.mark.parametrize(("name", "shape"), ALL_CASES)
def test_normalisation_is_inside(name: str, shape: tuple[int, ...]) -> None:
    torch.manual_seed(0)
    model = _build(name, shape).eval()
    mean, std = _stats(shape)
    view = (1, shape[0]) + (1,) * (len(shape) - 1)
    mean_t = torch.tensor(mean).view(view)
    std_t = torch.tensor(std).view(view)

    state = model.state_dict()
    assert torch.equal(state["normalize.mean"], mean_t)
    assert torch.equal(state["normalize.std"], std_t)
    buffers = dict(model.named_buffers())
    assert "normalize.mean" in buffers and "normalize.std" in buffers
    assert "normalize.mean" not in dict(model.named_parameters())

    x = torch.rand(4, *shape)
    with torch.no_grad():
        torch.testing.assert_close(model(x), model.net((x - mean_t) / std_t))
        torch.testing.assert_close(model.normalize(x), (x - mean_t) / std_t)


@pytest.mark.parametrize(("name", "shape"), ALL_CASES)
def test_state_dict_keys_are_stable(name: str, shape: tuple[int, ...]) -> None:
    torch.manual_seed(0)
    first = _build(name, shape).eval()
    torch.manual_seed(1)
    second = _build(name, shape).eval()
    assert list(first.state_dict()) == list(second.state_dict())
    second.load_state_dict(first.state_dict())
    x = torch.rand(2, *shape)
    with torch.no_grad():
        torch.testing.assert_close(first(x), second(x))


@pytest.mark.parametrize(("name", "shape"), ALL_CASES)
def test_head_is_the_final_linear(name: str, shape: tuple[int, ...]) -> None:
    model = _build(name, shape).eval()
    fc = head(model)
    assert isinstance(fc, nn.Linear) and fc.out_features == NUM_CLASSES
    assert fc is model.net.fc and head(model.net) is fc
    with torch.no_grad():
        fc.weight.zero_()
        fc.bias.fill_(1.5)
        out = model(torch.rand(2, *shape))
    torch.testing.assert_close(out, torch.full((2, NUM_CLASSES), 1.5))

    new = replace_head(model, NUM_CLASSES + 4)
    assert head(model) is new and new.in_features == fc.in_features
    assert model(torch.rand(2, *shape)).shape == (2, NUM_CLASSES + 4)


@pytest.mark.parametrize(("name", "shape"), IMAGE_CASES)
def test_channels_last_and_bf16_autocast(name: str, shape: tuple[int, ...]) -> None:
    torch.manual_seed(0)
    model = _build(name, shape).eval()
    x = torch.rand(2, *shape)
    with torch.no_grad():
        reference = model(x)
    model = model.to(memory_format=torch.channels_last)
    x_cl = x.contiguous(memory_format=torch.channels_last)
    with torch.no_grad():
        torch.testing.assert_close(model(x_cl), reference, rtol=1e-4, atol=1e-4)

    model.train()
    x_cl.requires_grad_(True)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = model(x_cl)
    assert out.shape == (2, NUM_CLASSES) and torch.isfinite(out.float()).all()
    out.float().sum().backward()
    assert x_cl.grad is not None and torch.isfinite(x_cl.grad).all()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in model.parameters())


@pytest.mark.parametrize("name", sorted(VECTOR_MODELS))
def test_vector_models_accept_vector_input(name: str) -> None:
    model = _build(name, VECTOR_SHAPE)
    assert model.normalize.mean.shape == (1, VECTOR_SHAPE[0])
    assert model(torch.randn(5, *VECTOR_SHAPE)).shape == (5, NUM_CLASSES)


@pytest.mark.parametrize("name", sorted(CONV_MODELS))
def test_conv_models_reject_vector_input(name: str) -> None:
    with pytest.raises(ValueError, match=rf"{name}.*\(20,\)"):
        _build(name, VECTOR_SHAPE)


def test_unknown_name_lists_valid_names() -> None:
    with pytest.raises(KeyError) as info:
        create_model("no_such_net", num_classes=3, input_shape=(4,), mean=(0.0,), std=(1.0,))
    message = str(info.value)
    assert "no_such_net" in message
    assert all(name in message for name in MODELS.names())


@pytest.mark.parametrize("name", MODELS.names())
def test_unknown_kwarg_names_model_and_key(name: str) -> None:
    shape = IMAGE_SHAPES[0] if _supports(name, IMAGE_SHAPES[0]) else VECTOR_SHAPE
    for error in (TypeError, ValueError):
        with pytest.raises(error, match=rf"{name}.*bogus_option"):
            _build(name, shape, bogus_option=3)


@pytest.mark.parametrize(
    ("name", "kwargs"),
    [
        ("mlp", {"depth": 0}),
        ("mlp", {"hidden": "wide"}),
        ("cnn_small", {"width": 0}),
        ("resnet20", {"shortcut": "C"}),
        ("wrn34_10", {"depth": 33}),
        ("wrn34_10", {"dropout": 1.5}),
    ],
)
def test_bad_kwarg_value_names_model_and_key(name: str, kwargs: dict[str, object]) -> None:
    (key,) = kwargs
    with pytest.raises(ValueError, match=rf"{name}.*{key}"), torch.device("meta"):
        _build(name, IMAGE_SHAPES[1], **kwargs)


def test_model_kwargs_lists_defaults() -> None:
    assert model_kwargs("mlp") == {"hidden": 256, "depth": 2}
    assert model_kwargs("cnn_small") == {"width": 32}
    assert model_kwargs("wrn34_10") == {"depth": 34, "widen_factor": 10, "dropout": 0.0}
    assert model_kwargs("linear") == {}


def _arguments() -> list[tuple[str, dataclasses.Field]]:
    return [(name, f) for name in MODELS.names() for f in dataclasses.fields(MODEL_ARGS[name])]


def test_every_argument_of_every_model_declares_what_it_allows() -> None:
    """A new model's arguments get a range (numbers) or a list of choices (strings)."""
    assert sorted(MODEL_ARGS) == MODELS.names()
    for name, f in _arguments():
        cls = MODEL_ARGS[name]
        assert issubclass(cls, ModelArgs) and cls.__dataclass_params__.frozen, name
        assert str(f.type) in ("int", "float", "str"), (name, f.name, f.type)
        declared = cls.CHOICES if f.type == "str" else cls.RANGES
        assert f.name in declared, f"{name}.{f.name} declares no range or choices"
        parse_model_args(name, {f.name: f.default})  # the default is allowed


def _below(cls: type[ModelArgs], key: str, kind: str) -> object:
    """A value just outside the argument's range or choices."""
    if kind == "str":
        return "".join(cls.CHOICES[key]) + "?"
    low = cls.RANGES[key].low
    assert low is not None
    return int(low) - 1 if kind == "int" else low - 0.5


@pytest.mark.parametrize(("name", "key"), [(n, f.name) for n, f in _arguments()])
def test_a_bad_argument_names_the_field_the_value_and_what_is_allowed(name: str, key: str) -> None:
    cls = MODEL_ARGS[name]
    kind = str({f.name: f.type for f in dataclasses.fields(cls)}[key])
    wrong_type = 3 if kind == "str" else "many"
    for value in (_below(cls, key, kind), wrong_type):
        shown = float(value) if kind == "float" and isinstance(value, int) else value
        expected = f"model_args.{name}.{key}: {shown!r} is not allowed; must be {cls.allowed(key)}"
        with pytest.raises(ModelArgumentError) as caught:
            parse_model_args(name, {key: value})
        assert str(caught.value) == expected
        with pytest.raises(ModelArgumentError, match=re.escape(f"model_args.{name}.{key}: ")):
            _build(name, IMAGE_SHAPES[1], **{key: value})


@pytest.mark.parametrize(
    ("name", "kwargs"),
    [
        ("cnn_small", {"width": 1}),
        ("mlp", {"hidden": 1, "depth": 1}),
        ("resnet20", {"shortcut": "A"}),
        ("wrn34_10", {"depth": 10, "widen_factor": 1, "dropout": 0.999}),
        ("wrn34_10", {"depth": 16, "widen_factor": 2, "dropout": "1/2"}),
    ],
)
def test_arguments_at_the_edge_of_their_range_build(name: str, kwargs: dict[str, object]) -> None:
    args = parse_model_args(name, kwargs)
    assert {k: getattr(args, k) for k in kwargs} == {
        k: 0.5 if v == "1/2" else v for k, v in kwargs.items()
    }
    with torch.device("meta"):
        _build(name, IMAGE_SHAPES[1], **kwargs)


def test_the_config_readme_lists_every_model_argument_with_its_range() -> None:
    text = (REPO / "config" / "README.md").read_text()
    section = text.split("## Model arguments (`model_args.<model>`)")[1].split("\n## ")[0]
    rows = re.findall(r"^\| `(\w+)` \| `(\w+)` \| `([^`]*)` \| ([^|]+) \|", section, re.M)
    documented = {(m, a): (d, allowed.strip()) for m, a, d, allowed in rows}
    expected = {
        (name, f.name): (str(f.default), MODEL_ARGS[name].allowed(f.name))
        for name, f in _arguments()
    }
    assert documented == expected
    (without,) = re.findall(r"^\| ((?:`\w+`, )*`\w+`) \| \(none\)", section, re.M)
    assert sorted(re.findall(r"`(\w+)`", without)) == sorted(
        n for n in MODELS.names() if not model_kwargs(n)
    )


def test_single_value_stats_broadcast() -> None:
    model = create_model(
        "cnn_small", num_classes=4, input_shape=(3, 8, 8), mean=(0.5,), std=(0.25,)
    )
    assert model.normalize.mean.shape == (1, 3, 1, 1)
    assert torch.equal(model.normalize.std, torch.full((1, 3, 1, 1), 0.25))
    vec = create_model("linear", num_classes=4, input_shape=(6,), mean=[1.0], std=[2.0])
    assert torch.equal(vec.normalize.mean, torch.ones(1, 6))


@pytest.mark.parametrize(
    ("mean", "std"), [((0.1, 0.2), (1.0, 1.0, 1.0)), ((0.1,), (0.0,)), ((0.1,), (1.0, -1.0, 1.0))]
)
def test_bad_stats_rejected(mean: tuple[float, ...], std: tuple[float, ...]) -> None:
    with pytest.raises(ValueError, match="Normalize"):
        create_model("cnn_small", num_classes=4, input_shape=(3, 8, 8), mean=mean, std=std)


def test_normalize_follows_input_dtype() -> None:
    norm = Normalize((0.5,), (0.25,), (2, 3, 3)).double()
    x = torch.rand(1, 2, 3, 3, dtype=torch.float64)
    assert norm(x).dtype == torch.float64
    assert norm(x.to(torch.bfloat16)).dtype == torch.bfloat16


@pytest.mark.parametrize("name", sorted(REFERENCE_PARAMS))
def test_default_parameter_count(name: str) -> None:
    with torch.device("meta"):
        model = create_model(
            name, num_classes=10, input_shape=(3, 32, 32), mean=(0.5,), std=(0.25,)
        )
    count = sum(p.numel() for p in model.parameters())
    assert count == pytest.approx(REFERENCE_PARAMS[name], rel=0.02)


def test_cnn_small_is_small() -> None:
    for shape in IMAGE_SHAPES:
        with torch.device("meta"):
            model = create_model(
                "cnn_small", num_classes=10, input_shape=shape, mean=(0.5,), std=(0.25,)
            )
        assert 20_000 <= sum(p.numel() for p in model.parameters()) <= 50_000


def test_wrn34_10_default_forward_backward() -> None:
    torch.manual_seed(0)
    model = create_model(
        "wrn34_10", num_classes=NUM_CLASSES, input_shape=(3, 32, 32), mean=(0.5,), std=(0.25,)
    )
    out = model(torch.rand(2, 3, 32, 32))
    assert out.shape == (2, NUM_CLASSES)
    out.logsumexp(dim=1).sum().backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in model.parameters())
