"""Where the time to first ping of an added VM goes, on a running lab, as JSON.

    sudo .venv/bin/python benchmarks/first_ping_stages.py LAB [--samples 30] [--wait port|hv]
        [--settle]

Adds VMs one at a time (lab.ops.vms.add_vm, as `lab add-vm` does), pings a VM on another
chassis from each until the first reply, and removes it again. ovsdb-client monitors of the
SB Port_Binding and NB Logical_Switch_Port tables (with their timestamps) say when each
step happened, measured from the moment add_vm was called:

  pb_insert   northd made the Port_Binding          (NB -> northd -> SB)
  pb_claimed  the VM's chassis set itself on it      (its ovn-controller claimed the port)
  pb_up       that controller reported it up         (its flows are installed)
  lsp_up      northd copied up=true into the NB      (what `lab add-vm` used to wait for)
  added       add_vm returned
  first_reply the first ping reply

plus p50/p99 of each, and what one other chassis' ovn-controller and northd did meanwhile
(their inc-engine/show-stats and coverage counters: recomputes against incremental runs).
--wait: what add_vm waits for (port: its own chassis installed the port's flows, OVS
Interface ovn-installed; hv: the NB's copy of up, then every chassis caught up). --settle:
each sample starts on a lab that has caught up with the removal of the one before (untimed
`ovn-nbctl --wait=hv sync`); without it samples follow each other at once. Nothing asserted.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import subprocess
import sys
import threading
import time
from datetime import datetime
from ipaddress import IPv4Interface
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from lab import naming  # noqa: E402
from lab.ovn.daemons import control_socket  # noqa: E402
from lab.state.store import load_state, node_dir  # noqa: E402
from lab.topology import gen  # noqa: E402

sys.path.insert(0, str(REPO / "benchmarks"))
from scale import percentile, ping_until_reply  # noqa: E402  # one way to ping and rank

STAMP = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3})$")


class Monitor:
    """`ovsdb-client --timestamp monitor DB TABLE name,chassis,up`: when each row first got
    each of: inserted, a chassis, up=true (wall-clock seconds)."""

    def __init__(self, db: str, schema: str, table: str, columns: str) -> None:
        self.seen: dict[str, dict[str, float]] = {}
        self._proc = subprocess.Popen(
            ["ovsdb-client", "--timestamp", "monitor", db, schema, table, columns],
            stdout=subprocess.PIPE,
            text=True,
        )
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        assert self._proc.stdout is not None
        when = 0.0
        for line in self._proc.stdout:
            line = line.rstrip("\n")
            if found := STAMP.match(line):
                when = datetime.strptime(found[1], "%Y-%m-%d %H:%M:%S.%f").timestamp()
                continue
            words = line.split()
            if words and words[0] == "new":  # an update's new row: no uuid before it
                words = ["", *words]
            if len(words) < 3 or words[1] not in ("insert", "new"):
                continue
            name, rest = words[2], words[3:]
            marks = self.seen.setdefault(name, {})
            marks.setdefault("insert", when)
            if rest and rest[0] not in ("[]", "true", "false"):
                marks.setdefault("chassis", when)
            if rest and rest[-1] == "true":
                marks.setdefault("up", when)

    def stop(self) -> None:
        self._proc.terminate()
        self._proc.wait()


def appctl(node: Path, daemon: str, *command: str) -> str:
    sock = control_socket(node, daemon)
    if sock is None:
        return ""
    return subprocess.run(
        ["ovn-appctl", "-t", str(sock), *command], capture_output=True, text=True
    ).stdout


def engine_counts(text: str) -> dict[str, dict[str, int]]:
    """inc-engine/show-stats: per engine node, recompute / compute / cancel counts."""
    counts: dict[str, dict[str, int]] = {}
    for found in re.finditer(r"^Node: (\S+)\n- recompute:\s+(\d+)\n- compute:\s+(\d+)", text, re.M):
        counts[found[1]] = {"recompute": int(found[2]), "compute": int(found[3])}
    return counts


def coverage(text: str) -> dict[str, int]:
    out = {}
    for name in COVERAGE:
        found = re.search(rf"^{name}\s+.*total: (\d+)", text, re.M)
        out[name] = int(found[1]) if found else 0
    return out


def diff(after: dict, before: dict) -> dict:
    if isinstance(after, dict):
        keys = after.keys() | before.keys()
        d = {k: diff(after.get(k, 0), before.get(k, 0)) for k in keys}
        return {k: v for k, v in sorted(d.items()) if v}
    return after - before


def counters(watched: Path, central: Path) -> dict[str, dict]:
    """What a controller and northd have done so far (differences taken around the samples)."""
    return {
        "controller": engine_counts(appctl(watched, "ovn-controller", "inc-engine/show-stats")),
        "controller_coverage": coverage(appctl(watched, "ovn-controller", "coverage/show")),
        "northd": engine_counts(appctl(central, "ovn-northd", "inc-engine/show-stats")),
    }


COVERAGE = ("lflow_run", "physical_run", "consider_logical_flow", "pinctrl_run")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("lab")
    parser.add_argument("--samples", type=int, default=30)
    parser.add_argument("--wait", choices=("port", "hv"), default="port")
    parser.add_argument(
        "--settle",
        action="store_true",
        help="after removing each sample VM, wait (untimed) until every chassis has caught up,"
        " so no sample starts while a hundred chassis still process the last removal",
    )
    args = parser.parse_args()
    from lab.ops import vms as lab_vms

    state = load_state(args.lab)
    if state is None:
        raise SystemExit(f"no lab {args.lab}")
    info = state.info
    central = node_dir(state, str(info.central))
    chassis = sorted(n for n, d in info.nodes.items() if d.is_chassis)
    switches = sorted({v.switch for v in info.vms.values()})
    watcher = chassis[-1]  # one controller that is not the one binding (mostly)
    sb = Monitor(
        f"unix:{central / 'ovnsb_db.sock'}",
        "OVN_Southbound",
        "Port_Binding",
        "logical_port,chassis,up",
    )
    nb = Monitor(
        f"unix:{central / 'ovnnb_db.sock'}", "OVN_Northbound", "Logical_Switch_Port", "name,up"
    )
    time.sleep(1.0)  # the monitors' initial dumps
    before = counters(node_dir(state, watcher), central)
    samples = []
    for i in range(args.samples):
        host = chassis[i % len(chassis)]
        switch = switches[i % len(switches)]
        subnet = gen.switch_subnet(int(switch.removeprefix("sw")))
        ip = IPv4Interface(f"{subnet.broadcast_address - 1 - i}/{subnet.prefixlen}")
        others = sorted(v for v, d in info.vms.items() if d.chassis != host)
        target = info.vms[others[i % len(others)]].ip.split("/")[0]
        name = f"fs{i}"
        state = load_state(args.lab)
        assert state is not None
        start = time.time()
        lab_vms.add_vm(
            state,
            name,
            chassis=host,
            switch=switch,
            ip=str(ip),
            gateway=str(subnet.network_address + 1),
            mac=f"0a:fd:00:00:{i >> 8:02x}:{i & 0xFF:02x}",
            wait_for=args.wait,
        )
        added = time.time()
        ok = ping_until_reply(naming.netns_name(args.lab, name), target)
        reply = time.time()
        time.sleep(0.3)  # the NB copy of up, for the record
        marks = sb.seen.get(name, {})
        row = {f"pb_{k}": round(v - start, 3) for k, v in marks.items()}
        if "up" in nb.seen.get(name, {}):
            row["lsp_up"] = round(nb.seen[name]["up"] - start, 3)
        row |= {"added": round(added - start, 3), "first_reply": round(reply - start, 3)}
        row["ok"] = ok
        samples.append(row)
        print(json.dumps({"sample": i, "chassis": host, **row}), file=sys.stderr, flush=True)
        lab_vms.del_vm(load_state(args.lab), name)
        if args.settle:
            subprocess.run(
                ["ovn-nbctl", f"--db=unix:{central / 'ovnnb_db.sock'}", "--wait=hv", "sync"],
                check=True,
            )
    after = counters(node_dir(state, watcher), central)
    sb.stop()
    nb.stop()
    keys = ("pb_insert", "pb_chassis", "pb_up", "lsp_up", "added", "first_reply")
    summary = {}
    for key in keys:
        values = [s[key] for s in samples if key in s]
        if values:
            summary[key] = {
                "p50": round(percentile(values, 50), 3),
                "p99": round(percentile(values, 99), 3),
                "mean": round(statistics.mean(values), 3),
            }
    print(
        json.dumps(
            {
                "lab": args.lab,
                "chassis": len(chassis),
                "vms": len(info.vms),
                "wait": args.wait,
                "settled": args.settle,
                "samples": len(samples),
                "failures": sum(not s["ok"] for s in samples),
                "stages_s": summary,
                "during_samples": {"watched_controller": watcher, **diff(after, before)},
            },
            indent=1,
        )
    )


if __name__ == "__main__":
    main()
