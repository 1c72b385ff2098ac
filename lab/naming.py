"""Names: what a topology may call things, and how lab resources are named from them.

Every resource a lab creates carries the lab's name, so two labs never collide
and teardown can tell what is its own. Linux interface names are at most 15
characters; longer derived names are mapped deterministically (truncated, plus
a short hash of the full name) rather than rejected.
"""

from __future__ import annotations

import hashlib
import re

from lab.errors import UserError

IFNAMSIZ = 15

# DESIGN.md says {0,11}, but its own example ("geneve-router") is longer and no resource
# here needs the limit (veths live inside lab namespaces); 24 keeps socket paths short.
# The providers a topology may name (`provider:`), the first the default, each a package of
# lab/providers registered in lab.providers.REGISTRY; and whether its nodes can run an OVS/OVN
# build other than the host's (`build:`), which the loader must know before any provider.
PROVIDER_RUNS_BUILDS = {"netns": False, "docker": True, "ssh": False}
PROVIDERS = tuple(PROVIDER_RUNS_BUILDS)
DEFAULT_PROVIDER = PROVIDERS[0]
# where a lab goes that asks for a non-host build and names no provider
BUILDS_PROVIDER = next(name for name, runs in PROVIDER_RUNS_BUILDS.items() if runs)
LAB_NAME = re.compile(r"^[a-z][a-z0-9-]{0,23}$")
# Nodes and VMs become namespace and interface names.
NODE_NAME = re.compile(r"^[a-z][a-z0-9-]{0,14}$")
# Fabric names become bridge names "br-<fabric>" and node interface names.
FABRIC_NAME = re.compile(r"^[a-z][a-z0-9]{0,9}$")
# OVN object names (switches, routers, ports): OVN accepts more, we accept what
# is safe on a command line and readable in `ovn-nbctl show`.
OVN_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$")

RESERVED_NODE_NAMES = frozenset({"fabric"})

LAB_NAME_RULE = "start with a lowercase letter, then up to 23 lowercase letters, digits or '-'"
NODE_NAME_RULE = "start with a lowercase letter, then up to 14 lowercase letters, digits or '-'"
FABRIC_NAME_RULE = "start with a lowercase letter, then up to 9 lowercase letters or digits"
OVN_NAME_RULE = "letters, digits, '_', '.', ':' or '-', starting with a letter or digit"


def check_lab_name(name: object, where: str = "lab name") -> str:
    """`name` if it is a valid lab name, else UserError. Every path and resource name built
    from a lab name (state directory, lock file, namespaces, docker labels) goes through
    this first, whether the name came from a file, the command line, a state file or a
    docker label: an empty or odd name must never reach `rmtree(root / name)`."""
    if not isinstance(name, str) or not LAB_NAME.fullmatch(name):
        raise UserError(f"{where} {name!r} is not a valid lab name; it must {LAB_NAME_RULE}")
    return name


def is_lab_name(name: object) -> bool:
    return isinstance(name, str) and LAB_NAME.fullmatch(name) is not None


def short_hash(text: str, length: int = 4) -> str:
    return hashlib.sha1(text.encode()).hexdigest()[:length]


def ifname(base: str, suffix: str = "") -> str:
    """`base + suffix` if it fits in IFNAMSIZ, else a truncated base with a hash of the whole."""
    full = base + suffix
    if len(full) <= IFNAMSIZ:
        return full
    keep = IFNAMSIZ - len(suffix) - 4
    return base[:keep] + short_hash(full) + suffix


# Between the lab's name and a member's in machine-wide names (namespaces, containers).
# No lab, node or VM name may contain it, so the mapping is injective: lab `pa-b` node `x`
# is `pa-b.x`, lab `pa` node `b-x` is `pa.b-x` (with "-" both would be `pa-b-x`).
SEP = "."


def netns_name(lab: str, member: str) -> str:
    """Namespace (and docker container) of a node or VM: `<lab>.<member>`."""
    return f"{lab}{SEP}{member}"


def fabric_netns(lab: str) -> str:
    """The per-lab namespace holding the fabric bridges (the ToR)."""
    return f"{lab}{SEP}fabric"


def lab_prefix(lab: str) -> str:
    """What every machine-wide name of lab `lab` starts with (and no other lab's does)."""
    return f"{lab}{SEP}"


def fabric_bridge(fabric: str) -> str:
    """Bridge for a fabric inside the fabric namespace, and OVS bridge on a chassis."""
    return f"br-{fabric}"


def fabric_port(node: str, fabric: str) -> str:
    """Fabric-side veth end of a node's link (shown in the ToR CAM table)."""
    return ifname(f"{node}-{fabric}")


def node_port(fabric: str) -> str:
    """Node-side veth end of its link to a fabric: named after the fabric (e.g. `overlay`)."""
    return fabric


def vm_chassis_port(vm: str, attach: str) -> str:
    """The VM's port on the chassis br-int: the VM name for internal ports (as in the
    OVN tutorials), a `-p` suffixed name for the chassis end of a veth."""
    return vm if attach == "internal" else ifname(vm, "-p")


def vm_ifname(vm: str) -> str:
    """The VM's interface name inside its namespace."""
    return vm


def chassis_mac(lab: str, node: str, fabric: str) -> str:
    """A stable, locally administered unicast MAC for a chassis on a VLAN fabric."""
    digest = hashlib.sha1(f"{lab}/{node}/{fabric}".encode()).hexdigest()
    return "0e:" + ":".join(digest[i : i + 2] for i in range(0, 10, 2))


def overlay_mac(encap_ip: str) -> str:
    """The MAC of a chassis' overlay bridge, derived from its tunnel address so every
    chassis knows every other's without asking (locally administered, unicast)."""
    if ":" in encap_ip:  # an IPv6 underlay: its last four bytes (unique in a /64 lab)
        import ipaddress

        octets = list(ipaddress.IPv6Address(encap_ip).packed[-4:])
    else:
        octets = [int(x) for x in encap_ip.split(".")]
    return "02:00:" + ":".join(f"{o:02x}" for o in octets)


def vm_mac(lab: str, vm: str) -> str:
    """A stable, locally administered unicast MAC for a VM added without one."""
    digest = hashlib.sha1(f"{lab}/vm/{vm}".encode()).hexdigest()
    return "0a:" + ":".join(digest[i : i + 2] for i in range(0, 10, 2))
