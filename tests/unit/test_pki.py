"""The lab's PKI: one CA, one key and certificate per node, private keys kept private."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from lab.ovn import pki

pytestmark = pytest.mark.skipif(shutil.which("openssl") is None, reason="needs openssl")


def test_node_certificates_are_signed_by_the_lab_ca(tmp_path: Path) -> None:
    lab_dir = tmp_path / "lab1"
    lab_dir.mkdir(mode=0o700)
    files = pki.ensure_node(lab_dir, "lab1", "central1")
    again = pki.ensure_node(lab_dir, "lab1", "central1")  # idempotent: `lab start`, heal
    assert again == files
    assert files.certificate.read_bytes() == again.certificate.read_bytes()
    assert oct(pki.pki_dir(lab_dir).stat().st_mode & 0o777) == "0o700"
    assert oct(files.private_key.stat().st_mode & 0o777) == "0o600"
    assert oct((pki.pki_dir(lab_dir) / "ca-privkey.pem").stat().st_mode & 0o777) == "0o600"
    verify = subprocess.run(
        ["openssl", "verify", "-CAfile", str(files.ca_cert), str(files.certificate)],
        capture_output=True,
        text=True,
    )
    assert verify.returncode == 0, verify.stderr
    subject = subprocess.run(
        ["openssl", "x509", "-noout", "-subject", "-in", str(files.certificate)],
        capture_output=True,
        text=True,
    ).stdout
    assert "CN = central1" in subject
    assert files.ovsdb_args() == [
        f"--private-key={files.private_key}",
        f"--certificate={files.certificate}",
        f"--ca-cert={files.ca_cert}",
    ]


def test_a_foreign_certificate_does_not_verify_against_the_lab_ca(tmp_path: Path) -> None:
    lab_dir = tmp_path / "lab1"
    lab_dir.mkdir()
    ca = pki.ensure_ca(lab_dir, "lab1")
    stranger = pki.make_foreign(tmp_path / "elsewhere")
    verify = subprocess.run(
        ["openssl", "verify", "-CAfile", str(ca), str(stranger.certificate)],
        capture_output=True,
        text=True,
    )
    assert verify.returncode != 0
