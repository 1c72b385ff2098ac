"""`lab exec`, `lab nbctl`, `lab sbctl`: commands in a lab's nodes and databases."""

from __future__ import annotations

import argparse

from lab.cli.common import _state, _strip_dashes
from lab.errors import UserError


def cmd_exec(args: argparse.Namespace) -> int:
    from lab import providers

    state = _state(args.lab)
    command = _strip_dashes(args.command)
    if not command:
        raise UserError("nothing to run: lab exec TARGET -- COMMAND [ARGS...]")
    return providers.of(state).exec(state, args.target, command)


def _ctl(args: argparse.Namespace, tool: str, db: str) -> int:
    from lab import providers

    state = _state(args.lab)
    return providers.of(state).db_client(state, tool, db, _strip_dashes(args.args))


def cmd_nbctl(args: argparse.Namespace) -> int:
    return _ctl(args, "ovn-nbctl", "nb")


def cmd_sbctl(args: argparse.Namespace) -> int:
    return _ctl(args, "ovn-sbctl", "sb")


def add_parsers(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("exec", help="run a command in a node or VM")
    p.add_argument("--lab")
    p.add_argument("target", help="node or VM name")
    p.add_argument("command", nargs=argparse.REMAINDER, help="-- COMMAND [ARGS...]")
    p.set_defaults(func=cmd_exec)

    for name, func, tool in (("nbctl", cmd_nbctl, "ovn-nbctl"), ("sbctl", cmd_sbctl, "ovn-sbctl")):
        p = sub.add_parser(name, help=f"{tool} against the lab's database")
        p.add_argument("--lab")
        p.add_argument("args", nargs=argparse.REMAINDER, help=f"-- {tool} ARGS")
        p.set_defaults(func=func)
