"""A healthy OVN central node: Northbound and Southbound databases, ovn-northd, and remotes
that listen on the lab's own overlay address only."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.roles("central")


@pytest.mark.parametrize("daemon", ["ovnnb_db", "ovnsb_db", "ovn-northd"])
def test_daemon_running(daemon_pid, daemon):
    daemon_pid(daemon)


@pytest.mark.parametrize(
    ("database", "socket"),
    [("OVN_Northbound", "ovnnb_db.sock"), ("OVN_Southbound", "ovnsb_db.sock")],
    ids=["OVN_Northbound", "OVN_Southbound"],
)
def test_database_answers(host, rundirs, database, socket):
    """`ovsdb-client list-dbs` on the local socket lists the database."""
    path = f"{rundirs['ovn']}/{socket}"
    out = host.run("ovsdb-client --timeout=5 list-dbs unix:%s", path)
    assert out.rc == 0, f"ovsdb-client list-dbs unix:{path}: {out.stderr.strip()}"
    assert database in out.stdout.split(), f"unix:{path} serves {out.stdout.split()}"


def test_northd_active(host, node, rundirs, daemon_pid):
    """ovn-northd answers on its control socket and is the active instance (in a raft
    cluster of centrals: active, or standby while another one holds the lock)."""
    ctl = f"{rundirs['ovn']}/ovn-northd.{daemon_pid('ovn-northd')}.ctl"
    out = host.run("ovn-appctl -T 5 -t %s status", ctl)
    assert out.rc == 0, f"ovn-appctl -t {ctl} status: {out.stderr.strip()}"
    wanted = {"active", "standby"} if node.get("clustered") else {"active"}
    assert wanted & set(out.stdout.split()), f"ovn-northd status: {out.stdout.strip()}"


@pytest.mark.parametrize("remote", ["nb_port", "sb_port"], ids=["NB", "SB"])
def test_remote_listens_on_overlay_only(host, node, remote):
    """The TCP remote is bound to the overlay address, never to 0.0.0.0 / ::."""
    port = int(node.get(remote, 6641 if remote == "nb_port" else 6642))
    address = node.get("address")
    if not address:
        pytest.skip("no overlay address for the central node in the expectations")
    listening = sorted(
        s
        for s in host.socket.get_listening_sockets()
        if s.startswith("tcp://") and s.endswith(f":{port}")
    )
    assert listening == [f"tcp://{address}:{port}"], (
        f"port {port} should listen on {address} only, listens on {listening or 'nothing'}"
    )
