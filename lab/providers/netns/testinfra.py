"""A pytest-testinfra backend that runs commands inside a network namespace.

    netns://worker1@mylab    node (or VM) `worker1` of lab `mylab`: its namespace, plus the
                             environment (OVS_RUNDIR, OVN_RUNDIR, OVN_SB_DB, ...) that points
                             the stock ovs-vsctl / ovn-sbctl / ovs-appctl at that node's daemons
    netns://blue             any namespace named `blue` (`ip netns list`), with no extra env

Each command becomes `ip netns exec NETNS env K=V... /bin/sh -c COMMAND`, so it needs root
(or `?sudo=true` in the URL / `--sudo`, which prefixes `sudo`).

testinfra only keeps the part of a host URL between `://` and the first `/` or `?`, which is why
the lab comes after an `@` rather than in a path. testinfra has no plugin hook for backends: it
maps URL schemes to class paths in `testinfra.backend.BACKENDS`, and `register()` adds ours there
(checks/conftest.py does the same in one line, so the suites do not need this package unless a
`netns://` host is used).
"""

from __future__ import annotations

import shlex
from typing import Any

from testinfra.backend import BACKENDS, base

SCHEME = "netns"
CLASSPATH = f"{__name__}.NetnsBackend"


def register() -> None:
    """Make `netns://` URLs usable with testinfra (`--hosts=netns://...`, `get_host`)."""
    BACKENDS.setdefault(SCHEME, CLASSPATH)


def parse_target(hostname: str) -> tuple[str, str | None]:
    """`NODE@LAB` -> (NODE, LAB); a bare name is a namespace -> (NAME, None)."""
    target, sep, lab = hostname.partition("@")
    if not target or (sep and not lab):
        raise ValueError(
            f"netns host '{hostname}' should be netns://NODE@LAB (a lab's node or VM) "
            "or netns://NAMESPACE"
        )
    for part in (target, lab):
        if any(c in part for c in "/@ \t\n\0") or part in (".", ".."):
            raise ValueError(f"netns host '{hostname}': '{part}' is not a valid name")
    return target, (lab or None)


def netns_command(
    netns: str,
    env: dict[str, str],
    command: str,
    sudo: bool = False,
    sudo_user: str | None = None,
) -> str:
    """The shell command line that runs `command` (a shell string) inside `netns` with `env`."""
    if sudo_user:
        command = shlex.join(["sudo", "-u", sudo_user, "/bin/sh", "-c", command])
    argv = ["ip", "netns", "exec", netns]
    if env:
        argv += ["env", *(f"{key}={value}" for key, value in sorted(env.items()))]
    argv += ["/bin/sh", "-c", command]
    line = shlex.join(argv)
    return f"sudo {line}" if sudo else line


def lab_target(lab: str, target: str) -> tuple[str, dict[str, str]]:
    """Namespace and env of a node or VM of a lab that is up (read from its state)."""
    from lab.providers.targets import netns_env
    from lab.state.store import load_state

    state = load_state(lab)
    if state is None:
        raise RuntimeError(f"netns://{target}@{lab}: no lab named '{lab}' is up")
    return netns_env(state, target)


class NetnsBackend(base.BaseBackend):
    """Run testinfra commands in a network namespace (see the module docstring)."""

    NAME = SCHEME

    def __init__(self, hostname: str, *args: Any, **kwargs: Any) -> None:
        self.target, self.lab = parse_target(hostname)
        self._resolved: tuple[str, dict[str, str]] | None = None
        super().__init__(hostname, *args, **kwargs)

    def resolve(self) -> tuple[str, dict[str, str]]:
        """(namespace, env) — looked up once, on the first command."""
        if self._resolved is None:
            if self.lab is None:
                self._resolved = (self.target, {})
            else:
                try:
                    self._resolved = lab_target(self.lab, self.target)
                except Exception as exc:  # UserError from lab: a plain error for testinfra
                    raise RuntimeError(str(exc)) from None
        return self._resolved

    def get_command(self, command: str, *args: str) -> str:
        netns, env = self.resolve()
        return netns_command(
            netns, env, self.quote(command, *args), sudo=self.sudo, sudo_user=self.sudo_user
        )

    def run(self, command: str, *args: str, **kwargs: Any) -> base.CommandResult:
        inner = self.quote(command, *args)
        out = self.run_local(self.get_command(command, *args))
        out.command = self.encode(inner)
        return out
