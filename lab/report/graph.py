"""`lab graph`: a picture of a lab, physical and logical, drawn with Graphviz.

build_graph() is pure: Topology (+ the plan's addresses) -> DOT source. render()
runs `dot` on it and writes the file the user asked for (.svg, .png or .dot).

Physical view: fabric networks (the wires and the ToR), the nodes on them by
role, each node's address on each fabric, the Geneve tunnels between chassis,
and every VM beside the chassis it runs on. Logical view: OVN routers (with
routes and NAT), router ports (MAC, networks, gateway chassis priorities),
logical switches, localnet ports to their fabric (VLAN tag) and the VMs on
each switch. With both views the localnet ports and gateway chassis are tied
across to the physical nodes they live on.
"""

from __future__ import annotations

from html import escape
from pathlib import Path

import graphviz

from lab.errors import LabError, UserError
from lab.plan.model import Plan, localnet_port
from lab.plan.planner import make_plan
from lab.report.views import VIEWS
from lab.topology.model import Nat, RouterRoute, Topology

FORMATS = {".svg": "svg", ".png": "png", ".dot": "dot", ".gv": "dot"}

# Above this many tunnel endpoints the full mesh is summarised instead of drawn.
MAX_DRAWN_TUNNEL_ENDPOINTS = 8

FONT = "DejaVu Sans"
ROLE_TEXT = {
    "central": "central: NB, SB, northd",
    "chassis": "chassis",
    "gateway": "gateway chassis",
    "host": "host",
}
ROLE_STYLE: dict[str, dict[str, str]] = {
    "central": {"shape": "cylinder", "fillcolor": "#cfe2f3", "color": "#3d85c6"},
    "chassis": {"shape": "box3d", "fillcolor": "#d9ead3", "color": "#38761d"},
    "gateway": {"shape": "component", "fillcolor": "#fce5cd", "color": "#b45f06"},
    "host": {"shape": "ellipse", "fillcolor": "#eeeeee", "color": "#666666"},
}
FABRIC_STYLE = {"shape": "box", "style": "filled,bold", "fillcolor": "#fff2cc", "color": "#bf9000"}
VM_STYLE = {"shape": "box", "style": "rounded,filled", "fillcolor": "#ffffff", "color": "#444444"}
SWITCH_STYLE = {"shape": "box", "style": "rounded,filled", "fillcolor": "#dae8fc"}
ROUTER_STYLE = {
    "shape": "box",
    "style": "filled,bold",
    "peripheries": "2",
    "fillcolor": "#f4cccc",
    "color": "#990000",
}
LRP_STYLE = {"shape": "box", "style": "filled", "fillcolor": "#fdf0ef", "color": "#990000"}
LOCALNET_STYLE = {"shape": "box", "style": "filled,dashed", "fillcolor": "#fff2cc"}
TUNNEL_STYLE = {"style": "dashed", "color": "#1155cc", "fontcolor": "#1155cc"}
GATEWAY_EDGE_STYLE = {"style": "dotted", "color": "#b45f06", "fontcolor": "#b45f06"}
LOCALNET_EDGE_STYLE = {"style": "dashed", "color": "#bf9000", "fontcolor": "#7f6000"}


# --- node IDs: "<kind>/<name>"; '/' never occurs in a topology name. OVN names may hold ':',
# which DOT edges read as "node:port", so it is spelled %3A ('%' is not allowed in names either).


def _gid(kind: str, name: str) -> str:
    return f"{kind}/{name.replace(':', '%3A')}"


def fabric_id(name: str) -> str:
    return _gid("fabric", name)


def node_id(name: str) -> str:
    return _gid("node", name)


def phys_vm_id(name: str) -> str:
    return _gid("vm", name)


def switch_id(name: str) -> str:
    return _gid("ls", name)


def router_id(name: str) -> str:
    return _gid("lr", name)


def lrp_id(name: str) -> str:
    return _gid("lrp", name)


def localnet_id(switch: str) -> str:
    return _gid("ln", switch)


def logical_vm_id(name: str) -> str:
    return _gid("lsp-vm", name)


def html_label(title: str, *lines: str) -> str:
    """A Graphviz HTML-like label: the title in bold, detail lines smaller. Escapes all text."""
    parts = [f"<B>{escape(title)}</B>"]
    parts += [f'<BR/><FONT POINT-SIZE="9">{escape(line)}</FONT>' for line in lines if line]
    return "<" + "".join(parts) + ">"


def nat_summary(nat: Nat) -> str:
    logical = (
        str(nat.logical_ip.network_address)
        if nat.logical_ip.prefixlen == 32
        else str(nat.logical_ip)
    )
    if nat.type == "snat":
        text = f"SNAT {logical} → {nat.external_ip}"
    elif nat.type == "dnat":
        text = f"DNAT {nat.external_ip} → {logical}"
    else:
        text = f"DNAT+SNAT {nat.external_ip} ↔ {logical}"
    if nat.logical_port:
        text += f" ({nat.logical_port})"
    return text


# --- the graph ---------------------------------------------------------------------------------


def build_graph(topo: Topology, view: str = "both") -> graphviz.Digraph:
    """The DOT graph of `topo` (not rendered). `view`: physical, logical or both."""
    if view not in VIEWS:
        raise UserError(f"unknown view '{view}'; use one of: {', '.join(VIEWS)}")
    plan = make_plan(topo)
    g = graphviz.Digraph(name=topo.name, comment=f"ovn-lab {topo.name}")
    g.attr(
        rankdir="LR",
        newrank="true",
        nodesep="0.35",
        ranksep="0.7",
        fontname=FONT,
        labelloc="t",
        labeljust="l",
        fontsize="16",
        label=html_label(f"lab {topo.name}", _legend(topo, view)),
    )
    g.attr("node", fontname=FONT, fontsize="11", style="filled", penwidth="1.2")
    g.attr("edge", fontname=FONT, fontsize="9", dir="none", color="#555555")
    # Logical first: in a left-to-right graph dot tends to stack the first cluster lowest,
    # so the physical view usually lands on top.
    if view in ("logical", "both"):
        with g.subgraph(name="cluster_logical") as logical:
            logical.attr(label="logical (OVN)", style="rounded", color="#999999", fontsize="14")
            _logical(logical, topo)
    if view in ("physical", "both"):
        with g.subgraph(name="cluster_physical") as phys:
            phys.attr(label="physical", style="rounded", color="#999999", fontsize="14")
            _physical(phys, topo, plan)
    if view == "both":
        _across(g, topo)
    return g


def _legend(topo: Topology, view: str) -> str:
    """One line naming the edge styles that appear in this picture."""
    parts = []
    tunnel_endpoints = len(topo.chassis) if topo.overlay else 0
    if view in ("physical", "both") and 1 < tunnel_endpoints <= MAX_DRAWN_TUNNEL_ENDPOINTS:
        parts.append("blue dashes: Geneve tunnels")
    if view == "both":
        ports = [p for r in topo.ovn.routers.values() for p in r.ports.values()]
        if any(p.gateway_chassis for p in ports):
            parts.append("orange dots: gateway chassis priority")
        if any(s.localnet for s in topo.ovn.switches.values()):
            parts.append("gold dashes: localnet port to its fabric")
    return " · ".join(parts)


def _physical(g: graphviz.Digraph, topo: Topology, plan: Plan) -> None:
    for name, fab in plan.fabrics.items():
        lines = [str(fab.subnet) if fab.subnet else "no subnet (L2 only)"]
        if name == plan.overlay:
            lines.append("Geneve underlay")
        if fab.vlans:
            lines.append("VLAN trunk (ToR)")
        if fab.mtu:
            lines.append(f"mtu {fab.mtu}")
        lines.append(f"{fab.bridge} in {plan.fabric_netns}")
        g.node(fabric_id(name), html_label(f"fabric {name}", *lines), **FABRIC_STYLE)

    for name, node in plan.nodes.items():
        lines = [ROLE_TEXT[node.role]]
        if node.encap_ip is not None:
            lines.append(f"encap {node.encap_ip}")
        lines += [f"{f} → {b}" for f, b in node.bridge_mappings.items()]
        for route in node.routes:
            lines.append(f"route {route.prefix} via {route.nexthop}")
        style = {"style": "filled", **ROLE_STYLE[node.role]}
        vms = plan.vms_on(name)
        if vms:
            # The chassis and its VMs in one box: "VMs inside their chassis".
            with g.subgraph(name=f"cluster_host_{name}") as host:
                host.attr(label="", style="rounded,dashed", color=ROLE_STYLE[node.role]["color"])
                host.node(node_id(name), html_label(name, *lines), **style)
                for vm in vms:
                    port = f"br-int port {vm.chassis_if} ({vm.attach})"
                    host.node(
                        phys_vm_id(vm.name), html_label(vm.name, str(vm.ip), port), **VM_STYLE
                    )
                    host.edge(phys_vm_id(vm.name), node_id(name))
        else:
            g.node(node_id(name), html_label(name, *lines), **style)
        for link in node.links:
            if link.address is not None:
                text = str(link.address)
            elif link.ovs_bridge:
                text = link.ovs_bridge
            else:
                text = link.node_if
            g.edge(
                node_id(name),
                fabric_id(link.fabric),
                taillabel=text,
                labeldistance="7",
                labelangle="12",
            )

    endpoints = [n for n in plan.chassis() if n.encap_ip is not None]
    if len(endpoints) > MAX_DRAWN_TUNNEL_ENDPOINTS:
        count = len(endpoints) * (len(endpoints) - 1) // 2
        g.node(
            "note/tunnels",
            html_label("Geneve", f"full mesh of {count} tunnels between {len(endpoints)} chassis"),
            shape="note",
            fillcolor="#eaf1fb",
        )
        return
    pairs = [(a, b) for i, a in enumerate(endpoints) for b in endpoints[i + 1 :]]
    for a, b in pairs:
        # A few tunnels are named on the edge; a bigger mesh relies on the legend.
        label = "Geneve tunnel" if len(pairs) <= 3 else ""
        g.edge(
            node_id(a.name),
            node_id(b.name),
            xlabel=label,
            constraint="false",
            **TUNNEL_STYLE,
        )


def _logical(g: graphviz.Digraph, topo: Topology) -> None:
    for name, router in topo.ovn.routers.items():
        lines = ["logical router"]
        if router.chassis:
            lines.append(f"gateway router on {router.chassis}")
        lines += [_route_line(r) for r in router.routes]
        lines += [
            f"policy {p.priority} {p.action}" + (f" {p.nexthop}" if p.nexthop else "")
            for p in router.policies
        ]
        lines += [f"load balancer {lb}" for lb in router.load_balancers]
        lines += [nat_summary(nat) for nat in router.nat]
        lines += [f"{key}={value}" for key, value in router.options.items()]
        g.node(router_id(name), html_label(name, *lines), **ROUTER_STYLE)
        for pname, port in router.ports.items():
            plines = [port.mac.lower(), *(str(n) for n in port.networks)]
            if port.gateway_chassis:
                ranked = sorted(port.gateway_chassis.items(), key=lambda kv: -kv[1])
                plines.append("gateway " + ", ".join(f"{c}:{p}" for c, p in ranked))
            if port.ha_chassis_group:
                members = topo.ovn.ha_chassis_groups.get(port.ha_chassis_group, {})
                ranked = sorted(members.items(), key=lambda kv: -kv[1])
                plines.append(
                    f"HA group {port.ha_chassis_group} " + ", ".join(f"{c}:{p}" for c, p in ranked)
                )
            g.node(lrp_id(pname), html_label(pname, *plines), **LRP_STYLE)
            g.edge(router_id(name), lrp_id(pname))
            g.edge(lrp_id(pname), switch_id(port.switch), label=port.peer or "")

    for name, switch in topo.ovn.switches.items():
        lines = ["logical switch"]
        lines += [f"{key}={value}" for key, value in switch.other_config.items()]
        lines += [f"load balancer {lb}" for lb in switch.load_balancers]
        g.node(switch_id(name), html_label(name, *lines), **SWITCH_STYLE)
        if switch.localnet is not None:
            ln = switch.localnet
            llines = ["localnet", f"network {ln.network}"]
            llines.append(f"VLAN {ln.vlan}" if ln.vlan is not None else "untagged")
            g.node(localnet_id(name), html_label(localnet_port(name), *llines), **LOCALNET_STYLE)
            g.edge(switch_id(name), localnet_id(name))

    for name, vm in topo.vms.items():
        port = topo.vm_port(name)
        lines = [str(vm.ip), vm.mac.lower()]
        if port != name:
            lines.append(f"port {port}")
        lines.append(f"on {vm.chassis}")
        g.node(logical_vm_id(name), html_label(name, *lines), **VM_STYLE)
        g.edge(switch_id(vm.switch), logical_vm_id(name))


def _route_line(route: RouterRoute) -> str:
    hops = ", ".join(str(h) for h in route.nexthops)
    ecmp = " (ECMP)" if len(route.nexthops) > 1 else ""
    return f"route {route.prefix} via {hops}{ecmp}" + (" BFD" if route.bfd else "")


def _across(g: graphviz.Digraph, topo: Topology) -> None:
    """Edges tying the logical view to the physical one (only when both are drawn)."""
    per_fabric: dict[str, int] = {}
    for name, switch in topo.ovn.switches.items():
        if switch.localnet is not None:
            ln = switch.localnet
            tag = f"VLAN {ln.vlan}" if ln.vlan is not None else "untagged"
            # Several localnets on one fabric: fan their tags out around its end of the edge.
            k = per_fabric[ln.network] = per_fabric.get(ln.network, -1) + 1
            g.edge(
                localnet_id(name),
                fabric_id(ln.network),
                headlabel=tag,
                labeldistance=str(4 + 2 * (k // 2)),
                labelangle="-20" if k % 2 == 0 else "20",
                constraint="false",
                **LOCALNET_EDGE_STYLE,
            )
    for router in topo.ovn.routers.values():
        for pname, port in router.ports.items():
            for chassis, priority in port.gateway_chassis.items():
                g.edge(
                    lrp_id(pname),
                    node_id(chassis),
                    headlabel=f"priority {priority}",
                    labeldistance="5",
                    labelangle="-25",
                    constraint="false",
                    **GATEWAY_EDGE_STYLE,
                )


# --- rendering ---------------------------------------------------------------------------------


def output_format(out_path: Path) -> str:
    suffix = out_path.suffix.lower()
    if suffix not in FORMATS:
        known = ", ".join(sorted(FORMATS))
        raise UserError(
            f"cannot draw '{out_path}': unknown picture format '{suffix or '(none)'}'; "
            f"name the output file with one of {known}"
        )
    return FORMATS[suffix]


def render(topo: Topology, out_path: Path, view: str = "both") -> Path:
    """Draw `topo` into `out_path`; the format is the file's suffix (.svg, .png, .dot)."""
    out_path = Path(out_path)
    fmt = output_format(out_path)
    g = build_graph(topo, view)
    if fmt == "dot":
        data = g.source.encode()
    else:
        try:
            data = g.pipe(format=fmt)
        except graphviz.ExecutableNotFound:
            raise UserError(
                "the Graphviz `dot` program is not installed; install it with "
                "`apt-get install -y graphviz`"
            ) from None
        except graphviz.CalledProcessError as exc:
            stderr = exc.stderr.decode(errors="replace").strip() if exc.stderr else ""
            raise LabError(f"dot failed to draw {out_path}: {stderr or exc}") from None
    try:
        out_path.write_bytes(data)
    except OSError as exc:
        raise UserError(f"cannot write {out_path}: {exc.strerror or exc}") from None
    return out_path
