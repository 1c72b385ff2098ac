"""The ToR CAM table: MAC learning table of a VLAN fabric's switch, with the node behind
each port, and a watcher that counts MAC moves (flaps) per (VLAN, MAC) frame by frame."""

from __future__ import annotations

import re
import subprocess
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

from lab.errors import UserError
from lab.fabric.wiring import FABRIC_DIR, tor_env
from lab.naming import fabric_bridge
from lab.runner import netns_argv, run, wait_for_output
from lab.state.store import LabState
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
    return list(state.info.vlan_fabrics)


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
        self.netns = state.info.fabric_netns
        self.env = tor_env(state.dir / FABRIC_DIR)
        self.port_nodes = {
            link.fabric_if: node
            for node, info in state.info.nodes.items()
            for link in info.links.values()
        }
        self._ofports: dict[str, dict[int, str]] = {}

    def _ports(self, fabric: str) -> dict[int, str]:
        if fabric not in self._ofports:
            show = run(["ovs-ofctl", "show", fabric_bridge(fabric)], netns=self.netns, env=self.env)
            self._ofports[fabric] = parse_ofctl_show(show.stdout)
        return self._ofports[fabric]

    def ports(self) -> list[tuple[str, str]]:
        """(fabric, interface) of every node's port on the watched VLAN fabrics."""
        return [
            (fabric, name)
            for fabric in self.fabrics
            for name in self._ports(fabric).values()
            if name in self.port_nodes
        ]

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


# `tcpdump -e -nn` on one ToR port: "12:00:00.000001 SRC > DST, ethertype 802.1Q ... vlan N,"
_FRAME = re.compile(
    r"^(\d\d):(\d\d):(\d\d\.\d+) ([0-9a-f:]{17}) > [0-9a-f:]{17}, ethertype 802\.1Q "
    r"\(0x8100\), length \d+: vlan (\d+),"
)


def parse_frame(line: str) -> tuple[float, str, int] | None:
    """(seconds since midnight, source MAC, VLAN) of a tagged frame line, else None."""
    m = _FRAME.match(line)
    if not m:
        return None
    seconds = int(m.group(1)) * 3600 + int(m.group(2)) * 60 + float(m.group(3))
    return seconds, m.group(4), int(m.group(5))


class Watcher:
    """Watches every frame entering the ToR and records each move of a (VLAN, MAC) to
    another port: what a hardware switch's CAM table does, frame by frame.

    One `tcpdump -Q in` per ToR port (a cooked capture on `any` loses either the port or
    the VLAN tag). The ToR's own move counter is read too, as a cross-check."""

    def __init__(self, cam: CamTable, on_move: Callable[[Move], None] | None = None):
        self.cam = cam
        self.on_move = on_move
        self.moves: list[Move] = []
        self.seen: dict[tuple[str, int, str], str] = {}  # where each (fabric, VLAN, MAC) is
        self.tor_moves = 0
        self._tor_start = 0
        self._lock = threading.Lock()
        self._procs: list[subprocess.Popen[str]] = []
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        self._tor_start = self.cam.moved_total()
        for e in self.cam.read():  # what the ToR knows already
            self.seen[(e.fabric, e.vlan, e.mac)] = e.node or e.port
        for fabric, port in self.cam.ports():
            proc = subprocess.Popen(
                netns_argv(self.cam.netns, ["tcpdump", "-i", port, "-Q", "in", "-e", "-nn", "-l"]),
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                stdin=subprocess.DEVNULL,
                text=True,
            )
            wait_for_output(proc.stderr, "listening on")
            where = self.cam.port_nodes.get(port, port)
            thread = threading.Thread(target=self._read, args=(proc, fabric, where), daemon=True)
            thread.start()
            self._procs.append(proc)
            self._threads.append(thread)

    def _read(self, proc: subprocess.Popen[str], fabric: str, where: str) -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            frame = parse_frame(line)
            if frame is None:
                continue
            at, mac, vlan = frame
            with self._lock:
                self._learn(at, fabric, vlan, mac, where)

    def _learn(self, at: float, fabric: str, vlan: int, mac: str, where: str) -> None:
        key = (fabric, vlan, mac)
        before = self.seen.get(key)
        self.seen[key] = where
        if before is not None and before != where:
            move = Move(at, fabric, vlan, mac, before, where)
            self.moves.append(move)
            if self.on_move:
                self.on_move(move)

    def stop(self) -> None:
        for proc in self._procs:
            proc.terminate()
        for proc in self._procs:
            try:
                proc.communicate(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.communicate()
        for thread in self._threads:
            thread.join(timeout=5)
        self.tor_moves = self.cam.moved_total() - self._tor_start

    def move_counts(self) -> Counter[tuple[int, str]]:
        return Counter((m.vlan, m.mac) for m in self.moves)
