"""A catalogue of the mistakes people make in a config: each fails before any job starts, with a
message naming the field. Most cases go through ``fairat.config.checks.load_workflow_config``, the
function ``workflow/rules/common.smk`` calls (schema validation, then every check); a few go
through ``snakemake -n`` itself to show the workflow stops there."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml
from helpers import REPO, run_snakemake

from fairat.config.checks import load_workflow_config
from fairat.config.schema import write_schema

TINY = yaml.safe_load((REPO / "tests" / "configs" / "tiny.yaml").read_text())


@pytest.fixture(scope="module")
def schema(tmp_path_factory) -> str:
    out = tmp_path_factory.mktemp("schema") / "config.schema.json"
    return write_schema(REPO / "workflow/schemas/config.schema.yaml", out)


def changed(**changes) -> dict:
    """tiny.yaml with top-level keys replaced; ``methods__x`` style keys set one method."""
    config = copy.deepcopy(TINY)
    for key, value in changes.items():
        node, *path = key.split("__")
        target = config
        for part in [node, *path][:-1]:
            target = target.setdefault(part, {})
        target[[node, *path][-1]] = value
    return config


CASES = {
    # training settings
    "negative lr": (changed(train__lr=-0.1), r"train\.lr: -0\.1 is not allowed; must be > 0"),
    "method lr": (
        changed(methods__pgd_at={"train": {"lr": -1}}),
        r"methods\.pgd_at\.train\.lr: -1\.0 is not allowed; must be > 0",
    ),
    "momentum 1": (changed(train__momentum=1.0), r"train\.momentum: 1\.0 .* in \[0, 1\)"),
    "negative wd": (changed(train__weight_decay=-1e-4), r"train\.weight_decay: -0\.0001"),
    "gamma 0": (changed(train__gamma=0), r"train\.gamma: 0\.0 is not allowed; must be > 0"),
    "milestone past the end": (changed(train__milestones=[5]), r"train\.milestones: \[5\]"),
    "bad optimizer": (changed(train__optimizer="adamw"), r"adamw"),
    "unknown train key": (changed(train__epoch=3), r"epoch"),
    "fp16 training": (
        changed(train__precision="fp16"),
        r"'fp16' is not one of \['fp32', 'bf16', 'tf32'\]",
    ),
    "method fp16 training": (
        changed(methods__trades={"train": {"precision": "fp16"}}),
        r"methods\.trades\.train\.precision: 'fp16' is not allowed; valid values: fp32, bf16, tf32",
    ),
    "share_prefixes not a bool": (
        changed(share_prefixes="no"),
        r"'no' is not of type 'boolean'",
    ),
    # method hyper-parameters
    "numeric string option": (
        changed(methods__mixup_at={"attack": 1}),
        r"methods\.mixup_at\.attack: 1 is not a string",
    ),
    "negative steps": (
        changed(methods__pgd_at={"steps": -2}),
        r"methods\.pgd_at\.steps: -2 is not allowed; must be >= 1",
    ),
    "zero step ratio": (
        changed(methods__pgd_at={"step_ratio": 0}),
        r"methods\.pgd_at\.step_ratio: 0\.0 is not allowed; must be > 0",
    ),
    "negative beta": (
        changed(methods__trades={"beta": -6}),
        r"methods\.trades\.beta: -6\.0 is not allowed; must be >= 0",
    ),
    "misspelt hyper-parameter": (
        changed(methods__trades={"betta": 6}),
        r"methods\.trades: unknown key\(s\) 'betta'",
    ),
    "cfa decay above 1": (
        changed(methods__cfa={"fawa_decay": 1.5}),
        r"methods\.cfa\.fawa_decay: 1\.5 is not allowed; must be in \[0, 1\]",
    ),
    "codat negative eta": (changed(methods__codat={"eta": -0.3}), r"methods\.codat\.eta: -0\.3"),
    "mixup lam above 1": (changed(methods__mixup_at={"lam": 2}), r"methods\.mixup_at\.lam: 2\.0"),
    "label aug delta": (
        changed(methods__label_aug_at={"delta": 1.5}),
        r"methods\.label_aug_at\.delta: 1\.5",
    ),
    "label aug radius": (
        changed(methods__label_aug_at={"radius": "noisy"}),
        r"methods\.label_aug_at\.radius: 'noisy' is not allowed; valid values: clean, augmented",
    ),
    "frl lim": (changed(methods__frl_rw={"lim": -1}), r"methods\.frl_rw\.lim: -1\.0"),
    # warm-ups that never end turn DAFA, TRIX and CFA into TRADES
    "dafa warm-up at the end": (
        changed(methods__dafa={"warmup_epoch": 2}),
        r"methods\.dafa\.warmup_epoch: 2 is not below the run's 2 epochs",
    ),
    "trix warm-up beyond the end": (
        changed(methods__trix={"warmup_epoch": 70}),
        r"methods\.trix\.warmup_epoch: 70 is not below the run's 2 epochs",
    ),
    "trix never mixes": (
        changed(methods__trix={"warmup_epoch": 1, "mix_from_epoch": 2}),
        r"methods\.trix\.mix_from_epoch: 2 leaves none",
    ),
    "cfa never calibrates": (
        changed(methods__cfa={"warmup_epoch": 10}),
        r"methods\.cfa\.warmup_epoch: 10 is not below the run's 2 epochs",
    ),
    # data
    "misspelt data key": (changed(data__val_fracton=0.5), r"data: unknown key 'val_fracton'"),
    "unknown dataset option": (
        changed(data__digits={"downlaod": True}),
        r"data\.digits\.downlaod",
    ),
    "val fraction 1": (changed(data__val_fraction=1.0), r"val_fraction"),
    # models and their arguments (each model's Args in src/fairat/models)
    "misspelt model argument": (
        changed(model_args={"cnn_small": {"widht": 8}}),
        r"model_args\.cnn_small: unknown key\(s\) 'widht'; valid keys: width",
    ),
    "cnn_small width 0": (
        changed(model_args={"cnn_small": {"width": 0}}),
        r"model_args\.cnn_small\.width: 0 is not allowed; must be an integer >= 1",
    ),
    "cnn_small negative width": (
        changed(model_args={"cnn_small": {"width": -8}}),
        r"model_args\.cnn_small\.width: -8 is not allowed; must be an integer >= 1",
    ),
    "cnn_small width as text": (
        changed(model_args={"cnn_small": {"width": "wide"}}),
        r"model_args\.cnn_small\.width: 'wide' is not allowed; must be an integer >= 1",
    ),
    "cnn_small fractional width": (
        changed(model_args={"cnn_small": {"width": 8.5}}),
        r"model_args\.cnn_small\.width: 8\.5 is not allowed; must be an integer >= 1",
    ),
    "mlp depth 0": (
        changed(model_args={"mlp": {"depth": 0}}),
        r"model_args\.mlp\.depth: 0 is not allowed; must be an integer >= 1",
    ),
    "mlp hidden true": (
        changed(model_args={"mlp": {"hidden": True}}),
        r"model_args\.mlp\.hidden: True is not allowed; must be an integer >= 1",
    ),
    "wrn depth not 6n+4": (
        changed(model_args={"wrn34_10": {"depth": 33}}),
        r"model_args\.wrn34_10\.depth: 33 is not allowed; must be an integer >= 10 "
        r"\(6n \+ 4: 10, 16, 22, 28, 34, \.\.\.\)",
    ),
    "wrn negative widen factor": (
        changed(model_args={"wrn34_10": {"widen_factor": -10}}),
        r"model_args\.wrn34_10\.widen_factor: -10 is not allowed; must be an integer >= 1",
    ),
    "wrn dropout 1": (
        changed(model_args={"wrn34_10": {"dropout": 1}}),
        r"model_args\.wrn34_10\.dropout: 1\.0 is not allowed; must be a number in \[0, 1\)",
    ),
    "wrn dropout as a word": (
        changed(model_args={"wrn34_10": {"dropout": "none"}}),
        r"model_args\.wrn34_10\.dropout: 'none' is not allowed; must be a number in \[0, 1\)",
    ),
    "resnet20 shortcut C": (
        changed(model_args={"resnet20": {"shortcut": "C"}}),
        r"model_args\.resnet20\.shortcut: 'C' is not allowed; must be one of 'A', 'B'",
    ),
    "resnet20 lower-case shortcut": (
        changed(model_args={"resnet20": {"shortcut": "a"}}),
        r"model_args\.resnet20\.shortcut: 'a' is not allowed; must be one of 'A', 'B'",
    ),
    "an argument resnet18 does not take": (
        changed(model_args={"resnet18": {"width": 64}}),
        r"model_args\.resnet18: unknown key\(s\) 'width'; valid keys: \(none\)",
    ),
    "an argument of another model": (
        changed(model_args={"mlp": {"width": 64}}),
        r"model_args\.mlp: unknown key\(s\) 'width'; valid keys: hidden, depth",
    ),
    "unknown model": (changed(models=["resnet99"]), r"resnet99"),
    # eps
    "eps 1 meant as 1/255": (changed(eps=[1]), r"eps: 1 is 1 of the whole .* '1/255'"),
    "eps 8 meant as 8/255": (changed(eps=[8]), r"eps: 8 gives 8\.0, .* did you mean '8/255'"),
    "negative eps": (changed(eps=["-8/255"]), r"eps"),
    "the same eps twice": (
        changed(eps=["8/255", 0.03137254901960784]),
        r"eps: '8/255' and 0\.0313.* are the same radius \(8/255\)",
    ),
    # names that collide
    "a seed twice": (changed(seeds=[0, 0]), r"seeds: 0 listed twice"),
    "a dataset twice": (changed(datasets=["digits", "digits"]), r"datasets: digits listed twice"),
    "a run name from a sweep twice": (
        changed(
            methods={"trades": {}, "trades-beta3": {"method": "trades"}, "x": {"method": "trades"}}
            | {"trades": {"sweep": {"beta": [3]}}}
        ),
        r"run name 'trades-beta3' occurs twice",
    ),
    # evaluation selections that select nothing
    "autoattack seed not in the config": (
        changed(evaluation={"attacks": ["clean", "autoattack"], "autoattack_runs": {"seeds": [7]}}),
        r"evaluation\.autoattack_runs\.seeds: \[7\] are not seeds of this config",
    ),
    "autoattack eps not in the config": (
        changed(
            evaluation={"attacks": ["clean", "autoattack"], "autoattack_runs": {"eps": ["8/255"]}}
        ),
        r"evaluation\.autoattack_runs\.eps: \['8/255'\] are not eps of this config",
    ),
    "autoattack checkpoint not evaluated": (
        changed(
            evaluation={
                "attacks": ["clean", "autoattack"],
                "checkpoints": ["last"],
                "autoattack_runs": {"checkpoints": ["best"]},
            }
        ),
        r"evaluation\.autoattack_runs\.checkpoints: \['best'\] are not evaluated",
    ),
    "autoattack settings without autoattack": (
        changed(evaluation={"attacks": ["clean", "fgsm"], "autoattack_per_class": 3}),
        r"evaluation\.autoattack_per_class: 3 is set but the suite \(clean, fgsm\) has no",
    ),
    "unknown attack": (changed(evaluation={"attacks": ["clean", "pgd"]}), r"pgd"),
    "attack radius out of range": (
        changed(evaluation={"attacks": ["clean", "pgd40@8"]}),
        r"evaluation\.attacks: 'pgd40@8': eps: '8' gives 8\.0, outside the allowed range "
        r"\[0, 1\].*did you mean '8/255'",
    ),
    # baselines and parents
    "missing baseline": (
        changed(methods__pgd_at={"baseline": "madry"}),
        r"methods\.pgd_at\.baseline: 'madry' is not a run of this config",
    ),
    "frl without its parent": (
        changed(methods={"frl_rw": {"steps": 2}}),
        r"methods\.frl_rw\.init_from: 'trades' is not a run of this config",
    ),
}


def test_the_catalogue_is_large_enough():
    assert len(CASES) >= 30


@pytest.mark.parametrize("name", sorted(CASES))
def test_a_bad_config_fails_before_any_job_naming_the_field(name, schema):
    config, message = CASES[name]
    with pytest.raises(Exception, match=message) as caught:
        load_workflow_config(copy.deepcopy(config), schema)  # validation fills in defaults
    assert "weights_only" not in str(caught.value)


def test_the_tiny_config_itself_passes(schema):
    variants, runs = load_workflow_config(copy.deepcopy(TINY), schema)
    assert set(variants) == {"natural", "pgd_at", "trades", "frl_rw"} and len(runs) == 8


@pytest.mark.parametrize(
    "model_args",
    [
        {"cnn_small": {"width": 1}},
        {"mlp": {"hidden": 1, "depth": 1}},
        {"wrn34_10": {"depth": 10, "widen_factor": 1, "dropout": "3/10"}},
        {"resnet20": {"shortcut": "A"}},
        {"linear": {}, "resnet18": {}, "preact_resnet18": {}},
    ],
)
def test_valid_model_args_pass(schema, model_args):
    _, runs = load_workflow_config(changed(model_args=model_args), schema)
    assert runs and all(r.model_args == model_args.get(r.model, {}) for r in runs)


def test_a_large_eps_can_be_forced(schema):
    variants, runs = load_workflow_config(changed(eps=[0.5], allow_large_eps=True), schema)
    assert {r.eps for r in runs} == {0.5}


def test_an_unwritable_results_dir_fails_before_training(schema, tmp_path):
    blocked = tmp_path / "file"
    blocked.write_text("not a directory")
    with pytest.raises(ValueError, match=r"results_dir: '.*file/results' cannot be written"):
        load_workflow_config(changed(results_dir=str(blocked / "results")), schema)


@pytest.mark.parametrize(
    "name",
    [
        "negative lr",
        "misspelt data key",
        "dafa warm-up at the end",
        "eps 1 meant as 1/255",
        "cnn_small width 0",
    ],
)
def test_snakemake_stops_before_any_job(name, tmp_path):
    config, message = CASES[name]
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(copy.deepcopy(config)))
    done = run_snakemake(tmp_path, "-n", "--cores", "1", "--configfile", str(path))
    assert done.returncode != 0
    output = done.stdout + done.stderr
    assert __import__("re").search(message, output), output[-2000:]
    assert "rule train" not in output and not Path(tmp_path / "results").exists()
