"""`lab provision`: install and start OVS/OVN on SSH hosts with the shipped playbooks.

The playbooks are package data (lab/data/playbooks, found through lab.resources).

The playbook runs through ansible-runner. Its events go through `EventWatcher` (pure: event
dicts in, progress lines and per-host tallies out, unit-tested with recorded events), which
also keeps every failure so a failed run becomes one clear message naming the host, the
task and what the module said.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.status import Status
from rich.table import Table

from lab.errors import LabError, RuntimeFailure, UserError
from lab.extras import install_hint, require
from lab.resources import data_dir

PLAYBOOKS = data_dir("playbooks")  # lab/data/playbooks, shipped in the package
PLAYBOOK = "site.yml"
GROUPS = ("central", "chassis", "gateway")
MAX_MESSAGE = 400  # characters of a module's message kept in the one-line error

err = Console(stderr=True, soft_wrap=True, highlight=False)


# --- events -> progress, tallies, failures (pure) ---------------------------------------------


@dataclass
class Tally:
    ok: int = 0
    changed: int = 0
    failed: int = 0
    unreachable: int = 0
    skipped: int = 0


@dataclass(frozen=True)
class HostFailure:
    host: str
    task: str
    action: str
    message: str
    unreachable: bool = False

    def __str__(self) -> str:
        if self.unreachable:
            return f"host {self.host} is unreachable (task '{self.task}'): {self.message}"
        return f"host {self.host} failed task '{self.task}' ({self.action}): {self.message}"


@dataclass(frozen=True)
class Line:
    """One thing worth showing: a play starting, a task starting, or a host's result."""

    kind: str  # play | task | ok | changed | failed | unreachable | skipped | ignored | warning
    text: str
    host: str = ""


def one_line(text: str, limit: int = MAX_MESSAGE) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def _last_line(value: Any) -> str:
    lines = [ln.strip() for ln in str(value or "").splitlines() if ln.strip()]
    return lines[-1] if lines else ""


def result_message(res: Mapping[str, Any]) -> str:
    """What a failed module result says, in one line: its msg, the last line of its stderr
    (or stdout) and its exit status; for a loop, those of the first failed item."""
    items = res.get("results")
    if isinstance(items, list):
        for item in items:
            if isinstance(item, Mapping) and item.get("failed"):
                return result_message(item)
    msg = str(res.get("msg") or "").strip().removeprefix("Task failed: ")  # ansible-core 2.19
    parts = [msg] if msg and msg != "non-zero return code" else []
    detail = _last_line(res.get("stderr")) or _last_line(res.get("module_stderr"))
    rc = res.get("rc")
    if not detail and rc not in (None, 0):
        detail = _last_line(res.get("stdout")) or _last_line(res.get("module_stdout"))
    if detail and detail not in msg:
        parts.append(detail)
    if isinstance(rc, int) and rc != 0:
        parts.append(f"exit status {rc}")
    return one_line(": ".join(parts) or "failed, and the module gave no message")


def task_label(data: Mapping[str, Any]) -> str:
    task = str(data.get("task") or "?").strip()
    role = data.get("role")
    return f"{role} : {task}" if role else task


@dataclass
class EventWatcher:
    """Follows ansible-runner events. `handle` returns the lines to show for one event."""

    tallies: dict[str, Tally] = field(default_factory=dict)
    failures: list[HostFailure] = field(default_factory=list)
    stats: dict[str, Tally] | None = None  # from playbook_on_stats: the authoritative counts
    current_task: str = ""

    def _tally(self, host: str) -> Tally:
        return self.tallies.setdefault(host, Tally())

    def handle(self, event: Mapping[str, Any]) -> list[Line]:
        kind = str(event.get("event") or "")
        data: Mapping[str, Any] = event.get("event_data") or {}
        host = str(data.get("host") or "")
        res: Mapping[str, Any] = data.get("res") or {}
        if kind == "playbook_on_play_start":
            return [Line("play", str(data.get("play") or data.get("name") or "play"))]
        if kind == "playbook_on_task_start":
            self.current_task = task_label(data)
            return [Line("task", self.current_task)]
        if kind == "playbook_on_stats":
            self.stats = stats_tallies(data)
            return []
        if kind in ("warning", "deprecated"):
            return [Line("warning", one_line(str(event.get("stdout") or "")))]
        label = task_label(data)
        if kind == "runner_on_ok":
            changed = bool(res.get("changed"))
            tally = self._tally(host)
            tally.ok += 1
            tally.changed += changed
            return [Line("changed" if changed else "ok", label, host)]
        if kind == "runner_on_skipped":
            self._tally(host).skipped += 1
            return [Line("skipped", label, host)]
        if kind == "runner_on_failed":
            if data.get("ignore_errors"):
                self._tally(host).ok += 1
                return [Line("ignored", f"{label}: {result_message(res)}", host)]
            self._tally(host).failed += 1
            failure = HostFailure(
                host, label, str(data.get("task_action") or "?"), result_message(res)
            )
            self.failures.append(failure)
            return [Line("failed", f"{label}: {failure.message}", host)]
        if kind == "runner_on_unreachable":
            self._tally(host).unreachable += 1
            failure = HostFailure(
                host,
                label,
                str(data.get("task_action") or "?"),
                result_message(res),
                unreachable=True,
            )
            self.failures.append(failure)
            return [Line("unreachable", f"{label}: {failure.message}", host)]
        return []

    def counts(self) -> dict[str, Tally]:
        return self.stats if self.stats is not None else self.tallies


def stats_tallies(data: Mapping[str, Any]) -> dict[str, Tally]:
    """Per-host counts from a playbook_on_stats event (ansible's own recap)."""
    fields = {
        "ok": "ok",
        "changed": "changed",
        "failures": "failed",
        "dark": "unreachable",
        "skipped": "skipped",
    }
    hosts: set[str] = set()
    for key in (*fields, "processed"):
        hosts |= set((data.get(key) or {}).keys())
    tallies = {h: Tally() for h in sorted(hosts)}
    for key, attr in fields.items():
        for h, n in (data.get(key) or {}).items():
            setattr(tallies[h], attr, int(n))
    return tallies


def run_error(watcher: EventWatcher, rc: int, output: str, inventory: Path) -> LabError | None:
    """The one error a finished run amounts to, or None when it succeeded."""
    if watcher.failures:
        first = watcher.failures[0]
        text = f"provisioning failed: {first}"
        others = sorted({f.host for f in watcher.failures[1:]} - {first.host})
        if others:
            text += f" (also failed: {', '.join(others)})"
        if "Host key verification failed" in first.message:
            return UserError(
                f"{text.rstrip('.')}. Put the host's key in a known_hosts file (ssh-keyscan) "
                "and pass --known-hosts FILE, or trust new hosts on first contact with "
                "--accept-new-host-keys"
            )
        return RuntimeFailure(text)
    if rc != 0:
        lines = output.splitlines()
        errors = [ln for ln in lines if "ERROR" in ln]
        said = errors[0] if errors else _last_line(output) or "no output"
        why = [ln for ln in lines if "Failed to parse" in ln]  # a broken inventory says where
        if why:
            said += f" ({why[0].removeprefix('[WARNING]: ')})"
        said = one_line(said)
        return UserError(f"ansible-playbook could not run the playbook (exit {rc}): {said}")
    if not watcher.counts():
        return UserError(
            f"no host to provision: {inventory} has no host in groups "
            f"{', '.join(GROUPS)} (or --limit matched none of them)"
        )
    return None


# --- running ansible-runner -------------------------------------------------------------------


@dataclass
class Outcome:
    rc: int
    status: str
    output: str
    seconds: float


def _ssh_common_args(known_hosts: Path | None, accept_new: bool) -> str:
    # ansible splits this setting like a shell would: quote the path
    args: list[str] = []
    if known_hosts is not None:
        args += ["-o", f"UserKnownHostsFile={known_hosts}"]
    if accept_new:
        args += ["-o", "StrictHostKeyChecking=accept-new"]
    return shlex.join(args)


def _close_ssh_masters(control_dir: Path) -> None:
    """Stop the ssh ControlPersist masters this run left, instead of letting them linger."""
    if not control_dir.is_dir():
        return
    for sock in control_dir.iterdir():
        subprocess.run(
            ["ssh", "-o", f"ControlPath={sock}", "-O", "exit", "lab-provision"],
            capture_output=True,
            timeout=15,
            check=False,
        )


def run_playbook(
    inventory: Path,
    on_event: Callable[[Mapping[str, Any]], None],
    *,
    limit: str | None = None,
    check: bool = False,
    known_hosts: Path | None = None,
    accept_new_host_keys: bool = False,
    forks: int | None = None,
) -> Outcome:
    """Run the shipped site.yml against `inventory`; every ansible-runner event goes to on_event.
    `forks`: hosts provisioned at once (Ansible's default is 5)."""
    ansible_runner = require("ansible_runner")  # the [ssh] extra
    bin_dir = Path(sys.executable).parent  # the venv's ansible-playbook, even when not on PATH
    path = f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"
    if shutil.which("ansible-playbook", path=path) is None:
        raise UserError(
            f"ansible-playbook is missing; install the [ssh] extra: {install_hint('ssh')}"
        )
    private = Path(tempfile.mkdtemp(prefix="lab-provision-"))
    control_dir = private / "cp"
    envvars = {
        "PATH": path,
        "ANSIBLE_HOST_KEY_CHECKING": "True",
        "ANSIBLE_SSH_CONTROL_PATH_DIR": str(control_dir),
        "ANSIBLE_LOCAL_TEMP": str(private / "tmp"),
        "ANSIBLE_PIPELINING": "True",
        "ANSIBLE_PYTHON_INTERPRETER": "auto_silent",
        "ANSIBLE_INVENTORY_UNPARSED_FAILED": "True",
        "ANSIBLE_NOCOLOR": "True",
        "ANSIBLE_RETRY_FILES_ENABLED": "False",
    }
    ssh_args = _ssh_common_args(known_hosts, accept_new_host_keys)
    if ssh_args:
        envvars["ANSIBLE_SSH_COMMON_ARGS"] = ssh_args

    def handler(event: Mapping[str, Any]) -> bool:
        on_event(event)
        return True

    start = time.monotonic()
    try:
        runner = ansible_runner.run(
            private_data_dir=str(private),
            project_dir=str(PLAYBOOKS),
            playbook=PLAYBOOK,
            inventory=str(inventory),
            limit=limit,
            forks=forks,
            cmdline="--check" if check else None,
            envvars=envvars,
            event_handler=handler,
            quiet=True,
        )
        seconds = time.monotonic() - start
        output = runner.stdout.read() if runner.stdout else ""
        return Outcome(int(runner.rc or 0), str(runner.status), output, seconds)
    finally:
        _close_ssh_masters(control_dir)
        shutil.rmtree(private, ignore_errors=True)


# --- showing it -------------------------------------------------------------------------------

STYLE = {
    "ok": "green",
    "changed": "yellow",
    "failed": "bold red",
    "unreachable": "bold red",
    "skipped": "dim",
    "ignored": "dim",
    "warning": "dim",
}
QUIET = ("skipped", "warning")


class ProgressView:
    """Host and task as they run: a spinner with the current task on a terminal, and one
    line per host result (skipped tasks and Ansible's warnings only with --verbose)."""

    def __init__(self, console: Console, verbose: bool = False) -> None:
        self.console = console
        self.verbose = verbose
        self.status: Status | None = None

    def show(self, lines: list[Line]) -> None:
        for line in lines:
            if line.kind == "play":
                self.console.print(f"[bold]{escape(line.text)}[/bold]")
            elif line.kind == "task":
                if self.status is not None:
                    self.status.update(f"{escape(line.text)}")
            elif line.kind not in QUIET or self.verbose:
                style = STYLE.get(line.kind, "")
                self.console.print(
                    f"  [{style}]{line.kind:<11}[/{style}] {escape(line.host):<12} "
                    f"{escape(line.text)}"
                )


def summary_table(counts: Mapping[str, Tally]) -> Table:
    table = Table(title="provisioned", title_justify="left")
    for col in ("host", "ok", "changed", "failed", "unreachable", "skipped"):
        table.add_column(col, justify="left" if col == "host" else "right")
    for host, t in sorted(counts.items()):
        bad = t.failed or t.unreachable
        table.add_row(
            f"[red]{escape(host)}[/red]" if bad else escape(host),
            str(t.ok),
            str(t.changed),
            str(t.failed),
            str(t.unreachable),
            str(t.skipped),
        )
    return table


def summary_json(
    inventory: Path, outcome: Outcome, watcher: EventWatcher, error: LabError | None, check: bool
) -> dict[str, Any]:
    return {
        "inventory": str(inventory),
        "check": check,
        "ok": error is None,
        "seconds": round(outcome.seconds, 2),
        "hosts": {h: asdict(t) for h, t in sorted(watcher.counts().items())},
        "failures": [asdict(f) for f in watcher.failures],
        "error": str(error) if error else None,
    }


# --- command ----------------------------------------------------------------------------------
