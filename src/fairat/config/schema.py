"""The config schema with the allowed dataset, model and method names taken from the registries.

``workflow/schemas/config.schema.yaml`` holds the structure; :func:`write_schema` fills in the
``enum`` lists from ``DATASETS``, ``MODELS`` and ``METHODS`` (run names under ``methods:`` are
free, :mod:`fairat.config.variants` checks them) and writes a JSON copy that
snakemake's ``validate()`` reads, so registering a method is all it takes to allow its name.
"""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from fairat.data import DATASETS
from fairat.methods import METHODS
from fairat.models import MODELS
from fairat.runtime.checkpoint import save_text


def resolved_schema(base: str | Path) -> dict:
    schema = yaml.safe_load(Path(base).read_text())
    props = schema["properties"]
    props["datasets"]["items"]["enum"] = DATASETS.names()
    props["models"]["items"]["enum"] = MODELS.names()
    props["methods"]["additionalProperties"]["properties"]["method"]["enum"] = METHODS.names()
    props["model_args"]["propertyNames"]["enum"] = MODELS.names()
    return schema


def write_schema(base: str | Path, out: str | Path) -> str:
    """Write the resolved schema as JSON to ``out`` (only when it changed); return its path."""
    text = json.dumps(resolved_schema(base), indent=1, sort_keys=True) + "\n"
    out = Path(out)
    if not out.exists() or out.read_text() != text:
        save_text(text, out)
    return str(out.resolve())
