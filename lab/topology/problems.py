"""Collecting problems: each a dotted key, the line it is on, and one sentence.

The sentence quotes the offending value (`show`) and says how to fix it, often
by listing what would be accepted (`one_of`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from lab.errors import Problem

if TYPE_CHECKING:
    from lab.topology.source import Source

Path = tuple[str | int, ...]

# Key segments shown as written; anything else (spaces, ';', '/', empty) is quoted
# so a key never hides where one segment ends.
_PLAIN_SEGMENT = re.compile(r"[A-Za-z0-9_.:-]+")
MAX_SHOWN = 60


def dotted(path: Path) -> str:
    return ".".join(_segment(part) for part in path)


def _segment(part: str | int) -> str:
    text = str(part)
    return text if _PLAIN_SEGMENT.fullmatch(text) else repr(text)


def show(value: Any) -> str:
    """A value as quoted in a message: text in quotes, other scalars as YAML writes them."""
    if isinstance(value, str):
        return repr(value if len(value) <= MAX_SHOWN else value[: MAX_SHOWN - 3] + "...")
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):  # str() refuses ints of more than 4300 digits
        return str(value) if value.bit_length() < 100 else "a number of more than 30 digits"
    if isinstance(value, dict):
        return "a mapping" if value else "an empty mapping"
    if isinstance(value, list):
        return "a list" if value else "an empty list"
    if isinstance(value, float):
        return repr(value)
    return repr(str(value)[:MAX_SHOWN])


def one_of(names: Iterable[str], limit: int = 8) -> str:
    """'a, b, c' (at most `limit` names, then '...')."""
    names = list(names)
    shown = ", ".join(_segment(n) for n in names[:limit])
    return shown + (", ..." if len(names) > limit else "")


class Reporter:
    """Adds problems to a Source, finding the line from the key path."""

    def __init__(self, src: Source):
        self.src = src

    @property
    def count(self) -> int:
        return len(self.src.problems)

    def add(self, path: Path, message: str, at: Path | None = None) -> None:
        """A problem about `path`, on the line of `at` (default: of `path` itself)."""
        self.add_line(path, message, self.src.line(path if at is None else at))

    def add_line(self, path: Path, message: str, line: int | None) -> None:
        self.src.problems.append(Problem(self.src.filename, line, dotted(path), message))
