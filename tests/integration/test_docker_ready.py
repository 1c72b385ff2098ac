"""scripts/docker-ready.sh on this machine, where a docker daemon already runs: it is used
as it is (same daemon, same process, nothing installed, nothing started)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from .conftest import REPO, live_processes

pytestmark = [pytest.mark.root, pytest.mark.docker]


def _daemon() -> tuple[str, list[str]]:
    info = subprocess.run(
        ["docker", "info", "--format", "{{.ID}}"], capture_output=True, text=True, timeout=30
    )
    if info.returncode != 0:
        pytest.fail(f"no docker daemon answers here ({info.stderr.strip()}); run make docker-ready")
    daemons = sorted(pid for pid, cmd in live_processes() if cmd.split()[:1] == ["dockerd"])
    return info.stdout.strip(), daemons


def test_a_running_docker_is_left_as_it_was(tmp_path: Path) -> None:
    before = _daemon()
    # any package install would go through apt-get: make it fail loudly
    shim = tmp_path / "apt-get"
    shim.write_text(f'#!/bin/sh\necho "$@" >> {tmp_path}/apt.log\nexit 1\n')
    shim.chmod(0o755)
    env = {**os.environ, "PATH": f"{tmp_path}:{os.environ['PATH']}"}
    proc = subprocess.run(
        ["bash", str(REPO / "scripts" / "docker-ready.sh")],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "using the docker daemon that answers" in proc.stdout
    assert "nothing changed" in proc.stdout
    assert not (tmp_path / "apt.log").exists()
    assert _daemon() == before
