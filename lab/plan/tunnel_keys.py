"""Deterministic tunnel keys: the same file gives the same keys on every `lab up`.

ovn-northd hands out datapath and port keys in whatever order it meets the rows, which
changes from run to run. A learner comparing with an article, a bug bundle, or a diff of
logical flows between two labs needs them fixed, so every switch, router and port asks
for its key (OVN's `requested-tnl-key`): datapaths in file order (switches, then
routers); on each switch its VM ports (in file order) before its router ports, then its
localnet port, as the seed article creates them (so its lab shows Geneve option
`00020001`); on each router its ports in file order. An explicit `tunnel_key:` pins one
value; the others skip it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from lab.topology.model import Topology


@dataclass
class TunnelKeys:
    switches: dict[str, int] = field(default_factory=dict)
    routers: dict[str, int] = field(default_factory=dict)
    # logical switch port name -> key (in its switch), router port name -> key (in its router)
    switch_ports: dict[str, int] = field(default_factory=dict)
    router_ports: dict[str, int] = field(default_factory=dict)


def _assign(names: Iterable[tuple[str, int | None]]) -> dict[str, int]:
    """Pinned keys as given; the rest the smallest free keys, in order."""
    names = list(names)
    used = {key for _, key in names if key is not None}
    keys: dict[str, int] = {}
    candidate = 1
    for name, pinned in names:
        if pinned is not None:
            keys[name] = pinned
            continue
        while candidate in used:
            candidate += 1
        keys[name] = candidate
        used.add(candidate)
    return keys


def switch_port_order(topo: Topology, switch: str) -> list[tuple[str, int | None]]:
    """(port, pinned key) of one switch's ports, in the order their keys are given."""
    from lab.plan.model import localnet_port

    ports: list[tuple[str, int | None]] = [
        (topo.vm_port(name), vm.tunnel_key) for name, vm in topo.vms.items() if vm.switch == switch
    ]
    for rname, router in topo.ovn.routers.items():
        for port in router.ports.values():
            if port.switch == switch:
                ports.append((port.peer or f"{port.switch}-{rname}", None))
    if topo.ovn.switches[switch].localnet:
        ports.append((localnet_port(switch), None))
    return ports


def tunnel_keys(topo: Topology) -> TunnelKeys:
    datapaths = _assign(
        [
            *((f"s:{n}", s.tunnel_key) for n, s in topo.ovn.switches.items()),
            *((f"r:{n}", r.tunnel_key) for n, r in topo.ovn.routers.items()),
        ]
    )
    keys = TunnelKeys(
        switches={n: datapaths[f"s:{n}"] for n in topo.ovn.switches},
        routers={n: datapaths[f"r:{n}"] for n in topo.ovn.routers},
    )
    for switch in topo.ovn.switches:
        keys.switch_ports.update(_assign(switch_port_order(topo, switch)))
    for router in topo.ovn.routers.values():
        keys.router_ports.update(_assign((n, p.tunnel_key) for n, p in router.ports.items()))
    return keys
