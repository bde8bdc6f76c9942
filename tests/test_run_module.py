"""``python -m fairat.run``: one run of a config trained and evaluated without Snakemake.

test_workflow.py compares its outputs with the workflow's for the same run, byte for byte."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from fairat.config.runs import RunConfig, resolve_run
from fairat.data import load_prepared
from fairat.run import load_config, main
from fairat.training.loop import train

REPO = Path(__file__).resolve().parents[1]
TINY = REPO / "tests" / "configs" / "tiny.yaml"
FRL = "digits/cnn_small/frl_rw/eps16_255/seed0"
TRADES = "digits/cnn_small/trades/eps16_255/seed0"


def run_main(*args: str) -> int:
    """``main`` on the tiny config, leaving torch's thread count as it was."""
    threads = torch.get_num_threads()
    try:
        return main([str(TINY), *args])
    finally:
        torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def debug_run(tmp_path_factory):
    """frl_rw, seed 0, of the tiny config: it fine-tunes trades, which trains first."""
    out = tmp_path_factory.mktemp("runs-debug")
    assert run_main("--run", "frl_rw", "--seed", "0", "--out", str(out)) == 0
    return out


def test_trains_the_parent_then_the_run_and_evaluates_it(debug_run, capsys):
    for run in (TRADES, FRL):
        for name in ("last.pt", "best.pt", "history.csv", "method_state.csv", "config.json"):
            assert (debug_run / "runs" / run / name).is_file(), (run, name)
    # only the requested run is evaluated, on the config's checkpoints and attacks
    assert sorted(p.name for p in (debug_run / "eval" / FRL).iterdir()) == [
        "best.json",
        "best.npz",
        "last.json",
        "last.npz",
    ]
    assert not (debug_run / "eval" / TRADES).exists()
    result = json.loads((debug_run / "eval" / FRL / "last.json").read_text())
    assert (result["run"], result["seed"], result["eps"]) == ("frl_rw", 0, "16/255")
    assert list(result["attacks"]) == ["clean", "fgsm", "pgd5", "worst_case"]
    config = json.loads((debug_run / "runs" / FRL / "config.json").read_text())
    assert config["init_from"] == "trades" and config["train"]["epochs"] == 1
    assert not list((debug_run / "resume").iterdir())  # finished: no resume state left


def test_a_trained_parent_is_reused(debug_run, capsys):
    parent = debug_run / "runs" / TRADES / "last.pt"
    before = parent.stat().st_mtime_ns
    # the eps as its tag, as in the workflow's paths
    run_main("--run", "frl_rw", "--seed", "0", "--eps", "16_255", "--out", str(debug_run))
    out = capsys.readouterr().out
    assert f"frl_rw starts from {parent}" in out
    assert "training digits/cnn_small/trades" not in out
    assert parent.stat().st_mtime_ns == before
    assert f"wrote: {debug_run / 'eval' / FRL / 'last.json'}" in out


def test_history_is_the_train_functions_for_the_resolved_run(debug_run, tmp_path):
    """The run is the RunConfig the workflow resolves, trained by fairat.training.loop.train."""
    config, _ = load_config(TINY)
    run = resolve_run(
        config, dataset="digits", model="cnn_small", run="trades", eps="16/255", seed=0
    )
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        train(
            RunConfig.from_json(run.training_json()),
            load_prepared(debug_run / "data" / "digits.npz"),
            tmp_path,
            tmp_path / "resume",
            progress=False,
        )
    finally:
        torch.set_num_threads(threads)
    for name in ("history.csv", "config.json"):
        assert (tmp_path / name).read_bytes() == (debug_run / "runs" / TRADES / name).read_bytes()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--run", "trades"], "the config lists several seed (0, 1); choose one with --seed"),
        (
            ["--run", "pgd", "--seed", "0"],
            "--run pgd: not in the config; choices: natural, pgd_at, trades, frl_rw",
        ),
        (["--run", "trades", "--seed", "0", "--eps", "8/255"], "--eps 8/255: not in the config"),
        (["--seed", "0"], "the config lists several run (natural, pgd_at, trades, frl_rw)"),
    ],
)
def test_a_choice_the_config_does_not_offer_names_the_choices(args, message, tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_:
        run_main("--out", str(tmp_path), *args)
    assert exit_.value.code == 2
    assert message in capsys.readouterr().err
    assert not list(tmp_path.iterdir())  # nothing prepared or trained


def test_runs_as_a_module():
    done = subprocess.run(
        [sys.executable, "-m", "fairat.run", "--help"], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert "--run" in done.stdout and "--out" in done.stdout
