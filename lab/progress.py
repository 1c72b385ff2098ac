"""Progress for long commands: a live spinner on a terminal, nothing when piped."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.status import Status


class Progress:
    def __init__(self, enabled: bool | None = None) -> None:
        self.console = Console(stderr=True)
        if enabled is None:  # `lab -q` sets OVN_LAB_QUIET
            enabled = sys.stderr.isatty() and not os.environ.get("OVN_LAB_QUIET")
        self.enabled = enabled
        self.timings: dict[str, float] = {}
        self._status: Status | None = None
        self._text = ""

    @contextmanager
    def step(self, text: str) -> Iterator[None]:
        start = time.monotonic()
        if self.enabled:
            with self.console.status(text) as status:
                self._status, self._text = status, text
                try:
                    yield
                finally:
                    self._status = None
        else:
            yield
        took = time.monotonic() - start
        self.timings[text] = took
        if self.enabled:
            self.console.print(f"[green]✓[/green] {text} [dim]{took:.2f} s[/dim]")

    def note(self, detail: str) -> None:
        """Show what a long step is doing right now (e.g. which package is being fetched)."""
        if self._status is not None:
            self._status.update(f"{self._text}: [dim]{detail}[/dim]")
