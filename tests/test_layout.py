"""The package layout: imports run one way through the pipeline's stages, and every module path
the repository names (in code, docs, workflow and tests) exists.

Stages, lowest first; a module may import its own rank and any lower one, never a higher one:

    config vocabulary  <-  data  <-  models, attacks  <-  methods  <-  config resolution
        <-  training, evaluation  <-  reporting

``config`` is two layers (``MODULE_RANKS``): its vocabulary (``params``, ``registry``, ``eps``,
``attack_names``, ``corruptions``: names, grammars and defaults that every stage may read), and
its resolution and checks (``runs``, ``variants``, ``checks``, ``schema``, ``external``), which
ask the data, model and method registries and so rank above the methods, below training and
evaluation. A config module not listed there is vocabulary. ``runtime`` (process plumbing)
imports nothing from fairat outside itself, and any stage may import it. ``theory`` (paper
001's closed forms) imports only itself and runtime, and nothing in ``src`` imports it (its
script does). A module directly under ``src/fairat`` that belongs to no stage is an entry point:
it may import any stage and no module imports it. Nothing in ``src`` imports ``scripts/``. Every
import counts: top-level, inside functions and under ``TYPE_CHECKING``; none runs back up.
"""

from __future__ import annotations

import ast
import functools
import re
from pathlib import Path

import pytest
from helpers import project_files

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src"

RANKS = {
    "config": 0,  # its vocabulary; its resolution and checks: MODULE_RANKS
    "data": 1,
    "models": 2,
    "attacks": 2,
    "methods": 3,
    "training": 5,
    "evaluation": 5,
    "reporting": 6,
}
CONFIG_RESOLUTION = 4  # between methods and training/evaluation
MODULE_RANKS = {
    f"fairat.config.{name}": CONFIG_RESOLUTION
    for name in ("runs", "variants", "checks", "schema", "external")
}
ENTRY_RANK = 7  # a module directly under src/fairat outside every stage (python -m fairat.x)
RUNTIME = "runtime"
THEORY = "theory"


def module_name(path: Path, src: Path = SRC) -> str:
    parts = path.relative_to(src).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path, src: Path = SRC) -> set[str]:
    """Every module ``path`` imports (absolute names), wherever the import statement sits."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = module_name(path, src).split(".")
    if path.name != "__init__.py":
        package = package[:-1]
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = ".".join(package[: len(package) - node.level + 1])
                name = f"{base}.{node.module}" if node.module else base
            else:
                name = node.module
            found.add(name)
            # `from fairat.x import y` imports the module fairat.x.y when y is one
            found.update(
                f"{name}.{alias.name}"
                for alias in node.names
                if is_module(f"{name}.{alias.name}", src)
            )
    return found


def is_module(name: str, src: Path = SRC) -> bool:
    path = src.joinpath(*name.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def group(module: str) -> str:
    """The stage (or runtime, theory, entry point) a fairat module belongs to."""
    return module.split(".")[1]


def rank(module: str, src: Path = SRC) -> int | None:
    if module in MODULE_RANKS:
        return MODULE_RANKS[module]
    top = group(module)
    if top in RANKS:
        return RANKS[top]
    if top in (RUNTIME, THEORY):
        return None
    return ENTRY_RANK


def violation(importer: str, imported: str, src: Path = SRC) -> str | None:
    """Why ``importer`` may not import ``imported`` (fairat modules), or None if it may."""
    a, b = group(importer), group(imported)
    if b == RUNTIME or (a == b and a in (RUNTIME, THEORY)):
        return None
    if a == RUNTIME:
        return "runtime imports nothing from fairat outside runtime"
    if b == THEORY:
        return "nothing in src imports theory"
    if a == THEORY:
        return "theory imports only theory and runtime"
    if a != b and rank(imported, src) == ENTRY_RANK:
        return f"{imported} is an entry point; nothing imports it"
    if rank(imported, src) > rank(importer, src):
        return (
            f"backward: {importer} (rank {rank(importer, src)}) imports {imported} "
            f"(rank {rank(imported, src)})"
        )
    return None


def violations(src: Path = SRC, scripts: Path = ROOT / "scripts"):
    """(importer, imported, reason) for every forbidden import under ``src``."""
    script_names = {"scripts"} | {p.stem for p in scripts.glob("*.py")}
    found = []
    for path in sorted((src / "fairat").rglob("*.py")):
        importer = module_name(path, src)
        for imported in sorted(imports(path, src)):
            if imported.split(".")[0] in script_names:
                found.append((importer, imported, "nothing imports scripts/"))
            elif imported.startswith("fairat."):
                why = violation(importer, imported, src)
                if why:
                    found.append((importer, imported, why))
    return found


def test_imports_run_one_way():
    assert violations() == []


def write(root: Path, module: str, text: str) -> None:
    path = root.joinpath(*module.split(".")).with_suffix(".py")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


@pytest.mark.parametrize(
    ("importer", "source", "reason"),
    [
        ("fairat.config.x", "from fairat.reporting.summary import t\n", "backward"),
        ("fairat.config.eps", "from fairat.config.runs import RunConfig\n", "backward"),
        ("fairat.data.x", "from fairat.config.checks import check\n", "backward"),
        ("fairat.methods.x", "def f():\n    import fairat.config.schema\n", "backward"),
        ("fairat.config.runs", "from fairat.training.loop import train\n", "backward"),
        ("fairat.data.x", "def f():\n    import fairat.training.loop\n", "backward"),
        ("fairat.models.x", "from fairat.methods import METHODS\n", "backward"),
        ("fairat.training.x", "from fairat.reporting import summary\n", "backward"),
        ("fairat.runtime.x", "from fairat.config import eps\n", "runtime imports nothing"),
        ("fairat.reporting.x", "from fairat.theory import f\n", "nothing in src imports theory"),
        ("fairat.theory.x", "from fairat.config.eps import e\n", "theory imports only"),
        ("fairat.config.x", "from fairat.run import main\n", "entry point"),
        ("fairat.evaluation.x", "import train\n", "nothing imports scripts/"),
        (
            "fairat.training.x",
            "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
            "    from fairat.reporting.figures import f\n",
            "backward",
        ),
    ],
)
def test_the_check_finds_a_forbidden_import(tmp_path, importer, source, reason):
    src, scripts = tmp_path / "src", tmp_path / "scripts"
    write(scripts, "train", "")
    write(src, importer, source)
    found = violations(src, scripts)
    assert len(found) == 1 and found[0][0] == importer and reason in found[0][2], found


@pytest.mark.parametrize(
    ("importer", "source"),
    [
        (
            "fairat.reporting.x",
            "from fairat.config.eps import e\nimport fairat.training.loop\n",
        ),
        ("fairat.methods.x", "from fairat.attacks import pgd\nfrom fairat.models import m\n"),
        ("fairat.config.x", "from fairat.runtime.progress import p\n"),
        ("fairat.config.attack_names", "from fairat.config.eps import parse_eps\n"),
        (
            "fairat.config.checks",
            "from fairat.config.runs import r\nfrom fairat.methods import METHODS\n"
            "from fairat.data import DATASETS\n",
        ),
        ("fairat.training.x", "from fairat.config.runs import RunConfig\n"),
        ("fairat.theory.x", "from fairat.theory.core import f\nfrom fairat.runtime import logs\n"),
        ("fairat.run", "from fairat.training.loop import train\n"),
        ("fairat.training.x", "from fairat.evaluation.suite import s\n"),
    ],
)
def test_the_check_passes_an_allowed_import(tmp_path, importer, source):
    write(tmp_path / "src", importer, source)
    assert violations(tmp_path / "src", tmp_path / "scripts") == []


# Every module path the repository writes down exists: imports in code, and dotted names
# (``fairat.training.loop.train``) and src/fairat paths in code, docs, workflow and tests.
TEXT_ROOTS = [
    "src",
    "scripts",
    "workflow",
    "tests",
    "benchmarks",
    "docs",
    "config",
    "profiles",
    "slurm",
    ".ci",
]
TEXT_FILES = ["README.md", "Makefile", "Snakefile", "pyproject.toml"]
TEXT_SUFFIXES = {".py", ".md", ".smk", ".yaml", ".yml", ".toml", ".rst", ".sh", ".txt", ""}
DOTTED = re.compile(r"(?<![\w./-])fairat(?:\.[A-Za-z_]\w*)+")
PATH = re.compile(r"src/fairat(?:/[\w.]+)*")


@functools.cache
def top_level_names(path: Path) -> set[str]:
    """Names a module binds at its top level (definitions, assignments, imports)."""
    names = set()
    body = list(ast.parse(path.read_text(encoding="utf-8")).body)
    while body:
        node = body.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update((a.asname or a.name).split(".")[0] for a in node.names)
        elif isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                names.update(n.id for n in ast.walk(target) if isinstance(n, ast.Name))
        elif isinstance(node, (ast.If, ast.Try, ast.With, ast.For)):
            for field in ("body", "orelse", "finalbody", "handlers"):
                for child in getattr(node, field, []):
                    body.extend(child.body if isinstance(child, ast.ExceptHandler) else [child])
    return names


def resolves(dotted: str, src: Path = SRC) -> bool:
    """Whether ``fairat.a.b.c`` names a module, or a top-level name of the module it runs into."""
    path = src / "fairat"
    for part in dotted.split(".")[1:]:
        if (path / part).is_dir():
            path = path / part
        elif (path / f"{part}.py").is_file():
            path = path / f"{part}.py"
        elif path.is_dir():
            init = path / "__init__.py"
            return init.is_file() and part in top_level_names(init)
        else:
            return part in top_level_names(path)
    return True


def text_files():
    """The project's files (as a clone has them: no build output or caches) in TEXT_ROOTS with
    a text suffix, and TEXT_FILES; not this file, whose examples are stale on purpose."""
    for name in project_files():
        path = ROOT / name
        if name in TEXT_FILES or (
            name.split("/")[0] in TEXT_ROOTS
            and path.suffix in TEXT_SUFFIXES
            and path != Path(__file__).resolve()
        ):
            yield path


def unresolved(paths) -> list[str]:
    bad = []
    for path in paths:
        if not path.is_file():
            continue
        text = path.read_text(encoding="utf-8", errors="replace")
        where = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path
        bad += [f"{where}: {m}" for m in DOTTED.findall(text) if not resolves(m)]
        bad += [f"{where}: {m}" for m in PATH.findall(text) if not (ROOT / m.rstrip(".")).exists()]
    return bad


def test_every_named_module_path_exists():
    assert unresolved(text_files()) == []


def test_every_fairat_import_resolves():
    roots = [SRC / "fairat", ROOT / "scripts", ROOT / "tests", ROOT / "benchmarks"]
    bad = []
    for path in (p for root in roots for p in sorted(root.rglob("*.py"))):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.ImportFrom)
                and not node.level
                and node.module.startswith("fairat")
            ):
                names = [f"{node.module}.{a.name}" for a in node.names if a.name != "*"]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names if a.name.startswith("fairat.")]
            else:
                continue
            bad += [f"{path.relative_to(ROOT)}: {n}" for n in names if not resolves(n)]
    assert bad == []


def test_the_path_check_finds_a_stale_name(tmp_path):
    doc = tmp_path / "doc.md"
    doc.write_text(
        "`fairat.train.train` and `src/fairat/suite.py` moved; `fairat.training.loop.train`,\n"
        "`fairat.methods.METHODS`, `src/fairat/evaluation/suite.py` and envs/fairat.yaml stay.\n"
        "`fairat.training.loop.no_such_function` is gone.\n"
    )
    assert [line.split(": ")[1] for line in unresolved([doc])] == [
        "fairat.train.train",
        "fairat.training.loop.no_such_function",
        "src/fairat/suite.py",
    ]


def test_models_do_not_import_the_methods():
    """Models declare their arguments through fairat.config.params, not through the training
    methods (a stage above them); checked in a fresh interpreter, so that an import through a
    third module counts too."""
    import subprocess
    import sys

    code = "import sys, fairat.models; print('fairat.methods' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
