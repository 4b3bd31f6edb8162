"""Every repository path that a docstring, comment, spec, notebook or the README cites exists.

A citation is a token that starts with one of the repository's top-level folders (``docs/``, ``pipelines/``,
``workbench/``, ``baselines/``, ``notebooks/``, ``tests/``, ``results/``) and names a file with an extension;
tokens with placeholders (``<id>``, ``vNNNN``, ``*``, ``{``) are patterns, not citations. References outside the
repository (``../shared/...``) are not allowed: the references the code relies on live in ``docs/``.
"""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
TOP = ("docs", "pipelines", "workbench", "baselines", "notebooks", "tests", "results")
EXTENSIONS = "md|py|yaml|yml|ipynb|csv|json|txt|pt|pth"
CITATION = re.compile(r"(?<![\w./-])((?:" + "|".join(TOP) + r")/[\w./-]*\w\.(?:" + EXTENSIONS + "))")
SOURCES = ["README.md", "docs", "pipelines", "workbench", "baselines", "notebooks"]


def sources() -> list[Path]:
    out = []
    for name in SOURCES:
        p = REPO / name
        if p.is_file():
            out.append(p)
        else:
            out += [f for f in p.rglob("*") if f.suffix in (".py", ".md", ".yaml", ".ipynb") and f.is_file()]
    return out


def citations(text: str) -> set[str]:
    found = set()
    for m in CITATION.finditer(text):
        token = m.group(1).rstrip(".")
        if not any(c in token for c in "<>*{}") and "NNNN" not in token:
            found.add(token)
    return found


def test_cited_paths_exist() -> None:
    missing = [f"{src.relative_to(REPO)} cites {c}" for src in sources()
               for c in sorted(citations(src.read_text(encoding="utf-8")))
               if not (REPO / c).exists()]
    assert not missing, "\n".join(missing)


def test_no_citation_outside_the_repository() -> None:
    bad = [str(src.relative_to(REPO)) for src in sources() if "shared/reference" in src.read_text(encoding="utf-8")]
    assert not bad, f"cite docs/ instead of ../shared/reference in: {bad}"


def test_bare_reference_names_are_prefixed() -> None:
    bare = re.compile(r"(?<![\w/.-])(protocols|complexity)\.md")
    bad = [str(src.relative_to(REPO)) for src in sources()
           if src.parent.name != "docs" and bare.search(src.read_text(encoding="utf-8"))]
    assert not bad, f"write docs/protocols.md or docs/complexity.md in: {bad}"


def test_the_checker_finds_a_citation() -> None:
    assert citations("see docs/protocols.md §1.3 and results/<table>/x.csv") == {"docs/protocols.md"}
