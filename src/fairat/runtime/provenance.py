"""The code version a trained run depends on, for Snakemake's between-workflow output cache.

Snakemake's cache (``cache: True`` on the ``train`` rule, turned on by ``--cache``; docs/configs.md,
"Runs another config trained") keys an entry by a hash of the rule's script source, its params,
the content of its inputs that no job makes, the conda environment when ``--use-conda`` is on,
and, recursively, the same hash of every job upstream (Snakemake 9
``snakemake/caching/hash.py``, ``ProvenanceHashMap._get_provenance_hash``). The fairat package
that the script imports is none of these, so a code change would not change the key. The
workflow therefore writes :func:`code_version` to a file in the config's workdir and gives it to
``train`` as an ``ancient()`` input: its content enters the key, while its modification time
never triggers a rerun (an edit of the package makes new cache entries; it does not retrain the
workspaces that already hold their checkpoints, as before).
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import tempfile
from importlib import metadata
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1]  # src/fairat
LIBRARIES = ("torch", "numpy")  # their versions change the numbers a run computes


def source_hash(package: Path = PACKAGE) -> str:
    """SHA-256 over every ``.py`` file of ``package`` (relative path and bytes, sorted by
    path): any change of fairat's code, docstrings included, changes it."""
    h = hashlib.sha256()
    for path in sorted(package.rglob("*.py")):
        h.update(path.relative_to(package).as_posix().encode() + b"\0")
        h.update(path.read_bytes() + b"\0")
    return h.hexdigest()


def code_version(package: Path = PACKAGE) -> dict[str, str]:
    """What, besides the run config and the data, decides what a training job computes: the
    package's :func:`source_hash`, the versions of torch and numpy and Python's major.minor."""
    return {
        "fairat_source": source_hash(package),
        **{name: _version(name) for name in LIBRARIES},
        "python": ".".join(platform.python_version_tuple()[:2]),
    }


def write_code_version(path: str | Path, package: Path = PACKAGE) -> Path:
    """Write :func:`code_version` as JSON to ``path`` when its content differs (so that the
    file's time changes only with the code), atomically; returns ``path``."""
    path = Path(path)
    text = json.dumps(code_version(package), indent=1, sort_keys=True) + "\n"
    if path.exists() and path.read_text() == text:
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(fd, "w") as fh:
        fh.write(text)
    os.replace(tmp, path)
    return path


def _version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "absent"
