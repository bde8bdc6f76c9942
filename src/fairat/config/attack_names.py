"""The attack-name grammar a config writes (docs/specification.md#attacks): the named suites,
the ``worst_case`` row, the accepted forms (``clean``, ``fgsm``, ``pgd<k>``, ``cw<k>``,
``autoattack``, and ``fgsm``, ``pgd<k>``, ``cw<k>`` at their own radius, ``pgd40@2/255``) and
what a name says: its step count and the radius it runs at.

Pure names, no torch: the config checks read them here, and the attack suite that runs them
(:mod:`fairat.evaluation.suite`) parses names with the same :data:`NAME`. The radius after ``@``
is read by :func:`fairat.config.eps.own_radius`.
"""

from __future__ import annotations

import re

from fairat.config.eps import own_radius, parse_eps

SUITES = {
    "quick": ("clean", "fgsm", "pgd20", "autoattack"),
    "paper": ("clean", "pgd20", "pgd100", "cw30", "autoattack"),
}
WORST_CASE = "worst_case"
# groups: 1 the attack without its radius, 2 pgd or cw, 3 their step count, 4 the radius
NAME = re.compile(r"(clean|fgsm|autoattack|(pgd|cw)([1-9][0-9]*))(?:@(.+))?$")
ATTACK_FORMS = (
    "clean",
    "fgsm",
    "pgd<k> (e.g. pgd20)",
    "cw<k> (e.g. cw30)",
    "autoattack",
    "fgsm, pgd<k> or cw<k> at their own radius (e.g. pgd40@2/255)",
)


def check_attack_name(name: str) -> None:
    m = NAME.match(name)
    if not m or (m.group(4) is not None and m.group(1) in ("clean", "autoattack")):
        raise ValueError(
            f"evaluation.attacks: {name!r} is not allowed; valid forms: {', '.join(ATTACK_FORMS)}"
        )
    if m.group(4) is not None:
        try:
            parse_eps(m.group(4))
        except ValueError as err:
            raise ValueError(f"evaluation.attacks: {name!r}: {err}") from None


def attack_steps(name: str) -> int:
    """The step count k of ``pgd<k>`` and ``cw<k>`` (with or without an ``@`` radius); 0 for
    ``clean``, ``fgsm``, ``autoattack`` and a name that is no attack."""
    m = NAME.match(name)
    return int(m.group(3)) if m and m.group(3) else 0


def attack_eps(name: str, eps: float) -> float:
    """The radius an attack runs at: its own (``@``) radius, else the run's ``eps``."""
    radius = own_radius(name)
    return eps if radius is None else radius
