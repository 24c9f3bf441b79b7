# SPDX-License-Identifier: ISC
"""Issue 19 (REQUIRETLS, TLS-RPT tests): a test CA and leaf certificates
made with python3-cryptography (EC P-256: fast to make, even on a busy
machine). PKI(dir).leaf(name, ips=..., dns=...) -> (cert_path, key_path);
PKI.ca is the CA certificate's path, for [outbound_tls] ca_file or a
Python client's cafile."""

import datetime
import ipaddress
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID


def _key():
    return ec.generate_private_key(ec.SECP256R1())


def _write_key(key, path):
    path.write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))


def _name(cn):
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


class PKI:
    def __init__(self, dirpath):
        self.dir = Path(dirpath)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.now = datetime.datetime.now(datetime.timezone.utc)
        self.ca_key = _key()
        self.ca_cert = (
            x509.CertificateBuilder()
            .subject_name(_name("tern issue 19 test CA"))
            .issuer_name(_name("tern issue 19 test CA"))
            .public_key(self.ca_key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(self.now - datetime.timedelta(hours=1))
            .not_valid_after(self.now + datetime.timedelta(days=2))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None),
                           critical=True)
            .add_extension(x509.KeyUsage(
                digital_signature=True, content_commitment=False,
                key_encipherment=False, data_encipherment=False,
                key_agreement=False, key_cert_sign=True, crl_sign=True,
                encipher_only=False, decipher_only=False), critical=True)
            .sign(self.ca_key, hashes.SHA256()))
        self.ca = self.dir / "ca.pem"
        self.ca.write_bytes(self.ca_cert.public_bytes(
            serialization.Encoding.PEM))

    def leaf(self, name, ips=(), dns=()):
        key = _key()
        sans = [x509.IPAddress(ipaddress.ip_address(i)) for i in ips] + \
            [x509.DNSName(d) for d in dns]
        cert = (
            x509.CertificateBuilder()
            .subject_name(_name(name))
            .issuer_name(self.ca_cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(self.now - datetime.timedelta(hours=1))
            .not_valid_after(self.now + datetime.timedelta(days=2))
            .add_extension(x509.SubjectAlternativeName(sans), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None),
                           critical=True)
            .add_extension(x509.ExtendedKeyUsage(
                [ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .sign(self.ca_key, hashes.SHA256()))
        cpath, kpath = self.dir / f"{name}.pem", self.dir / f"{name}.key"
        cpath.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        _write_key(key, kpath)
        kpath.chmod(0o600)
        return cpath, kpath
