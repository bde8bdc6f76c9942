"""Perturbation budgets: parse ``8/255`` or ``0.03``, print ``8/255`` when eps is k/255, make
path tags, and read the evaluation-only radius of an attack name (``pgd40@2/255``,
:mod:`fairat.config.attack_names`)."""

from __future__ import annotations

from fractions import Fraction


def parse_number(value: str | float | int, field: str = "value") -> float:
    """A float from a number or a fraction string such as ``"2/255"``; errors name ``field``."""
    if isinstance(value, bool):
        raise ValueError(
            f"{field}: {value!r} is not a number; write a number or a fraction like '8/255'"
        )
    if isinstance(value, int | float):
        return float(value)
    text = str(value).strip().replace("_", "/")
    try:
        return float(Fraction(text)) if "/" in text else float(text)
    except (ValueError, ZeroDivisionError):
        raise ValueError(
            f"{field}: {value!r} is not a number; write a number or a fraction like '8/255'"
        ) from None


def parse_eps(value: str | float | int) -> float:
    """Return eps in [0, 1] pixel units from a number or a fraction string such as ``"8/255"``."""
    eps = parse_number(value, "eps")
    if not 0.0 <= eps <= 1.0:
        hint = f"; did you mean '{value}/255'?" if 1 < eps <= 255 else ""
        raise ValueError(
            f"eps: {value!r} gives {eps}, outside the allowed range [0, 1] (a fraction of the "
            f"pixel range){hint}"
        )
    return eps


def format_eps(eps: float) -> str:
    """``8/255`` when eps is a whole number of 255ths (to 1e-9), else the shortest decimal."""
    k = round(eps * 255)
    if abs(k / 255 - eps) < 1e-9:
        return "0" if k == 0 else f"{k}/255"
    return f"{eps:g}"


def eps_tag(value: str | float | int) -> str:
    """A file-name-safe tag for an eps: ``8/255`` -> ``8_255``, ``0.1`` -> ``0.1``."""
    return format_eps(parse_eps(value)).replace("/", "_")


def attack_base(name: str) -> str:
    """The attack without its own radius: ``pgd40@2/255`` -> ``pgd40``."""
    return name.partition("@")[0]


def own_radius(name: str) -> float | None:
    """The evaluation-only radius an attack name carries (``pgd40@2/255`` -> 2/255), or None
    for an attack at the run's eps."""
    _, at, radius = name.partition("@")
    return parse_eps(radius) if at else None
