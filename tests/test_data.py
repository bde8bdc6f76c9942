"""Tests for fairat.data: splits, prepared files, every dataset loader (on fabricated files)."""

from __future__ import annotations

import hashlib
import pickle
import shutil
import sys
import tarfile
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
import torchvision
from PIL import Image

import fairat.data.torchvision
from fairat.config.registry import UnknownNameError
from fairat.data import (
    DATASETS,
    DatasetCorruptError,
    DatasetMissingError,
    augment_batch,
    load_prepared,
    prepare,
    resolve_options,
    to_float,
)
from fairat.data.digits import DIGITS_MEAN, DIGITS_STD
from fairat.data.folders import arrange_tiny_imagenet
from fairat.data.prepared import stratified_val_split
from fairat.runtime.errors import DamagedFileError


def md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


# --------------------------------------------------------------------------------------------
# stratified_val_split
# --------------------------------------------------------------------------------------------


def _labels() -> np.ndarray:
    rng = np.random.default_rng(123)
    counts = {0: 50, 1: 7, 2: 2, 3: 1, 5: 33}  # a singleton class and a gap in the labels
    y = np.concatenate([np.full(n, c) for c, n in counts.items()])
    return rng.permutation(y)


def test_split_is_deterministic_disjoint_and_complete() -> None:
    y = _labels()
    train, val = stratified_val_split(y, 0.2, seed=7)
    train2, val2 = stratified_val_split(y, 0.2, seed=7)
    np.testing.assert_array_equal(train, train2)
    np.testing.assert_array_equal(val, val2)
    assert train.dtype == val.dtype == np.int64
    assert np.all(np.diff(train) > 0) and np.all(np.diff(val) > 0)  # sorted, no repeats
    assert np.intersect1d(train, val).size == 0
    np.testing.assert_array_equal(np.union1d(train, val), np.arange(len(y)))


def test_split_per_class_counts() -> None:
    y = _labels()
    _, val = stratified_val_split(y, 0.2, seed=0)
    got = Counter(y[val].tolist())
    # round(0.2 * n), at least 1 for classes of >= 2 samples, singletons stay in train
    assert got == {0: 10, 1: 1, 2: 1, 5: 7}
    _, val_big = stratified_val_split(y, 0.9, seed=0)
    got_big = Counter(y[val_big].tolist())
    assert got_big[2] == 1 and got_big[1] == 6  # at most n - 1: every class keeps a train sample
    assert stratified_val_split(y, 0.0, seed=0)[1].size == 0


def test_split_depends_only_on_labels_fraction_and_seed() -> None:
    y = _labels()
    train, val = stratified_val_split(y, 0.25, seed=3)
    other_train, _ = stratified_val_split(y, 0.25, seed=4)
    assert not np.array_equal(train, other_train)
    # global RNG state and the labels' dtype/container do not matter
    np.random.seed(999)
    torch.manual_seed(999)
    np.random.random(10)
    for same_y in (y.astype(np.int32), y.tolist(), y.astype(np.int64)):
        t, v = stratified_val_split(same_y, 0.25, seed=3)
        np.testing.assert_array_equal(t, train)
        np.testing.assert_array_equal(v, val)


@pytest.mark.parametrize("bad", [-0.1, 1.0, 1.5])
def test_split_rejects_bad_fraction(bad: float) -> None:
    with pytest.raises(ValueError, match="val_fraction"):
        stratified_val_split(np.zeros(10, dtype=np.int64), bad, seed=0)


# --------------------------------------------------------------------------------------------
# registry and options
# --------------------------------------------------------------------------------------------


def test_every_data_module_is_imported_and_every_dataset_comes_from_a_source_module() -> None:
    """A source registers its datasets from its own file (``@register_dataset``); no list in the
    package names it (fairat.config.registry.import_modules)."""
    folder = Path(__file__).resolve().parents[1] / "src" / "fairat" / "data"
    for path in folder.glob("[!_]*.py"):
        assert f"fairat.data.{path.stem}" in sys.modules, path.name
    sources = {p.stem for p in folder.glob("[!_]*.py")} - {
        "augment",
        "containers",
        "prepared",
        "sources",
    }
    registered_by = {DATASETS.get(n).load.__module__.rsplit(".", 1)[1] for n in DATASETS.names()}
    assert registered_by == sources
    for name in DATASETS.names():
        assert DATASETS.get(name).name == name


def test_registry_holds_all_datasets_with_their_flags() -> None:
    assert set(DATASETS.names()) == {
        "cifar10",
        "cifar100",
        "digits",
        "gaussian",
        "imagefolder",
        "stl10",
        "svhn",
    }
    for name in ("cifar10", "cifar100", "svhn", "stl10", "imagefolder"):
        spec = DATASETS.get(name)
        assert spec.augment and spec.clamp and len(spec.mean) == len(spec.std) == 3
    assert not DATASETS.get("digits").augment and DATASETS.get("digits").clamp
    assert not DATASETS.get("gaussian").augment and not DATASETS.get("gaussian").clamp
    assert DATASETS.get("imagefolder").num_classes is None
    with pytest.raises(UnknownNameError, match="cifar10"):
        DATASETS.get("mnist")


def test_unknown_option_key_names_the_key_and_the_allowed_ones(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"data\.gaussian\.bogus") as err:
        prepare("gaussian", tmp_path, {"bogus": 1}, 0.1, 0, tmp_path / "g.npz")
    assert "alpha" in str(err.value) and "n_train" in str(err.value)
    with pytest.raises(ValueError, match=r"data\.cifar10\.downlaod.*download"):
        resolve_options("cifar10", {"downlaod": True})
    assert not (tmp_path / "g.npz").exists()


def test_option_types_and_values_are_checked() -> None:
    with pytest.raises(ValueError, match=r"data\.gaussian\.d"):
        resolve_options("gaussian", {"d": "ten"})
    with pytest.raises(ValueError, match=r"data\.gaussian\.n_train"):
        resolve_options("gaussian", {"n_train": True})
    with pytest.raises(ValueError, match=r"data\.cifar10\.download"):
        resolve_options("cifar10", {"download": "yes"})
    assert resolve_options("gaussian", {"alpha": 1})["alpha"] == 1.0  # ints accepted as floats
    with pytest.raises(ValueError, match=r"data\.gaussian\.alpha"):
        DATASETS.get("gaussian").load(Path(), {"alpha": 1.5})
    with pytest.raises(ValueError, match=r"data\.digits\.test_fraction"):
        DATASETS.get("digits").load(Path(), {"test_fraction": 0.0})


# --------------------------------------------------------------------------------------------
# digits and the prepared-file round trip
# --------------------------------------------------------------------------------------------


def _rows(x: np.ndarray) -> Counter:
    return Counter(row.tobytes() for row in x.reshape(len(x), -1))


def test_digits_prepare_round_trip(tmp_path: Path) -> None:
    from sklearn.datasets import load_digits

    out = tmp_path / "prepared" / "digits.npz"
    made = prepare("digits", tmp_path / "raw", {}, 0.1, 0, out)
    data = load_prepared(out)
    assert [p.name for p in out.parent.iterdir()] == ["digits.npz"]  # no temp file left behind

    for key in ("x_train", "y_train", "x_val", "y_val", "x_test", "y_test"):
        np.testing.assert_array_equal(getattr(data, key), getattr(made, key))
    assert data.x_train.dtype == data.x_val.dtype == data.x_test.dtype == np.uint8
    assert data.y_train.dtype == data.y_val.dtype == data.y_test.dtype == np.int64
    assert data.input_shape == (1, 8, 8) and data.num_classes == 10
    assert data.class_names == [str(d) for d in range(10)]
    assert (data.dataset, data.augment, data.clamp) == ("digits", False, True)
    assert data.mean == DIGITS_MEAN and data.std == DIGITS_STD
    assert data.provenance["val_fraction"] == 0.1 and data.provenance["split_seed"] == 0

    n_train, n_val, n_test = len(data.y_train), len(data.y_val), len(data.y_test)
    assert n_train + n_val + n_test == 1797
    assert 0.29 < n_test / 1797 < 0.31 and 0.09 < n_val / (n_train + n_val) < 0.11
    assert set(np.unique(data.y_test)) == set(range(10))

    # the three parts are a partition of the whole data set (as a multiset of images)
    bunch = load_digits()
    expected = np.floor(bunch.data * 255 / 16 + 0.5).astype(np.uint8)
    parts = np.concatenate([data.x_train, data.x_val, data.x_test])
    assert _rows(parts) == _rows(expected)
    assert parts.min() == 0 and parts.max() == 255
    assert set(np.unique(parts)) <= {round(v * 255 / 16) for v in range(17)}


def test_digits_normalisation_constants_match_the_data() -> None:
    raw = DATASETS.get("digits").load(Path(), {})
    x = np.concatenate([raw.x_train, raw.x_test]).astype(np.float64) / 255
    assert abs(x.mean() - DIGITS_MEAN[0]) < 1e-3
    assert abs(x.std() - DIGITS_STD[0]) < 1e-3


def test_digits_test_split_follows_its_options() -> None:
    a = DATASETS.get("digits").load(Path(), {})
    b = DATASETS.get("digits").load(Path(), {"seed": 1, "test_fraction": 0.5})
    assert len(a.y_test) == sum(round(0.3 * n) for n in np.bincount(np.r_[a.y_train, a.y_test]))
    assert abs(len(b.y_test) - 1797 / 2) < 10


def test_save_is_atomic(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "g.npz"
    prepare("gaussian", tmp_path, {"n_train": 50, "n_test": 20}, 0.1, 0, out)
    before = out.read_bytes()

    def boom(*args: object, **kwargs: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(np, "savez", boom)
    with pytest.raises(OSError, match="disk full"):
        prepare("gaussian", tmp_path, {"n_train": 60, "n_test": 20}, 0.1, 0, out)
    assert out.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["g.npz"]


def test_load_prepared_never_unpickles(tmp_path: Path) -> None:
    out = tmp_path / "g.npz"
    prepare("gaussian", tmp_path, {"n_train": 50, "n_test": 20}, 0.1, 0, out)
    with np.load(out, allow_pickle=False) as npz:  # would raise if any array were an object array
        assert npz["class_names"].dtype.kind == "U" and npz["meta"].dtype.kind == "U"
    bad = tmp_path / "bad.npz"
    np.savez(bad, x=np.zeros(3))
    with pytest.raises(DamagedFileError, match=r"bad\.npz: damaged .*is not a prepared dataset"):
        load_prepared(bad)


# --------------------------------------------------------------------------------------------
# gaussian
# --------------------------------------------------------------------------------------------


def test_gaussian_statistics(tmp_path: Path) -> None:
    options = {"d": 4, "mu_pos": 2.0, "mu_neg": 0.5, "sigma_neg": 3.0, "alpha": 0.3}
    options |= {"n_train": 20000, "n_test": 500, "seed": 5}
    data = prepare("gaussian", tmp_path, options, 0.1, 0, tmp_path / "g.npz")
    assert data.x_train.dtype == np.float32 and data.input_shape == (4,)
    assert data.num_classes == 2 and data.class_names == ["negative", "positive"]
    assert not data.clamp and not data.augment
    x = np.concatenate([data.x_train, data.x_val])
    y = np.concatenate([data.y_train, data.y_val])
    assert abs(y.mean() - 0.3) < 0.015
    assert np.allclose(x[y == 1].mean(0), 2.0, atol=0.06)
    assert np.allclose(x[y == 0].mean(0), -0.5, atol=0.08)
    assert np.allclose(x[y == 1].std(0), 1.0, atol=0.05)
    assert np.allclose(x[y == 0].std(0), 3.0, atol=0.1)
    assert len(data.y_test) == 500


def test_gaussian_seeding() -> None:
    load = DATASETS.get("gaussian").load
    a = load(Path(), {"n_train": 100, "n_test": 10})
    b = load(Path(), {"n_train": 100, "n_test": 30})
    c = load(Path(), {"n_train": 100, "n_test": 10, "seed": 1})
    np.testing.assert_array_equal(a.x_train, b.x_train)  # test size does not move the train set
    assert not np.array_equal(a.x_train, c.x_train)
    assert not np.array_equal(a.x_test, b.x_test[:10])  # independent streams


# --------------------------------------------------------------------------------------------
# CIFAR-10 through torchvision's real loading code, on a fabricated archive
# --------------------------------------------------------------------------------------------

CIFAR_NAMES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship"]
CIFAR_NAMES.append("truck")


def _write_pickle(path: Path, obj: dict) -> None:
    # str keys: torchvision unpickles with encoding="latin1" and reads entry["data"], which is
    # what the Python 2 pickles of the real archive turn into.
    path.write_bytes(pickle.dumps(obj, protocol=2))


def write_fake_cifar10(root: Path, per_batch: int = 10) -> dict[str, np.ndarray]:
    """cifar-10-batches-py/ with 5 train batches, a test batch and batches.meta; returns arrays."""
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    xs, ys = [], []
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        x = rng.integers(0, 256, (per_batch, 3072), dtype=np.uint8)
        y = [int(v) for v in rng.permutation(per_batch) % 10]
        _write_pickle(folder / name, {"batch_label": name, "data": x, "labels": y})
        xs.append(x)
        ys.append(np.array(y))
    _write_pickle(folder / "batches.meta", {"label_names": CIFAR_NAMES, "num_vis": 3072})
    return {
        "x_train": np.concatenate(xs[:5]).reshape(-1, 3, 32, 32),
        "y_train": np.concatenate(ys[:5]),
        "x_test": xs[5].reshape(-1, 3, 32, 32),
        "y_test": ys[5],
    }


def trust_fake_cifar10(root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Point torchvision's hard-coded md5 lists at the fabricated files."""
    cls = torchvision.datasets.CIFAR10
    folder = root / "cifar-10-batches-py"
    train = [[f, md5(folder / f)] for f, _ in cls.train_list]
    test = [[f, md5(folder / f)] for f, _ in cls.test_list]
    meta = {**cls.meta, "md5": md5(folder / cls.meta["filename"])}
    monkeypatch.setattr(cls, "train_list", train)
    monkeypatch.setattr(cls, "test_list", test)
    monkeypatch.setattr(cls, "meta", meta)


@pytest.fixture
def fake_cifar10(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, dict]:
    root = tmp_path / "raw" / "cifar10"
    arrays = write_fake_cifar10(root)
    trust_fake_cifar10(root, monkeypatch)
    return root, arrays


def test_fake_cifar10_loads_through_torchvision(fake_cifar10: tuple[Path, dict]) -> None:
    root, arrays = fake_cifar10
    raw = DATASETS.get("cifar10").load(root, {})
    assert raw.class_names == CIFAR_NAMES
    for key, value in arrays.items():
        np.testing.assert_array_equal(getattr(raw, key), value)
    assert raw.x_train.dtype == np.uint8 and raw.x_train.flags.c_contiguous
    assert raw.y_train.dtype == np.int64
    # same pixels torchvision itself hands out (it returns HWC PIL images)
    tv = torchvision.datasets.CIFAR10(str(root), train=False)
    np.testing.assert_array_equal(np.asarray(tv[3][0]).transpose(2, 0, 1), raw.x_test[3])


def test_fake_cifar10_prepare(fake_cifar10: tuple[Path, dict], tmp_path: Path) -> None:
    root, _ = fake_cifar10
    prepare("cifar10", root, {}, 0.2, 0, tmp_path / "c.npz")
    data = load_prepared(tmp_path / "c.npz")
    assert data.input_shape == (3, 32, 32) and data.num_classes == 10
    assert (len(data.y_train), len(data.y_val), len(data.y_test)) == (40, 10, 10)
    assert data.augment and data.clamp and data.mean == (0.4914, 0.4822, 0.4465)


def test_normalize_false_feeds_the_network_raw_pixels(
    fake_cifar10: tuple[Path, dict], tmp_path: Path
) -> None:
    """The DAFA/TRIX/TRADES scripts train on ToTensor() pixels: the model's Normalize is then the
    identity, and the prepared file says so for every reader (training, evaluation)."""
    from fairat.models import create_model

    root, _ = fake_cifar10
    prepare("cifar10", root, {"normalize": False}, 0.2, 0, tmp_path / "raw.npz")
    data = load_prepared(tmp_path / "raw.npz")
    assert (data.mean, data.std) == ((0.0,), (1.0,))
    assert data.provenance["options"]["normalize"] is False
    model = create_model(
        "cnn_small", num_classes=10, input_shape=data.input_shape, mean=data.mean, std=data.std
    )
    x = torch.rand(2, *data.input_shape)
    torch.testing.assert_close(model.normalize(x), x, rtol=0, atol=0)
    with pytest.raises(ValueError, match="data.cifar10.normalize"):
        prepare("cifar10", root, {"normalize": "no"}, 0.2, 0, tmp_path / "bad.npz")


def test_corrupted_cifar10_file_fails_loudly(
    fake_cifar10: tuple[Path, dict], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root, _ = fake_cifar10
    batch = root / "cifar-10-batches-py" / "data_batch_3"
    batch.write_bytes(batch.read_bytes()[:-1] + b"\x00")  # same size, different md5
    with pytest.raises(DatasetCorruptError, match="data_batch_3") as err:
        prepare("cifar10", root, {}, 0.1, 0, tmp_path / "c.npz")
    assert "md5" in str(err.value) and "cifar10" in str(err.value)
    assert not (tmp_path / "c.npz").exists()
    # Without our own check, torchvision's constructor still refuses the file.
    monkeypatch.setattr(fairat.data.torchvision, "_bad_md5", lambda root, files: [])
    with pytest.raises(RuntimeError, match="corrupted"):
        DATASETS.get("cifar10").load(root, {})


def test_cifar10_archive_is_verified_and_extracted_offline(
    fake_cifar10: tuple[Path, dict], monkeypatch: pytest.MonkeyPatch
) -> None:
    root, arrays = fake_cifar10
    archive = root / "cifar-10-python.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(root / "cifar-10-batches-py", arcname="cifar-10-batches-py")
    shutil.rmtree(root / "cifar-10-batches-py")
    monkeypatch.setattr(torchvision.datasets.CIFAR10, "tgz_md5", "0" * 32)
    with pytest.raises(DatasetCorruptError, match=r"cifar-10-python\.tar\.gz"):
        DATASETS.get("cifar10").load(root, {})
    monkeypatch.setattr(torchvision.datasets.CIFAR10, "tgz_md5", md5(archive))
    raw = DATASETS.get("cifar10").load(root, {})
    np.testing.assert_array_equal(raw.x_train, arrays["x_train"])


def test_missing_dataset_offline(tmp_path: Path) -> None:
    root = tmp_path / "raw" / "cifar10"
    with pytest.raises(DatasetMissingError) as err:
        prepare("cifar10", root, {}, 0.1, 0, tmp_path / "c.npz")
    message = str(err.value)
    assert "'cifar10'" in message and str(root) in message
    assert "cifar-10-batches-py" in message and "data.cifar10.download: true" in message
    assert err.value.dataset == "cifar10"
    assert not root.exists()  # nothing created, nothing downloaded
    with pytest.raises(DatasetMissingError, match=r"svhn.*train_32x32\.mat"):
        DATASETS.get("svhn").load(tmp_path / "svhn", {})


# --------------------------------------------------------------------------------------------
# SVHN and STL-10 on fabricated files
# --------------------------------------------------------------------------------------------


def test_fake_svhn(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    sio = pytest.importorskip("scipy.io")
    rng = np.random.default_rng(1)
    cls = torchvision.datasets.SVHN
    split_list = dict(cls.split_list)
    images = {}
    for split, n in (("train", 12), ("test", 5)):
        x = rng.integers(0, 256, (32, 32, 3, n), dtype=np.uint8)  # the .mat layout: H, W, C, N
        y = (np.arange(n) % 10 + 1).astype(np.uint8)[:, None]  # digit 0 is stored as 10
        path = tmp_path / split_list[split][1]
        sio.savemat(path, {"X": x, "y": y})
        split_list[split] = [split_list[split][0], path.name, md5(path)]
        images[split] = x
    monkeypatch.setattr(cls, "split_list", split_list)
    raw = DATASETS.get("svhn").load(tmp_path, {})
    assert raw.x_train.shape == (12, 3, 32, 32) and raw.x_test.shape == (5, 3, 32, 32)
    np.testing.assert_array_equal(raw.y_train, (np.arange(12) + 1) % 10)  # 10 -> 0, rest kept
    assert raw.class_names == [str(d) for d in range(10)]
    np.testing.assert_array_equal(raw.x_train[4], images["train"][..., 4].transpose(2, 0, 1))


def test_fake_stl10(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cls = torchvision.datasets.STL10
    folder = tmp_path / cls.base_folder
    folder.mkdir()
    rng = np.random.default_rng(2)
    sizes = {"train": 6, "test": 4}
    for split, n in sizes.items():
        rng.integers(0, 256, n * 3 * 96 * 96, dtype=np.uint8).tofile(folder / f"{split}_X.bin")
        (np.arange(n) % 10 + 1).astype(np.uint8).tofile(folder / f"{split}_y.bin")  # 1-based
    rng.integers(0, 256, 3 * 96 * 96, dtype=np.uint8).tofile(folder / "unlabeled_X.bin")
    names = ["airplane", "bird", "car", "cat", "deer", "dog", "horse", "monkey", "ship", "truck"]
    (folder / cls.class_names_file).write_text("\n".join(names) + "\n")
    monkeypatch.setattr(cls, "train_list", [[f, md5(folder / f)] for f, _ in cls.train_list])
    monkeypatch.setattr(cls, "test_list", [[f, md5(folder / f)] for f, _ in cls.test_list])

    raw = DATASETS.get("stl10").load(tmp_path, {})
    assert raw.x_train.shape == (6, 3, 96, 96) and raw.x_test.shape == (4, 3, 96, 96)
    assert raw.x_train.flags.c_contiguous and raw.class_names == names
    np.testing.assert_array_equal(raw.y_train, np.arange(6))
    tv = torchvision.datasets.STL10(str(tmp_path), split="test")
    np.testing.assert_array_equal(np.asarray(tv[2][0]).transpose(2, 0, 1), raw.x_test[2])

    # the DAFA/TRIX recipe's 64x64 (rucy74/DAFA datasets.py Resize(64)): PIL bilinear, as
    # torchvision's Resize on the PIL images their dataset hands out
    small = DATASETS.get("stl10").load(tmp_path, {"image_size": 64})
    assert small.x_train.shape == (6, 3, 64, 64) and small.x_test.shape == (4, 3, 64, 64)
    resize = torchvision.transforms.Resize(64)
    np.testing.assert_array_equal(np.asarray(resize(tv[2][0])).transpose(2, 0, 1), small.x_test[2])
    np.testing.assert_array_equal(small.y_test, raw.y_test)
    with pytest.raises(ValueError, match="data.stl10.image_size"):
        DATASETS.get("stl10").load(tmp_path, {"image_size": 0})

    (folder / "test_y.bin").write_bytes(b"\x01\x02\x03\x03")  # corrupt a label file
    with pytest.raises(DatasetCorruptError, match="test_y.bin"):
        DATASETS.get("stl10").load(tmp_path, {})


# --------------------------------------------------------------------------------------------
# imagefolder
# --------------------------------------------------------------------------------------------


def write_image_folder(base: Path, layout: dict[str, dict[str, int]], size: int = 4) -> dict:
    """``layout[part][class] = count`` PNGs of ``size`` x ``size``; returns their pixel arrays."""
    rng = np.random.default_rng(3)
    pixels: dict[tuple[str, str, int], np.ndarray] = {}
    for part, classes in layout.items():
        for name, count in classes.items():
            (base / part / name).mkdir(parents=True)
            for i in range(count):
                hwc = rng.integers(0, 256, (size, size, 3), dtype=np.uint8)
                Image.fromarray(hwc).save(base / part / name / f"{i}.png")
                pixels[part, name, i] = hwc
    return pixels


def test_imagefolder(tmp_path: Path) -> None:
    base = tmp_path / "images"
    pixels = write_image_folder(base, {"train": {"dog": 2, "cat": 3}, "test": {"cat": 1, "dog": 1}})
    raw = DATASETS.get("imagefolder").load(tmp_path, {"path": str(base), "image_size": 4})
    assert raw.class_names == ["cat", "dog"]
    assert raw.x_train.shape == (5, 3, 4, 4) and raw.x_train.dtype == np.uint8
    np.testing.assert_array_equal(raw.y_train, [0, 0, 0, 1, 1])
    np.testing.assert_array_equal(raw.y_test, [0, 1])
    np.testing.assert_array_equal(raw.x_train[3], pixels["train", "dog", 0].transpose(2, 0, 1))

    resized = prepare("imagefolder", tmp_path, {"path": base}, 0.0, 0, tmp_path / "i.npz")
    assert resized.input_shape == (3, 32, 32) and resized.num_classes == 2


def test_tiny_imagenet_is_arranged_for_imagefolder(tmp_path: Path) -> None:
    """Tiny-ImageNet's own layout (train/<wnid>/images/, val/images/ + val_annotations.txt)
    linked into train/<wnid>/ and test/<wnid>/, then read by imagefolder at its 64x64 size."""
    src = tmp_path / "tiny-imagenet-200"
    rng = np.random.default_rng(4)
    wnids = ["n01443537", "n01629819"]
    for k, wnid in enumerate(wnids):
        (src / "train" / wnid / "images").mkdir(parents=True)
        (src / "train" / wnid / f"{wnid}_boxes.txt").write_text("not an image\n")
        for i in range(3 + k):
            hwc = rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)
            Image.fromarray(hwc).save(src / "train" / wnid / "images" / f"{wnid}_{i}.JPEG")
    (src / "val" / "images").mkdir(parents=True)
    lines = []
    for i, wnid in enumerate([wnids[1], wnids[0], wnids[1]]):
        hwc = rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)
        Image.fromarray(hwc).save(src / "val" / "images" / f"val_{i}.JPEG")
        lines.append(f"val_{i}.JPEG\t{wnid}\t0\t0\t63\t63")
    (src / "val" / "val_annotations.txt").write_text("\n".join(lines) + "\n")

    dest = tmp_path / "tiny-folder"
    assert arrange_tiny_imagenet(src, dest) == {"train": 7, "test": 3}
    raw = DATASETS.get("imagefolder").load(tmp_path, {"path": str(dest), "image_size": 64})
    assert raw.class_names == wnids and raw.x_train.shape == (7, 3, 64, 64)
    np.testing.assert_array_equal(raw.y_train, [0, 0, 0, 1, 1, 1, 1])
    np.testing.assert_array_equal(sorted(raw.y_test), [0, 1, 1])
    with pytest.raises(FileExistsError, match="tiny-folder"):
        arrange_tiny_imagenet(src, dest)
    with pytest.raises(DatasetMissingError, match="val_annotations"):
        arrange_tiny_imagenet(tmp_path / "nowhere", tmp_path / "other")


def test_imagefolder_errors(tmp_path: Path) -> None:
    load = DATASETS.get("imagefolder").load
    with pytest.raises(ValueError, match=r"data\.imagefolder\.path"):
        load(tmp_path, {})
    base = tmp_path / "images"
    write_image_folder(base, {"train": {"cat": 1, "dog": 1}})
    with pytest.raises(DatasetMissingError, match=r"'imagefolder'.*test/"):
        load(tmp_path, {"path": str(base)})
    write_image_folder(base, {"test": {"cat": 1, "cow": 1}})
    with pytest.raises(ValueError, match="differ"):
        load(tmp_path, {"path": str(base)})


# --------------------------------------------------------------------------------------------
# tensors
# --------------------------------------------------------------------------------------------


def test_to_float() -> None:
    x = torch.tensor([0, 51, 255], dtype=torch.uint8)
    y = to_float(x)
    assert y.dtype == torch.float32
    torch.testing.assert_close(y, torch.tensor([0.0, 0.2, 1.0]))
    f = torch.rand(3)
    assert to_float(f) is f
    with pytest.raises(TypeError):
        to_float(torch.zeros(3, dtype=torch.int64))


def _candidates(x: torch.Tensor, pad: int) -> torch.Tensor:
    """All 2 (2 pad + 1)^2 crops/flips of every image: (K, N, C, H, W)."""
    h, w = x.shape[-2:]
    padded = F.pad(x, (pad, pad, pad, pad))
    crops = [
        padded[:, :, dy : dy + h, dx : dx + w]
        for dy in range(2 * pad + 1)
        for dx in range(2 * pad + 1)
    ]
    return torch.stack(crops + [c.flip(-1) for c in crops])


def test_augment_batch_outputs_are_crops_or_flipped_crops() -> None:
    pad = 2
    x = torch.rand(200, 2, 5, 6, generator=torch.Generator().manual_seed(0)) + 0.1
    out = augment_batch(x, torch.Generator().manual_seed(1), pad=pad)
    assert out.shape == x.shape and out.dtype == x.dtype
    cands = _candidates(x, pad)
    matches = (cands == out[None]).flatten(2).all(-1)  # (K, N)
    assert matches.any(0).all(), "some output is neither a crop nor a flipped crop"
    chosen = matches.float().argmax(0)
    assert len(set(chosen.tolist())) > 25  # offsets and flips vary per sample
    k = (2 * pad + 1) ** 2
    assert (chosen < k).any() and (chosen >= k).any()
    assert set(out.unique().tolist()) <= set(x.unique().tolist()) | {0.0}  # no interpolation


def test_augment_batch_seeding_and_edge_cases() -> None:
    x = torch.rand(16, 3, 8, 8)
    a = augment_batch(x, torch.Generator().manual_seed(5))
    b = augment_batch(x, torch.Generator().manual_seed(5))
    c = augment_batch(x, torch.Generator().manual_seed(6))
    torch.testing.assert_close(a, b, rtol=0, atol=0)
    assert not torch.equal(a, c)
    torch.manual_seed(3)
    d = augment_batch(x)
    torch.manual_seed(3)
    torch.testing.assert_close(augment_batch(x), d, rtol=0, atol=0)

    assert torch.equal(augment_batch(x, pad=0, flip=False), x)
    flipped = augment_batch(x, torch.Generator().manual_seed(0), pad=0)
    same = (flipped == x).flatten(1).all(1)
    mirrored = (flipped == x.flip(-1)).flatten(1).all(1)
    assert (same | mirrored).all() and same.any() and mirrored.any()

    u8 = torch.randint(1, 256, (4, 3, 6, 6), dtype=torch.uint8)
    out = augment_batch(u8, torch.Generator().manual_seed(0), pad=1)
    assert out.dtype == torch.uint8 and set(out.unique().tolist()) <= set(u8.unique().tolist()) | {
        0
    }
    with pytest.raises(ValueError, match="N, C, H, W"):
        augment_batch(torch.rand(3, 8, 8))
