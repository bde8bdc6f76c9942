"""Progress bars: lively on a terminal, a line every 30 s in a log file."""

from __future__ import annotations

import sys
from collections.abc import Iterable

from tqdm import tqdm


def progress_bar(iterable: Iterable, *, desc: str, enabled: bool = True) -> tqdm:
    return tqdm(
        iterable,
        desc=desc,
        disable=not enabled,
        leave=False,
        file=sys.stderr,
        mininterval=0.5 if sys.stderr.isatty() else 30.0,
    )
