"""Seconds for `lab up` (to return, every port up) and `lab down` on a topology, and memory
per node, as JSON.

Runs the CLI as a user would, several times, and reports each run and the median.
    python benchmarks/seed_up_down.py [--topology FILE] [--runs N] [--provider netns|docker]

Memory per node: the resident set of every process in the node's network namespace (its
daemons; for a container also its init), averaged over the lab's nodes; on docker also
docker's own figure for the container (its cgroup: processes plus page cache).
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
sys.path.insert(0, str(REPO))


def timed(*args: str) -> float:
    start = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-m", "lab", *args], capture_output=True, text=True, cwd=REPO
    )
    took = time.monotonic() - start
    if proc.returncode != 0:
        raise SystemExit(f"lab {' '.join(args)} failed: {proc.stderr.strip()}")
    return took


def rss_mb_per_node(name: str) -> float:
    from lab.providers.netns.namespaces import pids_in
    from lab.state.store import load_state

    state = load_state(name)
    assert state is not None
    nodes = [str(n.netns) for n in state.info.nodes.values()]
    total = 0
    for pid in pids_in(nodes):
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            continue
    return total / 1024 / len(nodes)


def container_mb_per_node(name: str) -> float:
    import docker

    containers = docker.from_env().containers.list(filters={"label": f"ovn-lab.lab={name}"})
    usage = [c.stats(stream=False)["memory_stats"]["usage"] for c in containers]
    return sum(usage) / 1024 / 1024 / len(usage)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--topology", default=str(REPO / "topologies" / "geneve-router.yaml"))
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--name", default="bench")
    parser.add_argument("--provider", default="netns", choices=["netns", "docker"])
    args = parser.parse_args()
    ups, downs, rss, cgroup = [], [], [], []
    for _ in range(args.runs):
        ups.append(timed("up", args.topology, "--name", args.name, "--provider", args.provider))
        rss.append(rss_mb_per_node(args.name))
        if args.provider == "docker":
            cgroup.append(container_mb_per_node(args.name))
        downs.append(timed("down", args.name))
    memory = {"rss_mb_per_node": round(statistics.median(rss), 1)}
    if cgroup:
        memory["container_mb_per_node"] = round(statistics.median(cgroup), 1)
    print(
        json.dumps(
            {
                "topology": Path(args.topology).name,
                "provider": args.provider,
                "runs": args.runs,
                **memory,
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
