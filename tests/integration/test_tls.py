"""`ssl: true`: the lab's OVSDB traffic is TLS with the lab's own PKI, and a client holding a
certificate from any other CA is refused while the lab itself works."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from lab import naming
from lab.ovn import pki

from .conftest import TOPOLOGIES, chassis_remote, lab, ping, running_lab

pytestmark = pytest.mark.root

STATE_ROOT = Path(os.environ.get("OVN_LAB_STATE_DIR", "/var/lib/ovn-lab"))


def tls_topology(tmp_path: Path, shipped: str) -> Path:
    """A shipped topology with `ssl: true` and only its ping checks."""
    text = (
        (TOPOLOGIES / shipped).read_text().replace("provider: netns", "provider: netns\nssl: true")
    )
    lines = text[: text.index("checks:")].splitlines()
    path = tmp_path / f"tls-{shipped}"
    path.write_text("\n".join([*lines, "checks:", "  - ping: {from: vm1, to: vm2}", ""]))
    return path


def sbctl_from(netns: str, db: str, files: pki.SslFiles | None) -> subprocess.CompletedProcess:
    """ovn-sbctl run by someone else on the overlay (inside a node's namespace)."""
    ssl = files.ovsdb_args() if files else []
    argv = ["ovn-sbctl", "--timeout=5", "--no-leader-only", f"--db={db}", *ssl]
    return subprocess.run(
        ["ip", "netns", "exec", netns, *argv, "--columns=name", "list", "Chassis"],
        capture_output=True,
        text=True,
        timeout=30,
    )


def assert_only_the_lab_gets_in(name: str, tmp_path: Path, central_ip: str) -> None:
    lab_dir = STATE_ROOT / name
    netns = naming.netns_name(name, "worker1")
    remote = f"ssl:{central_ip}:6642"
    # a certificate from another CA, even one that trusts the lab's CA: refused by the server
    stranger = pki.make_foreign(tmp_path / "stranger")
    trusting = pki.SslFiles(stranger.private_key, stranger.certificate, pki.ca_cert(lab_dir))
    refused = sbctl_from(netns, remote, trusting)
    assert refused.returncode != 0, refused.stdout
    assert "worker1" not in refused.stdout
    # ... and one that does not trust the lab's CA refuses the server
    assert sbctl_from(netns, remote, stranger).returncode != 0
    # plain TCP to the TLS port gets nowhere
    plain = sbctl_from(netns, f"tcp:{central_ip}:6642", None)
    assert plain.returncode != 0
    # the lab's own certificate (worker1's) is let in: the remote is reachable and serves
    ok = sbctl_from(netns, remote, pki.node_files(lab_dir, "worker1"))
    assert ok.returncode == 0, ok.stderr
    assert {"worker1", "worker2"} <= set(ok.stdout.split())


def assert_private_pki(name: str) -> None:
    directory = pki.pki_dir(STATE_ROOT / name)
    assert directory.stat().st_mode & 0o777 == 0o700
    keys = sorted(directory.glob("*privkey.pem"))
    assert keys and all(k.stat().st_mode & 0o777 == 0o600 for k in keys)


def test_tls_with_one_central(tmp_path: Path) -> None:
    with running_lab(str(tls_topology(tmp_path, "geneve-router.yaml")), "tls-t1"):
        assert ping("tls-t1", "vm1", "20.0.0.10").returncode == 0
        assert chassis_remote("tls-t1") == ["ssl:192.0.2.11:6642"]
        assert_private_pki("tls-t1")
        assert_only_the_lab_gets_in("tls-t1", tmp_path, "192.0.2.11")
        assert lab("check", "tls-t1").returncode == 0


def test_tls_with_a_raft_cluster(tmp_path: Path) -> None:
    with running_lab(str(tls_topology(tmp_path, "ha-central.yaml")), "tls-t2"):
        assert ping("tls-t2", "vm1", "20.0.0.10").returncode == 0
        assert chassis_remote("tls-t2") == [f"ssl:192.0.2.{i}:6642" for i in (11, 12, 13)]
        assert_private_pki("tls-t2")
        for ip in ("192.0.2.11", "192.0.2.13"):
            assert_only_the_lab_gets_in("tls-t2", tmp_path / ip, ip)
        # raft itself runs over TLS
        ctl = STATE_ROOT / "tls-t2" / "central2" / "ovnsb_db.ctl"
        shown = subprocess.run(
            ["ovs-appctl", "-t", str(ctl), "cluster/status", "OVN_Southbound"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        assert "Address: ssl:192.0.2.12:6644" in shown
        st = json.loads(lab("status", "tls-t2", "--json").stdout)["labs"][0]
        assert st["healthy"], st["problems"]
