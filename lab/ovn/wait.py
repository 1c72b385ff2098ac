"""Waiting for OVN to converge: every VM port up, every chassis caught up (hv_cfg >= nb_cfg)."""

from __future__ import annotations

from pathlib import Path

from lab.errors import RuntimeFailure
from lab.ovn.db import list_rows
from lab.ovn.remotes import Centrals, nb_db, sb_db
from lab.plan.model import Plan
from lab.runner import run

__all__ = [
    "nb_db",
    "port_up_states",
    "ports_not_up",
    "sb_db",
    "wait_port_bindings",
    "wait_port_installed",
    "wait_ports_up",
]


def wait_port_bindings(central_dir: Centrals, ports: list[str], timeout: float) -> None:
    """Block until northd has made a Port_Binding for each logical port (one ovn-sbctl)."""
    if not ports:
        return
    argv = ["ovn-sbctl", f"--db={sb_db(central_dir)}", f"--timeout={int(timeout)}"]
    for port in ports:
        argv += ["--", "wait-until", "Port_Binding", port]
    if run(argv, check=False, timeout=timeout + 10).returncode != 0:
        raise RuntimeFailure(
            f"ovn-northd made no Port_Binding for some of {len(ports)} ports within "
            f"{timeout:.0f} s; see the central's ovn-northd.log"
        )


def wait_port_installed(node_dir: Path, interface: str, timeout: float) -> None:
    """Block until the chassis' own ovn-controller has installed the flows of the port on
    `interface`: external_ids:ovn-installed=true on its OVS Interface, what ovn-kubernetes
    waits for. The controller sets it in the run that reports Port_Binding up=true to the
    SB, but the chassis' own ovsdb-server tells at once, where the SB is busy sending the
    same news to every other chassis."""
    argv = ["ovs-vsctl", f"--db=unix:{node_dir / 'db.sock'}", f"--timeout={int(timeout)}"]
    argv += ["wait-until", "Interface", interface, "external_ids:ovn-installed=true"]
    if run(argv, check=False, timeout=timeout + 10).returncode != 0:
        raise RuntimeFailure(
            f"the flows of {interface} were not installed within {timeout:.0f} s; see "
            "`lab status` and the ovn-controller.log of its chassis"
        )


def wait_ports_up(central_dir: Centrals, ports: list[str], timeout: float) -> None:
    """Block until each logical switch port has up=true, then until every chassis has
    processed the latest NB change. One ovn-nbctl process for all ports."""
    db = f"--db={nb_db(central_dir)}"
    if ports:
        argv = ["ovn-nbctl", db, f"--timeout={int(timeout)}"]
        for port in ports:
            argv += ["--", "wait-until", "Logical_Switch_Port", port, "up=true"]
        proc = run(argv, check=False, timeout=timeout + 10)
        if proc.returncode != 0:
            down = ports_not_up(central_dir, ports)
            shown = ", ".join(down[:10]) + (f" and {len(down) - 10} more" if len(down) > 10 else "")
            raise RuntimeFailure(
                f"{len(down)} of {len(ports)} ports never came up within {timeout:.0f} s: "
                f"{shown or '?'}; see `lab status` and the ovn-controller.log of their chassis"
            )
    run(["ovn-nbctl", db, f"--timeout={int(timeout)}", "--wait=hv", "sync"], timeout=timeout + 10)


def ports_not_up(central_dir: Centrals, ports: list[str]) -> list[str]:
    states = port_up_states(central_dir)
    return [p for p in ports if not states.get(p, False)]


def port_up_states(central_dir: Centrals) -> dict[str, bool]:
    rows = list_rows("ovn-nbctl", "name,up", "Logical_Switch_Port", db=nb_db(central_dir))
    return {str(name): up is True for name, up in rows or []}


PORT_UP_TIMEOUT = 60.0  # for a small lab; big ones get more (port_up_timeout)


def port_up_timeout(plan: Plan) -> float:
    """Every chassis processes every port binding: convergence grows with ports x chassis."""
    return max(PORT_UP_TIMEOUT, 0.002 * len(plan.vms) * len(plan.chassis()))
