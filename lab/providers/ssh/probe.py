"""What a host has now, asked over the lab's connection (its Open_vSwitch external_ids, the
NB/SB listeners and who owns them, the lab's tags), and the shell script of several commands."""

from __future__ import annotations

import json
import shlex

from lab.providers.ssh.record import OWNER_KEY
from lab.providers.ssh.transport import Host


def connections(host: Host) -> dict[str, list[str]]:
    """The NB and SB listeners now (`ovn-sbctl get-connection` says 'read-write role=""
    ptcp:6642', ovn-nbctl just 'ptcp:6641')."""
    return {
        tool: [ln.split()[-1] for ln in host.run([tool, "get-connection"]).stdout.splitlines()]
        for tool in ("ovn-nbctl", "ovn-sbctl")
    }


def nb_owner(host: Host) -> str | None:
    """The lab whose central this is (NB_Global external_ids:ovn-lab), as chassis say it in
    their Open_vSwitch external_ids."""
    proc = host.run(
        ["ovn-nbctl", "--if-exists", "get", "NB_Global", ".", f"external_ids:{OWNER_KEY}"],
        check=False,
    )
    return proc.stdout.strip().strip('"') or None


def external_ids(host: Host) -> dict[str, str]:
    out = host.run(
        ["ovs-vsctl", "--format=json", "--columns=external_ids", "list", "Open_vSwitch"]
    ).stdout
    rows = json.loads(out)["data"]
    return {str(k): str(v) for k, v in rows[0][0][1]} if rows else {}


def script(cmds: list[list[str]]) -> str:
    """One shell script from argv lists, each quoted: one SSH round trip for many commands."""
    return "\n".join(shlex.join(cmd) for cmd in cmds)


def tagged(host: Host, table: str, name: str, lab: str) -> bool:
    """Does this OVS record carry external_ids:ovn-lab=LAB (what the lab tags)?"""
    proc = host.run(
        ["ovs-vsctl", "--if-exists", "get", table, name, f"external_ids:{OWNER_KEY}"], check=False
    )
    return proc.returncode == 0 and proc.stdout.strip().strip('"') == lab
