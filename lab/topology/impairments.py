"""`lab impair` and the `impair` check step: delay, jitter, loss and rate, validated."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from lab.errors import UserError

LABELS = {
    "delay_ms": "delay (ms)",
    "jitter_ms": "jitter (ms)",
    "loss_pct": "loss (%)",
    "rate_mbit": "rate (Mbit/s)",
}


LIMITS = {  # option -> (min, max), inclusive
    "delay_ms": (0.0, 60_000.0),
    "jitter_ms": (0.0, 60_000.0),
    "loss_pct": (0.0, 100.0),
    "rate_mbit": (0.001, 100_000.0),
}


@dataclass
class Impairment:
    delay_ms: float = 0.0
    jitter_ms: float = 0.0
    loss_pct: float = 0.0
    rate_mbit: float | None = None

    @property
    def empty(self) -> bool:
        return not (self.delay_ms or self.jitter_ms or self.loss_pct or self.rate_mbit)

    def describe(self) -> str:
        bits = []
        if self.delay_ms or self.jitter_ms:
            bits.append(
                f"delay {self.delay_ms:g} ms" + (f" ±{self.jitter_ms:g}" * bool(self.jitter_ms))
            )
        if self.loss_pct:
            bits.append(f"loss {self.loss_pct:g} %")
        if self.rate_mbit:
            bits.append(f"rate {self.rate_mbit:g} Mbit/s")
        return ", ".join(bits) or "none"


def impairment(
    delay_ms: Any = None, jitter_ms: Any = None, loss_pct: Any = None, rate_mbit: Any = None
) -> Impairment:
    """Validated settings; out of range or not a number: UserError naming the option."""
    values: dict[str, float | None] = {}
    for key, raw in (
        ("delay_ms", delay_ms),
        ("jitter_ms", jitter_ms),
        ("loss_pct", loss_pct),
        ("rate_mbit", rate_mbit),
    ):
        if raw is None:
            values[key] = None
            continue
        low, high = LIMITS[key]
        try:
            if isinstance(raw, bool):
                raise ValueError
            value = float(raw)
        except (TypeError, ValueError):
            raise UserError(
                f"impair {key} must be a number from {low:g} to {high:g}, not {raw!r}"
            ) from None
        if not low <= value <= high:
            raise UserError(
                f"impair {LABELS[key]} {value:g} is out of range; use {low:g} to {high:g}"
            )
        values[key] = value
    if values["jitter_ms"] and not values["delay_ms"]:
        raise UserError(
            "impair jitter needs a delay to vary around; add one (--delay MS, delay_ms:)"
        )
    if values["jitter_ms"] and values["delay_ms"] and values["jitter_ms"] > values["delay_ms"]:
        raise UserError(
            "impair jitter must not exceed the delay; lower the jitter or raise the delay"
        )
    return Impairment(
        delay_ms=values["delay_ms"] or 0.0,
        jitter_ms=values["jitter_ms"] or 0.0,
        loss_pct=values["loss_pct"] or 0.0,
        rate_mbit=values["rate_mbit"],
    )
