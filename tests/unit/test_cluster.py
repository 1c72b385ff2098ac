"""Raft cluster/status and ovn-northd status parsers, and who the raft check kills."""

from __future__ import annotations

from pathlib import Path

import pytest

from lab.ovn.cluster import (
    ClusterStatus,
    cluster_status_argv,
    leader_of,
    parse_cluster_status,
    parse_northd_status,
)
from lab.verify.raft import _victims

DATA = Path(__file__).parent / "data"


def status(name: str) -> ClusterStatus:
    return parse_cluster_status((DATA / f"cluster-status-{name}.txt").read_text())


def test_leader_knows_itself() -> None:
    s = status("leader")
    assert (s.server_id, s.role, s.term, s.leader) == ("21e2", "leader", 1, "21e2")
    assert s.is_leader and s.is_member


def test_follower_names_its_leader() -> None:
    s = status("follower")
    assert (s.server_id, s.role, s.term, s.leader) == ("a701", "follower", 1, "21e2")
    assert not s.is_leader and s.is_member


def test_candidate_without_a_majority_knows_no_leader() -> None:
    s = status("candidate")
    assert (s.role, s.term, s.leader, s.status) == ("candidate", 2, None, "cluster member")
    assert not s.is_member  # a member that knows no leader is not in sync


def test_not_a_cluster_status() -> None:
    with pytest.raises(ValueError, match="not a cluster/status output"):
        parse_cluster_status("ovs-appctl: cannot connect to ...\n")


def test_argv_names_the_control_socket_and_database() -> None:
    argv = cluster_status_argv(Path("/x/central2/ovnsb_db.ctl"), "OVN_Southbound")
    assert argv[-4:] == ["-t", "/x/central2/ovnsb_db.ctl", "cluster/status", "OVN_Southbound"]


def _view(role: str, term: int, leader: str | None, sid: str) -> ClusterStatus:
    return ClusterStatus(sid, "cluster member", role, term, leader)


def test_leader_of_prefers_the_newest_term() -> None:
    views = {
        "central1": _view("leader", 1, "aaaa", "aaaa"),  # stale: deposed, not yet told
        "central2": _view("leader", 2, "bbbb", "bbbb"),
        "central3": None,  # killed
    }
    assert leader_of(views) == "central2"
    assert leader_of({"central1": None}) is None
    assert leader_of({"c": _view("candidate", 3, None, "cccc")}) is None


def test_victims_are_the_leaders_or_a_follower_of_each_database() -> None:
    nb = {
        "central1": _view("leader", 1, "aaaa", "aaaa"),
        "central2": _view("follower", 1, "aaaa", "bbbb"),
        "central3": _view("follower", 1, "aaaa", "cccc"),
    }
    sb = {
        "central1": _view("follower", 1, "eeee", "dddd"),
        "central2": _view("leader", 1, "eeee", "eeee"),
        "central3": _view("follower", 1, "eeee", "ffff"),
    }
    leaders = _victims({"nb": nb, "sb": sb}, "leader")
    assert leaders is not None
    assert [(k.db.name, k.node, k.role) for k in leaders] == [
        ("OVN_Northbound", "central1", "leader"),
        ("OVN_Southbound", "central2", "leader"),
    ]
    followers = _victims({"nb": nb, "sb": sb}, "follower")
    assert followers is not None
    assert [(k.node, k.role) for k in followers] == [
        ("central2", "follower"),
        ("central1", "follower"),
    ]
    assert _victims({"nb": {"c": None}, "sb": sb}, "leader") is None


@pytest.mark.parametrize(
    ("text", "state"),
    [("Status: active\n", "active"), ("Status: standby\n", "standby"), ("", None)],
)
def test_northd_status(text: str, state: str | None) -> None:
    assert parse_northd_status(text) == state
