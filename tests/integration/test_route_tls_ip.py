# SPDX-License-Identifier: ISC
"""Issue 14, item 5: `tls=require` on a route to an IP literal verifies
the address against the certificate's IP subjectAltNames. A certificate
for 127.0.0.1 delivers; one for 127.0.0.2, and one that names only a DNS
host, are deferred and never delivered, with the reason in the log line
and in `tern queue show ID`.

The sink's certificates are signed by a test CA that tern trusts through
OpenSSL's SSL_CERT_FILE (its default verify paths), so the chain
verifies and only the identity check decides."""

import ssl
import subprocess
import time

import pytest

from conftest import CLI_TIMEOUT, make_message
from smtp_sink import Sink

LISTENERS = [("mx", "127.0.0.1", "mx"), ("sub", "127.0.0.1", "submission")]
QUEUE = {"retry_initial": "1s", "retry_max": "1s", "delivery_threads": "2",
         "remote_timeout": "5s", "connect_timeout": "2s"}
IP_REASON = ("127.0.0.1: TLS certificate verification failed: IP address "
             "mismatch: the certificate has no IP address subjectAltName "
             "for 127.0.0.1")


def openssl(*args):
    subprocess.run(["openssl", *args], check=True, capture_output=True,
                   timeout=CLI_TIMEOUT)


@pytest.fixture
def pki(tmp_path):
    """make(name, san): a leaf cert and key signed by one test CA;
    pki.ca is the CA certificate."""
    d = tmp_path / "pki"
    d.mkdir()
    ca, ca_key = d / "ca.pem", d / "ca.key"
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
            "-subj", "/CN=tern test CA", "-keyout", str(ca_key),
            "-out", str(ca))

    def make(name, cn, san):
        cert, key = d / f"{name}.pem", d / f"{name}.key"
        openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes",
                "-days", "2", "-subj", f"/CN={cn}",
                "-addext", f"subjectAltName={san}",
                "-addext", "basicConstraints=critical,CA:FALSE",
                "-addext", "extendedKeyUsage=serverAuth",
                "-CA", str(ca), "-CAkey", str(ca_key),
                "-keyout", str(key), "-out", str(cert))
        return cert, key

    make.ca = ca
    return make


@pytest.fixture
def sinks():
    made = []

    def make(cert, key):
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(str(cert), str(key))
        s = Sink(tls_ctx=ctx)
        made.append(s)
        return s

    yield make
    for s in made:
        s.stop()


def route_server(make_server, monkeypatch, ca, sink):
    # OpenSSL reads SSL_CERT_FILE in SSL_CTX_set_default_verify_paths();
    # the server inherits the environment at start (conftest.child_env).
    monkeypatch.setenv("SSL_CERT_FILE", str(ca))
    return make_server(
        listeners=LISTENERS, queue=QUEUE,
        top={"relay_networks": "127.0.0.0/8"},
        extra=f"\n[routes]\nrelay.test = 127.0.0.1:{sink.port} "
              "tls=require\n")


def submit(srv):
    return srv.send("alice@example.test", ["x@relay.test"],
                    make_message(to="x@relay.test"), port=srv.ports["sub"])


def deferred_lines(srv, qid, n, timeout=30.0):
    """The first n event=deferred lines of qid (bounded wait)."""
    deadline = time.monotonic() + timeout
    lines = []
    while time.monotonic() < deadline:
        lines = [ln for ln in srv.log().splitlines()
                 if "event=deferred" in ln and f"id={qid} " in ln]
        if len(lines) >= n:
            return lines
        time.sleep(0.05)
    pytest.fail(f"{len(lines)} of {n} deferrals of {qid}:\n"
                f"{srv.log()[-3000:]}")


def assert_deferred(srv, sink, qid, reason):
    # Two attempts: the first is no fluke, and a retry does not deliver.
    lines = deferred_lines(srv, qid, 2)
    for ln in lines:
        assert "to=x@relay.test" in ln, ln
        assert f"reason=\"{reason}\"" in ln, ln
    assert not sink.messages, "delivered despite a failed identity check"
    # The sink saw a handshake but never a MAIL.
    assert not [c for c in sink.commands if c.startswith("MAIL")], \
        sink.commands
    show = srv.cli("queue", "show", qid).out
    assert reason in show, show
    assert [i["id"] for i in srv.queue_json()] == [qid]


def test_ip_san_matches_and_delivers(make_server, monkeypatch, pki, sinks):
    sink = sinks(*pki("good", "sink.test", "IP:127.0.0.1"))
    srv = route_server(make_server, monkeypatch, pki.ca, sink)
    submit(srv)
    m = sink.wait_messages(1)[0]
    assert m.tls and m.rcpts == ["x@relay.test"]
    srv.wait_queue_empty()
    assert "event=deferred" not in srv.log()


def test_wrong_ip_san_defers(make_server, monkeypatch, pki, sinks):
    sink = sinks(*pki("wrongip", "sink.test", "IP:127.0.0.2"))
    srv = route_server(make_server, monkeypatch, pki.ca, sink)
    qid = submit(srv)
    assert_deferred(srv, sink, qid, IP_REASON)
    # Review r19: a route's tls = setting decided, as remote_session says.
    failed = [ln for ln in srv.log().splitlines()
              if "event=connect_failed" in ln]
    assert failed and all("tls_policy=route " in ln for ln in failed), \
        failed


@pytest.mark.parametrize("dns", ["localhost", "mx.example.test"])
def test_name_only_certificate_defers(make_server, monkeypatch, pki, sinks,
                                      dns):
    sink = sinks(*pki("nameonly", dns, f"DNS:{dns}"))
    srv = route_server(make_server, monkeypatch, pki.ca, sink)
    qid = submit(srv)
    assert_deferred(srv, sink, qid, IP_REASON)
