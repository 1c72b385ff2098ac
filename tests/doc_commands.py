"""Every command README.md and docs/ show, and how a test proves it works.

A command is a line of a fenced shell block (``` or ```sh/bash/shell; in ```console blocks
only the `$ ` lines), comments stripped, `\\` continuations joined. Each one is exactly one of:

- a synopsis (`lab gen --chassis N ... [-o FILE]`): a `lab` line with placeholders; its
  command and every option it shows must exist (tests/unit/test_doc_commands.py);
- a tutorial step (docs/tutorials/): run with its expected output by test_tutorials.py;
- a command that needs no lab (help, --version, schema, gen, plan, --dry-run, graph of a
  file, examples, completion): run by the unit test, it must exit 0;
- a command of a page in LAB_PAGES: the page's commands run in order against a real lab
  (tests/integration/test_doc_commands.py), under a test lab name;
- listed in NOT_RUN with the reason it cannot run in CI.

A block marked `<!-- output of: COMMAND -->` on the line before it is what COMMAND prints:
the command runs (needing no lab) and every line of the block must be in its output.
Output shown as an example goes in ```text blocks, where a command line is refused.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PAGES = [REPO / "README.md", *sorted((REPO / "docs").rglob("*.md"))]
FENCE = re.compile(r"^```([\w-]*)\n(.*?)^```[ \t]*$", re.M | re.S)
SHELL = {"", "sh", "bash", "shell", "console"}
OUTPUT_OF = re.compile(r"<!-- output of: (.+?) -->\n$")
PLACEHOLDER = re.compile(r"[A-Z][A-Z0-9_-]*(\.\.\.)?")

# Pages whose commands run in order against one real lab: the topology that lab is made of
# when the page acts on a lab it does not bring up itself (None: the page's own `lab up`).
LAB_PAGES: dict[str, str | None] = {
    "README.md": None,
    "docs/install.md": None,
    "docs/ha-tls.md": None,
    "docs/security-groups.md": None,
    "docs/troubleshooting.md": "geneve-router",  # faults on the seed lab's wires
    "docs/commands.md": "vlan-l3ha",  # `lab gateways --output json` of the second seed
    "docs/providers.md": None,  # the docker block; the other blocks are in NOT_RUN
}

# A command a page shows expecting an exit status other than 0 (page, command) -> status.
EXIT = {
    # the page shows the drop verdict: `lab trace` exits 1 when the packet is not delivered
    ("docs/security-groups.md", "lab trace web1 client --proto tcp --port 8080"): 1,
    # after the acl-del of web-8080 the connect check fails, as the page says
    ("docs/security-groups.md", "lab check"): 1,
}

# What the page says a command shows (its comment), as a regex its output must match.
EXPECT = {
    ("README.md", "lab exec vm1 -- ping -c2 20.0.0.10"): r"ttl=63",
    ("README.md", "lab trace vm1 vm2"): r"delivered to vm2 via network1 -> router1 -> network2",
    ("README.md", "lab capture worker2 --decode -c 4"): r"vni \d+ \(network2\) data \w+: in ",
    ("README.md", "lab flows worker2 --table 65"): r"table=65.*\(vm2\)",
    ("README.md", "lab nbctl -- show"): r"router \S+ \(router1\)",
    ("README.md", "lab check"): r"\b5 passed, 0 failed",
    ("README.md", "lab status --output json"): r'"kind": "status"',
    ("docs/install.md", "lab check && lab down"): r"\b5 passed, 0 failed",
    (
        "docs/ha-tls.md",
        "lab exec central1 -- ovs-appctl -t "
        "/var/lib/ovn-lab/ha-central/central1/ovnnb_db.ctl cluster/status OVN_Northbound",
    ): (r"Role: (leader|follower)"),
    ("docs/ha-tls.md", "lab check ha-central"): r"PASS raft kill=leader.* elected",
    ("docs/security-groups.md", "lab up topologies/security-groups.yaml && lab check"): (
        r"\b17 passed, 0 failed"
    ),
    ("docs/security-groups.md", "lab trace web1 client --proto tcp --port 8080"): (
        r"drop at ls_out_acl \(table 4\) by ACL deny-ingress"
    ),
    ("docs/security-groups.md", "lab trace web1 client --proto tcp --port 8080 --ct est,rpl"): (
        r"verdict: allow"
    ),
    (
        "docs/security-groups.md",
        "grep acl_log /var/lib/ovn-lab/security-groups/worker*/ovn-controller.log",
    ): r'name="deny-ingress", verdict=drop',
    ("docs/security-groups.md", "lab check"): r"FAIL connect .*\n +why: ovn-trace: drop at "
    r"ls_out_acl \(table 4\) by ACL deny-ingress",
    ("docs/troubleshooting.md", "lab status"): r"fault:",
    ("docs/commands.md", "lab gateways --output json"): r'"active": "gw1"',
    ("docs/providers.md", "lab exec worker1 -- ovs-vsctl show"): r"Bridge br-int",
    ("docs/providers.md", "lab check && lab test && lab down"): r"\b5 passed, 0 failed",
}

# What runs beside a command (in the same shell, before it) because the page says so.
ALONGSIDE = {
    # the page shows a settled lab: a gateway is active once BFD is up (seconds after up)
    ("docs/commands.md", "lab gateways --output json"): (
        'for _ in $(seq 60); do lab gateways --output json | grep -q \'"active": "gw1"\' '
        "&& break; sleep 0.5; done"
    ),
    ("README.md", "lab capture worker2 --decode -c 4"): (  # "(ping meanwhile)"
        "lab exec vm1 -- ping -c 30 -i 0.2 20.0.0.10 >/dev/null 2>&1 &"
    ),
}

_VAGRANT = "needs Vagrant VMs (minutes, nested virtualisation); tests/integration/test_vagrant.py"
_SSH = "needs SSH hosts provisioned with Ansible; tests/integration/test_ssh_provider.py"
_BUILDS = "two OVN releases in docker (minutes); tests/integration/test_builds.py runs it"
# The commands the pages show that no test here runs, and why: (page, command) -> reason.
NOT_RUN: dict[tuple[str, str], str] = {
    (
        "docs/scale-out.md",
        "lab up big.yaml --provider ssh --inventory hosts.ini --chassis-per-host 100",
    ): "needs ten provisioned servers; "
    "tests/integration/test_ssh_many_chassis.py runs it with --chassis-per-host 4 on three "
    "sshd containers",
    ("README.md", "make demo"): "installs Debian packages and relinks /usr/local/bin/lab; "
    "CI runs `make test`, whose `install` is the same step, and the README tour is this demo",
    ("README.md", "make test"): "the whole suite itself: CI runs it",
    (
        "docs/big-labs.md",
        "sudo .venv/bin/python benchmarks/scale.py --chassis 10 "
        "--vms-per-chassis 2 [--switches 4] [--skip-baseline] [--first-ping-samples 100]",
    ): (
        "a benchmark (minutes on 10+ chassis; a usage line with options): run by hand, "
        "not by the test suite"
    ),
    (
        "docs/checks.md",
        "OVN_LAB_EXPECT=expect.yaml python -m pytest \"$(python -c 'import "
        'lab.resources as r; print(r.data_dir("checks"))\')" --hosts=ssh://root@central,'
        "ssh://root@hv1",
    ): "hand-made hosts reachable over SSH, none in CI; the same suites run through "
    "`lab test` (tests/integration/test_acceptance.py), which writes the expectations itself",
    ("docs/install.md", "pipx install ./ovn-lab"): "installs into the user's pipx; "
    "tests/integration/test_installed.py runs pip and pipx installs into fresh venvs",
    ("docs/install.md", "pipx inject ovn-lab docker"): "changes the user's pipx install; "
    "test_installed.py checks the missing-extra message that names it",
    ("docs/install.md", "pipx inject ovn-lab paramiko ansible-core ansible-runner"): (
        "changes the user's pipx install; test_installed.py checks the message naming it"
    ),
    ("docs/providers.md", "docker exec -it geneve-router.worker1 bash"): "an interactive "
    "shell; the test runs `docker exec` of a command in the same container instead",
    ("docs/providers.md", "lab image build --build debian:trixie"): _BUILDS,
    ("docs/providers.md", "lab image build --build source:~/src/ovn"): "compiles OVN from "
    "a source tree in ~/src/ovn (tens of minutes); test_builds.py uses a cached build",
    ("docs/providers.md", "lab up topologies/mixed-versions.yaml"): _BUILDS,
    ("docs/providers.md", "lab status"): "of the mixed-versions lab above; " + _BUILDS,
    ("docs/providers.md", "lab upgrade central --to debian:trixie"): _BUILDS,
    ("docs/providers.md", "lab up topologies/upgrade-rehearsal.yaml && lab check"): _BUILDS,
    ("docs/providers.md", "lab lflows"): "of the mixed-versions lab above; "
    "tests/integration/test_cli_output.py runs lflows and --diff on a netns lab",
    ("docs/providers.md", "lab lflows labA --diff labB"): "two labs of two builds; "
    "tests/integration/test_cli_output.py runs --diff",
    ("docs/providers.md", "lab provision --inventory hosts.ini --known-hosts known_hosts"): _SSH,
    (
        "docs/providers.md",
        "lab up topologies/geneve-router.yaml --provider ssh --inventory "
        "hosts.ini --known-hosts known_hosts",
    ): _SSH,
    ("docs/providers.md", "lab exec vm1 -- ping -c 3 20.0.0.10"): _SSH,
    ("docs/providers.md", "lab check && lab test"): _SSH,
    ("docs/providers.md", "lab down"): _SSH,
    ("docs/providers.md", "make install"): "installs Debian packages and relinks "
    "/usr/local/bin/lab; CI runs it as part of `make test`",
    ("docs/providers.md", 'export PATH="$PWD/.venv/bin:$PATH"'): _VAGRANT,
    ("docs/providers.md", "vagrant up"): _VAGRANT,
    (
        "docs/providers.md",
        "lab up topologies/geneve-router.yaml --provider ssh --inventory "
        ".vagrant/provisioners/ansible/inventory/vagrant_ansible_inventory --known-hosts "
        ".vagrant/known_hosts --accept-new-host-keys",
    ): _VAGRANT,
    ("docs/providers.md", "vagrant destroy -f && rm -f .vagrant/known_hosts"): _VAGRANT,
    ("docs/providers.md", "sudo bash scripts/vagrant-ready.sh"): "installs vagrant; "
    "CI runs it as `make vagrant-ready`",
    ("docs/providers.md", "lab check && lab test && lab down #2"): _VAGRANT,
    ("docs/providers.md", "lab image build #2"): "the docker block's `lab image build`, "
    "which runs (same image, found)",
    ("docs/providers.md", 'export PATH="$PWD/.venv/bin:$PATH" #2'): _VAGRANT,
    (
        "docs/providers.md",
        "lab up topologies/geneve-router.yaml --provider ssh --inventory "
        ".vagrant/provisioners/ansible/inventory/vagrant_ansible_inventory --known-hosts "
        ".vagrant/known_hosts --accept-new-host-keys #2",
    ): _VAGRANT,
    ("docs/providers.md", "lab check && lab test && lab down #3"): _VAGRANT,
    ("docs/providers.md", "VAGRANT_DEFAULT_PROVIDER=docker vagrant up"): _VAGRANT,
    (
        "docs/providers.md",
        "VAGRANT_DEFAULT_PROVIDER=docker vagrant destroy -f && rm -f .vagrant/known_hosts",
    ): _VAGRANT,
}


@dataclass
class Command:
    page: str  # relative to the repository: "README.md", "docs/ha-tls.md"
    line: int
    text: str
    expect_lines: list[str] = field(default_factory=list)  # an `output of:` block

    occurrence: int = 1  # the same line shown again on the page: 2, 3, ...

    @property
    def key(self) -> tuple[str, str]:
        """(page, command), the command as `TEXT #2` for its second showing on the page."""
        return (self.page, self.text if self.occurrence == 1 else f"{self.text} #{self.occurrence}")

    @property
    def is_lab(self) -> bool:
        return self.text == "lab" or self.text.startswith("lab ")


def strip_comment(line: str) -> str:
    """The line without its trailing `# comment` (a # outside quotes, after a blank)."""
    quote = ""
    for i, char in enumerate(line):
        if quote:
            quote = "" if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char == "#" and (i == 0 or line[i - 1] in " \t"):
            return line[:i].rstrip()
    return line.rstrip()


def _lines(language: str, body: str) -> list[tuple[int, str]]:
    """(offset in the block, command) of each command line of a shell block."""
    found: list[tuple[int, str]] = []
    pending = ""
    start = 0
    after_synopsis = False
    for offset, raw in enumerate(body.splitlines()):
        if language == "console":
            if raw.startswith("$ "):
                found.append((offset, strip_comment(raw[2:])))
            continue
        if not pending and raw[:1] in (" ", "\t") and after_synopsis:
            continue  # the description of a synopsis line, wrapped
        line = strip_comment(raw)
        if not line.strip():
            continue
        if not pending:
            start = offset
        if line.endswith("\\"):
            pending += line[:-1].rstrip() + " "
            continue
        text = " ".join((pending + line).split())
        if is_synopsis(text):  # the usage only, not its description after two blanks
            text = " ".join(re.split(r"\s{2,}", (pending + line).strip(), maxsplit=1)[0].split())
        pending = ""
        found.append((start, text))
        after_synopsis = is_synopsis(text)
    return found


def is_synopsis(text: str) -> bool:
    """`lab up TOPOLOGY [--name N]`: a usage line of lab, not a command to run."""
    if not text.startswith("lab "):
        return False
    words = re.split(r"\s{2,}", text, maxsplit=1)[0].split()[1:]
    return any(
        "[" in w or "]" in w or PLACEHOLDER.fullmatch(w) or ("|" in w and w != "|") for w in words
    )


def commands(path: Path) -> list[Command]:
    text = path.read_text()
    page = str(path.relative_to(REPO))
    found: list[Command] = []
    seen: dict[str, int] = {}
    for match in FENCE.finditer(text):
        language, body = match.group(1), match.group(2)
        first = text.count("\n", 0, match.start()) + 2  # the block's first line
        marker = OUTPUT_OF.search(text, 0, match.start())
        if marker and marker.end() == match.start():
            lines = [ln.rstrip() for ln in body.splitlines() if ln.strip()]
            found.append(Command(page, first - 1, marker.group(1), lines))
            continue
        if language not in SHELL:
            continue
        for offset, line in _lines(language, body):
            seen[line] = seen.get(line, 0) + 1
            found.append(Command(page, first + offset, line, occurrence=seen[line]))
    return found


def text_blocks_with_commands(path: Path, subcommands: set[str]) -> list[str]:
    """Lines of ```text blocks that look like commands (they belong in a shell block)."""
    text = path.read_text()
    bad = []
    for match in FENCE.finditer(text):
        if match.group(1) != "text":
            continue
        for line in match.group(2).splitlines():
            words = line.split()
            if line.startswith("$ ") or (
                len(words) > 1 and words[0] == "lab" and words[1] in subcommands
            ):
                bad.append(f"{path.relative_to(REPO)}: {line}")
    return bad


def all_commands() -> list[Command]:
    return [c for page in PAGES for c in commands(page)]


def is_tutorial(command: Command) -> bool:
    return command.page.startswith("docs/tutorials/")


NEEDS_NO_LAB = re.compile(
    r"lab (--version|--help|-h|schema|gen|plan|completion|examples)( |$)"
    r"|lab up \S+( .*)? --dry-run( |$)"
    r"|lab graph (topologies/|\S+\.ya?ml)"
    r"|lab \S+ (.* )?--help$"
)


def needs_no_lab(text: str) -> bool:
    """Every part of the line (`a && b`, `a; b`) runs without a lab, and none is `sudo`."""
    parts = [p.strip() for p in re.split(r"&&|;|\|\|", text)]
    return all(NEEDS_NO_LAB.match(p) for p in parts)


# Commands that run with each of their `lab up`s as --dry-run: (page, command) -> why.
DRY_RUN = {
    (
        "docs/big-labs.md",
        "lab gen --chassis 100 --vms-per-chassis 10 --switches 4 -o big.yaml && lab up big.yaml",
    ): "100 chassis and 1000 VMs do not fit a CI machine; their plan is made, which "
    "validates the generated file (tests/unit/test_gen.py loads generated topologies)",
}


def run_dry(text: str) -> str:
    """`lab gen ... -o big.yaml && lab up big.yaml`: each `lab up` as --dry-run (the page
    shows the real `lab up` of the same kind of file elsewhere, and this one is 100 chassis)."""
    parts = re.split(r"(&&|;)", text)
    out = []
    for part in parts:
        if re.match(r"\s*lab up \S+", part) and "--dry-run" not in part:
            part = part.rstrip() + " --dry-run "
        out.append(part)
    return "".join(out).strip()


def words(text: str) -> list[str]:
    return shlex.split(text)
