"""The repository's Vagrantfile for real, with Vagrant's docker provider.

`VAGRANT_DEFAULT_PROVIDER=docker vagrant up` in a copy of the Vagrantfile, lab/data/playbooks/ and
vagrant/ (so no `.vagrant/` is ever left in the repository): central + worker1 + worker2 as
containers built FROM the node image, provisioned by lab/data/playbooks/site.yml through Vagrant's
ansible provisioner. Then: the playbook ran on all three, the chassis reached the central over
the overlay (192.0.2.0/24, `ovn_underlay_if`) and not over 127.0.0.1, the inventory Vagrant
wrote names `ovn_underlay_if`, a second provisioning changes nothing, and `vagrant destroy -f`
(always run) leaves no container, network or firewall rule behind.

The docker network design (management network for SSH via docker-proxy on 127.0.0.1, an
internal overlay without any host address) is explained at the top of the Vagrantfile.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.integration.conftest import REPO, TOPOLOGIES, lab
from tests.integration.ssh_hosts import node_image

pytestmark = [pytest.mark.vagrant, pytest.mark.docker, pytest.mark.root, pytest.mark.slow]

NODES = {"central": "192.0.2.10", "worker1": "192.0.2.11", "worker2": "192.0.2.12"}
UNDERLAY_IF = "eth1"
NETWORKS = ("ovn-lab-vagrant", "ovn-lab-vagrant-overlay")  # made by the Vagrantfile's trigger
OVERLAY_BRIDGE = "ovnlab-vg-ovl"
LABEL = "ovn-lab.vagrant"
INVENTORY = Path(".vagrant/provisioners/ansible/inventory/vagrant_ansible_inventory")
CAPABILITIES = {"NET_ADMIN", "NET_RAW", "SYS_ADMIN", "SYS_NICE"}
VENV_BIN = REPO / ".venv" / "bin"
RECAP = re.compile(
    r"^(?P<host>\S+)\s+:\s+ok=(?P<ok>\d+)\s+changed=(?P<changed>\d+)\s+"
    r"unreachable=(?P<unreachable>\d+)\s+failed=(?P<failed>\d+)",
    re.M,
)
ANSI = re.compile(r"\x1b\[[0-9;]*m")


def _prereq_problem() -> str | None:
    if os.geteuid() != 0:
        return "needs root (docker, and `lab image build`)"
    if shutil.which("vagrant") is None:
        return "vagrant is not installed (run scripts/vagrant-ready.sh)"
    if shutil.which("ansible-playbook", path=f"{VENV_BIN}:{os.environ.get('PATH', '')}") is None:
        return "ansible-playbook is missing (make install)"
    if subprocess.run(["docker", "info"], capture_output=True).returncode != 0:
        return "no docker daemon (run scripts/docker-ready.sh)"
    return None


def _require_prerequisites() -> None:
    """Outside CI a machine without them skips; in CI that fails."""
    problem = _prereq_problem()
    if problem:
        if os.environ.get("CI"):
            pytest.fail(f"{problem}; CI must provide it (make test runs scripts/vagrant-ready.sh)")
        pytest.skip(problem)


@pytest.fixture(autouse=True)
def _prerequisites() -> None:
    _require_prerequisites()


def docker(*argv: str, check: bool = True) -> str:
    proc = subprocess.run(["docker", *argv], capture_output=True, text=True, timeout=60)
    if check:
        assert proc.returncode == 0, f"docker {' '.join(argv)}: {proc.stderr}"
    return proc.stdout


def recap(output: str) -> dict[str, dict[str, int]]:
    """PLAY RECAP of ansible-playbook's output: host -> {ok, changed, unreachable, failed}."""
    return {
        m["host"]: {k: int(v) for k, v in m.groupdict().items() if k != "host"}
        for m in RECAP.finditer(ANSI.sub("", output))
    }


@dataclass
class Vagrant:
    root: Path  # the copy holding Vagrantfile, lab/data/playbooks/, vagrant/ and .vagrant/
    env: dict[str, str]
    up: subprocess.CompletedProcess
    up_seconds: float

    def run(self, *argv: str, timeout: float = 300) -> subprocess.CompletedProcess:
        return subprocess.run(
            ["vagrant", "--no-color", *argv],
            cwd=self.root,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    @property
    def inventory(self) -> Path:
        return self.root / INVENTORY

    def containers(self) -> dict[str, str]:
        """node (container hostname) -> container id, for this environment's containers."""
        ids = docker(
            "ps", "-aq", "--filter", f"label={LABEL}.root={self.root}", "--no-trunc"
        ).split()
        if not ids:
            return {}
        inspected = json.loads(docker("inspect", *ids))
        return {c["Config"]["Hostname"]: c["Id"] for c in inspected}

    def exec(self, node: str, *argv: str) -> str:
        return docker("exec", self.containers()[node], *argv)


def _leftovers(root: Path) -> list[str]:
    left = [
        f"container {c}"
        for c in docker("ps", "-aq", "--filter", f"label={LABEL}.root={root}").split()
    ]
    names = set(docker("network", "ls", "--format", "{{.Name}}").split())
    left += [f"network {n}" for n in NETWORKS if n in names]
    rules = subprocess.run(["iptables", "-S", "FORWARD"], capture_output=True, text=True).stdout
    left += [f"iptables rule {r}" for r in rules.splitlines() if OVERLAY_BRIDGE in r]
    return left


def _force_cleanup(root: Path) -> None:
    """After a failed `vagrant destroy`: remove what it left (the test still fails)."""
    for cid in docker("ps", "-aq", "--filter", f"label={LABEL}.root={root}").split():
        docker("rm", "-f", cid, check=False)
    for name in NETWORKS:
        docker("network", "rm", name, check=False)
    rules = subprocess.run(["iptables", "-S", "FORWARD"], capture_output=True, text=True).stdout
    for rule in rules.splitlines():
        if OVERLAY_BRIDGE in rule:
            subprocess.run(["sh", "-c", f"iptables {rule.replace('-A ', '-D ', 1)}"], check=False)


@pytest.fixture(scope="module")
def vagrant(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Vagrant]:
    _require_prerequisites()  # runs before the autouse check: fails in CI, as that does
    names = set(docker("network", "ls", "--format", "{{.Name}}").split())
    busy = [n for n in NETWORKS if n in names]
    if busy or docker("ps", "-aq", "--filter", f"label={LABEL}=node").split():
        pytest.fail(f"another Vagrant docker environment is up here ({busy}); destroy it first")

    image = node_image()
    root = tmp_path_factory.mktemp("vagrant")
    shutil.copy(REPO / "Vagrantfile", root / "Vagrantfile")
    for folder in ("lab/data/playbooks", "vagrant"):
        shutil.copytree(REPO / folder, root / folder)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VAGRANT_", "OVN_LAB_"))} | {
        "VAGRANT_DEFAULT_PROVIDER": "docker",
        "VAGRANT_CHECKPOINT_DISABLE": "1",  # no version check over the network
        "OVN_LAB_NODE_IMAGE": image,
        "OVN_LAB_WORKERS": str(len(NODES) - 1),
        "PATH": f"{VENV_BIN}:{os.environ.get('PATH', '')}",  # ansible-playbook
    }
    started = time.monotonic()
    up = subprocess.run(
        ["vagrant", "--no-color", "up"],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    bed = Vagrant(root, env, up, time.monotonic() - started)
    print(f"vagrant up: {bed.up_seconds:.1f} s")
    try:
        assert up.returncode == 0, f"vagrant up failed:\n{up.stdout[-6000:]}\n{up.stderr}"
        yield bed
    finally:
        started = time.monotonic()
        destroy = bed.run("destroy", "-f", timeout=180)
        print(f"vagrant destroy -f: {time.monotonic() - started:.1f} s")
        left = _leftovers(root)
        if left:
            _force_cleanup(root)
        assert destroy.returncode == 0, (
            f"vagrant destroy failed:\n{destroy.stdout}\n{destroy.stderr}"
        )
        assert not left, f"left behind by vagrant destroy -f: {left}"
        assert not (REPO / ".vagrant").exists(), "a .vagrant/ appeared in the repository"


def test_vagrant_up_provisions_every_node(vagrant: Vagrant) -> None:
    hosts = recap(vagrant.up.stdout)
    assert set(hosts) == set(NODES), vagrant.up.stdout[-3000:]
    for host, counts in hosts.items():
        assert counts["failed"] == counts["unreachable"] == 0, (host, counts)
        assert counts["changed"] > 0, (host, counts)  # it started the daemons
    print(f"first provisioning: {hosts}")

    status = vagrant.run("status", "--machine-readable")
    states = {
        line.split(",")[1]: line.split(",")[3]
        for line in status.stdout.splitlines()
        if line.split(",")[2:3] == ["state"]
    }
    assert states == dict.fromkeys(NODES, "running"), status.stdout

    containers = vagrant.containers()
    assert set(containers) == set(NODES), containers
    for node, address in NODES.items():
        attrs = json.loads(docker("inspect", containers[node]))[0]
        host_config = attrs["HostConfig"]
        assert not host_config["Privileged"], node
        caps = {c.removeprefix("CAP_") for c in host_config["CapAdd"]}
        assert caps >= CAPABILITIES, host_config["CapAdd"]
        assert [d["PathOnHost"] for d in host_config["Devices"]] == ["/dev/net/tun"]
        assert host_config["NetworkMode"] == NETWORKS[0]
        # the overlay address on eth1; no default route: nothing is routed through the host
        assert f"inet {address}/24" in vagrant.exec(node, "ip", "-4", "addr", "show", UNDERLAY_IF)
        assert vagrant.exec(node, "ip", "route", "show", "default").strip() == ""

    # the host has no address on the overlay bridge, nodes reach each other across it
    host_addr = subprocess.run(
        ["ip", "-4", "-o", "addr", "show", "dev", OVERLAY_BRIDGE], capture_output=True, text=True
    )
    assert host_addr.returncode == 0 and "inet" not in host_addr.stdout, host_addr
    for peer in ("central", "worker2"):
        vagrant.exec("worker1", "ping", "-c", "1", "-W", "2", NODES[peer])

    # the playbook ran everywhere: databases and northd on central, a chassis on each worker
    assert "running with pid" in vagrant.exec(
        "central", "/usr/share/ovn/scripts/ovn-ctl", "status_northd"
    )
    vagrant.exec("central", "ovn-nbctl", "show")
    for worker in ("worker1", "worker2"):
        ids = vagrant.exec(worker, "ovs-vsctl", "get", "Open_vSwitch", ".", "external_ids")
        # ovn_underlay_if, not ansible_host (127.0.0.1 here)
        assert f'ovn-encap-ip="{NODES[worker]}"' in ids, ids
        assert f'ovn-remote="tcp:{NODES["central"]}:6642"' in ids, ids
        assert "ovn-bridge-datapath-type=netdev" in ids, ids

    deadline = time.monotonic() + 30
    while True:
        encaps = vagrant.exec(
            "central", "ovn-sbctl", "--bare", "--columns=chassis_name,ip", "list", "Encap"
        ).split()
        tunnels = vagrant.exec(
            "worker1", "ovs-vsctl", "--bare", "--columns=options", "list", "Interface"
        )
        connected = vagrant.exec(
            "worker1", "ovn-appctl", "-t", "ovn-controller", "connection-status"
        )
        done = (
            set(encaps) == {"worker1", "worker2", NODES["worker1"], NODES["worker2"]}
            and f"remote_ip={NODES['worker2']}" in tunnels
            and connected.strip() == "connected"
        )
        if done or time.monotonic() > deadline:
            break
        time.sleep(1)
    assert set(encaps) == {"worker1", "worker2", NODES["worker1"], NODES["worker2"]}, encaps
    assert f"remote_ip={NODES['worker2']}" in tunnels, tunnels  # a Geneve tunnel worker1->2
    assert connected.strip() == "connected", connected

    # `vagrant ssh` works as for a VM: the vagrant user, passwordless sudo
    ssh = vagrant.run(
        "ssh", "worker2", "-c", "id -un; sudo ovs-vsctl br-exists br-int && echo br-int"
    )
    assert ssh.returncode == 0, ssh.stderr
    assert ssh.stdout.split() == ["vagrant", "br-int"], ssh.stdout


def test_inventory_names_the_underlay_interface(vagrant: Vagrant) -> None:
    text = vagrant.inventory.read_text()
    print(text)
    hosts = {}
    for line in text.splitlines():
        words = line.split()
        if words and words[0] in NODES and len(words) > 1:
            hosts[words[0]] = dict(w.split("=", 1) for w in words[1:])
    assert set(hosts) == set(NODES), text
    ports = set()
    for node, host_vars in hosts.items():
        assert host_vars["ovn_underlay_if"] == UNDERLAY_IF, (node, host_vars)
        assert host_vars["ansible_host"] == "127.0.0.1", host_vars  # docker-proxy
        assert Path(host_vars["ansible_ssh_private_key_file"].strip("'")).is_file()
        ports.add(host_vars["ansible_port"])
    assert len(ports) == len(NODES), ports
    groups = re.findall(r"^\[(\w+)\]\n((?:[^\[\n].*\n?)*)", text, re.M)
    members = {g: body.split() for g, body in groups}
    assert members["central"] == ["central"], members
    assert sorted(members["chassis"]) == ["worker1", "worker2"], members


def test_second_provisioning_changes_nothing(vagrant: Vagrant) -> None:
    started = time.monotonic()
    proc = vagrant.run("provision", timeout=180)
    print(f"vagrant provision (second run): {time.monotonic() - started:.1f} s")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr
    hosts = recap(proc.stdout)
    assert {h: c["changed"] for h, c in hosts.items()} == dict.fromkeys(NODES, 0), hosts
    assert all(c["failed"] == c["unreachable"] == 0 for c in hosts.values()), hosts


def lab_on_vagrant_nodes(vagrant: Vagrant, known_hosts: Path) -> None:
    """The seed lab on the Vagrant nodes with `--provider ssh`, as README.md shows it."""
    name = "vagrant-seed"
    started = time.monotonic()
    up = lab(
        "up",
        str(TOPOLOGIES / "geneve-router.yaml"),
        "--name",
        name,
        "--provider",
        "ssh",
        "--inventory",
        str(vagrant.inventory),
        "--accept-new-host-keys",
        "--known-hosts",
        str(known_hosts),
        timeout=300,
    )
    print(f"lab up --provider ssh: {time.monotonic() - started:.1f} s")
    try:
        assert up.returncode == 0, f"lab up failed ({up.returncode}):\n{up.stderr}"
        check = lab("check", name, timeout=300)
        print(check.stdout)
        assert check.returncode == 0, f"lab check failed:\n{check.stdout}\n{check.stderr}"
        tested = lab("test", name, timeout=300)
        print(tested.stdout)
        assert tested.returncode == 0, f"lab test failed:\n{tested.stdout}\n{tested.stderr}"
    finally:
        down = lab("down", name, timeout=300)
        assert down.returncode == 0, f"lab down failed:\n{down.stderr}"


def test_lab_on_the_vagrant_nodes(vagrant: Vagrant, tmp_path: Path) -> None:
    lab_on_vagrant_nodes(vagrant, tmp_path / "known_hosts")
