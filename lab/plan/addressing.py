"""v2 addressing in the plan: IPv6 next to IPv4, DHCP, router advertisements and DNS.

What each VM gets (`vm_addressing`: the fields of its VMPlan) and the ovn-nbctl commands
that make OVN hand it out (`addressing_commands`): DHCP_Options rows (DHCPv4 and DHCPv6 alike)
set on the VMs' ports, `ipv6_ra_configs` on router ports, DNS rows on switches, exactly
as in ovn-nb(5). Pure: the same topology always gives the same commands.
"""

from __future__ import annotations

from ipaddress import IPv4Address, IPv4Interface, IPv6Address, IPv6Interface
from typing import TYPE_CHECKING, Any

from lab import naming
from lab.topology.addressing import dhcp6_cidr, dhcp_cidr

if TYPE_CHECKING:
    from lab.topology.model import VM, RouterPort, Topology


def ovsdb_string(value: str) -> str:
    """A value as an OVSDB string atom (MACs and IPv6 addresses hold ':', a delimiter)."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def eui64(prefix: IPv6Interface | Any, mac: str) -> IPv6Interface:
    """The address SLAAC makes from a /64 and a MAC (RFC 4291 modified EUI-64)."""
    octets = [int(part, 16) for part in mac.split(":")]
    octets[0] ^= 0x02
    iid = [*octets[:3], 0xFF, 0xFE, *octets[3:]]
    host = int.from_bytes(bytes(iid), "big")
    network = prefix.network if hasattr(prefix, "network") else prefix
    return IPv6Interface(f"{network.network_address + host}/{network.prefixlen}")


def switch_ports(topo: Topology, switch: str) -> list[tuple[str, RouterPort]]:
    """(router port name, port) of the router ports on `switch`."""
    return [
        (name, port)
        for router in topo.ovn.routers.values()
        for name, port in router.ports.items()
        if port.switch == switch
    ]


def _networks(topo: Topology, switch: str) -> list[Any]:
    return [net for _, port in switch_ports(topo, switch) for net in port.networks]


def _ra_network(topo: Topology, switch: str) -> Any | None:
    """The IPv6 network of the router port on `switch` that sends router advertisements."""
    for _, port in switch_ports(topo, switch):
        if port.ra is not None:
            return next((n for n in port.networks if n.version == 6), None)
    return None


def vm_addressing(topo: Topology, vm: VM) -> dict[str, Any]:
    """The VMPlan fields of one VM beyond v1's (see VMPlan)."""
    switch = topo.ovn.switches[vm.switch]
    ras = [port.ra for _, port in switch_ports(topo, vm.switch) if port.ra]
    fields: dict[str, Any] = {
        "ip": None if vm.ip == "dynamic" else vm.ip,
        "gateway": vm.gateway,
        "dhcp4": vm.dhcp or vm.ip == "dynamic",
        "gateway6": vm.gateway6,
    }
    if isinstance(vm.ipv6, IPv6Interface):
        fields |= {"ipv6": vm.ipv6, "ipv6_mode": "static"}
    elif vm.ipv6 in ("slaac", "dhcpv6"):
        network = _ra_network(topo, vm.switch)
        # OVN offers by DHCPv6 the address in the port's addresses: the one SLAAC would make,
        # so either way the VM's IPv6 address is known before it comes up (as in Neutron)
        fields |= {
            "ipv6": eui64(network, vm.mac) if network is not None else None,
            "ipv6_mode": vm.ipv6,
            "accept_ra": True,
        }
        if vm.ipv6 == "dhcpv6":
            fields["dhcp6"] = "stateful"
        elif switch.dhcp6 is not None and switch.dhcp6.mode == "stateless":
            fields["dhcp6"] = "stateless"  # the address by SLAAC, DNS by DHCPv6
    elif ras and isinstance(vm.ip, IPv6Interface):
        fields["accept_ra"] = True  # an IPv6 `ip` on a switch with RAs: the route from them
    return fields


def port_addresses(vm: VM, ip: Any, ipv6: Any) -> str:
    """lsp-set-addresses: "MAC IP [IPv6]", or "MAC dynamic" for OVN IPAM."""
    if vm.ip == "dynamic":
        return f"{vm.mac.lower()} dynamic"
    return " ".join([vm.mac.lower(), *(str(a.ip) for a in (ip, ipv6) if a is not None)])


def addressing_commands(topo: Topology) -> list[list[str]]:
    """ovn-nbctl commands (in the lab's one NB transaction, after the v1 ones)."""
    cmds: list[list[str]] = []
    for index, (name, switch) in enumerate(topo.ovn.switches.items()):
        if switch.subnet is not None:
            cmds.append(["set", "Logical_Switch", name, f"other_config:subnet={switch.subnet}"])
        dhcp_vms = [
            topo.vm_port(v)
            for v, vm in topo.vms.items()
            if vm.switch == name and (vm.dhcp or vm.ip == "dynamic")
        ]
        if switch.dhcp is not None and dhcp_vms:
            ref = f"@dhcp4_{index}"
            cmds.append(["--id=" + ref, "create", "DHCP_Options", *_dhcp4_row(topo, name)])
            cmds += [["set", "Logical_Switch_Port", p, f"dhcpv4_options={ref}"] for p in dhcp_vms]
        dhcp6_vms = [
            topo.vm_port(v)
            for v, vm in topo.vms.items()
            if vm.switch == name and vm_addressing(topo, vm).get("dhcp6")
        ]
        if switch.dhcp6 is not None and dhcp6_vms:
            ref = f"@dhcp6_{index}"
            cmds.append(["--id=" + ref, "create", "DHCP_Options", *_dhcp6_row(topo, name)])
            cmds += [["set", "Logical_Switch_Port", p, f"dhcpv6_options={ref}"] for p in dhcp6_vms]
        if switch.dns:
            ref = f"@dns_{index}"
            records = [
                f"records:{ovsdb_string(record.lower())}="
                + ovsdb_string(" ".join(str(a) for a in addresses))
                for record, addresses in switch.dns.items()
            ]
            cmds += [
                ["--id=" + ref, "create", "DNS", *records],
                ["add", "Logical_Switch", name, "dns_records", ref],
            ]
    for router in topo.ovn.routers.values():
        for pname, port in router.ports.items():
            if port.ra is not None:
                cmds.append(
                    [
                        "set",
                        "Logical_Router_Port",
                        pname,
                        f"ipv6_ra_configs:address_mode={port.ra}",
                    ]
                )
    return cmds


def _server(topo: Topology, switch: str) -> tuple[str, IPv4Address | None]:
    """(MAC, IPv4) OVN's DHCP server answers as: the switch's router port, if it has one
    (Neutron's way: the gateway is the server), else addresses derived from the lab."""
    for _, port in switch_ports(topo, switch):
        v4 = next((n.ip for n in port.networks if isinstance(n, IPv4Interface)), None)
        return port.mac.lower(), v4
    return naming.vm_mac(topo.name, f"dhcp-{switch}"), None


def _dhcp4_row(topo: Topology, name: str) -> list[str]:
    switch = topo.ovn.switches[name]
    dhcp = switch.dhcp
    assert dhcp is not None
    cidr = dhcp_cidr(switch, _networks(topo, name))
    assert cidr is not None  # validated
    mac, port_ip = _server(topo, name)
    router = dhcp.router or port_ip
    server_id = router or port_ip or next(cidr.hosts())
    dns = list(dhcp.dns) or ([server_id] if switch.dns else [])
    options = {
        "server_id": str(server_id),
        "server_mac": mac,
        "lease_time": str(dhcp.lease_time),
        **({"router": str(router)} if router else {}),
        **({"dns_server": "{" + ",".join(str(d) for d in dns) + "}"} if dns else {}),
        **({"mtu": str(dhcp.mtu)} if dhcp.mtu else {}),
        **dhcp.options,
    }
    return [
        f"cidr={ovsdb_string(str(cidr))}",
        *(f"options:{k}={ovsdb_string(v)}" for k, v in options.items()),
    ]


def _dhcp6_row(topo: Topology, name: str) -> list[str]:
    switch = topo.ovn.switches[name]
    dhcp6 = switch.dhcp6
    assert dhcp6 is not None
    cidr = dhcp6_cidr(_networks(topo, name))
    assert cidr is not None  # validated
    mac, _ = _server(topo, name)
    dns: list[IPv6Address] = list(dhcp6.dns)
    if not dns and switch.dns:  # ovn-controller answers any server address: the router's
        ra = _ra_network(topo, name)
        dns = [ra.ip] if ra is not None else []
    options = {
        "server_id": mac,
        **({"dns_server": "{" + ",".join(str(d) for d in dns) + "}"} if dns else {}),
        **({"dhcpv6_stateless": "true"} if dhcp6.mode == "stateless" else {}),
    }
    return [
        f"cidr={ovsdb_string(str(cidr))}",
        *(f"options:{k}={ovsdb_string(v)}" for k, v in options.items()),
    ]
