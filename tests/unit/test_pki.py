"""The lab's PKI: one CA, one key and certificate per node, private keys kept private."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from lab.ovn import pki


def _cert(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


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
    ca, cert = _cert(files.ca_cert), _cert(files.certificate)
    cert.verify_directly_issued_by(ca)  # raises if the lab CA did not sign it
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert not cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "central1"
    assert cert.subject.get_attributes_for_oid(NameOID.ORGANIZATIONAL_UNIT_NAME)[0].value == "lab1"
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["central1"]
    eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert set(eku) == {ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH}
    key = serialization.load_pem_private_key(files.private_key.read_bytes(), password=None)
    assert isinstance(key, ec.EllipticCurvePrivateKey) and key.curve.name == "secp256r1"
    assert cert.public_key() == key.public_key()
    assert files.ovsdb_args() == [
        f"--private-key={files.private_key}",
        f"--certificate={files.certificate}",
        f"--ca-cert={files.ca_cert}",
    ]


def test_every_node_gets_its_own_key_and_serial(tmp_path: Path) -> None:
    lab_dir = tmp_path / "lab1"
    lab_dir.mkdir()
    one, two = pki.ensure_node(lab_dir, "lab1", "hv1"), pki.ensure_node(lab_dir, "lab1", "hv2")
    assert one.private_key.read_bytes() != two.private_key.read_bytes()
    assert _cert(one.certificate).serial_number != _cert(two.certificate).serial_number
    assert _cert(one.ca_cert) == _cert(two.ca_cert)  # one CA per lab


def test_a_foreign_certificate_does_not_verify_against_the_lab_ca(tmp_path: Path) -> None:
    lab_dir = tmp_path / "lab1"
    lab_dir.mkdir()
    ca = pki.ensure_ca(lab_dir, "lab1")
    stranger = pki.make_foreign(tmp_path / "elsewhere")
    _cert(stranger.certificate).verify_directly_issued_by(_cert(stranger.ca_cert))
    with pytest.raises((InvalidSignature, ValueError)):
        _cert(stranger.certificate).verify_directly_issued_by(_cert(ca))
