"""Tunnel keys pinned in a topology (`tunnel_key:`) that collide in one scope."""

from __future__ import annotations

from lab.topology.model import Topology


def duplicate_keys(topo: Topology) -> list[tuple[tuple[str, ...], int, str]]:
    """(path of the later one, key, what already has it) for every pinned key used twice
    in one scope: the datapaths, or the ports of one switch or router."""
    found: list[tuple[tuple[str, ...], int, str]] = []

    def scan(items: list[tuple[tuple[str, ...], str, int | None]]) -> None:
        first: dict[int, str] = {}
        for path, what, key in items:
            if key is None:
                continue
            if key in first:
                found.append((path, key, first[key]))
            else:
                first[key] = what

    scan(
        [
            *((("ovn", "switches", n), f"switch {n}", s.tunnel_key)
              for n, s in topo.ovn.switches.items()),
            *((("ovn", "routers", n), f"router {n}", r.tunnel_key)
              for n, r in topo.ovn.routers.items()),
        ]
    )  # fmt: skip
    for switch in topo.ovn.switches:
        scan(
            [
                (("vms", name), f"VM {name}", vm.tunnel_key)
                for name, vm in topo.vms.items()
                if vm.switch == switch
            ]
        )
    for rname, router in topo.ovn.routers.items():
        scan(
            [
                (("ovn", "routers", rname, "ports", p), f"router port {p}", port.tunnel_key)
                for p, port in router.ports.items()
            ]
        )
    return found
