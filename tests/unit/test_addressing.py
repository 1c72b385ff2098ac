"""v2 addressing: IPv6 next to IPv4, DHCP / DHCPv6 / RA / DNS rows in the NB transaction."""

from __future__ import annotations

from ipaddress import IPv6Interface

from lab.plan.addressing import eui64
from lab.plan.commands import logical_network_commands
from lab.plan.planner import make_plan
from lab.topology import parse_topology
from lab.verify import geneve as gv
from lab.verify import trace as tr

DUAL = """
name: dual
fabric: {overlay: {subnet: 192.0.2.0/24}}
nodes: {central: {role: central}, worker1: {role: chassis}}
ovn:
  switches:
    net1:
      subnet: 10.0.0.0/24
      dhcp: {router: 10.0.0.1, lease_time: 600, mtu: 1400, options: {domain_name: '"lab.test"'}}
      dhcp6: {mode: stateful}
      dns: {vm1.lab.test: [10.0.0.10, "2001:db8:1::10"]}
    net2:
      dhcp6: {mode: stateless, dns: ["2001:db8:2::1"]}
  routers:
    r1:
      ports:
        r1-net1: {switch: net1, mac: "40:44:00:00:00:03",
                  networks: [10.0.0.1/24, "2001:db8:1::1/64"], ra: dhcpv6_stateful}
        r1-net2: {switch: net2, mac: "40:44:00:00:00:04",
                  networks: [20.0.0.1/24, "2001:db8:2::1/64"], ra: dhcpv6_stateless}
      routes: [{prefix: "2001:db8:9::/64", nexthop: "2001:db8:2::254"}]
      nat: [{type: dnat_and_snat, external_ip: "2001:db8:f::10", logical_ip: "2001:db8:1::10"}]
vms:
  vm1: {chassis: worker1, switch: net1, mac: "40:44:00:00:00:01", ip: 10.0.0.10/24, dhcp: true,
        ipv6: dhcpv6}
  vm2: {chassis: worker1, switch: net1, mac: "40:44:00:00:00:02", ip: dynamic}
  vm3: {chassis: worker1, switch: net2, mac: "40:44:00:00:00:05", ip: 20.0.0.10/24,
        gateway: 20.0.0.1, ipv6: slaac}
checks:
  - dhcp: {vm: vm1}
  - ping: {from: vm1, to: vm3, family: 6}
"""


def commands() -> list[list[str]]:
    return logical_network_commands(parse_topology(DUAL, "dual.yaml"))


def test_eui64_is_what_the_kernel_makes() -> None:
    assert eui64(IPv6Interface("2001:db8:1::1/64"), "40:44:00:00:00:01") == IPv6Interface(
        "2001:db8:1:0:4244:ff:fe00:1/64"
    )


def test_port_addresses_hold_ipv6_and_dynamic() -> None:
    cmds = commands()
    assert [
        "lsp-set-addresses",
        "vm1",
        "40:44:00:00:00:01 10.0.0.10 2001:db8:1:0:4244:ff:fe00:1",
    ] in cmds
    assert ["lsp-set-addresses", "vm2", "40:44:00:00:00:02 dynamic"] in cmds
    assert [
        "lsp-set-addresses",
        "vm3",
        "40:44:00:00:00:05 20.0.0.10 2001:db8:2:0:4244:ff:fe00:5",
    ] in cmds
    assert ["set", "Logical_Switch", "net1", "other_config:subnet=10.0.0.0/24"] in cmds


def test_dhcp_rows_are_created_and_set_on_the_dhcp_ports_only() -> None:
    cmds = commands()
    rows = [c for c in cmds if c[1:3] == ["create", "DHCP_Options"]]  # v4 and v6 alike
    dhcp4 = rows[0]
    assert dhcp4[0] == "--id=@dhcp4_0"
    assert 'cidr="10.0.0.0/24"' in dhcp4
    for option in (
        'options:server_id="10.0.0.1"',
        'options:server_mac="40:44:00:00:00:03"',
        'options:lease_time="600"',
        'options:router="10.0.0.1"',
        'options:mtu="1400"',
        'options:dns_server="{10.0.0.1}"',  # the switch has DNS records: the router answers
        'options:domain_name="\\"lab.test\\""',
    ):
        assert option in dhcp4
    assert ["set", "Logical_Switch_Port", "vm1", "dhcpv4_options=@dhcp4_0"] in cmds
    assert ["set", "Logical_Switch_Port", "vm2", "dhcpv4_options=@dhcp4_0"] in cmds
    assert not any(
        c[:3] == ["set", "Logical_Switch_Port", "vm3"] and "dhcpv4" in c[3] for c in cmds
    )
    dhcp6 = rows[1:]
    assert (
        dhcp6[0][3] == 'cidr="2001:db8:1::/64"'
        and 'options:server_id="40:44:00:00:00:03"' in dhcp6[0]
    )
    assert 'options:dhcpv6_stateless="true"' in dhcp6[1]
    assert 'options:dns_server="{2001:db8:2::1}"' in dhcp6[1]
    assert ["set", "Logical_Switch_Port", "vm3", "dhcpv6_options=@dhcp6_1"] in cmds


def test_ra_dns_routes_and_nat_in_ipv6() -> None:
    cmds = commands()
    assert [
        "set",
        "Logical_Router_Port",
        "r1-net1",
        "ipv6_ra_configs:address_mode=dhcpv6_stateful",
    ] in cmds
    dns = next(c for c in cmds if c[1:3] == ["create", "DNS"])
    assert dns[3] == 'records:"vm1.lab.test"="10.0.0.10 2001:db8:1::10"'
    assert ["add", "Logical_Switch", "net1", "dns_records", "@dns_0"] in cmds
    assert ["lr-route-add", "r1", "2001:db8:9::/64", "2001:db8:2::254"] in cmds
    assert ["lr-nat-add", "r1", "dnat_and_snat", "2001:db8:f::10", "2001:db8:1::10"] in cmds


def test_vm_plans_say_what_the_clients_do() -> None:
    plan = make_plan(parse_topology(DUAL, "dual.yaml"))
    vm1, vm2, vm3 = plan.vms["vm1"], plan.vms["vm2"], plan.vms["vm3"]
    assert vm1.dhcp4 and vm1.dhcp6 == "stateful" and vm1.accept_ra and vm1.static_addresses == []
    assert vm2.ip is None and vm2.dhcp4 and not vm2.wants_ipv6
    assert vm3.ipv6_mode == "slaac" and vm3.dhcp6 == "stateless" and not vm3.dhcp4
    assert [str(a) for a in vm3.static_addresses] == ["20.0.0.10/24"]
    assert all(v.waits_for_addresses for v in (vm1, vm2, vm3))


def test_ipv6_microflow_and_inner_icmp6_decoded() -> None:
    flow = tr.microflow(
        "vm1", "40:44:00:00:00:01", "40:44:00:00:00:03", "2001:db8:1::10", "2001:db8:2::10"
    )
    assert "ip6.src == 2001:db8:1::10 && ip6.dst == 2001:db8:2::10" in flow
    text = (
        "12:00:00.000001 aa:bb:cc:dd:ee:01 > aa:bb:cc:dd:ee:02, ethertype IPv4 (0x0800), "
        "length 160: "
        "(tos 0x0) 192.0.2.12.51000 > 192.0.2.13.6081: [udp sum ok] Geneve, Flags [C], vni 0x2, "
        "proto TEB (0x6558), options [class Open Virtual Networking (OVN) (0x102) type 0x80(C) "
        "len 8 data 00010002]\n\t40:44:00:00:00:04 > 40:44:00:00:00:02, ethertype IPv6 (0x86dd), "
        "length 118: (hlim 63, next-header ICMPv6 (58) payload length: 64) 2001:db8:1::10 > "
        "2001:db8:2::10: [icmp6 sum ok] ICMP6, echo request, id 1, seq 1, length 64\n"
    )
    (packet,) = gv.parse_geneve(text)
    assert (packet.inner_src, packet.inner_dst, packet.icmp) == (
        "2001:db8:1::10",
        "2001:db8:2::10",
        "echo request",
    )


UNDERLAY = """
name: u6
fabric: {overlay: {subnet: "2001:db8:0:1::/64"}}
nodes: {central: {role: central}, worker1: {role: chassis}, worker2: {role: chassis}}
"""


def test_ipv6_underlay_remotes_in_brackets_and_encap_quoted() -> None:
    from lab.plan.commands import chassis_ovs_commands, chassis_registration

    plan = make_plan(parse_topology(UNDERLAY, "u6.yaml"))
    assert str(plan.nodes["worker1"].encap_ip) == "2001:db8:0:1::c"
    assert plan.sb_remote == "tcp:[2001:db8:0:1::b]:6642"
    assert plan.raft_address("central", 6643) == "tcp:[2001:db8:0:1::b]:6643"
    ids = chassis_ovs_commands(plan, plan.nodes["worker1"])[-1]
    assert "external_ids:ovn-encap-ip=2001:db8:0:1::c" in ids
    encap = chassis_registration(plan)[0]
    assert 'ip="2001:db8:0:1::c"' in encap
