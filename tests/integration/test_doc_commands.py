"""The pages' commands that need a lab, run in order against a real one, as a reader would
type them (tests/doc_commands.py finds them; the unit test runs the ones that need none).

Each page runs in a state directory of its own, from a directory that looks like the
checkout. Its `lab up`s get a test lab name (`--name tdoc-<page>`), and the lab's name and
state path in later commands (`lab check ha-central`, /var/lib/ovn-lab/ha-central/...) are
rewritten to them; a page that acts on a lab it does not bring up (LAB_PAGES) gets that lab
first. Every command must exit as the page says (0, or EXIT); at the end every lab is down
and nothing of it is left."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from lab.topology.examples import topology_path
from tests import doc_commands as dc

from .conftest import assert_nothing_left, host_links, namespaces
from .test_docker import _containers, docker_client  # noqa: F401 (docker must answer)

pytestmark = pytest.mark.root

SESSIONS = {
    page: [
        c
        for c in dc.all_commands()
        if c.page == page
        and not c.expect_lines
        and not dc.is_synopsis(c.text)
        and c.key not in dc.NOT_RUN
        and c.key not in dc.DRY_RUN
        and not dc.needs_no_lab(c.text)
    ]
    for page in dc.LAB_PAGES
}
DOCKER_PAGES = {"docs/providers.md"}  # its session is the docker block
PAGES = [
    pytest.param(
        page, marks=[pytest.mark.docker] if page in DOCKER_PAGES else [], id=Path(page).stem
    )
    for page in sorted(dc.LAB_PAGES)
]


class Session:
    """One page's shell: its state directory, its labs and their test names."""

    def __init__(self, page: str, tmp: Path) -> None:
        self.page = page
        self.state = tmp / "state"
        self.work = tmp / "work"
        self.work.mkdir()
        for entry in dc.REPO.iterdir():
            if entry.name not in (".git", ".venv", "build"):
                (self.work / entry.name).symlink_to(entry)
        self.short = Path(page).stem.lower()[:8].rstrip("-")
        self.names: dict[str, str] = {}  # the page's lab name -> the test's
        self.env = {
            **os.environ,
            "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",  # this venv's lab
            "OVN_LAB_STATE_DIR": str(self.state),
        }

    def _name_for(self, topology: str) -> str:
        here = self.work / topology
        with open(here if here.is_file() else topology_path(topology)) as f:
            page_name = yaml.safe_load(f)["name"]
        count = len(self.names) + 1
        self.names[page_name] = f"tdoc-{self.short}" + (str(count) if count > 1 else "")
        return self.names[page_name]

    def rewrite(self, text: str) -> str:
        """The command under the test's lab names (each `lab up` gets --name)."""
        parts = re.split(r"(&&|;)", text)
        out = []
        for part in parts:
            up = re.match(r"\s*lab up (\S+)", part)
            if up and "--name" not in part and "--dry-run" not in part:
                part = f"{part.rstrip()} --name {self._name_for(up.group(1))} "
            else:
                for page_name, name in self.names.items():
                    part = part.replace(f"/var/lib/ovn-lab/{page_name}/", f"{self.state}/{name}/")
                    part = re.sub(rf"(?<![\w./-]){re.escape(page_name)}(?![\w.-])", name, part)
            out.append(part)
        return "".join(out).strip()

    def run(self, script: str, timeout: float = 600) -> subprocess.CompletedProcess:
        return subprocess.run(
            ["bash", "-c", f"set -e -o pipefail\n{script}"],
            cwd=self.work,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def labs(self) -> list[str]:
        return sorted(p.name for p in self.state.glob("*") if p.is_dir())


@pytest.mark.parametrize("page", PAGES)
def test_the_pages_commands_run_against_a_real_lab(
    page: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> None:
    client = request.getfixturevalue("docker_client") if page in DOCKER_PAGES else None
    session = Session(page, tmp_path)
    commands = SESSIONS[page]
    assert commands, f"{page} shows no command that needs a lab: take it out of LAB_PAGES"
    links_before = host_links()
    labs_before = namespaces()
    seen: set[str] = set()
    try:
        topology = dc.LAB_PAGES[page]
        if topology:  # the lab the page acts on without bringing it up itself
            up = session.run(session.rewrite(f"lab up topologies/{topology}.yaml"))
            assert up.returncode == 0, f"{page}: lab up {topology}: {up.stderr}"
        for command in commands:
            script = session.rewrite(command.text)
            alongside = dc.ALONGSIDE.get(command.key)
            if alongside:
                script = f"{session.rewrite(alongside)}\n{script}"
            proc = session.run(script)
            where = f"{page}:{command.line}: {script}"
            wanted = dc.EXIT.get(command.key, 0)
            assert proc.returncode == wanted, (
                f"{where}: exited {proc.returncode}, the page expects {wanted}\n"
                f"{proc.stdout}{proc.stderr}"
            )
            expect = dc.EXPECT.get(command.key)
            output = proc.stdout + proc.stderr
            assert expect is None or re.search(expect, output), (
                f"{where}: the page says it shows {expect!r}, it printed:\n{output}"
            )
            seen |= set(session.labs())
    finally:
        for name in session.labs():  # the page's labs left up, or after a failure
            session.run(f"lab down {shlex.quote(name)}", timeout=300)
    assert seen or dc.LAB_PAGES[page], f"{page} brought no lab up"
    assert namespaces() <= labs_before, f"left behind: {namespaces() - labs_before}"
    monkeypatch.setenv("OVN_LAB_STATE_DIR", str(session.state))
    for name in session.names.values():
        assert_nothing_left(name, links_before)
        assert client is None or not _containers(client, name), f"containers of {name} left"
