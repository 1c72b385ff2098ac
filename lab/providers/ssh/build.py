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

import json
import shlex
from typing import TYPE_CHECKING, Any

from lab.errors import UserError
from lab.plan.commands import transaction
from lab.plan.model import NodePlan, Plan
from lab.progress import Progress
from lab.providers.ssh import guest, probe, record
from lab.providers.ssh.place import Placement, Underlay
from lab.providers.ssh.record import (
    CHASSIS_KEYS,
    OWNER_KEY,
    SSH_BR_INT,
    UNDERLAY_BRIDGE,
)
from lab.providers.ssh.session import _SESSIONS, NB_PORT, SB_PORT, Session, _parallel
from lab.providers.ssh.transport import Host
from lab.providers.ssh.vms import plug_vms
from lab.runner import run
from lab.state.info import LabInfo, ServiceInfo
from lab.state.store import LabState
from lab.testhooks import checkpoint

if TYPE_CHECKING:  # the model drags in pydantic; lab check and status never need it here
    pass


# --- connections for this process ----------------------------------------------------------


# --- before planning: which host is which node, and their underlay addresses -----------------


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
        "guests": guest.info(plan, placed.guests),  # chassis sharing a host (ssh/guest.py)
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
        if info.overlay in node.links and name not in placed.guests:
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
                n.name: (
                    (
                        lambda n=n: guest.bring_up(
                            plan, state, sess.host(n.name), n, placed.underlay[n.name]
                        )
                    )
                    if n.name in placed.guests
                    else (lambda n=n: _prepare_chassis(plan, state, sess, n, placed.underlay))
                )
                for n in chassis
            }
        )
    with progress.step(f"waiting for {len(plan.vms)} ports up"):
        from lab.ovn.wait import port_up_timeout

        wait_ports_up([sess.db_dir()], [v.port for v in plan.vms.values()], port_up_timeout(plan))
    checkpoint("ports-up")
    with progress.step(f"VM agent on {len({h.name for h in sess.hosts.values()})} hosts"):
        _install_agents(plan, state, sess)  # also what tells guests their tunnel peers
    with progress.step("resolving tunnel endpoints"):
        _warm_tunnels(plan, sess, placed.underlay, placed.guests)
    _start_services(plan, state, sess, progress)


def _install_agents(plan: Plan, state: LabState, sess: Session) -> None:
    """lab/vm/vm_agent.py on every host: VM services and the connect checks' client."""
    from lab.providers.ssh import services as ssh_services

    for node in plan.nodes:
        record.save_before(state, node, "agent_dir", record.lab_dir(plan.lab))  # before it exists
    first: dict[str, str] = {}  # one install per host, also where several chassis share one
    for node in plan.nodes:
        first.setdefault(sess.hosts[node].name, node)
    _parallel(
        {
            n: (lambda n=n: ssh_services.install_agent(sess.host(n), plan.lab))
            for n in first.values()
        }
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


def _prepare_central(plan: Plan, state: LabState, host: Host, underlay: Underlay) -> None:
    owner = probe.nb_owner(host)
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
    record.save_before(state, plan.central, "connections", probe.connections(host))
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


def _prepare_chassis(
    plan: Plan, state: LabState, sess: Session, node: NodePlan, found: dict[str, Underlay]
) -> None:
    host = sess.host(node.name)
    underlay = found[node.name]
    before = probe.external_ids(host)
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
    plug_vms(state, host, plan.vms_on(node.name), node.name, None)


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
            probe.script(
                [
                    ["ip", "addr", "del", underlay.address, "dev", underlay.interface],
                    ["ip", "addr", "replace", underlay.address, "dev", bridge],
                    ["ip", "link", "set", bridge, "up"],
                ]
            ),
        ]
    )


def _warm_tunnels(plan: Plan, sess: Session, found: dict[str, Underlay], guests: list[str]) -> None:
    """The userspace datapath drops the first packet to a tunnel peer it has not resolved:
    one ping from each netdev chassis' bridge to every peer teaches it the peers' MACs; a
    guest chassis is told them (guest.warm), as chassis on this machine are."""
    chassis = [n.name for n in plan.chassis()]

    def warm(node: str) -> None:
        if found[node].datapath != "netdev":
            return
        if node in guests:
            overlay = plan.nodes[node].link(plan.overlay) if plan.overlay else None
            if overlay is None or overlay.ovs_bridge is None:
                return
            peers = [(found[p].ip, found[p].mac) for p in chassis if p != node and found[p].mac]
            directory = str(guest.node_dir(plan.lab, node))
            guest.warm(sess.host(node), plan.lab, directory, overlay.ovs_bridge, peers)
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


# --- lab down ---------------------------------------------------------------------------------


# --- helpers -----------------------------------------------------------------------------------
