"""Every command README.md and docs/ show is run by a test, or listed with the reason it is
not (tests/doc_commands.py says how they are read). Here: the sorting itself, the synopsis
lines against lab's own parser, and every command that needs no lab, run as shown.
tests/integration/test_doc_commands.py runs the pages' lab sessions."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from lab.cli import help as cli_help
from lab.cli import main as cli
from tests import doc_commands as dc
from tests.tutorials import TUTORIALS, steps

PARSER = cli.build_parser()
SUBCOMMANDS = dict(cli_help.commands(PARSER))
ALL = dc.all_commands()


def kind(command: dc.Command) -> str:
    if dc.is_tutorial(command):
        return "tutorial"
    if command.expect_lines:
        return "output-of"
    if dc.is_synopsis(command.text):
        return "synopsis"
    if command.key in dc.NOT_RUN:
        return "not-run"
    if command.key in dc.DRY_RUN or dc.needs_no_lab(command.text):
        return "no-lab"
    if command.page in dc.LAB_PAGES:
        return "lab-session"
    return "unsorted"


def test_the_pages_show_commands_of_every_kind() -> None:
    kinds = [kind(c) for c in ALL]
    for wanted, at_least in (
        ("tutorial", 40),
        ("synopsis", 30),
        ("no-lab", 6),
        ("lab-session", 30),
        ("not-run", 10),
        ("output-of", 1),
    ):
        assert kinds.count(wanted) >= at_least, (wanted, kinds.count(wanted))


def test_every_command_is_run_or_listed_with_a_reason() -> None:
    unsorted = [f"{c.page}:{c.line}: {c.key[1]}" for c in ALL if kind(c) == "unsorted"]
    assert not unsorted, (
        "commands no test runs: make them run (a page in tests/doc_commands.py LAB_PAGES) "
        "or list them in NOT_RUN with the reason:\n" + "\n".join(unsorted)
    )


def test_nothing_listed_is_stale_or_runnable() -> None:
    keys = {c.key for c in ALL}
    for listing in (dc.NOT_RUN, dc.DRY_RUN, dc.EXIT, dc.ALONGSIDE, dc.EXPECT):
        stale = set(listing) - keys
        assert not stale, f"no page shows these any more: {sorted(stale)}"
    assert all(len(reason) > 20 for reason in [*dc.NOT_RUN.values(), *dc.DRY_RUN.values()])
    runnable = [k for k in dc.NOT_RUN if dc.needs_no_lab(k[1].split(" #")[0])]
    assert not runnable, f"these need no lab, so they run: {runnable}"
    assert set(dc.LAB_PAGES) <= {str(p.relative_to(dc.REPO)) for p in dc.PAGES}


def test_output_is_in_text_blocks_and_commands_in_shell_blocks() -> None:
    top = {name.split()[0] for name in SUBCOMMANDS}
    bad = [line for page in dc.PAGES for line in dc.text_blocks_with_commands(page, top)]
    assert not bad, "commands in ```text blocks (make them ```sh or ```console):\n" + "\n".join(bad)


def test_the_tutorials_commands_are_the_steps_test_tutorials_runs() -> None:
    for path in TUTORIALS:
        page = str(path.relative_to(dc.REPO))
        shown = [c.text for c in ALL if c.page == page]
        run = [dc.strip_comment(cmd) for step in steps(path) for cmd in step.commands]
        assert shown == run, page


# --- synopsis lines: the command and every option they show exist -------------------------


def _synopsis_targets(text: str) -> list[tuple[str, str]]:
    """(command path, the rest) of a usage line; `lab nbctl|sbctl ...` gives both."""
    words = text.split()[1:]
    if words[0].startswith("-"):
        return [("", " ".join(words))]
    head = words[0].split("|")
    if len(words) > 1 and f"{words[0]} {words[1]}" in SUBCOMMANDS:  # lab image build
        return [(f"{words[0]} {words[1]}", " ".join(words[2:]))]
    return [(name, " ".join(words[1:])) for name in head]


SYNOPSES = [c for c in ALL if kind(c) == "synopsis"]


@pytest.mark.parametrize("command", SYNOPSES, ids=lambda c: f"{c.page}:{c.line}")
def test_a_synopsis_names_a_real_command_and_real_options(command: dc.Command) -> None:
    for name, rest in _synopsis_targets(command.text):
        parser = SUBCOMMANDS.get(name) if name else PARSER
        assert parser is not None, f"{command.page}:{command.line}: no command `lab {name}`"
        known = {s for action in parser._actions for s in action.option_strings}
        known |= {s for action in PARSER._actions for s in action.option_strings}
        for word in rest.replace("[", " ").replace("]", " ").split():
            if word == "--":
                break  # what follows goes to another program
            for flag in word.split("|"):
                if flag.startswith("-") and flag not in ("-",):
                    flag = flag.split("=")[0]
                    assert flag in known, f"{command.page}:{command.line}: lab {name} {flag}?"


# --- the commands that need no lab, run as the page shows them -----------------------------


def workdir(tmp: Path) -> Path:
    """A directory that looks like the checkout to a command (topologies/, scripts/, ...)
    but keeps what the commands write (lab.png, big.yaml) out of it."""
    work = tmp / "work"
    work.mkdir()
    for entry in dc.REPO.iterdir():
        if entry.name not in (".git", ".venv", "build") and not entry.name.endswith(".egg-info"):
            (work / entry.name).symlink_to(entry)
    return work


def shell(text: str, cwd: Path, state: Path, timeout: float = 120) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",  # this venv's `lab`
        "OVN_LAB_STATE_DIR": str(state),
    }
    return subprocess.run(
        ["bash", "-c", f"set -e -o pipefail\n{text}"],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


NO_LAB = [c for c in ALL if kind(c) in ("no-lab", "output-of")]


@pytest.mark.parametrize("command", NO_LAB, ids=lambda c: f"{c.page}:{c.line}")
def test_a_command_that_needs_no_lab_runs_as_shown(command: dc.Command, tmp_path: Path) -> None:
    text = dc.run_dry(command.text) if command.key in dc.DRY_RUN else command.text
    state = tmp_path / "state"
    proc = shell(text, workdir(tmp_path), state)
    where = f"{command.page}:{command.line}: {text}"
    assert proc.returncode == 0, f"{where}: exited {proc.returncode}\n{proc.stdout}{proc.stderr}"
    assert not state.exists() or not any(state.iterdir()), f"{where} made a lab"
    output = proc.stdout.splitlines()
    for line in command.expect_lines:
        assert line in output, f"{where}: the page shows {line!r}, the command does not print it"
