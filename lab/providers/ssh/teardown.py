"""`lab down` of an ssh lab: every host put back as the lab found it (VMs, br-int, external_ids,
listeners, the underlay address, the lab's logical network and directory), idempotently."""

from __future__ import annotations

import json
import shlex
import sys
from typing import Any

from lab.errors import LabError, RuntimeFailure
from lab.plan.commands import transaction
from lab.providers.ssh import probe, record
from lab.providers.ssh.record import OWNER_KEY, SSH_BR_INT, SSH_VM, marker
from lab.providers.ssh.session import _SESSIONS, _parallel, session
from lab.providers.ssh.transport import Host
from lab.state.store import LabState


def teardown(state: LabState, forget_unreachable: bool = False) -> list[str]:
    """Put every host back as the lab found it. Each step is idempotent, so a crash at any
    point of `lab up` (or of this) is mended by running `lab down` again. A host that cannot
    be cleaned fails the teardown (the state stays for a retry) unless `forget_unreachable`
    (`lab down --forget-unreachable`: the host is gone); returns what was given up."""
    ssh = state.info.ssh
    nodes = state.resources.get("ssh_host", [])
    if not ssh or not nodes:
        return []
    sess = session(state)
    errors: list[str] = []

    def clean(node: str) -> None:
        try:
            host = sess.host(node)
            _clean_host(state, host, node)
        except LabError as exc:
            errors.append(f"{node}: {exc}")

    _parallel({n: (lambda n=n: clean(n)) for n in nodes}, raise_first=False)
    _SESSIONS.pop(state.name, None)
    sess.close()
    if errors and not forget_unreachable:
        raise RuntimeFailure(
            "could not clean every host: "
            + "; ".join(errors)
            + " (run `lab down` again once they answer, or `lab down --forget-unreachable` "
            "if they are gone for good)"
        )
    for problem in errors:  # forgotten: say what may still be on those hosts
        print(f"warning: gave up on {problem}", file=sys.stderr)
    return errors


def _clean_vms(state: LabState, host: Host, node: str) -> None:
    """Owned VMs go whole; a pending one (a crash while it was made) only as far as it
    provably is the lab's: the port's tag, the namespace's marker."""
    on_node = {n: v for n, v in state.info.vms.items() if v.chassis == node}
    owned = [v for n, v in on_node.items() if n in state.resources.get(SSH_VM, [])]
    pending = [v for n, v in on_node.items() if n in state.pending.get(SSH_VM, [])]
    if not owned and not pending:
        return
    listed = set(host.run(["ip", "netns", "list"]).stdout.split())
    cmds = [["ovs-vsctl", "--if-exists", "del-port", "br-int", v.chassis_if] for v in owned]
    cmds += [["ip", "netns", "del", v.netns] for v in owned if v.netns in listed]
    mark = marker(state)
    for v in pending:
        if probe.tagged(host, "Interface", v.chassis_if, state.name):
            cmds.append(["ovs-vsctl", "--if-exists", "del-port", "br-int", v.chassis_if])
        if v.netns in listed and record.netns_marked(host, v.netns, mark):
            cmds.append(["ip", "netns", "del", v.netns])
    inside = [c[3] for c in cmds if c[:3] == ["ip", "netns", "del"]]
    if inside:  # VM services, connect clients: nothing may outlive its namespace
        kills = " ".join(f"$(ip netns pids {shlex.quote(ns)} 2>/dev/null)" for ns in inside)
        host.run(["sh", "-c", f"for p in {kills}; do kill -9 $p 2>/dev/null; done; true"])
    if cmds:
        host.run(["sh", "-ec", probe.script(cmds)])


def _clean_host(state: LabState, host: Host, node: str) -> None:
    saved = state.info.ssh["saved"].get(node, {})
    found = state.info.ssh.get("guests", {}).get(node)
    if found is not None:  # a chassis sharing its host: its namespaces, then the lab's files
        from lab.providers.ssh import guest

        guest.remove(state, host, node, found)
        _remove_lab_dir(host, saved)
        return
    _clean_vms(state, host, node)
    if "external_ids" in saved:
        ids = saved["external_ids"]
        back = [f"external_ids:{k}={v}" for k, v in ids.items() if v is not None]
        gone = [k for k, v in ids.items() if v is None]
        if back:
            host.run(["ovs-vsctl", "set", "Open_vSwitch", ".", *back])
        if gone:
            host.run(["ovs-vsctl", "remove", "Open_vSwitch", ".", "external_ids", *gone])
    if "br_int" in saved:
        kind = saved["br_int"]
        if kind is not None:  # the host's own br-int: its type back
            host.run(["ovs-vsctl", "set", "Bridge", "br-int", f"datapath_type={json.dumps(kind)}"])
        elif node in state.resources.get(SSH_BR_INT, []) or (
            node in state.pending.get(SSH_BR_INT, [])
            and probe.tagged(host, "Bridge", "br-int", state.name)
        ):
            host.run(["ovs-vsctl", "--if-exists", "del-br", "br-int"])
    if "underlay" in saved:
        u = saved["underlay"]
        host.run(
            [
                "sh",
                "-c",
                probe.script(
                    [
                        ["ip", "addr", "del", u["address"], "dev", u["bridge"]],
                        ["ovs-vsctl", "--if-exists", "del-br", u["bridge"]],
                        ["ip", "addr", "replace", u["address"], "dev", u["interface"]],
                        ["ip", "link", "set", u["interface"], "up"],
                    ]
                ),
            ]
        )
    if "nb_objects" in saved:
        # only the switches and routers the lab made: named in state and tagged with the lab
        objects = saved["nb_objects"]
        tag = f"external_ids:{OWNER_KEY}={json.dumps(state.name)}"
        cmds = []
        for table, verb, names in (
            ("Logical_Router", "lr-del", objects["routers"]),
            ("Logical_Switch", "ls-del", objects["switches"]),
        ):
            out = host.run(["ovn-nbctl", "--bare", "--columns=name", "find", table, tag]).stdout
            cmds += [["--if-exists", verb, n] for n in names if n in set(out.split())]
        if cmds:
            host.run(["ovn-nbctl", *transaction(cmds)])
    if "nb_owner" in saved:
        before = saved["nb_owner"]
        if before is not None:
            host.run(["ovn-nbctl", "set", "NB_Global", ".", f"external_ids:{OWNER_KEY}={before}"])
        elif probe.nb_owner(host) == state.name:
            host.run(["ovn-nbctl", "remove", "NB_Global", ".", "external_ids", OWNER_KEY])
    if "connections" in saved:
        for tool, targets in saved["connections"].items():
            host.run([tool, "set-connection", *targets] if targets else [tool, "del-connection"])
    from lab.providers.ssh import tls

    # ssl: true: the lab's ovn-northd stopped, the host's resumed, the SSL rows back (once
    # listeners and ovn-remote are plain again); then the files, with the lab's directory
    tls.restore(state, host, saved)
    _remove_lab_dir(host, saved)


def _remove_lab_dir(host: Host, saved: dict[str, Any]) -> None:
    if "agent_dir" in saved and saved["agent_dir"].startswith("/run/ovn-lab/"):
        host.run(["rm", "-rf", "--", saved["agent_dir"]])
        # and /run/ovn-lab itself once no lab has a directory in it
        host.run(["rmdir", "--ignore-fail-on-non-empty", "--", "/run/ovn-lab"], check=False)
