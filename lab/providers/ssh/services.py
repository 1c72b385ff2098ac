"""VM services and the `connect` client on a lab of SSH hosts (provider ssh).

The VM namespaces live on the chassis hosts, so the agent (lab/vm/vm_agent.py, Python standard
library only) runs there with the host's own `python3`. `lab up` streams the agent's text
to one directory per lab on every host (`/run/ovn-lab/<lab>/`, recorded in state before it
exists); a service's pidfile and log are there too. `lab down` kills every process left in
the lab's VM namespaces (lab.providers.ssh.teardown._clean_host) and removes the directory.
"""

from __future__ import annotations

import base64
import shlex
from typing import TYPE_CHECKING, Any

from lab.errors import RuntimeFailure, UserError
from lab.providers.ssh import record
from lab.providers.ssh import session as ssh_session
from lab.vm.services import AGENT, READY_TIMEOUT, ServicePlan

if TYPE_CHECKING:
    from lab.providers.ssh.transport import Host
    from lab.state.store import LabState

PYTHON = "python3"  # the host's own: nothing installed beyond Debian's python3

# write the agent from base64 (argv only: no file transfer, no shell quoting of its text)
_WRITE = (
    "import base64, os, sys\n"
    "os.makedirs(os.path.dirname(sys.argv[1]), mode=0o700, exist_ok=True)\n"
    "open(sys.argv[1], 'wb').write(base64.b64decode(sys.argv[2]))\n"
)


def agent_path(lab: str) -> str:
    return f"{record.lab_dir(lab)}/vm_agent.py"


def agent_argv(lab: str, *args: str) -> list[str]:
    """The agent on the host, isolated from the host's Python environment (-I)."""
    return [PYTHON, "-I", agent_path(lab), *args]


def install_agent(host: Host, lab: str) -> None:
    """Put the agent in the lab's directory on the host (the caller recorded it first)."""
    text = base64.b64encode(AGENT.read_bytes()).decode()
    proc = host.run([PYTHON, "-I", "-c", _WRITE, agent_path(lab), text], check=False)
    if proc.returncode == 127:
        raise UserError(
            f"{host.name} has no python3, which VM services and connect checks need: "
            "provision it with `lab provision --inventory FILE` (or apt-get install python3)"
        )
    if proc.returncode != 0:
        raise RuntimeFailure(f"on {host.name}: the VM agent cannot be written: {proc.stderr}")


def _files(lab: str, plan: ServicePlan) -> tuple[str, str]:
    base = f"{record.lab_dir(lab)}/{plan.vm}-{plan.proto}-{plan.port}"
    return f"{base}.pid", f"{base}.log"


def start(host: Host, lab: str, plan: ServicePlan, record: Any) -> int:
    """Start one service in its VM's namespace on the host and wait until it listens; one
    SSH round trip. `record` (state.record) is called before the process exists."""
    record("service", plan.key)
    pidfile, logfile = _files(lab, plan)
    serve = ["ip", "netns", "exec", plan.netns, "setsid", *agent_argv(lab, "serve")]
    serve += [plan.proto, str(plan.port), plan.vm]
    tries = int(READY_TIMEOUT / 0.05)
    pid, log = shlex.quote(pidfile), shlex.quote(logfile)
    # setsid: its own session, so nothing of the SSH channel's end reaches it
    script = f"""
{shlex.join(serve)} >{log} 2>&1 </dev/null &
echo $! >{pid}
i=0
while [ $i -lt {tries} ]; do
  if grep -q listening {log}; then cat {pid}; exit 0; fi
  kill -0 "$(cat {pid})" 2>/dev/null || break
  sleep 0.05; i=$((i + 1))
done
kill -9 "$(cat {pid})" 2>/dev/null
tail -n 1 {log} >&2
exit 1
"""
    proc = host.run(["sh", "-c", script], check=False, timeout=READY_TIMEOUT + 30)
    if proc.returncode != 0:
        raise RuntimeFailure(
            f"the {plan.proto}/{plan.port} service of VM {plan.vm} on {host.name} did not "
            "start: " + (proc.stderr.strip() or "no output")
        )
    return int(proc.stdout.split()[-1])


def alive(state: LabState) -> dict[tuple[str, str, int], bool]:
    """(vm, proto, port) -> its server runs: one command per chassis host."""
    from lab.errors import LabError

    found: dict[tuple[str, str, int], bool] = {}
    by_chassis: dict[str, list[tuple[str, str, int, int]]] = {}
    for vm, services in state.info.services.items():
        chassis = state.info.vms[vm].chassis
        for svc in services:
            key = (vm, str(svc.proto), int(svc.port))
            found[key] = False
            if svc.pid:
                by_chassis.setdefault(chassis, []).append((*key, int(svc.pid)))
    for chassis, wanted in by_chassis.items():
        probe = "; ".join(
            f"kill -0 {pid} 2>/dev/null && echo {vm}:{proto}:{port}"
            for vm, proto, port, pid in wanted
        )
        try:
            host = ssh_session.session(state).host(chassis)
            out = host.run(["sh", "-c", probe], check=False, timeout=15).stdout.split()
        except LabError:
            continue
        for vm, proto, port, _pid in wanted:
            found[(vm, proto, port)] = f"{vm}:{proto}:{port}" in out
    return found


def kill(state: LabState, vm: str, proto: str, port: int) -> None:
    """SIGKILL one service (the lb check's `stop:`)."""

    host, _ = ssh_session.where(state, vm)
    pidfile, _log = _files(state.name, ServicePlan(vm, "", proto, port))
    host.run(["sh", "-c", f'kill -9 "$(cat {shlex.quote(pidfile)})"'], check=False)
