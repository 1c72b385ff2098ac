"""A pytest-testinfra backend for the nodes and VMs of an ssh lab.

    labssh://worker1@mylab   node `worker1` of lab `mylab`: its host, over the lab's own SSH
                             connection (host keys checked against the known_hosts file the
                             lab was brought up with; testinfra's paramiko backend would wave
                             unknown keys through with a warning)
    labssh://vm1@mylab       VM `vm1`: its namespace on its chassis host

One connection per host for the whole test session, as for every other lab command.
"""

from __future__ import annotations

from typing import Any

from testinfra.backend import BACKENDS, base

from lab.providers.netns.testinfra import parse_target
from lab.providers.ssh import session as ssh_session

SCHEME = "labssh"
CLASSPATH = f"{__name__}.LabSshBackend"


def register() -> None:
    BACKENDS.setdefault(SCHEME, CLASSPATH)


class LabSshBackend(base.BaseBackend):
    NAME = SCHEME

    def __init__(self, hostname: str, *args: Any, **kwargs: Any) -> None:
        self.target, lab = parse_target(hostname)
        if lab is None:
            raise ValueError(f"labssh host '{hostname}' should be labssh://NODE@LAB")
        self.lab = lab
        super().__init__(hostname, *args, **kwargs)

    def run(self, command: str, *args: str, **kwargs: Any) -> base.CommandResult:
        from lab.state.store import load_state

        state = load_state(self.lab)
        if state is None:
            raise RuntimeError(f"labssh://{self.target}@{self.lab}: no lab of that name is up")
        host, netns = ssh_session.where(state, self.target)
        inner = self.get_command(command, *args)
        argv = ssh_session.inside(state, self.target, ["sh", "-c", inner])
        proc = host.run(argv, netns=netns, check=False, timeout=120)
        return self.result(proc.returncode, self.encode(inner), proc.stdout, proc.stderr)
