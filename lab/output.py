"""One convention for machine-readable output, shared by every command that only reads.

`--output json` (or its alias `--json`) prints ONE JSON object on stdout:

    {"kind": "<command>", "version": 1, <the data>}

`kind` names what the document is (the command that made it), `version` is the version of
that document's shape (raised only when a key changes meaning or goes away; new keys may be
added at any time), and lists of rows are arrays of objects under a plural key ("labs",
"ports", "flows", ...). Notes and progress go to stderr, so stdout is only the document.
Commands that write files take `-o/--out FILE` (add_file_option): on them `--output FILE`
is still accepted, hidden and with a warning, as the spelling they had before.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

VERSION = 1
FORMATS = ("text", "json")

# Commands that only read (a lab, a topology, this machine) and print what they found: each
# takes --output text|json. The unit tests walk the parser and hold every command to this
# list or to WRITERS, so a new command has to say which it is.
READERS = frozenset(
    {
        "status",
        "ports",
        "flows",
        "gateways",
        "fdb",
        "trace",
        "conntrack",
        "check",
        "lflows",
        "plan",
        "test",
        "examples",
    }
)

# The other commands, and why they print no document of this kind.
OTHERS = {
    "up": "changes the machine: builds a lab",
    "down": "changes the machine: removes a lab",
    "stop": "changes the lab: crashes a node",
    "start": "changes the lab: restores a node",
    "heal": "changes the lab: restarts dead daemons",
    "upgrade": "changes the lab: new binaries",
    "add-vm": "changes the lab",
    "del-vm": "changes the lab",
    "link": "changes the lab: cuts or restores a wire",
    "impair": "changes the lab: netem on a wire",
    "partition": "changes the lab: drops traffic between nodes",
    "provision": "changes hosts (its summary still takes --output json)",
    "image": "builds a docker image",
    "exec": "prints what the command it runs prints",
    "nbctl": "ovn-nbctl's own output (ovn-nbctl --format=json ... for JSON)",
    "sbctl": "ovn-sbctl's own output (ovn-sbctl --format=json ... for JSON)",
    "capture": "a live packet stream; -w FILE.pcap writes it as a file",
    "graph": "writes a picture: -o FILE.svg|.png|.dot",
    "gen": "writes a topology (YAML): -o FILE",
    "bundle": "writes a tarball: -o FILE.tar.gz",
    "schema": "prints a JSON Schema document, a format of its own: -o FILE",
    "completion": "prints a shell script",
}


def add_output_option(parser: argparse.ArgumentParser, *, json_alias: bool = True) -> None:
    """--output text|json, and --json as a short alias (the older spelling)."""
    parser.add_argument(
        "--output",
        choices=FORMATS,
        default="text",
        help="text for people (default) or json: one object with kind, version and the data",
    )
    if json_alias:
        parser.add_argument(
            "--json",
            dest="output",
            action="store_const",
            const="json",
            help="same as --output json",
        )


class _DeprecatedOutputFile(argparse.Action):
    """`--output FILE` on a command that writes a file: still works, says what to type now."""

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: Any,
        option_string: str | None = None,
    ) -> None:
        sys.stderr.write(
            f"{parser.prog}: --output FILE is deprecated here, use -o/--out FILE "
            "(--output is text|json on the commands that read)\n"
        )
        setattr(namespace, self.dest, values)


def add_file_option(
    parser: argparse.ArgumentParser,
    *,
    help: str,
    metavar: str = "FILE",
    default: str | None = None,
    required: bool = False,
    dest: str = "output",
    old_spelling: bool = True,
) -> None:
    """-o/--out FILE on a command that writes a file, into args.output as before; the old
    `--output FILE` stays a hidden alias (--output means a format on the commands that read).
    A command new enough to have no old spelling passes old_spelling=False (and its own dest
    when it also takes --output text|json)."""
    group = parser.add_mutually_exclusive_group(required=required)  # names only -o/--out
    group.add_argument(
        "-o",
        "--out",
        dest=dest,
        metavar=metavar,
        default=default,
        help=f"{help} (-o/--out is a file; --output, on the commands that read, a format)",
    )
    if not old_spelling:
        return
    group.add_argument(
        "--output",
        dest=dest,
        metavar=metavar,
        action=_DeprecatedOutputFile,
        help=argparse.SUPPRESS,
    )


def wants_json(args: argparse.Namespace) -> bool:
    return getattr(args, "output", "text") == "json"


def document(kind: str, **data: Any) -> dict[str, Any]:
    return {"kind": kind, "version": VERSION, **data}


def dumps(kind: str, **data: Any) -> str:
    return json.dumps(document(kind, **data), indent=1, default=str) + "\n"


def emit(kind: str, **data: Any) -> int:
    """Print the document on stdout; returns 0 so a command can `return emit(...)`."""
    sys.stdout.write(dumps(kind, **data))
    return 0
