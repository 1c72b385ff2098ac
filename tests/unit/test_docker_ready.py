"""scripts/docker-ready.sh decides from what the machine has, and never replaces or doubles a
docker: each case runs the real script with stand-ins for docker, dockerd, systemctl, apt-get,
dpkg-query and id on a PATH that holds nothing else of docker's, and reads what they were
asked to do."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "scripts" / "docker-ready.sh"
TOOLS = ("bash", "sh", "seq", "sleep", "nohup", "tail", "tr", "grep", "cat", "touch", "cp")

# Each stand-in logs its argv to calls.log; the daemon "answers" once the file `up` exists.
DOCKER = """#!/bin/sh
echo "docker $*" >> "$STUB/calls.log"
[ "$1" = info ] && [ -e "$STUB/up" ] && { echo 99.0; exit 0; }
exit 1
"""
STARTS_DAEMON = """#!/bin/sh
echo "{name} $*" >> "$STUB/calls.log"
touch "$STUB/up"
"""
APT_GET = """#!/bin/sh
echo "apt-get $*" >> "$STUB/calls.log"
case "$*" in *docker.io*)
  cp "$STUB/templates/docker" "$STUB/templates/dockerd" "$STUB/bin/"
  [ -e "$STUB/starts-on-install" ] && touch "$STUB/up";;
esac
exit 0
"""
DPKG_QUERY = """#!/bin/sh
exit 1
"""
ID = """#!/bin/sh
echo "${STUB_UID:-0}"
"""


def _stub(path: Path, text: str) -> None:
    path.write_text(text)
    path.chmod(0o755)


def run_script(
    tmp_path: Path,
    have: set[str],
    systemd: bool = False,
    uid: int = 0,
    docker_host: str | None = None,
) -> tuple[subprocess.CompletedProcess[str], list[str]]:
    stub = tmp_path / "stub"
    bin_dir, templates = stub / "bin", stub / "templates"
    bin_dir.mkdir(parents=True)
    templates.mkdir()
    _stub(templates / "docker", DOCKER)
    _stub(templates / "dockerd", STARTS_DAEMON.format(name="dockerd"))
    for name in have & {"docker", "dockerd"}:
        shutil.copy(templates / name, bin_dir / name)
    if "daemon-up" in have:
        (stub / "up").touch()
    if "starts-on-install" in have:  # as Debian's package does on a systemd host
        (stub / "starts-on-install").touch()
    if "debootstrap" in have:
        _stub(bin_dir / "debootstrap", "#!/bin/sh\n")
    _stub(bin_dir / "systemctl", STARTS_DAEMON.format(name="systemctl"))
    _stub(bin_dir / "apt-get", APT_GET)
    _stub(bin_dir / "dpkg-query", DPKG_QUERY)
    _stub(bin_dir / "id", ID)
    tools = stub / "tools"  # only the plain tools the script needs, none of docker's
    tools.mkdir()
    for tool in TOOLS:
        real = shutil.which(tool)
        assert real, tool
        (tools / tool).symlink_to(real)
    systemd_dir = tmp_path / "systemd"
    if systemd:
        systemd_dir.mkdir()
    env = {
        "PATH": f"{bin_dir}:{tools}",
        "STUB": str(stub),
        "STUB_UID": str(uid),
        "OVN_LAB_SYSTEMD_DIR": str(systemd_dir),
        "OVN_LAB_DOCKERD_LOG": str(tmp_path / "dockerd.log"),
        "OVN_LAB_DOCKERD_PIDFILE": str(tmp_path / "dockerd.pid"),
        "HOME": str(tmp_path),
    }
    if docker_host is not None:
        env["DOCKER_HOST"] = docker_host
    proc = subprocess.run(
        [shutil.which("bash") or "bash", str(SCRIPT)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    log = stub / "calls.log"
    calls = [c for c in log.read_text().splitlines() if c != "docker info"] if log.exists() else []
    return proc, calls


def test_a_docker_that_answers_is_used_as_it_is(tmp_path: Path) -> None:
    proc, calls = run_script(tmp_path, {"docker", "dockerd", "daemon-up", "debootstrap"})
    assert proc.returncode == 0, proc.stderr
    assert "using the docker daemon that answers (99.0); nothing changed" in proc.stdout
    assert [c for c in calls if not c.startswith("docker info")] == []


def test_a_remote_docker_without_dockerd_is_used_and_nothing_installed(tmp_path: Path) -> None:
    proc, calls = run_script(tmp_path, {"docker", "daemon-up", "debootstrap"})
    assert proc.returncode == 0, proc.stderr
    assert not any(c.startswith(("apt-get", "dockerd", "systemctl")) for c in calls)


def test_a_stopped_docker_on_systemd_is_started_by_its_service(tmp_path: Path) -> None:
    proc, calls = run_script(tmp_path, {"docker", "dockerd", "debootstrap"}, systemd=True)
    assert proc.returncode == 0, proc.stderr
    assert calls == ["systemctl start docker"]  # no second daemon, no package
    assert "systemctl start docker" in proc.stdout


def test_a_stopped_docker_without_systemd_gets_one_dockerd_without_bridge_or_nat(
    tmp_path: Path,
) -> None:
    proc, calls = run_script(tmp_path, {"docker", "dockerd", "debootstrap"})
    assert proc.returncode == 0, proc.stderr
    assert calls == ["dockerd --bridge=none --iptables=false --ip-masq=false"]
    assert "starting: dockerd --bridge=none --iptables=false --ip-masq=false" in proc.stdout
    pid = (tmp_path / "dockerd.pid").read_text().strip()
    assert f"running as pid {pid}" in proc.stdout and "kill $(cat" in proc.stdout


def test_a_machine_without_any_docker_gets_docker_io(tmp_path: Path) -> None:
    proc, calls = run_script(tmp_path, {"debootstrap"})
    assert proc.returncode == 0, proc.stderr
    installs = [c for c in calls if c.startswith("apt-get install")]
    assert len(installs) == 1 and installs[0].endswith(" docker.io")
    assert calls[-1] == "dockerd --bridge=none --iptables=false --ip-masq=false"


def test_a_bare_docker_client_without_a_daemon_gets_docker_io(tmp_path: Path) -> None:
    # as this machine kind ships: /usr/local/bin/docker, no dockerd, nothing answering
    proc, calls = run_script(tmp_path, {"docker", "debootstrap"})
    assert proc.returncode == 0, proc.stderr
    installs = [c for c in calls if c.startswith("apt-get install")]
    assert len(installs) == 1 and installs[0].endswith(" docker.io")
    assert calls[-1] == "dockerd --bridge=none --iptables=false --ip-masq=false"


def test_a_named_remote_daemon_that_does_not_answer_is_not_replaced(tmp_path: Path) -> None:
    proc, calls = run_script(
        tmp_path, {"docker", "debootstrap"}, docker_host="tcp://192.0.2.1:2375"
    )
    assert proc.returncode == 2
    assert (
        "no dockerd here to start" in proc.stderr and "DOCKER_HOST=tcp://192.0.2.1" in proc.stderr
    )
    assert not any(c.startswith(("apt-get", "dockerd", "systemctl")) for c in calls)


def test_debootstrap_is_installed_when_missing(tmp_path: Path) -> None:
    proc, calls = run_script(tmp_path, {"docker", "dockerd", "daemon-up"})
    assert proc.returncode == 0, proc.stderr
    installs = [c for c in calls if c.startswith("apt-get install")]
    assert len(installs) == 1 and installs[0].endswith(" debootstrap")


def test_a_fresh_docker_io_started_by_its_package_is_described(tmp_path: Path) -> None:
    proc, calls = run_script(tmp_path, {"debootstrap", "starts-on-install"}, systemd=True)
    assert proc.returncode == 0, proc.stderr
    assert [c for c in calls if c.startswith(("dockerd", "systemctl"))] == []
    assert "its package started docker.service" in proc.stdout
    assert "bridge docker0, iptables NAT" in proc.stdout
    assert next(c for c in calls if c.startswith("apt-get install")).endswith(" docker.io")


@pytest.mark.parametrize(
    ("have", "uid", "says"),
    [
        ({"docker", "dockerd", "debootstrap"}, 1000, "start it as root"),
        ({"debootstrap"}, 1000, "docker.io must be installed; run this as root"),
        ({"dockerd", "debootstrap"}, 0, "the docker client is not"),
    ],
)
def test_what_it_cannot_do_is_said_in_one_line(
    tmp_path: Path, have: set[str], uid: int, says: str
) -> None:
    proc, calls = run_script(tmp_path, have, uid=uid)
    assert proc.returncode == 2
    assert says in proc.stderr
    assert not any(c.startswith(("apt-get", "dockerd", "systemctl")) for c in calls)


def test_the_script_passes_bash_syntax_check() -> None:
    assert subprocess.run(["bash", "-n", str(SCRIPT)], env=os.environ).returncode == 0
