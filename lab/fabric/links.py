"""Link plumbing with pyroute2, always inside a named namespace (never the host's)."""

from __future__ import annotations

import errno
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from ipaddress import (
    IPv4Address,
    IPv4Interface,
    IPv4Network,
    IPv6Address,
    IPv6Interface,
    IPv6Network,
)
from typing import TYPE_CHECKING

from lab.errors import RuntimeFailure
from lab.fabric import nsfs
from lab.plan.commands import vm_ipv6_settings

if TYPE_CHECKING:  # pyroute2 is imported where links are made: commands that only read stay fast
    from pyroute2 import IPRoute

    from lab.plan.model import VMPlan

IFA_F_NODAD = 0x02  # linux/if_addr.h: no duplicate address detection for this address
LOOPBACK_INDEX = 1  # `lo` is interface 1 in every network namespace

# Checksum offload makes veths hand half-checksummed TCP to the OVS userspace
# datapath, which sends it on as is: TCP stalls. Turn it off on every lab veth.
TX_CSUM_FEATURES = (
    "tx-checksum-ip-generic",
    "tx-checksum-ipv4",
    "tx-checksum-ipv6",
    "tx-checksum-sctp",
)


@contextmanager
def ipr(netns: str) -> Iterator[IPRoute]:
    """An rtnetlink handle inside a namespace; netlink errors become RuntimeFailure.

    The socket is opened with this thread switched into the namespace (a netlink socket
    stays bound to the namespace it was created in): IPRoute(netns=...) would fork a
    helper process per handle, which at a thousand VMs is most of the cost."""
    from pyroute2 import IPRoute
    from pyroute2.netlink.exceptions import NetlinkError

    with in_netns(netns):
        handle = IPRoute()
    try:
        yield handle
    except NetlinkError as exc:
        raise RuntimeFailure(f"netlink in namespace {netns}: {exc}") from exc
    finally:
        handle.close()


def index(handle: IPRoute, ifname: str) -> int:
    found = handle.link_lookup(ifname=ifname)
    if not found:
        raise RuntimeFailure(f"interface '{ifname}' not found")
    return int(found[0])


def add_bridge(handle: IPRoute, name: str, mtu: int | None = None) -> None:
    kwargs: dict[str, object] = {"ifname": name, "kind": "bridge"}
    if mtu:
        kwargs["mtu"] = mtu
    handle.link("add", **kwargs)
    handle.link("set", index=index(handle, name), state="up")


def add_veth(
    handle: IPRoute,
    fabric_if: str,
    bridge: str | None,
    peer: str,
    peer_netns: str,
    mtu: int | None,
) -> None:
    """A veth whose one end is here (a port of `bridge`, if given) and whose other end is
    born in peer_netns."""
    kwargs: dict[str, object] = {
        "ifname": fabric_if,
        "kind": "veth",
        "peer": {"ifname": peer, "net_ns_fd": peer_netns, **({"mtu": mtu} if mtu else {})},
    }
    if mtu:
        kwargs["mtu"] = mtu
    handle.link("add", **kwargs)
    if bridge is None:
        handle.link("set", index=index(handle, fabric_if), state="up")
    else:
        handle.link("set", index=index(handle, fabric_if), master=index(handle, bridge), state="up")


def up(handle: IPRoute, ifname: str, mtu: int | None = None) -> None:
    kwargs: dict[str, object] = {"index": index(handle, ifname), "state": "up"}
    if mtu:
        kwargs["mtu"] = mtu
    handle.link("set", **kwargs)


def add_address(
    handle: IPRoute, ifname: str, address: IPv4Interface | IPv6Interface, idx: int | None = None
) -> None:
    """An address (IPv6: usable at once, `nodad`: the lab's addresses are unique by rule)."""
    v6 = {"family": socket.AF_INET6, "flags": IFA_F_NODAD} if address.version == 6 else {}
    try:
        handle.addr(
            "add",
            index=idx if idx is not None else index(handle, ifname),
            address=str(address.ip),
            prefixlen=address.network.prefixlen,
            **v6,
        )
    except Exception as exc:  # NetlinkError: EEXIST on a re-run is fine
        if getattr(exc, "code", None) != errno.EEXIST:
            raise


def add_route(
    handle: IPRoute,
    prefix: IPv4Network | IPv6Network | None,
    gateway: IPv4Address | IPv6Address,
) -> None:
    dst = "default" if prefix is None or prefix.prefixlen == 0 else str(prefix)
    family = socket.AF_INET6 if gateway.version == 6 else socket.AF_INET
    try:
        handle.route("add", dst=dst, gateway=str(gateway), family=family)
    except Exception as exc:
        if getattr(exc, "code", None) != errno.EEXIST:
            raise


def move_to_netns(handle: IPRoute, ifname: str, netns: str) -> None:
    handle.link("set", index=index(handle, ifname), net_ns_fd=netns)


@contextmanager
def in_netns(netns: str) -> Iterator[None]:
    """Run the block with this thread inside a namespace (for ioctl, /proc/sys/net and socket
    calls). Only the calling thread switches, so threads do this side by side."""
    with nsfs.entered(nsfs.NETNS_DIR / netns):
        yield


def disable_ipv6(netns: str) -> None:
    """No IPv6 in lab namespaces: the lab is IPv4, and router/neighbour solicitations
    would only be noise in CAM tables and captures. /proc/sys/net is per namespace."""
    with in_netns(netns):
        for scope in ("all", "default"):
            with open(f"/proc/sys/net/ipv6/conf/{scope}/disable_ipv6", "w") as fh:
                fh.write("1")


def tx_checksum_off(netns: str, ifnames: list[str]) -> None:
    """ethtool -K IF tx off, in a namespace."""
    with in_netns(netns):
        from pyroute2.ethtool import Ethtool

        tool = Ethtool()
        try:
            for ifname in ifnames:
                features = tool.get_features(ifname)
                for name in TX_CSUM_FEATURES:
                    if name in features.features:
                        features.features[name].enable = False
                tool.set_features(ifname, features)
        finally:
            tool.close()


def enable_ipv6(netns: str) -> None:
    """IPv6 on in a node's namespace (an IPv6 underlay), for interfaces made from now on:
    no duplicate address detection, no router advertisements, no SLAAC (the lab gives
    every address)."""
    settings = {"disable_ipv6": "0", "accept_dad": "0", "accept_ra": "0", "autoconf": "0"}
    with in_netns(netns):
        for scope in ("all", "default", "lo"):
            for key, value in settings.items():
                with open(f"/proc/sys/net/ipv6/conf/{scope}/{key}", "w") as fh:
                    fh.write(value)


def enable_vm_ipv6(vm: VMPlan) -> None:
    """IPv6 on in a VM namespace, with the VM's settings as the namespace's defaults, so
    the VM's interface has them from the moment it arrives (internal ports move in from
    the chassis, veths are born here), before it is up."""
    settings = vm_ipv6_settings(vm)
    with in_netns(vm.netns):
        for scope in ("all", "default"):
            for key, value in settings.items():
                if scope == "all" and key not in ("disable_ipv6", "accept_dad"):
                    continue
                with open(f"/proc/sys/net/ipv6/conf/{scope}/{key}", "w") as fh:
                    fh.write(value)
        with open("/proc/sys/net/ipv6/conf/lo/disable_ipv6", "w") as fh:
            fh.write("0")
