"""A docker lab's nodes: one container each, its network namespace pinned as the node's."""

from __future__ import annotations

from lab.ovn import daemons
from lab.plan.model import NodePlan, Plan
from lab.providers.docker.ownership import create_container
from lab.providers.netns.build import central_dirs
from lab.state.store import LabState, node_dir
from lab.testhooks import checkpoint


def create_node_container(plan: Plan, node: NodePlan, state: LabState, image: str) -> None:
    """A node as a docker container whose network namespace is pinned as the node's."""
    from lab.fabric import links

    directory = node_dir(state, node.name)
    directory.mkdir(mode=0o700, exist_ok=True)
    # the centrals' directories too: `lab exec NODE -- ovn-sbctl ...` reaches the databases
    # by their unix sockets, as on the netns provider
    extra = [
        node_dir(state, n.name)
        for n in plan.nodes.values()
        if n.role == "central" and n.name != node.name
    ]
    for path in extra:
        path.mkdir(mode=0o700, exist_ok=True)
    if plan.ssl and node.role != "host":  # the node's own key and certificate, and the CA's
        from lab.ovn import pki

        files = pki.ensure_node(state.dir, plan.lab, node.name)
        extra += [files.private_key, files.certificate, files.ca_cert]
    # the env `lab exec` sets, as the container's own: a bare `docker exec NODE ovs-vsctl
    # show` (or testinfra's docker backend) reaches the node's daemons too
    env = {} if node.role == "host" else daemons.node_env(directory, central_dirs(plan, state))
    create_container(state, node.name, node.netns, image, directory, extra, env)
    checkpoint("container", node.name)  # docker only, so not in testhooks.CHECKPOINTS
    links.disable_ipv6(node.netns)
