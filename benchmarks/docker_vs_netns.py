"""`lab up` and `lab down` of one topology on provider netns and provider docker, runs
interleaved (netns, docker, docker, netns, ...) so both see the same machine, as JSON:
each run, the medians and the docker/netns ratios.

    sudo .venv/bin/python benchmarks/docker_vs_netns.py [--topology FILE] [--runs N]
        [--name bench] [--gen CHASSIS:VMS_PER_CHASSIS [--switches 4]] [--peer N]

--peer N also times the peer's way for N bare chassis (benchmarks/baseline_docker_serial.sh:
a serial `docker run` per node and `docker exec` per daemon, as ovn-fake-multinode does),
interleaved with the runs above (its names: the lab name + "p", at most 8 characters).

--gen 20:10 times a `lab gen --chassis 20 --vms-per-chassis 10 --switches 4` lab (20
chassis, 200 VMs) instead of a topology file. Timed as a user runs the CLI (its Python
start-up included). No timing is asserted anywhere: this only measures.
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
PEER = REPO / "benchmarks" / "baseline_docker_serial.sh"
PROVIDERS = ("netns", "docker")


sys.path.insert(0, str(REPO))

from benchmarks.seed_up_down import timed  # noqa: E402  # one way to time a lab command


def peer(n: int, prefix: str) -> float:
    """Seconds for the peer's way to bring up n bare chassis (then removed)."""
    try:
        start = time.monotonic()
        proc = subprocess.run([PEER, str(n), prefix], capture_output=True, text=True)
        took = time.monotonic() - start
        if proc.returncode != 0:
            raise SystemExit(f"{PEER.name} failed: {proc.stderr.strip()[-500:]}")
    finally:
        subprocess.run([PEER, "--cleanup", prefix], check=False)
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
    parser.add_argument("--peer", type=int, help="also time the peer's way for N chassis")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        if args.gen:
            topology = generated(args.gen, args.switches, Path(tmp))
        else:
            topology = Path(args.topology)
        up: dict[str, list[float]] = {p: [] for p in PROVIDERS}
        down: dict[str, list[float]] = {p: [] for p in PROVIDERS}
        peers: list[float] = []
        for i in range(args.runs):
            for provider in PROVIDERS if i % 2 == 0 else PROVIDERS[::-1]:
                up[provider].append(
                    timed("up", str(topology), "--name", args.name, "--provider", provider)
                )
                down[provider].append(timed("down", args.name))
            if args.peer:
                peers.append(peer(args.peer, (args.name + "p")[:8]))  # its PREFIX
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
                **(
                    {
                        "peer_chassis": args.peer,
                        "peer_up_s": round(statistics.median(peers), 3),
                        "peer_runs_s": [round(x, 3) for x in peers],
                    }
                    if peers
                    else {}
                ),
                "includes": "python start-up of the CLI, like a user's shell",
            },
            indent=1,
        )
    )


if __name__ == "__main__":
    main()
