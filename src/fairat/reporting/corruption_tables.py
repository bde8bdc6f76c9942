"""Paper 003's corruption table from the class-wise tables (no torch): per run, clean error,
mCE (unnormalised, and the ImageNet-C normalisation against a baseline run when the config names
one), the error under the suite's strongest PGD at the runs' eps (and, when the suite has one,
under PGD-40 at its own radius, ``pgd40@2/255``: paper 003's; each header names its radius), and
the mean and standard deviation over classes of the class-wise corruption error (each class's
error averaged over every corruption and severity; with every class evaluated its mean equals the
unnormalised mCE, so the Markdown shows the std only). Every statistic is taken per seed, then
averaged over seeds (as paper_tables)."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from fairat.evaluation.corruptions import mce
from fairat.reporting.paper_tables import (
    PAPER_003_ATTACK,
    Column,
    PaperTable,
    _frame,
    column_label,
    own_radius_pgd40,
    paper_003_caveat,
    paper_003_radius_note,
)
from fairat.reporting.summary import RUN

BLOCK = ["dataset", "model", "eps", "checkpoint"]


def strongest_pgd(attacks: list[str]) -> str | None:
    """pgd40 (paper 003's attack) when the suite has it, else the PGD with most steps; at the
    runs' eps (an attack at its own radius, ``pgd40@2/255``, is not a candidate)."""
    pgds = [a for a in attacks if re.fullmatch(r"pgd\d+", a)]
    if PAPER_003_ATTACK in pgds:
        return PAPER_003_ATTACK
    return max(pgds, key=lambda a: int(a[3:])) if pgds else None


def _errors(classwise: pd.DataFrame) -> pd.DataFrame:
    """1 - class-average accuracy per run, seed and attack (classes with n = 0 left out)."""
    df = classwise[classwise["n"] > 0]
    acc = df.groupby([*RUN, "seed", "attack"], sort=False)["accuracy"].mean()
    return (1.0 - acc).rename("error").reset_index()


def corruption_table(
    classwise: pd.DataFrame, corrupted: pd.DataFrame, baseline: str | None = None
) -> PaperTable:
    """The table; ``corrupted`` is corruption_classwise.csv (attack = ``<name>_s<severity>``)."""
    attacks = list(dict.fromkeys(classwise["attack"]))
    pgd = strongest_pgd(attacks)
    at_radius = own_radius_pgd40(attacks)
    main = _errors(classwise)
    corr = _errors(corrupted)
    rows = []
    base_errors: dict[tuple, dict[str, float]] = {}
    if baseline is not None:
        base = corr[corr["run"] == baseline]
        for key, part in base.groupby(BLOCK, sort=False):
            base_errors[key] = part.groupby("attack")["error"].mean().to_dict()
    present = corrupted[corrupted["n"] > 0].copy()
    present["error"] = 1.0 - present["accuracy"]
    per_class = present.groupby([*RUN, "seed", "class"], sort=False)["error"].mean().reset_index()
    for ident, part in corr.groupby([*RUN, "seed"], sort=False):
        keys = dict(zip([*RUN, "seed"], ident, strict=True))
        errors = dict(zip(part["attack"], part["error"], strict=True))
        sel = (main[[*RUN, "seed"]] == pd.Series(keys)).all(axis=1)
        mine = main[sel].set_index("attack")["error"]
        cls = per_class[(per_class[[*RUN, "seed"]] == pd.Series(keys)).all(axis=1)]["error"]
        block = tuple(keys[k] for k in BLOCK)
        ref = base_errors.get(block)
        rows.append(
            {
                **keys,
                "clean_error": mine.get("clean", np.nan),
                "mce": mce(errors),
                "mce_normalised": mce(errors, ref) if ref and set(errors) <= set(ref) else np.nan,
                "pgd_error": mine.get(pgd, np.nan) if pgd else np.nan,
                "pgd_radius_error": mine.get(at_radius, np.nan) if at_radius else np.nan,
                "class_error_mean": float(cls.mean()),
                "class_error_std": float(np.std(cls, ddof=0)),
            }
        )
    values = [
        "clean_error",
        "mce",
        "mce_normalised",
        "pgd_error",
        "pgd_radius_error",
        "class_error_mean",
        "class_error_std",
    ]
    per_seed = pd.DataFrame(rows, columns=[*RUN, "seed", *values])
    out = per_seed.groupby(RUN, sort=False)[values].mean()
    out["seeds"] = per_seed.groupby(RUN, sort=False)["seed"].nunique()
    out = out.reset_index()
    columns = [
        Column("clean error", "clean_error", "min"),
        Column("mCE", "mce", "min"),
        Column(
            f"mCE vs {baseline} (ratio)" if baseline else "mCE (normalised)",
            "mce_normalised",
            "min",
            percent=False,
        ),
        Column(f"{column_label(pgd, classwise) if pgd else 'PGD'} error", "pgd_error", "min"),
        *(
            [Column(f"{column_label(at_radius, classwise)} error", "pgd_radius_error", "min")]
            if at_radius
            else []
        ),
        Column("class-wise corruption error std", "class_error_std", "min"),
    ]
    names = sorted({k.rpartition("_s")[0] for k in corr["attack"]})
    note = (
        f"Errors (%) = 1 - class-average accuracy. mCE: mean error over {len(names)} corruptions "
        f"({', '.join(names)}) and their severities"
        + (
            f"; normalised: the mean over corruptions of the run's summed errors over those of "
            f"`{baseline}` (ImageNet-C's CE, a ratio)"
            if baseline
            else "; no `corruptions.baseline`, so no normalised mCE"
        )
        + f". PGD: `{pgd}`"
        + paper_003_caveat(pgd)
        + "."
        + (paper_003_radius_note(pgd, at_radius, classwise) if pgd else "")
        + " Class-wise corruption error: each class's error averaged over every corruption "
        "and severity; its population std over classes is shown (its mean over classes is the "
        "unnormalised mCE; both are in the CSV). Per seed, then mean over seeds."
    )
    return PaperTable(
        "corruptions",
        "Common corruptions (paper 003): clean error, mCE, PGD error, class-wise error",
        note,
        _frame(out, values),
        columns,
    )
