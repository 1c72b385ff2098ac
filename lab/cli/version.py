"""`lab --version`: ovn-lab's own version and the OVS / OVN this machine would run."""

from __future__ import annotations

import re
import subprocess
from importlib import metadata

import lab

# tool -> what it reports: `ovs-vswitchd --version` prints "ovs-vswitchd (Open vSwitch) 3.1.0",
# `ovn-controller --version` "ovn-controller 23.03.1" (then the OVS library it was built with)
TOOLS = {"Open vSwitch": "ovs-vswitchd", "OVN": "ovn-controller"}
FALLBACK = {"OVN": "ovn-northd"}  # a central-only machine has no ovn-controller


def package_version() -> str:
    try:
        return metadata.version("ovn-lab")
    except metadata.PackageNotFoundError:  # run from a checkout that is not installed
        return lab.__version__


def tool_version(tool: str) -> str | None:
    try:
        proc = subprocess.run([tool, "--version"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return None
    first = proc.stdout.splitlines()[0] if proc.stdout else ""
    found = re.search(r"(\d+\.\d+(?:\.\d+)?)\s*$", first)
    return found.group(1) if proc.returncode == 0 and found else None


def version_text() -> str:
    lines = [f"ovn-lab {package_version()}"]
    for name, tool in TOOLS.items():
        found = tool_version(tool) or (tool_version(FALLBACK[name]) if name in FALLBACK else None)
        lines.append(f"{name} {found}" if found else f"{name}: not installed ({tool} not found)")
    return "\n".join(lines) + "\n"
