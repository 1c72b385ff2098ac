"""Which OVN versions may run together, and in which order an upgrade goes: the rules of
OVN's own upgrade guide (Documentation/intro/install/ovn-upgrades.rst, "OVN Upgrades"),
quoted where a lab breaks them rather than paraphrased.
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass

# OVN's words, as the guide has them
RULE_ORDER = (
    "Rolling upgrade: 1. Upgrade ovn-controller 2. Upgrade OVN Databases and ovn-northd "
    '... "the ovn-controller process needs to understand the structure of the database '
    'for the version you are upgrading from and to simultaneously"'
)
RULE_SPAN = (
    '"The following rolling upgrade paths are supported: 1. LTS to the very next LTS '
    "release, or to any non-LTS in between the two. 2. Any non-LTS to the very next LTS "
    'release." (LTS: 22.03, then every two years)'
)
RULE_FAIL_SAFE = (
    '"If you want to upgrade between other versions, you can use the Fail-safe upgrade '
    "procedure\": ovn-controller's external_ids:ovn-match-northd-version=true, then OVN "
    "Databases and ovn-northd, then ovn-controller"
)
FIRST_LTS = (22, 3)


@dataclass(frozen=True, order=True)
class Release:
    year: int
    month: int

    @property
    def lts(self) -> bool:
        return self.month == 3 and self.year >= FIRST_LTS[0] and self.year % 2 == 0

    def next_lts(self) -> Release:
        """The first LTS release after this one."""
        year = max(self.year, FIRST_LTS[0])
        while not (Release(year, 3).lts and Release(year, 3) > self):
            year += 1
        return Release(year, 3)

    def __str__(self) -> str:
        return f"{self.year}.{self.month:02d}"


def release(version: str) -> Release | None:
    """'25.03.0' / '23.03.1' -> Release(25, 3); None for what is not a version."""
    found = re.match(r"^(\d+)\.(\d+)", version)
    return Release(int(found.group(1)), int(found.group(2))) if found else None


def rolling_supported(old: Release, new: Release) -> bool:
    """OVN's two supported rolling-upgrade paths (same release: always)."""
    if old == new:
        return True
    low, high = min(old, new), max(old, new)
    if low.lts:
        return high <= low.next_lts()
    return high == low.next_lts()


def mixed_warnings(controllers: dict[str, str], centrals: dict[str, str]) -> list[str]:
    """Warnings for a lab whose nodes run different OVN releases (node -> OVN version)."""
    warnings: list[str] = []
    every = {**controllers, **centrals}
    parsed = {n: release(v) for n, v in every.items()}
    known = {n: r for n, r in parsed.items() if r is not None}
    if len(set(known.values())) <= 1:
        return warnings
    low = min(known.values())
    high = max(known.values())
    if not rolling_supported(low, high):
        warnings.append(
            f"this lab mixes OVN {low} and {high}, which OVN's upgrade guide does not support "
            f"running side by side: {RULE_SPAN}; expect flows the older side does not "
            "understand"
        )
    newest_central = max((known[n] for n in centrals if n in known), default=None)
    old_ctl = sorted(
        n for n in controllers if n in known and newest_central and known[n] < newest_central
    )
    if old_ctl:
        warnings.append(
            f"ovn-controller on {', '.join(old_ctl)} is older than ovn-northd "
            f"({newest_central}); OVN upgrades controllers first: {RULE_ORDER}"
        )
    return warnings


def upgrade_order(old: Release | None, new: Release | None) -> str:
    """'rolling' (controllers first, then central) or 'fail-safe' (pin the controllers to
    northd's version, central first, then controllers), as OVN's guide prescribes."""
    if old is None or new is None or rolling_supported(old, new):
        return "rolling"
    return "fail-safe"


def refusal(controllers: dict[str, str], centrals: dict[str, str]) -> str | None:
    """A lab whose ovn-controllers are older than its ovn-northd is refused: OVN's rolling
    upgrade never has one (controllers go first), and measured here it does not work
    even within a supported span: 23.03 controllers under 24.03 or 25.03 northd, and
    24.03 under 25.03, all lose the ping (the older controller rejects flows it cannot
    parse, e.g. ct_mark.allow_established, and 23.03 under 25.03 builds no tunnels)."""
    newest = max((r for v in centrals.values() if (r := release(v))), default=None)
    if newest is None:
        return None
    old = sorted(n for n, v in controllers.items() if (r := release(v)) and r < newest)
    if not old:
        return None
    oldest = min(r for n in old if (r := release(controllers[n])))
    return (
        f"ovn-controller {oldest} on {', '.join(old)} cannot follow ovn-northd {newest}: OVN "
        f"upgrades controllers first ({RULE_ORDER}); give the central the older build or "
        "the chassis the newer one"
    )


def host_versions() -> tuple[str, str]:
    """The host's OVS and OVN (what a `host` build runs), from the binaries themselves."""
    return _version(["ovs-vswitchd", "--version"]), _version(["ovn-controller", "--version"])


def _version(argv: list[str]) -> str:
    try:
        text = subprocess.run(argv, capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.TimeoutExpired):
        return "not installed"
    found = re.search(r"(\d+\.\d+\.\d+[\w.~+-]*)", text.splitlines()[0] if text else "")
    return found.group(1) if found else "unknown"
