"""Paper-style tables from classwise.csv: TRIX/DAFA, paper 000's Table I, paper 003's error
statistics and the per-class robust accuracy (docs/specification.md#metrics, #headline-numbers).

Every table has one block per (dataset, model, eps, checkpoint) with a row per run (a config's variant). The
builders are pure: they take the tidy class-wise frame (``fairat.reporting.classwise.read_classwise``) and
return a :class:`PaperTable`, whose ``data`` is numeric (accuracies, risks and errors as
fractions, one row per block and method; the CSV) and whose ``columns`` say how each column is
shown (in percent, or as a plain number for rho) and which value is best: the best value of
each column in a block is set in bold (Markdown ``**x**``, LaTeX ``\\textbf{x}``); ties, as
displayed, are all bold. Best is the highest accuracy and rho, the lowest risk, error and
standard deviation.

Statistics over classes leave classes with no test sample (n = 0) out and are taken within a
run (one seed), then averaged over seeds, as in ``fairat.reporting.summary.run_summaries``; the standard
deviation over classes is the population one (ddof 0, docs/specification.md#metrics). The TRIX table
reuses ``fairat.reporting.summary.summary_table`` (seed mean and sample std, rho against each run's baseline).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from fairat.config.eps import attack_base, eps_tag, format_eps, own_radius
from fairat.reporting.summary import RUN, robust_attack, summary_table
from fairat.reporting.table_format import _tex_escape, latex_table, markdown_table

KEY = ["dataset", "model", "eps", "checkpoint"]
BEST_NOTE = (
    "Bold: the best value of each column (highest accuracy and rho; lowest risk, error and "
    "standard deviation)."
)


@dataclass(frozen=True)
class Column:
    """How one column of a paper table is shown.

    ``value`` names the numeric column of ``PaperTable.data``; ``std`` the column with its
    standard deviation over seeds (shown as ``mean ± std``) or None; ``best`` is ``"max"`` or
    ``"min"``; ``percent`` shows fractions as percentages, else the plain number (rho).
    """

    header: str
    value: str
    best: str
    std: str | None = None
    percent: bool = True
    tex: str | None = None  # LaTeX header (escaped header when None)


@dataclass(frozen=True)
class PaperTable:
    name: str
    title: str
    note: str
    data: pd.DataFrame  # KEY + ["run", "seeds"] + the numeric columns
    columns: list[Column]
    drop_empty: bool = False  # leave out a block's columns without any value (other classes)

    def blocks(self) -> dict[tuple, pd.DataFrame]:
        """The rows of each (dataset, model, eps, checkpoint), in order of appearance."""
        return {
            key: block.reset_index(drop=True)
            for key, block in self.data.groupby(KEY, sort=False, dropna=False)
        }


def _robust(classwise: pd.DataFrame) -> str:
    return robust_attack(list(dict.fromkeys(classwise["attack"])))


def _paper_attack(classwise: pd.DataFrame, attack: str) -> str:
    """``attack`` (the one a paper reports) when the suite ran it, else the robust attack."""
    return attack if (classwise["attack"] == attack).any() else _robust(classwise)


PAPER_003_ATTACK = "pgd40"
"""Paper 003 (Amerehi & Healy) reports its class-wise errors under PGD-40 (Table 2)."""

PAPER_003_RADIUS = "2/255"
"""Paper 003's PGD-40 radius in pixel units, the nearest k/255. Its code (f-amerehi/LA,
``LA.ipynb``, the FGM/PGD evaluation cell) attacks mean/std-normalised inputs (std
0.247/0.243/0.261) with eps 0.03, step 0.01, 40 steps and no clipping: per channel 0.03 std =
0.00741/0.00729/0.00783 in pixels (1.86-2.00/255). 2/255 = 0.00784 is the smallest k/255 ball
that holds the paper's (every perturbation its attack can reach, this one can), 4 % above 0.03
times the mean std (0.00751); the suite's radius is one scalar per sample, not per channel."""


def paper_003_caveat(attack: str | None) -> str:
    """The note's remark when a paper-003 table shows another attack than PGD-40."""
    return "" if attack == PAPER_003_ATTACK else " (paper 003 uses PGD-40)"


def own_radius_pgd40(attacks: list[str]) -> str | None:
    """The first PGD-40 at an evaluation-only radius (``pgd40@2/255``) of the suite, or None."""
    return next(
        (a for a in attacks if attack_base(a) == PAPER_003_ATTACK and own_radius(a) is not None),
        None,
    )


def run_radius(classwise: pd.DataFrame) -> str:
    """How a column names the radius of an attack run at the run's eps: the eps itself
    (``8/255``) when the table has one, else ``eps`` (each block's heading names it)."""
    values = list(dict.fromkeys(str(e) for e in classwise["eps"]))
    return values[0] if len(values) == 1 else "eps"


def column_label(attack: str, classwise: pd.DataFrame) -> str:
    """An adversarial column's attack and radius: ``pgd40 at 8/255``, ``pgd40 at 2/255``."""
    radius = own_radius(attack)
    at = run_radius(classwise) if radius is None else format_eps(radius)
    return f"{attack_base(attack)} at {at}"


def paper_003_radius_note(attack: str, radius_attack: str | None, classwise: pd.DataFrame) -> str:
    """The note's sentences on the radius of each adversarial column of a paper-003 table."""
    own = run_radius(classwise)
    own = "the heading's eps" if own == "eps" else own
    text = f" `{attack}` runs at the runs' own eps ({own}, their training radius)"
    paper = (
        "paper 003's radius is eps 0.03 of its mean/std-normalised inputs (f-amerehi/LA, "
        "LA.ipynb), i.e. 0.03 std = 0.0073-0.0078 per channel in pixels"
    )
    if radius_attack is None:
        return (
            f"{text}; {paper}, about {PAPER_003_RADIUS}, which this suite did not run (add "
            f"`pgd40@{PAPER_003_RADIUS}` to evaluation.attacks)."
        )
    radius = format_eps(own_radius(radius_attack))
    taken = (
        f"taken as the scalar {PAPER_003_RADIUS} (0.00784) that contains it"
        if radius == PAPER_003_RADIUS
        else f"here {radius}"
    )
    return (
        f"{text}; `{radius_attack}` at {radius}: {paper}, {taken}. Steps are eps/4 (the paper's "
        "0.01 normalised is about 0.0025 in pixels, eps/3); inputs are clamped to [0, 1] and "
        "attacked with the true label (the paper: no clipping, the model's own prediction)."
    )


def _class_stats(classwise: pd.DataFrame, attack: str) -> pd.DataFrame:
    """Per run (dataset, model, method, eps, checkpoint): mean over seeds of the class-wise
    error's mean, population std, min and max over the classes of each seed."""
    df = classwise[(classwise["attack"] == attack) & (classwise["n"] > 0)].copy()
    df["error"] = 1.0 - df["accuracy"]
    per_seed = (
        df.groupby([*RUN, "seed"], sort=False)["error"]
        .agg(mean="mean", std=lambda e: float(np.std(e, ddof=0)), min="min", max="max")
        .reset_index()
    )
    out = per_seed.groupby(RUN, sort=False)[["mean", "std", "min", "max"]].mean()
    out["seeds"] = per_seed.groupby(RUN, sort=False)["seed"].nunique()
    return out.reset_index()


def _frame(rows: pd.DataFrame, values: list[str]) -> pd.DataFrame:
    return rows[[*KEY, "run", "seeds", *values]].reset_index(drop=True)


def trix_table(
    classwise: pd.DataFrame, baselines: dict[str, str | None] | None = None
) -> PaperTable:
    """TRIX/DAFA layout: average and worst-class clean and robust accuracy (mean ± std over
    seeds), rho_nat and rho_rob against each run's baseline (``fairat.reporting.summary.summary_table``)."""
    robust = _robust(classwise)
    summary = summary_table(classwise, baselines=baselines, intervals=False)
    pairs = dict(zip(summary["run"], summary["baseline"], strict=False))
    named = ", ".join(f"{r} vs `{b}`" for r, b in pairs.items() if b and b != r) or "none"
    stats = ["average_mean", "average_std", "worst_mean", "worst_std"]
    clean = summary[summary["attack"] == "clean"].set_index([*KEY, "run"])
    adv = summary[summary["attack"] == robust].set_index([*KEY, "run"])
    index = list(dict.fromkeys([*clean.index, *adv.index]))
    out = pd.DataFrame(index=pd.MultiIndex.from_tuples(index, names=[*KEY, "run"]))
    for prefix, part in (("clean", clean), ("robust", adv)):
        for s in stats:
            name = s.replace("average", "avg").replace("_mean", "")
            out[f"{prefix}_{name}"] = part[s].reindex(out.index)
    out["seeds"] = pd.concat([clean["n_seeds"], adv["n_seeds"]], axis=1).max(axis=1)
    out["rho_nat"] = clean["rho_nat"].reindex(out.index)
    out["rho_rob"] = adv["rho_rob"].reindex(out.index)
    out = out.reset_index()
    values = [
        "clean_avg",
        "clean_avg_std",
        "clean_worst",
        "clean_worst_std",
        "robust_avg",
        "robust_avg_std",
        "robust_worst",
        "robust_worst_std",
        "rho_nat",
        "rho_rob",
    ]
    columns = [
        Column("clean avg", "clean_avg", "max", "clean_avg_std"),
        Column("clean worst", "clean_worst", "max", "clean_worst_std"),
        Column("robust avg", "robust_avg", "max", "robust_avg_std"),
        Column("robust worst", "robust_worst", "max", "robust_worst_std"),
        Column("rho_nat", "rho_nat", "max", percent=False, tex=r"$\rho_\mathrm{nat}$"),
        Column("rho_rob", "rho_rob", "max", percent=False, tex=r"$\rho_\mathrm{rob}$"),
    ]
    return PaperTable(
        "trix",
        "Average and worst-class accuracy (%), mean ± std over seeds, and DAFA's rho",
        f"Clean accuracy and robust accuracy under `{robust}`; rho_nat and rho_rob against the "
        "run's baseline of the same dataset, model, eps and checkpoint, on the seeds both have "
        f"(0 for a baseline itself; – for a run without one). Baselines: {named}.",
        _frame(out, values),
        columns,
    )


def table1(classwise: pd.DataFrame) -> PaperTable:
    """Paper 000's Table I: average, std, min and max over classes of the class-wise
    adversarial risk (1 - accuracy), mean over seeds. The attack is FGSM, the only one the
    paper reports, when the suite has it (config/paper000_resnet20_mixup.yaml adds it), else the
    robust attack; the note names it."""
    robust = _paper_attack(classwise, "fgsm")
    stats = _class_stats(classwise, robust).rename(
        columns={"mean": "risk_avg", "std": "risk_std", "min": "risk_min", "max": "risk_max"}
    )
    values = ["risk_avg", "risk_std", "risk_min", "risk_max"]
    columns = [Column(v.removeprefix("risk_"), v, "min") for v in values]
    return PaperTable(
        "table1",
        "Class-wise adversarial risk (%): average, std, min and max over classes",
        f"Adversarial risk = 1 - accuracy under `{robust}`; std is the population standard "
        "deviation over classes; each statistic is taken per seed, then averaged over seeds.",
        _frame(stats, values),
        columns,
    )


def error_stats(classwise: pd.DataFrame) -> PaperTable:
    """Paper 003's class-wise error statistics: mean and std over classes of the clean and the
    adversarial class-wise error, mean over seeds. The adversarial error is paper 003's PGD-40
    when the suite ran it (``config/label_aug_cifar10.yaml`` does), else the robust attack of
    every other table (``worst_case``), and the note says that the paper used PGD-40. Both run
    at the runs' eps; a PGD-40 at its own radius (``pgd40@2/255``, paper 003's radius) adds two
    columns. Every adversarial header names its radius."""
    robust = _paper_attack(classwise, PAPER_003_ATTACK)
    at_radius = own_radius_pgd40(list(dict.fromkeys(classwise["attack"])))
    parts = [("clean", "clean"), ("adv", robust)] + ([("radius", at_radius)] if at_radius else [])
    stats = {prefix: _class_stats(classwise, a).set_index([*RUN]) for prefix, a in parts}
    index = list(dict.fromkeys(i for part in stats.values() for i in part.index))
    out = pd.DataFrame(index=pd.MultiIndex.from_tuples(index, names=RUN))
    values, columns = [], []
    for prefix, attack in parts:
        part = stats[prefix]
        out[f"{prefix}_mean"] = part["mean"].reindex(out.index)
        out[f"{prefix}_std"] = part["std"].reindex(out.index)
        values += [f"{prefix}_mean", f"{prefix}_std"]
        label = "clean" if attack == "clean" else column_label(attack, classwise)
        columns += [
            Column(f"{label} mean", f"{prefix}_mean", "min"),
            Column(f"{label} std", f"{prefix}_std", "min"),
        ]
    out["seeds"] = pd.concat([p["seeds"] for p in stats.values()], axis=1).max(axis=1)
    out = out.reset_index()
    return PaperTable(
        "error_stats",
        "Class-wise error (%): mean and standard deviation over classes",
        f"Clean error and adversarial error under `{robust}`"
        + paper_003_caveat(robust)
        + "."
        + paper_003_radius_note(robust, at_radius, classwise)
        + " Std is the population standard deviation over classes; each statistic is taken "
        "per seed, then averaged over seeds.",
        _frame(out, values),
        columns,
    )


def per_class(classwise: pd.DataFrame) -> PaperTable:
    """Robust accuracy of every class (one column per class name), mean over seeds."""
    robust = _robust(classwise)
    df = classwise[classwise["attack"] == robust].copy()
    df.loc[df["n"] <= 0, "accuracy"] = np.nan
    classes = [str(c) for c in dict.fromkeys(df["class"])]
    runs = list(dict.fromkeys(df[RUN].itertuples(index=False, name=None)))
    means = (
        df.groupby([*RUN, "class"], sort=False)["accuracy"]
        .mean()
        .unstack("class")  # sorts the rows: put them back in order of appearance
        .reindex(index=pd.MultiIndex.from_tuples(runs, names=RUN), columns=classes)
    )
    means.columns = [str(c) for c in means.columns]
    means["seeds"] = df.groupby(RUN, sort=False)["seed"].nunique()
    out = means.reset_index()
    columns = [Column(c, c, "max") for c in classes]
    return PaperTable(
        "per_class",
        "Per-class robust accuracy (%), mean over seeds",
        f"Accuracy of each class under `{robust}`.",
        _frame(out, classes),
        columns,
        drop_empty=True,
    )


TABLES = {"trix": trix_table, "table1": table1, "error_stats": error_stats, "per_class": per_class}


def paper_tables(
    classwise: pd.DataFrame, baselines: dict[str, str | None] | None = None
) -> dict[str, PaperTable]:
    """Every paper table, by name; ``baselines`` maps run names to the runs rho compares with."""
    tables = {name: build(classwise) for name, build in TABLES.items() if name != "trix"}
    return {"trix": trix_table(classwise, baselines), **tables}


# Rendering ------------------------------------------------------------------------------------


def _isnan(value) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _fmt(value: float, percent: bool) -> str:
    if _isnan(value):
        return "–"
    return f"{value * 100:.2f}" if percent else f"{value:.2f}"


def formatted(table: PaperTable, block: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The display strings of one block (``method`` + a column per ``Column`` with data) and a
    same-shaped boolean frame that marks the bold (best) cells."""
    cells = {"run": [str(m) for m in block["run"]]}
    bold = {"run": [False] * len(block)}
    for col in table.columns:
        values = pd.to_numeric(block[col.value], errors="coerce")
        if table.drop_empty and values.isna().all():
            continue  # the class columns of another dataset
        shown = [_fmt(v, col.percent) for v in values]
        best = values.max() if col.best == "max" else values.min()
        best_shown = _fmt(float(best), col.percent)  # NaN ("–") when the column is empty
        bold[col.header] = [s == best_shown and s != "–" for s in shown]
        if col.std is not None:
            stds = pd.to_numeric(block[col.std], errors="coerce")
            shown = [
                s if _isnan(sd) or s == "–" else f"{s} ± {_fmt(sd, col.percent)}"
                for s, sd in zip(shown, stds, strict=True)
            ]
        cells[col.header] = shown
    return pd.DataFrame(cells), pd.DataFrame(bold)


def _heading(key: tuple, block: pd.DataFrame) -> str:
    dataset, model, eps, checkpoint = key
    seeds = pd.to_numeric(block["seeds"], errors="coerce").max()
    n = "?" if _isnan(float(seeds)) else int(seeds)
    return f"{dataset} / {model} / eps {eps} / checkpoint {checkpoint} ({n} seeds)"


def to_markdown(table: PaperTable) -> str:
    parts = [f"# {table.title}\n\n{table.note} {BEST_NOTE}\n"]
    for key, block in table.blocks().items():
        cells, bold = formatted(table, block)
        shown = cells.copy()
        for c in cells.columns:
            shown[c] = [f"**{v}**" if b else v for v, b in zip(cells[c], bold[c], strict=True)]
        parts.append(f"\n## {_heading(key, block)}\n\n{markdown_table(shown)}")
    return "".join(parts)


def _tex_label(name: str, key: tuple) -> str:
    dataset, model, eps, checkpoint = key
    return f"tab:{name}-{dataset}-{model}-eps{eps_tag(eps)}-{checkpoint}".replace("_", "-")


def to_latex(table: PaperTable) -> str:
    """booktabs tables, one ``table`` environment per block (:func:`fairat.reporting.table_format.latex_table`)."""
    headers = {c.header: c.tex or _tex_escape(c.header) for c in table.columns}
    parts = [f"% generated by fairat: {_tex_escape(table.title)}\n% {BEST_NOTE}\n"]
    for key, block in table.blocks().items():
        cells, bold = formatted(table, block)
        parts.append(
            latex_table(
                cells,
                caption=f"{table.title}. {_heading(key, block)}.",
                label=_tex_label(table.name, key),
                bold=bold,
                headers=[headers.get(c, _tex_escape(c)) for c in cells.columns],
            )
            + "\n"
        )
    return "".join(parts)


def to_csv(table: PaperTable) -> str:
    """The numeric table (fractions, not percent), one row per block and method."""
    return table.data.to_csv(index=False)
