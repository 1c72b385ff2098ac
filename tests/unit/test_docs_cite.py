"""The repository documents itself: every file of the repository that README.md, docs/ or
a docstring or comment of the code cites (`lab/verify/checks.py`, `docs/topology.md`,
`tests/unit/topology_cases/`) exists, and every dotted name they cite
(`lab.providers.docker.builds`, `lab.verify.checks.CHECKS`) is a module that imports with
that attribute. Markdown links are tests/unit/test_docs_links.py's job; this one reads the
plain text too, so a module moved without its citations fails here."""

from __future__ import annotations

import ast
import importlib
import io
import re
import tokenize
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
TOP = ("lab", "docs", "tests", "benchmarks", "topologies", "scripts")
# a repository path: one of TOP, then path characters; not part of a longer path
# (/var/lib/ovn-lab/..., my-lab/...) nor of a dotted name
PATH = re.compile(rf"(?<![\w./~-])((?:{'|'.join(TOP)})/[\w.*/-]*)")
# a dotted name of the package: lab.<module>[.<module>...][.<attribute>...]
DOTTED = re.compile(r"(?<![\w./-])(lab(?:\.[A-Za-z_]\w*)+)")
# file name endings a dotted match may really be (lab.yaml, lab.png are files, not modules)
NOT_MODULES = re.compile(r"\.(yaml|yml|json|md|png|svg|txt|py|tar|gz|sock|pid|log|lock)$")


def sources() -> list[Path]:
    pages = [REPO / "README.md", *sorted((REPO / "docs").rglob("*.md"))]
    code = [
        *sorted((REPO / "lab").rglob("*.py")),
        *sorted((REPO / "tests").rglob("*.py")),
        *sorted((REPO / "benchmarks").glob("*.py")),
    ]
    return pages + [p for p in code if ".venv" not in p.parts]


def prose(path: Path) -> Iterator[tuple[int, str]]:
    """(line, text) of what a file says to its reader: a page whole; of Python code its
    docstrings and comments (not its string literals: a test may name a missing file)."""
    text = path.read_text()
    if path.suffix == ".md":
        yield from enumerate(text.splitlines(), 1)
        return
    for tok in tokenize.generate_tokens(io.StringIO(text).readline):
        if tok.type == tokenize.COMMENT:
            yield tok.start[0], tok.string
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                doc = body[0].value
                if isinstance(doc.value, str):
                    for offset, line in enumerate(doc.value.splitlines()):
                        yield doc.lineno + offset, line


def cited_paths(line: str) -> list[str]:
    found = []
    for match in PATH.findall(line):
        cited = match.rstrip(".-")
        if cited.count("/") == 1 and cited.endswith("/") and cited[:-1] in TOP:
            continue  # `lab/` alone, or a placeholder cut at `<`: nothing to check
        found.append(cited)
    return found


def path_exists(cited: str) -> bool:
    if "*" in cited:
        return any(REPO.glob(cited))
    return (REPO / cited).exists()


def cited_names(line: str) -> list[str]:
    found = []
    for match in DOTTED.finditer(line):
        name = match.group(1)
        if NOT_MODULES.search(name):
            continue
        first = name.split(".")[1]
        is_part = (REPO / "lab" / f"{first}.py").exists() or (REPO / "lab" / first).is_dir()
        if line[match.end() :].startswith("(") and not is_part:
            continue  # lab.exec(...): a call on a variable named lab (the pytest fixture's)
        found.append(name)
    return found


def resolves(dotted: str) -> bool:
    """The longest importable module prefix, then the rest as attributes of it."""
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj: object = importlib.import_module(".".join(parts[:cut]))
        except ModuleNotFoundError:
            continue
        for attr in parts[cut:]:
            if not hasattr(obj, attr):
                return False
            obj = getattr(obj, attr)
        return True
    return False


def citations() -> list[tuple[str, int, str, str]]:
    """(file, line, "path" or "name", what it cites) for every citation in the repository."""
    out = []
    for source in sources():
        where = str(source.relative_to(REPO))
        for lineno, line in prose(source):
            out += [(where, lineno, "path", c) for c in cited_paths(line)]
            out += [(where, lineno, "name", c) for c in cited_names(line)]
    return out


CITATIONS = citations()


def test_citations_are_found() -> None:
    # the scanner itself: it finds the citations this file's own docstring makes
    mine = {c for f, _, _, c in CITATIONS if f == "tests/unit/test_docs_cite.py"}
    assert {"lab/verify/checks.py", "docs/topology.md", "lab.verify.checks.CHECKS"} <= mine
    assert len(CITATIONS) > 200


def test_a_missing_citation_is_caught() -> None:
    assert not path_exists("lab/verify/no_such_module.py")
    assert not resolves("lab.verify.checks.NO_SUCH_TABLE")
    assert not resolves("lab.no_such_package.module")
    assert cited_paths("see `docs/gone.md`, and lab/x/.") == ["docs/gone.md", "lab/x/"]
    assert cited_names("lab.ovn.gone(), lab.exec('vm1')") == ["lab.ovn.gone"]


@pytest.mark.parametrize("kind", ["path", "name"])
def test_every_citation_exists(kind: str) -> None:
    check = path_exists if kind == "path" else resolves
    broken = sorted({f"{f}:{n}: {c}" for f, n, k, c in CITATIONS if k == kind and not check(c)})
    assert not broken, f"{len(broken)} citations of what is not there:\n" + "\n".join(broken)
