"""Pure helpers shared by the validator, the planner and the checks (no pydantic here):
load balancer VIPs and backends as written ("10.0.0.100:80", "vm1:8080",
"[2001:db8::1]:80"), and which router port a next hop is on."""

from __future__ import annotations

from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Interface, IPv6Address, ip_address
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from lab.topology.model import Router

PORT_RANGE = (1, 65535)


@dataclass(frozen=True)
class Endpoint:
    host: str  # an address, or (backends) a VM name
    port: int | None
    address: IPv4Address | IPv6Address | None  # None when `host` is a name

    def ovn(self, address: str | None = None) -> str:
        """As OVN writes it: "10.0.0.10:8080", "[2001:db8::10]:8080", or the bare address."""
        text = address or str(self.address)
        if ":" in text and self.port is not None:
            text = f"[{text}]"
        return text if self.port is None else f"{text}:{self.port}"


class EndpointError(ValueError):
    """A VIP or backend that cannot be read; the message says what is wrong."""


def parse_endpoint(text: str) -> Endpoint:
    """`host[:port]`; IPv6 with a port is written `[address]:port`."""
    text = str(text).strip()
    host, port_text = text, None
    if text.startswith("["):
        close = text.find("]")
        if close < 0:
            raise EndpointError(f"{text!r} has '[' without ']'; write it like [2001:db8::1]:80")
        host, rest = text[1:close], text[close + 1 :]
        if rest:
            if not rest.startswith(":"):
                raise EndpointError(
                    f"{text!r} is not [address]:port; write it like [2001:db8::1]:80"
                )
            port_text = rest[1:]
    elif text.count(":") == 1:
        host, port_text = text.split(":")
    port = None
    if port_text is not None:
        if not port_text.isdigit():
            raise EndpointError(f"port {port_text!r} of {text!r} is not a number; write it like 80")
        port = int(port_text)
        low, high = PORT_RANGE
        if not low <= port <= high:
            raise EndpointError(f"port {port} of {text!r} is out of range; use {low} to {high}")
    try:
        address: IPv4Address | IPv6Address | None = ip_address(host)
    except ValueError:
        address = None
    if not host:
        raise EndpointError(f"{text!r} has no address or VM name; write it like vm1:8080")
    return Endpoint(host, port, address)


def networks_of(router: Router) -> list[tuple[str, IPv4Interface]]:
    return [(p, net) for p, port in router.ports.items() for net in port.networks]


def is_gateway_port(router: Router, port: str) -> bool:
    """Traffic through this port is handled on one chassis (where BFD and LB run)."""
    rport = router.ports.get(port)
    if router.chassis is not None:
        return True
    return rport is not None and bool(rport.gateway_chassis or rport.ha_chassis_group)


def port_for(router: Router, address: IPv4Address) -> str | None:
    """The router port whose network holds `address`."""
    for port, net in networks_of(router):
        if address in net.network:
            return port
    return None
