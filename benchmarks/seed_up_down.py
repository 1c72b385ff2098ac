"""Seconds for `lab up` (to return, every port up) and `lab down` on a topology, as JSON.

Runs the CLI as a user would, several times, and reports each run and the median.
    python benchmarks/seed_up_down.py [--topology FILE] [--runs N]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def timed(*args: str) -> float:
    start = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-m", "lab", *args], capture_output=True, text=True, cwd=REPO
    )
    took = time.monotonic() - start
    if proc.returncode != 0:
        raise SystemExit(f"lab {' '.join(args)} failed: {proc.stderr.strip()}")
    return took


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--topology", default=str(REPO / "topologies" / "geneve-router.yaml"))
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--name", default="bench")
    args = parser.parse_args()
    ups, downs = [], []
    for _ in range(args.runs):
        ups.append(timed("up", args.topology, "--name", args.name))
        downs.append(timed("down", args.name))
    print(
        json.dumps(
            {
                "topology": Path(args.topology).name,
                "runs": args.runs,
                "lab_up_s": round(statistics.median(ups), 3),
                "lab_down_s": round(statistics.median(downs), 3),
                "lab_up_runs_s": [round(x, 3) for x in ups],
                "lab_down_runs_s": [round(x, 3) for x in downs],
                "includes": "python start-up of the CLI, like a user's shell",
            },
            indent=1,
        )
    )


if __name__ == "__main__":
    main()
