"""`lab up --provider ssh` for real: three SSH hosts (node-image containers running sshd),
provisioned by the playbook through `lab provision`, then the seed topology on them.

Management (SSH) on 198.51.100.0/24, the overlay on its own interface (eth1, 192.0.2.0/24):
each host runs the userspace datapath (no openvswitch kernel module here), whose underlay
interface becomes an OVS port, so it must not be the one SSH arrives on. Every `lab` command
runs inside the test's client namespace, where the hosts are reachable.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.integration.conftest import REPO
from tests.integration.ssh_hosts import (
    MGMT_PREFIX,
    UNDERLAY_PREFIX,
    Hosts,
    exec_in,
    require_prerequisites,
    ssh_hosts,
)

pytestmark = [pytest.mark.root, pytest.mark.ssh, pytest.mark.slow]

LABEL = {"ovn-lab.test": "ssh-provider"}
NETNS = f"sshtest-{os.getpid()}"
NODES = {"central": 21, "worker1": 22, "worker2": 23}
SEED = REPO / "topologies" / "geneve-router.yaml"
LAB = "sshseed"
# the lab's state directory lives here (OVN_LAB_STATE_DIR, as `lab` reads it)
STATE_ROOT = Path(os.environ.get("OVN_LAB_STATE_DIR", "/var/lib/ovn-lab"))


@pytest.fixture(autouse=True)
def _prerequisites() -> None:
    require_prerequisites()


@pytest.fixture(scope="module")
def hosts(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hosts]:
    require_prerequisites()  # runs before the autouse check: fails in CI, as that does
    mgmt = {n: f"{MGMT_PREFIX}.{i}" for n, i in NODES.items()}
    underlay = {n: f"{UNDERLAY_PREFIX}.{i}" for n, i in NODES.items()}
    with ssh_hosts(tmp_path_factory.mktemp("ssh"), NETNS, LABEL, mgmt, underlay) as made:
        try:
            yield made
        finally:  # a failed test's lab goes while its hosts are still reachable (only from
            # the client namespace: from the host's own, their addresses are not ours)
            for name in (LAB, SERVICES_LAB, TLS_LAB):
                if STATE_ROOT.joinpath(name).exists():
                    made.lab("down", name)
                if STATE_ROOT.joinpath(name).exists():  # never left for a later `down --all`
                    made.lab("down", name, "--forget-unreachable")


@pytest.fixture(scope="module")
def inventory(hosts: Hosts) -> Path:
    groups = {"central": "central", "worker1": "chassis", "worker2": "chassis"}
    path = hosts.inventory(
        {n: (groups[n], hosts.addresses[n]) for n in NODES}, ovn_underlay_if="eth1"
    )
    proc = hosts.provision(path, "--forks", "3")  # all three side by side
    assert proc.returncode == 0, f"provisioning failed:\n{proc.stderr}"
    return path


def snapshot(hosts: Hosts) -> dict[str, Any]:
    """What `lab down` must give back: addresses, namespaces, bridges, external_ids, the
    Northbound DB's switches and routers, the databases' listeners."""
    shot: dict[str, Any] = {}
    for name, c in hosts.containers.items():
        addrs = json.loads(exec_in(c, "ip", "-j", "-4", "addr", "show"))
        shot[name] = {
            "addresses": sorted(
                f"{a['ifname']} {i['local']}/{i['prefixlen']}"
                for a in addrs
                for i in a["addr_info"]
            ),
            "netns": exec_in(c, "ip", "netns", "list"),
            "bridges": exec_in(c, "ovs-vsctl", "list-br") if name != "central" else "",
            "ports": exec_in(c, "ovs-vsctl", "list-ports", "br-int") if name != "central" else "",
            "external_ids": exec_in(c, "ovs-vsctl", "get", "Open_vSwitch", ".", "external_ids")
            if name != "central"
            else "",
        }
    central = hosts.containers["central"]
    shot["nb"] = exec_in(central, "ovn-nbctl", "show")
    shot["listeners"] = [
        exec_in(central, tool, "get-connection") for tool in ("ovn-nbctl", "ovn-sbctl")
    ]
    return shot


def up_on_hosts(
    hosts: Hosts, inventory: Path, known_hosts: Path | str, *extra: str, **kw: Any
) -> subprocess.CompletedProcess:
    """`lab up SEED --provider ssh --name LAB` with the test's inventory and known_hosts."""
    return hosts.lab(
        "up", str(SEED), "--provider", "ssh", "--inventory", str(inventory),
        "--known-hosts", str(known_hosts), "--name", LAB, *extra, **kw,
    )  # fmt: skip


def logins(hosts: Hosts) -> dict[str, int]:
    """SSH logins each host's sshd has accepted so far."""
    return {
        name: exec_in(c, "cat", "/var/log/sshd.log").count("Accepted publickey")
        for name, c in hosts.containers.items()
    }


def test_unknown_host_keys_are_refused_then_accepted_on_request(
    hosts: Hosts, inventory: Path, tmp_path: Path
) -> None:
    fresh = tmp_path / "known_hosts"
    refused = up_on_hosts(
        hosts,
        inventory,
        str(fresh),
    )
    assert refused.returncode == 2, refused.stderr
    assert "--accept-new-host-keys" in refused.stderr and "Traceback" not in refused.stderr
    print(refused.stderr.strip().splitlines()[-1])
    fresh.write_text("")
    refused = up_on_hosts(
        hosts,
        inventory,
        str(fresh),
    )
    assert refused.returncode == 2 and "not in" in refused.stderr, refused.stderr
    assert fresh.read_text() == ""
    # a known host showing another key is refused, even with --accept-new-host-keys
    central_line = next(
        ln
        for ln in hosts.known_hosts.read_text().splitlines()
        if ln.startswith(hosts.addresses["central"] + " ")
    )
    forged = central_line.replace(hosts.addresses["central"], hosts.addresses["worker1"], 1)
    (tmp_path / "forged").write_text(forged + "\n")
    bad = up_on_hosts(
        hosts,
        inventory,
        str(tmp_path / "forged"),
        "--accept-new-host-keys",
    )
    assert bad.returncode == 2 and "differs" in bad.stderr, bad.stderr
    print(bad.stderr.strip().splitlines()[-1])


def test_seed_on_ssh_hosts(hosts: Hosts, inventory: Path) -> None:
    before = snapshot(hosts)
    known_hosts = hosts.tmp / "accepted_known_hosts"
    up = up_on_hosts(
        hosts,
        inventory,
        str(known_hosts),
        "--accept-new-host-keys",
    )
    try:
        assert up.returncode == 0, up.stderr
        print(up.stderr.strip().splitlines()[-1])
        # every host's key was recorded on first contact
        assert len(known_hosts.read_text().splitlines()) == len(NODES)

        ping = hosts.lab("exec", "--lab", LAB, "vm1", "--", "ping", "-c", "3", "20.0.0.10")
        assert ping.returncode == 0, ping.stdout + ping.stderr
        assert re.search(r"ttl=63", ping.stdout), ping.stdout  # one router hop
        # the VM namespaces really live on the chassis hosts
        assert "sshseed.vm2" in exec_in(hosts.containers["worker2"], "ip", "netns", "list")

        nb = hosts.lab("nbctl", "--lab", LAB, "--", "show", "router1")
        assert nb.returncode == 0 and "router1-net2" in nb.stdout, nb.stderr

        status = hosts.lab("status", LAB, "--json")
        assert status.returncode == 0, status.stderr
        (health,) = json.loads(status.stdout)["labs"]
        assert health["healthy"] and health["provider"] == "ssh", health["problems"]
        assert all(all(n["daemons"].values()) for n in health["nodes"]), health["nodes"]

        seen = logins(hosts)
        check = hosts.lab("check", LAB, "--json", str(hosts.tmp / "check.json"))
        assert check.returncode == 0, check.stdout + check.stderr
        results = json.loads((hosts.tmp / "check.json").read_text())
        print(check.stdout)
        kinds = sorted(r["kind"] for r in results["checks"])
        assert kinds == ["flows", "flows", "geneve", "ping", "trace"], kinds
        assert all(r["passed"] for r in results["checks"])
        # one SSH connection per host the checks touched, reused by every command
        more = {n: c - seen[n] for n, c in logins(hosts).items()}
        assert all(v <= 1 for v in more.values()) and sum(more.values()) >= 2, more

        tested = hosts.lab("test", LAB)
        print(tested.stdout[-600:])
        assert tested.returncode == 0, tested.stdout[-3000:] + tested.stderr
    finally:
        down = hosts.lab("down", LAB)
    assert down.returncode == 0, down.stderr
    assert snapshot(hosts) == before  # every host as the lab found it
    assert not STATE_ROOT.joinpath(LAB).exists()


@pytest.mark.parametrize("kill_at", ["node-wired:worker1", "vms:worker2"])
def test_killed_up_then_down_leaves_hosts_clean(
    hosts: Hosts, inventory: Path, kill_at: str
) -> None:
    """SIGKILL `lab up` while it changes the hosts; `lab down` (twice) puts them back."""
    before = snapshot(hosts)
    up = up_on_hosts(
        hosts,
        inventory,
        str(hosts.known_hosts),
        env={**os.environ, "OVN_LAB_TEST_KILL_AT": kill_at},
    )
    assert up.returncode == -9, up.stderr
    assert snapshot(hosts) != before  # it had changed something
    for _ in range(2):
        down = hosts.lab("down", LAB)
        assert down.returncode == 0, down.stderr
    assert snapshot(hosts) == before
    assert not STATE_ROOT.joinpath(LAB).exists()


def test_listeners_on_the_underlay_address_only(hosts: Hosts, inventory: Path) -> None:
    """The playbook's NB/SB listeners bind the central's underlay address (eth1), never all
    addresses nor the management one."""
    central = hosts.containers["central"]
    address = f"{UNDERLAY_PREFIX}.{NODES['central']}"
    listeners = [
        exec_in(central, t, "get-connection").split()[-1] for t in ("ovn-nbctl", "ovn-sbctl")
    ]
    assert listeners == [f"ptcp:6641:{address}", f"ptcp:6642:{address}"], listeners
    sockets = exec_in(central, "ss", "-Hltn")
    bound = sorted(ln.split()[3] for ln in sockets.splitlines() if re.search(r":664[12]\b", ln))
    assert bound == [f"{address}:6641", f"{address}:6642"], sockets


def test_central_without_underlay_if_is_refused(hosts: Hosts, inventory: Path) -> None:
    """Without ovn_underlay_if the central's listeners would go on the SSH interface."""
    groups = {"central": "central", "worker1": "chassis", "worker2": "chassis"}
    plain = hosts.inventory({n: (groups[n], hosts.addresses[n]) for n in NODES}, "plain.ini")
    before = snapshot(hosts)
    refused = up_on_hosts(hosts, plain, hosts.known_hosts)
    assert refused.returncode == 2, refused.stderr
    assert "ovn_underlay_if" in refused.stderr and "eth0" in refused.stderr, refused.stderr
    assert "Traceback" not in refused.stderr
    print(refused.stderr.strip().splitlines()[-1])
    assert snapshot(hosts) == before
    assert not STATE_ROOT.joinpath(LAB).exists()


def test_central_of_another_lab_is_refused(hosts: Hosts, inventory: Path) -> None:
    central = hosts.containers["central"]
    exec_in(central, "ovn-nbctl", "set", "NB_Global", ".", "external_ids:ovn-lab=otherlab")
    try:
        before = snapshot(hosts)
        refused = up_on_hosts(hosts, inventory, hosts.known_hosts)
        assert refused.returncode == 2, refused.stderr
        assert "central of lab otherlab" in refused.stderr, refused.stderr
        print(refused.stderr.strip().splitlines()[-1])
        assert snapshot(hosts) == before  # the other lab's tag and all else untouched
        tag = exec_in(central, "ovn-nbctl", "get", "NB_Global", ".", "external_ids:ovn-lab")
        assert tag.strip() == "otherlab"
    finally:
        exec_in(central, "ovn-nbctl", "remove", "NB_Global", ".", "external_ids", "ovn-lab")


def test_vm_named_like_a_host_interface_is_refused(hosts: Hosts, inventory: Path) -> None:
    """worker1 already has a link named vm1 (the VM's br-int port name): refused before
    anything is made, and the link is still there after."""
    worker1 = hosts.containers["worker1"]
    exec_in(worker1, "ip", "tuntap", "add", "dev", "vm1", "mode", "tap")
    try:
        before = snapshot(hosts)
        refused = up_on_hosts(hosts, inventory, hosts.known_hosts)
        assert refused.returncode == 2, refused.stderr
        assert "VM vm1" in refused.stderr and "rename" in refused.stderr, refused.stderr
        assert "Traceback" not in refused.stderr
        print(refused.stderr.strip().splitlines()[-1])
        assert snapshot(hosts) == before
        exec_in(worker1, "ip", "link", "show", "vm1")
    finally:
        exec_in(worker1, "ip", "tuntap", "del", "dev", "vm1", "mode", "tap")


def test_a_foreign_underlay_bridge_is_refused(hosts: Hosts, inventory: Path) -> None:
    """A br-ovnlab the lab did not make (no tag of this lab) would be deleted by `lab down`."""
    worker2 = hosts.containers["worker2"]
    exec_in(worker2, "ovs-vsctl", "add-br", "br-ovnlab", "--", "set", "Bridge", "br-ovnlab",
            "datapath_type=netdev")  # fmt: skip
    try:
        before = snapshot(hosts)
        refused = up_on_hosts(hosts, inventory, hosts.known_hosts)
        assert refused.returncode == 2, refused.stderr
        assert "br-ovnlab that lab sshseed did not make" in refused.stderr, refused.stderr
        print(refused.stderr.strip().splitlines()[-1])
        assert snapshot(hosts) == before
    finally:
        exec_in(worker2, "ovs-vsctl", "--if-exists", "del-br", "br-ovnlab")


def test_down_keeps_what_the_lab_did_not_make(hosts: Hosts, inventory: Path) -> None:
    """A switch on the shared central and a br-int port of the host's own stay; the lab's
    switches, routers, ports, namespaces and its owner tag go."""
    central, worker1 = hosts.containers["central"], hosts.containers["worker1"]
    exec_in(central, "ovn-nbctl", "ls-add", "users-switch")
    exec_in(worker1, "ovs-vsctl", "add-port", "br-int", "users-port", "--", "set",
            "Interface", "users-port", "type=internal")  # fmt: skip
    try:
        before = snapshot(hosts)
        up = up_on_hosts(hosts, inventory, hosts.known_hosts)
        assert up.returncode == 0, up.stderr
        tag = exec_in(central, "ovn-nbctl", "get", "NB_Global", ".", "external_ids:ovn-lab")
        assert tag.strip().strip('"') == LAB
        owner = exec_in(central, "ovn-nbctl", "get", "Logical_Switch", "network1", "external_ids")
        assert f'ovn-lab="{LAB}"' in owner or f"ovn-lab={LAB}" in owner, owner
        down = hosts.lab("down", LAB)
        assert down.returncode == 0, down.stderr
        assert snapshot(hosts) == before
        assert "users-switch" in exec_in(central, "ovn-nbctl", "ls-list")
        assert "users-port" in exec_in(worker1, "ovs-vsctl", "list-ports", "br-int")
    finally:
        exec_in(central, "ovn-nbctl", "--if-exists", "ls-del", "users-switch")
        exec_in(worker1, "ovs-vsctl", "--if-exists", "del-port", "br-int", "users-port")


SERVICES_LAB = "sshsvc"


def services_topology(tmp: Path) -> Path:
    """The seed with VM services and connect checks (lab/providers/ssh/services.py on the hosts)."""
    import yaml

    topo = yaml.safe_load(SEED.read_text())
    topo["vms"]["vm1"]["services"] = [{"tcp": 8080}]
    topo["vms"]["vm2"]["services"] = [{"tcp": 8080}, {"udp": 5353}]
    topo["checks"] = [
        {"connect": {"from": "vm1", "to": "vm2", "port": 8080, "proto": "tcp", "count": 3}},
        {"connect": {"from": "vm1", "to": "vm2", "port": 5353, "proto": "udp"}},
        {"connect": {"from": "vm2", "to": "vm1", "port": 8080, "proto": "tcp"}},
        # nothing listens on 20.0.0.10:9: the client sees vm2's TCP RST
        {"connect": {"from": "vm1", "to": "20.0.0.10", "port": 9, "expect": "rejected"}},
    ]
    path = tmp / "services.yaml"
    path.write_text(yaml.safe_dump(topo, sort_keys=False))
    return path


AGENTS_PROBE = "ps -eo args | grep '[v]m_agent.py'; ls /run/ovn-lab 2>/dev/null; true"


def agents_on(hosts: Hosts) -> dict[str, str]:
    """The lab's agent processes and its directory on each host ('' when none)."""
    return {name: exec_in(c, "sh", "-c", AGENTS_PROBE) for name, c in hosts.containers.items()}


def test_services_and_connect_on_ssh_hosts(hosts: Hosts, inventory: Path) -> None:
    """VM services run in the VM namespaces on the chassis hosts (the host's python3), are
    shown by `lab status`, answer the connect checks, and `lab down` leaves nothing."""
    before, agents_before = snapshot(hosts), agents_on(hosts)
    up = hosts.lab(
        "up", str(services_topology(hosts.tmp)), "--provider", "ssh",
        "--inventory", str(inventory), "--known-hosts", str(hosts.known_hosts),
        "--name", SERVICES_LAB,
    )  # fmt: skip
    try:
        assert up.returncode == 0, up.stderr
        print(up.stderr.strip().splitlines()[-1])
        running = exec_in(hosts.containers["worker2"], "pgrep", "-af", "vm_agent.py serve")
        assert "udp 5353 vm2" in running and "tcp 8080 vm2" in running, running
        status = hosts.lab("status", SERVICES_LAB, "--json")
        (health,) = json.loads(status.stdout)["labs"]
        assert health["healthy"], health["problems"]
        shown = sorted((s["vm"], s["proto"], s["port"], s["alive"]) for s in health["services"])
        assert shown == [
            ("vm1", "tcp", 8080, True),
            ("vm2", "tcp", 8080, True),
            ("vm2", "udp", 5353, True),
        ], shown
        report = hosts.tmp / "services-check.json"
        check = hosts.lab("check", SERVICES_LAB, "--json", str(report))
        print(check.stdout)
        assert check.returncode == 0, check.stdout + check.stderr
        results = json.loads(report.read_text())["checks"]
        assert [r["kind"] for r in results] == ["connect"] * 4
        assert all(r["passed"] for r in results), results
        assert results[0]["evidence"]["answered_by"] == ["vm2"]
        assert results[2]["evidence"]["answered_by"] == ["vm1"]
        assert results[3]["evidence"]["outcomes"] == ["refused"]
        # a service that dies shows in `lab status`
        exec_in(hosts.containers["worker1"], "pkill", "-9", "-f", "vm_agent.py serve tcp 8080")
        status = hosts.lab("status", SERVICES_LAB, "--json")
        (health,) = json.loads(status.stdout)["labs"]
        assert "VM vm1: its tcp/8080 service died" in health["problems"], health["problems"]
    finally:
        down = hosts.lab("down", SERVICES_LAB)
    assert down.returncode == 0, down.stderr
    assert snapshot(hosts) == before
    assert agents_on(hosts) == agents_before  # no process, no agent left on any host
    assert not STATE_ROOT.joinpath(SERVICES_LAB).exists()


TLS_LAB = "sshtls"
TLS_PROBE = (
    "for t in ovs-vsctl ovn-nbctl ovn-sbctl; do $t --timeout=5 get-ssl 2>/dev/null; done; "
    "ovn-appctl -t ovn-northd status 2>/dev/null; pgrep -a ovn-northd; "
    "find /run/ovn-lab 2>/dev/null; true"
)


def tls_state(hosts: Hosts) -> dict[str, str]:
    """Each host's SSL rows, northd state and processes, and the lab directories there."""
    return {name: exec_in(c, "sh", "-c", TLS_PROBE) for name, c in hosts.containers.items()}


def tls_topology(tmp: Path) -> Path:
    """The seed with `ssl: true`, checked by one ping."""
    import yaml

    topo = yaml.safe_load(SEED.read_text())
    topo["ssl"] = True
    topo["checks"] = [{"ping": {"from": "vm1", "to": "vm2"}}]
    path = tmp / "tls.yaml"
    path.write_text(yaml.safe_dump(topo, sort_keys=False))
    return path


def test_ssl_on_ssh_hosts(hosts: Hosts, inventory: Path) -> None:
    """`ssl: true` on ssh hosts: the lab's PKI on each host (keys 0600 in the lab's own
    directory), NB/SB listening pssl: on the underlay address only, the chassis and the
    lab's ovn-northd connecting ssl:, a plain TCP client refused; `lab down` leaves nothing."""
    path = tls_topology(hosts.tmp)
    before, tls_before = snapshot(hosts), tls_state(hosts)
    central, worker1 = hosts.containers["central"], hosts.containers["worker1"]
    address = f"{UNDERLAY_PREFIX}.{NODES['central']}"
    up = hosts.lab(
        "up", str(path), "--provider", "ssh", "--inventory", str(inventory),
        "--known-hosts", str(hosts.known_hosts), "--name", TLS_LAB,
    )  # fmt: skip
    try:
        assert up.returncode == 0, up.stderr
        print(up.stderr.strip().splitlines()[-1])
        report = hosts.tmp / "tls-check.json"
        check = hosts.lab("check", TLS_LAB, "--json", str(report))
        assert check.returncode == 0, check.stdout + check.stderr
        (ping,) = json.loads(report.read_text())["checks"]
        assert ping["kind"] == "ping" and ping["passed"], ping
        # the listeners: pssl on the underlay address, nothing else on 6641/6642
        conns = exec_in(central, "ovn-sbctl", "--bare", "--columns=target", "list", "Connection")
        print("SB Connection:", conns.strip())
        assert conns.split() == [f"pssl:6642:{address}"], conns
        nb = exec_in(central, "ovn-nbctl", "get-connection").split()
        assert nb == [f"pssl:6641:{address}"], nb
        sockets = exec_in(central, "ss", "-Hltn")
        bound = sorted(ln.split()[3] for ln in sockets.splitlines() if re.search(r":664[12]\b", ln))
        assert bound == [f"{address}:6641", f"{address}:6642"], sockets
        print("listening:", bound)
        # each chassis: ovn-remote ssl:, its own key (0600) from the lab's directory
        pki = f"/run/ovn-lab/{TLS_LAB}/pki"
        for name in ("worker1", "worker2"):
            c = hosts.containers[name]
            remote = exec_in(c, "ovs-vsctl", "get", "Open_vSwitch", ".", "external_ids:ovn-remote")
            assert remote.strip().strip('"') == f"ssl:{address}:6642", remote
            assert f"{pki}/{name}-privkey.pem" in exec_in(c, "ovs-vsctl", "get-ssl")
            modes = exec_in(c, "stat", "-c", "%a %n", pki, f"{pki}/{name}-privkey.pem")
            assert modes.split()[::2] == ["700", "600"], modes
            assert "ca-privkey" not in exec_in(c, "ls", pki)  # the CA's key stays local
        # the lab's ovn-northd is the active one, over ssl:; the host's is paused
        ctl = f"/run/ovn-lab/{TLS_LAB}/ovn-northd.ctl"
        assert "active" in exec_in(central, "ovn-appctl", "-t", ctl, "status")
        assert "paused" in exec_in(central, "ovn-appctl", "-t", "ovn-northd", "status")
        assert f"--ovnsb-db=ssl:{address}:6642" in exec_in(central, "pgrep", "-a", "ovn-northd")
        # a plain TCP client gets nowhere; the same client with the lab's certificate does
        plain = worker1.exec_run(
            ["timeout", "5", "ovsdb-client", "list-dbs", f"tcp:{address}:6642"]
        )
        assert plain.exit_code != 0 and b"OVN_Southbound" not in plain.output, plain
        print("plain tcp client:", plain.exit_code, plain.output.decode().strip()[-160:])
        with_cert = exec_in(
            worker1, "timeout", "5", "ovsdb-client", f"--private-key={pki}/worker1-privkey.pem",
            f"--certificate={pki}/worker1-cert.pem", f"--ca-cert={pki}/cacert.pem",
            "list-dbs", f"ssl:{address}:6642",
        )  # fmt: skip
        assert "OVN_Southbound" in with_cert, with_cert
        status = hosts.lab("status", TLS_LAB, "--json")
        (health,) = json.loads(status.stdout)["labs"]
        assert health["healthy"], health["problems"]
    finally:
        down = hosts.lab("down", TLS_LAB)
    assert down.returncode == 0, down.stderr
    assert snapshot(hosts) == before  # listeners back to ptcp, ids, addresses, NB
    assert tls_state(hosts) == tls_before  # SSL rows, northd resumed, no lab files left
    assert not STATE_ROOT.joinpath(TLS_LAB).exists()


@pytest.mark.parametrize("kill_at", ["node-daemons:central", "node-wired:worker1"])
def test_killed_ssl_up_then_down_leaves_hosts_clean(
    hosts: Hosts, inventory: Path, kill_at: str
) -> None:
    """SIGKILL an `ssl: true` `lab up` once the central is TLS (its own ovn-northd running,
    the host's paused) or halfway through a chassis; `lab down` (twice) puts all back."""
    before, tls_before = snapshot(hosts), tls_state(hosts)
    up = hosts.lab(
        "up", str(tls_topology(hosts.tmp)), "--provider", "ssh", "--inventory", str(inventory),
        "--known-hosts", str(hosts.known_hosts), "--name", TLS_LAB,
        env={**os.environ, "OVN_LAB_TEST_KILL_AT": kill_at},
    )  # fmt: skip
    assert up.returncode == -9, up.stderr
    assert tls_state(hosts) != tls_before  # it had changed something
    for _ in range(2):
        down = hosts.lab("down", TLS_LAB)
        assert down.returncode == 0, down.stderr
    assert snapshot(hosts) == before
    assert tls_state(hosts) == tls_before
    assert not STATE_ROOT.joinpath(TLS_LAB).exists()


def test_down_with_a_host_gone(hosts: Hosts, inventory: Path) -> None:
    """A host that does not answer keeps the lab's state (and says how to go on); with
    --forget-unreachable the others are cleaned and the state goes. Runs last: it leaves
    worker2 as the lab made it."""
    before = snapshot(hosts)
    up = up_on_hosts(hosts, inventory, hosts.known_hosts)
    assert up.returncode == 0, up.stderr
    exec_in(hosts.containers["worker2"], "pkill", "-x", "sshd")  # worker2 stops answering
    down = hosts.lab("down", LAB)
    assert down.returncode == 3, down.stderr
    assert "worker2" in down.stderr and "--forget-unreachable" in down.stderr, down.stderr
    assert "Traceback" not in down.stderr
    assert STATE_ROOT.joinpath(LAB, "state.json").exists()
    forced = hosts.lab("down", LAB, "--forget-unreachable")
    assert forced.returncode == 0, forced.stderr
    assert "warning: gave up on worker2" in forced.stderr, forced.stderr
    assert not STATE_ROOT.joinpath(LAB).exists()
    after = snapshot(hosts)
    assert {k: after[k] for k in ("central", "worker1", "nb")} == {
        k: before[k] for k in ("central", "worker1", "nb")
    }
