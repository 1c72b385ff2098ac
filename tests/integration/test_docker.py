"""The docker provider on a real docker daemon: the node image built offline, the seed lab
with containers as nodes, checks, exec, stop/start, and nothing left after `lab down` (even
when the state file is lost)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from lab import naming
from lab.testhooks import ENV

from .conftest import (
    TOPOLOGIES,
    assert_nothing_left,
    host_links,
    lab,
    namespaces,
    ping,
    running_lab,
)

pytestmark = [pytest.mark.root, pytest.mark.docker]
STATE_ROOT = Path(os.environ.get("OVN_LAB_STATE_DIR", "/var/lib/ovn-lab"))


def _docker_problem() -> str | None:
    if shutil.which("debootstrap") is None:
        return "debootstrap is not installed (run scripts/docker-ready.sh)"
    try:
        import docker

        docker.from_env().ping()
    except Exception as exc:  # any failure to reach the daemon
        return f"no docker daemon ({exc}); run scripts/docker-ready.sh"
    return None


@pytest.fixture(scope="module")
def docker_client() -> Iterator[object]:
    problem = _docker_problem()
    if problem:
        if os.environ.get("CI"):
            pytest.fail(f"{problem}; CI must provide it (make test runs scripts/docker-ready.sh)")
        pytest.skip(problem)
    import docker

    yield docker.from_env()


@pytest.fixture(scope="module")
def node_image(docker_client: object) -> str:
    """`lab image build`: built once per machine (its inputs decide), reused after."""
    built = lab("image", "build", check=True, timeout=900)
    tag = built.stdout.strip().splitlines()[-1]
    ovs = subprocess.run(
        ["dpkg-query", "-W", "-f=${Version}", "openvswitch-switch"], capture_output=True, text=True
    ).stdout.split("-")[0]
    assert re.fullmatch(rf"ovn-lab/node:{re.escape(ovs)}-\d+\.\d+\.\d+", tag), tag
    again = lab("image", "build", check=True)
    assert again.stdout.strip().splitlines()[-1] == tag
    assert "up to date" in again.stderr, again.stderr
    return tag


def up_on_docker(name: str, **kw) -> subprocess.CompletedProcess:
    """`lab up` of the seed topology on the docker provider."""
    return lab(
        "up", str(TOPOLOGIES / "geneve-router.yaml"), "--name", name, "--provider", "docker", **kw
    )


def _containers(client: object, lab_name: str) -> list:
    return client.containers.list(all=True, filters={"label": f"ovn-lab.lab={lab_name}"})  # type: ignore[attr-defined]


def test_seed_lab_on_docker(docker_client: object, node_image: str) -> None:
    name = "tdock"
    with running_lab("geneve-router.yaml", name, "--provider", "docker") as up:
        assert "every port up" in up.stderr
        containers = {c.name: c for c in _containers(docker_client, name)}
        assert set(containers) == {
            naming.netns_name(name, n) for n in ("central", "worker1", "worker2")
        }
        for cname, container in containers.items():
            node = cname.removeprefix(naming.lab_prefix(name))
            assert container.labels["ovn-lab.node"] == node
            host = container.attrs["HostConfig"]
            assert host["NetworkMode"] == "none"
            assert not host["Privileged"]
            assert set(host["CapAdd"]) == {"NET_ADMIN", "NET_RAW", "SYS_ADMIN", "SYS_NICE"}
            assert container.attrs["Config"]["Hostname"] == node
            assert container.attrs["Config"]["Image"] == node_image

        # The daemons run inside the containers (their own process tree), and `lab exec`
        # on a node lands there too.
        ps = lab("exec", "--lab", name, "worker1", "--", "ps", "-e", "-o", "comm=", check=True)
        comms = ps.stdout.split()
        assert {"ovsdb-server", "ovs-vswitchd", "ovn-controller"} <= set(comms)
        assert "ovn-northd" not in comms  # the central's, in another container
        hostname = lab("exec", "--lab", name, "worker1", "--", "hostname", check=True)
        assert hostname.stdout.strip() == "worker1"
        sb = lab("exec", "--lab", name, "worker1", "--", "ovn-sbctl", "show", check=True)
        assert "Chassis worker2" in sb.stdout

        # No way out: the node's only routes are the lab's own fabric subnets.
        routes = lab("exec", "--lab", name, "central", "--", "ip", "-4", "route", check=True)
        assert "default" not in routes.stdout
        assert routes.stdout.strip(), "the central has its overlay address"

        result = ping(name, "vm1", "20.0.0.10", count=2)
        assert re.findall(r"ttl=(\d+)", result.stdout) == ["63", "63"], result.stdout
        # VMs are namespaces inside their chassis container.
        inside = docker_client.containers.get(naming.netns_name(name, "worker2")).exec_run(  # type: ignore[attr-defined]
            ["ip", "netns", "exec", "vm2", "ping", "-c1", "-W2", "10.0.0.10"]
        )
        assert inside.exit_code == 0 and b"ttl=63" in inside.output, inside.output

        checks = lab("check", name, "--json", f"/tmp/{name}-checks.json", timeout=180)
        assert checks.returncode == 0, checks.stdout + checks.stderr
        results = json.loads(Path(f"/tmp/{name}-checks.json").read_text())["checks"]
        assert len(results) == 5 and all(r["passed"] for r in results)

        status = lab("status", name, "--json", check=True)
        assert json.loads(status.stdout)["labs"][0]["healthy"]

        # testinfra's docker backend on the nodes (their env reaches their daemons)
        suites = lab("test", name, timeout=300)
        assert suites.returncode == 0, suites.stdout + suites.stderr
        assert re.search(r"(\d+) checks on 5 nodes: \1 passed", suites.stdout), suites.stdout

        # stop kills the node's daemons (not the container), start brings them back
        lab("stop", "--lab", name, "worker2", check=True)
        assert containers[naming.netns_name(name, "worker2")].exec_run(["true"]).exit_code == 0
        nodes = json.loads(lab("status", name, "--json").stdout)["labs"][0]["nodes"]
        assert [n["name"] for n in nodes if n["stopped"]] == ["worker2"]
        lab("start", "--lab", name, "worker2", check=True, timeout=120)
        result = ping(name, "vm1", "20.0.0.10", count=2)
        assert result.returncode == 0, result.stdout
    assert not _containers(docker_client, name)
    assert not Path(f"/run/ovn-lab/{name}").exists()
    Path(f"/tmp/{name}-checks.json").unlink(missing_ok=True)


def test_lost_state_is_cleaned_up_by_label(docker_client: object, node_image: str) -> None:
    name = "tdlost"
    up_on_docker(name, check=True)
    try:
        shutil.rmtree(STATE_ROOT / name)  # as if the state were lost
        down = lab("down", name, check=True)
        assert "removed its containers by label" in down.stderr
    finally:
        lab("down", name)
    assert not _containers(docker_client, name)
    assert not {n for n in namespaces() if n.startswith(naming.lab_prefix(name))}
    assert not Path(f"/run/ovn-lab/{name}").exists()
    assert not (STATE_ROOT / f".{name}.lock").exists(), "lock file left behind"


def test_docker_daemon_unreachable_is_a_clear_error(docker_client: object) -> None:
    env = {**os.environ, "DOCKER_HOST": "unix:///nonexistent/docker.sock"}
    proc = lab(
        "up",
        str(TOPOLOGIES / "geneve-router.yaml"),
        "--name",
        "tdnone",
        "--provider",
        "docker",
        env=env,
    )
    assert proc.returncode == 2, proc.stderr
    assert "docker daemon is not reachable" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not {n for n in namespaces() if n.startswith("tdnone.")}
    assert not (STATE_ROOT / "tdnone").exists()


@pytest.mark.parametrize(
    "kill_at", ["container:worker1", "namespaces", "node-daemons:worker2", "ports-up"]
)
def test_killed_up_leaves_nothing_after_down(
    docker_client: object, node_image: str, kill_at: str
) -> None:
    """SIGKILL `lab up --provider docker` at a stage, then `lab down`: no container, pin,
    namespace or state of the lab is left."""
    name = "tdkill"
    links_before = host_links()
    env = {**os.environ, ENV: kill_at}
    up = up_on_docker(name, env=env)
    try:
        assert up.returncode == -9, up.stderr  # it really died there
    finally:
        down = lab("down", name)
    assert down.returncode == 0, down.stderr
    assert not _containers(docker_client, name)
    assert not Path(f"/run/ovn-lab/{name}").exists()
    assert_nothing_left(name, links_before)


def test_faults_steps_and_bundle_on_docker(
    docker_client: object, node_image: str, tmp_path: Path
) -> None:
    """sb-partition on containers: partition, assert inside the node (docker exec), add-vm;
    then an impairment, a bundle, and the lab rebuilt from it on docker again."""
    bundle = tmp_path / "dk.tar.gz"
    with running_lab("sb-partition.yaml", "tdkf", "--provider", "docker"):
        proc = lab("check", "tdkf", timeout=300)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        lab("impair", "--lab", "tdkf", "worker1", "overlay", "--delay", "30", check=True)
        slow = lab("exec", "--lab", "tdkf", "vm1", "--", "ping", "-c3", "-i0.2", "20.0.0.10")
        rtt = float(re.search(r"= [\d.]+/([\d.]+)/", slow.stdout).group(1))  # type: ignore[union-attr]
        assert rtt > 55, slow.stdout
        lab("bundle", "tdkf", "-o", str(bundle), check=True)
    with running_lab_from_bundle(bundle, "tdkf2"):
        assert lab("check", "tdkf2", timeout=300).returncode == 0
    assert not _containers(docker_client, "tdkf") and not _containers(docker_client, "tdkf2")


@contextmanager
def running_lab_from_bundle(bundle: Path, name: str) -> Iterator[None]:
    up = lab("up", "--bundle", str(bundle), "--name", name, "--provider", "docker", timeout=300)
    try:
        assert up.returncode == 0, up.stderr
        yield
    finally:
        assert lab("down", name).returncode == 0


def test_dual_stack_on_docker(docker_client: object, node_image: str) -> None:
    """DHCPv4, SLAAC, DHCPv6, IPAM and DNS from OVN with chassis in containers: the VMs'
    clients run in the VM namespaces (host namespaces pinned in the chassis containers)."""
    name = "tdsdock"
    report = Path(f"/tmp/{name}-check.json")
    with running_lab("dual-stack.yaml", name, "--provider", "docker") as up:
        assert "3 VMs addressed by OVN" in up.stderr
        check = lab("check", name, "--json", str(report))
        results = json.loads(report.read_text())["checks"]
        report.unlink()
        assert check.returncode == 0, check.stdout + check.stderr
        assert len(results) == 11 and all(r["passed"] for r in results)


def test_a_container_the_lab_did_not_create_is_left_alone(
    docker_client: object, node_image: str
) -> None:
    """A user's container holding a node's name: `lab up` is refused, and neither its
    rollback nor `lab down` removes the container (nor another state root's lab of that
    name: only containers labelled with this state root are found by label)."""
    name = "tdown"
    theirs = docker_client.containers.run(  # type: ignore[attr-defined]
        node_image,
        ["sleep", "infinity"],
        name=naming.netns_name(name, "worker2"),
        labels={"ovn-lab.lab": name, "ovn-lab.state.store-root": "/elsewhere"},
        network_mode="none",
        detach=True,
    )
    try:
        links_before = host_links()
        proc = up_on_docker(name)
        assert proc.returncode == 2 and "already exists" in proc.stderr, proc.stderr
        theirs.reload()
        assert theirs.status == "running"
        assert lab("down", name).returncode == 0
        assert lab("down", "--all").returncode == 0
        theirs.reload()
        assert theirs.status == "running"
        assert_nothing_left(name, links_before | {naming.netns_name(name, "worker2")})
    finally:
        theirs.remove(force=True)
