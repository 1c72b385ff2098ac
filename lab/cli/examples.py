"""`lab examples`: the shipped topologies, listed, shown or copied out to edit."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from lab.errors import UserError
from lab.output import add_file_option, add_output_option, emit, wants_json


def cmd_examples(args: argparse.Namespace) -> int:
    from lab.topology.examples import DESCRIPTIONS, names, path_of, text_to_copy

    if args.example is None:
        if wants_json(args):
            rows = [
                {"name": n, "description": DESCRIPTIONS.get(n, ""), "path": str(path_of(n))}
                for n in names()
            ]
            return emit("examples", examples=rows)
        width = max(map(len, names()))
        for name in names():
            print(f"{name:<{width}}  {DESCRIPTIONS.get(name, '')}")
        print(
            "\nbring one up: lab up NAME [--name LAB]; copy one to edit: lab examples NAME -o FILE"
        )
        return 0
    text = text_to_copy(args.example)
    if wants_json(args):
        return emit("examples", examples=[{"name": args.example, "topology": text}])
    if args.out_file is None:
        sys.stdout.write(text)
        return 0
    target = Path(args.out_file)
    if target.exists() and not args.force:
        raise UserError(f"{target} exists; choose another file or add --force to replace it")
    try:
        target.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise UserError(f"cannot write {target}: {exc.strerror or exc}") from None
    print(
        f"wrote {target} (the shipped {args.example}); edit it, then `lab up {target}`. "
        f"For editor completion: lab schema -o {target.parent / 'topology.schema.json'}",
        file=sys.stderr,
    )
    return 0


def add_parsers(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser(
        "examples",
        help="the topologies shipped with lab: list, print or copy one",
        description="The example topologies that ship inside the package. `lab up NAME` "
        "brings one up by name, with no checkout; `lab examples NAME -o FILE` copies it to "
        "edit. Example: `lab examples geneve-router -o mylab.yaml`.",
    )
    p.add_argument("example", nargs="?", help="an example's name: print (or -o copy) its YAML")
    add_output_option(p)
    add_file_option(
        p,
        help="copy the example to FILE instead of printing it",
        dest="out_file",
        old_spelling=False,
    )
    p.add_argument("--force", action="store_true", help="with -o: replace FILE if it exists")
    p.set_defaults(func=cmd_examples)
