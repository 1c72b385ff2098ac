"""`lab up` of one generated lab by two checkouts of ovn-lab, runs interleaved (A, B, B, A,
...) so both see the same machine: wall seconds, the machine's idle CPU share and the
CPU-seconds all processes spent (from /proc/stat), each run and the medians, as JSON.

    sudo .venv/bin/python benchmarks/ab_up.py --base /path/to/other/checkout
        [--gen 50:10] [--switches 4] [--runs 3] [--provider netns] [--name abup]

The other checkout runs with this interpreter (its `lab` package imported from its own
tree, cwd first on sys.path), e.g. `git worktree add /tmp/base <rev>`. Each lab is taken
down after it is timed. Nothing is asserted: this only measures.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(BENCH))

from big_labs import lab_up  # noqa: E402  # one way to time a generated lab


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--base", type=Path, required=True, help="the other checkout")
    parser.add_argument("--gen", default="50:10", help="CHASSIS:VMS_PER_CHASSIS")
    parser.add_argument("--switches", type=int, default=4)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--provider", default="netns")
    parser.add_argument("--name", default="abup")
    args = parser.parse_args()
    chassis, vms = (int(x) for x in args.gen.split(":"))
    trees = {"this": REPO, "base": args.base.resolve()}
    runs: dict[str, list[dict[str, object]]] = {k: [] for k in trees}
    order = [k for i in range(args.runs) for k in (("this", "base") if i % 2 else ("base", "this"))]
    with tempfile.TemporaryDirectory(prefix="ab-up-") as tmp:
        for which in order:
            got = lab_up(
                chassis, vms, args.provider, args.name, Path(tmp), args.switches, trees[which]
            )
            print(json.dumps({which: got}), file=sys.stderr, flush=True)
            runs[which].append(got)
    medians = {
        which: {key: statistics.median(r[key] for r in rows) for key in rows[0]}
        for which, rows in runs.items()
    }
    print(
        json.dumps(
            {
                "lab": f"lab gen --chassis {chassis} --vms-per-chassis {vms} "
                f"--switches {args.switches}",
                "provider": args.provider,
                "trees": {k: str(v) for k, v in trees.items()},
                "medians": medians,
                "runs": runs,
            },
            indent=1,
        )
    )


if __name__ == "__main__":
    main()
