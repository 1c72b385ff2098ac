"""Builds: image build time per build (cold and cached), a cold source build, the seed
lab's `lab up` on each build, and the outage per node of a bookworm -> trixie upgrade.

    python benchmarks/builds.py [--tree OVN_TREE] [--cold] [--json FILE]

--cold rebuilds every image (--force) and recompiles the source tree: the compile
alone takes about 5 minutes on 2 shared cores (OVS then OVN, make -j2, niced), which is
why CI only exercises the cached path. An OVN tree: a checkout of OVN with its `ovs`
submodule (or without: the builder's packaged OVS source is used), e.g. an OVN release
tag exported with `git archive` plus `git -C ovs archive <submodule commit>`.

Run it as root, under the machine-wide lock for the lab parts:
    flock /tmp/ovn-lab-real.lock python benchmarks/builds.py --tree /var/cache/ovn-lab/trees/ovn
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SEED = REPO / "topologies" / "geneve-router.yaml"
UPGRADE = REPO / "topologies" / "upgrade-rehearsal.yaml"


def lab(*args: str, timeout: float = 3600) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "lab", *args], capture_output=True, text=True, timeout=timeout
    )


def timed(*args: str) -> tuple[float, subprocess.CompletedProcess[str]]:
    start = time.monotonic()
    proc = lab(*args)
    took = round(time.monotonic() - start, 2)
    if proc.returncode != 0:
        raise SystemExit(f"lab {' '.join(args)} failed:\n{proc.stderr}")
    return took, proc


def image_times(build: str, cold: bool) -> dict[str, object]:
    result: dict[str, object] = {"build": build}
    if cold:
        result["cold_s"], proc = timed("image", "build", "--build", build, "--force")
        result["tag"] = proc.stdout.strip().splitlines()[-1]
    result["cached_s"], proc = timed("image", "build", "--build", build)
    result["tag"] = proc.stdout.strip().splitlines()[-1]
    return result


def seed_up(build: str, name: str) -> dict[str, object]:
    text = SEED.read_text().replace("provider: netns", f"build: {build}")
    with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as fh:
        fh.write(text)
    try:
        took, _ = timed("up", fh.name, "--name", name)
        check = lab("check", name, timeout=600)
        passed = re.search(r"(\d+) passed, (\d+) failed", check.stdout)
        return {"build": build, "up_s": took, "checks": passed.group(0) if passed else "?"}
    finally:
        lab("down", name)
        Path(fh.name).unlink()


def upgrade_outage(name: str) -> dict[str, object]:
    lab("down", name)
    try:
        timed("up", str(UPGRADE), "--name", name)
        with tempfile.NamedTemporaryFile(suffix=".json") as report:
            check = lab("check", name, "--json", report.name, timeout=900)
            data = json.loads(Path(report.name).read_text())
        evidence = data["checks"][0]["evidence"]
        return {
            "checks_passed": check.returncode == 0,
            "procedure": evidence["procedure"],
            "nodes": evidence["nodes"],
            "total_outage_s": evidence["total_outage_s"],
        }
    finally:
        lab("down", name)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tree", type=Path, help="an OVN source tree for source: builds")
    parser.add_argument("--cold", action="store_true", help="rebuild images and the compile")
    parser.add_argument("--json", type=Path, help="write the results here too")
    parser.add_argument("--images-only", action="store_true", help="no labs (no lock needed)")
    parser.add_argument("--prefix", default="bench", help="lab names: PREFIX-b0, ...")
    args = parser.parse_args()
    builds = ["debian:bookworm", "debian:trixie"]
    if args.tree:
        builds.append(f"source:{args.tree.resolve()}")
    results: dict[str, object] = {"images": [], "seed_up": []}
    for build in builds:
        results["images"].append(image_times(build, args.cold))  # type: ignore[attr-defined]
        print(json.dumps(results["images"][-1]), flush=True)  # type: ignore[index]
    for i, build in enumerate([] if args.images_only else builds):
        results["seed_up"].append(seed_up(build, f"{args.prefix}-b{i}"))  # type: ignore[attr-defined]
        print(json.dumps(results["seed_up"][-1]), flush=True)  # type: ignore[index]
    if not args.images_only:
        results["upgrade"] = upgrade_outage(f"{args.prefix}-upg")
        print(json.dumps(results["upgrade"]), flush=True)
    if args.json:
        args.json.write_text(json.dumps(results, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
