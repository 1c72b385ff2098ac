"""The lab's own PKI for `ssl: true`: one CA, one key and certificate per node.

It lives in the lab's state directory (`<lab>/pki`, 0700; private keys 0600) and goes
with it on `lab down`. ovsdb-server, ovn-northd and ovn-controller verify their peers
against the lab's CA, so a client holding a certificate from any other CA is refused."""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass
from pathlib import Path

from lab.runner import run

PKI_DIR = "pki"
KEY_BITS = 2048
DAYS = 3650
_ca_lock = threading.Lock()  # nodes come up in parallel; the CA is made once


@dataclass(frozen=True)
class SslFiles:
    """What a daemon needs for TLS: its private key, its certificate, the CA to trust."""

    private_key: Path
    certificate: Path
    ca_cert: Path

    def ovsdb_args(self) -> list[str]:
        """ovsdb-server / ovn-northd / ovn-nbctl options."""
        return [
            f"--private-key={self.private_key}",
            f"--certificate={self.certificate}",
            f"--ca-cert={self.ca_cert}",
        ]

    def vsctl_set_ssl(self) -> list[str]:
        """The ovs-vsctl command that stores them in a chassis' Open_vSwitch SSL table,
        where ovn-controller reads them (also after a restart)."""
        return ["set-ssl", str(self.private_key), str(self.certificate), str(self.ca_cert)]


def pki_dir(lab_dir: Path) -> Path:
    return lab_dir / PKI_DIR


def ca_cert(lab_dir: Path) -> Path:
    return pki_dir(lab_dir) / "cacert.pem"


def node_files(lab_dir: Path, node: str) -> SslFiles:
    d = pki_dir(lab_dir)
    return SslFiles(d / f"{node}-privkey.pem", d / f"{node}-cert.pem", ca_cert(lab_dir))


def ensure_ca(lab_dir: Path, lab: str) -> Path:
    """The lab's CA (made on first use); returns its certificate."""
    d = pki_dir(lab_dir)
    with _ca_lock:
        d.mkdir(mode=0o700, exist_ok=True)
        d.chmod(0o700)
        cert, key = ca_cert(lab_dir), d / "ca-privkey.pem"
        if not cert.exists():
            run(
                [
                    *_req(key),
                    "-x509",
                    "-days",
                    str(DAYS),
                    "-subj",
                    f"/O=ovn-lab/CN=ovn-lab {lab} CA",
                    "-out",
                    str(cert),
                ]
            )
            key.chmod(0o600)
    return cert


def ensure_node(lab_dir: Path, lab: str, node: str) -> SslFiles:
    """A node's key and certificate signed by the lab's CA (made on first use)."""
    ensure_ca(lab_dir, lab)
    files = node_files(lab_dir, node)
    if files.certificate.exists() and files.private_key.exists():
        return files
    d = pki_dir(lab_dir)
    request = d / f"{node}-req.pem"
    run([*_req(files.private_key), "-subj", f"/O=ovn-lab/OU={lab}/CN={node}", "-out", str(request)])
    files.private_key.chmod(0o600)
    _sign(request, files.ca_cert, d / "ca-privkey.pem", _serial(node), DAYS, files.certificate)
    request.unlink()
    return files


def make_foreign(directory: Path, name: str = "stranger") -> SslFiles:
    """A self-made CA and a certificate it signed, outside any lab: what a client that
    does not belong to the lab would present (used to prove it is refused)."""
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    ca_key, ca = directory / "ca-privkey.pem", directory / "cacert.pem"
    run([*_req(ca_key), "-x509", "-days", "1", "-subj", f"/CN={name} CA", "-out", str(ca)])
    files = SslFiles(directory / f"{name}-privkey.pem", directory / f"{name}-cert.pem", ca)
    request = directory / f"{name}-req.pem"
    run([*_req(files.private_key), "-subj", f"/CN={name}", "-out", str(request)])
    _sign(request, ca, ca_key, 1, 1, files.certificate)
    return files


def _sign(request: Path, ca: Path, ca_key: Path, serial: int, days: int, out: Path) -> None:
    """`openssl x509 -req`: the CA signs a certificate request."""
    run(
        [
            *("openssl", "x509", "-req", "-in", str(request)),
            *("-CA", str(ca), "-CAkey", str(ca_key)),
            *("-set_serial", str(serial), "-days", str(days), "-out", str(out)),
        ]
    )


def _req(key: Path) -> list[str]:
    """`openssl req` making a new unencrypted RSA key (written under a 0700 directory)."""
    return [
        "openssl",
        "req",
        "-new",
        "-newkey",
        f"rsa:{KEY_BITS}",
        "-nodes",
        "-keyout",
        str(key),
    ]


def _serial(node: str) -> int:
    """A stable serial number per node name (positive, 64 bits)."""
    return int(hashlib.sha256(node.encode()).hexdigest()[:16], 16) | 1
