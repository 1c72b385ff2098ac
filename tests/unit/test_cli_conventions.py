"""What every command line tool owes its users: --version, completion, -q/-v, and a quiet end
when the reader of its output goes away."""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from lab.cli import common, completion, version
from lab.cli import main as cli
from lab.errors import UserError

REPO = Path(__file__).resolve().parents[2]
SEED = str(REPO / "topologies" / "geneve-router.yaml")


def lab(*args: str, **kw) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "lab", *args],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=REPO,
        **kw,
    )


# --- --version ---------------------------------------------------------------------------------


def test_version_names_ovn_lab_ovs_and_ovn(monkeypatch: pytest.MonkeyPatch) -> None:
    outputs = {
        "ovs-vswitchd": "ovs-vswitchd (Open vSwitch) 3.1.0\n",
        "ovn-controller": "ovn-controller 23.03.1\nOpen vSwitch Library 3.1.0\n",
    }

    def fake_run(argv: list[str], **kw) -> subprocess.CompletedProcess[str]:
        if argv[0] not in outputs:
            raise FileNotFoundError(argv[0])
        return subprocess.CompletedProcess(argv, 0, outputs[argv[0]], "")

    monkeypatch.setattr(version.subprocess, "run", fake_run)
    assert version.version_text() == (
        f"ovn-lab {version.package_version()}\nOpen vSwitch 3.1.0\nOVN 23.03.1\n"
    )
    del outputs["ovn-controller"]  # a machine without OVS/OVN says so instead of failing
    outputs.pop("ovs-vswitchd")
    text = version.version_text()
    assert "Open vSwitch: not installed (ovs-vswitchd not found)" in text
    assert "OVN: not installed (ovn-controller not found)" in text


def test_version_from_the_command_line() -> None:
    proc = lab("--version")
    assert proc.returncode == 0, proc.stderr
    first = proc.stdout.splitlines()[0]
    assert first == f"ovn-lab {version.package_version()}"
    assert [line.split()[0] for line in proc.stdout.splitlines()] == ["ovn-lab", "Open", "OVN"]


# --- completion --------------------------------------------------------------------------------


def complete_bash(words: list[str], state_dir: Path) -> list[str]:
    """What bash offers for `lab WORDS<TAB>` with the generated script loaded."""
    script = completion.bash(cli.build_parser())
    words_q = " ".join(f"'{w}'" for w in ["lab", *words])
    program = (
        f"{script}\nCOMP_WORDS=({words_q}); COMP_CWORD={len(words)}; _lab; "
        'printf "%s\\n" "${COMPREPLY[@]}"'
    )
    env = {**os.environ, "OVN_LAB_STATE_DIR": str(state_dir)}
    proc = subprocess.run(["bash", "-c", program], capture_output=True, text=True, env=env)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.split()


def test_bash_completes_commands_options_choices_and_lab_names(tmp_path: Path) -> None:
    (tmp_path / "lab1").mkdir()
    (tmp_path / "other").mkdir()
    (tmp_path / ".lab1.lock").touch()
    commands = complete_bash([""], tmp_path)
    for name in ("up", "down", "status", "check", "test", "completion", "nbctl", "schema"):
        assert name in commands
    assert "--version" in commands and "--quiet" in commands
    assert complete_bash(["st"], tmp_path) == ["status", "stop", "start"]
    assert complete_bash(["up", "--provider", ""], tmp_path) == ["netns", "docker", "ssh"]
    assert complete_bash(["down", ""], tmp_path) == ["lab1", "other"]
    assert complete_bash(["exec", "--lab", "l"], tmp_path) == ["lab1"]
    assert complete_bash(["check", "--j"], tmp_path) == ["--json", "--junit"]
    assert complete_bash(["completion", ""], tmp_path) == ["bash", "zsh"]
    assert complete_bash(["image", ""], tmp_path) == ["build"]
    for node in ("central", "worker1", "checks", "pki"):  # a lab's state: one dir per node
        (tmp_path / "lab1" / node).mkdir()
    assert complete_bash(["exec", "w"], tmp_path) == ["worker1"]
    assert complete_bash(["stop", ""], tmp_path) == ["central", "worker1"]


def test_bash_completes_topology_files(tmp_path: Path) -> None:
    (tmp_path / "mylab.yaml").write_text("name: x\n")
    words = [*["up", str(tmp_path / "my")]]
    assert complete_bash(words, tmp_path) == [str(tmp_path / "mylab.yaml")]


def test_completion_follows_the_parser() -> None:
    parser = cli.build_parser()  # a command added by any module appears with no edit here
    names = [c.name for c in completion._commands(parser)]
    assert names == list(completion._subparsers(parser).choices)  # type: ignore[union-attr]


def test_zsh_script_parses_and_registers_for_lab(tmp_path: Path) -> None:
    if shutil.which("zsh") is None:
        if os.environ.get("CI"):
            pytest.fail("zsh is missing; `make test` installs it (TEST_APT_PACKAGES)")
        pytest.skip("zsh is not installed (apt-get install zsh)")
    script = tmp_path / "_lab"
    proc = lab("completion", "zsh")
    assert proc.returncode == 0
    script.write_text(proc.stdout)
    assert subprocess.run(["zsh", "-n", str(script)]).returncode == 0
    check = subprocess.run(
        [
            "zsh",
            "-f",
            "-c",
            f"autoload -U compinit && compinit -u -d {tmp_path}/zcd; source {script}; "
            "print -r -- $_comps[lab]; print -r -- ${+functions[_lab_labs]}",
        ],
        capture_output=True,
        text=True,
    )
    assert check.returncode == 0, check.stderr
    assert check.stdout.split() == ["_lab", "1"]
    assert "'up:build a lab from a topology file'" in proc.stdout
    assert "'--provider[override provider]:provider:(netns docker ssh)'" in proc.stdout


# --- -q / -v -----------------------------------------------------------------------------------


def test_quiet_keeps_results_and_errors() -> None:
    plan = lab("-q", "plan", SEED)
    assert plan.returncode == 0 and plan.stdout.startswith("# lab geneve-router")
    bad = lab("-q", "up", "/nonexistent/topology.yaml")
    assert bad.returncode == 2 and "cannot read the file" in bad.stderr


def test_quiet_silences_notes_but_not_errors(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(common.err, "quiet", False)  # restored after the test
    monkeypatch.setenv("OVN_LAB_QUIET", "")  # so that monkeypatch restores it afterwards
    monkeypatch.delenv("OVN_LAB_QUIET")

    def noisy(args: object) -> int:
        common.err.print("a note about progress")
        print("the result")
        raise UserError("one clear sentence")

    monkeypatch.setattr(completion, "cmd_completion", noisy)
    assert cli.main(["completion", "bash"]) == 2
    loud = capsys.readouterr()
    assert "a note" in loud.err and "one clear sentence" in loud.err
    assert cli.main(["-q", "completion", "bash"]) == 2
    quiet = capsys.readouterr()
    assert quiet.out == "the result\n"
    assert "a note" not in quiet.err and "one clear sentence" in quiet.err
    assert os.environ["OVN_LAB_QUIET"] == "1"  # progress spinners off, also in child commands


def test_quiet_and_verbose_exclude_each_other() -> None:
    proc = lab("-q", "-v", "status")
    assert proc.returncode == 2 and "not allowed with" in proc.stderr


def test_verbose_turns_on_logging(monkeypatch: pytest.MonkeyPatch) -> None:
    import logging

    seen: list[int] = []
    monkeypatch.setattr(logging, "basicConfig", lambda **kw: seen.append(kw["level"]))
    monkeypatch.setattr(completion, "cmd_completion", lambda args: 0)
    assert cli.main(["-v", "completion", "bash"]) == 0
    assert seen == [logging.INFO]


# --- a closed pipe -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "argv",
    [["completion", "bash"], ["--version"], ["plan", SEED], ["--help"]],
)
def test_output_into_a_closed_pipe_ends_quietly(argv: list[str]) -> None:
    """`lab ... | head -1`: the reader is gone before lab writes (the worst case)."""
    read, write = os.pipe()
    os.close(read)
    try:
        proc = _lab_to(write, argv)
    finally:
        os.close(write)
    assert proc.returncode in (0, 141), proc.stderr
    assert proc.stderr == "", proc.stderr  # no "internal error: BrokenPipeError", no traceback


def _lab_to(fd: int, argv: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "lab", *argv],
        stdout=fd,
        stderr=subprocess.PIPE,
        text=True,
        timeout=60,
        cwd=REPO,
    )


def test_a_closed_pipe_through_head_as_users_do() -> None:
    proc = subprocess.run(
        ["bash", "-c", f"set -o pipefail; {sys.executable} -m lab plan {SEED} | head -1"],
        capture_output=True,
        text=True,
        cwd=REPO,
    )
    assert proc.stdout.startswith("# lab geneve-router")
    assert "Error" not in proc.stderr and "error" not in proc.stderr


def test_global_verbose_is_not_a_commands_own_verbose() -> None:
    parser = cli.build_parser()
    both = parser.parse_args(["-v", "test", "lab1"])
    assert both.global_verbose and not both.verbose  # `lab test`'s -v shows pytest output
    own = parser.parse_args(["provision", "--inventory", "h.ini", "-v"])
    assert own.verbose and not own.global_verbose


# --- --output is a format, -o/--out a file ----------------------------------------------------

WRITERS = ("schema", "gen", "graph", "bundle")  # they had `-o/--output FILE` before


def _commands() -> dict[str, argparse.ArgumentParser]:
    sub = completion._subparsers(cli.build_parser())
    assert sub is not None
    return dict(sub.choices)


def _option(parser: argparse.ArgumentParser, flag: str) -> argparse.Action | None:
    return next((a for a in parser._actions if flag in a.option_strings), None)


def test_output_is_always_a_format_and_o_out_always_a_file() -> None:
    for name, parser in _commands().items():
        fmt = _option(parser, "--output")
        if fmt is not None and fmt.help != argparse.SUPPRESS:
            assert tuple(fmt.choices or ()) == ("text", "json"), f"lab {name} --output"
        short, long = _option(parser, "-o"), _option(parser, "--out")
        assert short is long, f"lab {name}: -o and --out are one option"
        if short is not None:
            assert "FILE" in (short.metavar or ""), f"lab {name} -o/--out takes no FILE"
    for name in WRITERS:
        parser = _commands()[name]
        old = _option(parser, "--output")
        assert old is not None and old.help == argparse.SUPPRESS, f"lab {name} --output"
        assert _option(parser, "-o") is not None


@pytest.mark.parametrize("flag", ["-o", "--out", "--output"])
def test_writers_take_o_out_and_the_old_output_with_a_warning(flag: str, tmp_path: Path) -> None:
    out = tmp_path / "schema.json"
    proc = lab("schema", flag, str(out))
    assert proc.returncode == 0, proc.stderr
    assert out.read_text().startswith("{")
    deprecated = "--output FILE is deprecated here, use -o/--out FILE" in proc.stderr
    assert deprecated == (flag == "--output")
    parser = cli.build_parser()
    for argv in (
        ["gen", "--chassis", "2", flag, "big.yaml"],
        ["graph", "t.yaml", flag, "x.png"],
        ["bundle", "lab1", flag, "b.tar.gz"],
    ):
        assert parser.parse_args(argv).output == argv[-1]


def test_bundle_without_a_file_names_only_the_current_spelling() -> None:
    proc = lab("bundle", "lab1")
    assert proc.returncode == 2
    assert "one of the arguments -o/--out is required" in proc.stderr


def test_completion_offers_o_out_but_not_the_deprecated_output(tmp_path: Path) -> None:
    assert complete_bash(["schema", "-"], tmp_path) == ["-o", "--out"]
    assert "--output" in complete_bash(["status", "--o"], tmp_path)
    assert "'--output[" not in completion.zsh(cli.build_parser()).split("graph)")[1].split(";;")[0]


def test_topologies_complete_files_and_the_shipped_examples(tmp_path: Path) -> None:
    assert complete_bash(["up", "geneve-r"], tmp_path) == ["geneve-router"]
    assert complete_bash(["plan", "vlan-"], tmp_path) == ["vlan-flapping", "vlan-l3ha"]
    spec = completion.zsh(cli.build_parser()).split("        up)")[1].split(";;")[0]
    assert '_alternatives "files:file:_files" "examples:example:(distributed-fip' in spec
