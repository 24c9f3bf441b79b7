# SPDX-License-Identifier: ISC
"""DANE for outbound delivery (issue 19, RFC 7672): a sending tern
resolves through a real nsd serving a zone signed with ldns-signzone,
validates with the zone's DS as its trust anchor, and delivers to a
receiving tern (mode mx, STARTTLS with a test CA's certificate) on
port 25 of a 127.0.0.N of the test's own.

Each test: the records, the outcome (delivered, or deferred with nothing
sent: the receiver never saw MAIL and holds no mail), and the sender's
log fields (tls_policy=, tls_auth=, the certificate subject) and
`tern queue show`.
"""

import datetime
import hashlib
import os

import pytest

from conftest import log_records, make_message
import dnssec
from dnstest import DnsServer, Zone as PlainZone

MX = "mx.example.test"
RCPT = "bob@example.test"
QUEUE = {"retry_initial": "1h", "retry_max": "1h", "delivery_threads": "2",
         "remote_timeout": "5s", "connect_timeout": "3s"}

pytestmark = pytest.mark.skipif(dnssec.tools_missing() is not None,
                                reason=str(dnssec.tools_missing()))


# -- certificates: a test CA and the MX's leaf (python3-cryptography) -----

def _pki(directory):
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME,
                                            "tern DANE test CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name)
          .issuer_name(ca_name).public_key(ca_key.public_key())
          .serial_number(x509.random_serial_number())
          .not_valid_before(now - datetime.timedelta(hours=1))
          .not_valid_after(now + datetime.timedelta(days=2))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None),
                         critical=True)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    leaf = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(
                NameOID.COMMON_NAME, MX)]))
            .issuer_name(ca_name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + datetime.timedelta(days=2))
            .add_extension(x509.SubjectAlternativeName(
                [x509.DNSName(MX)]), critical=False)
            .sign(ca_key, hashes.SHA256()))
    pem = serialization.Encoding.PEM
    der = serialization.Encoding.DER
    cert = directory / "mx.pem"  # the chain: leaf, then the CA (2 0 1)
    cert.write_bytes(leaf.public_bytes(pem) + ca.public_bytes(pem))
    keyp = directory / "mx.key"
    keyp.write_bytes(key.private_bytes(
        pem, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))
    os.chmod(keyp, 0o600)
    spki = leaf.public_key().public_bytes(
        der, serialization.PublicFormat.SubjectPublicKeyInfo)
    return {"cert": cert, "key": keyp,
            "311": "3 1 1 " + hashlib.sha256(spki).hexdigest(),
            "201": "2 0 1 " + hashlib.sha256(ca.public_bytes(der))
            .hexdigest()}


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    return _pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture
def env(tmp_path, make_server, pki):
    """make(records, ...) -> (sender, receiver): the zone example.test
    (MX mx.example.test at the test's own 127.0.0.N, plus `records`),
    nsd, the receiving tern on N:25 and the sending tern."""
    addr = dnssec.LoopAddr()
    ns = dnssec.Nsd(tmp_path / "nsd")
    plain = []

    def make(records, sign=True, tamper=None, starttls=True,
             plain_dns=False, outtls=None):
        base = ["@ MX 10 mx", f"mx A {addr.addr}"]
        records = [r.replace("{addr}", addr.addr) for r in records]
        anchor_zone = None
        if plain_dns:
            # The resolver strips DNSSEC: a plain server holds the
            # records, the anchor says the zone is signed.
            z = ns.zone("example.test", base + records, sign=True)
            pz = PlainZone({})
            pz.add("example.test", "MX", (10, MX))
            pz.add(MX, "A", addr.addr)
            srv = DnsServer(pz)
            plain.append(srv)
            dns_server = f"127.0.0.1:{srv.port}"
            anchor = z.anchor
        else:
            z = ns.zone("example.test", base + records, sign=sign)
            if not sign:  # an anchor for another zone: this one insecure
                anchor_zone = ns.zone("anchor.test", [], sign=True)
            if tamper:
                z.tamper(*tamper)
            dns_server = ns.start()
            anchor = z.anchor if sign else anchor_zone.anchor
        tls = "starttls" if starttls else "none"
        rx = make_server(
            users=(RCPT,), start=False,
            listeners=[("mx", addr.addr, "mx", tls)],
            extra=(f"\n[tls]\ncert = {pki['cert']}\nkey = {pki['key']}\n"
                   if starttls else ""))
        rx.ports = {"mx": 25}
        rx.start()
        tx = make_server(
            users=(), domains=("sender.test",),
            listeners=[("sub", "127.0.0.1", "submission")],
            queue=QUEUE,
            top={"hostname": "out.sender.test", "dns_server": dns_server,
                 "relay_networks": "127.0.0.0/8"},
            extra=outtls if outtls is not None else
            f"\n[outbound_tls]\ntrust_anchor = {anchor}\n")
        return tx, rx

    yield make
    for s in plain:
        s.close()
    ns.stop()
    addr.close()


def submit(tx):
    return tx.send("alice@sender.test", [RCPT],
                   make_message(to=RCPT, subject="dane"),
                   port=tx.ports["sub"])


def session_line(tx, qid):
    """The sender's event=remote_session line of message qid."""
    from conftest import wait_log
    wait_log(tx, f"event=remote_session id={qid}")
    return [ln for ln in tx.log().splitlines()
            if f"event=remote_session id={qid}" in ln][0]


def assert_nothing_sent(tx, rx, qid):
    """Deferred, and the receiver never got a transaction: no MAIL was
    sent (its log holds no queued message) and its Maildir is empty."""
    from conftest import wait_log
    wait_log(tx, f"event=deferred id={qid}")
    assert rx.mail_files(RCPT) == []
    assert "event=queued" not in rx.log()
    assert "event=delivered" not in tx.log()


def test_dane_ee_spki_sha256_delivers(env, pki):
    tx, rx = env([f"_25._tcp.mx TLSA {pki['311']}"])
    qid = submit(tx)
    rx.wait_for_mail(RCPT)
    line = session_line(tx, qid)
    assert "tls=yes tls_policy=dane" in line, line
    assert 'tls_auth="DANE-EE(3) SPKI(1) SHA2-256(1) matched' in line, line
    assert f'tls_subject="CN={MX}"' in line, line
    assert "event=dnssec_available" in tx.log()
    # Every line keeps the log grammar (the subject is the peer's text).
    log_records(tx)


def test_wrong_hash_defers_and_sends_nothing(env):
    tx, rx = env(["_25._tcp.mx TLSA 3 1 1 " + "00" * 32])
    qid = submit(tx)
    assert_nothing_sent(tx, rx, qid)
    line = session_line(tx, qid)
    assert "tls_policy=dane" in line and "accepted=0" in line, line
    assert "no TLSA record matched" in line, line
    # The reason is the message's last error in `tern queue show`.
    out = tx.cli("queue", "show", qid).stdout
    assert b"no TLSA record matched" in out, out


def test_dane_ta_cert_sha256_on_test_ca_delivers(env, pki):
    tx, rx = env([f"_25._tcp.mx TLSA {pki['201']}"])
    qid = submit(tx)
    rx.wait_for_mail(RCPT)
    line = session_line(tx, qid)
    assert 'tls_auth="DANE-TA(2) Cert(0) SHA2-256(1) matched' in line, line


def test_bogus_signature_defers(env, pki):
    # The TLSA record changed after signing: its RRSIG fails.
    tx, rx = env([f"_25._tcp.mx TLSA {pki['311']}"],
                 tamper=("_25._tcp.mx", "TLSA", pki["311"][:-4] + "0000"))
    qid = submit(tx)
    assert_nothing_sent(tx, rx, qid)
    log = tx.log()
    assert "policy=skip" in log and "TLSA answer bogus" in log, log
    out = tx.cli("queue", "show", qid).stdout
    assert b"TLSA answer bogus" in out, out
    log_records(tx)


def test_unsigned_zone_is_opportunistic(env, pki):
    tx, rx = env([f"_25._tcp.mx TLSA 3 1 1 {'00' * 32}"], sign=False)
    qid = submit(tx)
    rx.wait_for_mail(RCPT)
    line = session_line(tx, qid)
    # The (wrong) TLSA record of an insecure zone is not used.
    assert "tls=yes tls_policy=opportunistic tls_auth=none" in line, line


def test_no_starttls_under_dane_defers(env, pki):
    tx, rx = env([f"_25._tcp.mx TLSA {pki['311']}"], starttls=False)
    qid = submit(tx)
    assert_nothing_sent(tx, rx, qid)
    line = session_line(tx, qid)
    assert "tls_policy=dane" in line and "STARTTLS" in line, line


def test_resolver_without_dnssec_does_not_stop_mail(env, pki):
    tx, rx = env([f"_25._tcp.mx TLSA 3 1 1 {'00' * 32}"], plain_dns=True)
    qid = submit(tx)
    rx.wait_for_mail(RCPT)
    log = tx.log()
    assert log.count("event=dnssec_unavailable") == 1, log
    line = session_line(tx, qid)
    assert "tls_policy=opportunistic" in line, line


def test_mismatch_tries_next_mx(env, pki):
    # The preferred MX's record does not match: QUIT, then the next MX.
    tx, rx = env(["@ MX 5 bad", "bad A {addr}",
                  "_25._tcp.bad TLSA 3 1 1 " + "00" * 32,
                  f"_25._tcp.mx TLSA {pki['311']}"])
    qid = submit(tx)
    rx.wait_for_mail(RCPT)
    log = tx.log()
    assert "event=connect_failed domain=example.test host=bad.example.test" \
        in log, log
    assert "no TLSA record matched" in log, log
    line = session_line(tx, qid)
    assert f"host={MX}" in line and "tls_policy=dane" in line, line
    # The refused session ended with QUIT after TLS, before any MAIL.
    assert rx.log().count("event=queued") == 1


def test_unusable_records_mean_tls_without_authentication(env, pki):
    # PKIX-EE(1) is not for SMTP (RFC 7672 3.1.3): TLS still required.
    tx, rx = env(["_25._tcp.mx TLSA 1 1 1 " + "00" * 32])
    qid = submit(tx)
    rx.wait_for_mail(RCPT)
    line = session_line(tx, qid)
    assert "tls=yes tls_policy=dane-unauthenticated tls_auth=none" in line, \
        line


@pytest.mark.parametrize("outtls", ["trust_anchor = none", "dane = off"])
def test_dane_turned_off(env, outtls):
    # The wrong record would defer the mail if DANE were in force.
    tx, rx = env(["_25._tcp.mx TLSA 3 1 1 " + "00" * 32],
                 outtls=f"\n[outbound_tls]\n{outtls}\n")
    qid = submit(tx)
    rx.wait_for_mail(RCPT)
    line = session_line(tx, qid)
    assert "tls=yes tls_policy=opportunistic" in line, line
    assert "event=dnssec_" not in tx.log()  # nothing validated, no probe
