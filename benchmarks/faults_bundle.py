"""Gateway failover outage on a clean vs an impaired overlay, and time to bundle a lab and
to rebuild it from the bundle, as JSON.

    sudo .venv/bin/python benchmarks/faults_bundle.py [--runs 3] [--name benchfb] [-o FILE]

1. topologies/lossy-overlay.yaml: `lab check --json` `runs` times; each run has a failover
   on the clean overlay and one with 5 % loss + 50 ms delay on every overlay wire; the
   outage (longest gap between ping replies, 0.1 s interval) of each is collected;
2. for the seed (geneve-router) and vlan-l3ha: `lab up`, `lab check`, then `lab bundle`
   timed as a user runs it, `lab down`, `lab up --bundle` timed, `lab check` of the
   rebuilt lab, `lab down`; `runs` times.
No timing is asserted anywhere: this only measures.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def lab(*args: str, check: bool = True) -> tuple[float, subprocess.CompletedProcess[str]]:
    start = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-m", "lab", *args], capture_output=True, text=True, cwd=REPO
    )
    took = time.monotonic() - start
    if check and proc.returncode != 0:
        raise SystemExit(f"lab {' '.join(args)} failed ({proc.returncode}):\n{proc.stderr}")
    return took, proc


def stats(values: list[float]) -> dict[str, float | list[float]]:
    return {
        "runs": [round(v, 3) for v in values],
        "mean": round(statistics.mean(values), 3),
        "min": round(min(values), 3),
        "max": round(max(values), 3),
    }


def failover(name: str, runs: int, tmp: Path) -> dict[str, object]:
    lab("up", str(REPO / "topologies" / "lossy-overlay.yaml"), "--name", name)
    clean: list[float] = []
    impaired: list[float] = []
    passed = 0
    failed: list[str] = []
    try:
        for run in range(runs):
            report = tmp / f"lossy-{run}.json"
            _, proc = lab("check", name, "--json", str(report), check=False)
            passed += proc.returncode == 0
            checks = json.loads(report.read_text())["checks"]
            failed += [f"run {run}: {c['kind']} {c['summary']}" for c in checks if not c["passed"]]
            outages = [c["evidence"].get("outage_s") for c in checks if c["kind"] == "failover"]
            if len(outages) == 2 and None not in outages:
                clean.append(outages[0])
                impaired.append(outages[1])
    finally:
        lab("down", name)
    return {
        "clean_outage_s": stats(clean) if clean else None,
        "impaired_outage_s": stats(impaired) if impaired else None,
        "impairment": "5 % loss + 50 ms delay on every overlay wire",
        "check_runs_passed": f"{passed}/{runs}",
        "failed_checks": failed,
    }


def bundle_rebuild(topology: str, name: str, runs: int, tmp: Path) -> dict[str, object]:
    bundle_s, rebuild_s, sizes = [], [], []
    rebuilt_ok = 0
    for run in range(runs):
        path = tmp / f"{topology}-{run}.tar.gz"
        lab("up", str(REPO / "topologies" / f"{topology}.yaml"), "--name", name)
        try:
            lab("check", name, check=False)
            took, _ = lab("bundle", name, "-o", str(path))
            bundle_s.append(took)
            sizes.append(path.stat().st_size)
        finally:
            lab("down", name)
        took, _ = lab("up", "--bundle", str(path))
        rebuild_s.append(took)
        try:
            _, proc = lab("check", name, check=False)
            rebuilt_ok += proc.returncode == 0
        finally:
            lab("down", name)
    return {
        "bundle_s": stats(bundle_s),
        "rebuild_s": stats(rebuild_s),
        "bundle_bytes": max(sizes),
        "rebuilt_checks_passed": f"{rebuilt_ok}/{runs}",
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--name", default="benchfb")
    parser.add_argument("-o", "--output", help="write the JSON here too")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="ovn-lab-bench-") as tmp:
        result = {
            "failover": failover(args.name, args.runs, Path(tmp)),
            "bundle": {
                topo: bundle_rebuild(topo, args.name, args.runs, Path(tmp))
                for topo in ("geneve-router", "vlan-l3ha")
            },
        }
    text = json.dumps(result, indent=1)
    print(text)
    if args.output:
        Path(args.output).write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
