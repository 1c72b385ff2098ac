"""SshProvider: the Provider interface (lab/providers/base.py) for a lab of SSH hosts."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from lab.errors import LabError, UserError
from lab.providers import base
from lab.providers.netns import NetnsProvider

if TYPE_CHECKING:
    from lab.ovn.daemons import Daemon
    from lab.plan.model import Plan
    from lab.progress import Progress
    from lab.runner import NodeRunner
    from lab.state.info import LabInfo
    from lab.state.store import LabState
    from lab.topology.model import Topology
    from lab.vm.services import ServicePlan

PLACED = "placed"  # Prepared.details: the hosts found, their underlay addresses


class SshProvider(base.Defaults):
    name = "ssh"
    supports: frozenset[str] = frozenset()
    test_as_root = False
    test_needs = ("paramiko",)  # the suites reach the hosts through the lab's connection
    why_not = {
        base.LOCAL_DAEMONS: "its nodes are SSH hosts (provider ssh), where it is not available yet",
        base.WIRE_FAULTS: "its nodes are SSH hosts, whose wires are real",
        base.PCAP_FILE: "use tcpdump on the host",
        base.UPGRADE: "its nodes run the hosts' own OVS/OVN (upgrade them with your tools)",
        base.BUNDLE: "this one runs on SSH hosts",
    }

    def __init__(self) -> None:
        self._local = NetnsProvider()  # what an ssh lab keeps on this machine

    # --- bring-up and teardown --------------------------------------------------------

    def prepare(
        self, topo: Topology, plan: Plan, options: base.UpOptions, progress: Progress
    ) -> base.Prepared:
        """Connect to every node's host, check it, find its underlay address; the plan is
        made again with the hosts' own addresses on the overlay."""
        from lab.plan.planner import make_plan
        from lab.providers.ssh import place as ssh_place

        if options.inventory is None:
            raise UserError(
                "provider ssh needs --inventory FILE: the Ansible inventory of the hosts "
                "(the one `lab provision` used)"
            )
        hosts = {name: node.host for name, node in topo.nodes.items()}
        placed = ssh_place.place(
            plan,
            hosts,
            options.inventory,
            options.known_hosts,
            options.accept_new_host_keys,
            progress,
            options.chassis_per_host,
        )
        ssh_place.guest_addresses(topo, placed)
        ssh_place.with_host_addresses(topo, placed.underlay, placed.subnet)
        return base.Prepared(make_plan(topo), {PLACED: placed})

    def runtime_info(self, prepared: base.Prepared, info: LabInfo) -> None:
        from lab.providers.ssh import build as ssh_build

        placed = prepared.details[PLACED]
        ssh_build.adapt_info(info, placed)
        info.ssh = ssh_build.ssh_info(prepared.plan, placed)

    def create(
        self,
        prepared: base.Prepared,
        state: LabState,
        progress: Progress,
        options: base.UpOptions,
    ) -> None:
        from lab.providers.ssh import build as ssh_build

        ssh_build.build(prepared.plan, state, prepared.details[PLACED], progress)

    def destroy(self, state: LabState, forget_unreachable: bool = False) -> list[int]:
        """The hosts first (on failure the state stays for a retry), then what the lab
        keeps here."""
        from lab.providers.ssh import teardown as ssh_teardown

        ssh_teardown.teardown(state, forget_unreachable)
        return self._local.destroy(state)

    def sweep(self, name: str) -> list[str]:
        return []  # with no state, which hosts the lab used is not known

    # --- a running lab ------------------------------------------------------------------

    def node_runner(self, state: LabState, node: str) -> NodeRunner:
        raise LabError(f"node {node} of lab {state.name} is an SSH host, run by its own services")

    def daemons(self, state: LabState, node: str) -> list[Daemon]:
        return []  # the hosts' own services; node_health asks the host about them

    def run(
        self, state: LabState, target: str, argv: Sequence[str], timeout: float = 30
    ) -> subprocess.CompletedProcess[str]:
        from lab.providers.ssh import session as ssh_session

        host, netns = ssh_session.where(state, target)
        full = ssh_session.inside(state, target, list(argv))
        return host.run(full, netns=netns, check=False, timeout=timeout)

    def run_inside(
        self, state: LabState, target: str, argv: Sequence[str], timeout: float = 30
    ) -> subprocess.CompletedProcess[str]:
        return self.run(state, target, argv, timeout)

    def popen(self, state: LabState, target: str, argv: Sequence[str]) -> subprocess.Popen[str]:
        from lab.providers.ssh import session as ssh_session

        host, netns = ssh_session.where(state, target)
        full = ssh_session.inside(state, target, list(argv))
        return host.popen(full, netns=netns)  # type: ignore[return-value]  # Popen-like

    def exec(self, state: LabState, target: str, argv: Sequence[str]) -> int:
        """On the node's host, through the lab's SSH connection, shown as if it ran here."""
        from lab.providers.ssh import session as ssh_session

        host, netns = ssh_session.where(state, target)
        full = ssh_session.inside(state, target, list(argv))
        return _relay(host.run(full, netns=netns, check=False, timeout=3600))

    def db_dirs(self, state: LabState) -> list[Path]:
        from lab.providers.ssh import session as ssh_session

        return [ssh_session.session(state).db_dir()]  # forwarded from the central host

    def ovn_tool(self, state: LabState, argv: Sequence[str]) -> list[str]:
        return list(argv)

    def db_client(self, state: LabState, tool: str, db: str, args: Sequence[str]) -> int:
        """The central host's own client, over the lab's connection."""
        from lab.providers.ssh import session as ssh_session

        host, _ = ssh_session.where(state, state.info.central)
        return _relay(host.run([tool, *args], check=False, timeout=600))

    def node_health(self, state: LabState, node: str) -> tuple[bool, dict[str, bool]]:
        from lab.ovn.daemons import daemon_names
        from lab.providers.ssh import health as ssh_health

        role = state.info.nodes[node].role
        return ssh_health.node_health(state, node, daemon_names(role))

    def vm_exists(self, state: LabState) -> Callable[[str], bool]:
        from lab.providers.ssh import health as ssh_health

        return ssh_health.vm_namespaces(state).__contains__

    def services_alive(self, state: LabState) -> dict[tuple[str, str, int], bool]:
        from lab.providers.ssh import services as ssh_services

        return ssh_services.alive(state) if state.info.services else {}

    def start_service(self, state: LabState, service: ServicePlan) -> int:
        from lab.providers.ssh import services as ssh_services
        from lab.providers.ssh import session as ssh_session

        host, _ = ssh_session.where(state, service.vm)
        return ssh_services.start(host, state.name, service, state.record)

    def kill_service(self, state: LabState, service: ServicePlan) -> None:
        from lab.providers.ssh import services as ssh_services

        ssh_services.kill(state, service.vm, service.proto, service.port)

    def agent_argv(self, state: LabState, *args: str) -> list[str]:
        from lab.providers.ssh import services as ssh_services

        return ssh_services.agent_argv(state.name, *args)  # the agent `lab up` put there

    def versions(self, state: LabState) -> dict[str, tuple[str, str]]:
        return {}  # the hosts' own; `lab status` does not ask them

    def testinfra_url(self, state: LabState, target: str) -> str:
        # the lab's own SSH connection (host keys as checked by `lab up`), VMs in their netns
        return f"labssh://{target}@{state.name}"


def _relay(proc: subprocess.CompletedProcess[str]) -> int:
    """A command run on an SSH host, shown as if it ran here: its output, its exit status."""
    sys.stdout.write(proc.stdout)
    sys.stderr.write(proc.stderr)
    return proc.returncode
