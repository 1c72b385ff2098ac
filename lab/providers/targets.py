"""Where a command runs: a node or VM name of a lab -> its namespace and environment."""

from __future__ import annotations

from ipaddress import ip_address
from pathlib import Path

from lab.errors import UserError
from lab.ovn.daemons import node_env
from lab.state.store import LabState, node_dir


def centrals_of(state: LabState) -> list[Path]:
    """Every central's directory (1, or 3 in a raft cluster) as this process reaches it:
    the lab's own clients reach the databases through their unix sockets (Provider.db_dirs;
    an ssh lab's are forwarded from its central host)."""
    from lab import providers

    return providers.of(state).db_dirs(state)


def central_dirs(state: LabState) -> list[Path]:
    """The centrals' own directories in the lab's state directory. Labs from before
    clusters record one central."""
    names = state.info.centrals or [state.info.central]
    return [node_dir(state, name) for name in names]


def netns_env(state: LabState, target: str) -> tuple[str, dict[str, str]]:
    """Namespace of a node or VM, and the env that points stock OVS/OVN tools at the node's
    daemons (VMs and host nodes get none: they are plain machines)."""
    info = state.info
    if target in info.nodes:
        node = info.nodes[target]
        if node.role == "host":
            return node.netns, {}
        return node.netns, node_env(node_dir(state, target), centrals_of(state))
    if target in info.vms:
        return info.vms[target].netns, {}
    known = ", ".join([*info.nodes, *info.vms])
    raise UserError(f"'{target}' is not a node or VM of lab {state.name} (known: {known})")


def address_of(state: LabState, target: str, family: int | None = None) -> str:
    """A VM's address (its `ip`; with family 6 its IPv6 one), a host node's first fabric
    address, or the target itself when it is an IPv4 or IPv6 address."""
    vms = state.info.vms
    if target in vms:
        vm = vms[target]
        addresses = [a.split("/")[0] for a in (vm.ip, vm.ipv6) if a]
        if family is None:
            return addresses[0]
        found = [a for a in addresses if a != "dynamic" and ip_address(a).version == family]
        if not found:
            raise UserError(f"VM {target} has no IPv{family} address in lab {state.name}")
        return found[0]
    node = state.info.nodes.get(target)
    if node and node.role == "host":
        for link in node.links.values():
            if link.address:
                return str(link.address).split("/")[0]
    try:
        return str(ip_address(target))
    except ValueError:
        raise UserError(
            f"'{target}' is neither a VM of lab {state.name} nor an IPv4 or IPv6 address"
        ) from None
