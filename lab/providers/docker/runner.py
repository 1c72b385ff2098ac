"""The NodeRunner of a docker node: commands entered into its container from the host (docker
exec where that cannot be done: lab.providers.docker.enter), PIDs through its PID namespace."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from lab.providers.docker import containers, enter


@dataclass(frozen=True)
class ContainerRunner:
    name: str
    init_pid: int
    node_dir: Path

    @classmethod
    def of(cls, node_dir: Path) -> ContainerRunner | None:
        """The runner of the container whose marker is in `node_dir` (None: not one yet)."""
        info = containers.container_of(node_dir)
        if info is None:
            return None
        return cls(str(info["name"]), int(info["pid"]), node_dir)

    def start(self, argv: Sequence[str], env: Mapping[str, str], timeout: float = 30) -> None:
        self._run(argv, env, timeout)

    def tool(self, argv: Sequence[str]) -> str:
        return self._run(argv, {}, 30)

    def _run(self, argv: Sequence[str], env: Mapping[str, str], timeout: float) -> str:
        info = containers.container_of(self.node_dir)  # again: an upgrade makes a new init
        name = str(info["name"]) if info else self.name
        init = enter.init_of(name, int(info["pid"])) if info and enter.tools_present() else None
        if init is None:
            return containers.exec_in(name, argv, env, timeout)
        return enter.run_in(name, init, argv, env, timeout)

    def host_pid(self, pid: int) -> int | None:
        # the marker is read again: an upgraded node is a new container (new init PID)
        info = containers.container_of(self.node_dir)
        return containers.host_pid(int(info["pid"]) if info else self.init_pid, pid)

    def show_vms(self, vms: Sequence[tuple[str, str]]) -> None:
        containers.show_vms_inside(self.node_dir, vms)

    def hide_vm(self, vm: str) -> None:
        containers.hide_vm(self.node_dir, vm)
