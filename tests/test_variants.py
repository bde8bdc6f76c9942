"""Named variants, sweeps, baselines and parents of the ``methods:`` section (fairat.config.variants)."""

from __future__ import annotations

import dataclasses

import pytest

from fairat.config.runs import RunConfig, all_runs, resolve_run, variants
from fairat.config.variants import expand_variants, value_tag

BASE = {
    "datasets": ["digits"],
    "models": ["cnn_small"],
    "eps": ["16/255"],
    "seeds": [0, 1],
    "train": {"epochs": 4, "schedule": "constant"},
}


def config(methods: dict) -> dict:
    return {**BASE, "methods": methods}


def test_two_variants_of_one_method_are_two_runs():
    runs = expand_variants(
        {"trades": {}, "trades_110ep": {"method": "trades", "beta": 3.0, "train": {"epochs": 8}}}
    )
    assert list(runs) == ["trades", "trades_110ep"]
    assert runs["trades_110ep"].method == "trades" and runs["trades_110ep"].params == {"beta": 3.0}
    cfg = config({"trades": {}, "trades_110ep": {"method": "trades", "train": {"epochs": 8}}})
    a = resolve_run(cfg, dataset="digits", model="cnn_small", run="trades", eps="16/255", seed=0)
    b = resolve_run(
        cfg, dataset="digits", model="cnn_small", run="trades_110ep", eps="16/255", seed=0
    )
    assert (a.name, a.method, a.train.epochs) == ("trades", "trades", 4)
    assert (b.name, b.method, b.train.epochs) == ("trades_110ep", "trades", 8)
    assert a.key() != b.key()  # their resume states never collide


def test_the_same_settings_under_two_names_keep_separate_resume_states():
    cfg = config({"trades": {}, "copy": {"method": "trades"}})
    a, b = (
        resolve_run(cfg, dataset="digits", model="cnn_small", run=r, eps="16/255", seed=0)
        for r in ("trades", "copy")
    )
    assert a.key() != b.key()
    # ... but train the same thing: one output-cache entry (the training record is name-free)
    assert a.training_json() == b.training_json()
    assert "copy" not in b.training_json()


def test_the_train_job_finds_the_resume_state_the_config_names():
    """The train job rebuilds the run from its name-free training record and its directory's
    name; that run keeps its resume state where the run resolved from the config says (what a
    requeued Slurm job and tests/slurm look for)."""
    cfg = config({"trades": {"steps": 2}, "copy": {"method": "trades", "beta": 3.0}})
    for name in ("trades", "copy"):
        run = resolve_run(cfg, dataset="digits", model="cnn_small", run=name, eps="16/255", seed=0)
        rebuilt = dataclasses.replace(RunConfig.from_json(run.training_json()), name=name)
        assert rebuilt.method_params != run.method_params  # defaults filled in
        assert rebuilt.key() == run.key()


def test_a_default_written_out_trains_the_same_run_as_one_left_out():
    cfg = config(
        {
            "trades": {},
            "explicit": {"method": "trades", "beta": 6.0},
            "other": {"method": "trades", "beta": 3.0},
        }
    )
    a, b, c = (
        resolve_run(cfg, dataset="digits", model="cnn_small", run=r, eps="16/255", seed=0)
        for r in ("trades", "explicit", "other")
    )
    assert a.method_params == {} and b.method_params == {"beta": 6.0}
    assert a.training_json() == b.training_json() != c.training_json()


def test_a_sweep_expands_into_named_runs_in_config_order():
    runs = expand_variants(
        {"trades": {}, "trix": {"beta": 6.0, "sweep": {"lam": [0.5, 1.0, 1.5, 2.0]}}}
    )
    assert list(runs) == ["trades", "trix-lam0.5", "trix-lam1", "trix-lam1.5", "trix-lam2"]
    point = runs["trix-lam1.5"]
    assert point.params == {"beta": 6.0, "lam": 1.5} and point.sweep == {"lam": 1.5}
    assert point.family == "trix" and point.baseline == "trades"


def test_several_sweep_keys_give_the_cross_product_and_train_keys_sweep_too():
    runs = expand_variants({"codat": {"sweep": {"eta": [0.1, 0.3], "train.lr": [0.1, 0.05]}}})
    assert list(runs) == [
        "codat-eta0.1-lr0.1",
        "codat-eta0.1-lr0.05",
        "codat-eta0.3-lr0.1",
        "codat-eta0.3-lr0.05",
    ]
    assert runs["codat-eta0.3-lr0.05"].train == {"lr": 0.05}
    cfg = config({"codat": {"sweep": {"eta": [0.1, 0.3], "train.lr": [0.1, 0.05]}}})
    lrs = {r.name: r.train.lr for r in all_runs(cfg) if r.seed == 0}
    assert lrs["codat-eta0.1-lr0.05"] == 0.05 and len(all_runs(cfg)) == 8


@pytest.mark.parametrize(
    ("value", "tag"), [(1.5, "1.5"), (2.0, "2"), (10, "10"), (True, "true"), ("2/255", "2_255")]
)
def test_sweep_values_in_run_names(value, tag):
    assert value_tag(value) == tag


@pytest.mark.parametrize(
    ("methods", "message"),
    [
        ({"Trades": {}}, r"methods: run name 'Trades' is not allowed; use lower-case"),
        ({"a/b": {"method": "trades"}}, r"run name 'a/b' is not allowed"),
        ({"fancy": {}}, r"methods\.fancy\.method: 'fancy' is not a registered method \(name it"),
        ({"x": {"method": "tradez"}}, r"methods\.x\.method: 'tradez' is not a registered method;"),
        ({"trades": {"betta": 1}}, r"methods\.trades: unknown key\(s\) 'betta'"),
        (
            {"codat": {"sweep": {"eta": [0.1, -1.0]}}},
            r"methods\.codat\.sweep\.eta: -1\.0 is not allowed; must be >= 0",
        ),
        ({"codat": {"sweep": {"etta": [0.1]}}}, r"methods\.codat\.sweep: unknown key 'etta'"),
        ({"codat": {"eta": 0.3, "sweep": {"eta": [0.1]}}}, r"sweep\.eta: also given as a fixed"),
        ({"codat": {"sweep": {"eta": []}}}, r"methods\.codat\.sweep\.eta: \[\] is not allowed"),
        ({"codat": {"sweep": {"eta": [0.1, 0.1]}}}, r"sweep\.eta: \[0\.1, 0\.1\] repeats"),
        (
            {"trix-lam1": {"method": "trix"}, "trix": {"sweep": {"lam": [1]}}},
            r"run name 'trix-lam1' occurs twice",
        ),
        ({"dafa": {"baseline": "tradess"}}, r"methods\.dafa\.baseline: 'tradess' is not a run"),
        (
            {"trix": {"sweep": {"lam": [1, 2]}}, "dafa": {"baseline": "trix"}},
            r"methods\.dafa\.baseline: 'trix' is swept into several runs; name one of them: "
            r"trix-lam1, trix-lam2",
        ),
        ({"frl_rw": {}}, r"methods\.frl_rw\.init_from: 'trades' is not a run of this config"),
        (
            {"natural": {}, "frl_rw": {"init_from": "natural"}},
            r"methods\.frl_rw\.init_from: 'natural' runs 'natural'; frl_rw fine-tunes a run of "
            r"trades, pgd_at",
        ),
        ({"trades": {}, "dafa": {"init_from": "trades"}}, r"dafa\.init_from: method 'dafa' trains"),
        ({"trades": []}, r"methods\.trades: \[\] is not allowed; give a mapping"),
    ],
)
def test_bad_variants_fail_with_the_field_named(methods, message):
    with pytest.raises(ValueError, match=message):
        expand_variants(methods)


def test_baselines_default_to_trades_when_there_is_one():
    runs = expand_variants({"trades": {}, "dafa": {}, "natural": {"baseline": None}})
    assert runs["dafa"].baseline == "trades" and runs["trades"].baseline == "trades"
    assert runs["natural"].baseline is None
    assert expand_variants({"pgd_at": {}})["pgd_at"].baseline is None


def test_fine_tuning_parents_default_to_trades_and_may_be_named():
    runs = expand_variants({"trades": {}, "t2": {"method": "trades"}, "frl_rw": {}})
    assert runs["frl_rw"].init_from == "trades"
    runs = expand_variants({"pgd_at": {}, "frl_rw": {"init_from": "pgd_at"}})
    assert runs["frl_rw"].init_from == "pgd_at"
    cfg = config({"t2": {"method": "trades"}, "frl_rw": {"init_from": "t2"}})
    run = resolve_run(cfg, dataset="digits", model="cnn_small", run="frl_rw", eps=0.1, seed=0)
    assert run.init_from == "t2"


def test_an_unknown_run_name_is_a_clear_error():
    with pytest.raises(ValueError, match=r"methods: no run named 'dafa'; runs: trades"):
        resolve_run(
            config({"trades": {}}),
            dataset="digits",
            model="cnn_small",
            run="dafa",
            eps=0.1,
            seed=0,
        )


def test_variants_of_the_config_helper_matches_expand():
    cfg = config({"trades": {}, "trix": {"sweep": {"lam": [1, 2]}}})
    assert list(variants(cfg)) == ["trades", "trix-lam1", "trix-lam2"]
