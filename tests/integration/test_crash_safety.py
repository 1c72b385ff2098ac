"""Interrupt `lab up` anywhere: afterwards nothing of the lab may remain.

Three ways to interrupt it, each kill point its own test:
- SIGKILL at every checkpoint of lab.testhooks (and per node), then `lab down NAME`
  (or `lab down --all`);
- SIGKILL from outside at fixed delays, then `lab down NAME`;
- SIGINT (Ctrl-C) at fixed delays: `lab up` rolls back by itself, no `lab down`.

Delays are counted from the moment `lab up` writes the lab's state.json (when it starts
creating things): the ~0.7 s of Python start-up and planning before it create nothing,
and the build itself takes ~0.8 s on a 2-CPU machine. Two delays counted from the process
start are kept to cover that early window too.

Residue is everything assert_nothing_left looks at, plus any process (host namespace
helpers such as ovs-vsctl or ovn-nbctl included) whose command line names the lab's state
directory or namespaces. Each test records its kill point and residue; the module prints a
one-line summary ("N kill points, R residue")."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from lab import naming
from lab.providers.netns import namespaces as nsprov
from lab.testhooks import CHECKPOINTS, ENV

from .conftest import (
    REPO,
    TOPOLOGIES,
    assert_nothing_left,
    host_links,
    lab,
    lab_processes,
    live_processes,
    namespaces,
)

pytestmark = pytest.mark.root
TOPOLOGY = str(TOPOLOGIES / "geneve-router.yaml")
NODES = ("central", "worker1", "worker2")
CHASSIS = ("worker1", "worker2")

# Every checkpoint (first node to reach a per-node one), then the per-node variants.
PER_NODE = [f"{cp}:{n}" for cp in ("node-wired", "node-daemons") for n in NODES] + [
    f"vms:{n}" for n in CHASSIS
]
KILL_POINTS = [*CHECKPOINTS, *PER_NODE]
DOWN_ALL_POINTS = ["state", "node-daemons:worker1", "ports-up"]
# (anchor, seconds): "start" = after the process starts, "state" = after state.json
# appears; "daemons" / "controllers": see SIGINT_POINTS; "ovs-vsctl" / "wait-until": while
# `lab up` runs that helper in the host namespace (orphaned by the kill, it must not stay).
KILL_DELAYS = [
    ("start", 0.3),
    ("start", 1.0),
    *[("state", d) for d in (0.0, 0.02, 0.05, 0.15, 0.3, 0.45, 0.6, 0.75)],
    ("daemons", 0.0),
    ("controllers", 0.0),
    ("ovs-vsctl", 0.0),
    ("wait-until", 0.0),
]
# (to, anchor, seconds). to: "pid" = `kill -INT PID`; "group" = Ctrl-C in a terminal, which
# signals the whole foreground process group (ovs-vsctl, ovn-nbctl... children too).
# Anchors by progress, robust to a loaded machine: "daemons" = the first daemon's pidfile
# appeared (node threads are running); "controllers" = every chassis' ovn-controller
# pidfile appeared (the VM ports are coming up).
SIGINT_POINTS = [
    ("pid", "state", 0.0),
    ("pid", "state", 0.3),
    ("pid", "state", 0.7),
    ("pid", "daemons", 0.0),
    ("pid", "controllers", 0.0),
    ("group", "daemons", 0.0),
    ("group", "controllers", 0.0),
]


@dataclass
class Record:
    kind: str
    point: str
    landed: str
    residue: int


RECORDS: list[Record] = []
STARTED: list[str] = []  # labs this test may have left up if it failed half way


@pytest.fixture(autouse=True)
def _down_on_failure() -> Iterator[None]:
    yield
    while STARTED:
        name = STARTED.pop()
        if (_state_root() / name / "state.json").exists():
            lab("down", name)


@pytest.fixture(scope="module", autouse=True)
def _summary(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    if not RECORDS:
        return
    kinds = ", ".join(
        f"{sum(r.kind == k for r in RECORDS)} {k}" for k in dict.fromkeys(r.kind for r in RECORDS)
    )
    residue = sum(r.residue for r in RECORDS)
    line = f"crash safety: {len(RECORDS)} kill points ({kinds}), {residue} residue"
    lines = [line] + [
        f"  {r.kind:10} {r.point:24} {r.landed:44} residue {r.residue}" for r in RECORDS
    ]
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    if reporter is None or capture is None:
        print("\n".join(lines))
        return
    with capture.global_and_fixture_disabled():  # shown even when output is captured
        reporter.write_line("")
        for text in lines:
            reporter.write_line(text)


def _state_root() -> Path:
    return Path(os.environ.get("OVN_LAB_STATE_DIR", "/var/lib/ovn-lab"))


def _helpers(name: str) -> list[str]:
    """Any live process whose command line names the lab's state directory or one of its
    namespaces: daemons, and host-namespace helpers orphaned by a killed `lab up`."""
    marks = (f"{_state_root() / name}/", f" {name}-")
    found = [
        f"{pid}: {cmd}"
        for pid, cmd in live_processes()
        if any(m in f" {cmd}" for m in marks) and "pytest" not in cmd
    ]
    return found


def residue(name: str, links_before: set[str]) -> list[str]:
    """Everything of lab `name` still on the machine (each item one line). A helper
    orphaned by a kill gets 2 s to notice its database is gone and exit."""
    deadline = time.monotonic() + 2.0
    while (procs := set(lab_processes(name)) | set(_helpers(name))) and time.monotonic() < deadline:
        time.sleep(0.05)
    found = [f"netns {n}" for n in sorted(namespaces()) if n.startswith(naming.lab_prefix(name))]
    found += [f"process {p}" for p in sorted(procs)]
    found += [f"host link {x}" for x in sorted(host_links() - links_before)]
    if (_state_root() / name).exists():
        found.append(f"state dir {_state_root() / name}")
    if (_state_root() / f".{name}.lock").exists():
        found.append(f"lock file {_state_root() / f'.{name}.lock'}")
    return found


def landed(name: str) -> str:
    """What existed when the kill landed: phase, namespaces, live processes in them."""
    path = _state_root() / name / "state.json"
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return "no state.json (not written yet, or rolled back)"
    netns = data.get("resources", {}).get("netns", [])
    live = [n for n in netns if nsprov.exists(n)]
    pids = nsprov.pids_in(live)
    return f"phase {data.get('phase')}, {len(live)}/{len(netns)} netns, {len(pids)} processes"


def _clean(name: str) -> None:
    """A leftover of an earlier aborted run of this test would make `lab up` refuse."""
    STARTED.append(name)
    if (_state_root() / name / "state.json").exists():
        lab("down", name)


def _spawn_up(name: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "lab", "up", TOPOLOGY, "--name", name],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=REPO,
        start_new_session=True,  # its own process group, as a shell job would have
    )


def _reached(name: str, anchor: str, after: int) -> bool:
    lab_dir = _state_root() / name
    if anchor == "state":
        return (lab_dir / "state.json").exists()
    if anchor == "daemons":
        return any(lab_dir.glob("*/*.pid"))
    if anchor == "controllers":
        return all((lab_dir / n / "ovn-controller.pid").exists() for n in CHASSIS)
    return _running(anchor, f"{lab_dir}/", after=after)  # a helper running, by its command line


def _running(*texts: str, after: int) -> bool:
    """A process started after PID `after` whose command line holds every text."""
    for entry in os.scandir("/proc"):
        if entry.name.isdigit() and int(entry.name) > after:
            try:
                with open(f"{entry.path}/cmdline", "rb") as fh:
                    cmdline = fh.read().decode(errors="replace")
            except OSError:
                continue
            if all(t in cmdline for t in texts):
                return True
    return False


def _signal_after(
    name: str, sig: signal.Signals, anchor: str, delay: float, group: bool = False
) -> tuple[subprocess.Popen[str], str, str, str]:
    """Start `lab up`, send `sig` `delay` s after the anchor ("start": the process started;
    else see _reached), to its process group if `group`; (proc, what existed when the
    signal landed, stdout, stderr)."""
    proc = _spawn_up(name)
    if anchor != "start":
        while not _reached(name, anchor, proc.pid) and proc.poll() is None:
            time.sleep(0.001)
    start = time.monotonic()
    while time.monotonic() - start < delay and proc.poll() is None:
        time.sleep(0.001)
    if proc.poll() is None:
        if group:
            os.killpg(proc.pid, sig)
        else:
            proc.send_signal(sig)
        if sig == signal.SIGKILL:
            proc.wait(timeout=30)
        where = landed(name)  # for SIGINT: as the rollback begins
    else:
        where = "too late: lab up had exited"
    try:
        stdout, stderr = proc.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()  # a hung `lab up` (see lifecycle._in_thread) is a failure
        stdout, stderr = proc.communicate()
        raise AssertionError(f"lab up hung after the signal ({where}):\n{stderr}") from None
    return proc, where, stdout, stderr


def _check_down(name: str, links_before: set[str], kind: str, point: str, where: str) -> None:
    down = lab("down", name)
    assert down.returncode == 0, down.stderr
    left = residue(name, links_before)
    RECORDS.append(Record(kind, point, where, len(left)))
    assert not left, f"{kind} at {point} ({where}): left behind {left}"
    assert_nothing_left(name, links_before)


def _name(prefix: str, index: int) -> str:
    return f"{prefix}{index:02d}"


@pytest.mark.parametrize("point", KILL_POINTS)
def test_sigkill_at_checkpoint_then_down(point: str) -> None:
    name = _name("tkc", KILL_POINTS.index(point))
    _clean(name)
    links_before = host_links()
    up = lab("up", TOPOLOGY, "--name", name, env={**os.environ, ENV: point})
    assert up.returncode == -signal.SIGKILL, (
        f"the hook at {point} did not fire: exit {up.returncode}\n{up.stderr}"
    )
    _check_down(name, links_before, "checkpoint", point, landed(name))


@pytest.mark.parametrize("point", DOWN_ALL_POINTS)
def test_sigkill_at_checkpoint_then_down_all(point: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """`lab down --all` must find a crashed lab too. It runs against a private state root,
    so it sees only this test's lab, never the other labs on this machine."""
    root = Path(tempfile.mkdtemp(prefix="tk-"))  # short: daemons' unix socket paths
    monkeypatch.setenv("OVN_LAB_STATE_DIR", str(root))
    name = _name("tka", DOWN_ALL_POINTS.index(point))
    try:
        links_before = host_links()
        up = lab("up", TOPOLOGY, "--name", name, env={**os.environ, ENV: point})
        assert up.returncode == -signal.SIGKILL, up.stderr
        where = landed(name)
        down = lab("down", "--all")
        assert down.returncode == 0, down.stderr
        assert f"lab {name} is down" in down.stderr
        left = residue(name, links_before)
        RECORDS.append(Record("down --all", point, where, len(left)))
        assert not left, f"down --all after a kill at {point}: left behind {left}"
        assert_nothing_left(name, links_before)
    finally:
        if (root / name / "state.json").exists():
            lab("down", name)
        shutil.rmtree(root, ignore_errors=True)


@pytest.mark.parametrize(
    ("anchor", "delay"), KILL_DELAYS, ids=[f"{a}+{d:.2f}s" for a, d in KILL_DELAYS]
)
def test_sigkill_after_delay_then_down(anchor: str, delay: float) -> None:
    name = _name("tks", KILL_DELAYS.index((anchor, delay)))
    _clean(name)
    links_before = host_links()
    proc, where, _, stderr = _signal_after(name, signal.SIGKILL, anchor, delay)
    assert proc.returncode in (-signal.SIGKILL, 0), stderr
    _check_down(name, links_before, "SIGKILL", f"{anchor}+{delay:.2f}s", where)


@pytest.mark.parametrize(
    ("to", "anchor", "delay"),
    SIGINT_POINTS,
    ids=[f"{t}-{a}+{d:.2f}s" for t, a, d in SIGINT_POINTS],
)
def test_ctrl_c_rolls_back_by_itself(to: str, anchor: str, delay: float) -> None:
    """SIGINT as state is written, while node threads start daemons, or while the ports come
    up: `lab up` waits for its threads, removes everything, says so and exits 2, with no
    `lab down`."""
    name = _name("tki", SIGINT_POINTS.index((to, anchor, delay)))
    point = f"{to} {anchor}+{delay:.2f}s"
    _clean(name)
    links_before = host_links()
    proc, where, _, stderr = _signal_after(name, signal.SIGINT, anchor, delay, to == "group")
    if proc.returncode == 0 or f"lab {name} is up" in stderr:
        # the signal came after the build (or even while Python exited): the lab is up
        where = f"lab up had finished (exit {proc.returncode})"
        lab("down", name, check=True)
    else:
        assert proc.returncode == 2, f"{point}: exit {proc.returncode}\n{stderr}"
        assert f"interrupted; lab '{name}' was rolled back" in stderr, stderr
    left = residue(name, links_before)
    RECORDS.append(Record("SIGINT", point, where, len(left)))
    assert not left, f"SIGINT ({point}): left behind without `lab down`: {left}"
    assert_nothing_left(name, links_before)
