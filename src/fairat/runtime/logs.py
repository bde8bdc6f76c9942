"""Send a workflow script's output, progress bars and any traceback to its rule's log file."""

from __future__ import annotations

import contextlib
import sys
import traceback
from collections.abc import Iterator
from pathlib import Path

from fairat.runtime.gpuslots import held, held_line


@contextlib.contextmanager
def log_to(path: str | Path) -> Iterator[None]:
    """Redirect stdout and stderr to ``path``; an exception is written there (with its traceback)
    and, in one line, to the process's real stderr, then re-raised. A job that holds a GPU slot
    (fairat.runtime.gpuslots) starts its log with which GPU, and its one line names it."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with (
        open(path, "w", buffering=1) as log,
        contextlib.redirect_stdout(log),
        contextlib.redirect_stderr(log),
    ):
        gpu = held()
        if gpu is not None:
            print(held_line())
        try:
            yield
        except BaseException as err:
            traceback.print_exc(file=log)
            # one line on the job's own stderr too, so snakemake's console shows the cause
            where = f"; on GPU {gpu['gpu']}" if gpu is not None else ""
            # one write: other jobs write their lines to the same console
            sys.__stderr__.write(f"{type(err).__name__}: {err} (details: {path}{where})\n")
            sys.__stderr__.flush()
            raise
