"""Any OVN: Debian 12 and 13 node images, two releases in one lab, a rolling upgrade with
a ping running, and OVN built from a source tree (cached per machine by content)."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import pytest

from .conftest import TOPOLOGIES, assert_nothing_left, host_links, lab, namespaces, running_lab
from .test_docker import docker_client  # noqa: F401 (the fixture: docker must be up)

pytestmark = [pytest.mark.root, pytest.mark.docker]
# An OVN tree for source: builds. No registry here serves OVN's source, so a machine keeps
# one (benchmarks/builds.py --tree says how it got there); CI uses the cached build.
SOURCE_TREE = Path(os.environ.get("OVN_LAB_SOURCE_TREE", "/var/cache/ovn-lab/trees/ovn-25.03.0"))


def image_of(build: str) -> str:
    proc = lab("image", "build", "--build", build, check=True, timeout=1800)
    return proc.stdout.strip().splitlines()[-1]


@pytest.fixture(scope="module")
def debian_images(docker_client: object) -> dict[str, str]:  # noqa: F811
    """Both Debian builds: made once per machine (their inputs decide), found after."""
    images = {suite: image_of(f"debian:{suite}") for suite in ("bookworm", "trixie")}
    assert re.fullmatch(r"ovn-lab/node:3\.1\.\d+-23\.03\.\d+", images["bookworm"]), images
    assert re.fullmatch(r"ovn-lab/node:3\.5\.\d+-25\.03\.\d+", images["trixie"]), images
    again = lab("image", "build", "--build", "debian:trixie", check=True)
    assert again.stdout.strip() == images["trixie"]
    return images


def status_versions(name: str) -> dict[str, tuple[str, str, str]]:
    data = json.loads(lab("status", name, "--json", check=True).stdout)["labs"][0]
    assert data["healthy"], data["problems"]
    return {n["name"]: (n["build"], n["ovs"], n["ovn"]) for n in data["nodes"]}


def test_two_releases_in_one_lab_ping_and_pass_their_checks(debian_images: dict) -> None:
    with running_lab("mixed-versions.yaml", "tmix") as up:
        assert "does not support running side by side" in up.stderr  # quoting OVN's guide
        versions = status_versions("tmix")
        assert versions["central"][2].startswith("23.03"), versions
        assert versions["worker1"][2].startswith("25.03"), versions
        check = lab("check", "tmix", timeout=300)
        assert check.returncode == 0, check.stdout + check.stderr
        assert "4 passed, 0 failed" in check.stdout
        flows = lab("lflows", "tmix", check=True).stdout
        assert "network1 ingress table=0 ls_in_check_port_sec" in flows
        assert not re.search(r"[0-9a-f]{8}-[0-9a-f]{4}-", flows)  # no UUIDs


def test_controllers_older_than_northd_across_the_span_are_refused(
    debian_images: dict, tmp_path: Path
) -> None:
    text = (TOPOLOGIES / "mixed-versions.yaml").read_text()
    text = text.replace('build: "debian:bookworm"', 'build: "debian:trixie"')
    text = text.replace("build: debian:trixie\n", "build: debian:bookworm\n", 1)
    topo = tmp_path / "reverse.yaml"
    topo.write_text(text)
    proc = lab("up", str(topo), "--name", "trev")
    assert proc.returncode == 2, proc.stderr
    assert "cannot follow ovn-northd 25.03" in proc.stderr
    assert "Upgrade ovn-controller" in proc.stderr  # OVN's rule, quoted
    assert not [n for n in namespaces() if n.startswith("trev.")]
    state_root = Path(os.environ.get("OVN_LAB_STATE_DIR", "/var/lib/ovn-lab"))
    assert not (state_root / "trev").exists()


def test_rolling_upgrade_with_a_ping_running(debian_images: dict, tmp_path: Path) -> None:
    links = host_links()
    up = lab("up", str(TOPOLOGIES / "upgrade-rehearsal.yaml"), "--name", "tupg", timeout=300)
    try:
        assert up.returncode == 0, up.stderr
        before = status_versions("tupg")
        assert {v[0] for v in before.values()} == {"debian:bookworm"}
        bad = lab("upgrade", "--lab", "tupg", "nosuch", "--to", "debian:trixie")
        assert bad.returncode == 2 and "not a node of lab tupg" in bad.stderr
        vm_netns = {n for n in namespaces() if n.startswith("tupg.vm")}
        assert vm_netns, namespaces()  # names are <lab>.<vm>
        report = tmp_path / "check.json"
        check = lab("check", "tupg", "--json", str(report), timeout=600)
        assert check.returncode == 0, check.stdout + check.stderr
        result = json.loads(report.read_text())["checks"][0]
        evidence = result["evidence"]
        assert evidence["procedure"] == "fail-safe"  # 23.03 -> 25.03: OVN's other procedure
        assert evidence["order"] == ["central", "worker1", "worker2"]
        assert set(evidence["nodes"]) == {"central", "worker1", "worker2"}
        assert all(v["outage_s"] <= 5 for v in evidence["nodes"].values()), evidence
        # the ping ran throughout: the 1 s before and after alone give ~20 replies (at 0.1 s);
        # how many came during the upgrade depends on how fast it went, so no more is asked
        assert evidence["replies"] >= 15 and evidence["recovered"], evidence
        after = status_versions("tupg")
        assert {v[2][:5] for v in after.values()} == {"25.03"}, after
        # the VMs' namespaces are the same ones; the nodes' OVSDB files were kept
        assert {n for n in namespaces() if n.startswith("tupg.vm")} == vm_netns
        again = lab("upgrade", "--lab", "tupg", "worker1", "--to", "debian:trixie")
        assert again.returncode == 2 and "already runs build debian:trixie" in again.stderr
    finally:
        down = lab("down", "tupg")
        assert down.returncode == 0, down.stderr
    assert_nothing_left("tupg", links)
    assert not subprocess.run(
        ["docker", "ps", "-aq", "--filter", "label=ovn-lab.lab=tupg"],
        capture_output=True,
        text=True,
    ).stdout.strip()


def test_a_failed_source_build_names_its_step_and_keeps_the_log(
    docker_client: object,  # noqa: F811
    tmp_path: Path,
) -> None:
    tree = tmp_path / "ovn"
    (tree / "controller").mkdir(parents=True)
    (tree / "ovs").mkdir()
    for name in ("ovn-nb.ovsschema", "ovn-sb.ovsschema", "controller/ovn-controller.c"):
        (tree / name).write_text("{}\n")
    (tree / "ovs" / "configure.ac").write_text("AC_INIT\n")
    (tree / "ovs" / "boot.sh").write_text("#!/bin/sh\necho broken on purpose >&2\nexit 7\n")
    (tree / "ovs" / "boot.sh").chmod(0o755)
    proc = lab("image", "build", "--build", f"source:{tree}", timeout=900)
    assert proc.returncode == 3, proc.stderr
    found = re.search(
        r"failed at step 'boot OVS' \(exit 7\); the whole log is in (\S+)", proc.stderr
    )
    assert found, proc.stderr
    assert "broken on purpose" in Path(found.group(1)).read_text()
    not_ovn = lab("image", "build", "--build", f"source:{tmp_path}")
    assert not_ovn.returncode == 2 and "is not an OVN source tree" in not_ovn.stderr


@pytest.mark.skipif(
    not SOURCE_TREE.is_dir(), reason=f"no OVN source tree at {SOURCE_TREE} (see the module doc)"
)
def test_a_lab_on_ovn_built_from_source(docker_client: object, tmp_path: Path) -> None:  # noqa: F811
    """The compile is cached per machine by content (a cold one: benchmarks/builds.py --cold);
    here the node image is made again from that cache and a lab runs on it."""
    import docker

    client = docker.from_env()
    first = lab("image", "build", "--build", f"source:{SOURCE_TREE}", check=True, timeout=3600)
    tag = first.stdout.strip().splitlines()[-1]
    assert re.fullmatch(r"ovn-lab/node:[\d.]+-[\d.]+-src[0-9a-f]{8}", tag), tag
    client.images.remove(tag)  # so the install into the image runs again, from the cache
    again = lab("image", "build", "--build", f"source:{SOURCE_TREE}", check=True, timeout=600)
    assert again.stdout.strip().splitlines()[-1] == tag
    took = float(re.search(r"ready in ([\d.]+) s", again.stderr).group(1))  # type: ignore[union-attr]
    assert took < 120, again.stderr  # no compile: the tree is unchanged
    text = (TOPOLOGIES / "geneve-router.yaml").read_text()
    topo = tmp_path / "source.yaml"
    topo.write_text(text.replace("provider: netns", f"build: source:{SOURCE_TREE}"))
    with running_lab(str(topo), "tsrc"):
        versions = status_versions("tsrc")
        assert {v[0] for v in versions.values()} == {f"source:{SOURCE_TREE}"}
        check = lab("check", "tsrc", timeout=300)
        assert check.returncode == 0, check.stdout + check.stderr
