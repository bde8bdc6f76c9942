"""The ``corruptions:`` section of a config (paper 003, :mod:`fairat.evaluation.corruptions`):
its vocabulary (the 15 corruptions of Hendrycks & Dietterich, the sources of corrupted images,
the severities 1 to 5), its defaults and its check, and the ``<name>_s<severity>`` key a
corruption at a severity has in flags and tables.

Pure names, no numpy or torch: the config check and the workflow read them here, and the jobs
that corrupt and evaluate (:mod:`fairat.evaluation.corruptions`) use the same keys.
"""

from __future__ import annotations

CORRUPTIONS = (
    "gaussian_noise",
    "shot_noise",
    "impulse_noise",
    "defocus_blur",
    "glass_blur",
    "motion_blur",
    "zoom_blur",
    "snow",
    "frost",
    "fog",
    "brightness",
    "contrast",
    "elastic_transform",
    "pixelate",
    "jpeg_compression",
)
BROKEN_IN_GENERATE = {
    "glass_blur": "imagecorruptions 1.1.2 passes skimage.filters.gaussian the removed "
    "'multichannel' argument",
    "fog": "imagecorruptions 1.1.2 uses np.float_, removed in numpy 2",
}
SOURCES = ("generate", "cifar10c", "cifar100c")
PUBLISHED = {"cifar10c": ("cifar10", "CIFAR-10-C"), "cifar100c": ("cifar100", "CIFAR-100-C")}
SEVERITIES = (1, 2, 3, 4, 5)


def key(name: str, severity: int) -> str:
    """The attack-like name of a corruption at a severity in flags and tables: ``fog_s3``."""
    return f"{name}_s{severity}"


def split_key(k: str) -> tuple[str, int]:
    name, _, sev = k.rpartition("_s")
    return name, int(sev)


def default_names(source: str) -> list[str]:
    return [c for c in CORRUPTIONS if source != "generate" or c not in BROKEN_IN_GENERATE]


def settings(config: dict) -> dict | None:
    """The config's ``corruptions:`` section with its defaults, or None when there is none."""
    raw = config.get("corruptions")
    if not raw:
        return None
    source = raw.get("source", "generate")
    return {
        "source": source,
        "names": list(raw.get("names") or default_names(source)),
        "severities": [int(s) for s in raw.get("severities") or SEVERITIES],
        "seed": int(raw.get("seed", 0)),
        "checkpoints": list(raw.get("checkpoints") or ["last"]),
        "baseline": raw.get("baseline"),
    }


def check_settings(settings: dict, datasets: list[str]) -> None:
    """Fail before any job on bad ``corruptions:`` settings, naming the field."""
    source = settings.get("source", "generate")
    if source not in SOURCES:
        raise ValueError(
            f"corruptions.source: {source!r} is not allowed; allowed: {', '.join(SOURCES)}"
        )
    for name in settings.get("names") or []:
        if name not in CORRUPTIONS:
            raise ValueError(
                f"corruptions.names: {name!r} is not allowed; allowed: {', '.join(CORRUPTIONS)}"
            )
        if source == "generate" and name in BROKEN_IN_GENERATE:
            raise ValueError(
                f"corruptions.names: {name!r} cannot be generated ({BROKEN_IN_GENERATE[name]}); "
                "leave it out, or read the published files (corruptions.source: cifar10c)"
            )
    for sev in settings.get("severities") or []:
        if sev not in SEVERITIES:
            raise ValueError(f"corruptions.severities: {sev!r} is not allowed; allowed: 1 to 5")
    if source in PUBLISHED:
        wanted = PUBLISHED[source][0]
        other = [d for d in datasets if d != wanted]
        if other:
            raise ValueError(
                f"corruptions.source: {source!r} holds {wanted} test images only; the config "
                f"also has datasets {', '.join(other)} (use source: generate for them)"
            )
