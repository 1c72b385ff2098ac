"""The ToR CAM table: MAC learning table of a VLAN fabric's switch, with the node behind
each port, and a watcher that counts MAC moves (flaps).

Moves per (VLAN, MAC) are sampled by polling the table; a MAC flipping back and forth
between two samples is missed. The ToR's own counter (`fdb/stats-show`: port moved MAC
entries) is exact but not per MAC; both are reported."""

from __future__ import annotations

import re
import threading
import time
from collections import Counter
from dataclasses import dataclass, field

from lab.errors import UserError
from lab.fabric import FABRIC_DIR, tor_env
from lab.naming import fabric_bridge
from lab.runner import run
from lab.state import LabState
from lab.verify.flows import parse_ofctl_show

_ROW = re.compile(r"^\s*(\d+|LOCAL)\s+(\d+)\s+([0-9a-f:]{17})\s+(\d+)\s*$")


@dataclass(frozen=True)
class Entry:
    fabric: str
    vlan: int
    mac: str
    port: str  # interface on the ToR
    node: str  # the node behind that interface ("" when unknown, e.g. the switch itself)
    age: int


def parse_fdb_show(output: str) -> list[tuple[str, int, str, int]]:
    """`ovs-appctl fdb/show` rows as (port, vlan, mac, age)."""
    rows = []
    for line in output.splitlines():
        m = _ROW.match(line)
        if m:
            rows.append((m.group(1), int(m.group(2)), m.group(3), int(m.group(4))))
    return rows


def vlan_fabrics(state: LabState) -> list[str]:
    return list(state.info.get("vlan_fabrics", []))


class CamTable:
    """Reads the CAM tables of a lab's VLAN fabrics."""

    def __init__(self, state: LabState, fabric: str | None = None):
        fabrics = vlan_fabrics(state)
        if not fabrics:
            raise UserError(f"lab {state.name} has no VLAN fabric (`vlans: true`), so no ToR")
        if fabric is not None and fabric not in fabrics:
            raise UserError(
                f"'{fabric}' is not a VLAN fabric of lab {state.name} "
                f"(VLAN fabrics: {', '.join(fabrics)})"
            )
        self.fabrics = [fabric] if fabric else fabrics
        self.netns = state.info["fabric_netns"]
        self.env = tor_env(state.dir / FABRIC_DIR)
        self.port_nodes = {
            link["fabric_if"]: node
            for node, info in state.info["nodes"].items()
            for link in info["links"].values()
        }
        self._ofports: dict[str, dict[int, str]] = {}

    def _ports(self, fabric: str) -> dict[int, str]:
        if fabric not in self._ofports:
            show = run(["ovs-ofctl", "show", fabric_bridge(fabric)], netns=self.netns, env=self.env)
            self._ofports[fabric] = parse_ofctl_show(show.stdout)
        return self._ofports[fabric]

    def moved_total(self) -> int:
        """The ToR's own count of MAC moves (exact; sampling the table misses quick flips)."""
        total = 0
        for fabric in self.fabrics:
            out = run(
                ["ovs-appctl", "fdb/stats-show", fabric_bridge(fabric)],
                netns=self.netns,
                env=self.env,
            ).stdout
            m = re.search(r"port moved MAC entries\s*:\s*(\d+)", out)
            total += int(m.group(1)) if m else 0
        return total

    def read(self) -> list[Entry]:
        entries = []
        for fabric in self.fabrics:
            out = run(
                ["ovs-appctl", "fdb/show", fabric_bridge(fabric)], netns=self.netns, env=self.env
            ).stdout
            ports = self._ports(fabric)
            for port, vlan, mac, age in parse_fdb_show(out):
                name = "LOCAL" if port == "LOCAL" else ports.get(int(port), port)
                entries.append(Entry(fabric, vlan, mac, name, self.port_nodes.get(name, ""), age))
        return entries


@dataclass
class Move:
    at: float
    fabric: str
    vlan: int
    mac: str
    old: str  # node (or port) the MAC was behind
    new: str


@dataclass
class Watcher:
    """Polls the CAM table and records every move of a (VLAN, MAC) to another port."""

    cam: CamTable
    interval: float = 0.1
    moves: list[Move] = field(default_factory=list)  # sampled, per (VLAN, MAC)
    seen: dict[tuple[str, int, str], str] = field(default_factory=dict)
    tor_moves_start: int = 0
    tor_moves: int = 0  # exact total counted by the ToR since start()
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def poll(self) -> list[Move]:
        new_moves = []
        for e in self.cam.read():
            key = (e.fabric, e.vlan, e.mac)
            where = e.node or e.port
            before = self.seen.get(key)
            if before is not None and before != where:
                new_moves.append(Move(time.time(), e.fabric, e.vlan, e.mac, before, where))
            self.seen[key] = where
        self.moves += new_moves
        return new_moves

    def start(self) -> None:
        self.tor_moves_start = self.cam.moved_total()
        self.poll()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.poll()

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join()
        self.poll()
        self.tor_moves = self.cam.moved_total() - self.tor_moves_start

    def move_counts(self) -> Counter[tuple[int, str]]:
        return Counter((m.vlan, m.mac) for m in self.moves)
