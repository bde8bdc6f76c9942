"""Shared training prefixes (fairat.training.prefixes): which runs share epochs, and that a run started
from another's branch state ends bit for bit where it ends when trained from scratch."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest
import torch
import yaml
from helpers import REPO, tiny_run

from fairat.config.runs import all_runs, run_dir
from fairat.runtime.checkpoint import load_torch
from fairat.training.loop import train
from fairat.training.prefixes import (
    count_training_passes,
    offered_epochs,
    passes_per_sample,
    plan_prefixes,
    prefix_epochs,
    training_passes,
)

ATTACK = {"steps": 2, "step_size": 0.03}


def run(method: str, params: dict | None = None, name: str = "", **train_settings):
    """A tiny digits run of ``method`` (4 epochs unless given, constant lr, PGD-2 selection)."""
    settings = {"epochs": 4, "select_steps": 2, **train_settings}
    base = tiny_run(method, **settings)
    return dataclasses.replace(
        base, name=name or method, method_params={**ATTACK, **(params or {})}
    )


DAFA = {"warmup_epoch": 3}
TRIX = {"warmup_epoch": 3, "mix_from_epoch": 2}


def test_declared_prefixes():
    trades = run("trades")
    assert prefix_epochs(run("dafa", DAFA), trades) == 2  # weights 1 through epoch 2
    assert prefix_epochs(trades, run("dafa", DAFA)) == 2  # either order
    assert prefix_epochs(run("dafa", {**DAFA, "lam": 2.0}), run("dafa", DAFA)) == 2
    assert prefix_epochs(run("dafa", {"warmup_epoch": 2}), run("dafa", DAFA)) == 1
    assert prefix_epochs(run("trix", TRIX), trades) == 2
    assert prefix_epochs(run("trix", {**TRIX, "mix_from_epoch": 1}), trades) == 1
    assert prefix_epochs(run("trix", {"warmup_epoch": 3}), trades) == 0  # mixes from epoch 1
    assert prefix_epochs(run("trix", TRIX), run("dafa", DAFA)) == 2
    basic = run("trix", {"warmup_epoch": 3, "assignment": "untargeted"})  # never targets
    assert prefix_epochs(basic, trades) == 2
    mixing = run("trix", {"warmup_epoch": 3})
    assert prefix_epochs(run("trix", {"warmup_epoch": 3, "dafa_lam": 2.0}), mixing) == 2
    assert prefix_epochs(run("trix", {"warmup_epoch": 3, "assignment": "targeted"}), mixing) == 0
    # TRADES does not read its epoch count: shared while the lr agrees, below both lengths
    assert prefix_epochs(run("trades", epochs=6), trades) == 3
    long = run("trades", epochs=8, schedule="piecewise", milestones=[7])
    assert prefix_epochs(long, run("trades", epochs=8, schedule="piecewise", milestones=[5])) == 4
    # anything else that differs shares nothing
    assert prefix_epochs(run("trades", {"beta": 3.0}), trades) == 0
    assert prefix_epochs(run("dafa", {**DAFA, "steps": 3}), trades) == 0
    assert prefix_epochs(dataclasses.replace(trades, seed=1), run("dafa", DAFA)) == 0
    assert prefix_epochs(run("trades", lr=0.02), trades) == 0
    assert prefix_epochs(run("trades", batch_size=64), trades) == 0
    assert prefix_epochs(run("trades", nesterov=True, momentum=0.9), trades) == 0
    assert prefix_epochs(run("trades", select_steps=3), trades) == 0
    assert prefix_epochs(run("pgd_at"), run("pgd_at")) == 0  # PGD-AT declares nothing
    assert prefix_epochs(run("cfa"), trades) == 0


def paper_config(name: str) -> dict:
    return yaml.safe_load((REPO / "config" / f"{name}.yaml").read_text())


def test_headline_config_plan_and_passes():
    """The issue's count (35,886 epoch-passes) and the prefixes it names, as planned here."""
    config = paper_config("cifar10_resnet18_fairness")
    runs = all_runs(config)
    plan = plan_prefixes(runs)
    got = {(child.split("/")[2], b.parent.name, b.epoch) for child, b in plan.items()}
    assert got == {("dafa", "trades_dafa", 69), ("trades_trix", "trades_dafa", 99)}
    assert len(plan) == 6  # three seeds
    assert training_passes(runs) == 35_886
    assert training_passes(runs, plan) == 35_886 - 3 * 12 * (69 + 99)
    counts = count_training_passes(config)
    assert counts["without_sharing"] == 35_886
    assert counts["with_sharing"] == 35_886 - 3 * 12 * (69 + 99)
    by_name = {r.name: r for r in runs}
    assert passes_per_sample(by_name["codat"]) == 11
    assert passes_per_sample(by_name["trix"]) == 12


def test_trix_lambda_sweep_shares_the_epochs_before_warm_up():
    plan = plan_prefixes(all_runs(paper_config("sweep_trix_lambda")))
    assert {b.epoch for b in plan.values()} == {69}
    # the point at TRIX's defaults (dafa_lam 1) is the root, trained from scratch as the
    # headline's trix is: the output cache hands one to the other
    assert {b.parent.name for b in plan.values()} == {"trix-dafa_lam1"}
    assert len(plan) == 9  # lam 0.5, 1.5, 2 for three seeds


def test_trix_basic_shares_the_trades_epochs_before_warm_up():
    """The ablation's TRIX-Basic never targets a sample: through epoch 69 it is its TRADES."""
    config = paper_config("ablation_trix_cifar10")
    plan = plan_prefixes(all_runs(config))
    got = {(child.split("/")[2], b.parent.name, b.epoch) for child, b in plan.items()}
    assert got == {("trix_basic", "trades_trix", 69)}
    assert count_training_passes(config)["with_sharing"] == 21_600 - 3 * 12 * 69


def test_a_parent_trains_its_prefix_itself():
    """No run branches from a state its parent took from another run: the plan has no
    cycles and every parent's own branch lies before the one it hands on."""
    runs = [run("trades", name="a"), run("dafa", DAFA, name="b"), run("trades", name="c", epochs=6)]
    plan = plan_prefixes(runs)
    assert {k: (b.parent.name, b.epoch) for k, b in plan.items()} == {
        run_dir(runs[1]): ("a", 2),
        run_dir(runs[2]): ("a", 3),
    }


def test_a_sweeps_root_is_the_point_at_the_methods_defaults():
    """Runs of one method are planned together, the one nearest the defaults first, whatever
    the config order; runs of other methods keep the config order."""
    runs = [
        run("dafa", {**DAFA, "lam": 2.0}, name="lam2"),
        run("trades", name="t"),
        run("dafa", DAFA, name="lam1"),
    ]
    plan = plan_prefixes(runs)
    assert {k.split("/")[2]: (b.parent.name, b.epoch) for k, b in plan.items()} == {
        "lam2": ("lam1", 2),
        "t": ("lam1", 2),
    }


def test_a_run_keeps_the_states_other_configs_may_branch_from():
    """offered_epochs: the last epoch before the lr first changes (for a method that shares
    with itself across schedules), the epochs its own late-read parameters leave unread, and
    those a run of another method with its defaults would take; none for a fine-tune or a
    method without a rule; never the last epochs."""
    piecewise = {"epochs": 8, "schedule": "piecewise", "milestones": [6]}
    assert offered_epochs(run("trades", **piecewise)) == [5]
    assert offered_epochs(run("trades", epochs=8)) == []  # DAFA's default warm-up 70 is past 7
    assert offered_epochs(run("dafa", DAFA, **piecewise)) == [2, 5]  # its warm-up, the lr
    assert offered_epochs(run("trix", TRIX, epochs=8)) == [2]  # warm-up and mixing both at 2
    assert offered_epochs(run("pgd_at", **piecewise)) == []  # declares no prefix
    assert offered_epochs(run("trades", epochs=3)) == []
    headline = {r.name: r for r in all_runs(paper_config("cifar10_resnet18_fairness"))}
    assert offered_epochs(headline["trades_dafa"]) == [69, 99]  # DAFA's warm-up, the lr
    assert offered_epochs(headline["trades_trix"]) == [69, 139]
    assert offered_epochs(headline["cfa"]) == offered_epochs(headline["frl_rw"]) == []


def compare(a, b, where: str = "") -> None:
    """Nested checkpoint contents equal: tensors by torch.equal, the rest by ==."""
    if isinstance(a, torch.Tensor):
        assert isinstance(b, torch.Tensor) and a.dtype == b.dtype and torch.equal(a, b), where
    elif isinstance(a, dict):
        assert a.keys() == b.keys(), where
        for key in a:
            compare(a[key], b[key], f"{where}.{key}")
    elif isinstance(a, list | tuple):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            compare(x, y, f"{where}[{i}]")
    else:
        assert a == b, f"{where}: {a!r} != {b!r}"


def assert_same_outputs(one: Path, two: Path) -> None:
    for name in ("last.pt", "best.pt"):
        compare(load_torch(one / name), load_torch(two / name), name)
    for name in ("history.csv", "method_state.csv", "config.json"):
        assert (one / name).read_text() == (two / name).read_text(), name


PAIRS = {
    # parent, child: the child takes the parent's first prefix_epochs(child, parent) epochs
    "trades-longer-trades": (
        run("trades", schedule="piecewise", milestones=[4]),
        run("trades", name="long", epochs=6, schedule="piecewise", milestones=[5]),
    ),
    "trades-dafa": (run("trades"), run("dafa", DAFA)),
    "dafa-trades": (run("dafa", DAFA), run("trades")),
    "dafa-dafa_lam": (run("dafa", DAFA), run("dafa", {**DAFA, "lam": 2.0}, name="dafa2")),
    "trades-trix": (run("trades"), run("trix", TRIX)),
    "trix-dafa": (run("trix", TRIX), run("dafa", DAFA)),
    "trades-trix_basic": (
        run("trades"),
        run("trix", {"warmup_epoch": 3, "assignment": "untargeted"}),
    ),
    "trix-trix_dafa_lam": (
        run("trix", {"warmup_epoch": 3}),
        run("trix", {"warmup_epoch": 3, "dafa_lam": 2.0}, name="trix2"),
    ),
}


@pytest.mark.parametrize("pair", PAIRS)
def test_branched_run_equals_run_from_scratch(pair, digits, tmp_path):
    """The child trained from the parent's branch state ends where it ends from scratch: the
    same weights, optimiser, scheduler, RNG and method state in last.pt, the same best.pt
    (epoch, score, weights), history.csv and method_state.csv."""
    torch.set_num_threads(1)
    parent, child = PAIRS[pair]
    k = prefix_epochs(child, parent)
    assert k >= 2 or pair == "trades-longer-trades" and k == 3
    train(parent, digits, tmp_path / "parent", tmp_path / "r", branch_at=[k],
          branch_dir=tmp_path / "parent" / "branches", progress=False)  # fmt: skip
    branch = tmp_path / "parent" / "branches" / f"branch_e{k}.pt"
    assert not list((tmp_path / "r").glob("*.pt"))  # resume and kept states went with the run
    train(child, digits, tmp_path / "branched", tmp_path / "r", start_from=branch, progress=False)
    train(child, digits, tmp_path / "scratch", tmp_path / "r", progress=False)
    assert_same_outputs(tmp_path / "branched", tmp_path / "scratch")
    if pair == "trades-longer-trades":  # the lr of epoch 4 is the child's own, not the parent's
        history = (tmp_path / "branched" / "history.csv").read_text().splitlines()
        lrs = [float(row.split(",")[1]) for row in history[1:]]
        assert lrs == [0.05] * 4 + [0.05 * 0.1] * 2


def test_a_parent_keeps_its_branch_state_through_a_crash(digits, tmp_path):
    """Keeping a branch state changes none of the parent's outputs, and a parent killed after
    the branch epoch and resumed still writes it (kept beside the resume state)."""
    from helpers import Crash, crash_after

    torch.set_num_threads(1)
    parent = run("trades")
    train(parent, digits, tmp_path / "plain", tmp_path / "r1", progress=False)
    out, resume, branches = tmp_path / "kept", tmp_path / "r2", tmp_path / "kept" / "branches"
    with pytest.raises(Crash):
        train(parent, digits, out, resume, branch_at=[1, 2], branch_dir=branches,
              progress=False, after_epoch=crash_after(2))  # fmt: skip
    assert not branches.exists()
    train(parent, digits, out, resume, branch_at=[1, 2], branch_dir=branches, progress=False)
    assert_same_outputs(tmp_path / "plain", out)
    assert sorted(p.name for p in branches.iterdir()) == ["branch_e1.pt", "branch_e2.pt"]
    assert [load_torch(branches / f"branch_e{k}.pt")["epoch"] for k in (1, 2)] == [0, 1]
    assert not list(resume.iterdir())


@pytest.mark.workflow
def test_workflow_shares_prefixes_and_writes_the_same_tables(tmp_path):
    """The DAG with a DAFA, a TRIX and a longer TRADES run that branch from a TRADES run: the
    dry run says who branches from whom, and every table, history and method log equals the
    one written with share_prefixes: false."""
    from helpers import run_snakemake

    config = REPO / "tests" / "configs" / "prefixes.yaml"
    off = tmp_path / "off.yaml"
    off.write_text(config.read_text() + "share_prefixes: false\n")
    target = "results/tables/summary.csv"
    dry = run_snakemake(tmp_path / "on", "--configfile", str(config), "-n", target)
    assert dry.returncode == 0, dry.stderr[-3000:]
    run = "digits/cnn_small/{}/eps16_255/seed0"
    for child, epochs in (("dafa", "1-1"), ("trix", "1-1"), ("trades_long", "1-2")):
        line = f"{run.format(child)}: epochs {epochs} from {run.format('trades')}"
        assert line in dry.stderr, dry.stderr[:2000]
    parent = f"results/runs/{run.format('trades')}/branches"
    assert f"input: data/digits.npz, {parent}" in dry.stdout  # the children wait for it
    for workdir, path in (("on", config), ("off", off)):
        done = run_snakemake(tmp_path / workdir, "--configfile", str(path), "--cores", "2", target)
        assert done.returncode == 0, done.stderr[-3000:]
    on, off_dir = tmp_path / "on", tmp_path / "off"
    assert not list(off_dir.glob("results/runs/**/branch_e*.pt"))
    assert sorted(p.name for p in (on / parent).glob("branch_e*.pt")) == [
        "branch_e1.pt",
        "branch_e2.pt",
    ]
    log = (on / f"logs/train/{run.format('trades_long')}.log").read_text()
    assert "epochs 1-2 from" in log
    for table in ("summary.csv", "classwise.csv"):
        assert (on / "results/tables" / table).read_bytes() == (
            off_dir / "results/tables" / table
        ).read_bytes(), table
    for name in ("trades", "dafa", "trix", "trades_long"):
        assert_same_outputs(
            on / "results/runs" / run.format(name), off_dir / "results/runs" / run.format(name)
        )

    # sharing turned on where the runs were trained without it: the parent is not retrained;
    # the children are (their input changed), find no state in its branches/ and start over
    dry = run_snakemake(off_dir, "--configfile", str(config), "-n", target)
    planned = re.findall(
        r"results/runs/digits/cnn_small/(\w+)/eps16_255/seed0/last\.pt", dry.stdout
    )
    assert "trades" not in planned and {"dafa", "trix", "trades_long"} <= set(planned)
    again = run_snakemake(off_dir, "--configfile", str(config), "--cores", "2", target)
    assert again.returncode == 0, again.stderr[-3000:]
    log = (off_dir / f"logs/train/{run.format('dafa')}.log").read_text()
    assert "does not exist: training from epoch 1" in log
    for name in ("dafa", "trix", "trades_long"):
        assert_same_outputs(
            on / "results/runs" / run.format(name), off_dir / "results/runs" / run.format(name)
        )
