"""Issue 30: a module of the package over 400 lines says in its docstring why it stays one."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "fairat"
LIMIT = 400
REASON = f"over {LIMIT} lines"  # the phrase that gives the reason, e.g. "stays one module over 400 lines"


def unexplained(root: Path) -> list[str]:
    """The modules under ``root`` longer than LIMIT lines whose docstring gives no reason."""
    found = []
    for path in sorted(root.rglob("*.py")):
        text = path.read_text()
        if len(text.splitlines()) > LIMIT and REASON not in (
            ast.get_docstring(ast.parse(text)) or ""
        ):
            found.append(str(path.relative_to(root)))
    return found


def test_every_long_module_says_why():
    assert unexplained(PACKAGE) == []


@pytest.mark.parametrize(
    ("docstring", "flagged"), [("A module.", True), (f"It stays {REASON}: one protocol.", False)]
)
def test_the_check_finds_a_long_module_without_a_reason(tmp_path, docstring, flagged):
    (tmp_path / "long.py").write_text(f'"""{docstring}"""\n' + "x = 1\n" * LIMIT)
    (tmp_path / "short.py").write_text("x = 1\n")
    assert unexplained(tmp_path) == (["long.py"] if flagged else [])
