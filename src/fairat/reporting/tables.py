"""Aggregation: the tidy class-wise table, the per-method summary and paired comparisons.

``classwise.csv`` has one row per dataset, model, run, eps, seed, checkpoint, attack and class;
``run`` is the run name of the config (a variant, :mod:`fairat.config.variants`) and ``method`` the
registered method it runs. The summary averages over classes within a run (average, worst
class), then reports the mean, standard deviation and 95 % confidence half-width of those
run-level numbers over seeds, a 95 % interval of the expected worst-class accuracy that
accounts for seeds and test samples (:func:`fairat.reporting.bootstrap.seed_worst_interval`), DAFA's rho
against the run's baseline (docs/specification.md#rho, on the seeds both have) and the number of evaluation sanity warnings. Each row
carries the ``precision`` that produced it (:func:`precision_label` of the evaluation JSON's
record, docs/gpu.md).
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import numpy as np
import pandas as pd

from fairat.config.eps import eps_tag
from fairat.reporting.bootstrap import seed_class_counts, seed_class_interval
from fairat.reporting.stats import paired_comparison, rho, seed_summary

CLASSWISE_COLUMNS = [
    "dataset",
    "model",
    "run",
    "method",
    "eps",
    "seed",
    "checkpoint",
    "attack",
    "class",
    "accuracy",
    "n",
    "precision",
]
IDENTITY = ["dataset", "model", "run", "method", "eps", "seed", "checkpoint"]
SANITY_COLUMNS = [*IDENTITY, "check", "detail"]
RUN = ["dataset", "model", "run", "method", "eps", "checkpoint"]
GROUP = [*RUN, "attack"]
TWO_LEVEL = "[95% seeds+samples]"  # the headline column of the two-level interval
BASELINE = "trades"  # the default baseline run (fairat.config.variants.DEFAULT_BASELINE)


UNRECORDED = "unrecorded"
_DTYPES = (("train", "train"), ("train_attacks", "train-attacks"), ("evaluation", "eval"))


def precision_label(record: dict | None) -> str:
    """The ``precision`` column of an evaluation's precision record
    (:func:`fairat.training.device.precision_record`): ``fp32`` when training, its attacks and the
    evaluation ran in IEEE fp32, else what did not (``bf16-train``), with ``+tf32`` when TF32
    was allowed; ``unrecorded`` for a JSON written before precision was recorded."""
    if not record:
        return UNRECORDED
    parts = [f"{record[k]}-{name}" for k, name in _DTYPES if record[k] != "fp32"]
    if record["tf32_matmul"] or record["tf32_cudnn"]:
        parts.append("tf32")
    return "+".join(parts) or "fp32"


def _precisions(labels: pd.Series) -> str:
    """The precision of a group of rows: their one label, or each of them (``a; b``)."""
    values = sorted({v for label in labels.dropna() for v in label.split("; ")})
    return "; ".join(values or [UNRECORDED])


def classwise_rows(result: dict) -> list[dict]:
    """Rows of classwise.csv from one evaluation JSON."""
    ident = {k: result[k] for k in IDENTITY}
    ident["precision"] = precision_label(result.get("precision"))
    rows = []
    for attack, report in result["attacks"].items():
        for name in result["class_names"]:
            cell = report["per_class"][name]
            accuracy = np.nan if cell["accuracy"] is None else cell["accuracy"]
            rows.append(
                {**ident, "attack": attack, "class": name, "accuracy": accuracy, "n": cell["n"]}
            )
    return rows


def _results(paths: list[str | Path]) -> list[dict]:
    return [json.loads(Path(p).read_text()) for p in paths]


def classwise_table(paths: list[str | Path]) -> pd.DataFrame:
    rows = [row for result in _results(paths) for row in classwise_rows(result)]
    return pd.DataFrame(rows, columns=CLASSWISE_COLUMNS)


def sanity_table(paths: list[str | Path]) -> pd.DataFrame:
    """Every sanity warning of every evaluation JSON, one row each."""
    rows = []
    for result in _results(paths):
        ident = {k: result[k] for k in IDENTITY}
        rows += [{**ident, **warning} for warning in result.get("sanity", [])]
    return pd.DataFrame(rows, columns=SANITY_COLUMNS)


def read_classwise(path: str | Path) -> pd.DataFrame:
    """Read classwise.csv keeping eps labels (``8/255``) and class names as strings."""
    return pd.read_csv(path, dtype={"eps": str, "class": str})


def read_sanity(path: str | Path) -> pd.DataFrame:
    return pd.read_csv(path, dtype={"eps": str})


def read_summary(path: str | Path) -> pd.DataFrame:
    """Read summary.csv; a run without a baseline keeps an empty ``baseline``."""
    return pd.read_csv(path, dtype={"eps": str, "baseline": str}).fillna({"baseline": ""})


def run_summaries(classwise: pd.DataFrame) -> pd.DataFrame:
    """Per run and attack: average over classes, worst class (classes with n = 0 left out), the
    number of test samples the attack evaluated and the precision (``unrecorded`` for a table
    without that column, written before it existed)."""
    present = classwise[classwise["n"] > 0]
    if "precision" not in present:
        present = present.assign(precision=UNRECORDED)
    return (
        present.groupby([*GROUP, "seed"], sort=False)
        .agg(
            average=("accuracy", "mean"),
            worst=("accuracy", "min"),
            n_samples=("n", "sum"),
            precision=("precision", _precisions),
        )
        .reset_index()
    )


def robust_attack(attacks: list[str]) -> str:
    """The attack that rho_rob uses: ``worst_case`` if present, else the strongest one."""
    if "worst_case" in attacks:
        return "worst_case"
    if "autoattack" in attacks:
        return "autoattack"
    iterative = [a for a in attacks if re.fullmatch(r"(pgd|cw)\d+", a)]
    if iterative:
        return max(iterative, key=lambda a: int(re.sub(r"\D", "", a)))
    return "fgsm" if "fgsm" in attacks else attacks[0]


def default_baselines(runs: list[str]) -> dict[str, str | None]:
    """Every run compared with ``trades`` when there is a run of that name, else with none."""
    return {r: (BASELINE if BASELINE in runs else None) for r in runs}


def summary_table(
    classwise: pd.DataFrame,
    sanity: pd.DataFrame | None = None,
    baselines: dict[str, str | None] | None = None,
    intervals: bool = True,
) -> pd.DataFrame:
    """Per dataset, model, run, eps, checkpoint and attack: statistics over seeds (``worst_ci95``
    the t-interval's half-width), the two-level 95 % interval of the expected worst-class
    accuracy over seeds and test samples (``worst_ci95_lo``, ``worst_ci95_hi``,
    :func:`fairat.reporting.bootstrap.seed_class_interval`; NaN with ``intervals`` False), rho against the
    run's baseline (``baselines[run]``, default :func:`default_baselines`) on the seeds both have
    (``rho_seeds`` of them), and the count of sanity warnings of the run's evaluations."""
    runs = run_summaries(classwise)
    if baselines is None:
        baselines = default_baselines(list(dict.fromkeys(runs["run"])))
    blocks = classwise.groupby(GROUP, sort=False).indices  # rows of each block, for the interval
    columns = {c: classwise[c].to_numpy() for c in ("seed", "class", "accuracy", "n")}
    rows = []
    for key, block in runs.groupby(GROUP, sort=False):
        avg, worst = seed_summary(block["average"]), seed_summary(block["worst"])
        at = blocks[key]
        correct, n = seed_class_counts(
            *(columns[c][at] for c in ("seed", "class", "accuracy", "n"))
        )
        lo, hi = seed_class_interval(correct, n) if intervals else (math.nan, math.nan)
        rows.append(
            {
                **dict(zip(GROUP, key, strict=True)),
                "n_seeds": avg.n,
                "n_samples": int(block["n_samples"].max()),
                "average_mean": avg.mean,
                "average_std": avg.std,
                "average_ci95": avg.ci95,
                "worst_mean": worst.mean,
                "worst_std": worst.std,
                "worst_ci95": worst.ci95,
                "worst_ci95_lo": lo,
                "worst_ci95_hi": hi,
                "precision": _precisions(block["precision"]),
            }
        )
    out = pd.DataFrame(rows)
    out["baseline"] = [baselines.get(r) or "" for r in out["run"]]
    out["robust_attack"] = robust_attack(list(dict.fromkeys(out["attack"])))
    out["rho_nat"], out["rho_rob"], out["rho_seeds"] = np.nan, np.nan, 0
    for i, r in out.iterrows():
        if not r["baseline"]:
            continue
        for column, attack in (("rho_nat", "clean"), ("rho_rob", r["robust_attack"])):
            own = _seed_values(runs, r, r["run"], attack)
            base = _seed_values(runs, r, r["baseline"], attack)
            shared = sorted(set(own.index) & set(base.index))
            if shared:
                a, b = own.loc[shared].mean(), base.loc[shared].mean()
                out.loc[i, column] = rho(a["average"], a["worst"], b["average"], b["worst"])
            if column == "rho_rob":
                out.loc[i, "rho_seeds"] = len(shared)
    counts = (
        sanity.groupby(RUN).size() if sanity is not None and len(sanity) else pd.Series(dtype=int)
    )
    out["sanity_warnings"] = [
        int(counts.get(tuple(r[c] for c in RUN), 0)) for _, r in out.iterrows()
    ]
    return out


def _seed_values(runs: pd.DataFrame, row: pd.Series, run: str, attack: str) -> pd.DataFrame:
    """Per-seed average and worst of ``run`` in the summary row's dataset, model, eps and
    checkpoint under ``attack``, indexed by seed (empty when it has none)."""
    sel = runs
    for column, value in (
        *((c, row[c]) for c in ("dataset", "model", "eps", "checkpoint")),
        ("run", run),
        ("attack", attack),
    ):
        sel = sel[sel[column] == value]
    return sel.set_index("seed")[["average", "worst"]]


def metrics_key(eps: str) -> str:
    """The metrics.json key of an eps label: ``16/255`` -> ``eps16_255``, ``0.1`` -> ``eps0p1``
    (no dots: ``dvc metrics`` joins nested keys with dots)."""
    return "eps" + eps_tag(eps).replace(".", "p")


def metrics_run_key(run: str) -> str:
    """The metrics.json key of a run name, dots written ``p`` (``trix-lam1.5`` -> ``trix-lam1p5``)."""
    return run.replace(".", "p")


def metrics_json(summary: pd.DataFrame) -> dict:
    """The summary as DVC metrics: ``{dataset: {model: {run: {eps key: {checkpoint:
    {attack: {"average", "worst", "n_seeds"}}}}}}}``, where ``average`` and ``worst`` are the
    means over seeds of the average and the worst-class accuracy (NaN becomes null)."""

    def number(value: float) -> float | None:
        return None if pd.isna(value) else float(value)

    out: dict = {}
    for _, r in summary.iterrows():
        keys = [r["dataset"], r["model"], metrics_run_key(r["run"]), metrics_key(str(r["eps"]))]
        node = out
        for key in [*keys, r["checkpoint"]]:
            node = node.setdefault(str(key), {})
        node[str(r["attack"])] = {
            "average": number(r["average_mean"]),
            "worst": number(r["worst_mean"]),
            "n_seeds": int(r["n_seeds"]),
        }
    return out


def paired_table(
    classwise: pd.DataFrame, baselines: dict[str, str | None] | None = None
) -> pd.DataFrame:
    """Each run against its baseline (``baselines[run]``, default :func:`default_baselines`) on
    the seeds both have, per attack, for the average and the worst-class accuracy: mean
    difference, 95 % CI half-width, paired t-test."""
    runs = run_summaries(classwise)
    if baselines is None:
        baselines = default_baselines(list(dict.fromkeys(runs["run"])))
    rows = []
    for key, block in runs.groupby(GROUP, sort=False):
        ident = dict(zip(GROUP, key, strict=True))
        baseline = baselines.get(ident["run"])
        if not baseline or baseline == ident["run"]:
            continue
        base = runs
        for c in GROUP:
            if c != "method":
                base = base[base[c] == (baseline if c == "run" else ident[c])]
        if base.empty:
            continue
        for metric in ("average", "worst"):
            c = paired_comparison(
                dict(zip(block["seed"], block[metric], strict=True)),
                dict(zip(base["seed"], base[metric], strict=True)),
            )
            rows.append(
                {
                    **ident,
                    "baseline": baseline,
                    "metric": metric,
                    "n_pairs": c.n_pairs,
                    "mean_diff": c.mean_diff,
                    "ci95": c.ci95,
                    "t": c.t,
                    "p_value": c.p_value,
                }
            )
    columns = [*GROUP, "baseline", "metric", "n_pairs", "mean_diff", "ci95", "t", "p_value"]
    return pd.DataFrame(rows, columns=columns)


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


def markdown_table(table: pd.DataFrame) -> str:
    """A pipe table by pandas' ``to_markdown`` (tabulate): columns padded to one width, the
    first (the run) left-aligned and the numbers right-aligned; cells are printed as given,
    never re-parsed as numbers."""
    align = ("left",) + ("right",) * (len(table.columns) - 1)
    text = table.to_markdown(index=False, tablefmt="pipe", colalign=align, disable_numparse=True)
    return text + "\n"


def _tex_symbols(text: str) -> str:
    """Typography on an already escaped cell: ``±`` in math mode, an en dash as ``--``, and a
    leading minus sign as a math minus rather than a hyphen."""
    text = text.replace("±", r"$\pm$").replace("–", "--")
    return "$-$" + text[1:] if re.match(r"-\d", text) else text


def _tex_escape(text: str) -> str:
    """A caption or heading for LaTeX (pandas escapes the cells, not the caption)."""
    for a, b in (
        ("\\", r"\textbackslash{}"),
        ("_", r"\_"),
        ("%", r"\%"),
        ("&", r"\&"),
        ("#", r"\#"),
    ):
        text = text.replace(a, b)
    return _tex_symbols(text)


def latex_table(
    cells: pd.DataFrame,
    *,
    caption: str,
    label: str | None = None,
    bold: pd.DataFrame | None = None,
    headers: list[str] | None = None,
) -> str:
    """One booktabs ``table`` environment by pandas' ``Styler.to_latex``: cells (strings) LaTeX-
    escaped by pandas, then :func:`_tex_symbols`; ``bold`` (same shape, booleans) sets cells in
    ``\\textbf``; ``headers`` replaces the column names with ready LaTeX, else they are escaped.
    ``caption`` is plain text."""
    style = cells.style.hide(axis="index").format(_tex_symbols, escape="latex")
    if headers is None:
        style = style.format_index(escape="latex", axis=1)
    else:
        # relabel_index reads its labels as str.format templates: braces are doubled
        style = style.relabel_index(
            [h.replace("{", "{{").replace("}", "}}") for h in headers], axis=1
        )
    if bold is not None:
        marks = bold.set_axis(cells.columns, axis=1).set_axis(cells.index)
        style = style.apply(
            lambda _: marks.map(lambda b: "textbf:--rwrap;" if b else ""), axis=None
        )
    return style.to_latex(
        hrules=True,
        environment="table",
        position="t",
        position_float="centering",
        caption=_tex_escape(caption),
        label=label,
        column_format="l" + "r" * (len(cells.columns) - 1),
    )


def summary_latex(summary: pd.DataFrame) -> str:
    """booktabs tables, one per (dataset, model, eps, checkpoint)."""
    parts = [
        "% generated by fairat: average / worst-class accuracy (%), mean \\pm std over seeds\n"
    ]
    for (dataset, model, eps, ckpt), table in wide_summary(summary).items():
        caption = f"{dataset}, {model}, eps {eps}, {ckpt} checkpoint"
        parts.append(latex_table(table.astype(str), caption=caption) + "\n")
    return "".join(parts)
