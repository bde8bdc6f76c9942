"""Keep the Slurm test out of every run that does not ask for it by name.

The `slurm` marker's test needs root, installs nothing itself and takes minutes. pyproject's
`addopts` deselects it with `-m 'not slurm'`, but a command line's own `-m` replaces that (pytest
keeps the last one), so `pytest -m "not workflow"` would start it. Here it runs only when the
`-m` expression names `slurm` (`make test-slurm`: `pytest -m slurm tests/slurm`).
"""

from __future__ import annotations


def pytest_collection_modifyitems(config, items):
    expression = config.getoption("markexpr") or ""
    if "slurm" in expression.replace("not slurm", ""):
        return
    keep = [item for item in items if item.get_closest_marker("slurm") is None]
    if len(keep) < len(items):
        config.hook.pytest_deselected(items=[i for i in items if i not in keep])
        items[:] = keep
