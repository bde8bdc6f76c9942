"""Errors that several stages raise or catch, kept in runtime in a module that imports nothing of
fairat, so that any stage can use them without importing a later one."""

from __future__ import annotations

from pathlib import Path


class DamagedFileError(RuntimeError):
    """A file fairat wrote (or should have) cannot be read: truncated, empty or not its format."""

    def __init__(self, path: str | Path, reason: str, what_to_do: str = "") -> None:
        self.path = Path(path)
        todo = what_to_do or "delete it, and run snakemake again to rebuild it"
        super().__init__(f"{self.path}: damaged or not a fairat file ({reason}); {todo}")
