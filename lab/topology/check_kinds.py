"""Every check kind and step of `checks:` (DESIGN.md "Check kinds"), written once: its
required and optional settings. The loader (CHECK_KINDS, lab.topology.validate), the schema
(lab.topology.schema) and the runners (require_keys in lab.verify.result, the CHECKS table of
lab.verify.checks) all read this table; tests/unit/test_layout.py proves they agree.

To add a kind: a line here, its runner in lab/verify registered in CHECKS, its settings'
types in lab.topology.schema, and its page section in docs/checks.md.
"""

from __future__ import annotations

# a trace with any of these is an ACL trace (TCP/UDP, conntrack states, ACL verdicts)
L4_KEYS = ("proto", "port", "ct", "verdict", "stage")

Settings = tuple[tuple[str, ...], tuple[str, ...]]  # (required, optional)

CHECKS: dict[str, Settings] = {
    "ping": (("from", "to"), ("expect", "count", "ttl", "seen_as", "family")),
    "trace": (("from", "to"), ("path", "output", *L4_KEYS)),
    "geneve": (("from", "to", "on"), ("count",)),
    "flows": (("node", "output"), ("table", "idle_age", "from")),
    "fdb": (("network", "mac", "vlan"), ("max_moves", "min_moves")),
    "gateway": (("port", "active"), ("within_s",)),
    "failover": (("port", "stop", "ping"), ("max_loss_s",)),
    "raft": (("kill", "ping"), ("max_loss_s", "northd", "write")),
    "connect": (("from", "to", "port"), ("proto", "expect", "timeout", "count")),
    "acl_log": (("name",), ("verdict", "direction", "min")),
    "lb": (("from", "vip"), ("requests", "backends", "stop", "within_s", "timeout")),
    "nexthop": (("from", "to", "via"), ("flows", "stop", "within_s", "port")),
    "upgrade": (("nodes", "to", "ping"), ("max_loss_s",)),
    "dhcp": (("vm",), ()),
    "dns": (("from", "name"), ("expect",)),
}
# steps between checks (v2): they change the lab, the report shows them as steps
STEPS: dict[str, Settings] = {
    "link": (("node", "fabric", "state"), ()),
    "impair": (("node", "fabric"), ("delay_ms", "jitter_ms", "loss_pct", "rate_mbit")),
    "partition": (("node", "from"), ("heal",)),
    "assert": ((), ("on", "run", "nbctl", "sbctl", "match", "json", "within_s", "for_s", "exit")),
    "add-vm": (("name", "chassis", "switch", "ip"), ("gateway", "mac", "wait")),
}
KIND_SETTINGS: dict[str, Settings] = {**CHECKS, **STEPS}
CHECK_KINDS: frozenset[str] = frozenset(KIND_SETTINGS)
