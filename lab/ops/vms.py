"""`lab add-vm` / `lab del-vm`: change a running lab's VMs (ovn-heater's time-to-first-ping)."""

from __future__ import annotations

import time

from lab import naming, providers
from lab.errors import UserError
from lab.ovn import chassis as ovn_chassis
from lab.ovn.wait import nb_db, wait_port_up_in_sb, wait_ports_up
from lab.plan.model import NodePlan, VMPlan
from lab.providers.netns import namespaces as nsprov
from lab.providers.netns.ownership import create_netns
from lab.providers.targets import centrals_of, netns_env
from lab.runner import run
from lab.state.info import LabInfo, NodeInfo, VmInfo
from lab.state.store import LabState, lab_lock, node_dir

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
    wait_for: str = "hv",
) -> float:
    """Create a VM on a chassis of a running lab and wait for its port to be up (`wait`
    false: do not wait; the check step add-vm watches it). Under the lab's lock, on the
    state as it is then; on any failure everything it made is undone. Returns the seconds
    it took. `wait_for`: "hv" (the NB's up=true, then every chassis caught up, as lab up
    waits) or "port" (only the port's own Port_Binding up=true in the SB)."""
    if wait_for not in ("hv", "port"):
        raise ValueError(f"wait_for must be 'hv' or 'port', not {wait_for!r}")
    start = time.monotonic()
    with lab_lock(state.name):
        state.refresh()  # what another add-vm saved meanwhile is kept
        vm, node = _checked_vm(state, name, chassis, switch, ip, gateway, mac, attach)
        central = centrals_of(state)
        db = f"--db={nb_db(central)}"
        if not run(
            [
                "ovn-nbctl",
                db,
                "--bare",
                "--columns=name",
                "find",
                "Logical_Switch",
                f"name={switch}",
            ]
        ).stdout.strip():
            raise UserError(f"'{switch}' is not a logical switch of lab {state.name}")
        try:
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
            # bind_vms needs only the chassis' namespace: no need to re-plan the whole lab
            node_plan = NodePlan(name=chassis, role=node.role, netns=node.netns, links=[])
            ovn_chassis.bind_vms(
                node_plan,
                [vm],
                node_dir(state, chassis),
                lambda names: create_netns(state, names),
                providers.of(state).node_runner(state, chassis),
            )
            if wait and wait_for == "port":
                wait_port_up_in_sb(central, vm.port, ADD_TIMEOUT)
            elif wait:
                wait_ports_up(central, [vm.port], ADD_TIMEOUT)
        except BaseException:  # Ctrl-C too: no half-added VM stays behind
            _undo(state, vm)
            raise
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
    return time.monotonic() - start


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
    from pydantic import ValidationError

    from lab.topology.model import VM
    from lab.topology.validate import _mac_problem

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


def _undo(state: LabState, vm: VMPlan) -> None:
    """Remove what a failed add-vm made: its port in the NB and on br-int, its namespace
    (only if this lab created it)."""
    _remove(state, vm.name, vm, check_nb=False)


def _remove(state: LabState, name: str, vm: VMPlan | VmInfo, check_nb: bool) -> None:
    """A VM's logical port, its br-int port, its pin in a container node, and its
    namespace when the lab made it."""
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
