"""lab.providers.docker.enter: what it hands nsenter/setpriv, and when it declines (then
the runner uses docker exec)."""

from __future__ import annotations

import os

import pytest

from lab.providers.docker import enter


def test_bounding_set_names_exactly_the_container_capabilities(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(enter, "_capabilities", lambda pid: 0b1000000000000000000101)
    assert enter._bounding_set(1) == "-all,+cap_0,+cap_2,+cap_21"


def test_argv_drops_capabilities_then_enters_every_namespace_of_the_init(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(enter, "_capabilities", lambda pid: 0b11)
    argv = enter.enter_argv(4242, ["ovsdb-tool", "create", "x.db"])
    assert argv[:3] == ["setpriv", "--bounding-set=-all,+cap_0,+cap_1", "--inh-caps=-all"]
    assert argv[3:] == ["nsenter", "--all", "-t", "4242", "-r", "-w", "--",
                        "ovsdb-tool", "create", "x.db"]  # fmt: skip


def test_a_process_that_is_not_a_docker_init_is_not_entered() -> None:
    assert enter.init_of("no-such-lab.node", os.getpid()) is None
    assert enter.init_of("no-such-lab.node", 2**22 + 1) is None  # no such PID


def test_environment_is_the_init_s_with_the_command_s_on_top() -> None:
    env = enter.environment(os.getpid(), {"OVS_RUNDIR": "/x"})
    assert env["OVS_RUNDIR"] == "/x"
    assert "PATH" in env
