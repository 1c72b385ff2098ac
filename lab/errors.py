"""Error types. Only lab.cli.main turns them into messages and exit codes."""

from __future__ import annotations

from dataclasses import dataclass


class LabError(Exception):
    """Base class: a failure the user should see as one clear message."""

    exit_code = 3


class UserError(LabError):
    """Something the user can fix: bad input, unmet preflight, name already taken."""

    exit_code = 2


class RuntimeFailure(LabError):
    """A provider or daemon misbehaved while the lab was being built or queried."""

    exit_code = 3


@dataclass(frozen=True)
class Problem:
    """One error found in a topology file, with where it is."""

    file: str
    line: int | None
    key: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {self.key}: {self.message}" if self.key else f"{where}: {self.message}"


class TopologyError(UserError):
    """All problems found in one topology file (collected, not first-only)."""

    SHOWN = 50  # lines in the message; a file of 50,000 bad items prints 50 and a count

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        lines = [str(p) for p in problems[: self.SHOWN]]
        if len(problems) > self.SHOWN:
            lines.append(f"... and {len(problems) - self.SHOWN} more problems; fix these first")
        super().__init__("\n".join(lines))
