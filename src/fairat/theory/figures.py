"""Figures 1(a), 1(b), 2(a), 2(b) of paper 001 (docs/specification.md#theory), drawn from
``figure_data.figure_data``, and their captions.

One figure per kind, sized for a paper column (3.4 in wide): class-wise risk of class +1 and
class -1 (colour) against the swept variable, standard vs same-class mixup training (line style
and marker), the exact closed form as lines and the Monte-Carlo simulation as points with +-1 SE
bars. Rows with ``source == "paper_printed"`` (Theorems 3 / 4 as printed) are drawn grey and
dashed. ``theory_caption`` states what a figure shows and whether closed form and simulation
agree within 3 standard errors at every point.
"""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402

from fairat.theory.figure_data import FIGURES  # noqa: E402

Z_LIMIT = 3.0
"""|z| = |simulation - closed form| / SE above which a caption reports a disagreement."""

COLUMN_WIDTH = 3.4  # inches: one column of a two-column paper

_CLASSES = (1, -1)
_TRAININGS = ("standard", "mixup")
_STYLE = {  # training -> (closed-form line style, simulation marker)
    "standard": ("-", "o"),
    "mixup": ("--", "s"),
}
_X_LABEL = {
    "|mu_pos + mu_neg|": r"class-mean distance $|\mu_+ + \mu_-|$",
    "eps": r"attack size $\varepsilon$",
    "d": r"dimension $d$",
}
_X_TEXT = {  # plain text (RST-safe: no bars, underscores or asterisks) for captions
    "|mu_pos + mu_neg|": "the class-mean distance μ₊ + μ₋",
    "eps": "the attack size ε",
    "d": "the dimension d",
}
_X_SYMBOL = {"|mu_pos + mu_neg|": "μ₊ + μ₋", "eps": "ε", "d": "d"}


def _label(kind: str) -> str:
    """ "1a" -> "1(a)"."""
    return f"{kind[:-1]}({kind[-1]})"


def _params(kind: str, df: pd.DataFrame) -> dict:
    params = df.attrs.get("params")
    if params:
        return dict(params)
    return {k: v for k, v in FIGURES[kind].items() if k != "x"}


def _fmt(value) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def fixed_parameters(kind: str, df: pd.DataFrame, math_text: bool = False) -> str:
    """The parameters held fixed in a figure, e.g. "d = 10, α = 0.7, σ₊ = σ₋ = 1, λ = 0.5"."""
    p = _params(kind, df)
    swept = p.get("x_name", FIGURES[kind]["x_name"])
    parts = []
    if swept != "|mu_pos + mu_neg|" and "mu_sum" in p:
        parts.append(
            ("$|\\mu_+ + \\mu_-|$" if math_text else "μ₊ + μ₋") + f" = {_fmt(p['mu_sum'])}"
        )
    if swept != "d" and "d" in p:
        parts.append(("$d$" if math_text else "d") + f" = {_fmt(p['d'])}")
    if swept != "eps" and p.get("risk") == "adversarial" and "eps" in p:
        parts.append(("$\\varepsilon$" if math_text else "ε") + f" = {_fmt(p['eps'])}")
    if "alpha" in p:
        parts.append(("$\\alpha$" if math_text else "α") + f" = {_fmt(p['alpha'])}")
    if "sigma_pos" in p and "sigma_neg" in p:
        if p["sigma_pos"] == p["sigma_neg"]:
            sym = "$\\sigma_\\pm$" if math_text else "σ₊ = σ₋"
            parts.append(f"{sym} = {_fmt(p['sigma_pos'])}")
        else:
            pos, neg = ("$\\sigma_+$", "$\\sigma_-$") if math_text else ("σ₊", "σ₋")
            parts.append(f"{pos} = {_fmt(p['sigma_pos'])}, {neg} = {_fmt(p['sigma_neg'])}")
    if "lam" in p:
        lam = p["lam"]
        lam_text = "U[0, 1]" if lam == "uniform" else _fmt(lam)
        parts.append(("$\\lambda$" if math_text else "λ") + f" = {lam_text}")
    return ", ".join(parts)


def z_scores(df: pd.DataFrame) -> pd.DataFrame:
    """One row per (x, training, cls) with both a closed form and a simulation: ``closed``,
    ``simulation``, ``se`` and ``z`` = (simulation - closed) / se (+-inf where se is 0 and they
    differ, 0 where they are equal)."""
    keys = ["x", "training", "cls"]
    closed = df[df["source"] == "closed_form"][[*keys, "risk"]].rename(columns={"risk": "closed"})
    sim = df[df["source"] == "simulation"][[*keys, "risk", "se"]].rename(
        columns={"risk": "simulation"}
    )
    both = closed.merge(sim, on=keys, how="inner")
    diff = both["simulation"] - both["closed"]
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(both["se"] > 0, diff / both["se"], np.sign(diff) * np.inf)
    both["z"] = np.where(diff == 0, 0.0, z)
    return both


def _x_value(x_name: str, x) -> str:
    return f"{_X_SYMBOL.get(x_name, x_name)} = {_fmt(float(x)) if x_name != 'd' else int(x)}"


def theory_caption(kind: str, df: pd.DataFrame, simulation: dict | None = None) -> str:
    """One sentence: what figure ``kind`` shows and whether the closed form and the simulation in
    ``df`` (``figure_data.figure_data``'s format) agree within ``Z_LIMIT`` standard errors everywhere;
    where they do not, the number of such points and the largest |z| with its location.
    ``simulation`` (n_train, n_test, n_trials) adds the simulation's size. Plain text that is
    also valid reStructuredText (the workflow report includes it)."""
    p = _params(kind, df)
    x_name = p.get("x_name", FIGURES[kind]["x_name"])
    risk_type = p.get("risk", FIGURES[kind]["risk"])
    trained = "natural" if risk_type == "natural" else "ε-adversarial"
    text = (
        f"Paper 001, Figure {_label(kind)}: {risk_type} class-wise risks of class +1 and class −1 "
        f"of the optimal linear classifier after {trained} training without (standard) and with "
        f"same-class mixup, against {_X_TEXT.get(x_name, x_name)} "
        f"({fixed_parameters(kind, df)}), risks on the original test distribution"
    )
    sources = set(df["source"])
    if "closed_form" in sources:
        text += ", exact closed form as lines"
    if "simulation" in sources:
        max_se = float(df.loc[df["source"] == "simulation", "se"].max())
        text += f", Monte-Carlo simulation as points with ±1 SE bars (largest SE {max_se:.2g}"
        if simulation:
            text += (
                f"; {simulation['n_trials']} trials of {simulation['n_train']} training points "
                f"per class, {simulation['n_test']} test points per class"
            )
        text += ")"
    if "paper_printed" in sources:
        text += (
            ", and the paper's printed Theorem 3 / 4 (its convention: risks on the mixed "
            "distribution) in grey"
        )
    z = z_scores(df)
    if len(z):
        worst = z.loc[z["z"].abs().idxmax()]
        largest = abs(float(worst["z"]))
        n_bad = int((z["z"].abs() > Z_LIMIT).sum())
        cls = "+1" if int(worst["cls"]) == 1 else "−1"
        where = f"{_x_value(x_name, worst['x'])}, {worst['training']} training, class {cls}"
        largest_text = "infinite" if math.isinf(largest) else f"{largest:.2f}"
        if n_bad:
            text += (
                f"; closed form and simulation disagree by more than {Z_LIMIT:g} SE at {n_bad} of "
                f"{len(z)} points (largest absolute z-score {largest_text}, at {where})"
            )
        else:
            text += (
                f"; closed form and simulation agree within {Z_LIMIT:g} SE at all {len(z)} "
                f"points (largest absolute z-score {largest_text})"
            )
    return text + "."


def plot_theory_figure(
    df: pd.DataFrame, out_png: str | Path | None, out_pdf: str | Path | None = None
) -> None:
    """Draw one figure of ``figure_data.figure_data`` (a single kind) to ``out_png`` and ``out_pdf``
    (either may be None)."""
    kinds = list(dict.fromkeys(df["figure"]))
    if len(kinds) != 1:
        raise ValueError(f"plot_theory_figure draws one figure at a time, got {kinds}")
    kind = kinds[0]
    p = _params(kind, df)
    x_name = p.get("x_name", FIGURES[kind]["x_name"])
    risk_type = p.get("risk", FIGURES[kind]["risk"])

    sns.set_theme(style="whitegrid", context="paper", font_scale=0.9)
    colors = dict(zip(_CLASSES, sns.color_palette("colorblind", 2), strict=True))
    fig, ax = plt.subplots(figsize=(COLUMN_WIDTH, 3.0), layout="constrained")

    printed = df[df["source"] == "paper_printed"]
    for _, part in printed.groupby(["training", "cls"], sort=False):
        part = part.sort_values("x")
        ax.plot(
            part["x"],
            part["risk"],
            color="0.55",
            linestyle=(0, (2, 1.5)),
            linewidth=1.0,
            zorder=1,
        )
    for training in _TRAININGS:
        line, marker = _STYLE[training]
        for cls in _CLASSES:
            sel = (df["training"] == training) & (df["cls"] == cls)
            closed = df[sel & (df["source"] == "closed_form")].sort_values("x")
            sim = df[sel & (df["source"] == "simulation")].sort_values("x")
            if len(closed):
                ax.plot(
                    closed["x"],
                    closed["risk"],
                    color=colors[cls],
                    linestyle=line,
                    linewidth=1.3,
                    zorder=2,
                )
            if len(sim):
                ax.errorbar(
                    sim["x"],
                    sim["risk"],
                    yerr=sim["se"],
                    color=colors[cls],
                    marker=marker,
                    markersize=3.5,
                    markerfacecolor="white" if training == "mixup" else colors[cls],
                    markeredgewidth=0.9,
                    linestyle="none",
                    elinewidth=0.9,
                    capsize=1.8,
                    zorder=3,
                )

    if x_name == "d":
        ax.set_xscale("log", base=2)
        ticks = [t for t in sorted(set(df["x"])) if math.log2(t).is_integer()] or sorted(
            set(df["x"])
        )
        ax.set_xticks(ticks)
        ax.set_xticklabels([str(int(t)) for t in ticks])
        ax.minorticks_off()
    ax.set_xlabel(_X_LABEL.get(x_name, x_name))
    ax.set_ylabel(f"class-wise {risk_type} risk")
    ax.set_ylim(bottom=0)
    fig.suptitle(
        f"Paper 001, Fig. {_label(kind)}\n{fixed_parameters(kind, df, math_text=True)}",
        fontsize=7,
    )

    key = "0.25"
    mixup_face = {"standard": key, "mixup": "white"}
    handles = [  # three columns, filled column-wise: class, training, source
        Line2D([], [], color=colors[1], linewidth=2.5, label="class +1"),
        Line2D([], [], color=colors[-1], linewidth=2.5, label="class −1"),
        *[
            Line2D(
                [],
                [],
                color=key,
                linestyle=_STYLE[t][0],
                marker=_STYLE[t][1],
                markersize=3.5,
                markerfacecolor=mixup_face[t],
                label=f"{t} training",
            )
            for t in _TRAININGS
        ],
        Line2D([], [], color=key, linestyle="-", label="closed form"),
        Line2D([], [], color=key, marker="o", linestyle="none", label="simulation ±1 SE"),
    ]
    if len(printed):  # a third row, in the source column only
        blank = Line2D([], [], linestyle="none", label=" ")
        handles = [*handles[:2], blank, *handles[2:4], blank, *handles[4:]]
        handles.append(
            Line2D([], [], color="0.55", linestyle=(0, (2, 1.5)), label="paper's printed form")
        )
    ax.legend(
        handles=handles,
        loc="lower center",
        bbox_to_anchor=(0.5, 1.01),
        ncol=3,
        fontsize=6,
        frameon=False,
        handlelength=2.4,
        handletextpad=0.5,
        columnspacing=0.9,
        borderaxespad=0.0,
    )
    for out in (out_png, out_pdf):
        if out is None:
            continue
        Path(out).parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(out, dpi=300, format=Path(out).suffix.lstrip(".") or None)
    plt.close(fig)
