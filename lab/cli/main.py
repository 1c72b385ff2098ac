"""The `lab` command line: the parser made of every command group's commands, and the only
place that prints tracebacks or picks exit codes.

Each group is a module of lab.cli with `add_parsers(sub)` adding its commands and their
`cmd_*` functions; a new command goes into the group it belongs to, a new group into
COMMAND_GROUPS (docs/architecture.md).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from importlib import import_module

from rich.console import Console
from rich.markup import escape

from lab.cli.common import err
from lab.errors import LabError

# in the order `lab --help` lists them
COMMAND_GROUPS = (
    "lifecycle",  # up, plan, down
    "status",  # status
    "faults",  # stop, start, heal
    "check",  # check, test
    "run",  # exec, nbctl, sbctl
    "builds",  # image build, upgrade, lflows
    "inspect",  # trace, capture, flows, ports, fdb, gateways, conntrack
    "vms",  # add-vm, del-vm
    "graph",  # graph
    "topology",  # gen, schema
    "examples",  # examples
    "provision",  # provision
    "wirefaults",  # link, impair, partition
    "bundle",  # bundle
    "completion",  # completion
)


# --- parser ----------------------------------------------------------------------------------


class _VersionAction(argparse.Action):
    """--version: ovn-lab, and the OVS / OVN found on this machine (asked only when wanted)."""

    def __init__(self, option_strings: list[str], dest: str, **kwargs: object) -> None:
        super().__init__(option_strings, dest, nargs=0, help="print ovn-lab, OVS and OVN versions")

    def __call__(self, parser: argparse.ArgumentParser, *args: object, **kwargs: object) -> None:
        from lab.cli.version import version_text

        sys.stdout.write(version_text())
        parser.exit()


def _global_conventions(parser: argparse.ArgumentParser) -> None:
    """Options every command takes, given before it: `lab -q up t.yaml`, `lab -v check`."""
    parser.add_argument("--version", action=_VersionAction)
    noise = parser.add_mutually_exclusive_group()
    # dests of their own: `lab test -v` and `lab provision -v` have a --verbose of their own
    noise.add_argument(
        "-q",
        "--quiet",
        dest="global_quiet",
        action="store_true",
        help="only results and errors: no progress or notes",
    )
    noise.add_argument(
        "-v",
        "--verbose",
        dest="global_verbose",
        action="store_true",
        help="log what lab does (--debug: everything)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="lab", description="Multi-node OVS/OVN labs from one YAML topology file."
    )
    parser.add_argument("--debug", action="store_true", help="show tracebacks and debug logs")
    _global_conventions(parser)
    parser.set_defaults(root_parser=parser)  # `lab completion` reads every command from it
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for group in COMMAND_GROUPS:  # each command group adds its own commands
        import_module(f"lab.cli.{group}").add_parsers(sub)
    from lab.cli.help import finish

    finish(parser)  # every command's example, the shared arguments' help
    return parser


def _missing_extra(exc: BaseException) -> str | None:
    from lab.extras import missing_extra_message

    if isinstance(exc, ModuleNotFoundError) and exc.name:
        return missing_extra_message(exc.name)
    return None


def _docker_not_answering(exc: BaseException) -> str | None:
    """The docker daemon took a request and never answered (the SDK's read timeout)."""
    if type(exc).__name__ != "ReadTimeout" or "UnixHTTPConnectionPool" not in str(exc):
        return None
    return (
        "the docker daemon stopped answering (docker 20.10, Debian 12's docker.io, can "
        "deadlock while containers start and are removed: moby/libnetwork#2679); restart it "
        "(`systemctl restart docker`, or kill and start dockerd) and run the command again"
    )


def _quiet() -> None:
    """-q: progress spinners and notes off (here and in every command run below), while
    errors still reach stderr through `failure`."""
    os.environ["OVN_LAB_QUIET"] = "1"
    err.quiet = True


failure = Console(stderr=True, soft_wrap=True)  # errors: shown even with -q


def _pipe_closed() -> int:
    """The reader of our output went away (`lab status --json | head -1`): stop quietly, as
    a Unix filter does, and keep Python from complaining while it flushes at exit."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    return 141  # 128 + SIGPIPE, what a shell reports for a filter killed by the pipe


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)  # --help and --version print from in here
    except BrokenPipeError:
        return _pipe_closed()
    if args.debug or args.global_verbose:
        import logging

        level = logging.DEBUG if args.debug else logging.INFO
        logging.basicConfig(level=level, format="%(name)s: %(message)s")
    if args.global_quiet:
        _quiet()
    try:
        code = int(args.func(args) or 0)
        sys.stdout.flush()  # a closed pipe shows up here, not at exit
        return code
    except BrokenPipeError:
        return _pipe_closed()
    except LabError as exc:
        if args.debug:
            raise
        failure.print(f"[red]error:[/red] {escape(str(exc))}", highlight=False, soft_wrap=True)
        return exc.exit_code
    except KeyboardInterrupt:
        failure.print("interrupted")
        return 130
    except Exception as exc:  # a bug: say so, briefly, unless --debug
        if args.debug:
            raise
        hint = _missing_extra(exc)
        if hint is not None:  # an optional part that is not installed: not a bug
            failure.print(f"[red]error:[/red] {escape(hint)}", highlight=False)
            return 2
        hint = _docker_not_answering(exc)
        if hint is not None:  # not ours to fix, but ours to say how to get out of
            failure.print(f"[red]error:[/red] {escape(hint)}", highlight=False)
            return 3
        failure.print(
            f"[red]internal error:[/red] {type(exc).__name__}: {exc} (rerun with --debug)"
        )
        return 3
