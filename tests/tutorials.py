"""docs/tutorials/*.md as steps a test can run: each ```console block is one step (its `$ `
lines, run in one bash), each `<!-- expect: REGEX -->` after it a pattern its output must
match. `(?P<name>...)` keeps a value for later steps, where `{name}` stands for it."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TUTORIALS = sorted((REPO / "docs" / "tutorials").glob("*.md"))
BLOCK = re.compile(r"^```console\n(.*?)^```\n((?:<!-- expect: .*? -->\n)*)", re.M | re.S)
EXPECT = re.compile(r"<!-- expect: (.*?) -->")
REFERENCE = re.compile(r"\{([a-z_][a-z0-9_]*)\}")


@dataclass
class Step:
    line: int
    commands: list[str]
    expect: list[str] = field(default_factory=list)


def steps(path: Path) -> list[Step]:
    text = path.read_text()
    found = []
    for match in BLOCK.finditer(text):
        commands = [ln[2:] for ln in match.group(1).splitlines() if ln.startswith("$ ")]
        line = text.count("\n", 0, match.start()) + 1
        found.append(Step(line, commands, EXPECT.findall(match.group(2))))
    return found


def pattern(expect: str, kept: dict[str, str]) -> str:
    """The regex with every {name} replaced by the value kept earlier (KeyError if none)."""
    return REFERENCE.sub(lambda m: re.escape(kept[m.group(1)]), expect)


def captures(expect: str) -> set[str]:
    return set(re.compile(REFERENCE.sub("x", expect)).groupindex)
