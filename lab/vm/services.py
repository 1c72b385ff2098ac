"""VM services (`services: [{tcp: 8080}, {udp: 5353}]`): servers the lab starts inside a VM's
namespace, answering every request with the VM's name (lab/vm/vm_agent.py).

Each is recorded in the lab's state (resource `service`, `VM:PROTO:PORT`) before it starts.
It lives in the VM's namespace, so `lab down` stops it with everything else there (the
namespace sweep), also after a crash. Its pid and log are in `<lab>/services/`.
"""

from __future__ import annotations

import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lab.errors import RuntimeFailure
from lab.runner import netns_argv
from lab.state.info import LabInfo, ServiceInfo

AGENT = Path(__file__).with_name("vm_agent.py")
READY_TIMEOUT = 5.0
SERVICES_DIR = "services"


@dataclass(frozen=True)
class ServicePlan:
    vm: str
    netns: str
    proto: str  # tcp | udp
    port: int

    @property
    def key(self) -> str:
        return f"{self.vm}:{self.proto}:{self.port}"

    def files(self, lab_dir: Path) -> tuple[Path, Path]:
        """(pidfile, logfile) in the lab's state directory."""
        base = lab_dir / SERVICES_DIR / f"{self.vm}-{self.proto}-{self.port}"
        return base.with_suffix(".pid"), base.with_suffix(".log")


def agent_argv(*args: str) -> list[str]:
    """The VM agent run by this machine's Python, isolated from the lab's environment
    (-I: no site packages, no PYTHON* variables): standard library only."""
    return [sys.executable, "-I", str(AGENT), *args]


def start(plan: ServicePlan, lab_dir: Path, record: Any) -> int:
    """Start one service in its VM and wait until it listens; returns its pid. `record`
    (state.record) is called before the process exists."""
    record("service", plan.key)
    pidfile, logfile = plan.files(lab_dir)
    pidfile.parent.mkdir(mode=0o700, exist_ok=True)
    argv = netns_argv(plan.netns, agent_argv("serve", plan.proto, str(plan.port), plan.vm))
    with open(logfile, "w") as log:
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # not killed by a Ctrl-C of `lab up` after it returned
        )
    pidfile.write_text(f"{proc.pid}\n")
    deadline = time.monotonic() + READY_TIMEOUT
    while time.monotonic() < deadline:
        if "listening" in logfile.read_text():
            return proc.pid
        if proc.poll() is not None:
            break
        time.sleep(0.02)
    text = logfile.read_text().strip().splitlines()
    if proc.poll() is None:
        proc.kill()
    raise RuntimeFailure(
        f"the {plan.proto}/{plan.port} service of VM {plan.vm} did not start: "
        + (text[-1] if text else "no output")
    )


def start_all(plans: list[ServicePlan], lab_dir: Path, record: Any) -> dict[str, list[ServiceInfo]]:
    """Start every service; returns what `lab status` shows, per VM."""
    from concurrent.futures import ThreadPoolExecutor

    # each waits for its Python to start and bind: side by side
    with ThreadPoolExecutor(max_workers=8) as pool:
        pids = list(pool.map(lambda p: start(p, lab_dir, record), plans))
    shown: dict[str, list[ServiceInfo]] = {}
    for plan, pid in zip(plans, pids, strict=True):
        shown.setdefault(plan.vm, []).append(ServiceInfo(plan.proto, plan.port, pid))
    return shown


def alive(lab_dir: Path, vm: str, proto: str, port: int) -> bool:
    pidfile, _ = ServicePlan(vm, "", proto, port).files(lab_dir)
    try:
        pid = int(pidfile.read_text().strip())
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, ValueError, IndexError):
        return False
    return state != "Z"


def service_of(info: LabInfo, vm: str, proto: str, port: int) -> bool:
    """Does VM `vm` of a running lab serve PROTO/PORT?"""
    return any(s.proto == proto and int(s.port) == port for s in info.services.get(vm, []))
