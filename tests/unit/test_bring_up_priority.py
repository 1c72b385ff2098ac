"""lab up and lab add-vm put their own session (and given daemons') ahead, then back."""

from __future__ import annotations

from pathlib import Path

import pytest

from lab import sched


def _autogroup(proc: Path, who: str, nice: int) -> Path:
    path = proc / who / "autogroup"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"/autogroup-7 nice {nice}\n")
    return path


def test_the_sessions_nice_is_raised_for_the_block_and_restored(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sched, "PROC", tmp_path)
    mine, daemon = _autogroup(tmp_path, "self", 0), _autogroup(tmp_path, "4242", 5)
    with sched.ahead_of_the_daemons([4242]):
        assert mine.read_text() == daemon.read_text() == str(sched.AHEAD_NICE)
        mine.write_text(f"/autogroup-7 nice {sched.AHEAD_NICE}\n")  # as the kernel shows it
    assert (mine.read_text(), daemon.read_text()) == ("0", "5")


def test_a_session_already_ahead_is_not_lowered_and_an_error_still_restores(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sched, "PROC", tmp_path)
    mine, daemon = _autogroup(tmp_path, "self", -15), _autogroup(tmp_path, "4242", 0)
    with pytest.raises(RuntimeError), sched.ahead_of_the_daemons([4242]):
        assert mine.read_text().endswith("-15\n")
        assert daemon.read_text() == str(sched.AHEAD_NICE)
        raise RuntimeError
    assert mine.read_text().endswith("-15\n") and daemon.read_text() == "0"


def test_no_autogroup_or_a_gone_daemon_changes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sched, "PROC", tmp_path)
    daemon = _autogroup(tmp_path, "4242", 0)
    with sched.ahead_of_the_daemons([999999, 4242]):
        assert daemon.read_text() == str(sched.AHEAD_NICE)
    assert not (tmp_path / "self").exists() and daemon.read_text() == "0"
