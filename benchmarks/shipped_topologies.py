"""Every shipped topology as a new user runs it: `lab up NAME`, `lab check`, `lab down`, on
each provider asked for, as JSON: seconds for up and down, checks passed and failed (with
the failing lines), and anything of the lab left afterwards (namespaces, containers,
state) - which should be nothing.

    sudo .venv/bin/python benchmarks/shipped_topologies.py [--providers netns,docker]
        [--only NAME,...] [--name tshp]

A topology that names its own build (mixed-versions, upgrade-rehearsal: docker builds)
runs once, as written. No timing is asserted anywhere: this only measures.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from lab.state.store import lab_dir  # noqa: E402

TOPOLOGIES = REPO / "topologies"
SUMMARY = re.compile(r"^(\d+) passed, (\d+) failed", re.M)


def _lab(*args: str, timeout: float = 1800) -> tuple[float, subprocess.CompletedProcess[str]]:
    start = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-m", "lab", *args], capture_output=True, text=True, timeout=timeout
    )
    return time.monotonic() - start, proc


def names_own_build(path: Path) -> bool:
    return re.search(r"^build:", path.read_text(), re.M) is not None


def leftovers(name: str) -> list[str]:
    left = [
        f"netns {ns}"
        for ns in subprocess.run(["ip", "netns"], capture_output=True, text=True).stdout.split()
        if ns.startswith(f"{name}.")
    ]
    containers = subprocess.run(
        ["docker", "ps", "-aq", "--filter", f"label=ovn-lab.lab={name}"],
        capture_output=True,
        text=True,
    ).stdout.split()
    left += [f"container {c}" for c in containers]
    if lab_dir(name).exists():
        left.append(f"state {lab_dir(name)}")
    return left


def run_one(topology: str, provider: str | None, name: str) -> dict[str, object]:
    row: dict[str, object] = {"topology": topology, "provider": provider or "as written"}
    extra = ["--provider", provider] if provider else []
    up_s, up = _lab("up", topology, "--name", name, *extra)
    row["up_s"] = round(up_s, 2)
    if up.returncode != 0:
        row["up_error"] = up.stderr.strip().splitlines()[-1:] or [f"exit {up.returncode}"]
    else:
        check_s, check = _lab("check", name)
        found = SUMMARY.search(check.stdout)
        row["check_s"] = round(check_s, 2)
        row["passed"], row["failed"] = (int(found[1]), int(found[2])) if found else (0, -1)
        row["failures"] = [ln for ln in check.stdout.splitlines() if ln.startswith("FAIL")]
    down_s, down = _lab("down", name)
    row["down_s"] = round(down_s, 2)
    if down.returncode != 0:
        row["down_error"] = down.stderr.strip()
    row["leftovers"] = leftovers(name)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--providers", default="netns,docker")
    parser.add_argument("--only", default="", help="topology names, comma-separated")
    parser.add_argument("--name", default="tshp", help="the lab name used for each run")
    args = parser.parse_args()
    wanted = {n for n in args.only.split(",") if n}
    rows = []
    for path in sorted(TOPOLOGIES.glob("*.yaml")):
        if wanted and path.stem not in wanted:
            continue
        providers = [None] if names_own_build(path) else args.providers.split(",")
        for provider in providers:
            row = run_one(path.stem, provider, args.name)
            print(json.dumps(row), file=sys.stderr, flush=True)  # progress as it goes
            rows.append(row)
    print(json.dumps({"runs": rows}, indent=1))


if __name__ == "__main__":
    main()
