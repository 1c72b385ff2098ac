"""A lab's SSH hosts as this process reaches them: one connection per host, the central's
databases forwarded to local unix sockets on first use (lab.providers.ssh.tunnel)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from lab.errors import UserError
from lab.providers.ssh.transport import Host, HostSpec, Pool
from lab.providers.ssh.tunnel import DbTunnels
from lab.state.store import LabState

NB_PORT, SB_PORT = 6641, 6642


class Session:
    """A lab's SSH hosts as seen by this process: one connection per host, the central's
    databases forwarded to local unix sockets on first use."""

    def __init__(
        self,
        hosts: dict[str, HostSpec],
        pool: Pool,
        central: str,
        central_ip: str,
        ssl: bool = False,
    ):
        self.hosts = hosts
        self.pool = pool
        self.central = central
        self.central_ip = central_ip
        self.ssl = ssl  # the central's TCP ports speak TLS only: relay to its unix sockets
        self._tunnels: DbTunnels | None = None
        self._lock = threading.Lock()

    def host(self, node: str) -> Host:
        return self.pool.get(self.hosts[node])

    def db_dir(self) -> Path:
        """Where ovnnb_db.sock and ovnsb_db.sock are (local forwards to the central)."""
        with self._lock:
            if self._tunnels is None:
                central = self.host(self.central)
                openers = None
                if self.ssl:
                    from lab.providers.ssh import tls

                    openers = (
                        lambda: tls.relay(central, tls.NB_SOCK),
                        lambda: tls.relay(central, tls.SB_SOCK),
                    )
                transport = central.client.get_transport()
                self._tunnels = DbTunnels(transport, self.central_ip, NB_PORT, SB_PORT, openers)
            return self._tunnels.dir

    def close(self) -> None:
        if self._tunnels is not None:
            self._tunnels.close()
        self.pool.close()


_SESSIONS: dict[str, Session] = {}


def session(state: LabState) -> Session:
    """The session of a running ssh lab (host keys were recorded by `lab up`)."""
    found = _SESSIONS.get(state.name)
    if found is None:
        ssh = state.info.ssh
        if ssh is None or state.info.central is None:
            raise UserError(f"lab {state.name}'s state has no record of its SSH hosts")
        hosts = {n: HostSpec.from_json(h) for n, h in ssh["hosts"].items()}
        pool = Pool(Path(ssh["known_hosts"]), accept_new=False)
        found = Session(hosts, pool, state.info.central, ssh["central_ip"], state.info.ssl)
        _SESSIONS[state.name] = found
    return found


def guest(state: LabState, node: str) -> dict[str, Any] | None:
    """A chassis sharing its host with others (lab.providers.ssh.guest): its namespace and
    directory; None for a node that is its host."""
    found: dict[str, Any] | None = (state.info.ssh or {}).get("guests", {}).get(node)
    return found


def where(state: LabState, target: str) -> tuple[Host, str | None]:
    """The host a node or VM is on, and the namespace on it (None: the host itself)."""
    info = state.info
    if target in info.nodes:
        found = guest(state, target)
        return session(state).host(target), found["netns"] if found else None
    if target in info.vms:
        vm = info.vms[target]
        return session(state).host(vm.chassis), vm.netns
    known = ", ".join([*info.nodes, *info.vms])
    raise UserError(f"'{target}' is not a node or VM of lab {state.name} (known: {known})")


def inside(state: LabState, target: str, argv: list[str]) -> list[str]:
    """argv as run in a node: in a guest chassis with the tools pointed at its own daemons
    (ovs-vsctl, ovs-ofctl, ovs-appctl find them through OVS_RUNDIR, as on netns nodes)."""
    found = guest(state, target) if target in state.info.nodes else None
    if found is None:
        return argv
    from lab.providers.ssh.record import guest_env

    return [*guest_env(found["dir"]), *argv]


def _parallel(tasks: dict[str, Callable[[], Any]], raise_first: bool = True) -> dict[str, Any]:
    """Run per-host work side by side (each host has its own connection)."""
    if not tasks:
        return {}
    with ThreadPoolExecutor(max_workers=min(16, len(tasks))) as pool:
        futures = {name: pool.submit(task) for name, task in tasks.items()}
    results = {}
    for name, future in futures.items():
        exc = future.exception()
        if exc is not None and raise_first:
            raise exc
        results[name] = None if exc is not None else future.result()
    return results
