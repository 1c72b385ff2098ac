"""`ssl: true` on a lab of SSH hosts: the lab's own PKI (lab/ovn/pki.py) on its hosts.

The CA and one key and certificate per node are made here, in the lab's state directory,
as for netns and docker labs. Each host gets its own key (0600), its certificate and the
CA's certificate in the lab's directory there (`/run/ovn-lab/<lab>/pki`, 0700; written
through the SSH channel's stdin, never argv); the CA's private key never leaves this
machine. Then:

- the central's NB and SB databases take the files from their SSL tables (`ovn-nbctl` /
  `ovn-sbctl set-ssl`; Debian's ovn-ctl starts them with `--private-key=db:...,SSL,...`)
  and listen `pssl:` on the underlay address only;
- the host's own ovn-northd talks to them over unix sockets, so the lab starts its own
  ovn-northd on the central connecting `ssl:` with the central's certificate and pauses
  the host's (a paused northd drops its Southbound lock; ours takes it);
- each chassis' ovn-controller reads its files from the Open_vSwitch SSL table
  (`ovs-vsctl set-ssl`), its `ovn-remote` is `ssl:` (Plan.sb_remote);
- the lab's own clients (`lab nbctl/sbctl`, checks, the port-up wait) reach the central's
  unix sockets through an SSH channel (`relay`), as root via sudo like every command.

What each host had (its SSL rows, whether its ovn-northd was paused) is saved before it is
changed, and `restore` (from `lab down`) puts it back; the lab's directory on the host,
certificates and keys with it, is removed last (ssh_teardown._clean_host).
"""

from __future__ import annotations

import json
import shlex
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lab.errors import RuntimeFailure, UserError
from lab.ovn import pki
from lab.providers.ssh import record

if TYPE_CHECKING:
    from lab.plan.model import Plan
    from lab.providers.ssh.transport import Host
    from lab.state.store import LabState

# the central's database sockets where Debian's ovn-ctl (and so the playbook) puts them
NB_SOCK, SB_SOCK = "/var/run/ovn/ovnnb_db.sock", "/var/run/ovn/ovnsb_db.sock"
SSL_TOOLS = ("ovn-nbctl", "ovn-sbctl")  # the central's two SSL tables
NORTHD_ACTIVE_TIMEOUT = 20.0  # s for the lab's ovn-northd to take the Southbound lock

# files from stdin (JSON name -> [mode, text]) into a directory only root can enter
_WRITE = (
    "import json, os, sys\n"
    "d = sys.argv[1]\n"
    "os.makedirs(d, mode=0o700, exist_ok=True)\n"
    "os.chmod(d, 0o700)\n"
    "for name, (mode, text) in json.load(sys.stdin).items():\n"
    "    fd = os.open(os.path.join(d, name), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)\n"
    "    os.fchmod(fd, mode)\n"
    "    with os.fdopen(fd, 'w') as f:\n"
    "        f.write(text)\n"
)
# one OVSDB client connection: stdin/stdout of the SSH channel <-> the unix socket
_RELAY = (
    "import os, socket, sys, threading\n"
    "s = socket.socket(socket.AF_UNIX)\n"
    "s.connect(sys.argv[1])\n"
    "def up():\n"
    "    while data := os.read(0, 65536):\n"
    "        s.sendall(data)\n"
    "    s.shutdown(socket.SHUT_WR)\n"
    "threading.Thread(target=up, daemon=True).start()\n"
    "while data := s.recv(65536):\n"
    "    sys.stdout.buffer.write(data)\n"
    "    sys.stdout.buffer.flush()\n"
)


def host_dir(lab: str) -> str:

    return f"{record.lab_dir(lab)}/pki"


def host_files(lab: str, node: str) -> pki.SslFiles:
    """Where a node's key, certificate and the CA certificate are on its host."""
    d = Path(host_dir(lab))  # a remote path: only ever joined and shown, never opened here
    return pki.SslFiles(d / f"{node}-privkey.pem", d / f"{node}-cert.pem", d / "cacert.pem")


def northd_files(lab: str) -> tuple[str, str, str]:
    """The lab's ovn-northd on the central: pidfile, control socket, log."""

    base = f"{record.lab_dir(lab)}/ovn-northd"
    return f"{base}.pid", f"{base}.ctl", f"{base}.log"


# --- lab up ---------------------------------------------------------------------------------


def push(state: LabState, host: Host, node: str) -> None:
    """The node's key, certificate and the CA certificate onto its host (made locally
    first, on first use). The lab's directory there is recorded before it exists."""

    record.save_before(state, node, "agent_dir", record.lab_dir(state.name))
    local = pki.ensure_node(state.dir, state.name, node)
    remote = host_files(state.name, node)
    files = {
        remote.private_key.name: [0o600, local.private_key.read_text()],
        remote.certificate.name: [0o644, local.certificate.read_text()],
        remote.ca_cert.name: [0o644, local.ca_cert.read_text()],
    }
    proc = host.run(
        ["python3", "-I", "-c", _WRITE, host_dir(state.name)],
        stdin=json.dumps(files).encode(),
        check=False,
    )
    if proc.returncode == 127:
        raise UserError(
            f"{host.name} has no python3, which `ssl: true` needs to put the lab's TLS files "
            "there: provision it with `lab provision --inventory FILE` (or apt-get install python3)"
        )
    if proc.returncode != 0:
        raise RuntimeFailure(
            f"on {host.name}: the lab's TLS files cannot be written: "
            + (proc.stderr.strip().splitlines() or ["no output"])[-1]
        )


def get_ssl(host: Host, tool: str) -> list[str] | None:
    """The SSL row `tool` (ovs-vsctl, ovn-nbctl, ovn-sbctl) shows now: [key, cert, CA], or
    None when there is none."""
    out = host.run([tool, "get-ssl"]).stdout
    found = {}
    for line in out.splitlines():
        what, _, value = line.partition(":")
        found[what.strip()] = value.strip()
    wanted = ("Private key", "Certificate", "CA Certificate")
    if not all(found.get(k) for k in wanted):
        return None
    return [found[k] for k in wanted]


def prepare_central(state: LabState, host: Host, node: str) -> None:
    """The NB and SB SSL tables point at the central's files (before the pssl: listeners)."""

    record.save_before(state, node, "ssl_tables", {t: get_ssl(host, t) for t in SSL_TOOLS})
    files = host_files(state.name, node)
    for tool in SSL_TOOLS:
        host.run([tool, *files.vsctl_set_ssl()])


def chassis_ssl(state: LabState, host: Host, node: str) -> list[str]:
    """Save the chassis' Open_vSwitch SSL row; the `ovs-vsctl` arguments that set the lab's
    (to go in one transaction with its ovn-remote)."""

    record.save_before(state, node, "ovs_ssl", get_ssl(host, "ovs-vsctl"))
    return host_files(state.name, node).vsctl_set_ssl()


def northd_status(host: Host, target: str = "ovn-northd") -> str | None:
    """active | standby | paused, or None when that ovn-northd does not answer."""
    proc = host.run(["ovn-appctl", "-t", target, "status"], check=False, timeout=15)
    if proc.returncode != 0:
        return None
    return proc.stdout.split(":")[-1].strip() or None


def start_northd(state: LabState, host: Host, plan: Plan) -> None:
    """The lab's ovn-northd on the central, over ssl:, active; the host's one paused."""

    pidfile, ctl, log = northd_files(state.name)
    record.save_before(state, plan.central, "northd", {"host": northd_status(host)})
    files = host_files(state.name, plan.central)
    host.run(
        [
            "ovn-northd", "--detach", "--no-chdir", f"--pidfile={pidfile}", f"--unixctl={ctl}",
            f"--log-file={log}", f"--ovnnb-db={plan.nb_remote}", f"--ovnsb-db={plan.sb_remote}",
            *files.ovsdb_args(),
        ]
    )  # fmt: skip
    host.run(["ovn-appctl", "-t", "ovn-northd", "pause"], check=False)
    tries = int(NORTHD_ACTIVE_TIMEOUT / 0.1)
    wait = (
        f"i=0; while [ $i -lt {tries} ]; do "
        f"ovn-appctl -t {shlex.quote(ctl)} status 2>/dev/null | grep -q active && exit 0; "
        "sleep 0.1; i=$((i + 1)); done; exit 1"
    )
    if host.run(["sh", "-c", wait], check=False, timeout=NORTHD_ACTIVE_TIMEOUT + 15).returncode:
        tail = host.run(["tail", "-n", "3", log], check=False).stdout.strip()
        raise RuntimeFailure(
            f"on {host.name}: the lab's ovn-northd did not become active over ssl: within "
            f"{NORTHD_ACTIVE_TIMEOUT:.0f} s: {tail or 'no log'}"
        )


def relay(host: Host, socket_path: str) -> Any:
    """An SSH channel whose stdin/stdout are one connection to a unix socket on the host
    (as root, like every command of the lab there)."""
    chan = host.client.get_transport().open_session()
    chan.exec_command(host.command_line(["python3", "-I", "-c", _RELAY, socket_path]))
    return chan


# --- lab down ---------------------------------------------------------------------------------


def _set_back(tool: str, before: list[str] | None) -> list[str]:
    return [tool, "set-ssl", *before] if before else [tool, "del-ssl"]


def restore(state: LabState, host: Host, saved: dict[str, Any]) -> None:
    """Undo what `lab up` changed for TLS on this host, from what was saved before: the
    lab's ovn-northd stopped, the host's resumed, SSL rows as they were. Idempotent."""
    if "northd" in saved:
        pidfile, _, _ = northd_files(state.name)
        pid = shlex.quote(pidfile)
        # only the process of the lab's own pidfile, and only if it is an ovn-northd
        stop = (
            f'p=$(cat {pid} 2>/dev/null) && [ "$(cat /proc/$p/comm 2>/dev/null)" = ovn-northd ]'
            ' && kill "$p" && for i in $(seq 50); do kill -0 "$p" 2>/dev/null || break; '
            "sleep 0.1; done; true"
        )
        host.run(["sh", "-c", stop])
        was = saved["northd"].get("host")
        if was not in (None, "paused"):
            host.run(["ovn-appctl", "-t", "ovn-northd", "resume"], check=False)
            # back as it was (active takes the lock again) before `lab down` says done
            back = (
                "for i in $(seq 50); do ovn-appctl -t ovn-northd status 2>/dev/null "
                f"| grep -q {shlex.quote(was)} && break; sleep 0.1; done; true"
            )
            host.run(["sh", "-c", back], timeout=30)
    if "ssl_tables" in saved:
        for tool, before in saved["ssl_tables"].items():
            host.run(_set_back(tool, before))
    if "ovs_ssl" in saved:
        host.run(_set_back("ovs-vsctl", saved["ovs_ssl"]))
