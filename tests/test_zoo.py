"""Models fairat did not train: a RobustBench zoo entry through robustbench.utils.load_model
with planted random weights, and an external weights-only checkpoint, through the whole DAG on
the fake CIFAR-10 archive."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch
import yaml
from helpers import run_snakemake
from test_data import trust_fake_cifar10, write_fake_cifar10

from fairat.config.external import ExternalModel, check_entries
from fairat.data import prepare
from fairat.evaluation.zoo import fetch_zoo, load_zoo, zoo_weights
from fairat.models import create_model

ZOO_NAME = "Wong2020Fast"  # PreActResNet-18: small enough for a CPU test
CIFAR_MEAN, CIFAR_STD = (0.4914, 0.4822, 0.4465), (0.2471, 0.2435, 0.2616)


def zoo_entry() -> ExternalModel:
    return ExternalModel("zoo", ZOO_NAME, "cifar10", "zoo", "8/255")


def plant_zoo_weights(model_dir) -> dict:
    """Random weights of the zoo entry's own architecture where load_model looks for them."""
    from fairat.config.external import robustbench_utils

    robustbench_utils()
    from robustbench.model_zoo import model_dicts
    from robustbench.model_zoo.enums import BenchmarkDataset, ThreatModel

    torch.manual_seed(0)
    model = model_dicts[BenchmarkDataset.cifar_10][ThreatModel.Linf][ZOO_NAME]["model"]()
    path = zoo_weights(model_dir, zoo_entry())
    path.parent.mkdir(parents=True)
    torch.save(model.state_dict(), path)
    return model.state_dict()


def test_zoo_model_loads_through_robustbench_with_planted_weights(tmp_path):
    planted = plant_zoo_weights(tmp_path / "zoo")
    model = load_zoo(tmp_path / "zoo", zoo_entry())
    assert type(model).__module__.startswith("robustbench.")
    assert all(torch.equal(v, planted[k]) for k, v in model.state_dict().items())
    assert fetch_zoo(tmp_path / "zoo", zoo_entry()) == zoo_weights(tmp_path / "zoo", zoo_entry())


def test_offline_zoo_fetch_names_the_model_the_file_and_the_way_out(tmp_path, monkeypatch):
    import robustbench.utils

    def offline(*args, **kwargs):
        raise ConnectionError("no route to drive.google.com")

    monkeypatch.setattr(robustbench.utils, "download_gdrive_new", offline)
    with pytest.raises(FileNotFoundError) as err:
        fetch_zoo(tmp_path / "zoo", zoo_entry())
    message = str(err.value)
    path = str(zoo_weights(tmp_path / "zoo", zoo_entry()))
    assert ZOO_NAME in message and path in message and "zoo_fetch" in message
    assert "no route" in message
    with pytest.raises(FileNotFoundError, match="weights of 'Wong2020Fast' are missing"):
        load_zoo(tmp_path / "zoo", zoo_entry())


@pytest.mark.parametrize(
    ("kind", "entry", "message"),
    [
        ("zoo", {"name": "Wong2020Fats", "dataset": "cifar10"}, r"zoo\[0\]\.name: 'Wong2020Fats'"),
        ("zoo", {"name": ZOO_NAME, "dataset": "digits"}, r"zoo\[0\]\.dataset: 'digits'"),
        (
            "zoo",
            {"name": ZOO_NAME, "dataset": "cifar10", "threat_model": "L2"},
            r"zoo\[0\]\.threat_model: 'L2' is not allowed",
        ),
        (
            "external",
            {"name": "m", "dataset": "cifar10", "model": "resnet99", "file": "m.pt"},
            "resnet99",
        ),
    ],
)
def test_bad_entries_fail_naming_the_field(kind, entry, message):
    with pytest.raises((ValueError, KeyError), match=message):
        check_entries({kind: [entry], "eps": ["8/255"]})


def test_zoo_and_external_runs_go_through_the_whole_dag(tmp_path, monkeypatch):
    raw = tmp_path / "data" / "raw" / "cifar10"
    write_fake_cifar10(raw)
    trust_fake_cifar10(raw, monkeypatch)
    # prepared here, where torchvision trusts the fake archive's md5; the DAG starts from it
    prepare("cifar10", raw, {}, 0.2, 0, tmp_path / "data" / "cifar10.npz")
    plant_zoo_weights(tmp_path / "data" / "zoo")
    external = create_model(
        "cnn_small",
        num_classes=10,
        input_shape=(3, 32, 32),
        mean=CIFAR_MEAN,
        std=CIFAR_STD,
        width=8,
    )
    torch.save(external.state_dict(), tmp_path / "mine.pt")
    config = {
        "device": "cpu",
        "datasets": ["cifar10"],
        "models": ["cnn_small"],
        "model_args": {"cnn_small": {"width": 8}},
        "eps": ["8/255"],
        "seeds": [0],
        "methods": {"natural": {}},
        "data": {"val_fraction": 0.2},
        "train": {"epochs": 1, "batch_size": 32, "schedule": "constant", "select_steps": 2},
        "evaluation": {"attacks": ["clean", "fgsm", "pgd2"], "checkpoints": ["last"]},
        "zoo": [{"name": ZOO_NAME, "dataset": "cifar10"}],
        "external": [
            {"name": "mine", "dataset": "cifar10", "model": "cnn_small", "file": "mine.pt"}
        ],
    }
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    done = run_snakemake(tmp_path, "--cores", "2", "--configfile", str(tmp_path / "config.yaml"))
    assert done.returncode == 0, done.stderr[-3000:]
    assert "zoo_fetch" not in done.stdout + done.stderr  # the planted file: nothing to fetch

    classwise = pd.read_csv(tmp_path / "results/tables/classwise.csv", dtype={"class": str})
    runs = classwise.drop_duplicates("run").set_index("run")
    assert runs.loc[f"zoo/{ZOO_NAME}", "method"] == "zoo"
    assert runs.loc[f"zoo/{ZOO_NAME}", "model"] == "zoo"
    assert runs.loc["external/mine", ["method", "model"]].tolist() == ["external", "cnn_small"]
    for run in (f"zoo/{ZOO_NAME}", "external/mine"):
        rows = classwise[classwise["run"] == run]
        assert set(rows["attack"]) == {"clean", "fgsm", "pgd2", "worst_case"}
        assert (rows.groupby("attack")["n"].sum() == 10).all()  # the fake test split
    metrics = json.loads(
        (tmp_path / f"results/eval/zoo/cifar10/zoo/{ZOO_NAME}/eps8_255/last.json").read_text()
    )
    assert metrics["run"] == f"zoo/{ZOO_NAME}" and metrics["checkpoint"] == "last"
    summary = (tmp_path / "results/tables/summary.md").read_text()
    assert f"zoo/{ZOO_NAME}" in summary and "external/mine" in summary
    confusion = pd.read_csv(tmp_path / "results/tables/confusion.csv")
    zoo_rows = confusion[confusion["run"] == f"zoo/{ZOO_NAME}"]
    assert (zoo_rows.groupby("attack")["count"].sum() == 10).all()
    assert (tmp_path / "results/figures/confusion/cifar10/zoo/eps8_255.png").exists()
    # the external model was evaluated with the weights written, not a fresh initialisation
    with np.load(tmp_path / "results/eval/external/cifar10/cnn_small/mine/eps8_255/last.npz") as z:
        x = torch.from_numpy(np.load(tmp_path / "data/cifar10.npz")["x_test"]).float() / 255
        with torch.no_grad():
            expected = external.eval()(x).argmax(1).numpy()
        assert np.array_equal(z["pred_clean"], expected)


def test_a_config_of_zoo_models_alone_trains_nothing(tmp_path, monkeypatch):
    """methods: {} with zoo entries (config/zoo_cifar10_linf.yaml's shape): every table."""
    raw = tmp_path / "data" / "raw" / "cifar10"
    write_fake_cifar10(raw)
    trust_fake_cifar10(raw, monkeypatch)
    prepare("cifar10", raw, {}, 0.2, 0, tmp_path / "data" / "cifar10.npz")
    plant_zoo_weights(tmp_path / "data" / "zoo")
    config = {
        "device": "cpu",
        "datasets": ["cifar10"],
        "models": ["resnet18"],
        "eps": ["8/255"],
        "seeds": [0],
        "methods": {},
        "data": {"val_fraction": 0.2},
        "evaluation": {"attacks": ["clean", "pgd2"], "checkpoints": ["last"]},
        "zoo": [{"name": ZOO_NAME, "dataset": "cifar10", "eps": ["4/255", "8/255"]}],
    }
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    done = run_snakemake(tmp_path, "--cores", "2", "--configfile", str(tmp_path / "config.yaml"))
    assert done.returncode == 0, done.stderr[-3000:]
    classwise = pd.read_csv(tmp_path / "results/tables/classwise.csv", dtype={"class": str})
    assert set(classwise["run"]) == {f"zoo/{ZOO_NAME}"}
    assert set(classwise["eps"]) == {"4/255", "8/255"}
    assert not (tmp_path / "results/runs/cifar10").exists()  # nothing trained
    source = json.loads(
        (tmp_path / f"results/runs/zoo/cifar10/zoo/{ZOO_NAME}/eps8_255/source.json").read_text()
    )
    assert source["name"] == ZOO_NAME and len(source["sha256"]) == 64
    assert f"zoo/{ZOO_NAME}" in (tmp_path / "results/tables/summary.md").read_text()


def test_no_methods_and_no_models_to_evaluate_is_an_error():
    from fairat.config.checks import check_workflow_config

    with pytest.raises(ValueError, match=r"methods: \{\} names no run"):
        check_workflow_config({"methods": {}, "datasets": ["digits"], "models": ["mlp"]})
