"""Security groups as the OVN tutorials write them: `create Address_Set`, `pg-add`,
`acl-add`, in the lab's one NB transaction, after the VM ports they refer to.

Also the classic mistake, found before anything runs: an ACL on a port group applies to
every port of every switch the group spans unless its match names the group (as
ovn-nbctl does); lab up and --dry-run warn when a port-group ACL's match does not.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from lab.topology.model import Acl, Topology


def _ovsdb_set(values: list[str]) -> str:
    """An OVSDB set of strings as ovn-nbctl takes it: "a","b" (or [] when empty)."""
    return ",".join('"' + v.replace('"', '\\"') + '"' for v in values) if values else "[]"


def acl_label(topo: Topology, index: int) -> str:
    """How messages name an ACL: its name, else its place in the file."""
    acl = topo.ovn.acls[index]
    return f"{acl.name} (ovn.acls.{index})" if acl.name else f"ovn.acls.{index}"


def _quoted(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def acl_command(acl: Acl, index: int = 0) -> list[str]:
    """acl-add, as the tutorials write it. ovn-nbctl's --name also turns logging on, so a
    named ACL that does not log is created as a row and added to its group or switch (one
    command line, one transaction)."""
    if acl.name and not acl.log and not acl.severity:
        table = "Port_Group" if acl.port_group else "Logical_Switch"
        columns = [
            f"direction={acl.direction}",
            f"priority={acl.priority}",
            f"match={_quoted(acl.match)}",
            f"action={acl.action}",
            f"name={_quoted(acl.name)}",
        ]
        if acl.label is not None:
            columns.append(f"label={acl.label}")
        ref = f"@acl{index}"
        return [
            f"--id={ref}",
            "create",
            "ACL",
            *columns,
            "--",
            "add",
            table,
            acl.entity,
            "acls",
            ref,
        ]
    opts = [f"--type={'port-group' if acl.port_group else 'switch'}"]
    if acl.log:
        opts.append("--log")
    if acl.name:
        opts.append(f"--name={acl.name}")
    if acl.severity:
        opts.append(f"--severity={acl.severity}")
    if acl.label is not None:
        opts.append(f"--label={acl.label}")
    return [*opts, "acl-add", acl.entity, acl.direction, str(acl.priority), acl.match, acl.action]


def security_commands(topo: Topology) -> list[list[str]]:
    cmds: list[list[str]] = []
    for name, addresses in topo.ovn.address_sets.items():
        cmds.append(["create", "Address_Set", f"name={name}", f"addresses={_ovsdb_set(addresses)}"])
    for name, vms in topo.ovn.port_groups.items():
        cmds.append(["pg-add", name, *(topo.vm_port(vm) for vm in vms)])
    cmds += [acl_command(acl, i) for i, acl in enumerate(topo.ovn.acls)]
    return cmds


def switch_ports(topo: Topology, switch: str) -> list[str]:
    """Every logical switch port the lab puts on `switch`: VMs, router peers, localnet."""
    ports = [topo.vm_port(vm) for vm, spec in topo.vms.items() if spec.switch == switch]
    for rname, router in topo.ovn.routers.items():
        peers = [
            p.peer or f"{p.switch}-{rname}" for p in router.ports.values() if p.switch == switch
        ]
        ports += peers
    if topo.ovn.switches.get(switch) is not None and topo.ovn.switches[switch].localnet:
        ports.append(f"ln-{switch}")
    return ports


def acl_warnings(topo: Topology) -> list[str]:
    """Port-group ACLs whose match does not name their group: what they really cover."""
    warnings = []
    for index, acl in enumerate(topo.ovn.acls):
        group = acl.port_group
        if group is None or re.search(rf"@{re.escape(group)}\b", acl.match):
            continue
        switches = list(dict.fromkeys(topo.vms[vm].switch for vm in topo.ovn.port_groups[group]))
        ports = [p for sw in switches for p in switch_ports(topo, sw)]
        side = "outport" if acl.direction == "to-lport" else "inport"
        warnings.append(
            f"ACL {acl_label(topo, index)} is on port group {group} but its match does not "
            f"name @{group}, so, as in ovn-nbctl, it applies to every port of "
            f"{'switch' if len(switches) == 1 else 'switches'} {', '.join(switches) or '-'}: "
            f"{', '.join(ports) or 'none'}; start the match with `{side} == @{group} && ` "
            "to limit it to the group"
        )
    return warnings


def acl_matches(topo: Topology) -> list[tuple[str, str]]:
    """(label, match) of every ACL: what lab up checks OVN can parse."""
    return [(acl_label(topo, i), acl.match) for i, acl in enumerate(topo.ovn.acls)]


def acl_actions(topo: Topology) -> list[tuple[str, str]]:
    """(label, action) of every ACL: what lab up checks this OVN has."""
    return [(acl_label(topo, i), acl.action) for i, acl in enumerate(topo.ovn.acls)]
