"""SSH hosts for tests: node-image containers running a real sshd, made and removed here.

The containers have no docker network. Each gets a veth `eth0` into a namespace the test
makes (the "client" namespace: 198.51.100.0/24 management, what SSH and Ansible use) and,
when asked, a veth `eth1` onto a second bridge in that namespace with no address of its own
(192.0.2.0/24: the hosts' underlay, where Geneve runs). Everything that talks to the hosts
runs inside the client namespace, so nothing is ever addressed or routed in the host's own
namespace. Host keys are fresh per container and recorded with ssh-keyscan.
"""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import tarfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.integration.conftest import lab

MGMT_PREFIX = "198.51.100"  # documentation range, only inside the client namespace
UNDERLAY_PREFIX = "192.0.2"
CAPABILITIES = ["NET_ADMIN", "NET_RAW", "SYS_ADMIN", "SYS_NICE"]
_IMAGE: list[str] = []  # the node image's tag, once `lab image build` has made sure of it


def node_image() -> str:
    """The node image, built (or found up to date) by `lab image build`, as a user would."""
    if not _IMAGE:
        built = lab("image", "build", check=True, timeout=900)
        _IMAGE.append(built.stdout.strip().splitlines()[-1])
    return _IMAGE[0]


def prereq_problem() -> str | None:
    for tool in ("ssh", "ssh-keygen", "ssh-keyscan"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed (apt-get install openssh-client)"
    try:
        import docker

        docker.from_env().ping()
    except ImportError:
        return "the docker SDK is missing (pip install -e .)"
    except Exception as exc:  # daemon down: say so
        return f"docker daemon unavailable ({exc}); run scripts/docker-ready.sh"
    try:
        import ansible_runner  # noqa: F401
    except ImportError:
        return "ansible-runner is missing (pip install -e .)"
    return None


def require_prerequisites() -> None:
    """Outside CI a machine without docker/ssh skips; in CI that fails."""
    problem = prereq_problem() if os.geteuid() == 0 else "needs root"
    if problem:
        if os.environ.get("CI") and os.geteuid() == 0:
            pytest.fail(f"{problem}; CI must provide it")
        pytest.skip(problem)


@dataclass
class Hosts:
    tmp: Path
    netns: str  # the client namespace
    containers: dict[str, Any]
    addresses: dict[str, str]  # host -> management address
    known_hosts: Path
    key: Path
    underlay: dict[str, str] = field(default_factory=dict)  # host -> underlay address

    def inventory(
        self, hosts: dict[str, tuple[str, str]], name: str = "inv.ini", **extra: str
    ) -> Path:
        """hosts: inventory name -> (group, address); extra: more [all:vars]."""
        groups: dict[str, list[str]] = {}
        for host, (group, address) in hosts.items():
            groups.setdefault(group, []).append(f"{host} ansible_host={address}")
        text = "".join(f"[{g}]\n" + "\n".join(lines) + "\n\n" for g, lines in groups.items())
        text += (
            "[all:vars]\nansible_user=root\n"
            f"ansible_ssh_private_key_file={self.key}\n"
            "ovn_bridge_datapath_type=netdev\n"
        )
        text += "".join(f"{k}={v}\n" for k, v in extra.items())
        path = self.tmp / name
        path.write_text(text)
        return path

    def lab(self, *args: str, timeout: float = 600, **kw: Any) -> subprocess.CompletedProcess:
        """`lab ARGS` run from the client namespace (where the hosts are reachable)."""
        return lab(*args, prefix=["ip", "netns", "exec", self.netns], timeout=timeout, **kw)

    def provision(self, inventory: Path, *extra: str) -> subprocess.CompletedProcess:
        return self.lab(
            "provision",
            "--inventory",
            str(inventory),
            "--known-hosts",
            str(self.known_hosts),
            *extra,
        )


def exec_in(container: Any, *argv: str) -> str:
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


def _start_host(client: Any, netns: str, name: str, label: dict[str, str], key: bytes) -> Any:
    container = client.containers.run(
        node_image(),
        ["sleep", "infinity"],
        name=f"{netns}-{name}",
        hostname=name,
        labels=label,
        network_mode="none",
        cap_add=CAPABILITIES,
        devices=["/dev/net/tun:/dev/net/tun:rwm"],
        init=True,
        detach=True,
    )
    exec_in(container, "find", "/etc/ssh", "-name", "ssh_host_*", "-delete")
    exec_in(container, "ssh-keygen", "-A")  # a fresh host key, not the image's
    assert container.put_archive("/root", _authorized_keys_tar(key))
    exec_in(container, "mkdir", "-p", "/run/sshd")
    exec_in(container, "/usr/sbin/sshd", "-E", "/var/log/sshd.log")  # logins, counted by tests
    return container


def _wire(hosts: Hosts) -> None:
    """br0 (management, holding the client address) and br1 (underlay, no address) in the
    client namespace; one veth per container onto each."""
    from pyroute2 import IPRoute, netns

    netns.create(hosts.netns)
    with IPRoute(netns=hosts.netns) as ipr:
        ipr.link("set", index=ipr.link_lookup(ifname="lo")[0], state="up")
        bridges = ["br0", "br1"] if hosts.underlay else ["br0"]
        for br in bridges:
            ipr.link("add", ifname=br, kind="bridge")
            ipr.link("set", index=ipr.link_lookup(ifname=br)[0], state="up")
        br0 = ipr.link_lookup(ifname="br0")[0]
        ipr.addr("add", index=br0, address=f"{MGMT_PREFIX}.1", prefixlen=24)
        for i, (name, container) in enumerate(hosts.containers.items()):
            container.reload()
            pid = int(container.attrs["State"]["Pid"])
            wires = [("eth0", "br0", hosts.addresses[name])]
            if hosts.underlay:
                wires.append(("eth1", "br1", hosts.underlay[name]))
            for inner, br, address in wires:
                outer = f"{br[-1]}v{i}"
                ipr.link(
                    "add", ifname=outer, kind="veth", peer={"ifname": inner, "net_ns_pid": pid}
                )
                port = ipr.link_lookup(ifname=outer)[0]
                ipr.link("set", index=port, master=ipr.link_lookup(ifname=br)[0], state="up")
                exec_in(container, "ip", "addr", "add", f"{address}/24", "dev", inner)
                exec_in(container, "ip", "link", "set", inner, "up")
            exec_in(container, "ip", "link", "set", "lo", "up")


def keyscan(netns: str, addresses: list[str], known_hosts: Path) -> None:
    """Record the hosts' keys, as seen from inside the client namespace (sshd may still be
    starting)."""
    deadline = time.monotonic() + 60
    while True:
        proc = subprocess.run(
            ["ip", "netns", "exec", netns, "ssh-keyscan", "-T", "5", "-t", "ed25519", *addresses],
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


def _cleanup(client: Any, label: dict[str, str], netns_name: str) -> None:
    from pyroute2 import netns

    ((key, value),) = label.items()
    for container in client.containers.list(all=True, filters={"label": f"{key}={value}"}):
        container.remove(force=True)
    if netns_name in netns.listnetns():
        netns.remove(netns_name)  # takes the bridges and the veths with it


@contextmanager
def ssh_hosts(
    tmp: Path,
    netns: str,
    label: dict[str, str],
    addresses: dict[str, str],
    underlay: dict[str, str] | None = None,
    keyscan_hosts: bool = True,
) -> Iterator[Hosts]:
    """Containers named `<netns>-<host>` with sshd, wired and (by default) keyscanned;
    always removed, and checked gone, on the way out."""
    import docker

    client = docker.from_env()
    key = tmp / "id_ed25519"
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "ovn-lab-test", "-f", str(key)],
        check=True,
    )
    public_key = key.with_suffix(".pub").read_bytes()
    known_hosts = tmp / "known_hosts"
    try:
        containers = {n: _start_host(client, netns, n, label, public_key) for n in addresses}
        hosts = Hosts(tmp, netns, containers, addresses, known_hosts, key, underlay or {})
        _wire(hosts)
        if keyscan_hosts:
            keyscan(netns, list(addresses.values()), known_hosts)
        yield hosts
    finally:
        _cleanup(client, label, netns)
        ((k, v),) = label.items()
        left = [c.name for c in client.containers.list(all=True, filters={"label": f"{k}={v}"})]
        assert not left, f"containers left behind: {left}"
        listed = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
        assert netns not in listed.split()
