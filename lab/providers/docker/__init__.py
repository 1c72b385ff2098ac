"""Provider docker: every node is a container `<lab>.<node>` with its own filesystem, process
tree and OVS/OVN build (`build:`); the fabric and the VMs are built as on provider netns,
whose code this provider reuses by inheritance (only the nodes and how to reach into them
differ)."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Sequence
from typing import TYPE_CHECKING

from lab.providers import base
from lab.providers.docker import builds
from lab.providers.docker import containers as dockerprov
from lab.providers.docker.ownership import (
    claim_vm_netns_dir,
    owns_vm_netns_dir,
    removable_containers,
)
from lab.providers.docker.runner import ContainerRunner
from lab.providers.netns import NetnsProvider
from lab.providers.netns import namespaces as nsprov
from lab.providers.netns.ownership import create_netns, removable_netns
from lab.providers.targets import netns_env
from lab.runner import NetnsRunner, NodeRunner, run
from lab.state.store import LabState, node_dir, remove_state_dir

if TYPE_CHECKING:
    from lab.plan.model import NodePlan, Plan
    from lab.progress import Progress
    from lab.state.info import LabInfo
    from lab.topology.builds import Build
    from lab.topology.model import Topology

IMAGES = "images"  # Prepared.details: node -> image


class DockerProvider(NetnsProvider):
    name = "docker"
    supports = frozenset(base.CAPABILITIES)
    test_as_root = False  # testinfra's docker backend
    why_not: dict[str, str] = {}

    # --- bring-up and teardown --------------------------------------------------------

    def prepare(
        self, topo: Topology, plan: Plan, options: base.UpOptions, progress: Progress
    ) -> base.Prepared:
        self.refuse_host_placement(options)
        images = builds.images_for(plan, progress)  # found, or built once with progress
        builds.refuse_mix(plan, images)
        return base.Prepared(plan, {IMAGES: images})

    def runtime_info(self, prepared: base.Prepared, info: LabInfo) -> None:
        images = prepared.details[IMAGES]
        info.image = images[next(iter(prepared.plan.nodes))]
        info.images = dict(images)

    def create(
        self,
        prepared: base.Prepared,
        state: LabState,
        progress: Progress,
        options: base.UpOptions,
    ) -> None:
        from lab.providers.netns import build  # pyroute2 and the ovn layer: only to build

        nodes = _Containers(self, prepared.details[IMAGES])
        build.build(prepared.plan, state, progress, nodes, options.nb_backup)

    def destroy(self, state: LabState, forget_unreachable: bool = False) -> list[int]:
        """The containers first: docker stops their processes itself (left to the netns
        sweep, their init would be killed and docker would only notice later); then the
        fabric and VM namespaces, the VM pin directory, the state directory."""
        containers = removable_containers(state)
        in_containers: set[int] = set()
        if containers:
            mine = set(state.resources.get("container", []))
            in_containers = set(nsprov.pids_in([c for c in containers if c in mine]))
            dockerprov.remove_lab_containers(
                state.name,
                required=bool(mine),
                names=containers,
                instance=state.instance,
                unlabelled_root=not state.instance,  # a lab brought up before these labels
            )
        pids = self.remove_namespaces(state, removable_netns(state), in_containers)
        if owns_vm_netns_dir(state):
            dockerprov.remove_vm_netns_dirs(state.name)
        remove_state_dir(state.name)
        return pids

    def sweep(self, name: str) -> list[str]:
        """No state: the lab's containers by label, its VM pin directory, then the
        namespaces by name (as provider netns)."""
        containers = dockerprov.remove_lab_containers(name, unlabelled_root=True)
        found = super().sweep(name)
        dockerprov.remove_vm_netns_dirs(name)
        return [*(f"container {c}" for c in containers), *found]

    def remove_orphan(self, name: str) -> list[str]:
        """A lab whose state file is lost: its containers by label; its fabric and VM
        namespaces by the names the lab gives them (the VMs are listed in the chassis' pin
        directories). Returns the containers removed."""
        from lab import naming

        vms = dockerprov.pinned_vms(name)
        removed = dockerprov.remove_lab_containers(name)
        if not removed:
            return []
        namespaces = [
            *removed,
            naming.fabric_netns(name),
            *(naming.netns_name(name, v) for v in vms),
        ]
        nsprov.kill_all_in(namespaces)
        dockerprov.remove_vm_netns_dirs(name)
        for ns in namespaces:
            nsprov.remove(ns)
        return removed

    def orphans(self) -> list[str]:
        """Labs that still have containers (by label) but may have lost their state."""
        from lab.errors import LabError
        from lab.naming import is_lab_name

        if not dockerprov.DOCKER_SOCKET.exists():
            return []
        try:
            found = dockerprov.lab_containers(None)
        except LabError:
            return []
        # a label is anyone's to write: only valid lab names are ever used to build names
        labels = {
            c.labels.get(dockerprov.LAB_LABEL, "") for c in found if dockerprov.in_this_root(c)
        }
        return sorted(n for n in labels if is_lab_name(n))

    def warnings(self, state: LabState) -> list[str]:
        return builds.version_warnings(state)  # mixed OVN releases: OVN's upgrade guide

    # --- a running lab ------------------------------------------------------------------

    def node_runner(self, state: LabState, node: str) -> NodeRunner:
        runner = ContainerRunner.of(node_dir(state, node))
        # a node whose container is not made yet (or gone) is reached as its namespace
        return runner or NetnsRunner(state.info.nodes[node].netns)

    def _container(self, state: LabState, target: str) -> str | None:
        if target not in state.info.nodes:
            return None  # VMs are namespaces, as on provider netns
        runner = ContainerRunner.of(node_dir(state, target))
        return runner.name if runner else None

    def exec(self, state: LabState, target: str, argv: Sequence[str]) -> int:
        """Inside the node's container (its own binaries and PID namespace)."""
        import sys

        container = self._container(state, target)
        if container is None:
            return super().exec(state, target, argv)
        _, env = netns_env(state, target)
        os.execvp("docker", dockerprov.exec_argv(container, argv, env, tty=sys.stdin.isatty()))
        return 0  # not reached

    def run_inside(
        self, state: LabState, target: str, argv: Sequence[str], timeout: float = 30
    ) -> subprocess.CompletedProcess[str]:
        """As `lab exec` runs it: inside a node's container (pidfiles name its PIDs)."""
        container = self._container(state, target)
        if container is None:
            return self.run(state, target, argv, timeout)
        _, env = netns_env(state, target)
        return run(
            dockerprov.exec_argv(container, argv, env, tty=False), check=False, timeout=timeout
        )

    def ovn_tool(self, state: LabState, argv: Sequence[str]) -> list[str]:
        """Tools that interpret logical flows must be of the central's release: on a lab
        whose central does not run the host's build, they run inside its container."""
        from lab.providers.docker.clients import at_central

        return at_central(state, argv)

    def spared_pids(self, state: LabState, node: str) -> set[int]:
        """The processes that keep a node's container alive, spared by `lab stop`."""
        return dockerprov.container_init_pids(node_dir(state, node))

    def versions(self, state: LabState) -> dict[str, tuple[str, str]]:
        return builds.node_versions(state)

    # --- upgrade ------------------------------------------------------------------------

    def image_for(self, build: Build, progress: object | None = None) -> str:
        return builds.image_for(build, progress)  # type: ignore[arg-type]

    def image_versions(self, image: str) -> tuple[str, str]:
        return builds.versions_of_image(image)

    def replace_node_image(self, state: LabState, node: str, image: str) -> None:
        """The node as a new container of `image` in its own network namespace, with the
        same directory bind-mounted (its databases stay). The first container stays as
        the namespace's holder, under a new name: recorded first, so `lab down` removes
        it too (it is the lab's own container)."""
        netns = state.info.nodes[node].netns
        assert netns is not None  # a docker node is a namespace of this machine
        state.record("container", netns + dockerprov.HOLDER_SUFFIX)
        dockerprov.recreate_node(netns, image, node_dir(state, node))

    def testinfra_url(self, state: LabState, target: str) -> str:
        # testinfra's own backend for nodes (containers named like their namespace, with
        # the node's OVS/OVN environment); VMs are namespaces, as on the netns provider
        if target in state.info.vms:
            return super().testinfra_url(state, target)
        from lab import naming

        return f"docker://{naming.netns_name(state.name, target)}"


class _Containers:
    """The nodes of one docker lab's bring-up (lab.providers.netns.build.Nodes): a container
    each, of its build's image, whose network namespace is pinned as the node's."""

    def __init__(self, provider: DockerProvider, images: dict[str, str]):
        self.provider = provider
        self.images = images

    def make_nodes(self, plan: Plan, state: LabState, progress: Progress) -> None:
        create_netns(state, [plan.fabric_netns])
        claim_vm_netns_dir(state)

    def make_node(self, plan: Plan, node: NodePlan, state: LabState) -> None:
        from lab.providers.docker.nodes import create_node_container

        create_node_container(plan, node, state, self.images[node.name])

    def runner_for(self, state: LabState, node: str) -> NodeRunner:
        return self.provider.node_runner(state, node)
