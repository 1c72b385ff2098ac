"""The five reproductions of issue 16, on real labs: a lab deletes, kills or changes only
what it created; names never collide across labs; concurrent changes are all recorded;
one corrupt state file does not block the other labs."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from lab import naming

from .conftest import TOPOLOGIES, host_links, lab, namespaces, running_lab

pytestmark = pytest.mark.root
SEED = TOPOLOGIES / "geneve-router.yaml"
ROOT = Path(os.environ.get("OVN_LAB_STATE_DIR", "/var/lib/ovn-lab"))
TWO_NODES = """name: {name}
fabric:
  overlay: {{subnet: 192.0.2.0/24}}
nodes:
  central: {{role: central}}
  {node}: {{role: chassis}}
"""


def test_1_a_name_yaml_reads_as_a_number_never_touches_other_labs(tmp_path: Path) -> None:
    with running_lab("geneve-router.yaml", "tow1"):
        for written in ("2024", "0x1a", "2024-01-01"):
            bad = tmp_path / "t.yaml"
            bad.write_text(SEED.read_text().replace("name: geneve-router", f"name: {written}"))
            proc = lab("up", str(bad))
            assert proc.returncode == 2, proc.stderr
            assert f"'{written}' is not valid" in proc.stderr
        # a lab up that fails and rolls back (its name is taken by a user's namespace)
        # removes nothing but its own directory
        subprocess.run(["ip", "netns", "add", "tow1b.worker2"], check=True)
        try:
            proc = lab("up", str(SEED), "--name", "tow1b")
            assert proc.returncode == 2 and "tow1b.worker2" in proc.stderr, proc.stderr
            assert (ROOT / "tow1" / "state.json").is_file()
            assert "tow1b.worker2" in namespaces()
            assert lab("status", "tow1").returncode == 0
        finally:
            subprocess.run(["ip", "netns", "delete", "tow1b.worker2"], check=True)
        assert not [n for n in namespaces() if n.startswith("tow1b.")]


def test_2_labs_whose_names_prefix_each_other_run_side_by_side(tmp_path: Path) -> None:
    long_name, short = tmp_path / "long.yaml", tmp_path / "short.yaml"
    long_name.write_text(TWO_NODES.format(name="tow2-b", node="x"))
    short.write_text(TWO_NODES.format(name="tow2", node="b-x"))
    links_before = host_links()
    try:
        assert lab("up", str(long_name)).returncode == 0
        proc = lab("up", str(short))
        assert proc.returncode == 0, proc.stderr
        assert {"tow2-b.x", "tow2.b-x"} <= namespaces()
        status = lab("status", "tow2-b")
        assert status.returncode == 0 and "DEAD" not in status.stdout, status.stdout
    finally:
        assert lab("down", "tow2").returncode == 0
        status = lab("status", "tow2-b")
        assert status.returncode == 0 and "DEAD" not in status.stdout, status.stdout
        assert lab("down", "tow2-b").returncode == 0
    assert not [n for n in namespaces() if n.startswith(("tow2.", "tow2-b."))]
    assert host_links() - links_before == set()


def test_3_a_users_own_namespace_survives_a_refused_lab_up() -> None:
    mine = naming.netns_name("tow3", "worker1")
    subprocess.run(["ip", "netns", "add", mine], check=True)
    sleeper = subprocess.Popen(["ip", "netns", "exec", mine, "sleep", "60"])
    try:
        proc = lab("up", str(SEED), "--name", "tow3")
        assert proc.returncode == 2 and "already exists" in proc.stderr, proc.stderr
        assert mine in namespaces()
        assert sleeper.poll() is None, "the user's process in it was killed"
        assert lab("down", "tow3").returncode == 0
        assert mine in namespaces() and sleeper.poll() is None
        assert not [n for n in namespaces() if n.startswith("tow3.") and n != mine]
        assert not (ROOT / "tow3").exists()
    finally:
        sleeper.kill()
        sleeper.wait()
        subprocess.run(["ip", "netns", "delete", mine], check=True)


def test_4_two_add_vm_at_once_are_both_recorded_and_both_removed() -> None:
    with running_lab("geneve-router.yaml", "tow4"):
        procs = [
            subprocess.Popen(
                [
                    *(sys.executable, "-m", "lab", "add-vm", "--lab", "tow4", vm),
                    *("--chassis", chassis, "--switch", switch, "--ip", ip),
                ],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                cwd=Path(__file__).resolve().parents[2],
            )
            for vm, chassis, switch, ip in (
                ("va", "worker1", "network1", "10.0.0.21/24"),
                ("vb", "worker2", "network2", "20.0.0.21/24"),
            )
        ]
        for proc in procs:
            _out, errors = proc.communicate(timeout=120)
            assert proc.returncode == 0, errors
        status = lab("status", "tow4", "--json", check=True).stdout
        assert '"va"' in status and '"vb"' in status, status
        # bad --mac / --ip are refused like the loader refuses them, nothing left behind
        for flag, value in (("--mac", "41:44:00:00:00:09"), ("--ip", "10.0.0.300/24")):
            args = ["--ip", "10.0.0.22/24"] if flag == "--mac" else []
            proc = lab(
                "add-vm", "--lab", "tow4", "vc", "--chassis", "worker1",
                "--switch", "network1", flag, value, *args,
            )  # fmt: skip
            assert proc.returncode == 2, proc.stderr
            assert "tow4.vc" not in namespaces()
        # an add-vm that fails after its port was made (no such switch) rolls back fully
        proc = lab(
            "add-vm", "--lab", "tow4", "vd", "--chassis", "worker1", "--switch", "nope",
            "--ip", "10.0.0.23/24",
        )  # fmt: skip
        assert proc.returncode == 2 and "tow4.vd" not in namespaces()
        # a VM named like the router's port on its switch is refused, and the port stays
        proc = lab(
            "add-vm", "--lab", "tow4", "net1-router1", "--chassis", "worker1",
            "--switch", "network1", "--ip", "10.0.0.24/24",
        )  # fmt: skip
        assert proc.returncode == 2 and "choose another VM name" in proc.stderr, proc.stderr
        assert "tow4.net1-router1" not in namespaces()
        ports = lab("nbctl", "--lab", "tow4", "--", "lsp-list", "network1", check=True).stdout
        assert "net1-router1" in ports, ports
        # --wait hv: returns once every chassis caught up, and says so
        proc = lab(
            "add-vm", "--lab", "tow4", "ve", "--chassis", "worker2", "--switch", "network1",
            "--ip", "10.0.0.25/24", "--wait", "hv",
        )  # fmt: skip
        assert proc.returncode == 0 and "every chassis caught up" in proc.stdout, proc.stderr
        ping = lab("exec", "--lab", "tow4", "ve", "--", "ping", "-c1", "-W2", "10.0.0.21")
        assert ping.returncode == 0, ping.stdout + ping.stderr
    assert not {"tow4.va", "tow4.vb", "tow4.ve"} & namespaces()


def test_5_one_corrupt_state_file_does_not_block_the_other_labs(tmp_path: Path) -> None:
    first, second = tmp_path / "aa.yaml", tmp_path / "bb.yaml"
    first.write_text(TWO_NODES.format(name="tow5-aa", node="hv"))
    second.write_text(TWO_NODES.format(name="tow5-bb", node="hv"))
    assert lab("up", str(first)).returncode == 0
    assert lab("up", str(second)).returncode == 0
    state = ROOT / "tow5-aa" / "state.json"
    try:
        for corrupt in ("[]", "", '{"name": "other"}', '{"name": "tow5-aa", "resou'):
            state.write_text(corrupt)
            status = lab("status")
            assert status.returncode == 2, status.stderr
            assert "internal error" not in status.stderr
            assert "tow5-aa" in status.stderr and "tow5-bb" in status.stdout
            one = lab("down", "tow5-aa")
            assert one.returncode == 2 and "--force" in one.stderr, one.stderr
            assert "internal error" not in one.stderr
        everything = lab("down", "--all")
        assert everything.returncode == 2 and "tow5-aa" in everything.stderr
        assert "internal error" not in everything.stderr
        assert not [n for n in namespaces() if n.startswith("tow5-bb.")]
        assert not (ROOT / "tow5-bb").exists()
        forced = lab("down", "tow5-aa", "--force")
        assert forced.returncode == 0, forced.stderr
        assert not [n for n in namespaces() if n.startswith("tow5-aa.")]
        assert not (ROOT / "tow5-aa").exists()
    finally:
        lab("down", "tow5-aa", "--force")
        lab("down", "tow5-bb")


def test_a_leftover_state_directory_is_neither_reused_nor_wiped() -> None:
    leftover = ROOT / "tow6"
    (leftover / "pki").mkdir(parents=True)
    (leftover / "pki" / "cacert.pem").write_text("an old CA\n")
    try:
        up = lab("up", str(SEED), "--name", "tow6")
        assert up.returncode == 2 and "no state file" in up.stderr, up.stderr
        assert (leftover / "pki" / "cacert.pem").read_text() == "an old CA\n"
        assert not [n for n in namespaces() if n.startswith("tow6.")]
        down = lab("down", "tow6")
        assert down.returncode == 2 and "--force" in down.stderr, down.stderr
        assert (leftover / "pki" / "cacert.pem").exists()
        assert lab("down", "tow6", "--force").returncode == 0
        assert not leftover.exists()
    finally:
        lab("down", "tow6", "--force")
    # an empty leftover (a crash inside create_state) is provably nothing: reused
    leftover.mkdir()
    with running_lab("geneve-router.yaml", "tow6"):
        assert (leftover / "state.json").is_file()


FRESH_HOST = """
import os, subprocess, sys
from lab.fabric import nsfs
# this mount namespace only: /run/netns a plain directory, as on a host where nothing has
# run `ip netns add` since boot
subprocess.run(["umount", "-l", "/run/netns"], capture_output=True)
assert not os.path.ismount("/run/netns")
nsfs.create("tnsfs-lab")
# a second lab process: finds the mount point made, binds nothing more on it
two = "from lab.fabric import nsfs; nsfs.create('tnsfs-two'); nsfs.remove('tnsfs-two')"
subprocess.run([sys.executable, "-c", two], check=True)
subprocess.run(["ip", "netns", "add", "tnsfs-user"], check=True)
points = [l.split()[4] for l in open("/proc/self/mountinfo")]
assert points.count("/run/netns") == 1, points.count("/run/netns")
try:
    nsfs.remove("tnsfs-lab")  # EBUSY when ip netns add covered it with its own bind mount
finally:
    subprocess.run(["ip", "netns", "delete", "tnsfs-user"], check=True)
print("removed")
"""


def test_a_users_ip_netns_add_after_lab_up_does_not_pin_the_labs_namespaces() -> None:
    """On a fresh host the lab's first namespace makes /run/netns a shared mount point, as
    `ip netns add` would: a later `ip netns add` then does not bind-mount /run/netns over
    the lab's namespaces (which left `lab down` failing with EBUSY)."""
    try:
        proc = subprocess.run(
            ["unshare", "--mount", "--propagation", "private", sys.executable, "-c", FRESH_HOST],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert proc.returncode == 0 and proc.stdout.strip() == "removed", proc.stderr
    finally:  # the files are on the host's /run/netns even when the mounts were private
        for name in ("tnsfs-lab", "tnsfs-two", "tnsfs-user"):
            (Path("/run/netns") / name).unlink(missing_ok=True)
