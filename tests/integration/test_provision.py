"""`lab provision` for real: Ansible over SSH into two node-image containers.

The containers have no network but a veth into a namespace the test makes (the "client"
namespace, 198.51.100.0/24); Ansible runs inside that namespace, so nothing is ever
addressed or routed in the host's own namespace. Host keys are checked against a
known_hosts file made with ssh-keyscan, never waved through.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import tarfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.integration.conftest import lab, live_processes

pytestmark = [pytest.mark.root, pytest.mark.ssh, pytest.mark.slow]

_IMAGE: list[str] = []  # the node image's tag, once `lab image build` has made sure of it


def node_image() -> str:
    """The node image, built (or found up to date) by `lab image build`, as a user would."""
    if not _IMAGE:
        built = lab("image", "build", check=True, timeout=900)
        _IMAGE.append(built.stdout.strip().splitlines()[-1])
    return _IMAGE[0]


LABEL = {"ovn-lab.test": "provision"}
NETNS = f"provtest-{os.getpid()}"
SUBNET_PREFIX = "198.51.100"  # documentation range, only ever inside NETNS and the containers
CLIENT_ADDRESS = f"{SUBNET_PREFIX}.1/24"
NODES = {"central1": f"{SUBNET_PREFIX}.11", "gw1": f"{SUBNET_PREFIX}.12"}  # gw1: a gateway
UNREACHABLE = f"{SUBNET_PREFIX}.99"  # nobody there
CAPABILITIES = ["NET_ADMIN", "NET_RAW", "SYS_ADMIN", "SYS_NICE"]


def _ssh_prereq_problem() -> str | None:
    for tool in ("ssh", "ssh-keygen", "ssh-keyscan"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed (apt-get install openssh-client)"
    try:
        import docker

        client = docker.from_env()
        client.ping()
    except ImportError:
        return "the docker SDK is missing (pip install -e .)"
    except Exception as exc:  # daemon down or image missing: say which
        return f"docker daemon unavailable ({exc}); run scripts/docker-ready.sh"
    try:
        import ansible_runner  # noqa: F401
    except ImportError:
        return "ansible-runner is missing (pip install -e .)"
    return None


@pytest.fixture(autouse=True)
def _ssh_prerequisites() -> None:
    """Outside CI a machine without docker/ssh/the node image skips; in CI that fails."""
    problem = _ssh_prereq_problem() if os.geteuid() == 0 else None
    if problem:
        if os.environ.get("CI"):
            pytest.fail(f"{problem}; CI must provide it")
        pytest.skip(problem)


@dataclass
class Rig:
    tmp: Path
    containers: dict[str, Any]
    known_hosts: Path
    key: Path

    def inventory(self, hosts: dict[str, tuple[str, str]], name: str = "inv.ini") -> Path:
        """hosts: inventory name -> (group, address)."""
        groups: dict[str, list[str]] = {}
        for host, (group, address) in hosts.items():
            groups.setdefault(group, []).append(f"{host} ansible_host={address}")
        text = "".join(f"[{g}]\n" + "\n".join(lines) + "\n\n" for g, lines in groups.items())
        text += (
            "[all:vars]\nansible_user=root\n"
            f"ansible_ssh_private_key_file={self.key}\n"
            "ovn_bridge_datapath_type=netdev\n"
        )
        path = self.tmp / name
        path.write_text(text)
        return path

    def provision(self, inventory: Path, *extra: str) -> subprocess.CompletedProcess:
        return lab(
            "provision",
            "--inventory",
            str(inventory),
            "--known-hosts",
            str(self.known_hosts),
            *extra,
            prefix=["ip", "netns", "exec", NETNS],
            timeout=600,
        )


def _exec(container: Any, *argv: str) -> str:
    result = container.exec_run(list(argv))
    out = result.output.decode(errors="replace")
    assert result.exit_code == 0, f"{container.name}: {' '.join(argv)}: {out}"
    return out


def _authorized_keys_tar(public_key: bytes) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        ssh_dir = tarfile.TarInfo(".ssh")
        ssh_dir.type, ssh_dir.mode = tarfile.DIRTYPE, 0o700
        tar.addfile(ssh_dir)
        keys = tarfile.TarInfo(".ssh/authorized_keys")
        keys.mode, keys.size = 0o600, len(public_key)
        tar.addfile(keys, io.BytesIO(public_key))
    return buf.getvalue()


def _start_node(client: Any, name: str, public_key: bytes) -> Any:
    container = client.containers.run(
        node_image(),
        ["sleep", "infinity"],
        name=f"{NETNS}-{name}",
        hostname=name,
        labels=LABEL,
        network_mode="none",
        cap_add=CAPABILITIES,
        devices=["/dev/net/tun:/dev/net/tun:rwm"],
        init=True,
        detach=True,
    )
    _exec(container, "find", "/etc/ssh", "-name", "ssh_host_*", "-delete")
    _exec(container, "ssh-keygen", "-A")  # a fresh host key, not the image's
    assert container.put_archive("/root", _authorized_keys_tar(public_key))
    _exec(container, "mkdir", "-p", "/run/sshd")
    _exec(container, "/usr/sbin/sshd")
    return container


def _wire(containers: dict[str, Any]) -> None:
    """A bridge in NETNS holding the client address; one veth per container into it."""
    from pyroute2 import IPRoute, netns

    netns.create(NETNS)
    with IPRoute(netns=NETNS) as ipr:
        ipr.link("add", ifname="br0", kind="bridge")
        br = ipr.link_lookup(ifname="br0")[0]
        ipr.addr("add", index=br, address=CLIENT_ADDRESS.split("/")[0], prefixlen=24)
        ipr.link("set", index=br, state="up")
        ipr.link("set", index=ipr.link_lookup(ifname="lo")[0], state="up")
        for i, (name, container) in enumerate(containers.items()):
            container.reload()
            pid = int(container.attrs["State"]["Pid"])
            ipr.link(
                "add", ifname=f"pv{i}", kind="veth", peer={"ifname": "eth0", "net_ns_pid": pid}
            )
            port = ipr.link_lookup(ifname=f"pv{i}")[0]
            ipr.link("set", index=port, master=br, state="up")
            _exec(container, "ip", "link", "set", "lo", "up")
            _exec(container, "ip", "addr", "add", f"{NODES[name]}/24", "dev", "eth0")
            _exec(container, "ip", "link", "set", "eth0", "up")


def _keyscan(addresses: list[str], known_hosts: Path) -> None:
    """Record the nodes' host keys, as seen from inside NETNS (sshd may still be starting)."""
    deadline = time.monotonic() + 60
    while True:
        proc = subprocess.run(
            ["ip", "netns", "exec", NETNS, "ssh-keyscan", "-T", "5", "-t", "ed25519", *addresses],
            capture_output=True,
            text=True,
        )
        found = {line.split()[0] for line in proc.stdout.splitlines() if line.strip()}
        if found >= set(addresses):
            known_hosts.write_text(proc.stdout)
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"ssh-keyscan found only {found}: {proc.stderr}")
        time.sleep(1)


def _cleanup(client: Any) -> None:
    from pyroute2 import netns

    for container in client.containers.list(all=True, filters={"label": "ovn-lab.test=provision"}):
        container.remove(force=True)
    if NETNS in netns.listnetns():
        netns.remove(NETNS)  # takes br0 and the veths with it


@pytest.fixture(scope="module")
def testbed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Rig]:
    if os.geteuid() != 0 or _ssh_prereq_problem():
        pytest.skip("prerequisites missing (see _ssh_prerequisites)")
    import docker

    client = docker.from_env()
    tmp = tmp_path_factory.mktemp("provision")
    key = tmp / "id_ed25519"
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "lab-provision-test", "-f", str(key)],
        check=True,
    )
    public_key = key.with_suffix(".pub").read_bytes()
    try:
        containers = {name: _start_node(client, name, public_key) for name in NODES}
        _wire(containers)
        known_hosts = tmp / "known_hosts"
        _keyscan(list(NODES.values()), known_hosts)
        yield Rig(tmp, containers, known_hosts, key)
    finally:
        _cleanup(client)
        left = [
            c.name
            for c in client.containers.list(all=True, filters={"label": "ovn-lab.test=provision"})
        ]
        assert not left, f"containers left behind: {left}"
        assert (
            NETNS
            not in subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
        )


def _summary(proc: subprocess.CompletedProcess) -> dict[str, Any]:
    assert proc.stdout.strip(), f"no JSON summary; stderr:\n{proc.stderr}"
    return json.loads(proc.stdout)


def _main_inventory(bed: Rig) -> Path:
    return bed.inventory(
        {"central1": ("central", NODES["central1"]), "gw1": ("gateway", NODES["gw1"])}
    )


def test_provision_twice_then_nothing_changes(testbed: Rig) -> None:
    inventory = _main_inventory(testbed)

    first = testbed.provision(inventory, "--json")
    assert first.returncode == 0, f"first run failed:\n{first.stderr}"
    summary = _summary(first)
    assert summary["ok"] and set(summary["hosts"]) == set(NODES)
    assert all(h["changed"] > 0 for h in summary["hosts"].values()), summary["hosts"]

    central, gw1 = testbed.containers["central1"], testbed.containers["gw1"]
    assert "ovs_version" in _exec(gw1, "ovs-vsctl", "show")  # ovsdb-server + ovs-vswitchd
    assert "br-int" in _exec(gw1, "ovs-vsctl", "show")  # made by ovn-controller
    _exec(central, "ovn-nbctl", "show")
    _exec(gw1, "ovn-appctl", "-t", "ovn-controller", "version")
    # the gateway chassis reached the SB database over the wire and announced itself
    deadline = time.monotonic() + 60
    while True:
        chassis = _exec(
            central, "ovn-sbctl", "--bare", "--columns=name,other_config", "list", "Chassis"
        )
        if "gw1" in chassis or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert "gw1" in chassis and "enable-chassis-as-gw" in chassis, chassis
    assert "running with pid" in _exec(central, "/usr/share/ovn/scripts/ovn-ctl", "status_northd")

    print(f"first run: {summary['seconds']} s {summary['hosts']}")
    second = testbed.provision(inventory, "--json")
    assert second.returncode == 0, f"second run failed:\n{second.stderr}"
    hosts = _summary(second)["hosts"]
    print(f"second run: {_summary(second)['seconds']} s {hosts}")
    assert set(hosts) == set(NODES)
    assert {h: c["changed"] for h, c in hosts.items()} == dict.fromkeys(NODES, 0), second.stderr

    check = testbed.provision(inventory, "--check", "--json", "--limit", "gw1")
    assert check.returncode == 0, check.stderr
    assert _summary(check)["hosts"]["gw1"]["changed"] == 0

    # lab provision stops the ssh connection masters it opened
    lingering = [cmd for _, cmd in live_processes() if str(testbed.known_hosts) in cmd]
    assert not lingering, lingering


def test_unreachable_host_fails_with_one_line(testbed: Rig) -> None:
    inventory = testbed.inventory({"ghost": ("chassis", UNREACHABLE)}, name="ghost.ini")
    proc = testbed.provision(inventory)
    assert proc.returncode not in (0, 1), proc.stderr
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, proc.stderr
    print(errors[0])
    assert "ghost" in errors[0] and "unreachable" in errors[0], errors[0]
    assert "Traceback" not in proc.stderr


def test_unknown_host_key_is_refused(testbed: Rig) -> None:
    """A host whose key is not in known_hosts is refused, and the message says how to fix it."""
    inventory = testbed.inventory({"central1": ("central", NODES["central1"])}, name="kh.ini")
    empty = testbed.tmp / "empty_known_hosts"
    empty.write_text("")
    proc = lab(
        "provision",
        "--inventory",
        str(inventory),
        "--known-hosts",
        str(empty),
        prefix=["ip", "netns", "exec", NETNS],
        timeout=300,
    )
    assert proc.returncode == 2, proc.stderr
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "central1" in errors[0], proc.stderr
    print(errors[0])
    assert "--accept-new-host-keys" in errors[0]
    assert empty.read_text() == ""


def test_missing_inventory_is_a_user_error(tmp_path: Path) -> None:
    proc = lab("provision", "--inventory", str(tmp_path / "nope.ini"))
    assert proc.returncode == 2
    assert "does not exist" in proc.stderr and "Traceback" not in proc.stderr
