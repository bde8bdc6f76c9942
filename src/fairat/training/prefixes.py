"""Shared training prefixes: runs of one config whose first k epochs are provably the same
computation are trained through epoch k once (docs/configs.md, "Shared prefixes").

Two runs share their first k epochs when

- they train on the same data (dataset, its options, validation fraction and split seed), the
  same model (and ``model_args``), seed, eps, device and ``compile``, with the same batch size,
  optimiser settings (optimizer, base lr, momentum, Nesterov, weight decay), augmentation,
  precision and selection attack (``select_steps``), neither fine-tunes another run
  (``init_from``);
- their per-epoch lr (:func:`fairat.training.loop.lr_factor`) agrees in epochs 1..k;
- a method declares it (``Method.prefix_epochs``: DAFA's and TRIX's weight-free epochs are
  TRADES's, a TRADES run does not read its epoch count, a sweep over a parameter that is read
  only from epoch k + 1 on), and k is below both runs' epoch counts.

Every epoch reseeds from (seed, epoch) (:func:`fairat.training.loop.epoch_seed`) and validation runs
on the fixed split with a fixed seed, so the child's first k epochs, their history and their
checkpoint selection are the parent's. :func:`plan_prefixes` gives each run at most one parent
(the earlier run sharing the most epochs, among those whose own branch lies earlier, so that
the parent trains that prefix itself; "earlier" puts a method's runs together, the one nearest
its defaults first); the parent's job keeps its complete training state after epoch k, and
after the epochs :func:`offered_epochs` names for other configs' runs, and writes it with its
outputs (:func:`fairat.training.loop.train`, ``branch_at``); the child's job starts from it.
tests/test_prefixes.py trains every declared pair from scratch and from the branch state and
compares the outputs bit for bit.

:func:`training_passes` counts what a config trains, with and without sharing.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from fairat.config.runs import RunConfig, TrainConfig, run_dir
from fairat.methods import METHODS
from fairat.methods.trades import TradesParams

# settings of a run that must be equal for any epoch to be shared
_RUN_FIELDS = (
    "dataset",
    "model",
    "eps",
    "seed",
    "dataset_options",
    "model_args",
    "val_fraction",
    "split_seed",
    "device",
    "compile",
)
# train settings that must be equal; epochs, schedule, milestones and gamma act only through
# the per-epoch lr, which is compared epoch by epoch
_TRAIN_FIELDS = (
    "batch_size",
    "optimizer",
    "lr",
    "momentum",
    "nesterov",
    "weight_decay",
    "select_steps",
    "augment",
    "precision",
)


def lr_agreement(a: TrainConfig, b: TrainConfig) -> int:
    """The number of leading epochs in which the two schedules give the same lr factor."""
    from fairat.training.loop import (
        lr_factor,  # torch: imported only when the schedules are compared
    )

    fa, fb = lr_factor(a), lr_factor(b)
    n = min(a.epochs, b.epochs)
    return next((e for e in range(n) if fa(e) != fb(e)), n)


def prefix_epochs(a: RunConfig, b: RunConfig) -> int:
    """How many leading epochs (0 for none) runs ``a`` and ``b`` compute identically; below both
    runs' epoch counts (see the module docstring)."""
    if a.init_from is not None or b.init_from is not None:
        return 0
    if any(getattr(a, f) != getattr(b, f) for f in _RUN_FIELDS):
        return 0
    if any(getattr(a.train, f) != getattr(b.train, f) for f in _TRAIN_FIELDS):
        return 0
    ca, cb = METHODS.get(a.method), METHODS.get(b.method)
    pa, pb = a.params(), b.params()
    declared = max(ca.prefix_epochs(pa, cb, pb), cb.prefix_epochs(pb, ca, pa))
    if declared <= 0:
        return 0
    k = min(declared, a.train.epochs - 1, b.train.epochs - 1)
    return max(0, min(k, lr_agreement(a.train, b.train)))


@dataclass(frozen=True)
class Branch:
    """A run's shared prefix: its first ``epoch`` epochs are ``parent``'s."""

    parent: RunConfig
    epoch: int


def plan_prefixes(runs: list[RunConfig]) -> dict[str, Branch]:
    """For each run that starts from another's state: ``{run_dir(run): Branch}``.

    Runs are taken in order; each picks, among the earlier runs whose own branch epoch is
    below the prefix they share, the one sharing the most epochs (the first on a tie). The
    parent then trains that prefix itself, and the plan has no cycles.
    """
    plan: dict[str, Branch] = {}
    placed: list[tuple[RunConfig, int]] = []
    for run in sorted(runs, key=_parent_order(runs)):
        best: Branch | None = None
        for parent, start in placed:
            k = prefix_epochs(run, parent)
            if k > start and (best is None or k > best.epoch):
                best = Branch(parent, k)
        if best is not None:
            plan[run_dir(run)] = best
        placed.append((run, 0 if best is None else best.epoch))
    return plan


def _parent_order(runs: list[RunConfig]):
    """Sort key of :func:`plan_prefixes`: config order, except that the runs of one method
    come together, the one with the fewest parameters away from the method's defaults first
    (the sweep point at the defaults is the root of a sweep). That root trains from scratch,
    like the same run in a config without the sweep, so the output cache can hand one to the
    other (a branched run's cache key holds its parent's)."""
    first = {}
    for i, run in enumerate(runs):
        first.setdefault(run.method, i)

    def key(run: RunConfig) -> tuple[int, int]:
        params, defaults = run.params(), METHODS.get(run.method).Params()
        changed = sum(
            getattr(params, f.name) != getattr(defaults, f.name) for f in dataclasses.fields(params)
        )
        return first[run.method], changed

    return key


def branch_epochs(plan: dict[str, Branch]) -> dict[str, list[int]]:
    """``{run_dir(parent): sorted epochs after which it writes its state for a child}``."""
    cuts: dict[str, set[int]] = {}
    for branch in plan.values():
        cuts.setdefault(run_dir(branch.parent), set()).add(branch.epoch)
    return {name: sorted(epochs) for name, epochs in cuts.items()}


def offered_epochs(run: RunConfig) -> list[int]:
    """Epochs after which ``run`` keeps its state whatever its own config plans, so that a run
    of another config can branch from it when the output cache hands it over already trained
    (a cached run keeps only the states its first training wrote):

    - the last epoch before its lr first changes (a piecewise schedule's first milestone less
      one): a longer run of the same recipe shares everything up to there (TRADES against
      TRADES: 99 of the headline's 110-epoch ``trades_dafa`` for the 150-epoch ``trades_trix``);
    - for every registered method, the epochs that a run of that method would take from
      ``run``: the same run with that method, the hyper-parameters it shares with ``run`` and
      its own defaults for the rest (DAFA's default warm-up 70 makes a TRADES run keep its
      state after epoch 69, from which the ablation's TRIX-Basic and any DAFA run start).

    Epochs from ``run.train.epochs - 1`` on are left out (a run that shares all of them is the
    same run). Each kept state costs one checkpoint's disk (weights, optimiser and best-so-far
    weights: about 135 MB for a ResNet-18)."""
    if run.init_from is not None:
        return []  # a fine-tune is nobody's prefix: fairat.training.prefixes shares none of its epochs
    epochs = run.train.epochs
    cls, params = METHODS.get(run.method), run.params()
    offers: set[int] = set()
    if run.train.schedule == "piecewise" and run.train.milestones:
        first_change = min(run.train.milestones) - 1
        if cls.prefix_epochs(params, cls, params) >= first_change:
            offers.add(first_change)
    offers.update(cls.branch_points(params))
    mine = run.resolved_params()
    for name in METHODS:
        if METHODS.get(name).init_from is not None:
            continue  # a fine-tune starts from a finished run, never from a prefix
        fields = {f.name for f in dataclasses.fields(METHODS.get(name).Params)}
        shared = {k: v for k, v in mine.items() if k in fields}
        other = dataclasses.replace(run, method=name, name=name, method_params=shared)
        try:
            offers.add(prefix_epochs(other, run))
        except ValueError:  # a shared name that means something else there ('attack')
            continue
    return sorted(k for k in offers if 0 < k < epochs - 1)


def kept_epochs(config: dict, run: RunConfig) -> list[int]:
    """The epochs after which the train job of ``run`` writes its state (``branches/``): those
    its config's children start from (:func:`workflow_plan`) and :func:`offered_epochs`;
    nothing with ``share_prefixes: false``."""
    if not config.get("share_prefixes", True):
        return []
    planned = branch_epochs(workflow_plan(config)).get(run_dir(run), [])
    return sorted(set(planned) | set(offered_epochs(run)))


def workflow_plan(config: dict, runs: list[RunConfig] | None = None) -> dict[str, Branch]:
    """The plan of a (schema-validated) workflow config: :func:`plan_prefixes` of its runs,
    or nothing with ``share_prefixes: false``. ``runs`` saves resolving them again."""
    if not config.get("share_prefixes", True):
        return {}
    from fairat.config.runs import all_runs

    return plan_prefixes(all_runs(config) if runs is None else runs)


def describe(plan: dict[str, Branch]) -> list[str]:
    """One line per shared prefix, for the workflow's start-up message."""
    return [f"{child}: epochs 1-{b.epoch} from {run_dir(b.parent)}" for child, b in plan.items()]


def passes_per_sample(run: RunConfig) -> int:
    """Forward+backward passes per training sample and epoch, as issue 28 counts them: an
    attack of ``steps`` steps plus one training pass (PGD family, ``steps`` + 1), plus one more
    for the TRADES family's separate clean pass (``steps`` + 2); a method without an attack
    (``natural``) 1; one without a ``steps`` setting (FGSM) takes one step. Evaluation-mode
    forwards without a backward (TRIX's clean softmax, validation) are not counted."""
    params = run.params()
    if run.method == "natural":
        return 1
    steps = getattr(params, "steps", 1)
    return steps + (2 if isinstance(params, TradesParams) else 1)


def training_passes(runs: list[RunConfig], plan: dict[str, Branch] | None = None) -> int:
    """Training epoch-passes (epochs x :func:`passes_per_sample`, summed over ``runs``), less
    the epochs each run takes from its parent in ``plan``."""
    plan = plan or {}
    total = 0
    for run in runs:
        branch = plan.get(run_dir(run))
        epochs = run.train.epochs - (branch.epoch if branch else 0)
        total += epochs * passes_per_sample(run)
    return total


def count_training_passes(config: dict) -> dict[str, int]:
    """For a workflow config (as ``snakemake --configfile`` reads it): training epoch-passes
    ``without_sharing`` and ``with_sharing`` (as planned, whatever ``share_prefixes`` says),
    the number of runs and of runs that start from a shared prefix."""
    from fairat.config.runs import all_runs

    runs = all_runs(config)
    plan = plan_prefixes(runs)
    return {
        "runs": len(runs),
        "branched_runs": len(plan),
        "without_sharing": training_passes(runs),
        "with_sharing": training_passes(runs, plan),
    }
