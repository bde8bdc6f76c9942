"""Send a workflow script's output, progress bars and any traceback to its rule's log file."""

from __future__ import annotations

import contextlib
import traceback
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def log_to(path: str | Path) -> Iterator[None]:
    """Redirect stdout and stderr to ``path``; an exception is written there too, then re-raised."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with (
        open(path, "w", buffering=1) as log,
        contextlib.redirect_stdout(log),
        contextlib.redirect_stderr(log),
    ):
        try:
            yield
        except BaseException:
            traceback.print_exc(file=log)
            raise
