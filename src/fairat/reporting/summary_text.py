"""summary.md and summary.tex: the summary table (:mod:`fairat.reporting.summary`) as text.

Each (dataset, model, eps, checkpoint) block leads with a headline table (clean and robust
accuracy, mean ± 95 % CI half-width over seeds, the two-level interval of the robust worst
class, rho), then every attack's mean ± std over seeds, the attacks run on a subset, and the
paired differences against the baseline.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from fairat.reporting.classwise import _precisions
from fairat.reporting.table_format import latex_table, markdown_table

TWO_LEVEL = "[95% seeds+samples]"  # the headline column of the two-level interval


def _cell(mean: float, std: float, scale: float = 100.0) -> str:
    if np.isnan(mean):
        return "–"
    if np.isnan(std):
        return f"{mean * scale:.2f}"
    return f"{mean * scale:.2f} ± {std * scale:.2f}"


def _interval(lo: float, hi: float, scale: float = 100.0) -> str:
    if pd.isna(lo) or pd.isna(hi):
        return "–"
    return f"[{lo * scale:.2f}, {hi * scale:.2f}]"


def _number(value: float) -> str:
    return (
        "–" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.2f}"
    )


def wide_summary(summary: pd.DataFrame) -> dict[tuple, pd.DataFrame]:
    """One table per (dataset, model, eps, checkpoint): a row per run (with its registered
    method when some run name differs from it), two columns per attack, then rho_nat, rho_rob
    with the baseline they compare with and its shared seeds, and the sanity warnings."""
    tables = {}
    attacks = list(dict.fromkeys(summary["attack"]))
    show_method = bool((summary["run"] != summary["method"]).any())
    for key, block in summary.groupby(["dataset", "model", "eps", "checkpoint"], sort=False):
        rows = {}
        for _, r in block.iterrows():
            row = rows.setdefault(r["run"], {"run": r["run"], "method": r["method"]})
            row[f"{r['attack']} avg"] = _cell(r["average_mean"], r["average_std"])
            row[f"{r['attack']} worst"] = _cell(r["worst_mean"], r["worst_std"])
            row["rho_nat"], row["rho_rob"] = _number(r["rho_nat"]), _number(r["rho_rob"])
            row["baseline (seeds)"] = (
                f"{r['baseline']} ({int(r['rho_seeds'])})" if r["baseline"] else "–"
            )
            row["sanity"] = int(r["sanity_warnings"])
        present = set(block["attack"])  # an attack run on other checkpoints only is absent
        cols = ["run", *(["method"] if show_method else [])]
        cols += [f"{a} {s}" for a in attacks if a in present for s in ("avg", "worst")]
        table = pd.DataFrame(list(rows.values())).reindex(
            columns=[*cols, "rho_nat", "rho_rob", "baseline (seeds)", "sanity"]
        )
        tables[key] = table.fillna("–")  # a run without that attack here
    return tables


def summary_markdown(
    summary: pd.DataFrame,
    paired: pd.DataFrame | None = None,
    worst_case_over: list[str] | None = None,
    idle: pd.DataFrame | None = None,
) -> str:
    """summary.md; ``idle`` (:func:`fairat.reporting.engagement.idle_runs`) marks the runs whose method
    never engaged its mechanism."""
    from fairat.reporting.engagement import idle_note

    robust = summary["robust_attack"].iloc[0]
    over = (
        f" `worst_case`: a sample counts as correct only if every one of "
        f"{', '.join(f'`{a}`' for a in worst_case_over)} leaves it correct (attacks run on a "
        "subset or on some checkpoints only are their own columns)."
        if worst_case_over
        else ""
    )
    parts = [
        "# Summary: average and worst-class accuracy (%)\n\n"
        f"Each block leads with clean and robust (`{robust}`) accuracy, mean ± 95 % CI "
        "half-width over seeds, then every attack (mean ± std over seeds). "
        "rho_nat and rho_rob: DAFA's rho against the run named in `baseline` (same dataset, "
        f"model and eps, means over the seeds both have), from clean and `{robust}` accuracy."
        f"{over} sanity: evaluation warnings (see sanity.csv). {_precision_sentence(summary)}\n\n"
        "Two intervals for worst-class accuracy: in the headline table `clean worst` and "
        "`robust worst` are the mean ± the half-width of the 95 % t-interval over seeds "
        "(`worst_ci95` in summary.csv), centred on the low-biased minimum of noisy class "
        "accuracies and blind to the test-sample noise the seeds share (one test set); "
        f"`robust worst {TWO_LEVEL}` is a 95 % interval of the "
        "training procedure's expected worst-class accuracy that covers it whatever the class "
        "accuracies (docs/protocol.md): t bounds over seeds of each seed's exact binomial "
        "bounds on its worst class (Clopper-Pearson, Šidák over the classes), so it holds the "
        "seed-to-seed spread and the test-sample noise, and is wide with few seeds; with one "
        "seed it is that seed's interval (`worst_ci95_lo`, `worst_ci95_hi`; every attack's is "
        "in summary.csv, each seed's interval and worst-class frequencies in bootstrap.csv and "
        "worst_class_frequency.csv).\n"
    ]
    for (dataset, model, eps, ckpt), table in wide_summary(summary).items():
        block = summary[
            (summary["dataset"] == dataset)
            & (summary["model"] == model)
            & (summary["eps"] == eps)
            & (summary["checkpoint"] == ckpt)
        ]
        n = int(block["n_seeds"].max())
        parts.append(f"\n## {dataset} / {model} / eps {eps} / checkpoint {ckpt} ({n} seeds)\n\n")
        mixed = block["precision"].nunique() > 1
        parts.append(markdown_table(headline_table(block, robust, precision=mixed)))
        if summary["precision"].nunique() > 1 and not mixed:
            parts.append(f"\nPrecision: `{block['precision'].iloc[0]}`.\n")
        if idle is not None:
            parts.append(idle_note(idle, dataset, model, eps, n))
        parts.append("\nPer attack (mean ± std over seeds):\n\n")
        parts.append(markdown_table(table))
        parts.append(_coverage_note(block))
        absent = [a for a in dict.fromkeys(summary["attack"]) if a not in set(block["attack"])]
        if absent:
            names = ", ".join(f"`{a}`" for a in absent)
            parts.append(f"\nNot run on these checkpoints: {names} (see the other blocks).\n")
        if paired is not None and len(paired):
            sel = paired[
                (paired["dataset"] == dataset)
                & (paired["model"] == model)
                & (paired["eps"] == eps)
                & (paired["checkpoint"] == ckpt)
                & (paired["attack"] == robust)
                & (paired["metric"] == "worst")
            ]
            if len(sel):
                parts.append(
                    f"\nWorst-class `{robust}` accuracy minus the baseline's, paired over shared "
                    "seeds (percentage points):\n\n"
                )
                rows = pd.DataFrame(
                    {
                        "run": sel["run"],
                        "baseline": sel["baseline"],
                        "seeds": sel["n_pairs"],
                        "difference": [_cell(m, np.nan) for m in sel["mean_diff"]],
                        "95% CI": [_cell(c, np.nan) for c in sel["ci95"]],
                        "p (paired t)": [_number(p) for p in sel["p_value"]],
                    }
                )
                parts.append(markdown_table(rows))
    return "".join(parts)


def _precision_sentence(summary: pd.DataFrame) -> str:
    """The summary's precision (docs/gpu.md): one for every number, or named per block."""
    labels = list(dict.fromkeys(summary["precision"]))
    if len(labels) == 1:
        return f"Precision of every number (docs/gpu.md): `{labels[0]}`."
    return (
        "Precision (docs/gpu.md) differs between runs: each block names it, in a precision "
        "column where its runs differ."
    )


def headline_table(block: pd.DataFrame, robust: str, *, precision: bool = False) -> pd.DataFrame:
    """The first table of a summary block: per run, clean and robust (``robust``) average and
    worst-class accuracy as mean ± 95 % CI half-width over seeds, the robust worst class's
    two-level (seeds and test samples) interval, rho against the baseline, and with
    ``precision`` (a block whose runs differ in it) each run's precision."""
    rows = []
    for run, runs in block.groupby("run", sort=False):
        by_attack = {r["attack"]: r for _, r in runs.iterrows()}
        row = {"run": run}
        for label, attack in (("clean", "clean"), ("robust", robust)):
            r = by_attack.get(attack)
            for stat, name in (("average", "avg"), ("worst", "worst")):
                row[f"{label} {name}"] = (
                    "–" if r is None else _cell(r[f"{stat}_mean"], r[f"{stat}_ci95"])
                )
        r = by_attack.get(robust)
        row[f"robust worst {TWO_LEVEL}"] = (
            "–" if r is None else _interval(r["worst_ci95_lo"], r["worst_ci95_hi"])
        )
        first = runs.iloc[0]
        row["rho_nat"] = _number(by_attack["clean"]["rho_nat"]) if "clean" in by_attack else "–"
        row["rho_rob"] = _number(by_attack[robust]["rho_rob"]) if robust in by_attack else "–"
        row["baseline (seeds)"] = (
            f"{first['baseline']} ({int(first['rho_seeds'])})" if first["baseline"] else "–"
        )
        if precision:
            row["precision"] = _precisions(runs["precision"])
        rows.append(row)
    return pd.DataFrame(rows)


def _coverage_note(block: pd.DataFrame) -> str:
    """A sentence naming the attacks of one summary block that evaluated fewer test samples per
    run or fewer seeds than the others (``evaluation.autoattack_per_class``, ``autoattack_runs``):
    their columns are not comparable with the rest."""
    seeds, samples = int(block["n_seeds"].max()), int(block["n_samples"].max())
    notes = []
    for attack, rows in block.groupby("attack", sort=False):
        n_seeds, n_samples = int(rows["n_seeds"].max()), int(rows["n_samples"].max())
        if n_seeds < seeds or n_samples < samples:
            notes.append(
                f"`{attack}` on {n_samples} of {samples} test samples, {n_seeds} of {seeds} seeds"
            )
    return f"\nSubsets: {'; '.join(notes)}.\n" if notes else ""


def summary_latex(summary: pd.DataFrame) -> str:
    """booktabs tables, one per (dataset, model, eps, checkpoint)."""
    parts = [
        "% generated by fairat: average / worst-class accuracy (%), mean \\pm std over seeds\n"
    ]
    for (dataset, model, eps, ckpt), table in wide_summary(summary).items():
        caption = f"{dataset}, {model}, eps {eps}, {ckpt} checkpoint"
        parts.append(latex_table(table.astype(str), caption=caption) + "\n")
    return "".join(parts)
