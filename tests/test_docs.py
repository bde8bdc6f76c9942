"""The README is a front page and the docs keep step with what is tested: every command shown in
a bash block is one that a test or CI runs, every link resolves, every config snippet parses, and
every file of the repository cites only Markdown files and anchors that the repository has."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from helpers import REPO, project_files

from fairat.config.variants import expand_variants

DOCS = [
    REPO / "README.md",
    *sorted((REPO / "docs").glob("*.md")),
    REPO / "config" / "README.md",
    REPO / "benchmarks" / "README.md",
]

# every command a reader is shown, and what runs it
TESTED = {
    r"make run": ".ci/run (first, as the README orders it)",
    r"make report": ".ci/run, after make run",
    r"make test": ".ci/run",
    r"make test-slurm": ".ci/run",
    r"\.venv/bin/snakemake --cores all --configfile \S+": "tests/test_workflow.py (tiny config)",
    r"\.venv/bin/snakemake -n --configfile \S+": "tests/test_configs.py",
    r"(\.venv/bin/)?snakemake --profile slurm --configfile \S+": "tests/test_profiles.py, tests/slurm",
    r"snakemake --configfile config/config.yaml --cores all --rerun-triggers code params input "
    r"software-env --max-checksum-file-size 1GB": "tests/test_dvc.py (the stage command)",
    r"dvc (remote add -d \S+ \S+|(repro|push|pull|commit -f|status) pipeline@\S+|"
    r"metrics show|metrics diff|params diff|plots show|stage list)": "tests/test_dvc.py",
    r'git add \S+ && git commit -m "[^"]+"': "tests/test_dvc.py",
    r"\.venv/bin/python benchmarks/run_times\.py": "tests/test_run_times.py",
    r"\.venv/bin/python -m fairat\.run tests/configs/tiny\.yaml --run frl_rw --seed 0( --out \S+)?": (
        "tests/test_run_module.py, tests/test_workflow.py (against the workflow's outputs)"
    ),
    r"PYTHONPATH=src python3 benchmarks/gpu_check\.py --cpu --tiny": "tests/test_gpu_check.py",
    r"PYTHONPATH=src python3 benchmarks/gpu_check\.py": "tests/test_gpu_check.py (needs a GPU: "
    "without one it must refuse, naming --cpu)",
}


def commands(path) -> list[str]:
    """The commands of a file's bash blocks, comments stripped."""
    blocks = re.findall(r"^```bash\n(.*?)^```", path.read_text(), re.M | re.S)
    lines = [line.split("  #")[0].split(" #")[0].strip() for b in blocks for line in b.splitlines()]
    return [line for line in lines if line and not line.startswith("#")]


def test_the_readme_is_a_front_page():
    text = (REPO / "README.md").read_text()
    assert len(text.splitlines()) <= 150
    figure = re.search(r"!\[[^]]*\]\(([^)]+\.png)\)", text)
    assert figure and (REPO / figure.group(1)).read_bytes()[:4] == b"\x89PNG"


@pytest.mark.parametrize("path", DOCS, ids=lambda p: str(p.relative_to(REPO)))
def test_every_command_shown_is_one_a_test_or_ci_runs(path):
    for command in commands(path):
        assert any(re.fullmatch(p, command) for p in TESTED), (
            f"{path.name}: {command!r} is run by no test or CI; test it, then list it in TESTED"
        )


def test_ci_runs_the_readme_commands_in_its_order():
    ci = (REPO / ".ci" / "run").read_text()
    steps = re.findall(r"^make ([\w-]+)$", ci, re.M)
    assert steps == ["run", "report", "test", "test-slurm"]


@pytest.mark.parametrize("path", DOCS, ids=lambda p: str(p.relative_to(REPO)))
def test_every_relative_link_resolves(path):
    for target in re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", path.read_text()):
        if not re.match(r"[a-z]+://", target):
            assert (path.parent / target).exists(), f"{path.name}: {target} does not exist"


def test_the_readme_config_snippet_expands():
    blocks = re.findall(r"^```yaml\n(.*?)^```", (REPO / "README.md").read_text(), re.M | re.S)
    assert blocks
    runs = expand_variants(yaml.safe_load(blocks[0])["methods"])
    assert "trix-dafa_lam1.5" in runs and runs["dafa"].baseline == "trades_dafa"


# A citation of a Markdown file, with optional anchors: ``docs/specification.md#dafa`` in a
# docstring, ``[text](protocol.md#evaluation)`` in a doc, ``docs/specification.md#metrics,
# #headline-numbers`` for two sections. Not inside a URL or a longer name (the look-arounds).
CITATION = re.compile(
    r"(?<![\w/.:-])((?:[\w.-]+/)*[\w-]+\.md)(?![\w-])((?:#[\w-]+)(?:(?:,| and|, and) #[\w-]+)*)?"
)
# the specification the code once cited, kept outside the repository
OUTSIDE = "METHODS.md"
SAME_FILE_LINK = re.compile(r"\]\(#([\w-]+)\)")
HEADING = re.compile(r"^#{1,6} +(.+?) *#*$")
EXPLICIT_ID = re.compile(r"<a\s[^>]*\b(?:id|name)=\"([^\"]+)\"")


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: link text kept, tags and punctuation dropped, lower case,
    spaces to hyphens."""
    text = re.sub(r"\[([^]]*)\]\([^)]*\)", r"\1", heading)
    text = re.sub(r"<[^>]+>", "", text)
    return re.sub(r"[^\w\- ]", "", text.lower()).replace(" ", "-")


def anchors(markdown: str) -> set[str]:
    """The anchors a Markdown file defines: explicit ``<a id=...>`` and its headings' slugs
    (outside code blocks; a repeated slug gets -1, -2, ... as on GitHub)."""
    found = set(EXPLICIT_ID.findall(markdown))
    seen: dict[str, int] = {}
    fenced = False
    for line in markdown.splitlines():
        if line.startswith("```"):
            fenced = not fenced
        heading = None if fenced else HEADING.match(line)
        if heading:
            base = slug(heading.group(1))
            found.add(f"{base}-{seen[base]}" if base in seen else base)
            seen[base] = seen.get(base, 0) + 1
    return found


def broken_citations(path: Path, text: str, root: Path = REPO) -> list[str]:
    """What ``text`` (the contents of ``path``) cites that does not exist: the old specification
    outside the repository, a ``docs/`` file or an anchored Markdown file that is neither beside
    ``path`` nor at that path from the repository root, or an anchor that file does not define.
    (Other ``.md`` names without an anchor, such as ``results/tables/summary.md``, are outputs.)"""
    problems = []
    for name, tail in CITATION.findall(text):
        if not (tail or name.startswith("docs/") or Path(name).name == OUTSIDE):
            continue
        target = next((t for t in (path.parent / name, root / name) if t.is_file()), None)
        if target is None:
            problems.append(f"{path.name} cites {name}, which the repository does not have")
            continue
        missing = set(re.findall(r"#([\w-]+)", tail)) - anchors(target.read_text())
        problems += [f"{path.name} cites {name}#{a}, which {name} does not define" for a in missing]
    if path.suffix == ".md":
        missing = set(SAME_FILE_LINK.findall(text)) - anchors(text)
        problems += [f"{path.name} links to #{a}, which it does not define" for a in missing]
    return problems


def repository_files() -> list[Path]:
    """The project's text files as a clone has them (tracked and new, not ignored)."""
    paths = [REPO / name for name in project_files()]
    return [p for p in paths if p.is_file() and p.suffix not in {".png", ".pdf", ".lock"}]


def test_every_citation_resolves_inside_the_repository():
    here = Path(__file__).resolve()  # this file holds deliberately broken examples
    problems = [
        problem
        for path in repository_files()
        if path.resolve() != here
        for problem in broken_citations(path, path.read_text(errors="replace"))
    ]
    assert not problems, "\n".join(problems)


def test_a_citation_outside_the_repository_or_of_a_missing_anchor_is_caught():
    code = REPO / "src" / "fairat" / "methods" / "dafa.py"
    assert broken_citations(code, "DAFA (docs/specification.md#dafa; rucy74/DAFA utils.py)") == []
    assert broken_citations(code, "(docs/specification.md#metrics, #headline-numbers)") == []
    assert broken_citations(code, "see https://github.com/a/b/blob/main/README.md#usage") == []
    assert broken_citations(code, "DAFA (METHODS.md section 6)") == [
        "dafa.py cites METHODS.md, which the repository does not have"
    ]
    assert broken_citations(code, "(docs/specification.md#dafa-weights)") == [
        "dafa.py cites docs/specification.md#dafa-weights, which docs/specification.md does not "
        "define"
    ]
    assert broken_citations(code, "(docs/specification.md#rho and #rhoo)") == [
        "dafa.py cites docs/specification.md#rhoo, which docs/specification.md does not define"
    ]
    doc = REPO / "docs" / "methods.md"
    assert broken_citations(doc, "[protocol](protocol.md#evaluation)") == []
    assert broken_citations(doc, "[x](protocol.md#evaluations)") == [
        "methods.md cites protocol.md#evaluations, which protocol.md does not define"
    ]
    assert broken_citations(doc, "## Top\n[up](#top) [down](#bottom)") == [
        "methods.md links to #bottom, which it does not define"
    ]


def test_anchors_are_explicit_ids_and_github_heading_slugs():
    text = (
        '<a id="dafa"></a>\n## DAFA\n## `zoo` and `external`: models fairat did not train\n'
        "## Runs: variants, sweeps, baselines\n## Runs: variants, sweeps, baselines\n"
        "```bash\n# not a heading\n```\n"
    )
    assert anchors(text) == {
        "dafa",
        "zoo-and-external-models-fairat-did-not-train",
        "runs-variants-sweeps-baselines",
        "runs-variants-sweeps-baselines-1",
    }
