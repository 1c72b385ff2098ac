"""`lab check` (the topology's checks) and `lab test` (the testinfra acceptance suites)."""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from rich.markup import escape

from lab.cli.common import _state, err, out
from lab.errors import UserError
from lab.extras import require
from lab.output import add_output_option
from lab.state.store import LabState, open_lab


def cmd_check(args: argparse.Namespace) -> int:
    from lab.report import results as report
    from lab.verify.checks import run_checks
    from lab.verify.context import LabContext

    state = _state(args.name)
    ctx = LabContext(state)
    if not ctx.topology.checks:
        raise UserError(
            f"lab {state.name}'s topology has no `checks:`; add some (see docs/checks.md)"
        )
    from lab.output import emit, wants_json

    shown = err if wants_json(args) else out  # with --output json stdout is the document
    results = run_checks(ctx, lambda result: report.print_result(shown, result))
    report.print_summary(shown, state.name, results, ctx.raw_dir)
    # the last run, for `lab bundle`
    report.write_json(state.dir / "last-check.json", state.name, results, ctx.raw_dir)
    if args.json_file:
        report.write_json(Path(args.json_file), state.name, results, ctx.raw_dir)
    if wants_json(args):
        emit("check", **report.json_data(state.name, results, ctx.raw_dir))
    if args.junit:
        report.write_junit(Path(args.junit), state.name, results)
    return 0 if all(r.passed for r in results) else 1


def cmd_test(args: argparse.Namespace) -> int:
    from lab.ops import preflight
    from lab.verify.acceptance import CHECKS_DIR, lab_hosts, pytest_argv, split_args

    name, opts, extra = split_args(args)
    state = open_lab(name)
    lab = state.name
    checks = Path(opts["checks"]) if opts["checks"] else CHECKS_DIR
    if not checks.is_dir():
        raise UserError(f"no acceptance suites at {checks}; pass --checks DIR")
    from lab import providers

    provider = providers.of(state)
    for needed in provider.test_needs:  # e.g. paramiko: the suites reach SSH hosts with it
        require(needed)
    if provider.test_as_root:
        preflight.check_root()  # `ip netns exec`
    if state.phase != "up":
        err.print(f"[yellow]note:[/yellow] lab {lab} is in phase '{state.phase}', not 'up'")
    hosts = lab_hosts(state)
    with tempfile.TemporaryDirectory(prefix="lab-test-") as tmp:
        results_file = Path(tmp) / "results.json"
        argv = pytest_argv(checks, hosts, opts["junit"], extra)
        env = {**os.environ, "OVN_LAB_NAME": lab, "OVN_LAB_REPORT": str(results_file)}
        env.pop("OVN_LAB_EXPECT", None)
        start = time.monotonic()
        proc = subprocess.run(argv, env=env, capture_output=True, text=True)
        took = time.monotonic() - start
        results = json.loads(results_file.read_text()) if results_file.exists() else []
    as_json = opts["output"] == "json"
    if opts["verbose"] or proc.returncode not in (0, 1) or not results:
        (sys.stderr if as_json else sys.stdout).write(proc.stdout)  # stdout: the document
        sys.stderr.write(proc.stderr)
    if results and as_json:
        from lab.output import emit

        emit("test", lab=lab, seconds=round(took, 2), results=results)
    elif results:
        print_summary(lab, state, results, took)
    if proc.returncode not in (0, 1) or not results:
        command = shlex.join([f"OVN_LAB_NAME={lab}", sys.executable, *argv[1:]])
        why = "selected no checks" if proc.returncode == 5 else "gave no verdict"
        err.print(
            f"[red]error:[/red] pytest exited {proc.returncode} and {why} on lab {lab}; "
            f"run it by hand: {escape(command)}"
        )
        return 2 if proc.returncode in (4, 5) else 3  # 4: usage, 5: nothing selected
    if opts["junit"]:
        err.print(f"JUnit XML written to {escape(opts['junit'])}")
    return (
        1
        if proc.returncode == 1 or any(r["outcome"] in ("failed", "error") for r in results)
        else 0
    )


def _add_test(sub: Any) -> None:
    """Register `lab test` on the CLI's subparsers."""

    from lab.verify.acceptance import CHECKS_DIR

    p = sub.add_parser(
        "test",
        help="the shipped testinfra acceptance suites against every node; exit 1 on any failure",
        description=(
            "Run the shipped pytest-testinfra suites against every node and VM of a lab "
            "(central, chassis, gateway, host, VM: each by its role). Arguments after `--` go "
            "to pytest, e.g. `lab test mylab -- -k tunnel -x`."
        ),
    )
    p.add_argument("name", nargs="?", help="lab name (optional when exactly one lab is up)")
    p.add_argument("--junit", metavar="FILE", help="also write JUnit XML (pytest --junit-xml)")
    p.add_argument("--checks", metavar="DIR", help=f"suites to run (default {CHECKS_DIR})")
    p.add_argument("-v", "--verbose", action="store_true", help="show pytest's own output too")
    from lab.output import add_output_option

    add_output_option(p)
    p.add_argument("rest", nargs=argparse.REMAINDER, help="-- PYTEST-ARGS: passed to pytest")
    p.set_defaults(func=cmd_test)


def add_parsers(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("check", help="run the topology's checks; exit 1 on any failure")
    p.add_argument("name", nargs="?", help="lab (default: the only lab up)")
    add_output_option(p, json_alias=False)  # --json FILE writes a file (the DESIGN contract)
    p.add_argument(
        "-o",
        "--out",
        "--json",
        dest="json_file",
        metavar="FILE",
        help="also write the results as JSON (the --output json document) to FILE",
    )
    p.add_argument("--junit", metavar="FILE", help="write results as JUnit XML")
    p.set_defaults(func=cmd_check)
    _add_test(sub)


def print_summary(lab: str, state: LabState, results: list[dict[str, Any]], took: float) -> None:
    """Node by node, check by check; failures repeated at the end, one line each."""
    order = [*state.info.nodes, *state.info.vms]
    by_node: dict[str, list[dict[str, Any]]] = {}
    for result in results:
        by_node.setdefault(result["node"], []).append(result)
    marks = {
        "passed": "[green]ok  [/green]",
        "failed": "[red]FAIL[/red]",
        "error": "[red]ERR [/red]",
        "skipped": "[yellow]skip[/yellow]",
    }
    for node in sorted(by_node, key=lambda n: (order.index(n) if n in order else len(order), n)):
        rows = by_node[node]
        counts = _counts(rows)
        colour = "red" if counts.get("failed") or counts.get("error") else "green"
        tally = ", ".join(f"{n} {k}" for k, n in counts.items())
        out.print(f"[bold]{node}[/bold] ({rows[0]['role']}): [{colour}]{tally}[/{colour}]")
        for row in rows:
            line = f"  {marks.get(row['outcome'], row['outcome'])}  {escape(row['check'])}"
            if row["outcome"] != "passed" and row.get("message"):
                line += f"  [dim]{escape(row['message'])}[/dim]"
            out.print(line)
    counts = _counts(results)
    bad = [r for r in results if r["outcome"] in ("failed", "error")]
    colour = "red" if bad else "green"
    tally = ", ".join(f"{n} {k}" for k, n in counts.items())
    out.print(
        f"[{colour}]lab {lab}: {len(results)} checks on {len(by_node)} nodes: {tally}"
        f"[/{colour}] in {took:.1f} s"
    )
    for row in bad:
        out.print(
            f"[red]FAILED[/red] {row['node']} {escape(row['check'])}: "
            f"{escape(row.get('message') or row['outcome'])}"
        )


def _counts(rows: list[dict[str, Any]]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for outcome in ("passed", "failed", "error", "skipped"):
        n = sum(r["outcome"] == outcome for r in rows)
        if n:
            counts[outcome] = n
    return counts
