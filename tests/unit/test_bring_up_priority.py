"""lab up puts its own session ahead of the daemons while VMs are placed, then back."""

from __future__ import annotations

from pathlib import Path

import pytest

from lab.providers.netns import build


def test_the_sessions_nice_is_raised_for_the_block_and_restored(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = tmp_path / "autogroup"
    fake.write_text("/autogroup-7 nice 0\n")
    monkeypatch.setattr(build, "AUTOGROUP", fake)
    with build.ahead_of_the_daemons():
        assert fake.read_text() == str(build.AHEAD_NICE)
        fake.write_text(f"/autogroup-7 nice {build.AHEAD_NICE}\n")  # as the kernel shows it
    assert fake.read_text() == "0"


def test_a_session_already_ahead_is_not_lowered_and_an_error_still_restores(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = tmp_path / "autogroup"
    fake.write_text("/autogroup-7 nice -15\n")
    monkeypatch.setattr(build, "AUTOGROUP", fake)
    with pytest.raises(RuntimeError), build.ahead_of_the_daemons():
        assert fake.read_text() == "-15"
        raise RuntimeError
    assert fake.read_text() == "-15"


def test_no_autogroup_changes_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(build, "AUTOGROUP", tmp_path / "missing")
    with build.ahead_of_the_daemons():
        pass
    assert not (tmp_path / "missing").exists()
