"""Before planning: which inventory host each node is, checked (ready, not another lab's), and
the underlay address each host has, which go into the plan (with_host_addresses)."""

from __future__ import annotations

import ipaddress
import json
from dataclasses import dataclass, field
from pathlib import Path

from lab.errors import UserError
from lab.plan.model import NodePlan, Plan, VMPlan
from lab.progress import Progress
from lab.providers.ssh import probe
from lab.providers.ssh.record import OWNER_KEY, UNDERLAY_BRIDGE
from lab.providers.ssh.session import _parallel
from lab.providers.ssh.transport import DEFAULT_KNOWN_HOSTS, Host, HostSpec, Pool
from lab.topology.model import Topology


@dataclass(frozen=True)
class Underlay:
    interface: str
    address: str  # with prefix length, as found on the interface
    mac: str
    datapath: str  # system | netdev

    @property
    def ip(self) -> str:
        return self.address.split("/")[0]


@dataclass
class Placement:
    hosts: dict[str, HostSpec]  # node -> host
    underlay: dict[str, Underlay]  # node -> what was found on its host
    subnet: ipaddress.IPv4Network  # the one the hosts' underlay addresses share
    pool: Pool
    inventory: Path
    known_hosts: Path
    # chassis sharing a host with others: each a namespace with its own daemons
    # (lab.providers.ssh.guest); their underlay is the host's interface, an address of
    # their own (guest_addresses) until then the host's
    guests: list[str] = field(default_factory=list)


def supported(plan: Plan) -> None:
    """What an ssh lab can be today: one central, chassis and gateways on one overlay."""
    problems = []
    if len(plan.centrals) != 1:
        problems.append("exactly one central (a raft cluster of hosts is not supported yet)")
    extra = [f for f in plan.fabrics if f != plan.overlay]
    if extra:
        problems.append(f"only the overlay fabric (not {', '.join(extra)}: no ToR between hosts)")
    hosts = [n.name for n in plan.nodes.values() if n.role == "host"]
    if hosts:
        problems.append(f"no role: host nodes (here {', '.join(hosts)})")
    overlay = plan.fabrics.get(plan.overlay) if plan.overlay else None
    if overlay is not None and overlay.subnet is not None and overlay.subnet.version == 6:
        problems.append("an IPv4 overlay (the hosts' underlay addresses are IPv4)")
    dynamic = [v.name for v in plan.vms.values() if v.waits_for_addresses or v.wants_ipv6]
    if dynamic:
        problems.append(f"IPv4-only VMs with fixed addresses (not DHCP/IPv6: {', '.join(dynamic)})")
    if problems:
        raise UserError("provider ssh needs " + "; ".join(problems))


def place(
    plan: Plan,
    host_keys: dict[str, str | None],
    inventory: Path,
    known_hosts: Path | None,
    accept_new: bool,
    progress: Progress,
    per_host: int | None = None,
) -> Placement:
    """Connect to every node's host, check it is ready, find its underlay address."""
    from lab.providers.ssh.transport import (
        CHASSIS_GROUPS,
        group_hosts,
        hosts_from_inventory_json,
        inventory_json,
        place_nodes,
    )

    supported(plan)
    data = inventory_json(inventory)
    specs = place_nodes(
        host_keys,
        hosts_from_inventory_json(data, inventory.parent),
        inventory,
        {n: node.role for n, node in plan.nodes.items()},
        per_host,
        group_hosts(data, CHASSIS_GROUPS),
    )
    by_host: dict[str, list[str]] = {}
    for node, spec in specs.items():
        by_host.setdefault(spec.name, []).append(node)
    shared = {h: nodes for h, nodes in by_host.items() if len(nodes) > 1}
    guests = [n for nodes in shared.values() for n in nodes]
    if guests and plan.ssl:
        raise UserError(
            "provider ssh with several chassis on one host does not do ssl: true yet "
            f"(hosts {', '.join(shared)}): give each chassis its own host, or drop ssl"
        )
    known = Path(known_hosts or DEFAULT_KNOWN_HOSTS).expanduser().resolve()
    pool = Pool(known, accept_new)
    alone = [n for n in specs if n not in guests]
    with progress.step(f"connecting to {len(by_host)} hosts"):
        tasks = {
            n: (lambda n=n: _inspect_host(pool, specs[n], plan.nodes[n], plan.vms_on(n), plan.lab))
            for n in alone
        }
        tasks.update(
            {
                f"host:{h}": (
                    lambda h=h, nodes=nodes: _inspect_shared(
                        pool, specs[nodes[0]], [plan.nodes[n] for n in nodes], plan
                    )
                )
                for h, nodes in shared.items()
            }
        )
        inspected = _parallel(tasks)
    found: dict[str, Underlay] = {n: inspected[n] for n in alone}
    for h, nodes in shared.items():
        found.update(dict.fromkeys(nodes, inspected[f"host:{h}"]))
    subnets = {ipaddress.ip_interface(u.address).network for u in found.values()}
    if len(subnets) != 1:
        listing = ", ".join(f"{n} {u.address} on {u.interface}" for n, u in found.items())
        raise UserError(
            f"the hosts' underlay addresses are not on one subnet ({listing}); set "
            "ovn_underlay_if in the inventory to the interface of the shared overlay network"
        )
    return Placement(specs, found, subnets.pop(), pool, inventory.resolve(), known, guests=guests)


def guest_addresses(topo: Topology, placed: Placement) -> None:
    """Each guest chassis' own overlay address: the topology's (`links: {overlay: ADDR}`),
    else the highest free one of the hosts' subnet, never one a host has. Its MAC is
    derived from it (lab.naming.overlay_mac), as every chassis' overlay bridge's is."""
    from lab.naming import overlay_mac

    subnet = placed.subnet
    overlay = topo.overlay
    hosts = {ipaddress.ip_interface(u.address).ip for n, u in placed.underlay.items()}
    given: dict[str, ipaddress.IPv4Address] = {}
    for name in placed.guests:
        link = next((lk for lk in topo.nodes[name].links if lk.fabric == overlay), None)
        if link is None or link.address is None:
            continue
        ip = link.address.ip
        if ip not in subnet or ip in hosts or ip in given.values():
            why = "is not on the hosts' subnet" if ip not in subnet else "is taken"
            raise UserError(
                f"node {name}'s overlay address {ip} {why} ({subnet}, hosts "
                f"{', '.join(sorted(map(str, hosts)))}): give it a free address of {subnet} "
                "or none (the lab picks one)"
            )
        given[name] = ipaddress.IPv4Address(ip)
    free = (ip for ip in reversed(list(subnet.hosts())) if ip not in hosts | set(given.values()))
    for name in placed.guests:
        ip = given.get(name) or next(free, None)
        if ip is None:
            raise UserError(f"the hosts' subnet {subnet} has no free address for chassis {name}")
        host = placed.underlay[name]
        placed.underlay[name] = Underlay(
            host.interface, f"{ip}/{subnet.prefixlen}", overlay_mac(str(ip)), "netdev"
        )


def _inspect_host(
    pool: Pool, spec: HostSpec, node: NodePlan, plan_vms: list[VMPlan], lab: str
) -> Underlay:
    host = pool.get(spec)
    if host.sudo and host.run(["true"], check=False).returncode != 0:
        raise UserError(
            f"{spec.name}: user {spec.user} cannot run `sudo -n` (passwordless sudo is needed)"
        )
    ready = (
        ["ovn-nbctl", "--timeout=5", "get-connection"]
        if node.role == "central"
        else ["ovs-vsctl", "--timeout=5", "get", "Open_vSwitch", ".", "_uuid"]
    )
    proc = host.run(ready, check=False, timeout=15)
    if proc.returncode == 127:
        raise UserError(
            f"{spec.name} has no {ready[0]}: provision it first with "
            "`lab provision --inventory FILE`"
        )
    if proc.returncode != 0:
        raise UserError(
            f"{spec.name}: {ready[0]} gets no answer ({proc.stderr.strip()[:120]}); are its "
            "services running? `lab provision --inventory FILE` starts them"
        )
    addrs = json.loads(host.run(["ip", "-j", "addr", "show"]).stdout or "[]")
    macs = {a["ifname"]: a.get("address", "") for a in addrs}
    by_if = {
        a["ifname"]: f"{i['local']}/{i['prefixlen']}"
        for a in addrs
        for i in a.get("addr_info", [])
        if i.get("family") == "inet" and a["ifname"] != "lo"
    }
    ssh_if = next(
        (
            a["ifname"]
            for a in addrs
            for i in a.get("addr_info", [])
            if i.get("local") == spec.address
        ),
        None,
    )
    interface = spec.underlay_if or ssh_if
    if interface is None:
        raise UserError(
            f"{spec.name}: which interface carries the overlay? set the host variable "
            "ovn_underlay_if in the inventory (e.g. ovn_underlay_if=eth1)"
        )
    if node.role == "central" and spec.underlay_if is None:
        # the central's NB/SB listeners go on its underlay address: never on the
        # management network unless the inventory says it is the underlay
        raise UserError(
            f"host {spec.name} is the central, and without ovn_underlay_if its databases would "
            f"listen on {interface}, the interface SSH arrives on: set ovn_underlay_if in the "
            f"inventory (ovn_underlay_if={interface} if that really is the overlay network)"
        )
    lab_bridge = UNDERLAY_BRIDGE
    address = by_if.get(interface) or by_if.get(lab_bridge)  # a crashed lab's bridge
    if address is None:
        raise UserError(f"{spec.name}: interface {interface} has no IPv4 address")
    datapath = "netdev"
    if node.is_chassis:
        loaded = host.run(["test", "-d", "/sys/module/openvswitch"], check=False).returncode == 0
        if loaded or host.run(["modprobe", "-q", "openvswitch"], check=False).returncode == 0:
            datapath = "system"
        if datapath == "netdev" and interface == ssh_if:
            raise UserError(
                f"{spec.name} has no openvswitch kernel module, so its underlay interface must "
                f"become an OVS port, and {interface} carries this SSH session: give the "
                "overlay its own interface (ovn_underlay_if in the inventory)"
            )
    if datapath == "netdev" and node.is_chassis:
        _refuse_foreign_underlay_bridge(host, spec, lab)
    # another lab's host is refused before this lab records anything
    owner = (
        probe.nb_owner(host) if node.role == "central" else probe.external_ids(host).get(OWNER_KEY)
    )
    if owner not in (None, lab):
        what = "the central" if node.role == "central" else "a node"
        raise UserError(f"host {spec.name} is {what} of lab {owner}: `lab down {owner}` first")
    if node.is_chassis:
        _refuse_taken_vm_names(host, spec, plan_vms, set(macs))
    return Underlay(interface, address, macs.get(interface, ""), datapath)


def _inspect_shared(pool: Pool, spec: HostSpec, nodes: list[NodePlan], plan: Plan) -> Underlay:
    """A host carrying several chassis: the lab's own daemons run there (no host services
    needed, only the binaries), each chassis in a namespace whose overlay wire is a macvlan
    on the host's underlay interface, which must be named (never the SSH interface
    by default); the namespaces' names must be free."""
    host = pool.get(spec)
    if host.sudo and host.run(["true"], check=False).returncode != 0:
        raise UserError(
            f"{spec.name}: user {spec.user} cannot run `sudo -n` (passwordless sudo is needed)"
        )
    for tool in ("ovsdb-server", "ovs-vswitchd", "ovn-controller"):
        if host.run([tool, "--version"], check=False, timeout=15).returncode == 127:
            raise UserError(
                f"{spec.name} has no {tool}: provision it first with "
                "`lab provision --inventory FILE`"
            )
    if spec.underlay_if is None:
        raise UserError(
            f"host {spec.name} carries several chassis ({', '.join(n.name for n in nodes)}), "
            "whose overlay wires are macvlans on its underlay interface: name it with the host "
            "variable ovn_underlay_if in the inventory (e.g. ovn_underlay_if=eth1)"
        )
    addrs = json.loads(host.run(["ip", "-j", "addr", "show"]).stdout or "[]")
    mine = next((a for a in addrs if a["ifname"] == spec.underlay_if), None)
    address = next(
        (
            f"{i['local']}/{i['prefixlen']}"
            for i in (mine or {}).get("addr_info", [])
            if i.get("family") == "inet"
        ),
        None,
    )
    if mine is None or address is None:
        raise UserError(f"{spec.name}: interface {spec.underlay_if} has no IPv4 address")
    spaces = host.run(["ip", "netns", "list"], check=False).stdout
    taken = {ln.split()[0] for ln in spaces.splitlines() if ln.strip()}
    for node in nodes:
        if node.netns in taken:
            raise UserError(
                f"chassis {node.name} would make namespace {node.netns} on {spec.name}, which "
                f"already has one of that name: `lab down {plan.lab}` first, or rename the node"
            )
        for vm in plan.vms_on(node.name):
            if vm.netns in taken:
                raise UserError(
                    f"VM {vm.name} would make {vm.netns} on {spec.name}, which already has a "
                    "namespace of that name: rename the VM in the topology"
                )
    return Underlay(spec.underlay_if, address, mine.get("address", ""), "netdev")


def _refuse_foreign_underlay_bridge(host: Host, spec: HostSpec, lab: str) -> None:
    """br-ovnlab is made tagged with its lab in one transaction: one without this lab's tag
    is the host's (or another lab's), which `lab down` would delete."""
    exists = host.run(["ovs-vsctl", "br-exists", UNDERLAY_BRIDGE], check=False).returncode == 0
    if exists and not probe.tagged(host, "Bridge", UNDERLAY_BRIDGE, lab):
        raise UserError(
            f"host {spec.name} already has an OVS bridge {UNDERLAY_BRIDGE} that lab {lab} did "
            f"not make: remove it (ovs-vsctl del-br {UNDERLAY_BRIDGE}) or use another host"
        )


def _refuse_taken_vm_names(host: Host, spec: HostSpec, vms: list[VMPlan], links: set[str]) -> None:
    """A VM whose port or namespace name is already on the host (a link, an OVS port, a
    namespace) is refused before anything is made: `lab down` would take the host's own."""
    if not vms:
        return
    ports = host.run(["ovs-vsctl", "--bare", "--columns=name", "list", "Interface"]).stdout
    spaces = host.run(["ip", "netns", "list"], check=False).stdout
    taken = links | set(ports.split()) | {ln.split()[0] for ln in spaces.splitlines() if ln.strip()}
    for vm in vms:
        clash = next((n for n in (vm.chassis_if, vm.netns) if n in taken), None)
        if clash is not None:
            raise UserError(
                f"VM {vm.name} would make {clash} on {spec.name}, which already has an "
                "interface or namespace of that name: rename the VM in the topology"
            )


def with_host_addresses(
    topo: Topology, found: dict[str, Underlay], subnet: ipaddress.IPv4Network
) -> None:
    """Set the overlay subnet and every node's overlay address to what its host has: the
    planner then derives encap IPs and the Southbound remote from them."""
    from lab.topology.model import Link

    overlay = topo.overlay
    assert overlay is not None  # supported() made sure
    topo.fabric[overlay].subnet = subnet
    for name, underlay in found.items():
        node = topo.nodes[name]
        address = ipaddress.IPv4Interface(f"{underlay.ip}/{subnet.prefixlen}")
        node.links = [lk for lk in node.links if lk.fabric != overlay]
        node.links.insert(0, Link(fabric=overlay, address=address))
