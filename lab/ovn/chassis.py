"""Chassis and gateway nodes: ovsdb-server, ovs-vswitchd (userspace datapath), ovn-controller,
and the VMs bound to them."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path, PurePath

from lab import naming
from lab.fabric import links
from lab.ovn import daemons, pki
from lab.ovn.daemons import Daemon
from lab.ovn.remotes import Centrals
from lab.plan.commands import (
    chassis_ovs_commands,
    transaction,
    tunnel_endpoint_commands,
    vm_ovs_commands,
)
from lab.plan.model import NodePlan, Plan, VMPlan
from lab.runner import NodeRunner, run
from lab.vm.dhcp import control as dhcp


def start_chassis(
    plan: Plan, node: NodePlan, node_dir: Path, central_dir: Centrals, runner: NodeRunner
) -> None:
    """ovsdb-server and ovs-vswitchd with the node's bridges and OVN settings."""
    env = daemons.node_env(node_dir, central_dir)
    sock = daemons.start_ovsdb(runner, node_dir, env)
    cmds = chassis_ovs_commands(plan, node)
    if plan.ssl:  # ovn-controller reads its TLS files from the SSL table, also on restarts
        cmds.append(pki.ensure_node(node_dir.parent, plan.lab, node.name).vsctl_set_ssl())
    # Configure everything before ovs-vswitchd starts, so it comes up in its final shape.
    run(["ovs-vsctl", f"--db={sock}", "--no-wait", "--", "init", *transaction(cmds)], env=env)
    # --detach returns after ovs-vswitchd applied its initial configuration: bridges exist.
    daemons.start(Daemon("ovs-vswitchd", node_dir, runner), ["ovs-vswitchd", sock], env)
    overlay = node.link(plan.overlay) if plan.overlay else None
    if overlay and overlay.ovs_bridge and overlay.address:
        # The Geneve endpoint address lives on the OVS bridge holding the overlay wire:
        # the userspace datapath routes and ARPs for tunnels through it.
        with links.ipr(node.netns) as handle:
            links.up(handle, overlay.ovs_bridge)
            links.add_address(handle, overlay.ovs_bridge, overlay.address)


def start_controller(
    node: NodePlan, node_dir: Path, central_dir: Centrals, runner: NodeRunner
) -> None:
    """ovn-controller goes last, once the node's VM ports are plugged and the logical
    network exists: it then computes its flows and claims its ports in one go instead of
    recomputing through every change on the way (what makes 100 chassis slow)."""
    env = daemons.node_env(node_dir, central_dir)
    sock = f"unix:{node_dir / 'db.sock'}"
    daemons.start(Daemon("ovn-controller", node_dir, runner), ["ovn-controller", sock], env)


def remote_chassis_commands(
    plan: Plan, node: NodePlan, node_dir: PurePath
) -> tuple[list[list[str]], list[str]]:
    """start_chassis, then start_controller, as argv lists for a chassis namespace on a
    machine this process reaches only by running commands there (an SSH host carrying
    several chassis): node.netns must exist, its overlay interface in it, node_dir on that
    machine. Returns (everything up to ovs-vswitchd and the tunnel address, the
    ovn-controller start: run it once the VMs are plugged, as start_controller)."""
    inside = [
        "ip", "netns", "exec", node.netns,
        "env", *(f"{k}={v}" for k, v in daemons.dir_env(node_dir).items()),
    ]  # fmt: skip
    sock = f"unix:{node_dir / 'db.sock'}"
    cmds = [
        ["ovsdb-tool", "create", str(node_dir / "conf.db"), str(daemons.OVS_SCHEMA)],
        [*inside, *daemons.detached("ovsdb-server", node_dir, daemons.ovsdb_server_argv(node_dir))],
        [
            "ovs-vsctl",
            f"--db={sock}",
            "--no-wait",
            "--",
            "init",
            *transaction(chassis_ovs_commands(plan, node)),
        ],
        [*inside, *daemons.detached("ovs-vswitchd", node_dir, ["ovs-vswitchd", sock])],
    ]
    cmds += tunnel_endpoint_commands(plan, node)  # what start_chassis does by netlink
    controller = [*inside, *daemons.detached("ovn-controller", node_dir, ["ovn-controller", sock])]
    return cmds, controller


def bind_vms(
    node: NodePlan,
    vms: list[VMPlan],
    node_dir: Path,
    create_netns: Callable[[list[str]], None],
    runner: NodeRunner,
) -> None:
    """Create each VM namespace and plug it into br-int, as `ovs-vsctl add-port br-int vm1
    -- set Interface vm1 type=internal external_ids:iface-id=vm1` + `ip link set vm1 netns`.
    `create_netns` makes the namespaces as the lab's own
    (lab.providers.netns.ownership.create_netns)."""
    plug_vms(node, vms, node_dir, create_netns, runner)
    place_vms(node, vms, node_dir)


def plug_vms(
    node: NodePlan,
    vms: list[VMPlan],
    node_dir: Path,
    create_netns: Callable[[list[str]], None],
    runner: NodeRunner,
) -> None:
    """The first half of bind_vms: the VMs' namespaces, their veths, and every port in br-int
    with its iface-id (one OVS transaction), so a controller started next sees them all."""
    create_netns([vm.netns for vm in vms])  # one state write before, one after
    for vm in vms:
        if vm.wants_ipv6:
            links.enable_vm_ipv6(vm)
    # docker: VMs visible inside their chassis (a no-op for a namespace node)
    runner.show_vms([(vm.name, vm.netns) for vm in vms])
    veths = [vm for vm in vms if vm.attach == "veth"]
    if veths:
        with links.ipr(node.netns) as handle:
            for vm in veths:
                handle.link(
                    "add",
                    ifname=vm.chassis_if,
                    kind="veth",
                    peer={"ifname": vm.vm_if, "net_ns_fd": vm.netns},
                )
                links.up(handle, vm.chassis_if)
        links.tx_checksum_off(node.netns, [vm.chassis_if for vm in veths])
        for vm in veths:
            links.tx_checksum_off(vm.netns, [vm.vm_if])
    add_ports(vms, node_dir)


def add_ports(vms: list[VMPlan], node_dir: Path) -> None:
    """The VMs' ports in br-int, in one transaction."""
    if not vms:
        return
    cmds: list[list[str]] = []
    for vm in vms:
        cmds += vm_ovs_commands(vm)
    sock = f"unix:{node_dir / 'db.sock'}"
    # Without --no-wait, ovs-vsctl returns once ovs-vswitchd created the internal ports.
    run(["ovs-vsctl", f"--db={sock}", "--timeout=30", *transaction(cmds)])


def place_vms(node: NodePlan, vms: list[VMPlan], node_dir: Path) -> None:
    """The second half of bind_vms: each internal port (a tap that ovs-vswitchd keeps open)
    moved into its VM's namespace, then the VM's MAC, addresses and routes; its DHCP client
    started. Kernel-bound (a move waits ~17 ms under RTNL), so lab up runs it while the
    controllers converge: OVN binds a port by its OVS Interface, wherever the tap lives."""
    internal = [vm for vm in vms if vm.attach == "internal"]
    if internal:
        with links.ipr(node.netns) as handle:
            for vm in internal:
                links.move_to_netns(handle, vm.chassis_if, vm.netns)
    for vm in vms:
        configure_vm(vm)
        dhcp.start(vm, node_dir.parent)  # DHCP / RA VMs: their client asks OVN from now on


def attach_vms(node: NodePlan, vms: list[VMPlan], node_dir: Path, restart: bool = False) -> None:
    """Add the VMs' ports to br-int and give internal ports to their VM namespaces. Also
    what `lab start` runs (restart=True): a restarted ovs-vswitchd recreates internal ports
    (taps) in the chassis namespace, and they must move back into their VMs; OVS makes
    its taps persistent, so the dead daemon's tap is still there and goes first."""
    if not vms:
        return
    if restart:
        for vm in vms:
            if vm.attach == "internal":
                with links.ipr(vm.netns) as handle:
                    for idx in handle.link_lookup(ifname=vm.vm_if):
                        handle.link("del", index=idx)
    add_ports(vms, node_dir)
    place_vms(node, vms, node_dir)


def configure_vm(vm: VMPlan) -> None:
    """MAC, address, up, default route: few netlink requests (each costs ~1 ms of Python)."""
    with links.ipr(vm.netns) as handle:
        handle.link("set", index=links.LOOPBACK_INDEX, state="up")
        idx = links.index(handle, vm.vm_if)
        handle.link("set", index=idx, address=vm.mac, state="up")
        for address in vm.static_addresses:
            links.add_address(handle, vm.vm_if, address, idx)
        for gateway in (vm.gateway, vm.gateway6):
            if gateway is not None:
                links.add_route(handle, None, gateway)


def warm_tunnels(plan: Plan, lab_dir: Path) -> None:
    """Give every chassis' userspace datapath every other chassis' tunnel endpoint MAC.

    The userspace datapath drops the first packet towards a tunnel peer it has not
    resolved yet, while it ARPs for it. The overlay bridges' MACs are derived from the
    tunnel addresses, so every entry is known: each is set with `tnl/neigh/set` on the
    chassis' ovs-vswitchd control socket, one connection per chassis. (Unicast ARP
    requests whose replies OVS snoops did this before, but under load many replies were
    never learned: at 40 chassis, 16 had learned no peer at all.) Run once the tunnels
    exist; creating them resets the cache."""
    ends = [
        (n, str(n.encap_ip), naming.overlay_mac(str(n.encap_ip)))
        for n in plan.chassis()
        if n.encap_ip is not None
    ]
    calls: list[tuple[Path, list[list[str]]]] = []
    for node, _ip, _mac in ends:
        overlay = node.link(plan.overlay) if plan.overlay else None
        if overlay is None or overlay.ovs_bridge is None:
            continue
        entries = [
            [overlay.ovs_bridge, peer_ip, peer_mac]
            for peer, peer_ip, peer_mac in ends
            if peer is not node
        ]
        if entries:
            calls.append((lab_dir / node.name, entries))
    # each call mostly waits for its ovs-vswitchd: a few chassis at a time
    with ThreadPoolExecutor(max_workers=8) as pool:
        list(
            pool.map(
                lambda c: daemons.unixctl_many(c[0], "ovs-vswitchd", "tnl/neigh/set", c[1]), calls
            )
        )
