"""Topology-level rules for the check steps that change a lab between checks (link, impair,
partition, add-vm) and for `assert`: the same mistakes `lab link`/`lab impair`/`lab
partition` refuse, found before anything runs."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from lab.errors import UserError
from lab.topology.check_kinds import STEPS
from lab.topology.problems import Path, one_of, show

if TYPE_CHECKING:
    from lab.topology.validate import _Rules

STEP_KEYS = STEPS  # kind -> (required, optional), in lab.topology.check_kinds


def _keys(rules: _Rules, path: Path, kind: str, spec: dict[str, Any]) -> bool:
    required, optional = STEP_KEYS[kind]
    ok = True
    for key in spec:
        if key not in required and key not in optional:
            allowed = one_of([*required, *optional], limit=12)
            rules.rep.add((*path, key), f"unknown {kind} setting {show(key)}; use {allowed}")
            ok = False
    missing = [k for k in required if k not in spec]
    if missing:
        rules.rep.add(path, f"the {kind} step needs {', '.join(missing)}")
        ok = False
    return ok


def _node_links(rules: _Rules, node: str) -> list[str]:
    """The fabrics a node is on (no links written: the overlay, as the loader defaults)."""
    written = rules.p.nodes[node].links if node in rules.p.nodes else []
    if written:
        return [link.fabric for link in written]
    return [rules.p.overlay] if rules.p.overlay else []


def _node(rules: _Rules, path: Path, value: Any) -> str | None:
    nodes = rules.written("nodes")
    if isinstance(value, str) and rules.exists("nodes", value):
        return value
    rules.rep.add(path, f"{show(value)} is not a node; use one of {one_of(nodes)}")
    return None


def _wire(rules: _Rules, path: Path, spec: dict[str, Any]) -> None:
    node = _node(rules, (*path, "node"), spec.get("node"))
    fabric = spec.get("fabric")
    if node is None or node not in rules.p.nodes or "fabric" in rules.p.broken:
        return
    fabrics = _node_links(rules, node)
    if fabric not in fabrics:
        rules.rep.add(
            (*path, "fabric"),
            f"node {node} is not on fabric {show(fabric)}; use one of {one_of(fabrics)}",
        )


def link(rules: _Rules, path: Path, spec: dict[str, Any]) -> None:
    if not _keys(rules, path, "link", spec):
        return
    _wire(rules, path, spec)
    if spec["state"] not in ("down", "up"):
        rules.rep.add(
            (*path, "state"), f"{show(spec['state'])} is not a link state; use down or up"
        )


def impair(rules: _Rules, path: Path, spec: dict[str, Any]) -> None:
    from lab.topology.impairments import impairment

    if not _keys(rules, path, "impair", spec):
        return
    _wire(rules, path, spec)
    try:
        impairment(
            spec.get("delay_ms"), spec.get("jitter_ms"), spec.get("loss_pct"), spec.get("rate_mbit")
        )
    except UserError as exc:
        rules.rep.add(path, str(exc))


def partition(rules: _Rules, path: Path, spec: dict[str, Any]) -> None:
    if not _keys(rules, path, "partition", spec):
        return
    node = _node(rules, (*path, "node"), spec["node"])
    others = spec["from"] if isinstance(spec["from"], list) else [spec["from"]]
    if not others:
        rules.rep.add((*path, "from"), "from is empty; name the nodes to cut it off from")
    for index, other in enumerate(others):
        where = (*path, "from", index) if isinstance(spec["from"], list) else (*path, "from")
        if _node(rules, where, other) is not None and other == node:
            rules.rep.add(where, f"a node cannot be partitioned from itself; {node} is the node")
    if not isinstance(spec.get("heal", False), bool):
        rules.rep.add((*path, "heal"), f"heal is true or false, not {show(spec['heal'])}")


def assert_(rules: _Rules, path: Path, spec: dict[str, Any]) -> None:
    if not _keys(rules, path, "assert", spec):
        return
    try:
        assert_command(spec)
    except UserError as exc:
        rules.rep.add(path, str(exc))
        return
    if "on" in spec:
        on = spec["on"]
        if not (isinstance(on, str) and (rules.exists("nodes", on) or rules.exists("vms", on))):
            names = [*rules.written("nodes"), *rules.written("vms")]
            rules.rep.add(
                (*path, "on"), f"{show(on)} is not a node or VM; use one of {one_of(names)}"
            )


def add_vm(rules: _Rules, path: Path, spec: dict[str, Any]) -> None:
    if not _keys(rules, path, "add-vm", spec):
        return
    chassis = spec["chassis"]
    if not (isinstance(chassis, str) and chassis in rules.chassis_nodes()):
        rules.rep.add(
            (*path, "chassis"),
            f"{show(chassis)} is not a chassis; use one of {one_of(rules.chassis_nodes())}",
        )
    switch = spec["switch"]
    if not (isinstance(switch, str) and rules.exists("switches", switch)):
        rules.rep.add((*path, "switch"), f"{show(switch)} is not a switch of ovn.switches")
    name = spec["name"]
    if isinstance(name, str) and (rules.exists("vms", name) or rules.exists("nodes", name)):
        rules.rep.add((*path, "name"), f"{show(name)} is already a VM or node; pick a new name")
    elif isinstance(name, str):  # later checks may use the VM this step adds
        rules.p.written.setdefault("vms", []).append(name)


def assert_command(spec: dict[str, Any]) -> tuple[str, list[str]]:
    """("on" target | "nbctl" | "sbctl", argv) of an assert; UserError for a bad one."""
    given = [k for k in ("run", "nbctl", "sbctl") if k in spec]
    if len(given) != 1:
        raise UserError(
            "an assert runs exactly one command: run: [argv...] with on: NODE, or nbctl: [...]"
            " or sbctl: [...]"
        )
    (key,) = given
    argv = spec[key]
    if (
        not isinstance(argv, list)
        or not argv
        or not all(isinstance(a, (str, int, float)) and not isinstance(a, bool) for a in argv)
    ):
        raise UserError(
            f"assert {key} must be a list of arguments like [ovn-sbctl, show], not {show(argv)}; "
            "no shell runs it"
        )
    if key == "run" and "on" not in spec:
        raise UserError("assert run: needs on: the node, VM or central to run it in")
    if key != "run" and "on" in spec:
        raise UserError(f"assert {key}: runs against the lab's databases; drop on:")
    if ("match" in spec) == ("json" in spec):
        raise UserError("an assert needs one of match: REGEX or json: {path: value}")
    if "match" in spec:
        try:
            re.compile(str(spec["match"]))
        except re.error as exc:
            raise UserError(f"assert match {show(spec['match'])} is not a regex: {exc}") from None
    if "json" in spec and (not isinstance(spec["json"], dict) or not spec["json"]):
        raise UserError("assert json: must be a mapping of path: value, like {data.0.0: vm1}")
    for key_s in ("within_s", "for_s"):
        value = spec.get(key_s, 0)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 3600:
            raise UserError(f"assert {key_s} must be seconds from 0 to 3600, not {show(value)}")
    if "exit" in spec and (isinstance(spec["exit"], bool) or not isinstance(spec["exit"], int)):
        raise UserError(f"assert exit must be an exit status number, not {show(spec['exit'])}")
    return ("on" if key == "run" else key), [str(a) for a in argv]


VALIDATORS: dict[str, Callable[[_Rules, Path, dict[str, Any]], None]] = {
    "link": link,
    "impair": impair,
    "partition": partition,
    "assert": assert_,
    "add-vm": add_vm,
}
