"""`lab add-vm` / `lab del-vm`: change a running lab's VMs (ovn-heater's time-to-first-ping)."""

from __future__ import annotations

import time

from pydantic import ValidationError

from lab import naming, providers
from lab.errors import UserError
from lab.ovn import chassis as ovn_chassis
from lab.ovn.daemons import CENTRAL_DAEMONS, CHASSIS_DAEMONS, Daemon
from lab.ovn.wait import nb_db, wait_port_installed, wait_ports_up
from lab.plan.model import NodePlan, VMPlan
from lab.providers.netns import namespaces as nsprov
from lab.providers.netns.ownership import create_netns
from lab.providers.targets import centrals_of, netns_env
from lab.runner import run
from lab.sched import ahead_of_the_daemons
from lab.state.info import LabInfo, NodeInfo, VmInfo
from lab.state.store import LabState, lab_lock, node_dir
from lab.topology.model import VM  # at import, not in the first add_vm's time (0.4 s)
from lab.topology.validate import _mac_problem

ADD_TIMEOUT = 30.0


def add_vm(
    state: LabState,
    name: str,
    chassis: str,
    switch: str,
    ip: str,
    gateway: str | None = None,
    mac: str | None = None,
    attach: str = "internal",
    wait: bool = True,
    wait_for: str = "port",
) -> float:
    """Create a VM on a chassis of a running lab and wait for its port to be up (`wait`
    false: do not wait; the check step add-vm watches it). Under the lab's lock, on the
    state as it is then; on any failure everything it made is undone. Returns the seconds
    it took. `wait_for`: "port" (its own chassis has installed the port's flows: OVS
    Interface external_ids:ovn-installed, what ovn-kubernetes waits for) or "hv" (the NB's
    up=true, then every chassis caught up, as lab up waits: 0.85 s more at 100 chassis,
    where each of them reports in)."""
    if wait_for not in ("hv", "port"):
        raise ValueError(f"wait_for must be 'hv' or 'port', not {wait_for!r}")
    start = time.monotonic()
    with lab_lock(state.name):
        state.refresh()  # what another add-vm saved meanwhile is kept
        vm, node = _checked_vm(state, name, chassis, switch, ip, gateway, mac, attach)
        central = centrals_of(state)
        db = f"--db={nb_db(central)}"
        if not _nb_names(db, "Logical_Switch", switch):
            raise UserError(f"'{switch}' is not a logical switch of lab {state.name}")
        if _nb_names(db, "Logical_Switch_Port", vm.port):
            # a router's peer port, say: an lsp-add would fail, and undoing it would delete it
            raise UserError(
                f"lab {state.name} already has a logical switch port {vm.port}; "
                "choose another VM name"
            )
        runner = providers.of(state).node_runner(state, chassis)
        port_made = False  # on failure, only a logical port this add-vm made is removed
        with ahead_of_the_daemons(_daemons_on_the_way(state, chassis)):
            # The VM first, then its record, then its logical port: its controller claims the
            # port as soon as northd makes the Port_Binding, and neither the namespace and
            # tap nor the state file's fsync wait behind every chassis and northd busy with
            # the new port (measured at 100 chassis: the bind took 0.8-1.4 s after lsp-add,
            # 0.1 s before it; the save 0.2-0.3 s, 15 ms).
            try:
                # bind_vms needs only the chassis' namespace: no need to re-plan the whole lab
                node_plan = NodePlan(name=chassis, role=node.role, netns=node.netns, links=[])
                ovn_chassis.bind_vms(
                    node_plan,
                    [vm],
                    node_dir(state, chassis),
                    lambda names: create_netns(state, names),
                    runner,
                )
                state.info.vms[name] = VmInfo(
                    chassis=chassis,
                    netns=vm.netns,
                    port=vm.port,
                    switch=switch,
                    ip=str(vm.ip),
                    mac=vm.mac,
                    attach=attach,
                    ifname=vm.vm_if,
                    chassis_if=vm.chassis_if,
                    added=True,
                )
                state.save()
                port_made = True  # none was there (checked above, under the lab's lock)
                run(
                    [
                        "ovn-nbctl",
                        db,
                        "--",
                        "lsp-add",
                        switch,
                        vm.port,
                        "--",
                        "lsp-set-addresses",
                        vm.port,
                        f"{vm.mac} {vm.ip.ip}",
                    ]
                )
                if wait and wait_for == "port":
                    wait_port_installed(node_dir(state, chassis), vm.chassis_if, ADD_TIMEOUT)
                elif wait:
                    wait_ports_up(central, [vm.port], ADD_TIMEOUT)
            except BaseException:  # Ctrl-C too: no half-added VM stays behind
                _undo(state, vm, port_made)
                if state.info.vms.pop(name, None) is not None:
                    state.save()
                raise
    return time.monotonic() - start


def _daemons_on_the_way(state: LabState, chassis: str) -> list[int]:
    """PIDs of the daemons a new port waits on: the centrals' (northd makes its
    Port_Binding, the SB carries it) and its own chassis' (which claims it and installs its
    flows). Every other chassis processes the same port at the same time; with these ahead
    of them, the port does not queue behind a hundred controllers."""
    wanted = [(chassis, CHASSIS_DAEMONS)]
    wanted += [(central, CENTRAL_DAEMONS) for central in state.info.central_names()]
    pids = []
    for node, names in wanted:
        runner = providers.of(state).node_runner(state, node)
        for name in names:
            if (pid := Daemon(name, node_dir(state, node), runner).pid()) is not None:
                pids.append(pid)
    return pids


def _checked_vm(
    state: LabState,
    name: str,
    chassis: str,
    switch: str,
    ip: str,
    gateway: str | None,
    mac: str | None,
    attach: str,
) -> tuple[VMPlan, NodeInfo]:
    """The VM to add, checked by the loader's own rules (VM model, MAC rule, names)."""
    info = state.info
    if not naming.NODE_NAME.fullmatch(name):
        raise UserError(f"VM name '{name}' is not valid; it must {naming.NODE_NAME_RULE}")
    if name in info.vms or name in info.nodes or name == "fabric":
        raise UserError(f"'{name}' already exists in lab {state.name}; choose another VM name")
    node = info.nodes.get(chassis)
    if node is None or node.role not in ("chassis", "gateway"):
        raise UserError(f"'{chassis}' is not a chassis of lab {state.name}")
    if chassis in info.stopped:
        raise UserError(f"chassis {chassis} is stopped; `lab start {chassis}` first")
    mac = (mac or naming.vm_mac(state.name, name)).lower()
    problem = _mac_problem(mac)
    if problem:
        raise UserError(f"--mac {problem}")
    spec = {"chassis": chassis, "switch": switch, "mac": mac, "ip": ip, "attach": attach}
    if gateway:
        spec["gateway"] = gateway
    try:
        model = VM.model_validate(spec)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        field = first["loc"][0] if first["loc"] else "value"
        raise UserError(
            f"--{field} {first.get('input')!r} is not valid ({first['msg']}); "
            "write an address with its prefix like 10.0.0.20/24"
        ) from None
    for other, v in info.vms.items():
        if v.mac.lower() == mac:
            raise UserError(f"--mac {mac} is already used by VM {other}; give each VM its own")
        if str(v.ip).split("/")[0] == str(model.ip.ip):
            raise UserError(f"--ip {model.ip.ip} is already used by VM {other}; pick another")
    vm = VMPlan(
        name=name,
        chassis=chassis,
        netns=naming.netns_name(state.name, name),
        port=name,
        switch=switch,
        attach=attach,
        chassis_if=naming.vm_chassis_port(name, attach),
        vm_if=naming.vm_ifname(name),
        mac=mac,
        ip=model.ip,
        gateway=model.gateway,
    )
    _refuse_interface_clash(info, vm)
    return vm, node


def _refuse_interface_clash(info: LabInfo, vm: VMPlan) -> None:
    """The VM's port must be a name its chassis does not have yet (lab.plan.ifnames: links,
    OVS bridges, OVS's own interfaces, other VMs' ports, shortened names included), and its
    interface must not be the VM namespace's loopback."""
    from lab.plan.ifnames import chassis_names

    node = info.nodes[vm.chassis]
    links = [(fabric, link.node_if) for fabric, link in node.links.items()]
    ports = [(n, v.chassis_if) for n, v in info.vms.items() if v.chassis == vm.chassis]
    taken = {name: what for name, what in reversed(chassis_names(links, ports))}
    if vm.chassis_if in taken:
        raise UserError(
            f"VM {vm.name} would make interface {vm.chassis_if} on {vm.chassis}, which is "
            f"already {taken[vm.chassis_if]}; choose another VM name"
        )
    if vm.vm_if == "lo":
        raise UserError(
            f"VM {vm.name} would name its interface lo, its loopback; choose another VM name"
        )


def _undo(state: LabState, vm: VMPlan, port_made: bool) -> None:
    """Remove what a failed add-vm made: its port in the NB (only if it made it) and on
    br-int, its namespace (only if this lab created it)."""
    _remove(state, vm.name, vm, check_nb=False, nb_port=port_made)


def _nb_names(db: str, table: str, name: str) -> str:
    argv = ["ovn-nbctl", db, "--bare", "--columns=name", "find", table, f"name={name}"]
    return run(argv).stdout.strip()


def _remove(
    state: LabState, name: str, vm: VMPlan | VmInfo, check_nb: bool, nb_port: bool = True
) -> None:
    """A VM's logical port, its br-int port, its pin in a container node, and its
    namespace when the lab made it."""
    if nb_port:
        central = centrals_of(state)
        run(
            ["ovn-nbctl", f"--db={nb_db(central)}", "--if-exists", "lsp-del", vm.port],
            check=check_nb,
        )
    netns, env = netns_env(state, vm.chassis)
    run(
        ["ovs-vsctl", "--if-exists", "del-port", "br-int", vm.chassis_if],
        netns=netns,
        env=env,
        check=False,
    )
    providers.of(state).node_runner(state, vm.chassis).hide_vm(name)
    if vm.netns in state.resources.get("netns", []):
        nsprov.kill_all_in([vm.netns])
        nsprov.remove(vm.netns)
        state.forget("netns", vm.netns)


def del_vm(state: LabState, name: str) -> None:
    with lab_lock(state.name):
        state.refresh()
        vm = state.info.vms.get(name)
        if vm is None:
            raise UserError(f"'{name}' is not a VM of lab {state.name}")
        _remove(state, name, vm, check_nb=True)
        del state.info.vms[name]
        state.save()
