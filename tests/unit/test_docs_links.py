"""README is the front door: every link in it and in docs/ leads somewhere that exists
(a file of the repository, or a heading of the page it names)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PAGES = [REPO / "README.md", *sorted((REPO / "docs").rglob("*.md"))]
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")
FENCE = re.compile(r"^```.*?^```", re.M | re.S)


def anchors(page: Path) -> set[str]:
    """GitHub's heading ids: lower case, punctuation dropped, spaces as dashes."""
    text = FENCE.sub("", page.read_text())
    out = set()
    for heading in re.findall(r"^#+ (.+)$", text, re.M):
        slug = re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")
        out.add(slug)
    return out


def links(page: Path) -> list[str]:
    return LINK.findall(FENCE.sub("", page.read_text()))


@pytest.mark.parametrize("page", PAGES, ids=[str(p.relative_to(REPO)) for p in PAGES])
def test_every_link_resolves(page: Path) -> None:
    broken = []
    for target in links(page):
        if re.match(r"^[a-z]+:", target):  # http(s), mailto: not followed offline
            continue
        path, _, anchor = target.partition("#")
        dest = (page.parent / path).resolve() if path else page
        missing_anchor = anchor and dest.suffix == ".md" and anchor not in anchors(dest)
        if not dest.exists() or missing_anchor:
            broken.append(target)
    assert not broken, f"{page.relative_to(REPO)}: broken links {broken}"


def test_readme_is_a_front_door() -> None:
    readme = (REPO / "README.md").read_text()
    assert len(readme.splitlines()) < 120, "README grew again: move the details into docs/"
    assert "make demo" in readme and "](docs/geneve-router.png)" in readme
    for topic in (
        "providers",
        "checks",
        "topology",
        "scale-out",
        "troubleshooting",
        "architecture",
    ):
        assert f"](docs/{topic}.md)" in readme, f"README has no link to docs/{topic}.md"
    linked = {t for t in links(REPO / "README.md") if t.startswith("docs/")}
    pages = {str(p.relative_to(REPO)) for p in PAGES if p.parent.name == "docs"}
    assert pages <= linked, f"pages of docs/ that README does not lead to: {pages - linked}"
