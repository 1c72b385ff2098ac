"""Several chassis on one SSH host ("guests"): each a network namespace `<lab>.<node>` on the
host with its own ovsdb-server, ovs-vswitchd (userspace datapath) and ovn-controller, its
files in /run/ovn-lab/<lab>/<node>/, as the netns provider builds a chassis on this machine
(lab.ovn.chassis.remote_chassis_commands gives that bring-up as argv lists). Its overlay
wire is a macvlan (bridge mode) on the host's underlay interface, moved into the namespace,
carrying the chassis' own address of the overlay subnet (lab.providers.ssh.place.
guest_addresses): macvlans of one interface reach each other and the wire, so Geneve runs
between guests of one host and to every other host. (Not to the host's own address: a
macvlan never reaches its parent's, which is why a central's host carries no guests.)

Ownership: the namespace is claimed before `ip netns add` and carries the lab's marker (the
alias of its `lo`) from the next command on, so `lab down` removes exactly the lab's: it kills
the processes living in the namespace (`ip netns pids`, not names) and deletes it, which takes
the macvlan and the taps of its ovs-vswitchd with it. Guests leave the host's own OVS/OVN
services alone."""

from __future__ import annotations

import shlex
from pathlib import PurePosixPath
from typing import Any

from lab import naming
from lab.ovn.chassis import remote_chassis_commands
from lab.plan.model import NodePlan, Plan
from lab.providers.ssh import probe, record
from lab.providers.ssh.place import Underlay
from lab.providers.ssh.record import SSH_CHASSIS, SSH_VM, marker
from lab.providers.ssh.transport import Host
from lab.providers.ssh.vms import plug_vms
from lab.state.store import LabState
from lab.testhooks import checkpoint


def node_dir(lab: str, node: str) -> PurePosixPath:
    return PurePosixPath(record.lab_dir(lab)) / node


env = record.guest_env


def info(plan: Plan, guests: list[str]) -> dict[str, dict[str, Any]]:
    """What state.info.ssh keeps of each guest: its namespace and its directory."""
    return {n: {"netns": plan.nodes[n].netns, "dir": str(node_dir(plan.lab, n))} for n in guests}


def bring_up(plan: Plan, state: LabState, host: Host, node: NodePlan, underlay: Underlay) -> None:
    """The chassis' namespace, wire and daemons, its VMs plugged, then its ovn-controller."""
    directory = node_dir(plan.lab, node.name)
    # the lab's directory on the host goes with `lab down` (also after a crash from here on)
    record.save_before(state, node.name, "agent_dir", record.lab_dir(plan.lab))
    overlay = node.link(plan.overlay) if plan.overlay else None
    assert overlay is not None and node.encap_ip is not None  # place.supported made sure
    state.claim(SSH_CHASSIS, [node.name])
    host.run(
        [
            "sh",
            "-ec",
            probe.script(
                [
                    ["mkdir", "-p", str(directory)],
                    ["chmod", "0700", record.lab_dir(plan.lab), str(directory)],
                    ["ip", "netns", "add", node.netns],
                    ["ip", "-n", node.netns, "link", "set", "lo", "alias", marker(state)],
                ]
            ),
        ]
    )
    state.confirm(SSH_CHASSIS, [node.name])
    wire = [
        ["ip", "-n", node.netns, "link", "set", "lo", "up"],
        [
            "ip",
            "link",
            "add",
            "link",
            underlay.interface,
            "name",
            overlay.node_if,
            "netns",
            node.netns,
            "address",
            naming.overlay_mac(str(node.encap_ip)),
            "type",
            "macvlan",
            "mode",
            "bridge",
        ],
        ["ip", "-n", node.netns, "link", "set", overlay.node_if, "up"],
    ]
    daemons, controller = remote_chassis_commands(plan, node, directory)
    host.run(["sh", "-ec", probe.script([*wire, *daemons])], timeout=120)
    checkpoint("node-daemons", node.name)
    plug_vms(state, host, plan.vms_on(node.name), node.name, node.netns, env(str(directory)))
    host.run(controller)


def warm(host: Host, lab: str, directory: str, bridge: str, peers: list[tuple[str, str]]) -> None:
    """Every peer's tunnel endpoint MAC into the guest's ovs-vswitchd (`tnl/neigh/set`), as
    lab.ovn.chassis.warm_tunnels does locally, so its first packet to a peer is not dropped:
    one connection to its control socket by the lab's agent on the host (installed first),
    not one ovs-appctl per peer."""
    from lab.providers.ssh import services

    if peers:
        lines = "".join(f"{ip} {mac}\n" for ip, mac in peers).encode()
        host.run(services.agent_argv(lab, "neigh", directory, bridge), stdin=lines, timeout=120)


def remove(state: LabState, host: Host, node: str, guest: dict[str, Any]) -> None:
    """The guest's VMs' namespaces, then its own: its processes killed (found by namespace),
    the namespace deleted (its macvlan and taps with it). Only what provably is the lab's:
    owned, or pending and marked. Idempotent."""
    mark = marker(state)
    listed = set(host.run(["ip", "netns", "list"]).stdout.split())

    def ours(kind: str, name: str, netns: str) -> bool:
        if netns not in listed:
            return False
        if name in state.resources.get(kind, []):
            return True
        return name in state.pending.get(kind, []) and record.netns_marked(host, netns, mark)

    spaces = [
        v.netns for n, v in state.info.vms.items() if v.chassis == node and ours(SSH_VM, n, v.netns)
    ]
    if ours(SSH_CHASSIS, node, guest["netns"]):
        spaces.append(guest["netns"])
    if not spaces:
        return
    kills = " ".join(f"$(ip netns pids {shlex.quote(ns)} 2>/dev/null)" for ns in spaces)
    host.run(["sh", "-c", f"for p in {kills}; do kill -9 $p 2>/dev/null; done; true"])
    host.run(["sh", "-ec", probe.script([["ip", "netns", "del", ns] for ns in spaces])])
