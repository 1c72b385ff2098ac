"""`lab up` time and the machine's idle CPU share against lab size, for the README's "Big
labs" plot: ovn-lab on netns and on docker, the naive serial script (bare chassis with a
central, benchmarks/baseline_serial.sh) and the peer's docker way (a serial `docker run` per
node, `docker exec` per daemon: benchmarks/baseline_docker_serial.sh), all in one run.

    sudo .venv/bin/python benchmarks/big_labs.py [--sizes 10,25,50,100] [--vms-per-chassis 10]
        [--ways netns,docker,baseline,peer] [--png FILE.png] [--name bigl]

Prints JSON (one row per size and way: seconds, idle share, CPU-seconds) and writes the
plot as PNG (by default into benchmarks/results; matplotlib:
`pip install -c constraints.txt -e '.[bench]'`). Each lab is taken down after it is timed.
No timing is asserted anywhere: this only measures.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(BENCH))

from cpustat import CpuWindow  # noqa: E402

from lab.topology import gen  # noqa: E402

WAYS = ("netns", "docker", "baseline", "peer")
LABELS = {
    "netns": "ovn-lab, netns (with VMs)",
    "docker": "ovn-lab, docker (with VMs)",
    "baseline": "naive serial script, bare chassis",
    "peer": "peer's docker way, bare chassis",
}


def _run(argv: list[str], timeout: float = 1800, cwd: Path = REPO) -> float:
    start = time.monotonic()
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, cwd=cwd)
    took = time.monotonic() - start
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed ({proc.returncode}): {proc.stderr[-2000:]}")
    return took


def lab_up(
    size: int,
    vms: int,
    provider: str,
    name: str,
    directory: Path,
    switches: int = 4,
    tree: Path = REPO,
) -> dict[str, object]:
    """`lab gen` + `lab up` + `lab down` of one lab, timed with the machine's CPU over the
    up. `tree`: the checkout whose `lab` runs (its package first on sys.path, from cwd)."""
    topo = directory / f"{name}.yaml"
    topo.write_text(gen.generate(size, vms, switches, name=name))
    lab = [sys.executable, "-m", "lab"]
    with CpuWindow() as cpu:
        took = _run([*lab, "up", str(topo), "--provider", provider], cwd=tree)
    down = _run([*lab, "down", name], cwd=tree)
    return {"s": round(took, 2), **cpu.as_json("up"), "down_s": round(down, 2)}


def script(size: int, way: str, prefix: str) -> dict[str, object]:
    if way == "baseline":
        up = [str(BENCH / "baseline_serial.sh"), str(size), prefix, "central"]
        cleanup = [str(BENCH / "baseline_cleanup.sh"), prefix]
    else:
        up = [str(BENCH / "baseline_docker_serial.sh"), str(size), prefix]
        cleanup = [str(BENCH / "baseline_docker_serial.sh"), "--cleanup", prefix]
    try:
        with CpuWindow() as cpu:
            took = _run(up)
    finally:
        subprocess.run(cleanup, capture_output=True, check=False)
    return {"s": round(took, 2), **cpu.as_json("up")}


def plot(rows: list[dict[str, object]], png: Path, vms: int) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
    for way in WAYS:
        mine = [r for r in rows if r["way"] == way]
        if not mine:
            continue
        sizes = [r["chassis"] for r in mine]
        left.plot(sizes, [r["s"] for r in mine], marker="o", label=LABELS[way])
        right.plot(sizes, [100 * r["up_idle_share"] for r in mine], marker="o", label=LABELS[way])
    left.set(
        xlabel="chassis", ylabel="seconds until up", title=f"bring-up time ({vms} VMs/chassis)"
    )
    right.set(xlabel="chassis", ylabel="% of CPU time idle", title="idle CPU during bring-up")
    right.axhline(10, color="grey", linestyle="--", linewidth=0.8)
    for ax in (left, right):
        ax.grid(alpha=0.3)
        ax.set_ylim(bottom=0)
    left.legend(fontsize=8)
    cores = os.cpu_count()
    fig.suptitle(f"ovn-lab bring-up against lab size, one run on {cores} cores", fontsize=10)
    fig.tight_layout()
    fig.savefig(png, dpi=110)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", default="10,25,50,100")
    parser.add_argument("--vms-per-chassis", type=int, default=10)
    parser.add_argument("--ways", default=",".join(WAYS))
    parser.add_argument("--png", type=Path, default=BENCH / "results" / "big-labs.png")
    parser.add_argument("--name", default="bigl", help="lab name and script prefix")
    args = parser.parse_args()
    if os.geteuid() != 0:
        raise SystemExit("run as root (namespaces, OVS daemons, docker)")
    sizes = [int(s) for s in args.sizes.split(",")]
    ways = [w for w in args.ways.split(",") if w]
    if unknown := set(ways) - set(WAYS):
        parser.error(f"--ways: unknown {', '.join(sorted(unknown))} (known: {', '.join(WAYS)})")
    rows: list[dict[str, object]] = []
    with tempfile.TemporaryDirectory(prefix="big-labs-") as tmp:
        for size in sizes:
            for way in ways:
                if way in ("netns", "docker"):
                    got = lab_up(size, args.vms_per_chassis, way, args.name, Path(tmp))
                else:
                    got = script(size, way, f"{args.name}{way[0]}")
                row = {"chassis": size, "way": way, **got}
                print(json.dumps(row), file=sys.stderr, flush=True)  # progress as it goes
                rows.append(row)
    plot(rows, args.png, args.vms_per_chassis)
    print(
        json.dumps(
            {"vms_per_chassis": args.vms_per_chassis, "png": str(args.png), "rows": rows}, indent=1
        )
    )


if __name__ == "__main__":
    main()
