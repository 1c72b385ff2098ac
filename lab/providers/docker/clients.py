"""Where the lab's own OVN clients run when nodes run other OVS/OVN than the host.

OVSDB is wire compatible across releases, so ovn-nbctl/ovn-sbctl/ovs-vsctl on the host
reach any node's databases. Tools that *interpret* OVN's logical flows — ovn-trace, and
ovn-nbctl/ovn-sbctl commands that know the schema's meaning — must be of the central's
release: an older ovn-trace drops packets in stages it has never heard of. On a docker
lab they run inside the central's container (which mounts the central's directory, so
the unix: remotes are the same paths).
"""

from __future__ import annotations

from collections.abc import Sequence

from lab.state.store import LabState, node_dir


def central_container(state: LabState) -> str | None:
    """The name of the (first) central's container, on a docker lab whose central does
    not run the host's build; None where the host's own tools are the right version."""
    from lab.providers.docker.containers import container_of

    names = state.info.centrals or [state.info.central]
    if not names or names[0] is None:
        return None
    builds = state.info.builds
    if builds.get(names[0], "host") == "host":
        return None
    info = container_of(node_dir(state, names[0]))
    return str(info["name"]) if info else None


def at_central(state: LabState, argv: Sequence[str]) -> list[str]:
    """argv as it should run: unchanged, or through `docker exec` in the central."""
    name = central_container(state)
    if name is None:
        return list(argv)
    return ["docker", "exec", name, *argv]
