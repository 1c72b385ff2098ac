"""`lab up --dry-run`: the plan as the equivalent commands from the OVN tutorials.

For reading only: `lab up` does the same through pyroute2 and batched
transactions, but a learner sees exactly what is done, step by step.
"""

from __future__ import annotations

import shlex
from pathlib import Path

from lab.plan.commands import (
    chassis_ovs_commands,
    transaction,
    tunnel_endpoint_commands,
    vm_commands,
)
from lab.plan.model import NodePlan, Plan, link_mtu

# Files of a node with `ssl: true`, as the dry run names them (in <lab>/pki/).
SSL_ARGS = ["--private-key=NODE-privkey.pem", "--certificate=NODE-cert.pem", "--ca-cert=cacert.pem"]


def _cmd(*argv: str) -> str:
    return shlex.join(argv)


def _vsctl(argv: list[str]) -> str:
    """An ovs-vsctl/ovn-nbctl transaction, one `-- command` per line."""
    parts: list[list[str]] = [[]]
    for arg in argv:
        if arg == "--":
            parts.append([])
        parts[-1].append(arg)
    return " \\\n    ".join(shlex.join(p) for p in parts)


def render_plan(plan: Plan) -> str:
    out: list[str] = [f"# lab {plan.lab}: {len(plan.nodes)} nodes, {len(plan.vms)} VMs"]
    fab = plan.fabric_netns
    out += [
        "",
        f"# fabric: one bridge per network in namespace {fab}",
        _cmd("ip", "netns", "add", fab),
    ]
    for f in plan.fabrics.values():
        if f.vlans:
            out.append(f"# {f.name} is VLAN-aware (the ToR): an OVS bridge run in {fab}")
            out.append(
                _cmd(
                    "ip",
                    "netns",
                    "exec",
                    fab,
                    "ovs-vsctl",
                    "add-br",
                    f.bridge,
                    "--",
                    "set",
                    "Bridge",
                    f.bridge,
                    "datapath_type=netdev",
                )
            )
        else:
            out.append(_cmd("ip", "-n", fab, "link", "add", f.bridge, "type", "bridge"))
    for node in plan.nodes.values():
        out += ["", f"# node {node.name} ({node.role}) in namespace {node.netns}"]
        out.append(_cmd("ip", "netns", "add", node.netns))
        for lk in node.links:
            mtu = link_mtu(plan, lk.fabric)
            mtu_args = ["mtu", str(mtu)] if mtu else []
            out.append(
                _cmd(
                    "ip",
                    "-n",
                    fab,
                    "link",
                    "add",
                    lk.fabric_if,
                    *mtu_args,
                    "type",
                    "veth",
                    "peer",
                    "name",
                    lk.node_if,
                    "netns",
                    node.netns,
                )
            )
            out.append(
                _cmd(
                    "ip",
                    "-n",
                    fab,
                    "link",
                    "set",
                    lk.fabric_if,
                    "master",
                    plan.fabrics[lk.fabric].bridge,
                    "up",
                )
            )
            if lk.address and not lk.ovs_bridge:
                out.append(
                    _cmd("ip", "-n", node.netns, "addr", "add", str(lk.address), "dev", lk.node_if)
                )
        for route in node.routes:
            out.append(
                _cmd(
                    "ip",
                    "-n",
                    node.netns,
                    "route",
                    "add",
                    str(route.prefix),
                    "via",
                    str(route.nexthop),
                )
            )
        run_in = ["ip", "netns", "exec", node.netns]
        if node.role == "central":
            out += _central(plan, node, run_in)
        elif node.is_chassis:
            out += [
                _cmd(*run_in, "ovsdb-server", "--detach", "--remote=punix:db.sock", "conf.db"),
                _vsctl(
                    ["ovs-vsctl", "--no-wait", "init", *transaction(_chassis_commands(plan, node))]
                ),
                _cmd(*run_in, "ovs-vswitchd", "--detach", "unix:db.sock"),
            ]
            out += [_cmd(*c) for c in tunnel_endpoint_commands(plan, node)]
            out.append(_cmd(*run_in, "ovn-controller", "--detach", "unix:db.sock"))
    out += ["", "# logical network: applied as ONE ovn-nbctl transaction"]
    out += [_cmd("ovn-nbctl", *c) for c in plan.nb_commands]
    for vm in plan.vms.values():
        out += ["", f"# VM {vm.name} on {vm.chassis}: namespace {vm.netns}"]
        for argv in vm_commands(vm, plan.nodes[vm.chassis].netns):
            out.append(_vsctl(argv) if argv[0] == "ovs-vsctl" else _cmd(*argv))
        if vm.waits_for_addresses:
            from lab.plan.commands import client_argv

            out.append("# its DHCP client / RA watcher, writing only into the lab's state dir")
            client = client_argv(vm, Path(f"/var/lib/ovn-lab/{plan.lab}/{vm.name}"))
            out.append(_cmd("ip", "netns", "exec", vm.netns, *client) + " &")
        for proto, port in vm.services:  # lab/vm/vm_agent.py: answers with the VM's name
            serve = ["python3", "-I", "lab/vm/vm_agent.py", "serve", proto, str(port), vm.name]
            out.append(_cmd("ip", "netns", "exec", vm.netns, *serve) + " &")
    out += [
        "",
        "# wait until every VM port is up and every chassis caught up",
        _cmd("ovn-nbctl", "--wait=hv", "sync"),
    ]
    if any(vm.waits_for_addresses for vm in plan.vms.values()):
        out.append("# then until every DHCP / SLAAC VM has its addresses (lease.json: ready)")
    return "\n".join(out) + "\n"


def _chassis_commands(plan: Plan, node: NodePlan) -> list[list[str]]:
    cmds = chassis_ovs_commands(plan, node)
    if plan.ssl:
        cmds.append(["set-ssl", f"{node.name}-privkey.pem", f"{node.name}-cert.pem", "cacert.pem"])
    return cmds


def _central(plan: Plan, node: NodePlan, run_in: list[str]) -> list[str]:
    """A central's databases (standalone, or raft cluster members) and its ovn-northd."""
    ip = plan.url_ip(node.name)
    ssl = [a.replace("NODE", node.name) for a in SSL_ARGS] if plan.ssl else []
    listen = "pssl" if plan.ssl else "ptcp"
    out: list[str] = []
    dbs = (
        ("ovnnb_db", "ovn-nb.ovsschema", "OVN_Northbound", plan.nb_port, plan.nb_raft_port),
        ("ovnsb_db", "ovn-sb.ovsschema", "OVN_Southbound", plan.sb_port, plan.sb_raft_port),
    )
    for daemon, schema, name, port, raft_port in dbs:
        if plan.clustered and node.name == plan.central:
            local = plan.raft_address(node.name, raft_port)
            out.append(_cmd("ovsdb-tool", "create-cluster", f"{daemon}.db", schema, local))
        elif plan.clustered:
            others = [plan.raft_address(c, raft_port) for c in plan.centrals if c != node.name]
            local = plan.raft_address(node.name, raft_port)
            out.append(_cmd("ovsdb-tool", "join-cluster", f"{daemon}.db", name, local, *others))
        out.append(
            _cmd(
                *run_in,
                "ovsdb-server",
                "--detach",
                f"--remote=punix:{daemon}.sock",
                f"--remote={listen}:{port}:{ip}",
                *ssl,
                f"{daemon}.db",
            )
        )
    if plan.clustered:
        northd = [f"--ovnnb-db={plan.nb_remote}", f"--ovnsb-db={plan.sb_remote}", *ssl]
        out.append(_cmd(*run_in, "ovn-northd", "--detach", *northd))
    else:
        out.append(_cmd(*run_in, "ovn-northd", "--detach"))
    return out
