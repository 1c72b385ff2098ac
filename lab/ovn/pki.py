"""The lab's own PKI for `ssl: true`: one CA, one key and certificate per node.

It lives in the lab's state directory (`<lab>/pki`, 0700; private keys 0600) and goes
with it on `lab down`. ovsdb-server, ovn-northd and ovn-controller verify their peers
against the lab's CA, so a client holding a certificate from any other CA is refused.
Keys are EC P-256, made with the cryptography library (no openssl binary, no subprocess)."""

from __future__ import annotations

import datetime
import hashlib
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

# cryptography is imported where a key or certificate is made: loading it costs ~15 MB, and
# every `lab` command imports this module (lab up of a topology without ssl never needs it)
if TYPE_CHECKING:
    from cryptography import x509
    from cryptography.hazmat.primitives.asymmetric import ec

PKI_DIR = "pki"
CURVE = "SECP256R1"  # P-256: what OpenSSL-based OVS/OVN accept everywhere, fast to make
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
            _write_ca(cert, key, _name(O="ovn-lab", CN=f"ovn-lab {lab} CA"), DAYS)
    return cert


def ensure_node(lab_dir: Path, lab: str, node: str) -> SslFiles:
    """A node's key and certificate signed by the lab's CA (made on first use)."""
    ensure_ca(lab_dir, lab)
    files = node_files(lab_dir, node)
    if files.certificate.exists() and files.private_key.exists():
        return files
    _write_leaf(
        files,
        pki_dir(lab_dir) / "ca-privkey.pem",
        _name(O="ovn-lab", OU=lab, CN=node),
        node,
        _serial(node),
        DAYS,
    )
    return files


def make_foreign(directory: Path, name: str = "stranger") -> SslFiles:
    """A self-made CA and a certificate it signed, outside any lab: what a client that
    does not belong to the lab would present (used to prove it is refused)."""
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    ca_key, ca = directory / "ca-privkey.pem", directory / "cacert.pem"
    _write_ca(ca, ca_key, _name(CN=f"{name} CA"), 1)
    files = SslFiles(directory / f"{name}-privkey.pem", directory / f"{name}-cert.pem", ca)
    _write_leaf(files, ca_key, _name(CN=name), name, 1, 1)
    return files


# --- X.509 with the cryptography library (no openssl binary needed) ---------------------------


def _name(**parts: str) -> x509.Name:
    from cryptography import x509
    from cryptography.x509.oid import NameOID

    oids = {"O": NameOID.ORGANIZATION_NAME, "OU": NameOID.ORGANIZATIONAL_UNIT_NAME}
    return x509.Name(
        [x509.NameAttribute(oids.get(k, NameOID.COMMON_NAME), v) for k, v in parts.items()]
    )


def _new_key(path: Path) -> ec.EllipticCurvePrivateKey:
    """A new unencrypted EC key, written 0600 from the start."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    key = ec.generate_private_key(getattr(ec, CURVE)())
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(pem)
    path.chmod(0o600)
    return key


def _builder(
    subject: x509.Name, issuer: x509.Name, key: ec.EllipticCurvePrivateKey, serial: int, days: int
) -> x509.CertificateBuilder:
    from cryptography import x509

    now = datetime.datetime.now(datetime.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(serial)
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=days))
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
    )


def _write_ca(cert_path: Path, key_path: Path, name: x509.Name, days: int) -> None:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization

    key = _new_key(key_path)
    usage = x509.KeyUsage(False, False, False, False, False, True, True, False, False)
    cert = (
        _builder(name, name, key, x509.random_serial_number(), days)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(usage, critical=True)  # key_cert_sign, crl_sign
        .sign(key, hashes.SHA256())
    )
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))


def _write_leaf(
    files: SslFiles, ca_key_path: Path, subject: x509.Name, dns: str, serial: int, days: int
) -> None:
    """A certificate for `subject` (SAN DNS:`dns`), for TLS servers and clients alike: a
    node both listens (NB/SB, raft) and connects (northd, ovn-controller, raft)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID

    ca = x509.load_pem_x509_certificate(files.ca_cert.read_bytes())
    ca_key = serialization.load_pem_private_key(ca_key_path.read_bytes(), password=None)
    assert isinstance(ca_key, ec.EllipticCurvePrivateKey)
    key = _new_key(files.private_key)
    usage = x509.KeyUsage(True, False, False, False, False, False, False, False, False)
    both = [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
    ca_ski = ca.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    cert = (
        _builder(subject, ca.subject, key, serial, days)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(usage, critical=True)  # digital_signature (ECDSA)
        .add_extension(x509.ExtendedKeyUsage(both), critical=False)
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(dns)]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski), False
        )
        .sign(ca_key, hashes.SHA256())
    )
    files.certificate.write_bytes(cert.public_bytes(serialization.Encoding.PEM))


def _serial(node: str) -> int:
    """A stable serial number per node name (positive, 64 bits)."""
    return int(hashlib.sha256(node.encode()).hexdigest()[:16], 16) | 1
