"""Security groups without a lab: the loader and planner of port groups, address sets and
ACLs, the warning about port-group ACLs that do not name their group, and the parsers of
what real labs printed (ovn-trace ACL verdicts, parse errors, ACL logs, conntrack)."""

from __future__ import annotations

from pathlib import Path

import pytest

from lab.ovn.acls import parse_failures, unparsable
from lab.plan.commands import transaction
from lab.plan.planner import make_plan
from lab.plan.render import render_plan
from lab.plan.security import acl_command, acl_warnings, security_commands, switch_ports
from lab.topology import load_topology, parse_topology
from lab.topology.model import Acl
from lab.verify import trace as tr
from lab.verify.acl_log import describe, parse_acl_log, summarize
from lab.verify.acl_trace import ct_args, deciding_flow, l4_match, parse_matched
from lab.verify.conntrack import name_router_zones, parse_conntrack, parse_zones

DATA = Path(__file__).parent / "data"
TOPOLOGIES = Path(__file__).resolve().parents[2] / "topologies"


@pytest.fixture(scope="module")
def sg():
    return load_topology(TOPOLOGIES / "security-groups.yaml")


def test_the_shipped_topology_loads(sg) -> None:
    assert sg.ovn.port_groups["web"] == ["web1", "web2"]
    assert sg.ovn.address_sets["admins"] == ["10.0.0.100", "10.0.1.0/24"]
    assert [a.name for a in sg.ovn.acls] == [
        None,
        "deny-ingress",
        "default-egress",
        "web-8080",
        "web-icmp-admins",
        "web-reject",
    ]
    assert not acl_warnings(sg)  # every port-group ACL names its group


def test_security_commands_follow_the_ports_in_the_one_transaction(sg) -> None:
    plan = make_plan(sg)
    cmds = plan.nb_commands
    first_security = cmds.index(
        ["create", "Address_Set", "name=admins", 'addresses="10.0.0.100","10.0.1.0/24"']
    )
    assert max(i for i, c in enumerate(cmds) if c[0] == "lsp-add") < first_security
    assert ["pg-add", "web", "web1", "web2"] in cmds
    assert [
        "--type=port-group",
        "--log",
        "--name=deny-ingress",
        "--severity=info",
        "acl-add",
        "neutron_pg_drop",
        "to-lport",
        "1001",
        "outport == @neutron_pg_drop && ip",
        "drop",
    ] in cmds
    assert len(plan.acl_matches) == 6 and plan.acl_matches[0][0] == "ovn.acls.0"
    assert "--" in transaction(cmds)  # one ovn-nbctl transaction
    text = render_plan(plan)
    assert "ovn-nbctl pg-add neutron_pg_drop web1 web2 client admin\n" in text
    assert "ovn-nbctl --type=port-group --log --name=web-reject acl-add web to-lport 1002" in text


def test_a_named_acl_that_does_not_log_is_created_as_a_row() -> None:
    # ovn-nbctl's --name turns logging on; a name for diagnosis only must not log
    acl = Acl(
        port_group="web",
        direction="to-lport",
        priority=1002,
        match="outport == @web && tcp.dst == 80",
        action="allow",
        name="web-80",
        label=7,
    )
    assert acl_command(acl, 3) == [
        "--id=@acl3",
        "create",
        "ACL",
        "direction=to-lport",
        "priority=1002",
        'match="outport == @web && tcp.dst == 80"',
        "action=allow",
        'name="web-80"',
        "label=7",
        "--",
        "add",
        "Port_Group",
        "web",
        "acls",
        "@acl3",
    ]
    on_switch = Acl(switch="net1", direction="from-lport", priority=0, match="1", action="pass")
    assert acl_command(on_switch) == [
        "--type=switch",
        "acl-add",
        "net1",
        "from-lport",
        "0",
        "1",
        "pass",
    ]


TOPO = """
name: t
fabric: {overlay: {subnet: 192.0.2.0/24}}
nodes: {central: {role: central}, worker1: {role: chassis}}
ovn:
  switches: {net1: {}}
  routers:
    r1: {ports: {r1-net1: {switch: net1, mac: "40:44:00:00:00:09", networks: [10.0.0.1/24]}}}
  port_groups: {web: [vm1]}
  acls:
    - {port_group: web, direction: to-lport, priority: 1001, match: "ip4", action: drop}
    - {port_group: web, direction: from-lport, priority: 1, match: "inport == @web", action: drop}
vms:
  vm1: {chassis: worker1, switch: net1, mac: "40:44:00:00:00:01", ip: 10.0.0.10/24}
  vm2: {chassis: worker1, switch: net1, mac: "40:44:00:00:00:02", ip: 10.0.0.11/24}
"""


def test_a_port_group_acl_without_its_group_warns_with_the_ports_it_covers() -> None:
    topo = parse_topology(TOPO, "t.yaml")
    assert switch_ports(topo, "net1") == ["vm1", "vm2", "net1-r1"]
    (warning,) = acl_warnings(topo)
    assert warning.startswith(
        "ACL ovn.acls.0 is on port group web but its match does not name @web"
    )
    assert "every port of switch net1: vm1, vm2, net1-r1" in warning
    assert "`outport == @web && `" in warning
    assert security_commands(topo)[0] == ["pg-add", "web", "vm1"]


def test_parse_errors_from_ovn_trace_name_the_acl() -> None:
    failures = parse_failures((DATA / "ovn-trace-parse-errors.txt").read_text())
    assert failures == [
        ("outport == @web && tcp.dst = 8080", "Syntax error at `=' expecting relational operator."),
        ("ip4 && tcp.dsst == 1", "Syntax error at `tcp.dsst' expecting field name."),
    ]
    acls = [
        ("typo (ovn.acls.0)", "outport == @web && tcp.dst = 8080"),
        ("ovn.acls.1", "ip4 && tcp.dsst == 1"),
        ("ovn.acls.2", "ip4"),
    ]
    bad = unparsable(failures, acls)
    assert [label for label, _, _ in bad] == ["typo (ovn.acls.0)", "ovn.acls.1"]  # not `ip4`
    # stateful ACLs are wrapped by northd: reg0[7] == 1 && (MATCH)
    wrapped = [("reg0[7] == 1 && (tcp.dst = 1)", "Syntax error")]
    assert unparsable(wrapped, [("a", "tcp.dst = 1"), ("b", "tcp")]) == [
        ("a", "tcp.dst = 1", "Syntax error")
    ]


@pytest.mark.parametrize(
    ("name", "verdict", "stage", "table", "priority", "uuid"),
    [
        ("allow", "allow", "ls_out_acl", 4, 2002, "984c20da"),
        ("drop", "drop", "ls_out_acl", 4, 2001, "5299bdb8"),
        ("reject", "reject", "ls_out_acl", 4, 2002, None),
    ],
)
def test_the_flow_that_decided_a_traced_packet(name, verdict, stage, table, priority, uuid) -> None:
    text = (DATA / f"ovn-trace-acl-{name}.txt").read_text()
    got, flow = deciding_flow(tr.parse_trace(text), text)
    assert got == verdict
    assert flow is not None
    assert (flow.stage, flow.table, flow.priority) == (stage, table, priority)
    if uuid:
        assert flow.uuid == uuid
    if name == "drop":
        assert flow.match == "reg0[9] == 1 && (outport == @neutron_pg_drop && ip)"
        assert flow.actions[0].startswith('log(name="deny-ingress", verdict=drop')
    if name == "reject":
        assert any(a.startswith("reject {") for a in flow.actions)


def test_trace_parsing_keeps_every_flow_with_its_actions() -> None:
    flows = parse_matched((DATA / "ovn-trace-acl-allow.txt").read_text())
    stages = [f.stage for f in flows]
    assert stages.index("ls_in_acl") < stages.index("ls_out_acl")
    acl = next(f for f in flows if f.stage == "ls_in_acl")
    assert acl.match == "reg0[7] == 1 && (inport == @default && ip4)"
    assert acl.actions == ["reg0[1] = 1;", "next;"]


def test_l4_microflow_and_ct_states() -> None:
    assert l4_match("tcp", 8080) == "tcp && tcp.src == 40000 && tcp.dst == 8080"
    assert ct_args("est,rpl") == ["--ct=est,rpl"] * 4
    assert ct_args(None) == []
    with pytest.raises(Exception, match="unknown ct flag"):
        ct_args("new,bogus")
    with pytest.raises(Exception, match="tcp or udp"):
        l4_match("sctp", 1)


def test_acl_log_lines_from_ovn_controller() -> None:
    hits = parse_acl_log((DATA / "ovn-controller-acl-log.txt").read_text(), "worker1")
    assert len(hits) == 3
    assert {(h.name, h.verdict, h.direction, h.severity) for h in hits} == {
        ("deny-ingress", "drop", "to-lport", "info")
    }
    assert hits[0].packet == "tcp 10.0.0.11:40914 > 10.0.0.20:8080"
    assert hits[2].packet == "icmp 10.0.0.20 > 10.0.0.11"
    assert summarize(hits) == [
        {"name": "deny-ingress", "verdict": "drop", "direction": "to-lport", "count": 3}
    ]
    assert describe(hits) == "deny-ingress drop to-lport x3"


def test_conntrack_dump_and_zones_from_a_real_chassis() -> None:
    entries = parse_conntrack((DATA / "dump-conntrack.txt").read_text())
    assert len(entries) == 10
    first = entries[0]
    assert (first.proto, first.src, first.sport, first.dst, first.dport) == (
        "tcp",
        "10.0.0.20",
        37356,
        "10.0.0.11",
        8080,
    )
    assert (first.zone, first.state, first.reply_src) == (4, "TIME_WAIT", "10.0.0.11")
    icmp = next(e for e in entries if e.proto == "icmp")
    assert icmp.sport is None and icmp.state == "-" and "type=8" in icmp.extra
    assert {e.state for e in entries if e.proto == "tcp"} == {"TIME_WAIT", "SYN_SENT"}
    text = (DATA / "br-int-external-ids.txt").read_text().strip().strip("{}")
    ids = dict(item.strip().split("=", 1) for item in text.split(", "))
    zones = parse_zones(ids)
    assert zones[1] == "web1" and zones[4] == "client"
    uuid = "2b92c716-db7c-49b3-a2fb-a7366aecf8c1"
    assert zones[3] == f"{uuid}_dnat"
    assert name_router_zones(zones, {uuid: "private"})[3] == "private (dnat)"


def test_an_action_this_ovn_lacks_is_refused_before_anything_runs(tmp_path: Path) -> None:
    import json

    from lab.errors import UserError
    from lab.ovn.acls import check_actions, schema_actions

    schema = tmp_path / "ovn-nb.ovsschema"  # OVN 23.03's ACL.action column
    enum = ["set", ["allow", "allow-related", "allow-stateless", "drop", "reject"]]
    column = {"type": {"key": {"type": "string", "enum": enum}}}
    schema.write_text(json.dumps({"tables": {"ACL": {"columns": {"action": column}}}}))
    assert schema_actions(schema) == set(enum[1])
    check_actions([("web-8080 (ovn.acls.3)", "allow-related")], schema)
    with pytest.raises(UserError, match=r"ACL ovn.acls.0 uses action pass, which this OVN"):
        check_actions([("ovn.acls.0", "pass")], schema)
    check_actions([("ovn.acls.0", "pass")], tmp_path / "missing")  # unknown schema: no opinion
