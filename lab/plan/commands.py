"""The ovn-nbctl and ovs-vsctl commands a lab runs: the same ones the OVN tutorials use.

Each command is an argv list without the program name, so it can be run alone
(`lab up --dry-run` prints them one per line) or joined with "--" into a
single transaction (what `lab up` does).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

from lab import naming
from lab.plan.model import NodePlan, Plan, VMPlan, localnet_port

if TYPE_CHECKING:  # the model drags in pydantic; commands only read attributes
    from lab.topology.model import Topology


def logical_network_commands(topo: Topology) -> list[list[str]]:
    from lab.plan import l3commands as l3  # gateway routers, HA groups, ECMP, policies, LBs
    from lab.plan.tunnel_keys import tunnel_keys

    keys = tunnel_keys(topo)  # requested, so every run of a file gets the same keys
    cmds: list[list[str]] = l3.ha_group_commands(topo)
    nats: list[list[str]] = []  # after the VM ports: a distributed NAT names one
    for name, switch in topo.ovn.switches.items():
        cmds.append(["ls-add", name])
        cmds.append(_key("Logical_Switch", name, "other_config", keys.switches[name]))
        for key, value in switch.other_config.items():
            cmds.append(["set", "Logical_Switch", name, f"other_config:{key}={value}"])
        if switch.localnet:
            port = localnet_port(name)
            cmds += [
                ["lsp-add", name, port],
                ["lsp-set-type", port, "localnet"],
                ["lsp-set-addresses", port, "unknown"],
                ["lsp-set-options", port, f"network_name={switch.localnet.network}"],
                _key("Logical_Switch_Port", port, "options", keys.switch_ports[port]),
            ]
            if switch.localnet.vlan is not None:
                cmds.append(["set", "Logical_Switch_Port", port, f"tag={switch.localnet.vlan}"])
    for rname, router in topo.ovn.routers.items():
        cmds.append(["lr-add", rname])
        cmds.append(_key("Logical_Router", rname, "options", keys.routers[rname]))
        for key, value in router.options.items():
            cmds.append(["set", "Logical_Router", rname, f"options:{key}={value}"])
        for pname, port in router.ports.items():
            peer = port.peer or f"{port.switch}-{rname}"
            cmds += [
                ["lrp-add", rname, pname, port.mac.lower(), *(str(n) for n in port.networks)],
                ["lsp-add", port.switch, peer],
                ["lsp-set-type", peer, "router"],
                ["lsp-set-addresses", peer, "router"],
                ["lsp-set-options", peer, f"router-port={pname}"],
                _key("Logical_Router_Port", pname, "options", keys.router_ports[pname]),
                _key("Logical_Switch_Port", peer, "options", keys.switch_ports[peer]),
            ]
            for chassis, priority in port.gateway_chassis.items():
                cmds.append(["lrp-set-gateway-chassis", pname, chassis, str(priority)])
            if port.ha_chassis_group is not None:
                cmds.append(l3.router_port_ha_group(pname, port.ha_chassis_group))
        cmds += l3.route_commands(rname, router)
        cmds += l3.router_extra_commands(rname, router)
        for nat in router.nat:
            logical_ip = (
                str(nat.logical_ip.network_address)
                if nat.logical_ip.prefixlen == nat.logical_ip.max_prefixlen
                else str(nat.logical_ip)
            )
            cmd = ["lr-nat-add", rname, nat.type, str(nat.external_ip), logical_ip]
            if nat.logical_port and nat.external_mac:
                cmd += [nat.logical_port, nat.external_mac.lower()]
            nats.append(cmd)
    from lab.plan.addressing import addressing_commands, port_addresses, vm_addressing

    for vname, vm in topo.vms.items():
        port = topo.vm_port(vname)
        fields = vm_addressing(topo, vm)
        cmds += [
            ["lsp-add", vm.switch, port],
            ["lsp-set-addresses", port, port_addresses(vm, fields["ip"], fields.get("ipv6"))],
            _key("Logical_Switch_Port", port, "options", keys.switch_ports[port]),
        ]
    from lab.plan.security import security_commands

    # address sets, port groups, ACLs and distributed NATs: after the ports they name;
    # load balancers last
    return (
        cmds
        + addressing_commands(topo)
        + security_commands(topo)
        + nats
        + l3.load_balancer_commands(topo)
    )


def _key(table: str, name: str, column: str, key: int) -> list[str]:
    return ["set", table, name, f"{column}:requested-tnl-key={key}"]


def transaction(commands: list[list[str]]) -> list[str]:
    """Join commands into one ovn-nbctl / ovs-vsctl argv tail: `-- cmd1 -- cmd2 ...`."""
    argv: list[str] = []
    for cmd in commands:
        argv += ["--", *cmd]
    return argv


def chassis_ovs_commands(plan: Plan, node: NodePlan) -> list[list[str]]:
    """One ovs-vsctl transaction that makes a node an OVN chassis on the userspace datapath."""
    cmds: list[list[str]] = [
        ["--may-exist", "add-br", "br-int"],
        [
            "set",
            "Bridge",
            "br-int",
            "datapath_type=netdev",
            "fail_mode=secure",
            "other_config:disable-in-band=true",
        ],
    ]
    for link in node.links:
        if link.ovs_bridge is None:
            continue
        bridge = ["set", "Bridge", link.ovs_bridge, "datapath_type=netdev"]
        if link.fabric == plan.overlay and node.encap_ip is not None:
            bridge.append(f"other_config:hwaddr={naming.overlay_mac(str(node.encap_ip))}")
        cmds += [
            ["--may-exist", "add-br", link.ovs_bridge],
            bridge,
            ["--may-exist", "add-port", link.ovs_bridge, link.node_if],
        ]
    ids = {
        "system-id": node.name,
        "hostname": node.name,
        "ovn-remote": plan.sb_remote,
        "ovn-encap-type": "geneve",
        "ovn-encap-ip": str(node.encap_ip),
        "ovn-bridge-datapath-type": "netdev",
        # every chassis needs (almost) every datapath in a lab; monitoring all of the SB
        # spares ovsdb-server per-client conditions (as ovn-heater runs at scale)
        "ovn-monitor-all": "true",
    }
    if node.bridge_mappings:
        ids["ovn-bridge-mappings"] = ",".join(f"{f}:{b}" for f, b in node.bridge_mappings.items())
    if node.chassis_macs:
        ids["ovn-chassis-mac-mappings"] = ",".join(
            f"{f}:{mac}" for f, mac in node.chassis_macs.items()
        )
    if node.role == "gateway":
        ids["ovn-cms-options"] = "enable-chassis-as-gw"
    cmds.append(["set", "Open_vSwitch", ".", *(f"external_ids:{k}={v}" for k, v in ids.items())])
    return cmds


def tunnel_endpoint_commands(plan: Plan, node: NodePlan) -> list[list[str]]:
    """The chassis' Geneve endpoint: its overlay address on the OVS bridge holding the overlay
    wire (the userspace datapath routes and ARPs for tunnels through it), as `ip` commands."""
    overlay = node.link(plan.overlay) if plan.overlay else None
    if not (overlay and overlay.ovs_bridge and overlay.address):
        return []
    bridge = overlay.ovs_bridge
    return [
        ["ip", "-n", node.netns, "link", "set", bridge, "up"],
        ["ip", "-n", node.netns, "addr", "add", str(overlay.address), "dev", bridge],
    ]


def vm_commands(vm: VMPlan, chassis_netns: str | None, owner: str | None = None) -> list[list[str]]:
    """Every command that makes one VM, whole argv lists as a person would type them on its
    chassis (`chassis_netns`: the chassis' namespace, None on the chassis' own host): what
    `lab plan` prints, and what the ssh provider runs on a host. `owner` tags the port with
    external_ids:ovn-lab=OWNER."""
    on_chassis = ["ip", "-n", chassis_netns] if chassis_netns else ["ip"]
    inside = ["ip", "-n", vm.netns]
    cmds = [["ip", "netns", "add", vm.netns]]
    if vm.attach == "veth":
        peer = ["type", "veth", "peer", "name", vm.vm_if, "netns", vm.netns]
        cmds += [
            [*on_chassis, "link", "add", vm.chassis_if, *peer],
            [*on_chassis, "link", "set", vm.chassis_if, "up"],
        ]
    ovs = vm_ovs_commands(vm)
    if owner:
        ovs.append(["set", "Interface", vm.chassis_if, f"external_ids:ovn-lab={owner}"])
    cmds.append(["ovs-vsctl", "--timeout=30", *transaction(ovs)])  # returns once the tap exists
    if vm.attach == "internal":
        cmds.append([*on_chassis, "link", "set", vm.chassis_if, "netns", vm.netns])
    cmds.append([*inside, "link", "set", "lo", "up"])
    if vm.wants_ipv6:  # before the link is up: no DAD wait, SLAAC only where asked for
        sysctl = ["ip", "netns", "exec", vm.netns, "sysctl", "-qw"]
        for key, value in vm_ipv6_settings(vm).items():
            cmds.append([*sysctl, f"net.ipv6.conf.{vm.vm_if}.{key}={value}"])
    cmds.append([*inside, "link", "set", vm.vm_if, "address", vm.mac, "up"])
    for address in vm.static_addresses:
        nodad = ["nodad"] if address.version == 6 else []
        cmds.append([*inside, "addr", "add", str(address), "dev", vm.vm_if, *nodad])
    for gateway in (vm.gateway, vm.gateway6):
        if gateway is not None:
            family = ["-6"] if gateway.version == 6 else []
            cmds.append([*inside, *family, "route", "add", "default", "via", str(gateway)])
    return cmds


def vm_ovs_commands(vm: VMPlan) -> list[list[str]]:
    """Bind a VM's port to br-int, as in the OVN tutorials."""
    iface = ["set", "Interface", vm.chassis_if, f"external_ids:iface-id={vm.port}"]
    if vm.attach == "internal":
        iface.append("type=internal")
    return [["--may-exist", "add-port", "br-int", vm.chassis_if], iface]


# What ovn-controller 23.03 writes into its Chassis row's other_config at start-up, beyond
# the per-node values: pre-registering the row exactly as it will be written makes that
# write a no-op, so 100 starting controllers don't each make the 99 others recompute.
# (A newer OVN adding keys only costs one more write per controller.)
CONTROLLER_OTHER_CONFIG = {
    "ct-no-masked-label": "true",
    "datapath-type": "netdev",
    "is-interconn": "false",
    "mac-binding-timestamp": "true",
    "ovn-ct-lb-related": "true",
    "ovn-enable-lflow-cache": "true",
    "ovn-limit-lflow-cache": "",
    "ovn-memlimit-lflow-cache-kb": "",
    "ovn-monitor-all": "true",
    "ovn-trim-limit-lflow-cache": "",
    "ovn-trim-timeout-ms": "",
    "ovn-trim-wmark-perc-lflow-cache": "",
    "port-up-notif": "true",
}


def _ovsdb_string(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def chassis_registration(plan: Plan, iface_types: str = "") -> list[list[str]]:
    """ovn-sbctl commands creating every chassis' Chassis and Encap rows as its
    ovn-controller would. With all of them there before any controller starts, each
    controller builds its whole tunnel mesh at once instead of one peer at a time.

    Each VM's Port_Binding is bound to its chassis too, as that chassis' controller will
    claim it. A claim is an SB change every other controller processes; bound already, a
    controller only reports the port up (measured at 100 chassis x 1,000 VMs: the
    controllers' CPU time went from 106 to 86 s). The port still comes up only once its
    own controller has installed its flows.

    Each chassis' Chassis_Private row (nb_cfg 0: it has processed nothing yet) is created
    here too: with ovn-monitor-all every controller processes every other one's insert
    (~1.5 ms each, measured)."""
    cmds: list[list[str]] = []
    for i, node in enumerate(plan.chassis()):
        if node.encap_ip is None:
            continue
        other = {
            **CONTROLLER_OTHER_CONFIG,
            "iface-types": iface_types,
            "ovn-bridge-mappings": ",".join(f"{f}:{b}" for f, b in node.bridge_mappings.items()),
            "ovn-chassis-mac-mappings": ",".join(
                f"{f}:{mac}" for f, mac in node.chassis_macs.items()
            ),
            "ovn-cms-options": "enable-chassis-as-gw" if node.role == "gateway" else "",
        }
        cmds += [
            [
                f"--id=@e{i}",
                "create",
                "Encap",
                "type=geneve",
                f"ip={_ovsdb_string(str(node.encap_ip))}",
                f"chassis_name={node.name}",
                "options:csum=true",
            ],
            [
                f"--id=@c{i}",
                "create",
                "Chassis",
                f"name={node.name}",
                f"hostname={node.name}",
                f"encaps=@e{i}",
                *(f"other_config:{k}={_ovsdb_string(v)}" for k, v in sorted(other.items())),
            ],
        ]
        cmds.append(["create", "Chassis_Private", f"name={node.name}", f"chassis=@c{i}"])
        cmds += [
            ["set", "Port_Binding", vm.port, f"chassis=@c{i}"] for vm in plan.vms_on(node.name)
        ]
    return cmds


def vm_ipv6_settings(vm: VMPlan) -> dict[str, str]:
    """Per-interface IPv6 sysctls of a VM: on, no duplicate address detection (it would hold
    every address tentative for a second or more), router advertisements and SLAAC only
    where OVN sends them, addresses from the MAC (EUI-64, as OVN and Neutron expect)."""
    slaac = vm.ipv6_mode == "slaac"
    return {
        "disable_ipv6": "0",
        "accept_dad": "0",
        "dad_transmits": "0",
        "accept_ra": "1" if vm.accept_ra else "0",
        "autoconf": "1" if slaac else "0",
        "addr_gen_mode": "0",
        "use_tempaddr": "0",
        "router_solicitation_delay": "0",
    }


def client_argv(vm: VMPlan, directory: Path) -> list[str]:
    """The client, as `lab up --dry-run` shows it and `lab up` runs it in the VM."""
    argv = [sys.executable, "-m", "lab.vm.dhcp.client", "--ifname", vm.vm_if, "--mac", vm.mac]
    argv += ["--dir", str(directory)]
    if vm.dhcp4:
        argv.append("--dhcp4")
    if vm.dhcp6:
        argv += ["--dhcp6", vm.dhcp6]
    if vm.accept_ra:
        argv.append("--ra")
    if vm.ipv6_mode == "slaac":
        argv.append("--slaac")
    return argv
