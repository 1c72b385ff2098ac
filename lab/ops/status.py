"""`lab status`: what is really running, read from the system, not from what we hoped."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from lab import providers
from lab.naming import DEFAULT_PROVIDER
from lab.ovn.db import list_rows, uuid_of
from lab.ovn.wait import nb_db, sb_db
from lab.providers.targets import centrals_of
from lab.state.store import LabState


@dataclass
class NodeStatus:
    name: str
    role: str
    netns: bool
    daemons: dict[str, bool]
    stopped: bool = False  # by `lab stop`: dead daemons are expected, not a fault
    chassis_registered: bool | None = None  # None: not a chassis, or the SB is unreadable
    # clustered centrals: database -> this server's raft role (None: it does not answer),
    # and whether its ovn-northd is active or standby
    raft: dict[str, str | None] | None = None
    northd: str | None = None
    build: str | None = (
        None  # which OVS/OVN it runs (lab.providers.docker.builds), and their versions
    )
    ovs: str | None = None
    ovn: str | None = None


@dataclass
class PortStatus:
    port: str
    vm: str
    expected_chassis: str
    bound_chassis: str | None
    up: bool
    # the VM's addresses: as given, or what DHCP / SLAAC gave it (`ip: dynamic` included)
    addresses: list[str] = field(default_factory=list)


@dataclass
class ServiceStatus:
    vm: str
    proto: str
    port: int
    pid: int | None
    alive: bool


@dataclass
class LabStatus:
    name: str
    phase: str
    provider: str = DEFAULT_PROVIDER
    nodes: list[NodeStatus] = field(default_factory=list)
    ports: list[PortStatus] = field(default_factory=list)
    services: list[ServiceStatus] = field(default_factory=list)  # VM services (lab.vm.services)
    problems: list[str] = field(default_factory=list)
    faults: list[str] = field(default_factory=list)  # link/impair/partition in place (wanted)

    @property
    def healthy(self) -> bool:
        return not self.problems

    def to_dict(self) -> dict[str, object]:
        return {**asdict(self), "healthy": self.healthy}


def lab_status(state: LabState) -> LabStatus:
    from lab.ops.wirefaults import describe as describe_faults

    status = LabStatus(name=state.name, phase=state.phase, provider=state.provider)
    status.faults = describe_faults(state)
    centrals = centrals_of(state)
    sb, nb = sb_db(centrals), nb_db(centrals)
    chassis_rows = list_rows("ovn-sbctl", "_uuid,name", "Chassis", db=sb, timeout=5)
    binding_rows = list_rows("ovn-sbctl", "logical_port,chassis", "Port_Binding", db=sb, timeout=5)
    sb_read = chassis_rows is not None and binding_rows is not None
    if not sb_read:  # say so, rather than "not registered" / "unbound" for everything
        status.problems.append(
            "the Southbound DB cannot be read: chassis registration and port bindings unknown"
        )
    chassis_by_uuid = {uuid_of(u): str(n) for u, n in chassis_rows or []}
    registered = set(chassis_by_uuid.values())
    stopped = set(state.info.stopped)
    provider = providers.of(state)
    from lab.ops.upgrade import current_builds

    builds_now = current_builds(state)
    versions = provider.versions(state)
    for name, info in state.info.nodes.items():
        # an ssh lab's nodes are hosts: "netns" then says whether the host answers
        there, daemons = provider.node_health(state, name)
        node = NodeStatus(
            name=name, role=info.role, netns=there, daemons=daemons, stopped=name in stopped
        )
        node.build = builds_now.get(name)
        node.ovs, node.ovn = versions.get(name, (None, None))
        if info.role in ("chassis", "gateway") and sb_read:
            node.chassis_registered = name in registered
            if not node.chassis_registered and not node.stopped:
                status.problems.append(f"chassis {name} is not registered in the Southbound DB")
        if not node.netns:
            missing = (
                f"namespace {info.netns} is missing"
                if info.netns
                else f"host {info.host} does not answer"
            )
            status.problems.append(f"node {name}: {missing}")
        for daemon, alive in node.daemons.items():
            if not alive and not node.stopped:
                status.problems.append(f"node {name}: {daemon} is not running")
        status.nodes.append(node)
    if len(centrals) > 1:
        _cluster_health(state, status)
    bindings = {str(lp): chassis_by_uuid.get(uuid_of(ch)) for lp, ch in binding_rows or []}
    lsp_rows = list_rows("ovn-nbctl", "name,up", "Logical_Switch_Port", db=nb, timeout=5)
    up = {str(n): u is True for n, u in lsp_rows or []}
    if lsp_rows is None:
        status.problems.append("the Northbound DB cannot be read: which ports are up is unknown")
    exists = provider.vm_exists(state)
    for vm, vm_info in state.info.vms.items():
        port = PortStatus(
            port=vm_info.port,
            vm=vm,
            expected_chassis=vm_info.chassis,
            bound_chassis=bindings.get(vm_info.port),
            up=up.get(vm_info.port, False),
            addresses=vm_info.addresses(),
        )
        if not port.up:
            if lsp_rows is not None:
                status.problems.append(f"port {port.port} (VM {vm}) is not up")
        elif sb_read and port.bound_chassis != port.expected_chassis:
            status.problems.append(
                f"port {port.port} is bound to {port.bound_chassis}, "
                f"expected {port.expected_chassis}"
            )
        if not exists(vm_info.netns):
            status.problems.append(f"VM {vm}: namespace {vm_info.netns} is missing")
        status.ports.append(port)
    _services(state, status)
    return status


def _services(state: LabState, status: LabStatus) -> None:
    alive = providers.of(state).services_alive(state) if state.info.services else {}
    for vm, services in state.info.services.items():
        for svc in services:
            key = (vm, str(svc.proto), int(svc.port))
            up = alive.get(key, False)
            status.services.append(ServiceStatus(vm, svc.proto, int(svc.port), svc.pid, up))
            if not up:
                status.problems.append(f"VM {vm}: its {svc.proto}/{svc.port} service died")


def _cluster_health(state: LabState, status: LabStatus) -> None:
    """Raft roles and northd states of clustered centrals: each database needs a leader
    and every running server must be a member; one ovn-northd must be active."""
    from lab.ovn.central import DBS
    from lab.ovn.cluster import read_cluster_status, read_northd_status
    from lab.ovn.daemons import node_env
    from lab.state.store import node_dir

    running = [n for n in status.nodes if n.role == "central" and not n.stopped and n.netns]
    for node in running:
        directory = node_dir(state, node.name)
        node.raft = {}
        for db in DBS:
            view = (
                read_cluster_status(db.ctl(directory), db.name) if node.daemons[db.daemon] else None
            )
            node.raft[db.name] = view.role if view else None
            if view is not None and view.status != "cluster member":
                status.problems.append(
                    f"node {node.name}: its {db.name} server is not a cluster member "
                    f"({view.status})"
                )
        if node.daemons["ovn-northd"]:
            node.northd = read_northd_status(node_env(directory, directory))
    for db in DBS:
        if running and not any((n.raft or {}).get(db.name) == "leader" for n in running):
            status.problems.append(f"the {db.name} raft cluster has no leader")
    if running and not any(n.northd == "active" for n in running):
        status.problems.append(
            "no ovn-northd is active (all standby or dead): NB changes do not reach the SB"
        )
