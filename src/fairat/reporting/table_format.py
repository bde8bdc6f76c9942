"""Tables as text: markdown pipe tables and booktabs LaTeX tables from frames of ready cells.

Shared by summary.md/summary.tex (:mod:`fairat.reporting.summary_text`) and the paper tables
(:mod:`fairat.reporting.paper_tables`).
"""

from __future__ import annotations

import re

import pandas as pd


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
