"""Load balancer and ECMP numbers, repeated on real labs (JSON out):

- requests/s through a VIP from one client (sequential TCP exchanges, one process),
- how long OVN's health check takes to remove a dead backend and to return it,
- how long BFD takes to move every flow off a dead ECMP next hop, and to bring it back.

    flock /tmp/ovn-lab-real.lock python benchmarks/l3_measure.py --runs 3 -o l3.json

Uses topologies/load-balancer.yaml and topologies/ecmp.yaml, under lab names
<prefix>-lb and <prefix>-ecmp; both are brought down at the end.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]


def lab(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "lab", *args], capture_output=True, text=True, cwd=REPO, check=False
    )


def run_checks(name: str, entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Run check entries against a running lab, as `lab check` would run them."""
    from lab.state.store import load_state
    from lab.verify.checks import run_check
    from lab.verify.context import LabContext

    state = load_state(name)
    assert state is not None, name
    ctx = LabContext(state)
    return [run_check(ctx, i, e).to_dict() for i, e in enumerate(entries, 1)]


def summary(values: list[float | None]) -> dict[str, Any]:
    got = [v for v in values if v is not None]
    return {
        "runs": values,
        "median": statistics.median(got) if got else None,
        "min": min(got, default=None),
        "max": max(got, default=None),
    }


def measure(prefix: str, runs: int) -> dict[str, Any]:
    result: dict[str, Any] = {}
    name = f"{prefix}-lb"
    up = lab("up", str(REPO / "topologies/load-balancer.yaml"), "--name", name)
    if up.returncode != 0:
        raise SystemExit(up.stderr)
    try:
        rps, removed, returned = [], [], []
        for _ in range(runs):
            spread, stop = run_checks(
                name,
                [
                    {"lb": {"from": "vm3", "vip": "10.0.100.100:80", "requests": 200}},
                    {
                        "lb": {
                            "from": "vm3",
                            "vip": "10.0.100.100:80",
                            "stop": "vm2",
                            "within_s": 10,
                        }
                    },
                ],
            )
            rps.append(spread["evidence"]["requests_per_s"])
            removed.append(stop["evidence"]["removed_s"])
            returned.append(stop["evidence"]["returned_s"])
        result["vip_requests_per_s"] = summary(rps)
        result["health_check_remove_s"] = summary(removed)
        result["health_check_return_s"] = summary(returned)
        result["health_check"] = "interval 2 s, timeout 1 s, failure_count 2, success_count 1"
    finally:
        lab("down", name)
    name = f"{prefix}-ecmp"
    up = lab("up", str(REPO / "topologies/ecmp.yaml"), "--name", name)
    if up.returncode != 0:
        raise SystemExit(up.stderr)
    try:
        moved, back = [], []
        for _ in range(runs):
            (hop,) = run_checks(
                name,
                [
                    {
                        "nexthop": {
                            "from": "vm1",
                            "to": "203.0.113.100",
                            "via": ["up1", "up2"],
                            "flows": 24,
                            "stop": "up1",
                            "within_s": 6,
                        }
                    }
                ],
            )
            moved.append(hop["evidence"]["move_s"])
            back.append(hop["evidence"]["back_s"])
        result["ecmp_failover_s"] = summary(moved)
        result["ecmp_return_s"] = summary(back)
        result["bfd"] = "FRR bfdd tx/rx 300 ms x3; OVN BFD rows at their defaults"
    finally:
        lab("down", name)
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--prefix", default="bl3")
    parser.add_argument("-o", "--output", type=Path)
    args = parser.parse_args()
    sys.path.insert(0, str(REPO))
    data = measure(args.prefix, args.runs)
    text = json.dumps(data, indent=1)
    if args.output:
        args.output.write_text(text + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
