"""The JSON Schema of the topology file (`lab schema`), made from the code at run time.

The objects come from the pydantic model (lab.topology.model), so a key added there is in
the schema with no edit here. Two things the model holds in their normalised form are
written out as the YAML allows them: a node's `links` (three forms) and `checks` (one
entry per check, `{kind: {settings}}`). The check kinds are the loader's (CHECK_KINDS);
each kind's settings come from the table the runners validate them with
(lab.topology.check_kinds), so there is one list of them. The value types are CHECK_KEYS',
KIND_KEYS' where a key means something else in one kind, and KIND_RULES add what one key
alone cannot say (an assert runs exactly one command).
"""

from __future__ import annotations

import copy
import json
from typing import Any, get_args

from lab.naming import LAB_NAME
from lab.topology import builds
from lab.topology.check_kinds import CHECK_KINDS, KIND_SETTINGS
from lab.topology.impairments import LIMITS
from lab.topology.model import Acl, Topology
from lab.topology.security import CONNECT_EXPECT, CT_FLAGS, PROTOS, TRACE_VERDICTS

DIALECT = "https://json-schema.org/draft/2020-12/schema"

_NAME = {"type": "string", "description": "a VM or node name"}
_PING = {
    "type": "object",
    "description": "the traffic that must keep flowing: {from: VM, to: VM or address}",
    "properties": {"from": _NAME, "to": {"type": "string"}},
    "required": ["from", "to"],
}
_SECONDS = {"type": "number", "minimum": 0}
_ARGV = {
    "type": "array",
    "minItems": 1,
    "items": {"type": ["string", "number"]},
    "description": "a command as a list of arguments (no shell)",
}
_L4_PORT = {"type": "integer", "minimum": 1, "maximum": 65535}
_NAMES = {"type": "array", "items": {"type": "string"}}
# what lab.providers.docker.builds.parse takes (a source: tree is checked when the file is loaded)
BUILD_PATTERN = f"^({builds.HOST}|debian:({'|'.join(builds.SUITES)})|source:.+)$"
_BUILD = {"type": "string", "pattern": BUILD_PATTERN}
# Text keys of the model whose written form is narrower than `str`: (object, key) -> pattern
PATTERNS: dict[tuple[str, str], str] = {
    ("Topology", "name"): LAB_NAME.pattern,
    ("Topology", "build"): BUILD_PATTERN,
    ("Node", "build"): BUILD_PATTERN,
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
    "proto": {"enum": list(PROTOS), "default": "tcp"},
    "timeout": {**_SECONDS, "description": "seconds to wait for each answer"},
    "within_s": {**_SECONDS, "description": "the longest it may take, in seconds"},
    "fabric": {"type": "string", "description": "a fabric the node is linked to"},
    "chassis": {"type": "string", "description": "a chassis or gateway node"},
    "switch": {"type": "string", "description": "a logical switch"},
    "ip": {"type": "string", "description": "an address with prefix, e.g. 10.0.0.11/24"},
    "gateway": {"type": "string", "description": "the default route's address"},
}
# Keys that mean something else in one kind: kind -> key -> its value.
KIND_KEYS: dict[str, dict[str, dict[str, Any]]] = {
    "connect": {
        "port": {**_L4_PORT, "description": "the destination TCP/UDP port"},
        "expect": {"enum": list(CONNECT_EXPECT), "default": "reach"},
        "count": {"type": "integer", "minimum": 1, "description": "exchanges to make"},
    },
    "trace": {
        "port": {**_L4_PORT, "description": "the destination TCP/UDP port (with proto)"},
        "proto": {"enum": list(PROTOS), "description": "trace a TCP or UDP packet"},
        "ct": {
            "type": "string",
            "description": f"conntrack state flags for ct_next, of {', '.join(CT_FLAGS)}",
        },
        "verdict": {"enum": list(TRACE_VERDICTS), "description": "what the ACLs decide"},
        "stage": {"type": "string", "description": "the stage that decides, e.g. ls_out_acl"},
    },
    "acl_log": {
        "name": {"type": "string", "description": "an ACL's name (one with log: true)"},
        "verdict": {"type": "string", "description": "only hits with this verdict (drop ...)"},
        "direction": {"enum": list(get_args(Acl.model_fields["direction"].annotation))},
        "min": {"type": "integer", "minimum": 0, "default": 1, "description": "hits at least"},
    },
    "lb": {
        "vip": {"type": "string", "description": "a load balancer VIP, ADDRESS:PORT"},
        "requests": {"type": "integer", "minimum": 1, "default": 20},
        "backends": {**_NAMES, "description": "the VMs that must answer, and no one else"},
        "stop": {"type": "string", "description": "a backend VM whose service is stopped"},
    },
    "nexthop": {
        "to": {"type": "string", "description": "an address beyond the router"},
        "via": {**_NAMES, "description": "the host nodes (next hops) the flows must reach"},
        "flows": {"type": "integer", "minimum": 1, "default": 16},
        "stop": {"type": "string", "description": "a next hop of via to stop (BFD)"},
        "port": {**_L4_PORT, "description": "the TCP destination port of the flows"},
    },
    "ping": {"family": {"enum": [4, 6], "description": "which of `to`'s addresses to ping"}},
    "dhcp": {"vm": {"type": "string", "description": "a VM whose address OVN's DHCP gave"}},
    "dns": {
        "name": {"type": "string", "description": "the name to look up (A and AAAA)"},
        "expect": {
            "type": "array",
            "items": {"type": "string"},
            "description": "the addresses of the answer (default: the switch's dns: records)",
        },
    },
    "upgrade": {
        "nodes": {
            "anyOf": [{"type": "string"}, _NAMES],
            "description": "the node(s) to upgrade, in OVN's order",
        },
        "to": {**_BUILD, "description": "the build they are upgraded to"},
        "max_loss_s": {"type": "number", "minimum": 0, "default": 10},
    },
    "link": {"state": {"enum": ["down", "up"]}},
    "impair": {
        key: {"type": "number", "minimum": low, "maximum": high}
        for key, (low, high) in LIMITS.items()
    },
    "partition": {
        "from": {
            "anyOf": [{"type": "string"}, {**_NAMES, "minItems": 1}],
            "description": "the node(s) it is cut off from",
        },
        "heal": {"type": "boolean", "default": False},
    },
    "assert": {
        "on": {"type": "string", "description": "the node or VM `run` runs in"},
        "run": _ARGV,
        "nbctl": {**_ARGV, "description": "ovn-nbctl arguments, against the lab's NB"},
        "sbctl": {**_ARGV, "description": "ovn-sbctl arguments, against the lab's SB"},
        "match": {"type": "string", "format": "regex", "description": "a regex the output has"},
        "json": {
            "type": "object",
            "minProperties": 1,
            "description": "dotted path -> value in the JSON output",
        },
        "within_s": {**_SECONDS, "maximum": 3600, "default": 5},
        "for_s": {**_SECONDS, "maximum": 3600, "default": 0},
        "exit": {"type": "integer", "default": 0, "description": "the exit status"},
    },
    "add-vm": {
        "name": {"type": "string", "description": "the new VM's name"},
        "mac": {"type": "string", "description": "its MAC (default: allocated)"},
        "wait": {"type": "boolean", "default": True, "description": "until its port is up"},
    },
}
# What one key alone cannot say, as lab.topology.steps.assert_command checks it.
KIND_RULES: dict[str, dict[str, Any]] = {
    "assert": {  # exactly one command; `on:` goes with `run:` and only with it
        "allOf": [
            {"oneOf": [{"required": [key]} for key in ("run", "nbctl", "sbctl")]},
            {"oneOf": [{"required": ["match"]}, {"required": ["json"]}]},
        ],
        "dependentRequired": {"run": ["on"], "on": ["run"]},
    },
}


def check_specs() -> dict[str, tuple[list[str], list[str]]]:
    """kind -> (required keys, optional keys): lab.topology.check_kinds, the one table."""
    return {kind: (list(req), list(opt)) for kind, (req, opt) in KIND_SETTINGS.items()}


def _setting(kind: str, key: str) -> dict[str, Any]:
    return copy.deepcopy(KIND_KEYS.get(kind, {}).get(key) or CHECK_KEYS.get(key, {}))


def _check_entry(kind: str, spec: tuple[list[str], list[str]] | None) -> dict[str, Any]:
    # a kind whose settings this file cannot see: any mapping (the unit tests flag it)
    settings: dict[str, Any] = {
        "type": "object",
        "description": f"settings of {kind}",
        "properties": {},
    }
    if spec is not None:
        required, optional = spec
        settings["properties"] = {k: _setting(kind, k) for k in [*required, *optional]}
        settings["additionalProperties"] = False
        if required:
            settings["required"] = required
        settings.update(copy.deepcopy(KIND_RULES.get(kind, {})))
    return {
        "type": "object",
        "properties": {kind: settings},
        "required": [kind],
        "additionalProperties": False,
    }


def _string_of(obj: dict[str, Any], key: str) -> dict[str, Any]:
    """The text schema of a property, also when it is optional (anyOf text or null)."""
    prop = obj["properties"][key]
    for option in prop.get("anyOf", [prop]):
        if option.get("type") == "string":
            return option  # type: ignore[no-any-return]
    raise ValueError(f"{key} is not text in the model; PATTERNS in schema.py")


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
    for (where, key), pattern in PATTERNS.items():
        _string_of(schema if where == "Topology" else defs[where], key)["pattern"] = pattern
    return {
        "$schema": DIALECT,
        "title": "ovn-lab topology",
        "description": "A lab for `lab up`: fabric, nodes, the OVN logical network, VMs and "
        "checks. Reference: docs/topology.md.",
        **{k: v for k, v in schema.items() if k not in ("title", "description")},
    }
