"""What every command module of lab.cli shares: the consoles, the lab a command names."""

from __future__ import annotations

from collections.abc import Sequence

from rich.console import Console

from lab.state.store import LabState, open_lab

out = Console(soft_wrap=True)


err = Console(stderr=True, soft_wrap=True)


def _strip_dashes(argv: Sequence[str]) -> list[str]:
    argv = list(argv)
    return argv[1:] if argv[:1] == ["--"] else argv


def _state(name: str | None) -> LabState:
    return open_lab(name)
