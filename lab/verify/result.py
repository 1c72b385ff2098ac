"""What a check returns, and the check of its settings every kind shares."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from lab.errors import UserError
from lab.topology.check_kinds import KIND_SETTINGS


@dataclass
class CheckResult:
    kind: str
    spec: dict[str, Any]
    passed: bool
    summary: str  # the evidence in a few words
    evidence: dict[str, Any] = field(default_factory=dict)
    diagnosis: str | None = None  # where it breaks, when it failed
    seconds: float = 0.0

    @property
    def title(self) -> str:
        bits = [f"{k}={v}" for k, v in self.spec.items() if not isinstance(v, (dict, list))]
        return f"{self.kind} " + " ".join(bits)

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "spec": self.spec,
            "passed": self.passed,
            "summary": self.summary,
            "evidence": self.evidence,
            "diagnosis": self.diagnosis,
            "seconds": round(self.seconds, 3),
        }


def require_keys(spec: dict[str, Any], kind: str) -> None:
    """The settings of a check are those lab.topology.check_kinds names for its kind."""
    required, optional = KIND_SETTINGS[kind]
    missing = [k for k in required if k not in spec]
    unknown = [k for k in spec if k not in required and k not in optional]
    if missing or unknown:
        allowed = ", ".join([*required, *optional])
        what = f"missing {', '.join(missing)}" if missing else f"unknown {', '.join(unknown)}"
        raise UserError(f"check '{kind}': {what}; allowed keys: {allowed}")
