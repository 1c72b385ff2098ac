"""What checks need from a running lab: run in a node/VM, query the Southbound DB, the model."""

from __future__ import annotations

import re
import subprocess
from functools import cached_property
from ipaddress import ip_address, ip_interface
from pathlib import Path
from typing import TYPE_CHECKING

from lab.errors import UserError
from lab.ovn.db import list_rows
from lab.ovn.wait import nb_db, sb_db
from lab.providers.targets import address_of, centrals_of
from lab.runner import run
from lab.state.info import VmInfo
from lab.state.store import LabState
from lab.verify import trace as tr
from lab.verify.fdb import Watcher

if TYPE_CHECKING:
    from lab.topology.model import Topology


class LabContext:
    def __init__(self, state: LabState):
        from lab import providers

        self.state = state
        self.provider = providers.of(state)
        self.info = state.info
        central = centrals_of(state)
        self.sb = sb_db(central)
        self.nb = nb_db(central)
        self.raw_dir = state.dir / "checks"
        self.fdb_watcher: Watcher | None = None  # set while `lab check` watches the ToR

    @cached_property
    def topology(self) -> Topology:
        from lab.state.saved import saved_topology  # pydantic: only when a check needs it

        return saved_topology(self.state)

    # --- running things ------------------------------------------------------------------

    def run_in(
        self, target: str, argv: list[str], timeout: float = 30
    ) -> subprocess.CompletedProcess[str]:
        return self.provider.run(self.state, target, argv, timeout)

    def popen_in(self, target: str, argv: list[str]) -> subprocess.Popen[str]:
        return self.provider.popen(self.state, target, argv)

    def save_raw(self, check_id: str, name: str, text: str) -> Path:
        """Keep every raw command output of a check run under the lab's state directory."""
        directory = self.raw_dir / check_id
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        path = directory / name
        path.write_text(text)
        return path

    # --- the model ------------------------------------------------------------------------

    def vm(self, name: str) -> VmInfo:
        vms = self.info.vms
        if name not in vms:
            raise UserError(f"'{name}' is not a VM of lab {self.state.name}")
        return vms[name]

    def address_of(self, target: str, family: int | None = None) -> str:
        return address_of(self.state, target, family)

    def vm_by_address(self, address: str) -> str | None:
        for name, vm in self.info.vms.items():
            if address in (a.split("/")[0] for a in (vm.ip, vm.ipv6) if a):
                return name
        return None

    def gateway_mac(self, vm_name: str) -> str | None:
        """MAC of the router port a VM sends off-subnet traffic to (its gateway's port)."""
        vm = self.topology.vms[vm_name]
        for router in self.topology.ovn.routers.values():
            for port in router.ports.values():
                if port.switch != vm.switch:
                    continue
                gateways = [g for g in (vm.gateway, vm.gateway6) if g is not None]
                if not gateways or any(net.ip in gateways for net in port.networks):
                    return port.mac.lower()
        return None

    def microflow(self, src_vm: str, dst: str) -> tuple[str, str]:
        """(datapath, ovn-trace microflow) for an IPv4 packet from a VM to a VM or address:
        eth.dst is the destination VM's MAC on the same subnet, else the router's MAC."""
        src = self.vm(src_vm)
        dst_ip = self.address_of(dst)
        src_ip = self.address_of(src_vm, ip_address(dst_ip).version)  # the same family
        dst_vm = dst if dst in self.info.vms else self.vm_by_address(dst_ip)
        src_net = ip_interface(
            next(a for a in (src.ip, src.ipv6) if a.startswith(src_ip + "/"))
        ).network
        if dst_vm and ip_address(dst_ip) in src_net and self.vm(dst_vm).switch == src.switch:
            eth_dst = self.vm(dst_vm).mac
        else:
            mac = self.gateway_mac(src_vm)
            if mac is None:
                raise UserError(f"VM {src_vm} has no router port on its switch to send {dst_ip} to")
            eth_dst = mac
        flow = tr.microflow(src.port, src.mac, eth_dst, src_ip, dst_ip)
        return src.switch, flow

    def trace(
        self, src_vm: str, dst: str, detailed: bool = True
    ) -> tuple[tr.Trace, str, list[str]]:
        datapath, flow = self.microflow(src_vm, dst)
        argv = tr.trace_argv(self.sb, datapath, flow, detailed=detailed)
        # ovn-trace of the central's release
        proc = run(self.provider.ovn_tool(self.state, argv), check=False, timeout=30)
        text = proc.stdout + (proc.stderr if proc.returncode else "")
        return tr.parse_trace(proc.stdout), text, argv

    # --- Southbound ------------------------------------------------------------------------

    def _sb_list(self, table: str, columns: str) -> list[list[object]]:
        rows = list_rows("ovn-sbctl", columns, table, db=self.sb)
        if rows is None:
            raise UserError("the Southbound DB cannot be read; see `lab status`")
        return rows

    @cached_property
    def datapath_keys(self) -> dict[str, int]:
        """Logical switch/router name -> Datapath_Binding tunnel_key (the Geneve VNI)."""
        keys = {}
        for key, ids in self._sb_list("Datapath_Binding", "tunnel_key,external_ids"):
            names = dict(ids[1]) if isinstance(ids, list) and ids[0] == "map" else {}
            if "name" in names:
                keys[str(names["name"])] = int(key)  # type: ignore[arg-type]
        return keys

    @cached_property
    def port_keys(self) -> dict[str, int]:
        """Logical port name -> Port_Binding tunnel_key (Geneve option ingress/egress keys)."""
        return {str(p): int(k) for p, k in self._sb_list("Port_Binding", "logical_port,tunnel_key")}  # type: ignore[arg-type]

    def chassis_of(self, node: str) -> str:
        """Sanity: a node name is a chassis name (system-id) in this lab."""
        if node not in self.info.nodes:
            raise UserError(f"'{node}' is not a node of lab {self.state.name}")
        return node


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:60]
