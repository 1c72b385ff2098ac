"""`provider: ssh`: a lab on SSH hosts provisioned by `lab provision` (playbooks/site.yml).

Each topology node is one inventory host, and the host's own OVS/OVN services (as the
playbook left them) are the node's daemons: the central host's NB/SB databases and
ovn-northd, each chassis' ovsdb-server, ovs-vswitchd and ovn-controller. `lab up` points them
at each other over the hosts' underlay addresses (host var `ovn_underlay_if`), writes the
logical network, and puts VMs in namespaces on the chassis hosts. Everything it changes on a
host is recorded in the lab's state before it is changed, and `lab down` puts it back: VM
ports and namespaces removed, Open_vSwitch external_ids and database listeners restored, the
underlay address moved back off the lab's OVS bridge, the lab's logical switches and routers
deleted.

Datapath per host: the kernel's where the `openvswitch` module loads, else userspace
(netdev), where the underlay interface must become a port of an OVS bridge holding the
tunnel endpoint address (see DESIGN.md) - never the interface SSH itself arrives on.
"""

from __future__ import annotations

import ipaddress
import json
import shlex
import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lab.errors import LabError, RuntimeFailure, UserError
from lab.plan.commands import transaction, vm_commands
from lab.plan.model import NodePlan, Plan, VMPlan
from lab.progress import Progress
from lab.providers.ssh import record
from lab.providers.ssh.session import _SESSIONS, NB_PORT, SB_PORT, Session, session
from lab.providers.ssh.transport import DEFAULT_KNOWN_HOSTS, Host, HostSpec, Pool, load_inventory
from lab.runner import run
from lab.state.info import LabInfo, ServiceInfo
from lab.state.store import LabState
from lab.testhooks import checkpoint

if TYPE_CHECKING:  # the model drags in pydantic; lab check and status never need it here
    from lab.topology.model import Topology

OWNER_KEY = "ovn-lab"  # external_ids key tagging what a lab made on a host
# ownership kinds (lab.state.ownership's discipline: pending before, owned after)
SSH_VM = "ssh_vm"  # a VM's namespace and br-int port on its chassis host
SSH_BR_INT = "ssh_br_int"  # br-int on a chassis host that had none
# userspace datapath: the OVS bridge that takes over the underlay interface's address
UNDERLAY_BRIDGE = "br-ovnlab"
# Open_vSwitch external_ids the lab sets on a chassis host (and restores on down)
CHASSIS_KEYS = (
    "system-id",
    "hostname",
    "ovn-remote",
    "ovn-encap-type",
    "ovn-encap-ip",
    "ovn-bridge-datapath-type",
    "ovn-cms-options",
)


@dataclass(frozen=True)
class Underlay:
    interface: str
    address: str  # with prefix length, as found on the interface
    mac: str
    datapath: str  # system | netdev

    @property
    def ip(self) -> str:
        return self.address.split("/")[0]


# --- connections for this process ----------------------------------------------------------


# --- before planning: which host is which node, and their underlay addresses -----------------


@dataclass
class Placement:
    hosts: dict[str, HostSpec]  # node -> host
    underlay: dict[str, Underlay]  # node -> what was found on its host
    subnet: ipaddress.IPv4Network  # the one the hosts' underlay addresses share
    pool: Pool
    inventory: Path
    known_hosts: Path


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
) -> Placement:
    """Connect to every node's host, check it is ready, find its underlay address."""
    from lab.providers.ssh.transport import place_nodes

    supported(plan)
    specs = place_nodes(host_keys, load_inventory(inventory), inventory)
    known = Path(known_hosts or DEFAULT_KNOWN_HOSTS).expanduser().resolve()
    pool = Pool(known, accept_new)
    with progress.step(f"connecting to {len(specs)} hosts"):
        found = _parallel(
            {
                n: (
                    lambda n=n: _inspect_host(
                        pool, specs[n], plan.nodes[n], plan.vms_on(n), plan.lab
                    )
                )
                for n in specs
            }
        )
    subnets = {ipaddress.ip_interface(u.address).network for u in found.values()}
    if len(subnets) != 1:
        listing = ", ".join(f"{n} {u.address} on {u.interface}" for n, u in found.items())
        raise UserError(
            f"the hosts' underlay addresses are not on one subnet ({listing}); set "
            "ovn_underlay_if in the inventory to the interface of the shared overlay network"
        )
    return Placement(specs, found, subnets.pop(), pool, inventory.resolve(), known)


def _inspect_host(
    pool: Pool, spec: HostSpec, node: NodePlan, plan_vms: list[VMPlan], lab: str
) -> Underlay:
    host = pool.get(spec)
    if host.sudo and host.run(["true"], check=False).returncode != 0:
        raise UserError(
            f"{spec.name}: user {spec.user} cannot run `sudo -n` (passwordless sudo is needed)"
        )
    probe = (
        ["ovn-nbctl", "--timeout=5", "get-connection"]
        if node.role == "central"
        else ["ovs-vsctl", "--timeout=5", "get", "Open_vSwitch", ".", "_uuid"]
    )
    proc = host.run(probe, check=False, timeout=15)
    if proc.returncode == 127:
        raise UserError(
            f"{spec.name} has no {probe[0]}: provision it first with "
            "`lab provision --inventory FILE`"
        )
    if proc.returncode != 0:
        raise UserError(
            f"{spec.name}: {probe[0]} gets no answer ({proc.stderr.strip()[:120]}); are its "
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
    owner = nb_owner(host) if node.role == "central" else _external_ids(host).get(OWNER_KEY)
    if owner not in (None, lab):
        what = "the central" if node.role == "central" else "a node"
        raise UserError(f"host {spec.name} is {what} of lab {owner}: `lab down {owner}` first")
    if node.is_chassis:
        _refuse_taken_vm_names(host, spec, plan_vms, set(macs))
    return Underlay(interface, address, macs.get(interface, ""), datapath)


def _refuse_foreign_underlay_bridge(host: Host, spec: HostSpec, lab: str) -> None:
    """br-ovnlab is made tagged with its lab in one transaction: one without this lab's tag
    is the host's (or another lab's), which `lab down` would delete."""
    exists = host.run(["ovs-vsctl", "br-exists", UNDERLAY_BRIDGE], check=False).returncode == 0
    if exists and not _tagged(host, "Bridge", UNDERLAY_BRIDGE, lab):
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


# --- lab up ---------------------------------------------------------------------------------


def ssh_info(plan: Plan, placed: Placement) -> dict[str, Any]:
    """What state.info needs beyond lab_info(): how to reach and restore each host."""
    central_ip = placed.underlay[plan.central].ip
    return {
        "inventory": str(placed.inventory),
        "known_hosts": str(placed.known_hosts),
        "central_ip": central_ip,
        "hosts": {n: s.to_json() for n, s in placed.hosts.items()},
        "underlay": {n: u.__dict__ for n, u in placed.underlay.items()},
        "saved": {},  # node -> what was there before the lab changed it
    }


def adapt_info(info: LabInfo, placed: Placement) -> None:
    """Nodes are the hosts themselves (no namespace); the overlay wire is the host's
    underlay interface (what the geneve check captures on)."""
    for name, node in info.nodes.items():
        underlay = placed.underlay[name]
        node.netns = None
        node.datapath_type = underlay.datapath
        node.host = placed.hosts[name].name
        if info.overlay in node.links:
            node.links[info.overlay].node_if = underlay.interface


def build(plan: Plan, state: LabState, placed: Placement, progress: Progress) -> None:
    from lab.ovn.wait import nb_db, wait_ports_up

    sess = Session(
        placed.hosts, placed.pool, plan.central, placed.underlay[plan.central].ip, plan.ssl
    )
    _SESSIONS[plan.lab] = sess
    for node in plan.nodes:
        state.record("ssh_host", node)  # before anything on it changes
    if plan.ssl:
        from lab.providers.ssh import tls

        with progress.step(f"TLS files on {len(plan.nodes)} hosts"):
            _parallel({n: (lambda n=n: tls.push(state, sess.host(n), n)) for n in plan.nodes})
    with progress.step("central"):
        _prepare_central(plan, state, sess.host(plan.central), placed.underlay[plan.central])
        marks = [
            ["set", table, name, f"external_ids:{OWNER_KEY}={json.dumps(plan.lab)}"]
            for table, names in (
                ("Logical_Switch", plan_switches(plan)),
                ("Logical_Router", plan_routers(plan)),
            )
            for name in names
        ]
        db = f"--db={nb_db([sess.db_dir()])}"
        run(["ovn-nbctl", db, *transaction([*plan.nb_commands, *marks])])
    checkpoint("node-daemons", plan.central)
    chassis = plan.chassis()
    with progress.step(f"{len(chassis)} chassis, {len(plan.vms)} VMs"):
        _parallel(
            {
                n.name: (lambda n=n: _prepare_chassis(plan, state, sess, n, placed.underlay))
                for n in chassis
            }
        )
    with progress.step(f"waiting for {len(plan.vms)} ports up"):
        from lab.ovn.wait import port_up_timeout

        wait_ports_up([sess.db_dir()], [v.port for v in plan.vms.values()], port_up_timeout(plan))
    checkpoint("ports-up")
    with progress.step("resolving tunnel endpoints"):
        _warm_tunnels(plan, sess, placed.underlay)
    with progress.step(f"VM agent on {len(plan.nodes)} hosts"):
        _install_agents(plan, state, sess)
    _start_services(plan, state, sess, progress)


def _install_agents(plan: Plan, state: LabState, sess: Session) -> None:
    """lab/vm/vm_agent.py on every host: VM services and the connect checks' client."""
    from lab.providers.ssh import services as ssh_services

    for node in plan.nodes:
        record.save_before(state, node, "agent_dir", record.lab_dir(plan.lab))  # before it exists
    _parallel(
        {n: (lambda n=n: ssh_services.install_agent(sess.host(n), plan.lab)) for n in plan.nodes}
    )


def _start_services(plan: Plan, state: LabState, sess: Session, progress: Progress) -> None:
    """VM services in the VM namespaces on their chassis hosts, side by side."""
    from lab.providers.ssh import services as ssh_services
    from lab.vm.services import ServicePlan

    wanted = [
        ServicePlan(vm.name, vm.netns, proto, port)
        for vm in plan.vms.values()
        for proto, port in vm.services
    ]
    if not wanted:
        return
    with progress.step(f"{len(wanted)} VM services"):
        pids = _parallel(
            {
                p.key: (
                    lambda p=p: ssh_services.start(
                        sess.host(plan.vms[p.vm].chassis), plan.lab, p, state.record
                    )
                )
                for p in wanted
            }
        )
        shown: dict[str, list[ServiceInfo]] = {}
        for p in wanted:
            shown.setdefault(p.vm, []).append(ServiceInfo(p.proto, p.port, pids[p.key]))
        state.info.services = shown
        state.save()
    checkpoint("services")


def _connections(host: Host) -> dict[str, list[str]]:
    """The NB and SB listeners now (`ovn-sbctl get-connection` says 'read-write role=""
    ptcp:6642', ovn-nbctl just 'ptcp:6641')."""
    return {
        tool: [ln.split()[-1] for ln in host.run([tool, "get-connection"]).stdout.splitlines()]
        for tool in ("ovn-nbctl", "ovn-sbctl")
    }


def nb_owner(host: Host) -> str | None:
    """The lab whose central this is (NB_Global external_ids:ovn-lab), as chassis say it in
    their Open_vSwitch external_ids."""
    proc = host.run(
        ["ovn-nbctl", "--if-exists", "get", "NB_Global", ".", f"external_ids:{OWNER_KEY}"],
        check=False,
    )
    return proc.stdout.strip().strip('"') or None


def _prepare_central(plan: Plan, state: LabState, host: Host, underlay: Underlay) -> None:
    owner = nb_owner(host)
    if owner not in (None, plan.lab):
        raise UserError(f"host {host.name} is the central of lab {owner}: `lab down {owner}` first")
    existing = set()
    for table in ("Logical_Switch", "Logical_Router"):
        out = host.run(["ovn-nbctl", "--bare", "--columns=name", "list", table]).stdout
        existing |= set(out.split())
    ours = [*plan_switches(plan), *plan_routers(plan)]
    taken = sorted(existing & set(ours))
    if taken:
        raise UserError(
            f"the Northbound DB on {host.name} already has {', '.join(taken)}: another lab (or "
            "a leftover) uses these names; `lab down` it, or delete them with ovn-nbctl"
        )
    record.save_before(
        state,
        plan.central,
        "nb_objects",
        {"switches": plan_switches(plan), "routers": plan_routers(plan)},
    )
    record.save_before(state, plan.central, "connections", _connections(host))
    record.save_before(state, plan.central, "nb_owner", owner)
    host.run(["ovn-nbctl", "set", "NB_Global", ".", f"external_ids:{OWNER_KEY}={plan.lab}"])
    if plan.ssl:  # the SSL tables before the pssl: listeners that need them
        from lab.providers.ssh import tls

        tls.prepare_central(state, host, plan.central)
    # listen on the overlay address only, as the lab's own centrals do
    listen = "pssl" if plan.ssl else "ptcp"
    host.run(["ovn-nbctl", "set-connection", f"{listen}:{NB_PORT}:{underlay.ip}"])
    host.run(["ovn-sbctl", "set-connection", f"{listen}:{SB_PORT}:{underlay.ip}"])
    if plan.ssl:
        tls.start_northd(state, host, plan)


def plan_switches(plan: Plan) -> list[str]:
    return _names_created(plan, "ls-add")


def plan_routers(plan: Plan) -> list[str]:
    return _names_created(plan, "lr-add")


def _names_created(plan: Plan, verb: str) -> list[str]:
    names = []
    for cmd in plan.nb_commands:
        args = [a for a in cmd if not a.startswith("--")]
        if args and args[0] == verb and len(args) > 1:
            names.append(args[1])
    return names


def _external_ids(host: Host) -> dict[str, str]:
    out = host.run(
        ["ovs-vsctl", "--format=json", "--columns=external_ids", "list", "Open_vSwitch"]
    ).stdout
    rows = json.loads(out)["data"]
    return {str(k): str(v) for k, v in rows[0][0][1]} if rows else {}


def _prepare_chassis(
    plan: Plan, state: LabState, sess: Session, node: NodePlan, found: dict[str, Underlay]
) -> None:
    host = sess.host(node.name)
    underlay = found[node.name]
    before = _external_ids(host)
    owner = before.get(OWNER_KEY)
    if owner not in (None, plan.lab):
        raise UserError(f"host {host.name} is a node of lab {owner}: `lab down {owner}` first")
    record.save_before(
        state, node.name, "external_ids", {k: before.get(k) for k in (*CHASSIS_KEYS, OWNER_KEY)}
    )
    kind = host.run(["ovs-vsctl", "--if-exists", "get", "Bridge", "br-int", "datapath_type"])
    found = kind.stdout.strip()  # nothing: no br-int; '""': one of the default type
    record.save_before(state, node.name, "br_int", found.strip('"') if found else None)
    if underlay.datapath == "netdev":
        _address_onto_bridge(state, host, node.name, underlay, plan.lab)
    ids = {
        OWNER_KEY: plan.lab,
        "system-id": node.name,
        "hostname": node.name,
        "ovn-remote": plan.sb_remote,
        "ovn-encap-type": "geneve",
        "ovn-encap-ip": underlay.ip,
        "ovn-bridge-datapath-type": underlay.datapath,
    }
    if node.role == "gateway":
        ids["ovn-cms-options"] = "enable-chassis-as-gw"
    ssl: list[str] = []
    if plan.ssl:  # ovn-controller's key, certificate and CA: in the same transaction
        from lab.providers.ssh import tls

        ssl = [*tls.chassis_ssl(state, host, node.name), "--"]
    checkpoint("node-wired", node.name)  # halfway: the underlay moved, ids not yet set
    host.run(
        [
            "ovs-vsctl",
            *ssl,
            "set",
            "Open_vSwitch",
            ".",
            *(f"external_ids:{k}={v}" for k, v in ids.items()),
        ]
    )
    # ovn-controller made br-int when the playbook pointed it at the central; make sure of
    # it (and of its datapath type) before plugging VMs into it
    _ensure_br_int(state, host, node.name, underlay.datapath, found != "")
    vms = plan.vms_on(node.name)
    if vms:
        names = [vm.name for vm in vms]
        state.claim(SSH_VM, names)
        cmds = []
        for vm in vms:
            made = vm_commands(vm, None, owner=plan.lab)
            # the namespace's marker right after `ip netns add`: a crash leaves it provable
            made.insert(1, ["ip", "-n", vm.netns, "link", "set", "lo", "alias", marker(state)])
            cmds += made
        host.run(["sh", "-ec", script(cmds)], timeout=120)
        checkpoint("vms", node.name)  # made, still pending: teardown proves them by markers
        state.confirm(SSH_VM, names)


def _ensure_br_int(state: LabState, host: Host, node: str, datapath: str, existed: bool) -> None:
    """br-int of the right datapath type; made (and then owned, tagged) only where the host
    had none - a br-int the host had is only given its old type back by `lab down`."""
    if existed:
        host.run(
            [
                "ovs-vsctl",
                "set",
                "Bridge",
                "br-int",
                "fail_mode=secure",
                f"datapath_type={datapath}",
            ]
        )
        return
    state.claim(SSH_BR_INT, [node])
    made = host.run(
        [
            "ovs-vsctl", "add-br", "br-int", "--", "set", "Bridge", "br-int", "fail_mode=secure",
            f"datapath_type={datapath}", f"external_ids:{OWNER_KEY}={json.dumps(state.name)}",
        ],
        check=False,
    )  # fmt: skip
    state.confirm(
        SSH_BR_INT, [node] if made.returncode == 0 else [], [] if made.returncode == 0 else [node]
    )
    if made.returncode != 0:  # ovn-controller made it meanwhile: the host's, not ours
        _ensure_br_int(state, host, node, datapath, existed=True)


def marker(state: LabState) -> str:
    from lab.state import ownership

    return ownership.marker(state)


def _address_onto_bridge(
    state: LabState, host: Host, node: str, underlay: Underlay, lab: str
) -> None:
    """Userspace tunnels: the underlay interface becomes a port of an OVS bridge that takes
    over its address (and MAC, so the peers' ARP caches stay right)."""
    bridge = UNDERLAY_BRIDGE
    record.save_before(state, node, "underlay", {"bridge": bridge, **underlay.__dict__})
    host.run(
        [
            "ovs-vsctl",
            "--may-exist",
            "add-br",
            bridge,
            "--",
            "set",
            "Bridge",
            bridge,
            "datapath_type=netdev",
            f"other_config:hwaddr={underlay.mac}",
            f"external_ids:{OWNER_KEY}={lab}",
            "--",
            "--may-exist",
            "add-port",
            bridge,
            underlay.interface,
        ]
    )
    host.run(
        [
            "sh",
            "-ec",
            script(
                [
                    ["ip", "addr", "del", underlay.address, "dev", underlay.interface],
                    ["ip", "addr", "replace", underlay.address, "dev", bridge],
                    ["ip", "link", "set", bridge, "up"],
                ]
            ),
        ]
    )


def script(cmds: list[list[str]]) -> str:
    """One shell script from argv lists, each quoted: one SSH round trip for many commands."""
    return "\n".join(shlex.join(cmd) for cmd in cmds)


def _warm_tunnels(plan: Plan, sess: Session, found: dict[str, Underlay]) -> None:
    """The userspace datapath drops the first packet to a tunnel peer it has not resolved:
    one ping from each netdev chassis' bridge to every peer teaches it the peers' MACs."""
    chassis = [n.name for n in plan.chassis()]

    def warm(node: str) -> None:
        if found[node].datapath != "netdev":
            return
        pings = [
            ["ping", "-c", "1", "-W", "1", "-I", UNDERLAY_BRIDGE, found[peer].ip]
            for peer in chassis
            if peer != node
        ]
        # one round trip per chassis; `&` runs the pings side by side, `wait` for all
        lines = [f"{shlex.join(cmd)} >/dev/null 2>&1 &" for cmd in pings]
        sess.host(node).run(["sh", "-c", "\n".join([*lines, "wait"])], check=False)

    _parallel({n: (lambda n=n: warm(n)) for n in chassis})


# --- lab status -------------------------------------------------------------------------------

# where Debian's ovs-ctl / ovn-ctl (and so the playbook's services) keep each daemon's pidfile
PIDFILES = {
    "ovsdb-server": "/var/run/openvswitch/ovsdb-server.pid",
    "ovs-vswitchd": "/var/run/openvswitch/ovs-vswitchd.pid",
    "ovn-controller": "/var/run/ovn/ovn-controller.pid",
    "ovnnb_db": "/var/run/ovn/ovnnb_db.pid",
    "ovnsb_db": "/var/run/ovn/ovnsb_db.pid",
    "ovn-northd": "/var/run/ovn/ovn-northd.pid",
}


def node_health(
    state: LabState, node: str, daemons: tuple[str, ...]
) -> tuple[bool, dict[str, bool]]:
    """(host answers, daemon -> running) for a node of an ssh lab: one command on its host."""
    try:
        host = session(state).host(node)
        pidfiles = dict(PIDFILES)
        if state.info.ssl:  # the lab's own ovn-northd (lab.providers.ssh.tls), not the host's
            from lab.providers.ssh import tls

            pidfiles["ovn-northd"] = tls.northd_files(state.name)[0]
        probe = "; ".join(
            f"kill -0 $(cat {shlex.quote(pidfiles[d])} 2>/dev/null) 2>/dev/null && echo {d}"
            for d in daemons
        )
        running = set(host.run(["sh", "-c", probe], check=False, timeout=15).stdout.split())
    except LabError:
        return False, dict.fromkeys(daemons, False)
    return True, {d: d in running for d in daemons}


def vm_namespaces(state: LabState) -> set[str]:
    """The VM namespaces that exist on the lab's chassis hosts."""
    found: set[str] = set()
    for chassis in {vm.chassis for vm in state.info.vms.values()}:
        try:
            listed = session(state).host(chassis).run(["ip", "netns", "list"], check=False)
        except LabError:
            continue
        found |= {line.split()[0] for line in listed.stdout.splitlines() if line.strip()}
    return found


# --- lab down ---------------------------------------------------------------------------------


def teardown(state: LabState, forget_unreachable: bool = False) -> list[str]:
    """Put every host back as the lab found it. Each step is idempotent, so a crash at any
    point of `lab up` (or of this) is mended by running `lab down` again. A host that cannot
    be cleaned fails the teardown (the state stays for a retry) unless `forget_unreachable`
    (`lab down --forget-unreachable`: the host is gone); returns what was given up."""
    ssh = state.info.ssh
    nodes = state.resources.get("ssh_host", [])
    if not ssh or not nodes:
        return []
    sess = session(state)
    errors: list[str] = []

    def clean(node: str) -> None:
        try:
            host = sess.host(node)
            _clean_host(state, host, node)
        except LabError as exc:
            errors.append(f"{node}: {exc}")

    _parallel({n: (lambda n=n: clean(n)) for n in nodes}, raise_first=False)
    _SESSIONS.pop(state.name, None)
    sess.close()
    if errors and not forget_unreachable:
        raise RuntimeFailure(
            "could not clean every host: "
            + "; ".join(errors)
            + " (run `lab down` again once they answer, or `lab down --forget-unreachable` "
            "if they are gone for good)"
        )
    for problem in errors:  # forgotten: say what may still be on those hosts
        print(f"warning: gave up on {problem}", file=sys.stderr)
    return errors


def _tagged(host: Host, table: str, name: str, lab: str) -> bool:
    """Does this OVS record carry external_ids:ovn-lab=LAB (what the lab tags)?"""
    proc = host.run(
        ["ovs-vsctl", "--if-exists", "get", table, name, f"external_ids:{OWNER_KEY}"], check=False
    )
    return proc.returncode == 0 and proc.stdout.strip().strip('"') == lab


def _netns_marked(host: Host, netns: str, mark: str) -> bool:
    proc = host.run(["ip", "-n", netns, "-j", "link", "show", "lo"], check=False)
    try:
        return proc.returncode == 0 and json.loads(proc.stdout)[0].get("ifalias") == mark
    except (ValueError, IndexError, AttributeError):
        return False


def _clean_vms(state: LabState, host: Host, node: str) -> None:
    """Owned VMs go whole; a pending one (a crash while it was made) only as far as it
    provably is the lab's: the port's tag, the namespace's marker."""
    on_node = {n: v for n, v in state.info.vms.items() if v.chassis == node}
    owned = [v for n, v in on_node.items() if n in state.resources.get(SSH_VM, [])]
    pending = [v for n, v in on_node.items() if n in state.pending.get(SSH_VM, [])]
    if not owned and not pending:
        return
    listed = set(host.run(["ip", "netns", "list"]).stdout.split())
    cmds = [["ovs-vsctl", "--if-exists", "del-port", "br-int", v.chassis_if] for v in owned]
    cmds += [["ip", "netns", "del", v.netns] for v in owned if v.netns in listed]
    mark = marker(state)
    for v in pending:
        if _tagged(host, "Interface", v.chassis_if, state.name):
            cmds.append(["ovs-vsctl", "--if-exists", "del-port", "br-int", v.chassis_if])
        if v.netns in listed and _netns_marked(host, v.netns, mark):
            cmds.append(["ip", "netns", "del", v.netns])
    inside = [c[3] for c in cmds if c[:3] == ["ip", "netns", "del"]]
    if inside:  # VM services, connect clients: nothing may outlive its namespace
        kills = " ".join(f"$(ip netns pids {shlex.quote(ns)} 2>/dev/null)" for ns in inside)
        host.run(["sh", "-c", f"for p in {kills}; do kill -9 $p 2>/dev/null; done; true"])
    if cmds:
        host.run(["sh", "-ec", script(cmds)])


def _clean_host(state: LabState, host: Host, node: str) -> None:
    saved = state.info.ssh["saved"].get(node, {})
    _clean_vms(state, host, node)
    if "external_ids" in saved:
        ids = saved["external_ids"]
        back = [f"external_ids:{k}={v}" for k, v in ids.items() if v is not None]
        gone = [k for k, v in ids.items() if v is None]
        if back:
            host.run(["ovs-vsctl", "set", "Open_vSwitch", ".", *back])
        if gone:
            host.run(["ovs-vsctl", "remove", "Open_vSwitch", ".", "external_ids", *gone])
    if "br_int" in saved:
        kind = saved["br_int"]
        if kind is not None:  # the host's own br-int: its type back
            host.run(["ovs-vsctl", "set", "Bridge", "br-int", f"datapath_type={json.dumps(kind)}"])
        elif node in state.resources.get(SSH_BR_INT, []) or (
            node in state.pending.get(SSH_BR_INT, [])
            and _tagged(host, "Bridge", "br-int", state.name)
        ):
            host.run(["ovs-vsctl", "--if-exists", "del-br", "br-int"])
    if "underlay" in saved:
        u = saved["underlay"]
        host.run(
            [
                "sh",
                "-c",
                script(
                    [
                        ["ip", "addr", "del", u["address"], "dev", u["bridge"]],
                        ["ovs-vsctl", "--if-exists", "del-br", u["bridge"]],
                        ["ip", "addr", "replace", u["address"], "dev", u["interface"]],
                        ["ip", "link", "set", u["interface"], "up"],
                    ]
                ),
            ]
        )
    if "nb_objects" in saved:
        # only the switches and routers the lab made: named in state and tagged with the lab
        objects = saved["nb_objects"]
        tag = f"external_ids:{OWNER_KEY}={json.dumps(state.name)}"
        cmds = []
        for table, verb, names in (
            ("Logical_Router", "lr-del", objects["routers"]),
            ("Logical_Switch", "ls-del", objects["switches"]),
        ):
            out = host.run(["ovn-nbctl", "--bare", "--columns=name", "find", table, tag]).stdout
            cmds += [["--if-exists", verb, n] for n in names if n in set(out.split())]
        if cmds:
            host.run(["ovn-nbctl", *transaction(cmds)])
    if "nb_owner" in saved:
        before = saved["nb_owner"]
        if before is not None:
            host.run(["ovn-nbctl", "set", "NB_Global", ".", f"external_ids:{OWNER_KEY}={before}"])
        elif nb_owner(host) == state.name:
            host.run(["ovn-nbctl", "remove", "NB_Global", ".", "external_ids", OWNER_KEY])
    if "connections" in saved:
        for tool, targets in saved["connections"].items():
            host.run([tool, "set-connection", *targets] if targets else [tool, "del-connection"])
    from lab.providers.ssh import tls

    # ssl: true: the lab's ovn-northd stopped, the host's resumed, the SSL rows back (once
    # listeners and ovn-remote are plain again); then the files, with the lab's directory
    tls.restore(state, host, saved)
    if "agent_dir" in saved and saved["agent_dir"].startswith("/run/ovn-lab/"):
        host.run(["rm", "-rf", "--", saved["agent_dir"]])
        # and /run/ovn-lab itself once no lab has a directory in it
        host.run(["rmdir", "--ignore-fail-on-non-empty", "--", "/run/ovn-lab"], check=False)


# --- helpers -----------------------------------------------------------------------------------


def _parallel(tasks: dict[str, Callable[[], Any]], raise_first: bool = True) -> dict[str, Any]:
    """Run per-host work side by side (each host has its own connection)."""
    if not tasks:
        return {}
    with ThreadPoolExecutor(max_workers=min(16, len(tasks))) as pool:
        futures = {name: pool.submit(task) for name, task in tasks.items()}
    results = {}
    for name, future in futures.items():
        exc = future.exception()
        if exc is not None and raise_first:
            raise exc
        results[name] = None if exc is not None else future.result()
    return results
