"""The `dhcp` and `dns` checks: addresses and names as OVN hands them out.

dhcp {vm}: the lease the VM's client got (its lease.json, written from the server's
reply), the address really configured in the VM, and the Northbound's view (the port's
addresses or dynamic_addresses, its dhcpv4_options / dhcpv6_options rows) all agree, and the
options (router, MTU, DNS) were applied in the VM.

dns {from, name}: the VM asks the name server it learned by DHCP; the answer must be the
switch's DNS records, while no process anywhere in the lab listens on UDP port 53 and the
VM's chassis' ovn-controller counts the packet-ins: ovn-controller answered.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from ipaddress import ip_address, ip_interface
from typing import Any

from lab.errors import UserError
from lab.runner import run
from lab.verify.context import LabContext
from lab.verify.result import CheckResult, require_keys
from lab.vm.dhcp.control import read_lease, read_resolv, vm_dir

PACKET_INS = "pinctrl_total_pin_pkts"  # ovn-controller's coverage counter of packet-ins


def _nb(ctx: LabContext, *argv: str) -> str:
    proc = run(["ovn-nbctl", f"--db={ctx.nb}", *argv], check=False, timeout=15)
    return proc.stdout.strip() if proc.returncode == 0 else ""


def _nb_options(ctx: LabContext, port: str, column: str) -> dict[str, str]:
    """The DHCP options row set on a port (`column`: dhcpv4_options / dhcpv6_options)."""
    uuid = _nb(ctx, "--bare", "get", "Logical_Switch_Port", port, column)
    if not uuid:
        return {}
    verb = "dhcp-options-get-options"
    lines = _nb(ctx, verb, uuid).splitlines()
    return dict(line.split("=", 1) for line in lines if "=" in line)


def _set(value: str | None) -> list[str]:
    """An OVN option holding one address or a set "{a, b}"."""
    if not value:
        return []
    return [v.strip() for v in value.strip("{}").split(",") if v.strip()]


def _nb_addresses(ctx: LabContext, port: str) -> list[str]:
    """The port's IP addresses in NB: `dynamic_addresses` for IPAM, else `addresses`."""
    dynamic = _nb(ctx, "get", "Logical_Switch_Port", port, "dynamic_addresses").strip('"[]')
    words = dynamic.split() if dynamic else _nb(ctx, "lsp-get-addresses", port).split()
    return [w for w in words[1:] if w != "dynamic"]


def _in_vm(ctx: LabContext, vm: str, *argv: str) -> Any:
    proc = ctx.run_in(vm, ["ip", "-j", *argv])
    try:
        return json.loads(proc.stdout or "[]")
    except json.JSONDecodeError:
        return []


def check_dhcp(ctx: LabContext, spec: dict[str, Any], cid: str) -> CheckResult:
    require_keys(spec, "dhcp")
    name = str(spec["vm"])
    info = ctx.vm(name)
    directory = vm_dir(ctx.state.dir, name)
    lease = read_lease(directory)
    if not lease:
        raise UserError(f"VM {name} has no DHCP client lease in {directory}; does it use DHCP?")
    ctx.save_raw(cid, "lease.json", json.dumps(lease, indent=1))
    ifname, port = info.ifname, info.port
    links = _in_vm(ctx, name, "addr", "show", "dev", ifname)
    link = links[0] if links else {}
    on_vm = {f"{a['local']}/{a['prefixlen']}": a for a in link.get("addr_info", []) if "local" in a}
    gw4 = [r.get("gateway") for r in _in_vm(ctx, name, "route", "show", "default")]
    gw6 = [r.get("gateway") for r in _in_vm(ctx, name, "-6", "route", "show", "default")]
    nb_ips = _nb_addresses(ctx, port)
    resolv = read_resolv(directory)
    rows: list[dict[str, Any]] = []

    def row(what: str, want: Any, got: Any, ok: bool | None = None) -> None:
        rows.append({"what": what, "nb": want, "vm": got, "ok": want == got if ok is None else ok})

    parts = []
    dhcp4 = lease.get("dhcp4")
    if dhcp4:
        opts = _nb_options(ctx, port, "dhcpv4_options")
        ctx.save_raw(cid, "nb-dhcpv4-options.txt", json.dumps(opts, indent=1))
        address = str(dhcp4["address"])
        nb4 = [a for a in nb_ips if ip_address(a).version == 4]
        row("DHCPv4 address = NB", nb4[:1], [address.split("/")[0]])
        configured = on_vm.get(address, {})
        row(
            "the lease is on the VM's interface",
            address,
            address if configured else None,
            bool(configured) and configured.get("valid_life_time") != 4294967295,
        )
        if "router" in opts:
            row("router option = NB = VM's default route", opts["router"], dhcp4.get("router"))
            row("default route via the router", opts["router"], gw4[0] if gw4 else None)
        if "mtu" in opts:
            row("MTU option = NB = VM's interface", int(opts["mtu"]), link.get("mtu"))
        if "dns_server" in opts:
            row("DNS servers = NB", _set(opts["dns_server"]), dhcp4.get("dns"))
            row(
                "DNS servers in the VM's resolv.conf",
                _set(opts["dns_server"]),
                resolv[: len(_set(opts["dns_server"]))],
            )
        row("lease time = NB", int(opts.get("lease_time", 0)), dhcp4.get("lease_time"))
        parts.append(
            f"{address} by DHCPv4 from {dhcp4.get('server_id')}"
            + (f", router {dhcp4['router']}" if dhcp4.get("router") else "")
            + (f", MTU {dhcp4['mtu']}" if dhcp4.get("mtu") else "")
            + (f", DNS {','.join(dhcp4['dns'])}" if dhcp4.get("dns") else "")
        )
    dhcp6 = lease.get("dhcp6")
    nb6 = [a for a in nb_ips if ip_address(a).version == 6]
    if dhcp6:
        opts6 = _nb_options(ctx, port, "dhcpv6_options")
        ctx.save_raw(cid, "nb-dhcpv6-options.txt", json.dumps(opts6, indent=1))
        if dhcp6.get("address"):
            address6 = str(dhcp6["address"])
            row("DHCPv6 address = NB", nb6[:1], [address6.split("/")[0]])
            row(
                "the DHCPv6 address is on the VM", address6, address6 if address6 in on_vm else None
            )
            parts.append(f"{address6} by DHCPv6")
        if "dns_server" in opts6:
            row("DHCPv6 DNS servers = NB", _set(opts6["dns_server"]), dhcp6.get("dns"))
            if not dhcp6.get("address"):
                parts.append(f"DNS {','.join(dhcp6['dns'])} by DHCPv6 (stateless)")
    ra = lease.get("ra")
    if ra:
        slaac = [str(a) for a in ra.get("slaac", [])]
        if slaac:
            row("SLAAC address = NB", nb6[:1], [ip_interface(slaac[0]).ip.compressed])
            parts.append(f"{slaac[0]} by SLAAC")
        row("IPv6 default route from the RA", ra.get("router"), gw6[0] if gw6 else None)
    ctx.save_raw(cid, "comparisons.json", json.dumps(rows, indent=1))
    wrong = [r for r in rows if not r["ok"]]
    summary = "; ".join(parts) or "no address from OVN"
    summary += f"; {len(rows) - len(wrong)}/{len(rows)} match NB and the VM"
    diagnosis = None
    if wrong:
        diagnosis = "; ".join(f"{r['what']}: NB {r['nb']} but VM {r['vm']}" for r in wrong)
    elif not rows:
        diagnosis = f"VM {name}'s client has received nothing yet (see its dhcp-client.log)"
    passed = bool(rows) and not wrong
    return CheckResult("dhcp", spec, passed, summary, {"comparisons": rows}, diagnosis)


# --- dns ------------------------------------------------------------------------------------


def _listeners_on_53(ctx: LabContext) -> list[str]:
    """Every lab namespace with a UDP socket bound to port 53 (there should be none)."""
    found = []
    for netns in ctx.state.resources.get("netns", []):
        proc = run(["ss", "-H", "-lnu", "sport = :53"], netns=netns, check=False, timeout=10)
        if proc.stdout.strip():
            found.append(netns)
    return found


def _packet_ins(ctx: LabContext, chassis: str) -> int | None:
    """The chassis' ovn-controller's packet-in count, through its control socket (the
    same path on both providers: a container's node directory is bind-mounted)."""
    from lab.ovn.daemons import control_socket
    from lab.state.store import node_dir

    socket = control_socket(node_dir(ctx.state, chassis), "ovn-controller")
    if socket is None:
        return None
    argv = ["ovn-appctl", "-t", str(socket), "coverage/read-counter", PACKET_INS]
    proc = run(argv, check=False, timeout=10)
    try:
        return int(proc.stdout.strip())
    except ValueError:
        return None


# ovn-controller's threads fold their coverage counts into the totals at most once a second,
# when they wake: right after the answers the total may not show them yet.
COUNT_WAIT_S = 3.5
NUDGE_EVERY_S = 1.2


def _counted_packet_ins(
    ctx: LabContext, chassis: str, before: int | None, ask_again: Callable[[], object]
) -> int | None:
    """The packet-in count once it moved past `before` (or COUNT_WAIT_S passed), asking
    the same question again now and then so the pinctrl thread wakes and folds its counts."""
    after = _packet_ins(ctx, chassis)
    if before is None or after is None:
        return after
    deadline = time.monotonic() + COUNT_WAIT_S
    nudged = time.monotonic()
    while after <= before and time.monotonic() < deadline:
        time.sleep(0.2)
        if time.monotonic() - nudged >= NUDGE_EVERY_S:
            ask_again()
            nudged = time.monotonic()
        after = _packet_ins(ctx, chassis) or after
    return after


def check_dns(ctx: LabContext, spec: dict[str, Any], cid: str) -> CheckResult:
    require_keys(spec, "dns")
    vm, name = str(spec["from"]), str(spec["name"]).lower()
    info = ctx.vm(vm)
    servers = read_resolv(vm_dir(ctx.state.dir, vm))
    if not servers:
        raise UserError(
            f"VM {vm} learned no name server by DHCP; give its switch dhcp: (with dns:) and "
            "the VM dhcp: true"
        )
    records = ctx.topology.ovn.switches[info.switch].dns
    if "expect" in spec:
        expect = sorted(str(ip_address(a)) for a in spec["expect"])
    else:
        expect = sorted(str(a) for r, addrs in records.items() if r.lower() == name for a in addrs)
    types = sorted({"AAAA" if ":" in a else "A" for a in expect} or {"A"})
    server = servers[0]
    before = _packet_ins(ctx, info.chassis)
    answers: list[dict[str, Any]] = []
    replies = []
    for qtype in types:
        argv = [sys.executable, "-m", "lab.vm.dhcp.dnsquery", server, name, qtype]
        proc = ctx.run_in(vm, argv)
        try:
            reply = json.loads(proc.stdout)
        except json.JSONDecodeError:
            reply = {"error": (proc.stderr or proc.stdout).strip()[-200:]}
        replies.append(reply)
        answers += reply.get("answers", [])
    after = _counted_packet_ins(ctx, info.chassis, before, lambda: ctx.run_in(vm, argv))
    ctx.save_raw(cid, "dns-replies.json", json.dumps(replies, indent=1))
    listeners = _listeners_on_53(ctx)
    got = sorted(str(a["address"]) for a in answers)
    handled = None if before is None or after is None else after - before
    evidence = {
        "server": server,
        "expected": expect,
        "answers": answers,
        "dns_listeners_in_lab": listeners,
        "ovn_controller_packet_ins": handled,
    }
    passed = got == expect and not listeners and (handled is None or handled > 0 or not expect)
    shown = ", ".join(f"{a['type']} {a['address']}" for a in answers) or "no answer"
    summary = (
        f"{vm} asked {server} (its DHCP name server) for {name}: {shown}; no DNS server in "
        f"the lab"
        + (
            f", ovn-controller on {info.chassis} took {handled} packet-ins"
            if handled is not None
            else ""
        )
    )
    diagnosis = None
    if listeners:
        diagnosis = f"something listens on UDP 53 in {', '.join(listeners)}"
    elif got != expect:
        errors = [r["error"] for r in replies if "error" in r]
        diagnosis = f"expected {expect or 'no answer'}, got {got or errors or 'no answer'}"
    return CheckResult("dns", spec, passed, summary, evidence, diagnosis)
