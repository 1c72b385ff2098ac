"""An ACL whose match OVN cannot parse is an error, not a silently missing flow.

Neither ovn-nbctl nor ovn-northd parses ACL matches: northd copies them into Southbound
logical flows, and each ovn-controller then fails to parse the flow, logs a rate-limited
warning and installs nothing. ovn-trace parses every logical flow with the same
expression parser when it starts, and warns (not rate-limited) about each one it cannot:

    ...|ovntrace|WARN|reg0[7] == 1 && (outport == @web && tcp.dst = 80): parsing
    expression failed (Syntax error at `=' expecting relational operator.)

So `lab up`, once northd has written the flows, runs ovn-trace once and maps each such
flow back to the ACL whose match it contains.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from lab.errors import UserError
from lab.runner import run

_FAILED = re.compile(r"\|WARN\|(.*): parsing expression failed \((.*)\)\s*$")


def parse_failures(stderr: str) -> list[tuple[str, str]]:
    """(logical flow match, parser error) for every flow ovn-trace could not parse."""
    return [(m.group(1), m.group(2)) for line in stderr.splitlines() if (m := _FAILED.search(line))]


def unparsable(
    failures: list[tuple[str, str]], acl_matches: list[tuple[str, str]]
) -> list[tuple[str, str, str]]:
    """(ACL label, its match, the parser's error) for every ACL whose flows failed."""
    found = []
    for label, match in acl_matches:
        # northd writes an ACL's match as is, or wrapped: `reg0[7] == 1 && (MATCH)`
        error = next((e for flow, e in failures if flow == match or f"({match})" in flow), None)
        if error is not None:
            found.append((label, match, error))
    return found


def check_acl_matches(
    sb: str, datapath: str, inport: str, acl_matches: list[tuple[str, str]]
) -> None:
    """Raise UserError naming every ACL whose match OVN cannot parse."""
    if not acl_matches:
        return
    argv = ["ovn-trace", f"--db={sb}", "--minimal", datapath, f'inport == "{inport}"']
    proc = run(argv, check=False, timeout=60)
    bad = unparsable(parse_failures(proc.stderr), acl_matches)
    if bad:
        raise UserError(
            "; ".join(
                f"ACL {label}: OVN cannot parse its match `{match}` ({error.rstrip('.')}); "
                "fix the match (see ovn-sb(5), Logical_Flow match syntax)"
                for label, match, error in bad
            )
        )


def schema_actions(schema: Path) -> set[str] | None:
    """The ACL actions an OVN's Northbound schema allows (None: schema not readable)."""
    try:
        column = json.loads(schema.read_text())["tables"]["ACL"]["columns"]["action"]
        return set(column["type"]["key"]["enum"][1])
    except (OSError, ValueError, KeyError, IndexError, TypeError):
        return None


def check_actions(actions: list[tuple[str, str]], schema: Path) -> None:
    """`pass` came with OVN 23.06: refuse it, before anything is made, on an older OVN."""
    allowed = schema_actions(schema)
    if allowed is None:
        return
    bad = [(label, action) for label, action in actions if action not in allowed]
    if bad:
        label, action = bad[0]
        raise UserError(
            f"ACL {label} uses action {action}, which this OVN does not have (its Northbound "
            f"schema allows {', '.join(sorted(allowed))}); use one of those, or an OVN "
            "build that has it"
        )
