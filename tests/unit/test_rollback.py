"""`lab up` interrupted anywhere leaves nothing; without root, namespaces or daemons."""

from __future__ import annotations

import signal
import threading
import time
from pathlib import Path

import pytest

from lab import providers
from lab.errors import UserError
from lab.ops import up as lifecycle
from lab.plan.planner import make_plan
from lab.providers.base import Prepared
from lab.state import store as state
from lab.topology import load_topology

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("OVN_LAB_STATE_DIR", str(tmp_path))
    return tmp_path


def test_lock_file_goes_when_the_body_raises_and_no_state_remains(root: Path) -> None:
    with pytest.raises(RuntimeError), state.lab_lock("tku", remove_after=True):
        raise RuntimeError("a rolled-back lab up")
    assert not (root / ".tku.lock").exists()


def test_lock_file_stays_while_the_lab_has_state(root: Path) -> None:
    state.create_state("tku", "t.yaml", "netns")
    with pytest.raises(RuntimeError), state.lab_lock("tku", remove_after=True):
        raise RuntimeError("lab up refused: already up")
    assert (root / ".tku.lock").exists()


def _plan():
    path = REPO / "topologies" / "geneve-router.yaml"
    return Prepared(make_plan(load_topology(path, name="tku"))), str(path), path.read_text()


def test_ctrl_c_while_state_is_written_rolls_back(
    root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Interrupted inside create_state (directory made, state.json not yet): nothing stays."""
    monkeypatch.setattr(lifecycle.preflight, "check_up", lambda: None)

    def create_state(name: str, topology: str, provider: str) -> state.LabState:
        (root / name).mkdir(mode=0o700)
        raise KeyboardInterrupt

    monkeypatch.setattr(lifecycle, "create_state", create_state)
    plan, path, text = _plan()
    with pytest.raises(UserError, match="interrupted; lab 'tku' was rolled back"):
        lifecycle.up(plan, providers.get("netns"), path, text)
    assert sorted(p.name for p in root.iterdir()) == []


def test_ctrl_c_waits_for_the_build_thread_then_rolls_back(
    root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SIGINT reaches the main thread while it waits; the build (which may be mid-way
    through creating things) finishes first, then everything is removed."""
    monkeypatch.setattr(lifecycle.preflight, "check_up", lambda: None)
    events: list[str] = []

    def build(prepared, lab_state, progress, options) -> None:
        events.append("build started")
        time.sleep(0.5)
        (lab_state.dir / "made-by-build").write_text("")
        events.append("build finished")

    real_teardown = lifecycle.teardown

    def teardown(lab_state: state.LabState) -> list[int]:
        events.append("teardown")
        return real_teardown(lab_state)

    monkeypatch.setattr(providers.get("netns"), "create", build)
    monkeypatch.setattr(lifecycle, "teardown", teardown)
    main = threading.main_thread().ident
    assert main is not None
    timer = threading.Timer(0.15, signal.pthread_kill, (main, signal.SIGINT))
    timer.start()
    plan, path, text = _plan()
    try:
        with pytest.raises(UserError, match="was rolled back"):
            lifecycle.up(plan, providers.get("netns"), path, text)
    finally:
        timer.cancel()
    assert events == ["build started", "build finished", "teardown"]
    assert sorted(p.name for p in root.iterdir()) == []
