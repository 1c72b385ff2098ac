"""`lab add-vm` / `lab del-vm`: change a running lab's VMs."""

from __future__ import annotations

import argparse

from lab.state.store import LabState, open_lab


def _state(args: argparse.Namespace) -> LabState:
    from lab.providers.base import local_only

    return local_only(open_lab(args.lab), args.command)


def cmd_add_vm(args: argparse.Namespace) -> int:
    from lab.ops.vms import add_vm

    took = add_vm(
        _state(args),
        args.name,
        args.chassis,
        args.switch,
        args.ip,
        args.gateway,
        args.mac,
        args.attach,
        wait_for=args.wait,
    )
    done = "its flows installed" if args.wait == "port" else "every chassis caught up"
    print(
        f"VM {args.name} is up on {args.chassis} ({args.switch}, {args.ip}), {done}, "
        f"in {took:.2f} s"
    )
    return 0


def cmd_del_vm(args: argparse.Namespace) -> int:
    from lab.ops.vms import del_vm

    del_vm(_state(args), args.name)
    print(f"VM {args.name} removed")
    return 0


def add_parsers(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("add-vm", help="add a VM to a running lab; returns when its port is up")
    p.add_argument("--lab")
    p.add_argument("name", help="name of the new VM")
    p.add_argument("--chassis", required=True, help="chassis node the VM runs on")
    p.add_argument("--switch", required=True, help="logical switch its port joins")
    p.add_argument("--ip", required=True, help="address with prefix, e.g. 10.0.0.20/24")
    p.add_argument("--gateway", help="default route via this address (the router port)")
    p.add_argument("--mac", help="default: derived from the lab and VM names")
    p.add_argument(
        "--attach",
        choices=["internal", "veth"],
        default="internal",
        help="OVS internal port (default) or a veth pair into the VM's namespace",
    )
    p.add_argument(
        "--wait",
        choices=["port", "hv"],
        default="port",
        help="port (default): return once its own chassis has installed the port's flows"
        " (ovn-installed, as ovn-kubernetes waits); hv: and once every chassis has caught up",
    )
    p.set_defaults(func=cmd_add_vm)
    p = sub.add_parser("del-vm", help="remove a VM from a running lab")
    p.add_argument("--lab")
    p.add_argument("name", help="the VM to remove")
    p.set_defaults(func=cmd_del_vm)
