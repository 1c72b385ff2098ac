"""build: parsing and rules, OVN's upgrade-guide rules, source-tree hashing, the upgrade
check's outage arithmetic and lflows normalisation (no docker, no root)."""

from __future__ import annotations

from pathlib import Path

import pytest

from lab.errors import TopologyError, UserError
from lab.ovn import versions as ovn_versions
from lab.providers.docker import builds
from lab.providers.docker.source_build import SourceTree, build_key
from lab.topology import builds as build_names
from lab.topology import parse_topology
from lab.topology.build_rules import refuse_provider
from lab.verify import lflows
from lab.verify.upgrade_check import outage

BASE = """
name: t
fabric:
  overlay: {subnet: 192.0.2.0/24}
nodes:
  central: {role: central}
  worker1: {role: chassis}
"""


def fake_ovn_tree(root: Path) -> Path:
    (root / "controller").mkdir(parents=True)
    for name in ("ovn-nb.ovsschema", "ovn-sb.ovsschema", "controller/ovn-controller.c"):
        (root / name).write_text(f"{name}\n")
    return root


def test_known_builds_parse() -> None:
    assert build_names.parse("host").kind == "host"
    assert str(build_names.parse("debian:trixie")) == "debian:trixie"
    for bad in ("debian:sid", "fedora:40", "source:", "bookworm", ""):
        with pytest.raises(UserError, match="is not known"):
            build_names.parse(bad)


def test_source_must_be_an_ovn_tree(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="not an OVN source tree"):
        build_names.parse(f"source:{tmp_path}")
    tree = fake_ovn_tree(tmp_path / "ovn")
    assert build_names.parse("source:ovn", tmp_path).path == tree.resolve()


def test_a_non_host_build_makes_a_docker_lab(tmp_path: Path) -> None:
    topo = parse_topology(BASE + "build: debian:trixie\n", str(tmp_path / "t.yaml"))
    assert topo.provider == "docker" and topo.node_build("worker1") == "debian:trixie"
    per_node = BASE.replace("{role: chassis}", "{role: chassis, build: debian:bookworm}")
    topo = parse_topology(per_node, str(tmp_path / "t.yaml"))
    assert topo.provider == "docker"
    assert (topo.node_build("central"), topo.node_build("worker1")) == ("host", "debian:bookworm")
    assert parse_topology(BASE, str(tmp_path / "t.yaml")).provider == "netns"


def test_a_non_host_build_on_netns_is_refused(tmp_path: Path) -> None:
    text = BASE + "provider: netns\nbuild: debian:trixie\n"
    with pytest.raises(TopologyError, match="provider netns runs only the host"):
        parse_topology(text, str(tmp_path / "t.yaml"))
    topo = parse_topology(BASE + "build: debian:trixie\n", str(tmp_path / "t.yaml"))
    with pytest.raises(UserError, match="--provider netns runs only the host"):
        refuse_provider(topo, "netns")
    refuse_provider(topo, "docker")


def test_source_paths_are_relative_to_the_topology(tmp_path: Path) -> None:
    fake_ovn_tree(tmp_path / "src" / "ovn")
    topo = parse_topology(BASE + "build: source:src/ovn\n", str(tmp_path / "t.yaml"))
    assert topo.build == f"source:{(tmp_path / 'src' / 'ovn').resolve()}"


def test_tags_give_versions() -> None:
    assert builds.versions_of_image("ovn-lab/node:3.1.0-23.03.1") == ("3.1.0", "23.03.1")
    assert builds.versions_of_image("ovn-lab/node:3.3.8-24.03.9-src304604db") == (
        "3.3.8",
        "24.03.9",
    )


@pytest.mark.parametrize(
    ("old", "new", "supported"),
    [
        ("22.03", "24.03", True),  # LTS to the very next LTS
        ("24.03", "25.09", True),  # LTS to a non-LTS before the next LTS
        ("24.03", "26.09", False),  # past the next LTS
        ("23.03", "24.03", True),  # non-LTS to the very next LTS
        ("23.03", "25.03", False),  # Debian 12 -> Debian 13: past 24.03
        ("25.03", "25.03", True),
    ],
)
def test_rolling_upgrade_paths(old: str, new: str, supported: bool) -> None:
    a, b = ovn_versions.release(old), ovn_versions.release(new)
    assert a is not None and b is not None
    assert ovn_versions.rolling_supported(a, b) is supported
    assert ovn_versions.upgrade_order(a, b) == ("rolling" if supported else "fail-safe")


def test_old_controllers_behind_a_new_northd_are_refused_with_the_rule() -> None:
    message = ovn_versions.refusal({"worker1": "23.03.1"}, {"central": "25.03.0"})
    assert message and "worker1" in message and "Upgrade ovn-controller" in message
    assert ovn_versions.refusal({"worker1": "25.03.0"}, {"central": "23.03.1"}) is None
    # within a supported span too (measured: the ping is lost)
    assert ovn_versions.refusal({"worker1": "23.03.1"}, {"central": "24.03.9"})
    assert ovn_versions.refusal({"w": "24.03.9", "x": "25.03.0"}, {"central": "24.03.9"}) is None
    warnings = ovn_versions.mixed_warnings({"worker1": "23.03.1"}, {"central": "24.03.9"})
    assert len(warnings) == 1 and "controllers first" in warnings[0]
    warnings = ovn_versions.mixed_warnings({"w": "25.03.0"}, {"central": "23.03.1"})
    assert len(warnings) == 1 and "does not support" in warnings[0]


def test_tree_hash_changes_with_one_file_only(tmp_path: Path) -> None:
    tree = SourceTree(fake_ovn_tree(tmp_path / "ovn"))
    first = tree.content_hash()
    assert tree.content_hash() == first
    (tree.path / ".git").mkdir()
    (tree.path / ".git" / "index").write_text("x")
    assert tree.content_hash() == first  # git metadata is not the source
    key = build_key(tree)
    (tree.path / "controller" / "ovn-controller.c").write_text("changed\n")
    assert tree.content_hash() != first and build_key(tree) != key


def test_outage_is_measured_between_replies_per_window() -> None:
    lines = []
    t = 100.0
    for seq in range(1, 60):
        t += 0.1
        if 20 <= seq < 30 or 45 <= seq < 48:  # 1 s and 0.3 s without replies
            continue
        lines.append(f"[{t:.6f}] 64 bytes from 20.0.0.10: icmp_seq={seq} ttl=63 time=0.5 ms")
    lines.insert(30, "ping: sendmsg: No such device")
    cut = outage("\n".join(lines), [("worker1", 101.5), ("worker2", 104.0), ("after", 105.5)])
    assert cut.of("worker1") == pytest.approx(1.0, abs=0.01)
    assert cut.of("worker2") == pytest.approx(0.3, abs=0.01)
    assert cut.total == pytest.approx(1.3, abs=0.02) and cut.longest == pytest.approx(1.0, abs=0.01)


def flow(dp: str, stage: str, table: int, prio: int, match: str, actions: str) -> lflows.Flow:
    return lflows.Flow(dp, "ingress", table, stage, -prio, match, actions)


def test_lflows_are_normalised_and_diffed_by_stage() -> None:
    uuid = "0a1b2c3d-0000-1111-2222-333344445555"
    assert lflows._clean(f"ct_lb(backends={uuid});   next;") == "ct_lb(backends=<uuid>); next;"
    old = [
        flow("net1", "ls_in_acl", 8, 0, "1", "next;"),
        flow("net1", "ls_in_l2", 20, 0, "1", "a;"),
    ]
    new = [
        flow("net1", "ls_in_acl_eval", 9, 0, "1", "next;"),
        flow("net1", "ls_in_l2", 27, 0, "1", "a;"),
    ]
    text = lflows.diff(old, new, "a", "b")
    assert "ls_in_l2" not in text  # same flows, other table number: no difference
    assert "@@ net1 ingress ls_in_acl: -1 +0 only in a" in text
    assert "@@ net1 ingress ls_in_acl_eval: -0 +1 only in b" in text
    assert text.rstrip().endswith("2 stages differ")
    rendered = lflows.render(sorted(old, key=lflows._order))
    assert rendered.splitlines()[0] == "net1 ingress table=8 ls_in_acl"


def test_upgrade_needs_docker_nodes() -> None:
    from lab.ops.upgrade import prepare
    from lab.state.store import LabState

    with pytest.raises(UserError, match="runs on the netns provider"):
        prepare(LabState(name="t", provider="netns"), ["worker1"], "debian:trixie")
