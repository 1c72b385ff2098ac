"""SSH hosts: the Ansible inventory that names them, and one paramiko connection per host.

Host keys are checked against a known_hosts file (default ~/.ssh/known_hosts). A host whose
key is not there is refused unless the user asked to accept new keys on first contact
(`--accept-new-host-keys`), and then its key is written to that file; a key that differs
from the recorded one is always refused. Commands are argv lists, quoted with shlex for the
remote shell; a user other than root runs them through `sudo -n`.
"""

from __future__ import annotations

import json
import logging
import os
import shlex
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from lab.errors import RuntimeFailure, UserError

log = logging.getLogger("lab.ssh")

DEFAULT_KNOWN_HOSTS = Path("~/.ssh/known_hosts")
CONNECT_TIMEOUT = 15.0


@dataclass(frozen=True)
class HostSpec:
    """How to reach one inventory host, and which of its interfaces carries the underlay."""

    name: str  # inventory name
    address: str
    port: int = 22
    user: str = "root"
    key_file: str | None = None
    underlay_if: str | None = None  # host var ovn_underlay_if

    @property
    def url(self) -> str:
        return f"{self.user}@{self.address}:{self.port}"

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> HostSpec:
        return cls(**data)


# --- the inventory ---------------------------------------------------------------------------


def _ansible_inventory() -> str:
    """ansible-inventory from this Python's environment (ansible-core), else from PATH."""
    beside = Path(sys.executable).parent / "ansible-inventory"
    if beside.exists():
        return str(beside)
    found = shutil.which("ansible-inventory")
    if found is None:
        raise UserError("ansible-inventory is missing; install the project with `make install`")
    return found


def load_inventory(path: Path) -> dict[str, HostSpec]:
    """Every host of an Ansible inventory (INI or YAML, as Ansible itself reads it)."""
    return hosts_from_inventory_json(inventory_json(path), path.parent)


def inventory_json(path: Path) -> dict[str, Any]:
    """`ansible-inventory --list` of an inventory: its hosts, their vars, its groups."""
    if not path.is_file():
        raise UserError(f"inventory {path} does not exist (an Ansible INI or YAML file)")
    proc = subprocess.run(
        [_ansible_inventory(), "-i", str(path), "--list"],
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
        env={**os.environ, "ANSIBLE_INVENTORY_UNPARSED_FAILED": "true"},
    )
    if proc.returncode != 0:
        lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
        raise UserError(f"inventory {path} cannot be read: {lines[-1] if lines else 'no output'}")
    data: dict[str, Any] = json.loads(proc.stdout)
    return data


def group_hosts(data: dict[str, Any], groups: Sequence[str]) -> list[str]:
    """The hosts of these groups (and their child groups), in inventory order, each once."""
    found: list[str] = []

    def walk(group: str, seen: set[str]) -> None:
        body = data.get(group)
        if not isinstance(body, dict) or group in seen:
            return
        seen.add(group)
        for host in body.get("hosts", []):
            if host not in found:
                found.append(host)
        for child in body.get("children", []):
            walk(child, seen)

    for group in groups:
        walk(group, set())
    return found


def hosts_from_inventory_json(data: dict[str, Any], base: Path) -> dict[str, HostSpec]:
    """`ansible-inventory --list` output -> HostSpec per host (relative key paths resolved
    against the inventory's directory, as Ansible does for paths in inventories)."""
    hostvars: dict[str, dict[str, Any]] = data.get("_meta", {}).get("hostvars", {})
    names = set(hostvars)
    for group, body in data.items():
        if group != "_meta" and isinstance(body, dict):
            names.update(body.get("hosts", []))
    hosts = {}
    for name in sorted(names):
        hv = hostvars.get(name, {})
        key = hv.get("ansible_ssh_private_key_file") or hv.get("ansible_private_key_file")
        if key:
            key_path = Path(os.path.expanduser(str(key)))
            key = str(key_path if key_path.is_absolute() else (base / key_path).resolve())
        hosts[name] = HostSpec(
            name=name,
            address=str(hv.get("ansible_host") or hv.get("ansible_ssh_host") or name),
            port=int(hv.get("ansible_port") or hv.get("ansible_ssh_port") or 22),
            user=str(hv.get("ansible_user") or hv.get("ansible_ssh_user") or "root"),
            key_file=key,
            underlay_if=str(hv["ovn_underlay_if"]) if hv.get("ovn_underlay_if") else None,
        )
    return hosts


CHASSIS_GROUPS = ("chassis", "gateway")  # the inventory groups --chassis-per-host fills


def place_nodes(
    nodes: dict[str, str | None],
    hosts: dict[str, HostSpec],
    inventory: Path,
    roles: dict[str, str] | None = None,
    per_host: int | None = None,
    fill: Sequence[str] = (),
) -> dict[str, HostSpec]:
    """node -> the inventory host it runs on: its `host:` key, else the host of its name,
    else (with `per_host`, `lab up --chassis-per-host N`) the next of the `fill` hosts (the
    inventory's chassis hosts, in order) that carries fewer than N nodes. A host carrying
    one node is that node (its own OVS/OVN services); one carrying several carries only
    chassis and gateways, each a namespace with daemons of its own (lab.providers.ssh.guest)."""
    roles = roles or {}
    placed: dict[str, HostSpec] = {}
    missing = []
    unplaced = []
    for node, wanted in nodes.items():
        host = hosts.get(wanted or node)
        if host is None:
            if wanted is None and per_host and roles.get(node) in ("chassis", "gateway"):
                unplaced.append(node)
                continue
            missing.append(f"{node} (host '{wanted or node}')")
            continue
        placed[node] = host
    if missing:
        known = ", ".join(hosts) or "none"
        raise UserError(
            f"inventory {inventory} has no host for node(s) {', '.join(missing)}; name the "
            f"inventory hosts like the nodes or give the nodes a `host:` key (hosts: {known})"
        )
    by_host: dict[str, list[str]] = {}
    for node, host in placed.items():
        by_host.setdefault(host.name, []).append(node)
    if unplaced:
        assert per_host is not None
        free = [
            h
            for h in fill
            if h in hosts
            and len(by_host.get(h, [])) < per_host
            and all(roles.get(n) in ("chassis", "gateway") for n in by_host.get(h, []))
        ]
        room = sum(per_host - len(by_host.get(h, [])) for h in free)
        if room < len(unplaced):
            raise UserError(
                f"{len(unplaced)} chassis need a host, and the inventory's chassis hosts "
                f"({', '.join(fill) or 'none'}) have room for {room} at {per_host} per host: "
                "add hosts to the [chassis] group or raise --chassis-per-host"
            )
        left = iter(unplaced)
        for h in free:
            for _ in range(per_host - len(by_host.get(h, []))):
                node = next(left, None)
                if node is None:
                    break
                placed[node] = hosts[h]
                by_host.setdefault(h, []).append(node)
    for host, names in by_host.items():
        if len(names) > 1:
            others = [n for n in names if roles.get(n, "chassis") not in ("chassis", "gateway")]
            if others:
                raise UserError(
                    f"nodes {', '.join(names)} are all placed on host {host}; a host carrying "
                    f"several nodes carries only chassis and gateways (not {', '.join(others)}, "
                    "which needs a host of its own)"
                )
    return {n: placed[n] for n in nodes}


# --- connections -------------------------------------------------------------------------------


class Host:
    """One SSH connection to a host; every command of the lab on that host goes through it
    (paramiko opens a channel per command on the one transport, also from several threads)."""

    def __init__(self, spec: HostSpec, client: Any):
        self.spec = spec
        self.client = client
        self.sudo = spec.user != "root"

    @property
    def name(self) -> str:
        return self.spec.name

    def command_line(self, argv: Sequence[str]) -> str:
        line = shlex.join(argv)
        return f"sudo -n {line}" if self.sudo else line

    def run(
        self,
        argv: Sequence[str],
        *,
        check: bool = True,
        timeout: float = 60,
        netns: str | None = None,
        stdin: bytes | None = None,
    ) -> subprocess.CompletedProcess[str]:
        """Run argv on the host (inside `netns` if given) and collect its output; `stdin`:
        bytes to feed it (secrets go there, never into argv, which `ps` shows)."""
        full = ["ip", "netns", "exec", netns, *argv] if netns else list(argv)
        line = self.command_line(full)
        log.debug("ssh %s: %s", self.name, line)
        chan = self.client.get_transport().open_session(timeout=CONNECT_TIMEOUT)
        try:
            chan.exec_command(line)
            if stdin is not None:
                chan.sendall(stdin)
                chan.shutdown_write()
            out, err, rc = _collect(chan, timeout, f"{self.name}: {line}")
        finally:
            chan.close()
        proc = subprocess.CompletedProcess(full, rc, out, err)
        if check and rc != 0:
            detail = (err or out).strip().splitlines()
            raise RuntimeFailure(
                f"on {self.name}: `{shlex.join(full)[:200]}` failed (exit {rc}): "
                + (detail[-1] if detail else "no output")
            )
        return proc

    def popen(self, argv: Sequence[str], netns: str | None = None) -> RemoteProcess:
        full = ["ip", "netns", "exec", netns, *argv] if netns else list(argv)
        return RemoteProcess(self, full)

    def close(self) -> None:
        self.client.close()


POLL = 0.005  # seconds between looks at a channel's buffers


def _drain(chan: Any, out: bytearray | None = None, err: bytearray | None = None) -> bool:
    """Move what the channel holds into out/err; True once the remote end sent EOF and
    nothing is left (all output is in: OpenSSH may send the exit status before the last
    output, so the exit status alone does not mean that).

    Channels are polled, not select()ed: select needs the channel's fileno(), a pipe that
    paramiko's transport thread writes to while it handles the channel's end, and closing
    it from this side races with that (a write to a closed, reused descriptor)."""
    moved = False
    while chan.recv_ready():
        data = chan.recv(65536)
        if out is not None:
            out += data
        moved = True
    while chan.recv_stderr_ready():
        data = chan.recv_stderr(65536)
        if err is not None:
            err += data
        moved = True
    return not moved and chan.eof_received and not chan.recv_ready()


def _collect(chan: Any, timeout: float, what: str) -> tuple[str, str, int]:
    out, err = bytearray(), bytearray()
    deadline = time.monotonic() + timeout
    while not _drain(chan, out, err):
        if time.monotonic() > deadline:
            raise RuntimeFailure(f"`{what[:200]}` did not finish within {timeout:.0f} s")
        time.sleep(POLL)
    rc = chan.recv_exit_status()
    return out.decode(errors="replace"), err.decode(errors="replace"), rc


class RemoteProcess:
    """A command left running on a host, shaped like subprocess.Popen for the checks that
    capture while traffic flows (stdout/stderr are local pipes fed from the channel).

    The remote shell prints its PID before exec'ing the command, so terminate() and kill()
    can signal it through a second channel: SSH has no portable way to signal a command."""

    def __init__(self, host: Host, argv: list[str]):
        self.host = host
        self.args = argv
        self.returncode: int | None = None
        self._chan = host.client.get_transport().open_session(timeout=CONNECT_TIMEOUT)
        script = f"echo $$; exec {shlex.join(argv)}"
        self._chan.exec_command(host.command_line(["sh", "-c", script]))
        self.pid = self._read_pid()
        out_r, self._out_w = os.pipe()
        err_r, self._err_w = os.pipe()
        self.stdout = os.fdopen(out_r, "r", errors="replace")
        self.stderr = os.fdopen(err_r, "r", errors="replace")
        self._pump = threading.Thread(target=self._forward, daemon=True, name="ssh-popen")
        self._pump.start()

    def _read_pid(self) -> int:
        line = b""
        deadline = time.monotonic() + CONNECT_TIMEOUT
        while not line.endswith(b"\n"):
            if self._chan.recv_ready():
                line += self._chan.recv(1)
            elif self._chan.eof_received or time.monotonic() > deadline:
                err = self._chan.recv_stderr(4096).decode(errors="replace").strip()
                raise RuntimeFailure(f"on {self.host.name}: {shlex.join(self.args)}: {err}")
            else:
                time.sleep(POLL)
        return int(line)

    def _forward(self) -> None:
        chan = self._chan
        out, err = bytearray(), bytearray()
        try:
            while True:
                done = _drain(chan, out, err)
                for fd, buf in ((self._out_w, out), (self._err_w, err)):
                    view = memoryview(buf)
                    while view:
                        view = view[os.write(fd, view) :]
                    view.release()
                    buf.clear()
                if done:
                    break
                time.sleep(POLL)
            self.returncode = chan.recv_exit_status()
        finally:
            os.close(self._out_w)
            os.close(self._err_w)
            chan.close()

    def poll(self) -> int | None:
        return self.returncode if not self._pump.is_alive() else None

    def wait(self, timeout: float | None = None) -> int:
        self._pump.join(timeout)
        if self._pump.is_alive():
            raise subprocess.TimeoutExpired(self.args, timeout or 0)
        return self.returncode if self.returncode is not None else -1

    def communicate(self, timeout: float | None = None) -> tuple[str, str]:
        self.wait(timeout)
        return self.stdout.read(), self.stderr.read()

    def _signal(self, name: str) -> None:
        if self.poll() is None:
            self.host.run(["kill", f"-{name}", str(self.pid)], check=False, timeout=10)

    def terminate(self) -> None:
        self._signal("TERM")

    def kill(self) -> None:
        self._signal("KILL")


class _AcceptNewPolicy:
    """Trust a host seen for the first time and write its key to the known_hosts file."""

    def __init__(self, known_hosts: Path):
        self.known_hosts = known_hosts

    def missing_host_key(self, client: Any, hostname: str, key: Any) -> None:
        client.get_host_keys().add(hostname, key.get_name(), key)
        self.known_hosts.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        with _KNOWN_HOSTS_LOCK, open(self.known_hosts, "a") as fh:
            fh.write(f"{hostname} {key.get_name()} {key.get_base64()}\n")
        log.info("accepted the new host key of %s (%s)", hostname, key.get_name())


_KNOWN_HOSTS_LOCK = threading.Lock()


def connect(spec: HostSpec, known_hosts: Path, accept_new: bool) -> Host:
    """A verified, key-authenticated connection, or one clear sentence saying why not."""
    import paramiko

    known_hosts = Path(os.path.expanduser(str(known_hosts)))
    if not log.isEnabledFor(logging.DEBUG):  # its transport thread logs tracebacks itself
        logging.getLogger("paramiko").setLevel(logging.CRITICAL)
    client = paramiko.SSHClient()
    if known_hosts.is_file():
        client.load_host_keys(str(known_hosts))
    elif not accept_new:
        raise UserError(
            f"known_hosts file {known_hosts} does not exist: make it with "
            f"`ssh-keyscan -p {spec.port} {spec.address} >> {known_hosts}` after checking the "
            "keys, or pass --accept-new-host-keys to trust hosts on first contact"
        )
    client.set_missing_host_key_policy(
        _AcceptNewPolicy(known_hosts) if accept_new else paramiko.RejectPolicy()
    )
    where = f"{spec.name} ({spec.url})"
    try:
        client.connect(
            spec.address,
            port=spec.port,
            username=spec.user,
            key_filename=spec.key_file,
            timeout=CONNECT_TIMEOUT,
            banner_timeout=CONNECT_TIMEOUT,
            auth_timeout=CONNECT_TIMEOUT,
            allow_agent=True,
            look_for_keys=spec.key_file is None,
        )
    except paramiko.BadHostKeyException as exc:
        raise UserError(
            f"the host key of {where} differs from the one in {known_hosts}: if the host was "
            f"rebuilt, remove the old key with `ssh-keygen -f {known_hosts} -R "
            f"'[{spec.address}]:{spec.port}'` (else someone may be in the middle)"
        ) from exc
    except paramiko.SSHException as exc:
        if "not found in known_hosts" in str(exc):
            raise UserError(
                f"the host key of {where} is not in {known_hosts}: add it with `ssh-keyscan "
                f"-p {spec.port} {spec.address} >> {known_hosts}` after checking it, or pass "
                "--accept-new-host-keys to trust it on first contact"
            ) from exc
        raise UserError(f"cannot log in to {where}: {exc}") from exc
    except OSError as exc:
        raise UserError(f"cannot reach {where}: {exc}") from exc
    transport = client.get_transport()
    if transport is not None:
        transport.set_keepalive(15)
    return Host(spec, client)


class Pool:
    """This process' connections, one per host, opened on first use."""

    def __init__(self, known_hosts: Path, accept_new: bool = False):
        self.known_hosts = known_hosts
        self.accept_new = accept_new
        self._hosts: dict[str, Host] = {}
        self._lock = threading.Lock()
        self._connecting: dict[str, threading.Lock] = {}

    def get(self, spec: HostSpec) -> Host:
        with self._lock:
            host = self._hosts.get(spec.name)
            if host is not None:
                return host
            gate = self._connecting.setdefault(spec.name, threading.Lock())
        with gate:  # two threads wanting one host: one connection
            with self._lock:
                if spec.name in self._hosts:
                    return self._hosts[spec.name]
            host = connect(spec, self.known_hosts, self.accept_new)
            with self._lock:
                self._hosts[spec.name] = host
            return host

    def close(self) -> None:
        with self._lock:
            hosts, self._hosts = list(self._hosts.values()), {}
        for host in hosts:
            host.close()
