"""The check primitives as interactive commands: trace, capture, flows, ports, fdb,
gateways, conntrack."""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from rich.markup import escape
from rich.table import Table

from lab.cli.common import err, out
from lab.errors import UserError
from lab.output import add_output_option, emit, wants_json
from lab.state.info import NodeInfo
from lab.state.store import open_lab

if TYPE_CHECKING:
    from lab.verify.context import LabContext


def cmd_trace(args: argparse.Namespace) -> int:
    from lab.verify import acl_trace
    from lab.verify import trace as tr

    ctx = _ctx(args)
    if args.proto and args.port is None:
        raise UserError("--proto needs --port (the destination port)")
    trace, text, argv = acl_trace.trace_l4(
        ctx, args.src, args.dst, args.proto, args.port, args.ct, detailed=not args.summary
    )
    verdict = None if args.summary else acl_trace.decide(ctx, trace, text)
    delivered = trace.output and (verdict is None or verdict.verdict == "allow")
    if wants_json(args):
        emit(
            "trace",
            lab=ctx.state.name,
            command=argv,
            delivered=bool(delivered),
            output=trace.output,
            datapaths=trace.datapaths,
            dropped=trace.dropped,
            drop_reason=None if delivered else tr.explain_drop(trace),
            verdict=verdict.verdict if verdict else None,
            decided_by=verdict.describe() if verdict else None,
            text=text,
        )
        return 0 if delivered else 1
    print("$ " + " ".join(repr(a) if " " in a else a for a in argv))
    print(text.rstrip())
    print()
    if delivered:
        out.print(f"[green]delivered[/green] to {trace.output} via {' -> '.join(trace.datapaths)}")
    elif verdict is None or not verdict.acl:
        out.print(f"[red]not delivered[/red]: {escape(tr.explain_drop(trace))}")
    if verdict is not None:  # which stage, table and ACL decided
        colour = "green" if verdict.verdict == "allow" else "red"
        out.print(f"[{colour}]verdict:[/{colour}] {escape(verdict.describe())}")
    return 0 if delivered else 1


def cmd_capture(args: argparse.Namespace) -> int:
    from lab.verify import geneve as gv

    ctx = _ctx(args)
    node = _node(ctx, args.node)
    interface = args.interface or node.links[ctx.info.overlay].node_if
    if args.write:
        return _capture_to_pcap(ctx, args, interface)
    argv = gv.capture_argv(interface, args.count)
    if not args.decode:
        proc = ctx.popen_in(args.node, argv)
        assert proc.stdout is not None
        for line in proc.stdout:
            sys.stdout.write(line)
        return proc.wait()
    names = _Names(ctx)
    proc = ctx.popen_in(args.node, argv)
    assert proc.stdout is not None
    out.print(
        f"decoding Geneve on {args.node} {interface} (OVN option: ingress key = bits "
        "16-30, egress key = bits 0-15)"
    )
    pending: list[str] = []

    def flush() -> None:
        for p in gv.parse_geneve("\n".join(pending)):
            dp = names.datapaths.get(p.vni, "?")
            out.print(
                f"{p.outer_src} > {p.outer_dst} vni {p.vni} ({dp}) data {p.data}: "
                f"in {names.port(p.vni, p.ingress_key)} ({p.ingress_key}) -> "
                f"out {names.port(p.vni, p.egress_key)} ({p.egress_key}) | "
                f"{p.inner_src} > {p.inner_dst} {p.icmp or ''}"
            )
        pending.clear()

    try:
        for line in proc.stdout:
            if re.match(r"^\d{2}:\d{2}:\d{2}\.", line):
                flush()
            pending.append(line.rstrip("\n"))
        flush()
    except KeyboardInterrupt:
        proc.terminate()
    return proc.wait()


def cmd_flows(args: argparse.Namespace) -> int:
    from lab.verify import flows as fl

    ctx = _ctx(args)
    _node(ctx, args.node)
    dump = ctx.run_in(args.node, fl.dump_flows_argv(args.table))
    show = ctx.run_in(args.node, ["ovs-ofctl", "show", "br-int"])
    ports = fl.parse_ofctl_show(show.stdout)
    flows = fl.parse_dump_flows(dump.stdout)
    if args.idle_age is not None:
        flows = fl.recently_hit(flows, args.idle_age)
    if getattr(args, "detrace", False):
        return _print_detraced(ctx, [f.text for f in flows], wants_json(args), args.node)
    if wants_json(args):
        rows = [
            {
                "table": f.table,
                "priority": f.priority,
                "n_packets": f.n_packets,
                "idle_age": f.idle_age,
                "match": f.match,
                "actions": f.actions,
                "text": f.text,
            }
            for f in flows
        ]
        return emit("flows", lab=ctx.state.name, node=args.node, ports=ports, flows=rows)
    for flow in flows:
        text = re.sub(
            r"output:(\d+)",
            lambda m: f"output:{m.group(1)}({ports.get(int(m.group(1)), '?')})",
            flow.text,
        )
        text = re.sub(
            r"in_port=(\d+)",
            lambda m: f"in_port={m.group(1)}({ports.get(int(m.group(1)), '?')})",
            text,
        )
        print(text)
    out.print(f"[dim]{len(flows)} flows[/dim]", highlight=False)
    return 0


def cmd_ports(args: argparse.Namespace) -> int:
    ctx = _ctx(args)
    _node(ctx, args.node)
    rows = [r for r in port_rows(ctx, args.node) if r["ofport"] not in (None, 65534)]
    rows = [r for r in rows if r["interface"] != "br-int"]
    # ports of other bridges (br-overlay...) are not on br-int's pipeline
    rows = [r for r in rows if r["type"] == "geneve" or r["logical_port"] is not None]
    if wants_json(args):
        return emit("ports", lab=ctx.state.name, node=args.node, ports=rows)
    table = Table(title=f"{args.node} br-int ports", title_justify="left")
    for col in ("ofport", "interface", "type", "logical port", "tunnel key", "remote ip"):
        table.add_column(col)
    for r in rows:
        table.add_row(
            str(r["ofport"]),
            r["interface"],
            r["type"],
            r["logical_port"] or "-",
            str(r["tunnel_key"]) if r["tunnel_key"] is not None else "-",
            r["remote_ip"] or "-",
        )
    out.print(table)
    return 0


def cmd_fdb(args: argparse.Namespace) -> int:
    from lab.verify.fdb import CamTable, Move, Watcher

    ctx = _ctx(args)
    cam = CamTable(ctx.state, args.network)
    if not args.watch:
        entries = sorted(cam.read(), key=lambda e: (e.fabric, e.vlan, e.mac))
        if wants_json(args):
            rows = [asdict(e) for e in entries]
            return emit("fdb", lab=ctx.state.name, fabrics=cam.fabrics, entries=rows)
        table = Table(title=f"ToR CAM table ({', '.join(cam.fabrics)})", title_justify="left")
        for col in ("fabric", "vid", "mac", "port", "node", "age"):
            table.add_column(col)
        for e in entries:
            table.add_row(e.fabric, str(e.vlan), e.mac, e.port, e.node or "-", str(e.age))
        out.print(table)
        return 0

    say = err if wants_json(args) else out  # with --output json: the document at Ctrl-C

    def report(m: Move) -> None:
        count = sum(1 for x in watcher.moves if (x.vlan, x.mac) == (m.vlan, m.mac))
        say.print(f"vid {m.vlan} {m.mac} moved {m.old} -> {m.new} (move #{count})")

    watcher = Watcher(cam, on_move=report)
    watcher.start()
    say.print(
        f"watching every frame entering the ToR ({', '.join(cam.fabrics)}) for MAC "
        "moves; Ctrl-C to stop"
    )
    try:
        while True:
            time.sleep(0.2)
    except KeyboardInterrupt:
        pass
    watcher.stop()
    if wants_json(args):
        return emit(
            "fdb",
            lab=ctx.state.name,
            fabrics=cam.fabrics,
            moves=[asdict(m) for m in watcher.moves],
            tor_moves=watcher.tor_moves,
        )
    for (vlan, mac), count in sorted(watcher.move_counts().items()):
        out.print(f"vid {vlan} {mac}: {count} moves")
    out.print(f"{len(watcher.moves)} moves seen; the ToR's own counter says {watcher.tor_moves}")
    return 0


def cmd_gateways(args: argparse.Namespace) -> int:
    from lab.verify.gateways import gateway_report

    ctx = _ctx(args)
    report = gateway_report(ctx.state)
    if wants_json(args):
        return emit(
            "gateways",
            lab=ctx.state.name,
            ports=[asdict(g) for g in report.ports],
            nexthops=[asdict(h) for h in report.nexthops],
            bfd=[asdict(b) for b in report.bfd],
        )
    if not report.ports:
        out.print(f"lab {ctx.state.name} has no gateway port and no gateway router")
        return 0
    table = Table(title="gateway ports", title_justify="left")
    for col in ("port", "by", "chassis (priority)", "active"):
        table.add_column(col)
    for gw in report.ports:
        router = gw.kind.startswith("gateway router")
        prio = ", ".join(c if router else f"{c} ({p})" for c, p in gw.chassis)
        table.add_row(gw.port, gw.kind, prio, gw.active or "[red]none[/red]")
    out.print(table)
    if report.nexthops:
        hops = Table(title="BFD to router next hops", title_justify="left")
        for col in ("port", "next hop", "OVN says", "speaker", "speaker says"):
            hops.add_column(col)
        for h in report.nexthops:
            colour = "green" if h.status == "up" else "red"
            hops.add_row(
                h.port,
                h.nexthop,
                f"[{colour}]{h.status or '-'}[/{colour}]",
                h.speaker or "-",
                h.speaker_state or "-",
            )
        out.print(hops)
    bfd = Table(title="BFD sessions", title_justify="left")
    for col in ("node", "peer", "state", "forwarding"):
        bfd.add_column(col)
    for b in sorted(report.bfd, key=lambda b: (b.node, b.peer)):
        colour = "green" if b.state == "up" else "red"
        bfd.add_row(
            b.node,
            b.peer,
            f"[{colour}]{b.state or '-'}[/{colour}]",
            "yes" if b.forwarding else "no",
        )
    out.print(bfd)
    return 0


def _add_inspect(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("trace", help="ovn-trace a packet from a VM to a VM or address")
    p.add_argument("--lab")
    p.add_argument("src", metavar="FROM", help="source VM")
    p.add_argument("dst", metavar="TO", help="destination VM or IPv4/IPv6 address")
    p.add_argument("--summary", action="store_true", help="ovn-trace --summary output")
    p.add_argument("--detailed", action="store_true", help="ovn-trace --detailed (default)")
    p.add_argument("--proto", choices=["tcp", "udp"], help="a TCP/UDP packet (with --port)")
    p.add_argument("--port", type=int, help="destination port")
    p.add_argument(
        "--ct", help="ct_state every ct_next reports, e.g. new (default with --proto), est,rpl"
    )
    add_output_option(p)
    p.set_defaults(func=cmd_trace)

    p = sub.add_parser("capture", help="tcpdump a chassis' overlay; --decode shows OVN keys")
    p.add_argument("--lab")
    p.add_argument("node", help="chassis node to capture on")
    p.add_argument("--decode", action="store_true", help="decode VNI and OVN option by name")
    p.add_argument("-c", "--count", type=int, default=10, help="packets (default 10)")
    p.add_argument("-i", "--interface", help="interface (default: the overlay link)")
    p.add_argument("-w", "--write", metavar="FILE.pcap", help="write the packets as a pcap file")
    p.set_defaults(func=cmd_capture)

    p = sub.add_parser("flows", help="br-int OpenFlow flows of a chassis, ports by name")
    p.add_argument("--lab")
    p.add_argument("node", help="chassis node")
    p.add_argument("--table", type=int, help="only this OpenFlow table")
    p.add_argument("--idle-age", type=int, help="only flows hit in the last N seconds")
    p.add_argument(
        "--detrace", action="store_true", help="each flow with the logical flow it came from"
    )
    add_output_option(p)
    p.set_defaults(func=cmd_flows)

    p = sub.add_parser("fdb", help="the ToR CAM table (vid, mac, port, node, age)")
    p.add_argument("--lab")
    p.add_argument("--network", help="a VLAN fabric (default: all)")
    p.add_argument("--watch", action="store_true", help="report every MAC move as it happens")
    add_output_option(p)
    p.set_defaults(func=cmd_fdb)

    p = sub.add_parser("gateways", help="gateway ports: chassis by priority, active, BFD")
    p.add_argument("--lab")
    add_output_option(p)
    p.set_defaults(func=cmd_gateways)

    p = sub.add_parser("ports", help="ofport <-> interface <-> logical port <-> tunnel key")
    p.add_argument("--lab")
    p.add_argument("node", help="chassis node")
    add_output_option(p)
    p.set_defaults(func=cmd_ports)


def cmd_conntrack(args: argparse.Namespace) -> int:
    from lab.verify.conntrack import conntrack, show_port
    from lab.verify.context import LabContext

    ctx = LabContext(open_lab(args.lab))
    entries = conntrack(ctx, args.node)
    if wants_json(args):
        rows = [asdict(e) for e in entries]
        return emit("conntrack", lab=ctx.state.name, node=args.node, entries=rows)
    print(f"# {args.node}: {len(entries)} conntrack entries (userspace datapath), by zone")
    rows = [("zone", "logical port", "proto", "original", "reply", "state", "more")]
    for e in sorted(entries, key=lambda e: (e.zone, e.proto, e.src, e.dst, e.dport or 0)):
        orig = f"{e.src}{show_port(e.sport)} > {e.dst}{show_port(e.dport)}"
        reply = f"{e.reply_src} > {e.reply_dst}"
        rows.append((str(e.zone), e.port or "?", e.proto, orig, reply, e.state, e.extra))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for row in rows:  # plain aligned columns: readable, and greppable when piped
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
    return 0


def _add_conntrack(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser(
        "conntrack", help="a chassis' conntrack entries, each zone with its logical port"
    )
    p.add_argument("--lab", help="the lab (default: the only lab up)")
    p.add_argument("node", help="chassis node")
    add_output_option(p)
    p.set_defaults(func=cmd_conntrack)


def add_parsers(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    _add_inspect(sub)
    _add_conntrack(sub)


def _ctx(args: argparse.Namespace) -> LabContext:
    from lab.verify.context import LabContext

    return LabContext(open_lab(args.lab))


def _node(ctx: LabContext, node: str) -> NodeInfo:
    nodes = ctx.info.nodes
    if node not in nodes or nodes[node].role not in ("chassis", "gateway"):
        chassis = [n for n, i in nodes.items() if i.role in ("chassis", "gateway")]
        raise UserError(
            f"'{node}' is not a chassis of lab {ctx.state.name} (chassis: {', '.join(chassis)})"
        )
    return nodes[node]


class _Names:
    """Tunnel keys -> names, to print decoded Geneve packets in OVN's own words."""

    def __init__(self, ctx: LabContext):
        from lab.ovn.db import list_rows

        self.datapaths = {v: k for k, v in ctx.datapath_keys.items()}
        rows = (
            list_rows("ovn-sbctl", "logical_port,tunnel_key,datapath", "Port_Binding", db=ctx.sb)
            or []
        )
        dp_rows = list_rows("ovn-sbctl", "_uuid,tunnel_key", "Datapath_Binding", db=ctx.sb) or []
        dp_key = {r[0][1]: int(r[1]) for r in dp_rows}  # type: ignore[index,arg-type]
        self.ports = {(dp_key.get(r[2][1]), int(r[1])): str(r[0]) for r in rows}  # type: ignore[index,arg-type]

    def port(self, vni: int, key: int) -> str:
        return self.ports.get((vni, key), "?")


def _capture_to_pcap(ctx: LabContext, args: argparse.Namespace, interface: str) -> int:
    """tcpdump -w - in the node, its bytes into FILE (Wireshark decodes OVN's Geneve option)."""

    import subprocess
    from pathlib import Path

    from lab.providers.base import PCAP_FILE, require
    from lab.providers.targets import netns_env
    from lab.runner import netns_argv
    from lab.verify import geneve as gv
    from lab.verify import pcap

    require(ctx.provider, PCAP_FILE, "`lab capture -w`")
    path = Path(args.write)
    if not path.parent.is_dir():
        raise UserError(f"directory {path.parent} does not exist; create it or pick another -w")
    netns, _ = netns_env(ctx.state, args.node)
    argv = netns_argv(netns, gv.pcap_capture_argv(interface, args.count, "-"))
    out.print(f"capturing Geneve on {args.node} {interface} into {path} (Ctrl-C to stop)")
    with open(path, "wb") as fh:
        proc = subprocess.Popen(
            argv, stdout=fh, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL
        )
        try:
            proc.wait()
        except KeyboardInterrupt:
            proc.terminate()
            proc.wait()
    data = path.read_bytes()
    try:
        frames, decoded = len(pcap.packets(data)), len(pcap.geneve(data))
    except pcap.PcapError:
        raise UserError(f"tcpdump wrote no pcap on {args.node} {interface}") from None
    out.print(f"{frames} packets ({decoded} Geneve) written to {path}")
    return 0


def _print_detraced(
    ctx: LabContext, lines: list[str], as_json: bool = False, node: str = ""
) -> int:
    """Each flow, then the Southbound rows its cookie names (lab.verify.detrace)."""
    from lab.verify import detrace

    flows = detrace.annotate("\n".join(lines), detrace.origins(ctx.sb))
    if as_json:
        rows = [
            {"text": f.text, "table": f.table, "cookie": f.cookie, "origins": f.lines}
            for f in flows
        ]
        return emit("flows", lab=ctx.state.name, node=node, flows=rows)
    for flow in flows:
        print(flow.text)
        for line in flow.lines:
            print(f"    <- {line}")
    known = sum(1 for f in flows if f.origins)
    out.print(f"[dim]{len(flows)} flows, {known} traced to a Southbound row[/dim]", highlight=False)
    return 0


def port_rows(ctx: LabContext, node: str) -> list[dict[str, Any]]:
    proc = ctx.run_in(
        node,
        [
            "ovs-vsctl",
            "--format=json",
            "--columns=name,ofport,type,external_ids,options",
            "list",
            "Interface",
        ],
    )
    if proc.returncode != 0:
        raise UserError(f"cannot read {node}'s OVS database: {proc.stderr.strip()}")
    data = json.loads(proc.stdout)
    rows = []
    for name, ofport, kind, ids, options in data["data"]:
        ids_map = dict(ids[1]) if ids[0] == "map" else {}
        opts = dict(options[1]) if options[0] == "map" else {}
        lport = ids_map.get("iface-id")
        rows.append(
            {
                "ofport": ofport if isinstance(ofport, int) else None,
                "interface": name,
                "type": kind or "system",
                "logical_port": lport,
                "tunnel_key": ctx.port_keys.get(lport) if lport else None,
                "remote_ip": opts.get("remote_ip"),
            }
        )
    return sorted(rows, key=lambda r: (r["ofport"] is None, r["ofport"] or 0))
