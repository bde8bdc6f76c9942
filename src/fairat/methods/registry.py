"""The method registry; ``fairat.methods`` imports every method module so that each registers itself."""

from __future__ import annotations

from fairat.config.registry import Registry

METHODS: Registry = Registry("method")
