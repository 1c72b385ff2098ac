"""`lab up` and `lab down` of one topology on provider netns and provider docker, runs
interleaved (netns, docker, docker, netns, ...) so both see the same machine, as JSON:
each run, the medians and the docker/netns ratios.

    sudo .venv/bin/python benchmarks/docker_vs_netns.py [--topology FILE] [--runs N]
        [--name bench] [--gen CHASSIS:VMS_PER_CHASSIS [--switches 4]]

--gen 20:10 times a `lab gen --chassis 20 --vms-per-chassis 10 --switches 4` lab (20
chassis, 200 VMs)
instead of a topology file. Timed as a user runs the CLI (its Python start-up included).
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
PROVIDERS = ("netns", "docker")


def timed(*args: str) -> float:
    start = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-m", "lab", *args], capture_output=True, text=True, cwd=REPO
    )
    took = time.monotonic() - start
    if proc.returncode != 0:
        raise SystemExit(f"lab {' '.join(args)} failed: {proc.stderr.strip()}")
    return took


def generated(spec: str, switches: int, directory: Path) -> Path:
    chassis, _, per = spec.partition(":")
    path = directory / f"gen-{chassis}x{per}.yaml"
    gen = [sys.executable, "-m", "lab", "gen", "--chassis", chassis, "--vms-per-chassis", per,
           "--switches", str(switches)]  # fmt: skip
    text = subprocess.run(gen, capture_output=True, text=True, check=True, cwd=REPO).stdout
    path.write_text(text)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--topology", default=str(REPO / "topologies" / "geneve-router.yaml"))
    parser.add_argument("--gen", help="CHASSIS:VMS_PER_CHASSIS, a `lab gen` lab instead")
    parser.add_argument("--switches", type=int, default=4, help="with --gen (default 4)")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--name", default="bench")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        if args.gen:
            topology = generated(args.gen, args.switches, Path(tmp))
        else:
            topology = Path(args.topology)
        up: dict[str, list[float]] = {p: [] for p in PROVIDERS}
        down: dict[str, list[float]] = {p: [] for p in PROVIDERS}
        for i in range(args.runs):
            for provider in PROVIDERS if i % 2 == 0 else PROVIDERS[::-1]:
                up[provider].append(
                    timed("up", str(topology), "--name", args.name, "--provider", provider)
                )
                down[provider].append(timed("down", args.name))
    med = {k: {p: round(statistics.median(v[p]), 3) for p in PROVIDERS} for k, v in
           (("up", up), ("down", down))}  # fmt: skip
    print(
        json.dumps(
            {
                "topology": args.gen or topology.name,
                "runs": args.runs,
                "lab_up_s": med["up"],
                "lab_down_s": med["down"],
                "up_ratio_docker_to_netns": round(med["up"]["docker"] / med["up"]["netns"], 2),
                "down_ratio_docker_to_netns": round(
                    med["down"]["docker"] / med["down"]["netns"], 2
                ),
                "lab_up_runs_s": {p: [round(x, 3) for x in up[p]] for p in PROVIDERS},
                "lab_down_runs_s": {p: [round(x, 3) for x in down[p]] for p in PROVIDERS},
                "includes": "python start-up of the CLI, like a user's shell",
            },
            indent=1,
        )
    )


if __name__ == "__main__":
    main()
