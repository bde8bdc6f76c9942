"""How often the worst-class 95 % intervals cover the truth, and how wide they are: the new
binomial intervals of fairat.reporting.bootstrap beside the percentile bootstrap they replaced.

    PYTHONPATH=src .venv/bin/python benchmarks/interval_coverage.py [--reps 400] [--n 1000]

Simulated test sets with known class accuracies (docs/protocol.md, "Honest worst-class
intervals"):

- **Per seed** (one model): each class's count of correct test samples is Binomial(n, p_c); the
  truth is min_c p_c. New: :func:`fairat.reporting.bootstrap.worst_interval` (Clopper-Pearson, Sidak upper
  end). Old: the 2.5 and 97.5 percentiles of the minimum over classes of B class-stratified
  bootstrap replicates (:func:`fairat.reporting.bootstrap.class_bootstrap`).
- **Two-level** (S seeds of a training procedure): each simulated set draws S models whose class
  accuracies vary from seed to seed around the scenario's, p_sc = p_c + 1 point * a_s + 1.5
  points * b_sc (a, b standard normal: a shift shared by the seed's classes and one per class),
  and evaluates all S on the *same* test images, as the workflow does: image i of class c is
  correct for seed s when Phi(sqrt(r) z_i + sqrt(1 - r) e_si) < p_sc, with z_i shared by the
  seeds (r = 0.5: an image hard for one model tends to be hard for another). The truth is the
  procedure's expected worst-class accuracy E[min_c p_sc], computed from 2,000,000 simulated
  seeds. New: :func:`fairat.reporting.bootstrap.seed_worst_interval` (t bounds over seeds of the per-seed
  bounds). Old: the percentile interval of :func:`fairat.reporting.bootstrap.seed_class_bootstrap`
  (seeds, then test samples). The last row is a stress case: no seed-to-seed variation and
  r = 0.9, where the seeds' estimates agree and a t-interval over them alone is far too short.
  One more scenario has CIFAR-100's shape (100 classes of 100 test images, whatever ``--n``).
  The two-level rows also show the t-interval over seeds of the seeds' worst-class estimates
  (summary.csv's ``worst_ci95`` around ``worst_mean``), which the headline table prints.

Coverage is a proportion of ``reps`` sets: its simulation standard error, sqrt(c (1 - c) / reps),
is printed beside it (1.1 points at 400 sets and c = 0.95; at c = 100 % the plug-in value is 0, and
the exact one-sided 95 % lower confidence bound on the coverage is 1 - 3/reps, 99.25 % at 400
sets). Width is the mean width in points.
tests/test_interval_coverage.py runs the same simulation at a smaller size.
"""

from __future__ import annotations

import argparse
import math
import sys
import time

import numpy as np
from scipy import stats as st
from scipy.special import ndtr

from fairat.reporting.bootstrap import (
    class_bootstrap,
    interval,
    seed_class_bootstrap,
    seed_worst_interval,
    worst_interval,
)

OTHERS = [0.40, 0.45, 0.48, 0.50, 0.55, 0.58, 0.62, 0.65]  # classes well above the worst
SCENARIOS = {  # true class accuracies of one model, 10 classes
    "worst 10 points clear": np.array([0.30, 0.40, *OTHERS[:8]]),
    "3 within 2 points": np.array([0.30, 0.31, 0.32, *OTHERS[1:]]),
    "5 within 2 points": np.array([0.30, 0.305, 0.31, 0.315, 0.32, *OTHERS[3:]]),
    "all 10 tied": np.full(10, 0.45),
}
# CIFAR-100's shape: 100 classes of 100 test images, the 20 lowest within 5 points
CIFAR100 = ("100 classes, n = 100, 20 within 5 points", 100)
CIFAR100_P = np.concatenate([np.linspace(0.10, 0.15, 20), np.linspace(0.20, 0.60, 80)])
SEED_SHIFT, SEED_CLASS = 0.01, 0.015  # seed-to-seed SD of a seed's shift and of each class
CORRELATION = 0.5  # r, how much the seeds' test-sample outcomes share (latent correlation)
STRESS = ("all 10 tied, no seed variation, r = 0.9", 0.0, 0.0, 0.9)


def seed_accuracies(
    rng: np.random.Generator, p: np.ndarray, size: tuple[int, ...], shift: float, per_class: float
) -> np.ndarray:
    """(*size, K) class accuracies of models trained with different seeds around ``p``."""
    a = rng.standard_normal((*size, 1))
    b = rng.standard_normal((*size, len(p)))
    return np.clip(p + shift * a + per_class * b, 0.0, 1.0)


def expected_worst(p: np.ndarray, shift: float, per_class: float, draws: int = 2_000_000) -> float:
    """E_seed[min_c p_sc], the two-level estimand, by simulation (SE about 1e-5)."""
    if shift == 0 and per_class == 0:
        return float(p.min())
    rng = np.random.default_rng(12345)
    total = 0.0
    for start in range(0, draws, 200_000):
        total += (
            seed_accuracies(rng, p, (min(200_000, draws - start),), shift, per_class)
            .min(axis=-1)
            .sum()
        )
    return total / draws


def shared_test_counts(
    rng: np.random.Generator, p: np.ndarray, n: int, correlation: float
) -> np.ndarray:
    """(R, S, K) correct counts of S models with accuracies ``p`` (R, S, K) on one test set per
    r of n images a class, shared by the S models (Gaussian copula with latent correlation
    ``correlation``; each flag is Bernoulli(p_sc) on its own)."""
    reps, seeds, classes = p.shape
    out = np.empty(p.shape, dtype=np.int64)
    for c in range(classes):
        z = rng.standard_normal((reps, 1, n))
        e = rng.standard_normal((reps, seeds, n))
        u = ndtr(math.sqrt(correlation) * z + math.sqrt(1 - correlation) * e)
        out[..., c] = (u < p[..., c, None]).sum(axis=-1)
    return out


def per_seed(
    p: np.ndarray, n: int, reps: int, samples: int, rng: np.random.Generator
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """{method: (lo, hi)} of ``reps`` simulated test sets of one model with accuracies ``p``."""
    correct = rng.binomial(n, p, size=(reps, len(p)))
    total = np.full_like(correct, n)
    boot = class_bootstrap(correct, total, samples, rng).min(axis=-1)  # (B, R)
    tail = (1 - 0.95) / 2 * 100
    old = np.percentile(boot, [tail, 100 - tail], axis=0)
    return {"new": worst_interval(correct, total), "old": (old[0], old[1])}


def two_level(
    p: np.ndarray,
    n: int,
    reps: int,
    seeds: int,
    samples: int,
    rng: np.random.Generator,
    shift: float = SEED_SHIFT,
    per_class: float = SEED_CLASS,
    correlation: float = CORRELATION,
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """{method: (lo, hi)} of ``reps`` simulated runs of ``seeds`` seeds on shared test sets."""
    accuracies = seed_accuracies(rng, p, (reps, seeds), shift, per_class)
    correct = shared_test_counts(rng, accuracies, n, correlation)
    total = np.full_like(correct, n)
    old = np.array([interval(seed_class_bootstrap(c, total[0], samples, rng)) for c in correct])
    worst = (correct / total).min(axis=-1)  # (R, S), each seed's estimate
    half = st.t.ppf(0.975, seeds - 1) * worst.std(axis=-1, ddof=1) / math.sqrt(seeds)
    return {
        "new": seed_worst_interval(correct, total),
        "old": (old[:, 0], old[:, 1]),
        "t": (worst.mean(axis=-1) - half, worst.mean(axis=-1) + half),
    }


def coverage(bounds: tuple[np.ndarray, np.ndarray], truth: float) -> tuple[float, float, float]:
    """(coverage, its simulation standard error, mean width) of intervals (lo, hi)."""
    lo, hi = bounds
    covered = (lo <= truth + 1e-12) & (truth <= hi + 1e-12)
    c = float(covered.mean())
    return c, math.sqrt(max(c * (1 - c), 1e-12) / len(lo)), float((hi - lo).mean())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=400, help="simulated test sets per row")
    parser.add_argument("--n", type=int, default=1000, help="test samples per class")
    parser.add_argument("--samples", type=int, default=1000, help="B of the old bootstrap")
    parser.add_argument("--seeds", type=int, nargs="+", default=[2, 3, 5], help="S, two-level")
    parser.add_argument("--seed", type=int, default=0, help="the simulation's random seed")
    args = parser.parse_args(argv)
    rng = np.random.default_rng(args.seed)
    started = time.perf_counter()
    print(
        f"Coverage of the true worst-class accuracy by nominal 95 % intervals: n = {args.n} test "
        f"samples per class, {args.reps} simulated test sets per row, old bootstrap B = "
        f"{args.samples}; coverage ± its simulation SE (0 at 100 %, where the one-sided 95 % bound "
        f"is {100 * (1 - 3 / args.reps):.2f} %), mean width in points.\n"
    )
    header = (
        f"| {'level':<10} | {'scenario':<41} | {'S':>2} | {'new coverage':>12} | "
        f"{'new width':>9} | {'old coverage':>12} | {'old width':>9} | {'t coverage':>12} | "
        f"{'t width':>9} |"
    )
    print(header)
    print("|" + "|".join("-" * (len(cell) + 0) for cell in header.split("|")[1:-1]) + "|")

    def row(level: str, name: str, seeds: int, result: dict, truth: float) -> None:
        cells = []
        for method in ("new", "old", "t"):
            if method not in result:
                cells += ["–", "–"]
                continue
            c, se, width = coverage(result[method], truth)
            cells += [f"{100 * c:5.1f} ± {100 * se:3.1f}", f"{100 * width:.2f}"]
        print(
            f"| {level:<10} | {name:<41} | {seeds:>2} | {cells[0]:>12} | {cells[1]:>9} | "
            f"{cells[2]:>12} | {cells[3]:>9} | {cells[4]:>12} | {cells[5]:>9} |"
        )

    for name, p in SCENARIOS.items():
        row("per seed", name, 1, per_seed(p, args.n, args.reps, args.samples, rng), p.min())
    name, n = CIFAR100
    p = CIFAR100_P
    row("per seed", name, 1, per_seed(p, n, args.reps, args.samples, rng), p.min())
    for seeds in args.seeds:
        for name, p in SCENARIOS.items():
            truth = expected_worst(p, SEED_SHIFT, SEED_CLASS)
            result = two_level(p, args.n, args.reps, seeds, args.samples, rng)
            row("two-level", name, seeds, result, truth)
    name, n = CIFAR100
    truth = expected_worst(CIFAR100_P, SEED_SHIFT, SEED_CLASS, draws=400_000)
    row("two-level", name, 3, two_level(CIFAR100_P, n, args.reps, 3, args.samples, rng), truth)
    name, shift, per_class, correlation = STRESS
    p, seeds = SCENARIOS["all 10 tied"], 3
    result = two_level(
        p, args.n, args.reps, seeds, args.samples, rng, shift, per_class, correlation
    )
    row("two-level", name, seeds, result, expected_worst(p, shift, per_class))
    print(
        "\nTwo-level truth: E_seed[min_c p_c(seed)], seeds varying by "
        f"{100 * SEED_SHIFT:g} point (shift) and {100 * SEED_CLASS:g} points (each class), "
        f"test samples shared by the seeds (r = {CORRELATION})."
    )
    print(f"\n{time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
