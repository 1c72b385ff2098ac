"""The JSON Schema of the topology file (`lab schema`), made from the code at run time.

The objects come from the pydantic model (lab.topology.model), so a key added there is in
the schema with no edit here. Two things the model holds in their normalised form are
written out as the YAML allows them: a node's `links` (three forms) and `checks` (one
entry per check, `{kind: {settings}}`). The check kinds are the loader's (CHECK_KINDS);
each kind's settings are read from the `_require(spec, KIND, required..., optional=(...))`
call that validates them in lab/verify, with the value types of CHECK_KEYS where known.
"""

from __future__ import annotations

import ast
import copy
import json
from importlib import resources
from typing import Any

from lab.naming import LAB_NAME
from lab.topology.model import CHECK_KINDS, Topology

DIALECT = "https://json-schema.org/draft/2020-12/schema"

_NAME = {"type": "string", "description": "a VM or node name"}
_PING = {
    "type": "object",
    "description": "the traffic that must keep flowing: {from: VM, to: VM or address}",
    "properties": {"from": _NAME, "to": {"type": "string"}},
    "required": ["from", "to"],
}
# What each check setting holds, where the same key means the same thing in every kind.
CHECK_KEYS: dict[str, dict[str, Any]] = {
    "from": {"type": "string", "description": "the VM (or host node) the traffic starts in"},
    "to": {"type": "string", "description": "a VM or node name, or an address"},
    "expect": {"enum": ["reach", "no-reach"], "default": "reach"},
    "count": {"type": "integer", "minimum": 1, "description": "packets to send"},
    "ttl": {"type": "integer", "minimum": 1, "maximum": 255, "description": "the TTL seen"},
    "seen_as": {"type": "string", "description": "the source address the destination sees"},
    "path": {
        "type": "array",
        "items": {"type": "string"},
        "description": "the datapaths (switches, routers) ovn-trace crosses, in order",
    },
    "output": {"type": "string", "description": "the logical port (VM) it ends at"},
    "on": {"type": "string", "description": "the chassis to capture on"},
    "node": {"type": "string", "description": "a node name"},
    "table": {
        "anyOf": [{"type": "integer", "minimum": 0}, {"const": "output"}],
        "description": "an OpenFlow table of br-int, or `output` (the installed OVN's)",
    },
    "idle_age": {"type": "integer", "minimum": 0, "description": "hit within this many s"},
    "port": {"type": "string", "description": "a logical router port"},
    "active": {"type": "string", "description": "the gateway chassis that must be active"},
    "stop": {"type": "string", "description": "the node to stop"},
    "ping": _PING,
    "max_loss_s": {"type": "number", "minimum": 0, "description": "longest outage allowed"},
    "network": {"type": "string", "description": "a fabric with vlans: true"},
    "mac": {"type": "string", "description": "a MAC address like 40:44:00:00:00:05"},
    "vlan": {"type": "integer", "minimum": 1, "maximum": 4094},
    "max_moves": {"type": "integer", "minimum": 0},
    "min_moves": {"type": "integer", "minimum": 0},
    "kill": {"enum": ["leader", "follower"], "description": "which raft member to SIGKILL"},
    "northd": {"type": "boolean", "description": "also fail the active ovn-northd over"},
    "write": {"type": "boolean", "description": "prove NB writes go on (a VM is added)"},
}


def check_specs() -> dict[str, tuple[list[str], list[str]]]:
    """kind -> (required keys, optional keys), from the `_require` calls in lab/verify."""
    found: dict[str, tuple[list[str], list[str]]] = {}
    for module in resources.files("lab.verify").iterdir():
        if not module.name.endswith(".py"):
            continue
        for call in ast.walk(ast.parse(module.read_text(encoding="utf-8"))):
            if not (isinstance(call, ast.Call) and _name(call.func) == "_require"):
                continue
            words = [_text(a) for a in call.args[1:]]
            if not words or words[0] is None:
                continue
            optional: list[str] = []
            for kw in call.keywords:
                if kw.arg == "optional" and isinstance(kw.value, ast.Tuple | ast.List):
                    optional = [t for t in map(_text, kw.value.elts) if t is not None]
            found[words[0]] = ([w for w in words[1:] if w is not None], optional)
    return found


def _name(node: ast.expr) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return None


def _text(node: ast.expr) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def _check_entry(kind: str, spec: tuple[list[str], list[str]] | None) -> dict[str, Any]:
    if spec is None:  # a kind whose settings are validated some other way
        settings: dict[str, Any] = {"type": "object", "description": f"settings of {kind}"}
    else:
        required, optional = spec
        settings = {
            "type": "object",
            "properties": {k: CHECK_KEYS.get(k, {}) for k in [*required, *optional]},
            "additionalProperties": False,
        }
        if required:
            settings["required"] = required
    return {
        "type": "object",
        "properties": {kind: settings},
        "required": [kind],
        "additionalProperties": False,
    }


def _links() -> dict[str, Any]:
    address = {
        "anyOf": [{"type": "string", "format": "ipv4interface"}, {"type": "null"}],
        "description": "the node's address on that fabric (default: allocated from its subnet)",
    }
    return {
        "description": "the fabrics the node is wired to (default: [the overlay]), as a list "
        "of fabric names / {fabric: address} items, or a mapping fabric -> address",
        "anyOf": [
            {
                "type": "array",
                "items": {
                    "anyOf": [
                        {"type": "string"},
                        {
                            "type": "object",
                            "additionalProperties": address,
                            "minProperties": 1,
                            "maxProperties": 1,
                        },
                    ]
                },
            },
            {"type": "object", "additionalProperties": address},
        ],
    }


def _drop_titles(node: Any) -> None:
    """pydantic titles every property ("Chassis Mac Mappings"): noise in an editor."""
    if isinstance(node, dict):
        props = node.get("properties")
        if isinstance(props, dict):
            for value in props.values():
                if isinstance(value, dict):
                    value.pop("title", None)
        for value in node.values():
            _drop_titles(value)
    elif isinstance(node, list):
        for value in node:
            _drop_titles(value)


def schema_text() -> str:
    """The schema as `lab schema` prints it and docs/topology.schema.json holds it."""
    return json.dumps(topology_schema(), indent=2) + "\n"


def topology_schema() -> dict[str, Any]:
    """The JSON Schema (2020-12) of a topology file, v1 and v2 as this version knows them."""
    schema = copy.deepcopy(Topology.model_json_schema())
    _drop_titles(schema)
    defs = schema.setdefault("$defs", {})
    if "Node" in defs and "links" in defs["Node"].get("properties", {}):
        defs["Node"]["properties"]["links"] = _links()
        if '"#/$defs/Link"' not in json.dumps(schema):  # only the normalised form used it
            defs.pop("Link", None)
    # `overlay:` with nothing after it is a fabric with defaults, `net1:` a switch with none
    for where, key in ((schema, "fabric"), (defs.get("Ovn", {}), "switches")):
        items = where.get("properties", {}).get(key, {})
        if "$ref" in items.get("additionalProperties", {}):
            items["additionalProperties"] = {
                "anyOf": [items["additionalProperties"], {"type": "null"}]
            }
    specs = check_specs()
    kinds = sorted(CHECK_KINDS)
    defs["Check"] = {
        "description": "one check or step of `lab check`: {kind: {settings}}",
        "anyOf": [{"$ref": f"#/$defs/check-{kind}"} for kind in kinds],
    }
    for kind in kinds:
        defs[f"check-{kind}"] = _check_entry(kind, specs.get(kind))
    schema["properties"]["checks"] = {
        "type": "array",
        "items": {"$ref": "#/$defs/Check"},
        "description": "what `lab check` proves, in order",
    }
    schema["properties"]["name"]["pattern"] = LAB_NAME.pattern
    return {
        "$schema": DIALECT,
        "title": "ovn-lab topology",
        "description": "A lab for `lab up`: fabric, nodes, the OVN logical network, VMs and "
        "checks. Reference: docs/topology.md.",
        **{k: v for k, v in schema.items() if k not in ("title", "description")},
    }
