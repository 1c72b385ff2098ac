"""How long `lab up --dry-run` takes to refuse each hostile input of tests/hostile_inputs.py
(Python start-up included), and its peak memory, as JSON. Issue 16's target: within a
second and under 100 MB each.

    python benchmarks/input_limits.py [--runs N]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.hostile_inputs import CASES, peak_kb, run_lab  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="runs per case (default 3)")
    args = parser.parse_args()
    results = {}
    with tempfile.TemporaryDirectory(prefix="lab-limits-") as tmp:
        for case, make in [*CASES.items(), ("/dev/zero", None)]:
            path = case if make is None else str(Path(tmp) / f"{case}.yaml")
            if make is not None:
                Path(path).write_text(make())
            runs = [run_lab("up", "--dry-run", path) for _ in range(args.runs)]
            seconds = [took for _, took in runs]
            results[case] = {
                "exit": sorted({proc.returncode for proc, _ in runs}),
                "seconds_median": round(statistics.median(seconds), 3),
                "seconds_max": round(max(seconds), 3),
                "peak_mb_max": round(max(peak_kb(proc) for proc, _ in runs) / 1024, 1),
            }
    met = all(
        r["exit"] == [2] and r["seconds_median"] <= 1.0 and r["peak_mb_max"] < 100
        for r in results.values()
    )
    print(json.dumps({"benchmark": "input_limits", "runs": args.runs, "cases": results,
                      "target_met": met}, indent=1))  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
