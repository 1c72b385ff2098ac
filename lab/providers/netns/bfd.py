"""BFD speakers on host nodes: the real peers of OVN's `bfd: true` routes.

A host node whose address is the next hop of a BFD-monitored route runs FRR's bfdd
(Debian's `frr` package) inside its namespace, with a configuration, pid file, sockets
and log of its own under the node's state directory: never the host's /etc/frr, never
its systemd service. The node's namespace going away (`lab down`, `lab stop`) ends it
like every other process the lab started there.
"""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from lab.errors import RuntimeFailure, UserError
from lab.runner import run
from lab.state.store import LabState, node_dir
from lab.topology.l3 import port_for

if TYPE_CHECKING:
    from lab.topology.model import Topology

BFDD = Path("/usr/lib/frr/bfdd")
VTYSH = "vtysh"
# FRR's defaults are 300 ms; OVN's side (BFD row defaults) asks for 1 s with multiplier
# 5, so a dead speaker is noticed after about 3 s (FRR's multiplier x OVN's min_rx).
TX_MS = 300
RX_MS = 300
MULTIPLIER = 3
UP_TIMEOUT = 20.0  # OVN's side starts at 1 s intervals: sessions come up in 1-3 s


@dataclass(frozen=True)
class Peer:
    local: str  # the host node's address (the route's next hop)
    remote: str  # the router port's address on that network (where OVN speaks from)


def speakers(topo: Topology) -> dict[str, list[Peer]]:
    """Host node -> the BFD sessions it must answer, from the routes with `bfd: true`."""
    by_address = {
        link.address.ip: name
        for name, node in topo.nodes.items()
        if node.role == "host"
        for link in node.links
        if link.address is not None
    }
    result: dict[str, list[Peer]] = {}
    for router in topo.ovn.routers.values():
        for route in router.routes:
            if not route.bfd:
                continue
            for hop in route.nexthops:
                node = by_address.get(hop)
                port = port_for(router, hop)
                if node is None or port is None:
                    continue
                remote = next(n.ip for n in router.ports[port].networks if hop in n.network)
                peer = Peer(str(hop), str(remote))
                if peer not in result.setdefault(node, []):
                    result[node].append(peer)
    return result


def bfd_dir(state: LabState, node: str) -> Path:
    return node_dir(state, node) / "frr"


def config(peers: list[Peer]) -> str:
    lines = ["frr defaults traditional", "log stdout", "!", "bfd"]
    for peer in peers:
        lines += [
            f" peer {peer.remote} local-address {peer.local}",
            f"  receive-interval {RX_MS}",
            f"  transmit-interval {TX_MS}",
            f"  detect-multiplier {MULTIPLIER}",
            "  no shutdown",
            " !",
        ]
    return "\n".join([*lines, "!", ""])


def bfdd_argv(directory: Path) -> list[str]:
    return [
        str(BFDD),
        "--daemon",
        "--config_file",
        str(directory / "bfdd.conf"),
        "--pid_file",
        str(directory / "bfdd.pid"),
        "--vty_socket",
        str(directory),
        "--bfdctl",
        str(directory / "bfdd.sock"),
        "--socket",
        str(directory / "zserv.api"),  # no zebra: bfdd runs alone
        "--vty_port",
        "0",  # no TCP vty: vtysh reaches it through the unix socket above
        # root, in FRR's vty group (frrvty): bfdd insists the user be a member of it
        "--user",
        "root",
        "--group",
        "frrvty",
        "--log",
        f"file:{directory / 'bfdd.log'}",
    ]


def require_bfdd() -> None:
    if not BFDD.exists():
        raise UserError(
            "this topology monitors next hops with BFD, and its host nodes run FRR's bfdd, "
            "which is not installed; run `apt-get install frr`"
        )


def lab_topology(state: LabState) -> Topology:
    from lab.state.saved import saved_topology

    return saved_topology(state)


def start(state: LabState, timeout: float = UP_TIMEOUT) -> list[str]:
    """Start bfdd on every host node that is a BFD next hop, and wait (up to `timeout`)
    until OVN sees their sessions up: until then OVN leaves those routes out. Returns the
    nodes."""
    wanted = speakers(lab_topology(state))
    if wanted:
        require_bfdd()
    for node, peers in wanted.items():
        start_one(state, node, peers)
    addresses = {p.local for peers in wanted.values() for p in peers}
    deadline = time.monotonic() + timeout
    while addresses and time.monotonic() < deadline:
        if addresses <= ovn_sessions_up(state):
            break
        time.sleep(0.2)
    return list(wanted)


def ovn_sessions_up(state: LabState) -> set[str]:
    """Next hops whose NB BFD row says up (northd copies it from the SB)."""
    from lab.ovn.db import list_rows
    from lab.ovn.wait import nb_db
    from lab.providers.targets import centrals_of

    rows = list_rows("ovn-nbctl", "dst_ip,status", "BFD", db=nb_db(centrals_of(state))) or []
    return {str(dst) for dst, status in rows if status == "up"}


def start_one(state: LabState, node: str, peers: list[Peer]) -> None:
    directory = bfd_dir(state, node)
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    (directory / "bfdd.conf").write_text(config(peers))
    (directory / "bfdd.pid").unlink(missing_ok=True)
    netns = state.info.nodes[node].netns
    run(bfdd_argv(directory), netns=netns, timeout=20)
    deadline = time.monotonic() + 10
    while not (directory / "bfdd.vty").exists():
        if time.monotonic() > deadline:
            log = (directory / "bfdd.log").read_text() if (directory / "bfdd.log").exists() else ""
            raise RuntimeFailure(f"bfdd on {node} did not start: {log[-500:]}")
        time.sleep(0.05)


def restart_if_speaker(state: LabState, node: str) -> None:
    """`lab start NODE` of a host node: its bfdd died with it; start it again."""
    peers = speakers(lab_topology(state)).get(node)
    if peers:
        start_one(state, node, peers)


def peer_states(state: LabState, node: str) -> dict[str, str]:
    """The speaker's view: peer address -> up | down | init (empty if it runs no bfdd)."""
    directory = bfd_dir(state, node)
    if not (directory / "bfdd.vty").exists() or shutil.which(VTYSH) is None:
        return {}
    netns = state.info.nodes[node].netns
    proc = run(
        [VTYSH, "--vty_socket", str(directory), "-d", "bfdd", "-c", "show bfd peers brief"],
        netns=netns,
        check=False,
        timeout=10,
    )
    return parse_brief(proc.stdout)


def parse_brief(text: str) -> dict[str, str]:
    """`show bfd peers brief` rows: SessionId LocalAddress PeerAddress Status."""
    result = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) >= 4 and parts[0].isdigit():
            result[parts[2]] = parts[3]
    return result
