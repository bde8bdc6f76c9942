"""Send a workflow script's output, progress bars and any traceback to its rule's log file."""

from __future__ import annotations

import contextlib
import sys
import traceback
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def log_to(path: str | Path) -> Iterator[None]:
    """Redirect stdout and stderr to ``path``; an exception is written there (with its traceback)
    and, in one line, to the process's real stderr, then re-raised."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with (
        open(path, "w", buffering=1) as log,
        contextlib.redirect_stdout(log),
        contextlib.redirect_stderr(log),
    ):
        try:
            yield
        except BaseException as err:
            traceback.print_exc(file=log)
            # one line on the job's own stderr too, so snakemake's console shows the cause
            print(f"{type(err).__name__}: {err} (details: {path})", file=sys.__stderr__)
            raise
