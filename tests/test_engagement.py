"""Runs whose method never engaged its mechanism are found from their logged state and named in
the summary (fairat.reporting.engagement, Method.idle_mechanism)."""

from __future__ import annotations

import pandas as pd

from fairat.methods import METHODS
from fairat.reporting.engagement import idle_note, idle_runs


def params(method: str, **raw):
    return METHODS.get(method).parse_params(raw)


def test_cfa_without_fawa_or_calibration_is_idle():
    cfa = METHODS.get("cfa")
    never = [{"epoch": e, "calibrated": 0.0, "fawa_epochs": 0.0} for e in (1, 2)]
    assert "never calibrated" in cfa.idle_mechanism(params("cfa"), never)
    no_fawa = [
        {"epoch": 1, "calibrated": 0.0, "fawa_epochs": 0.0},
        {"epoch": 2, "calibrated": 1.0, "fawa_epochs": 0.0},
    ]
    assert "FAWA never averaged" in cfa.idle_mechanism(params("cfa", fawa_threshold=0.3), no_fawa)
    assert "0.3" in cfa.idle_mechanism(params("cfa", fawa_threshold=0.3), no_fawa)
    engaged = [*no_fawa, {"epoch": 3, "calibrated": 1.0, "fawa_epochs": 1.0}]
    assert cfa.idle_mechanism(params("cfa"), engaged) is None


def test_dafa_and_trix_weights_that_never_acted_are_idle():
    for name in ("dafa", "trix"):
        cls = METHODS.get(name)
        warm = [{"epoch": 1, "weights_frozen": 0.0, "weight_a": 1.0, "weight_b": 1.0}]
        assert "never passed warm-up epoch 5" in cls.idle_mechanism(
            params(name, warmup_epoch=5), warm
        )
        flat = [{"epoch": 2, "weights_frozen": 1.0, "weight_a": 1.0, "weight_b": 1.0}]
        assert "stayed 1" in cls.idle_mechanism(params(name), flat)
        moved = [{"epoch": 2, "weights_frozen": 1.0, "weight_a": 1.2, "weight_b": 0.8}]
        assert cls.idle_mechanism(params(name), moved) is None


def test_frl_with_zero_multipliers_is_idle():
    frl = METHODS.get("frl_rw")
    zero = [{"epoch": 1, "lambda0_a": 0.0, "lambda1_a": 0.0, "w0_a": 0.5}]
    assert "plain TRADES" in frl.idle_mechanism(params("frl_rw"), zero)
    assert frl.idle_mechanism(params("frl_rw"), [{"epoch": 1, "lambda0_a": 0.1}]) is None


def test_methods_without_a_warm_up_are_never_marked():
    assert METHODS.get("trades").idle_mechanism(params("trades"), [{"epoch": 1}]) is None


def test_idle_runs_read_the_state_files_and_the_note_names_them(tmp_path):
    idle_state = tmp_path / "a.csv"
    pd.DataFrame([{"epoch": 1, "calibrated": 1.0, "fawa_epochs": 0.0}]).to_csv(
        idle_state, index=False
    )
    busy_state = tmp_path / "b.csv"
    pd.DataFrame([{"epoch": 1, "calibrated": 1.0, "fawa_epochs": 2.0}]).to_csv(
        busy_state, index=False
    )
    ident = {"dataset": "d", "model": "m", "run": "cfa", "method": "cfa", "eps": "8/255"}
    idle = idle_runs(
        [idle_state, busy_state],
        [{**ident, "seed": 0, "params": {}}, {**ident, "seed": 1, "params": {}}],
    )
    assert list(idle["seed"]) == [0]
    note = idle_note(idle, "d", "m", "8/255", seeds=2)
    assert "`cfa` (1 of 2 seeds): FAWA never averaged" in note
    assert idle_note(idle, "d", "m", "16/255", seeds=2) == ""
