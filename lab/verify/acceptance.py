"""`lab test`: the shipped testinfra acceptance suites (lab/data/checks) against every node.

The suites are plain pytest-testinfra files; this module only tells them what to expect
(OVN_LAB_NAME, read back by the suites' conftest.py through `lab_expectations`), which hosts to
connect to (`host_spec`: one URL per node, by provider), runs pytest, and prints what it found
node by node.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from lab import naming
from lab.plan.model import Plan
from lab.resources import data_dir
from lab.state.info import LinkInfo
from lab.state.store import LabState

CHECKS_DIR = data_dir("checks")  # lab/data/checks, shipped in the package
NB_PORT, SB_PORT = 6641, 6642  # lab.plan.model.Plan defaults: the lab's remotes


def host_spec(state: LabState, target: str) -> str:
    """The testinfra host URL of a node or VM: its provider knows how testinfra reaches it."""
    from lab import providers

    return providers.of(state).testinfra_url(state, target)


# --- what each node should look like ----------------------------------------------------------


def _address(link: LinkInfo | None) -> str | None:
    address = link.address if link else None
    return address.split("/")[0] if address else None


def _saved_plan(state: LabState) -> Plan | None:
    """The lab's plan, remade from the topology copy saved by `lab up` (planning is
    deterministic): it knows what state.info does not record (bridge mappings, VM gateways)."""
    try:
        from lab.state.saved import saved_plan

        return saved_plan(state)
    except Exception:  # an old or unreadable copy: fall back to what state.info says
        return None


def _bridge_mappings(plan: Plan | None, name: str, links: dict[str, Any], overlay: str) -> str:
    if plan is not None and name in plan.nodes:
        mappings = plan.nodes[name].bridge_mappings
    else:  # the planner's rule: every non-overlay fabric the chassis links to
        mappings = {f: naming.fabric_bridge(f) for f in links if f != overlay}
    return ",".join(f"{fabric}:{bridge}" for fabric, bridge in mappings.items())


def lab_expectations(state: LabState) -> dict[str, Any]:
    """What checks/ expects of every node and VM of a lab, from its state.

    The same shape as an expectations file for hand-made hosts (see docs/checks.md, "Acceptance
    suites"): {"nodes": {NAME: {...}}, "vms": {NAME: {...}}}."""
    info = state.info
    plan = _saved_plan(state)
    overlay = info.overlay
    nodes_info = info.nodes
    central = nodes_info.get(info.central or "")
    central_ip = _address(central.links.get(overlay or "") if central else None)
    nodes: dict[str, dict[str, Any]] = {}
    for name, node in nodes_info.items():
        entry: dict[str, Any] = {"role": node.role, "host": host_spec(state, name)}
        links = node.links
        if node.role == "central":
            own_ip = _address(links.get(overlay)) or central_ip
            entry.update(address=own_ip, nb_port=NB_PORT, sb_port=SB_PORT)
            if len(info.centrals) > 1:
                entry["clustered"] = True  # one ovn-northd active, the others standby
        elif node.role in ("chassis", "gateway"):
            entry.update(
                system_id=name,
                encap_ip=node.encap_ip,
                ovn_remote=info.sb_remote or f"tcp:{central_ip}:{SB_PORT}",
                datapath_type=node.datapath_type or "netdev",
                bridge_mappings=_bridge_mappings(plan, name, links, overlay),
            )
            if plan is not None and name in plan.nodes:
                macs = getattr(plan.nodes[name], "chassis_macs", {})  # VLAN fabrics only
                entry["chassis_mac_mappings"] = ",".join(f"{f}:{m}" for f, m in macs.items())
        else:
            entry["addresses"] = {
                link.node_if: link.address for link in links.values() if link.address
            }
        nodes[name] = entry
    vms = {
        name: {
            "host": host_spec(state, name),
            "chassis": vm.chassis,
            "port": vm.port,
            "ifname": vm.ifname,
            "mac": vm.mac,
            "ip": vm.ip,
            "gateway": _vm_gateway(plan, name),
        }
        for name, vm in info.vms.items()
    }
    return {"lab": state.name, "nodes": nodes, "vms": vms}


def _vm_gateway(plan: Plan | None, vm: str) -> str | None:
    gateway = plan.vms[vm].gateway if plan is not None and vm in plan.vms else None
    return str(gateway) if gateway else None


def lab_hosts(state: LabState) -> list[str]:
    """Host URLs of every node, then every VM, in the order the lab's state lists them."""
    info = state.info
    return [host_spec(state, t) for t in [*info.nodes, *info.vms]]


# --- running pytest -------------------------------------------------------------------------


def pytest_argv(checks: Path, hosts: list[str], junit: str | None, extra: list[str]) -> list[str]:
    argv = [sys.executable, "-m", "pytest", str(checks), f"--hosts={','.join(hosts)}"]
    argv += ["-p", "no:cacheprovider", "-q", "--no-header"]
    if junit:
        argv += [f"--junit-xml={junit}"]
    return [*argv, *extra]


def split_args(args: argparse.Namespace) -> tuple[str | None, dict[str, Any], list[str]]:
    """(lab name, our options, pytest args) from `lab test [NAME] [OPTIONS] [-- PYTEST-ARGS]`.

    argparse cannot both take an optional NAME and pass through what follows `--` (its
    REMAINDER swallows options given after NAME, and `lab test -- -k x` arrives as NAME='-k'),
    so the tail is sorted here: a NAME must look like a lab name, our own options are taken
    up to `--`, everything else goes to pytest."""
    name, rest = args.name, list(args.rest)
    if name is not None and not naming.LAB_NAME.match(name):
        name, rest = None, [name, *rest]
    opts: dict[str, Any] = {
        "junit": args.junit,
        "checks": args.checks,
        "verbose": args.verbose,
        "output": getattr(args, "output", "text"),
    }
    while rest:
        arg = rest[0]
        if arg == "--":
            rest = rest[1:]
            break
        key, eq, value = arg.partition("=")
        if key in ("--junit", "--checks") and (eq or len(rest) > 1):
            opts[key[2:]] = value if eq else rest[1]
            rest = rest[1:] if eq else rest[2:]
        elif arg in ("-v", "--verbose"):
            opts["verbose"] = True
            rest = rest[1:]
        elif arg == "--json" or arg == "--output=json" or rest[:2] == ["--output", "json"]:
            opts["output"] = "json"
            rest = rest[2:] if arg == "--output" else rest[1:]
        else:
            break
    return name, opts, rest
