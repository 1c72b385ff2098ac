"""One output convention for every command: --output json on each read command (one object
with kind, version and the data), help text on every argument, an example on every command.
The tests walk the parser, so a command added later is held to the same rules."""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from lab import output
from lab.cli import help as cli_help
from lab.cli import main as cli
from lab.verify.conntrack import Entry
from lab.verify.gateways import BfdSession, GatewayPort, GatewayReport
from lab.verify.lflows import Flow

REPO = Path(__file__).resolve().parents[2]
SEED = str(REPO / "topologies" / "geneve-router.yaml")


def top_commands() -> dict[str, argparse.ArgumentParser]:
    sub = cli_help.subparsers(cli.build_parser())
    assert sub is not None
    return dict(sub.choices)


def option(parser: argparse.ArgumentParser, name: str) -> argparse.Action | None:
    return next((a for a in parser._actions if name in a.option_strings), None)


def minimal_argv(command: str, parser: argparse.ArgumentParser) -> list[str]:
    """The command with a value for each required positional: enough to parse."""
    argv = [command]
    for action in parser._actions:
        if not action.option_strings and action.nargs in (None, "+"):
            argv.append("x")
        elif action.required and action.option_strings:
            argv += [action.option_strings[0], "x"]
    return argv


# --- --output json -----------------------------------------------------------------------------


def test_every_command_is_a_reader_or_says_why_not() -> None:
    commands = set(top_commands())
    unsorted = commands - output.READERS - set(output.OTHERS)
    assert not unsorted, f"add these to lab.output.READERS or OTHERS: {sorted(unsorted)}"
    assert not output.READERS & set(output.OTHERS)
    assert output.READERS | set(output.OTHERS) == commands  # no stale names either


@pytest.mark.parametrize("command", sorted(output.READERS))
def test_every_reader_takes_output_json(command: str) -> None:
    parser = top_commands()[command]
    fmt = option(parser, "--output")
    assert fmt is not None, f"lab {command} has no --output"
    assert tuple(fmt.choices or ()) == output.FORMATS and fmt.default == "text"
    argv = minimal_argv(command, parser)
    assert cli.build_parser().parse_args([*argv, "--output", "json"]).output == "json"
    if command != "check":  # `lab check --json FILE` writes a file (the DESIGN contract)
        assert cli.build_parser().parse_args([*argv, "--json"]).output == "json"


def test_check_json_file_is_kept_and_o_is_its_short_form() -> None:
    parser = cli.build_parser()
    old = parser.parse_args(["check", "lab1", "--json", "r.json"])
    assert old.json_file == "r.json" and old.output == "text"
    short = parser.parse_args(["check", "-o", "r.json", "--output", "json"])
    assert short.json_file == "r.json" and short.output == "json"


def test_o_always_names_a_file() -> None:
    for name, parser in top_commands().items():
        short = option(parser, "-o")
        if short is not None:
            assert "FILE" in (short.metavar or ""), f"lab {name} -o does not take a FILE"


def test_status_json_with_no_lab_up_is_an_empty_list(tmp_path: Path) -> None:
    env = {**os.environ, "OVN_LAB_STATE_DIR": str(tmp_path)}
    for flag in (["--json"], ["--output", "json"]):
        proc = subprocess.run(
            [sys.executable, "-m", "lab", "status", *flag],
            capture_output=True,
            text=True,
            env=env,
            cwd=REPO,
            timeout=60,
        )
        assert proc.returncode == 0, proc.stderr
        assert json.loads(proc.stdout) == {"kind": "status", "version": 1, "labs": []}
    text = subprocess.run(
        [sys.executable, "-m", "lab", "status"], capture_output=True, text=True, env=env, cwd=REPO
    )
    assert text.returncode == 0 and text.stdout == "" and "no lab is up" in text.stderr


def run_json(capsys: pytest.CaptureFixture[str], argv: list[str]) -> dict:
    code = cli.main(argv)
    captured = capsys.readouterr()
    assert code == 0, captured.err
    doc = json.loads(captured.out)  # stdout holds the document and nothing else
    assert doc["kind"] == argv[0] and doc["version"] == output.VERSION
    return doc


def assert_rows(rows: object) -> None:
    assert isinstance(rows, list) and rows and all(isinstance(r, dict) for r in rows)


def test_plan_json_is_the_plan(capsys: pytest.CaptureFixture[str]) -> None:
    doc = run_json(capsys, ["plan", SEED, "--output", "json"])
    assert doc["lab"] == "geneve-router"
    assert set(doc["plan"]["nodes"]) == {"central", "worker1", "worker2"}
    assert doc["commands"].startswith("# lab geneve-router")


def test_lflows_json(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    from lab.verify import lflows

    flow = Flow("network1", "ingress", 0, "ls_in_check_port_sec", -100, "1", "next;")
    monkeypatch.setattr(lflows, "open_lab", lambda name: SimpleNamespace(name="l1"))
    monkeypatch.setattr(lflows, "read_flows", lambda state: [flow])
    doc = run_json(capsys, ["lflows", "--output", "json"])
    assert_rows(doc["flows"])
    assert doc["flows"][0]["priority"] == 100 and doc["flows"][0]["datapath"] == "network1"


def test_conntrack_json(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from lab.cli import inspect as inspect_cli
    from lab.verify import conntrack, context

    entry = Entry("tcp", "10.0.0.10", "20.0.0.10", 40000, 80, "20.0.0.10", "10.0.0.10", 3, "EST")
    monkeypatch.setattr(inspect_cli, "open_lab", lambda name: SimpleNamespace(name="l1"))
    monkeypatch.setattr(context, "LabContext", lambda state: SimpleNamespace(state=state))
    monkeypatch.setattr(conntrack, "conntrack", lambda ctx, node: [entry])
    doc = run_json(capsys, ["conntrack", "worker1", "--json"])  # the old flag: same document
    assert_rows(doc["entries"])
    assert doc["node"] == "worker1" and doc["entries"][0]["dport"] == 80


def test_gateways_and_ports_json(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from lab.cli import inspect
    from lab.verify import gateways

    ctx = SimpleNamespace(state=SimpleNamespace(name="l1"))
    report = GatewayReport(
        ports=[GatewayPort("lr0-public", [("gw1", 20), ("gw2", 10)], "gw1")],
        bfd=[BfdSession("gw1", "gw2", "up", True)],
    )
    monkeypatch.setattr(inspect, "_ctx", lambda args: ctx)
    monkeypatch.setattr(inspect, "_node", lambda ctx, node: {})
    monkeypatch.setattr(gateways, "gateway_report", lambda state: report)
    doc = run_json(capsys, ["gateways", "--output", "json"])
    assert_rows(doc["ports"])
    assert doc["ports"][0]["chassis"] == [["gw1", 20], ["gw2", 10]]
    assert doc["bfd"][0]["state"] == "up" and doc["nexthops"] == []
    row = {"ofport": 1, "interface": "vm1", "type": "internal", "logical_port": "vm1"}
    row |= {"tunnel_key": 2, "remote_ip": None}
    monkeypatch.setattr(inspect, "port_rows", lambda ctx, node: [row])
    doc = run_json(capsys, ["ports", "worker1", "--output", "json"])
    assert doc["ports"] == [row]


def test_check_report_file_is_the_same_document(tmp_path: Path) -> None:
    from lab.report import results as report

    path = tmp_path / "r.json"
    report.write_json(path, "l1", [], tmp_path)
    assert json.loads(path.read_text()) == output.document(
        "check", lab="l1", raw_dir=str(tmp_path), checks=[]
    )


# --- help and examples -------------------------------------------------------------------------


def test_every_argument_has_help() -> None:
    missing = [
        f"lab {name} {'/'.join(action.option_strings) or action.dest}"
        for name, parser in cli_help.commands(cli.build_parser())
        for action in parser._actions
        if not isinstance(action, argparse._HelpAction | argparse._SubParsersAction)
        and not action.help
    ]
    top = [
        "/".join(a.option_strings) or a.dest
        for a in cli.build_parser()._actions
        if not isinstance(a, argparse._SubParsersAction) and not a.help
    ]
    assert not missing and not top, f"arguments without help: {missing + top}"


def test_every_command_has_an_example() -> None:
    missing = [
        name
        for name, parser in cli_help.commands(cli.build_parser())
        if not cli_help.has_example(parser)
    ]
    assert not missing, f"commands without an example (lab.cli.help.EXAMPLES): {missing}"
    assert set(cli_help.EXAMPLES) <= {n for n, _ in cli_help.commands(cli.build_parser())}


@pytest.mark.parametrize("command", sorted(cli_help.EXAMPLES))
def test_each_example_is_a_valid_command_line(command: str) -> None:
    argv = shlex.split(cli_help.EXAMPLES[command].replace("source <(", "").rstrip(")"))
    assert argv[0] == "lab"
    args = cli.build_parser().parse_args(argv[1:])  # exits (SystemExit) if it does not parse
    assert args.func is not None
    for word in argv:  # a file an example names is one that ships
        if word.startswith("topologies/"):
            assert (REPO / word).is_file()


def test_help_shows_the_example() -> None:
    text = top_commands()["flows"].format_help()
    assert text.rstrip().endswith("example: " + cli_help.EXAMPLES["flows"])
