"""Many chassis per SSH host, for real: three sshd hosts (node-image containers) carrying four
chassis each (`lab up --chassis-per-host 4`), plus a central host. Each chassis on a shared
host is a namespace with its own ovsdb-server, ovs-vswitchd and ovn-controller, its overlay
wire a macvlan on the host's eth1 (lab/providers/ssh/guest.py); Geneve runs between chassis
of one host and across hosts. `lab down` leaves no namespace, link, process or file behind.
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.integration.ssh_hosts import (
    MGMT_PREFIX,
    UNDERLAY_PREFIX,
    Hosts,
    exec_in,
    require_prerequisites,
    ssh_hosts,
)

pytestmark = [pytest.mark.root, pytest.mark.ssh, pytest.mark.slow]

LABEL = {"ovn-lab.test": "ssh-many-chassis"}
NETNS = f"sshmany-{os.getpid()}"
HOSTS = {"central": 21, "s1": 31, "s2": 32, "s3": 33}
PER_HOST = 4
CHASSIS = [f"hv{i}" for i in range(1, 3 * PER_HOST + 1)]  # hv1-4 on s1, hv5-8 s2, hv9-12 s3
LAB = os.environ.get("OVN_LAB_TEST_SSH_MANY_LAB", "sshmany")  # lab names, if yours are prefixed
STATE_ROOT = Path(os.environ.get("OVN_LAB_STATE_DIR", "/var/lib/ovn-lab"))

# vm1, vm2 on s1 (hv1, hv2); vm3 on s2 (hv5); vm4 on s3 (hv12)
VMS = {
    "vm1": ("hv1", "network1", "40:44:00:00:01:01", "10.0.0.11/24", "10.0.0.1"),
    "vm2": ("hv2", "network2", "40:44:00:00:01:02", "20.0.0.12/24", "20.0.0.1"),
    "vm3": ("hv5", "network1", "40:44:00:00:01:03", "10.0.0.13/24", "10.0.0.1"),
    "vm4": ("hv12", "network2", "40:44:00:00:01:04", "20.0.0.14/24", "20.0.0.1"),
}


def topology() -> dict[str, Any]:
    return {
        "name": LAB,
        "provider": "ssh",
        "fabric": {"overlay": {"subnet": "192.0.2.0/24"}},
        "nodes": {"central": {"role": "central"}, **{n: {"role": "chassis"} for n in CHASSIS}},
        "ovn": {
            "switches": {"network1": {}, "network2": {}},
            "routers": {
                "router1": {
                    "ports": {
                        "router1-net1": {
                            "switch": "network1",
                            "mac": "40:44:00:00:00:03",
                            "networks": ["10.0.0.1/24"],
                            "peer": "net1-router1",
                        },
                        "router1-net2": {
                            "switch": "network2",
                            "mac": "40:44:00:00:00:04",
                            "networks": ["20.0.0.1/24"],
                            "peer": "net2-router1",
                        },
                    }
                }
            },
        },
        "vms": {
            name: {"chassis": c, "switch": s, "mac": mac, "ip": ip, "gateway": gw}
            for name, (c, s, mac, ip, gw) in VMS.items()
        },
        "checks": [
            {"ping": {"from": "vm1", "to": "vm2"}},  # chassis of one host, routed
            {"ping": {"from": "vm1", "to": "vm3"}},  # across hosts, one switch
            {"ping": {"from": "vm3", "to": "vm4"}},  # across hosts, routed
            {"ping": {"from": "vm4", "to": "vm2"}},
            {"geneve": {"from": "vm1", "to": "vm2", "on": "hv2"}},  # on a guest's macvlan
            {"flows": {"node": "hv12", "table": 65, "idle_age": 1, "output": "vm4"}},
        ],
    }


@pytest.fixture(autouse=True)
def _prerequisites() -> None:
    require_prerequisites()


@pytest.fixture(scope="module")
def hosts(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hosts]:
    require_prerequisites()
    mgmt = {n: f"{MGMT_PREFIX}.{i}" for n, i in HOSTS.items()}
    underlay = {n: f"{UNDERLAY_PREFIX}.{i}" for n, i in HOSTS.items()}
    with ssh_hosts(tmp_path_factory.mktemp("sshmany"), NETNS, LABEL, mgmt, underlay) as made:
        try:
            yield made
        finally:
            if STATE_ROOT.joinpath(LAB).exists():
                made.lab("down", LAB)
            if STATE_ROOT.joinpath(LAB).exists():
                made.lab("down", LAB, "--forget-unreachable")


@pytest.fixture(scope="module")
def inventory(hosts: Hosts) -> Path:
    groups = {"central": "central", "s1": "chassis", "s2": "chassis", "s3": "chassis"}
    path = hosts.inventory(
        {n: (groups[n], hosts.addresses[n]) for n in HOSTS}, ovn_underlay_if="eth1"
    )
    proc = hosts.provision(path, "--forks", str(len(HOSTS)))  # all hosts side by side
    assert proc.returncode == 0, f"provisioning failed:\n{proc.stderr}"
    return path


def snapshot(hosts: Hosts) -> dict[str, Any]:
    """What a shared host has: namespaces, links, the OVS/OVN processes, /run/ovn-lab, the
    host's own OVS; and the central's NB."""
    shot: dict[str, Any] = {}
    for name, c in hosts.containers.items():
        links = json.loads(exec_in(c, "ip", "-j", "link", "show"))
        shot[name] = {
            "netns": exec_in(c, "ip", "netns", "list"),
            "links": sorted(f"{lk['ifname']} {lk.get('address', '')}" for lk in links),
            "processes": sorted(
                ln.strip()
                for ln in exec_in(c, "ps", "-eo", "comm=").splitlines()
                if re.match(r"ovs|ovn|sleep|python", ln.strip())
            ),
            "run": exec_in(c, "sh", "-c", "ls -A /run/ovn-lab 2>/dev/null; true"),
            "bridges": exec_in(c, "ovs-vsctl", "list-br") if name != "central" else "",
        }
    shot["nb"] = exec_in(hosts.containers["central"], "ovn-nbctl", "show")
    return shot


def guest_memory_mb(container: Any, netns: str) -> float:
    """RSS of the processes living in a chassis namespace (its three daemons), in MB."""
    out = exec_in(
        container,
        "sh",
        "-c",
        f"for p in $(ip netns pids {netns}); do grep VmRSS /proc/$p/status; done",
    )
    return sum(int(ln.split()[1]) for ln in out.splitlines()) / 1024


def test_twelve_chassis_on_three_hosts(hosts: Hosts, inventory: Path) -> None:
    before = snapshot(hosts)
    path = hosts.tmp / "many.yaml"
    path.write_text(yaml.safe_dump(topology(), sort_keys=False))
    started = time.monotonic()
    up = hosts.lab(
        "up", str(path), "--inventory", str(inventory), "--known-hosts",
        str(hosts.known_hosts), "--chassis-per-host", str(PER_HOST),
    )  # fmt: skip
    up_s = time.monotonic() - started
    try:
        assert up.returncode == 0, up.stderr  # every VM port up
        print(f"lab up of {len(CHASSIS)} chassis on 3 hosts: {up_s:.1f} s")
        s1 = hosts.containers["s1"]
        spaces = exec_in(s1, "ip", "netns", "list")
        for node in ("hv1", "hv2", "hv3", "hv4"):
            assert f"{LAB}.{node}" in spaces, spaces  # four chassis namespaces on s1
        assert f"{LAB}.vm1" in spaces and f"{LAB}.vm2" in spaces
        # each chassis registered with its own encap address on the one overlay subnet
        chassis = hosts.lab("sbctl", "--lab", LAB, "--", "--bare", "--columns=ip", "list",
                            "Encap")  # fmt: skip
        ips = [ln for ln in chassis.stdout.split() if ln.startswith(UNDERLAY_PREFIX)]
        ours = {f"{UNDERLAY_PREFIX}.{i}" for i in HOSTS.values()}
        guest_ips = [ip for ip in ips if ip not in ours]
        assert len(set(guest_ips)) == len(CHASSIS), ips  # none is a host's address
        mem = [guest_memory_mb(s1, f"{LAB}.{n}") for n in ("hv1", "hv2", "hv3", "hv4")]
        print(f"memory per chassis on s1: {', '.join(f'{m:.1f}' for m in mem)} MB")

        status = hosts.lab("status", LAB, "--json")
        assert status.returncode == 0, status.stderr
        (health,) = json.loads(status.stdout)["labs"]
        assert health["healthy"], health["problems"]
        assert all(all(n["daemons"].values()) for n in health["nodes"]), health["nodes"]

        ping = hosts.lab("exec", "--lab", LAB, "vm1", "--", "ping", "-c", "2", "20.0.0.12")
        assert ping.returncode == 0 and "ttl=63" in ping.stdout, ping.stdout + ping.stderr
        ovs = hosts.lab("exec", "--lab", LAB, "hv5", "--", "ovs-vsctl", "list-ports", "br-int")
        assert ovs.returncode == 0 and "vm3" in ovs.stdout, ovs.stdout + ovs.stderr

        # every tunnel peer told to each chassis' ovs-vswitchd (the agent's `neigh`)
        shown = hosts.lab("exec", "--lab", LAB, "hv1", "--", "ovs-appctl", "tnl/neigh/show")
        assert shown.returncode == 0, shown.stderr
        peers = set(re.findall(rf"{re.escape(UNDERLAY_PREFIX)}\.\d+", shown.stdout))
        assert len(peers) == len(CHASSIS) - 1, shown.stdout

        check = hosts.lab("check", LAB, "--json", str(hosts.tmp / "check.json"))
        print(check.stdout)
        assert check.returncode == 0, check.stdout + check.stderr
        results = json.loads((hosts.tmp / "check.json").read_text())
        assert len(results["checks"]) == 6 and all(r["passed"] for r in results["checks"])

        started = time.monotonic()
        tested = hosts.lab("test", LAB)  # the acceptance suites, guests' daemons included
        print(tested.stdout[-400:], f"lab test: {time.monotonic() - started:.1f} s")
        assert tested.returncode == 0, tested.stdout[-3000:] + tested.stderr
    finally:
        started = time.monotonic()
        down = hosts.lab("down", LAB)
        print(f"lab down: {time.monotonic() - started:.1f} s")
    assert down.returncode == 0, down.stderr
    assert snapshot(hosts) == before  # no namespace, link, process or file left
    again = hosts.lab("down", LAB)  # and a second `down` has nothing to do
    assert not STATE_ROOT.joinpath(LAB).exists()
    assert again.returncode in (0, 2), again.stderr


def test_killed_up_then_down_leaves_hosts_clean(hosts: Hosts, inventory: Path) -> None:
    """SIGKILL `lab up` while it builds chassis namespaces; `lab down` (twice) clears them."""
    before = snapshot(hosts)
    path = hosts.tmp / "many.yaml"
    path.write_text(yaml.safe_dump(topology(), sort_keys=False))
    up = hosts.lab(
        "up", str(path), "--inventory", str(inventory), "--known-hosts",
        str(hosts.known_hosts), "--chassis-per-host", str(PER_HOST),
        env={**os.environ, "OVN_LAB_TEST_KILL_AT": "vms:hv5"},
    )  # fmt: skip
    assert up.returncode == -9, up.stderr
    assert snapshot(hosts) != before
    for _ in range(2):
        down = hosts.lab("down", LAB)
        assert down.returncode == 0, down.stderr
    assert snapshot(hosts) == before
    assert not STATE_ROOT.joinpath(LAB).exists()
