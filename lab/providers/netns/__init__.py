"""Provider netns: every node and VM is a network namespace of this machine, running the
host's own OVS/OVN binaries (lab.providers.netns.build brings them up)."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from lab.errors import LabError, UserError
from lab.ovn import daemons as ovn_daemons
from lab.providers import base
from lab.providers.netns import namespaces as nsprov
from lab.providers.netns.ownership import create_netns, removable_netns
from lab.providers.targets import central_dirs, netns_env
from lab.runner import NetnsRunner, NodeRunner, netns_argv, run
from lab.state.store import LabState, node_dir, remove_state_dir

if TYPE_CHECKING:
    from lab.ovn.daemons import Daemon
    from lab.plan.model import NodePlan, Plan
    from lab.progress import Progress
    from lab.state.info import LabInfo
    from lab.topology.model import Topology
    from lab.vm.services import ServicePlan


class NetnsProvider(base.Defaults):
    name = "netns"
    supports = frozenset(base.CAPABILITIES) - {base.UPGRADE}
    test_as_root = True
    test_needs: tuple[str, ...] = ()
    why_not = {
        base.UPGRADE: "this lab runs on the netns provider (the host's binaries), and lab "
        "upgrade replaces a docker node's image: bring the lab up with a build: other than "
        "host (or --provider docker)"
    }

    # --- bring-up and teardown --------------------------------------------------------

    def prepare(
        self, topo: Topology, plan: Plan, options: base.UpOptions, progress: Progress
    ) -> base.Prepared:
        self.refuse_host_placement(options)
        return base.Prepared(plan)

    def refuse_host_placement(self, options: base.UpOptions) -> None:
        """Every chassis is on this machine: there are no hosts to place them on."""
        if options.chassis_per_host:
            raise UserError(
                "--chassis-per-host places chassis on SSH hosts (provider ssh); provider "
                f"{self.name} builds every chassis on this machine"
            )

    def runtime_info(self, prepared: base.Prepared, info: LabInfo) -> None:
        return None

    def create(
        self,
        prepared: base.Prepared,
        state: LabState,
        progress: Progress,
        options: base.UpOptions,
    ) -> None:
        from lab.providers.netns import build  # pyroute2 and the ovn layer: only to build

        build.build(prepared.plan, state, progress, self, options.nb_backup)

    def make_nodes(self, plan: Plan, state: LabState, progress: Progress) -> None:
        with progress.step("namespaces"):
            create_netns(state, [plan.fabric_netns, *(n.netns for n in plan.nodes.values())])

    def make_node(self, plan: Plan, node: NodePlan, state: LabState) -> None:
        return None  # its namespace was made with the others, in one state write

    def runner_for(self, state: LabState, node: str) -> NodeRunner:
        return self.node_runner(state, node)

    def destroy(self, state: LabState, forget_unreachable: bool = False) -> list[int]:
        """Kill every process living in the lab's namespaces, delete the namespaces (and
        with them every veth, bridge and tap inside), then the state directory."""
        pids = self.remove_namespaces(state, removable_netns(state))
        remove_state_dir(state.name)
        return pids

    def remove_namespaces(
        self, state: LabState, namespaces: list[str], spare: set[int] | None = None
    ) -> list[int]:
        pids = sorted((spare or set()) | set(nsprov.kill_all_in(namespaces)))
        errors: list[str] = []
        for ns in reversed(namespaces):
            try:
                nsprov.remove(ns)
            except LabError as exc:
                errors.append(str(exc))
        if errors:
            raise LabError("; ".join(errors))
        return pids

    def sweep(self, name: str) -> list[str]:
        """`lab down NAME --force`, no state to go by: the namespaces named `<lab>.*` (no
        other lab's name starts so)."""
        from lab import naming

        found = sorted(p.name for p in nsprov.NETNS_DIR.glob(f"{naming.lab_prefix(name)}*"))
        nsprov.kill_all_in(found)
        for ns in found:
            nsprov.remove(ns)
        return [f"netns {n}" for n in found]

    # --- a running lab ------------------------------------------------------------------

    def node_runner(self, state: LabState, node: str) -> NodeRunner:
        return NetnsRunner(state.info.nodes[node].netns)

    def daemons(self, state: LabState, node: str) -> list[Daemon]:
        role = state.info.nodes[node].role
        runner = self.node_runner(state, node)
        directory = node_dir(state, node)
        return [ovn_daemons.Daemon(d, directory, runner) for d in ovn_daemons.daemon_names(role)]

    def run(
        self, state: LabState, target: str, argv: Sequence[str], timeout: float = 30
    ) -> subprocess.CompletedProcess[str]:
        netns, env = netns_env(state, target)
        return run(argv, netns=netns, env=env, check=False, timeout=timeout)

    def run_inside(
        self, state: LabState, target: str, argv: Sequence[str], timeout: float = 30
    ) -> subprocess.CompletedProcess[str]:
        return self.run(state, target, argv, timeout)  # a namespace node has no inside

    def popen(self, state: LabState, target: str, argv: Sequence[str]) -> subprocess.Popen[str]:
        netns, env = netns_env(state, target)
        return subprocess.Popen(
            netns_argv(netns, argv),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            text=True,
            env={**os.environ, **env},
        )

    def exec(self, state: LabState, target: str, argv: Sequence[str]) -> int:
        netns, env = netns_env(state, target)
        os.execvpe("ip", ["ip", "netns", "exec", netns, *argv], {**os.environ, **env})
        return 0  # not reached

    def db_dirs(self, state: LabState) -> list[Path]:
        return central_dirs(state)

    def ovn_tool(self, state: LabState, argv: Sequence[str]) -> list[str]:
        return list(argv)  # the host's own tools are the central's

    def db_client(self, state: LabState, tool: str, db: str, args: Sequence[str]) -> int:
        from lab.ovn.remotes import nb_db, sb_db

        dirs = self.db_dirs(state)  # with a raft cluster the client settles on the leader
        remote = nb_db(dirs) if db == "nb" else sb_db(dirs)
        argv = self.ovn_tool(state, [tool, f"--db={remote}", *args])
        os.execvp(argv[0], argv)
        return 0  # not reached

    def node_health(self, state: LabState, node: str) -> tuple[bool, dict[str, bool]]:
        there = nsprov.exists(state.info.nodes[node].netns)
        return there, {d.name: d.alive() for d in self.daemons(state, node)}

    def vm_exists(self, state: LabState) -> Callable[[str], bool]:
        return nsprov.exists

    def services_alive(self, state: LabState) -> dict[tuple[str, str, int], bool]:
        from lab.vm.services import alive

        return {
            (vm, str(s.proto), int(s.port)): alive(state.dir, vm, str(s.proto), int(s.port))
            for vm, services in state.info.services.items()
            for s in services
        }

    def start_service(self, state: LabState, service: ServicePlan) -> int:
        from lab.vm import services

        return services.start(service, state.dir, state.record)

    def kill_service(self, state: LabState, service: ServicePlan) -> None:
        import signal

        pidfile, _ = service.files(state.dir)
        os.kill(int(pidfile.read_text().strip()), signal.SIGKILL)

    def agent_argv(self, state: LabState, *args: str) -> list[str]:
        from lab.vm.services import agent_argv

        return agent_argv(*args)

    def versions(self, state: LabState) -> dict[str, tuple[str, str]]:
        from lab.ovn.versions import host_versions

        host = host_versions()
        return dict.fromkeys(state.info.nodes, host)

    def testinfra_url(self, state: LabState, target: str) -> str:
        return f"netns://{target}@{state.name}"
