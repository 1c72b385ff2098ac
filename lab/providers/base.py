"""The Provider interface: what a lab's nodes are, and everything that depends on it.

A provider makes a plan's nodes real (network namespaces here, docker containers, SSH hosts)
and answers every question whose answer depends on that: how to run a command in a node or
VM, where the lab's databases are, whether a node is alive, how testinfra reaches it. The
rest of ovn-lab holds a Provider (lab.providers.of(state)) and never asks which one it is;
what one cannot do, `supports` says, and `require` turns into the sentence a user reads.

Add a provider: a package under lab/providers/ with a class implementing this protocol,
one line in lab.providers.REGISTRY and its name in lab.naming.PROVIDERS (docs/architecture.md).
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from lab.errors import LabError, UserError

if TYPE_CHECKING:
    from lab.ovn.daemons import Daemon
    from lab.plan.model import Plan
    from lab.progress import Progress
    from lab.runner import NodeRunner
    from lab.state.info import LabInfo
    from lab.state.store import LabState
    from lab.topology.builds import Build
    from lab.topology.model import Topology
    from lab.vm.services import ServicePlan

# what a provider may not support, by the name `require` and `supports` use
# lab stop/start/heal/add-vm/del-vm and lb stop: {node}: a lab's daemons driven by their
# pidfiles and namespaces on this machine
LOCAL_DAEMONS = "local daemons"
WIRE_FAULTS = "wire faults"  # lab link / impair / partition and their check steps
PCAP_FILE = "pcap file"  # lab capture -w, geneve checks decoded from a pcap
UPGRADE = "upgrade"  # lab upgrade, the upgrade check
BUNDLE = "bundle"  # lab bundle / lab up --bundle
CAPABILITIES = (LOCAL_DAEMONS, WIRE_FAULTS, PCAP_FILE, UPGRADE, BUNDLE)


@dataclass
class UpOptions:
    """What `lab up` was told beyond the topology (ssh: where the hosts are)."""

    inventory: Path | None = None
    known_hosts: Path | None = None
    accept_new_host_keys: bool = False
    nb_backup: Path | None = None  # `lab up --bundle`: the NB to start from
    chassis_per_host: int | None = None  # ssh: fill the inventory's chassis hosts, N each


@dataclass
class Prepared:
    """A plan made ready for its provider before anything is created: the ssh hosts found
    (their addresses are in the plan), the docker images built."""

    plan: Plan
    details: dict[str, Any] = field(default_factory=dict)  # the provider's own


class Provider(Protocol):
    name: str
    supports: frozenset[str]  # of CAPABILITIES
    why_not: dict[str, str]  # capability it lacks -> why, in a few words for `require`
    test_as_root: bool  # `lab test`'s suites reach the nodes by `ip netns exec`
    test_needs: tuple[str, ...]  # the Python packages (extras) `lab test` needs

    # --- bring-up and teardown --------------------------------------------------------
    def prepare(
        self, topo: Topology, plan: Plan, options: UpOptions, progress: Progress
    ) -> Prepared:
        """Everything checked and found before the lab's state exists (nothing created)."""
        ...

    def runtime_info(self, prepared: Prepared, info: LabInfo) -> None:
        """Add the provider's part to the lab's runtime info before the build starts."""
        ...

    def create(
        self, prepared: Prepared, state: LabState, progress: Progress, options: UpOptions
    ) -> None:
        """Make the lab: nodes, fabric, daemons, logical network, VMs; each resource
        recorded in `state` before it is created."""
        ...

    def destroy(self, state: LabState, forget_unreachable: bool = False) -> list[int]:
        """Remove what the lab provably created (lab.state.ownership), its state directory
        last; returns the PIDs killed. Safe after a crash at any point, and twice."""
        ...

    def sweep(self, name: str) -> list[str]:
        """`lab down NAME --force` with no state to go by: what carries the lab's name or
        label; returns what it removed."""
        ...

    def remove_orphan(self, name: str) -> list[str]:
        """`lab down NAME` of a lab whose state is lost: what labels prove is its own."""
        ...

    def orphans(self) -> list[str]:
        """Names of labs whose resources are found (by label) with no state."""
        ...

    def warnings(self, state: LabState) -> list[str]:
        """What a user should know about a lab that came up (mixed OVN releases, ...)."""
        ...

    # --- a running lab ------------------------------------------------------------------
    def node_runner(self, state: LabState, node: str) -> NodeRunner:
        """How the ovn layer runs things in a node (daemons, ovsdb-tool)."""
        ...

    def daemons(self, state: LabState, node: str) -> list[Daemon]:
        """The node's OVS/OVN daemons, each able to tell whether it runs."""
        ...

    def run(
        self, state: LabState, target: str, argv: Sequence[str], timeout: float = 30
    ) -> subprocess.CompletedProcess[str]:
        """A command in a node or VM, to completion (never raises on its exit status)."""
        ...

    def run_inside(
        self, state: LabState, target: str, argv: Sequence[str], timeout: float = 30
    ) -> subprocess.CompletedProcess[str]:
        """As run, but as `lab exec` runs it: inside a node that is a container (its own
        binaries; pidfiles name its PIDs)."""
        ...

    def popen(self, state: LabState, target: str, argv: Sequence[str]) -> subprocess.Popen[str]:
        """A command in a node or VM left running (tcpdump, a ping under a failover)."""
        ...

    def exec(self, state: LabState, target: str, argv: Sequence[str]) -> int:
        """`lab exec`: the user's command with their terminal; returns its exit status
        (or never returns, the process being replaced by it)."""
        ...

    def db_dirs(self, state: LabState) -> list[Path]:
        """Directories holding the centrals' NB/SB unix sockets, as this process reaches
        them (an ssh lab's are forwarded from its central host)."""
        ...

    def ovn_tool(self, state: LabState, argv: Sequence[str]) -> list[str]:
        """argv of an OVN client (ovn-trace, ovn-nbctl) of the central's release, run here."""
        ...

    def db_client(self, state: LabState, tool: str, db: str, args: Sequence[str]) -> int:
        """`lab nbctl` / `lab sbctl`: the tool against the lab's database, its exit status."""
        ...

    def node_health(self, state: LabState, node: str) -> tuple[bool, dict[str, bool]]:
        """Whether the node is there at all, and which of its daemons run."""
        ...

    def vm_exists(self, state: LabState) -> Callable[[str], bool]:
        """A test of whether a VM's namespace (by name) exists."""
        ...

    def services_alive(self, state: LabState) -> dict[tuple[str, str, int], bool]:
        """(vm, proto, port) -> whether that VM service answers."""
        ...

    def start_service(self, state: LabState, service: ServicePlan) -> int:
        """Start (again) a VM service, recorded in state; returns its PID."""
        ...

    def kill_service(self, state: LabState, service: ServicePlan) -> None:
        """SIGKILL a VM service (its VM stays)."""
        ...

    def agent_argv(self, state: LabState, *args: str) -> list[str]:
        """argv of the VM agent (lab/vm/vm_agent.py) where the lab's nodes run it."""
        ...

    def spared_pids(self, state: LabState, node: str) -> set[int]:
        """Processes in a node's namespace that are the node itself, not its daemons
        (`lab stop` kills all the others)."""
        ...

    def versions(self, state: LabState) -> dict[str, tuple[str, str]]:
        """node -> (OVS, OVN) it runs, where that is known here."""
        ...

    def testinfra_url(self, state: LabState, target: str) -> str:
        """The pytest-testinfra host URL of a node or VM (`lab test`)."""
        ...

    # --- upgrade (where `supports` has UPGRADE) -----------------------------------------
    def image_for(self, build: Build, progress: object | None = None) -> str:
        """The node image of a build, found or built (with progress)."""
        ...

    def image_versions(self, image: str) -> tuple[str, str]:
        """(OVS, OVN) an image holds."""
        ...

    def replace_node_image(self, state: LabState, node: str, image: str) -> None:
        """The node running `image` from now on, its daemons stopped, its databases kept."""
        ...


class Defaults:
    """What a provider has nothing to do for, unless it says otherwise: no resources to find
    without state, no warnings, no processes to spare, no node images (no `upgrade`)."""

    name: str

    def remove_orphan(self, name: str) -> list[str]:
        return []

    def orphans(self) -> list[str]:
        return []

    def warnings(self, state: LabState) -> list[str]:
        return []

    def spared_pids(self, state: LabState, node: str) -> set[int]:
        return set()

    def image_for(self, build: Build, progress: object | None = None) -> str:
        raise LabError(f"provider {self.name} has no node images")

    def image_versions(self, image: str) -> tuple[str, str]:
        raise LabError(f"provider {self.name} has no node images")

    def replace_node_image(self, state: LabState, node: str, image: str) -> None:
        raise LabError(f"provider {self.name} has no node images")


def require(provider: Provider, capability: str, what: str) -> None:
    """One sentence, exit 2, when the lab's provider cannot do `what`."""
    if capability in provider.supports:
        return
    from lab.providers import REGISTRY, get

    able = " and ".join(n for n in REGISTRY if capability in get(n).supports) or "no"
    why = provider.why_not.get(capability, f"this lab runs on provider {provider.name}")
    raise UserError(f"{what} works on {able} labs; {why}")


def local_only(state: LabState, command: str) -> LabState:
    """`state`, if its provider drives daemons here (`lab COMMAND` needs that)."""
    from lab import providers

    require(providers.of(state), LOCAL_DAEMONS, f"`lab {command}`")
    return state
