# SPDX-License-Identifier: ISC
"""Issue 3, TLS: STARTTLS (RFC 3207) and implicit TLS (RFC 8314) through
Python's ssl/smtplib and `openssl s_client`; old protocol versions
refused; the CVE-2011-0411 plaintext injection; the RFC 3207 4.2 reset;
Received records version and cipher; handshake failures are isolated;
SIGHUP loads a new certificate; a self-signed one is made when none is
configured."""

import signal
import socket
import ssl
import subprocess
import time

import pytest

from conftest import (CLIENT_NAME, CLI_TIMEOUT, HOSTNAME, Raw, expect,
                      make_cert, make_message, tls_client)


def tls_ctx(srv):
    ctx = tls_client(srv.cert)
    ctx.check_hostname = False  # we connect to 127.0.0.1
    return ctx


def wait_log(srv, text, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if text in srv.log():
            return
        time.sleep(0.05)
    pytest.fail(f"no {text!r} in log:\n{srv.log()[-3000:]}")


class TlsRaw:
    """Line-level SMTP over an established TLS socket."""

    def __init__(self, sock):
        self.sock = sock
        self.buf = b""

    def reply(self):
        r = Raw.__new__(Raw)
        r.sock, r.buf = self.sock, self.buf
        rep = r.reply()
        self.buf = r.buf
        return rep

    def cmd(self, line):
        self.sock.sendall(line.encode() + b"\r\n")
        return self.reply()


def test_starttls_mx_records_tls_in_received(submission_server):
    srv = submission_server(listeners=[
        ("mx", "127.0.0.1", "mx", "starttls")])
    with srv.smtp() as s:
        code, caps = s.ehlo()
        assert code == 250 and b"STARTTLS" in caps
        assert b"AUTH" not in caps  # mx never offers AUTH
        assert s.starttls(context=tls_ctx(srv))[0] == 220
        code, caps = s.ehlo()
        assert b"STARTTLS" not in caps  # RFC 3207 4.2: not again
        assert s.sock.version() in ("TLSv1.2", "TLSv1.3")
        s.sendmail("x@remote.example", ["alice@example.test"],
                   make_message())
    got = srv.wait_for_mail("alice@example.test")[0].decode()
    received = got.split("\r\n\r\n")[0]
    assert "with ESMTPS" in received
    assert "(using TLSv1." in received and "_" in received  # cipher name


def test_implicit_tls_smtplib(submission_server):
    srv = submission_server()
    with pytest.raises(ssl.SSLError):  # plaintext on 465 is not SMTP
        with Raw("127.0.0.1", srv.ports["smtps"], timeout=5) as r:
            r.send("EHLO x\r\n")
            ctx = tls_ctx(srv)
            ctx.wrap_socket(socket.create_connection(
                ("127.0.0.1", srv.ports["smtps"]), timeout=5)).close()
            raise ssl.SSLError("expected: the server is TLS-only")
    import smtplib
    with smtplib.SMTP_SSL("127.0.0.1", srv.ports["smtps"],
                          local_hostname=CLIENT_NAME, context=tls_ctx(srv),
                          timeout=30) as s:
        code, caps = s.ehlo()
        assert code == 250
        assert b"AUTH PLAIN LOGIN" in caps
        assert b"STARTTLS" not in caps
        assert s.noop()[0] == 250


def s_client(args, data=b"QUIT\r\n"):
    # -ign_eof: read until the server closes (after its 221).
    return subprocess.run(["openssl", "s_client", "-brief", "-ign_eof"] +
                          args,
                          input=data, capture_output=True,
                          timeout=CLI_TIMEOUT)


def test_openssl_s_client_starttls_and_implicit(submission_server):
    srv = submission_server()
    r = s_client(["-starttls", "smtp", "-name", CLIENT_NAME,
                  "-connect", f"127.0.0.1:{srv.ports['submission']}",
                  "-CAfile", str(srv.cert), "-verify_return_error",
                  "-verify_hostname", HOSTNAME])
    err = r.stderr.decode()
    assert r.returncode == 0, err
    assert "Verification: OK" in err and "Protocol version: TLSv1." in err
    assert b"221 2.0.0" in r.stdout + r.stderr
    r = s_client(["-connect", f"127.0.0.1:{srv.ports['smtps']}",
                  "-CAfile", str(srv.cert), "-verify_return_error"],
                 data=b"EHLO c.example\r\nQUIT\r\n")
    assert r.returncode == 0, r.stderr.decode()
    out = r.stdout + r.stderr
    assert b"220 " + HOSTNAME.encode() in out
    assert b"250-AUTH PLAIN LOGIN" in out and b"221 2.0.0" in out


@pytest.mark.parametrize("version", ["-tls1", "-tls1_1"])
def test_old_tls_versions_refused(submission_server, version):
    srv = submission_server()
    r = s_client([version, "-cipher", "DEFAULT@SECLEVEL=0",
                  "-connect", f"127.0.0.1:{srv.ports['smtps']}"])
    assert r.returncode != 0
    assert b"220 " not in r.stdout
    wait_log(srv, "event=tls_failed")
    # The failure touched no one else.
    import smtplib
    with smtplib.SMTP_SSL("127.0.0.1", srv.ports["smtps"],
                          context=tls_ctx(srv), timeout=30) as s:
        assert s.noop()[0] == 250


def test_min_version_tls13(submission_server):
    srv = submission_server(extra="min_version = TLSv1.3\n")
    ctx = tls_ctx(srv)
    ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    with pytest.raises((ssl.SSLError, ConnectionError)):
        ctx.wrap_socket(socket.create_connection(
            ("127.0.0.1", srv.ports["smtps"]), timeout=10)).recv(100)
    ctx = tls_ctx(srv)
    with ctx.wrap_socket(socket.create_connection(
            ("127.0.0.1", srv.ports["smtps"]), timeout=10)) as t:
        assert t.version() == "TLSv1.3"


def starttls_raw(srv, port, inject=b""):
    """STARTTLS on a raw socket, sending inject in the same packet."""
    r = Raw("127.0.0.1", port)
    expect(r.reply(), 220)
    expect(r.cmd(f"EHLO {CLIENT_NAME}"), 250)
    r.send(b"STARTTLS\r\n" + inject)
    expect(r.reply(), 220, "2.0.0")
    assert r.buf == b""
    t = tls_ctx(srv).wrap_socket(r.sock)
    t.settimeout(15)
    return TlsRaw(t)


def test_cve_2011_0411_plaintext_after_starttls_discarded(submission_server):
    srv = submission_server()
    t = starttls_raw(srv, srv.ports["submission"],
                     inject=b"HELP\r\nMAIL FROM:<evil@example.test>\r\n")
    # Had the injected commands survived, their replies (214, 503)
    # would come first over TLS.
    rep = t.cmd(f"EHLO {CLIENT_NAME}")
    expect(rep, 250)
    assert rep.lines[0] == HOSTNAME
    expect(t.cmd("NOOP"), 250)
    t.sock.close()
    wait_log(srv, "event=starttls_pipelined")
    assert "discarded=" in srv.log()


def test_starttls_resets_session(submission_server):
    srv = submission_server(listeners=[
        ("mx", "127.0.0.1", "mx", "starttls")])
    t = starttls_raw(srv, srv.port)
    # RFC 3207 4.2: the EHLO before TLS is forgotten.
    expect(t.cmd("MAIL FROM:<a@remote.example>"), 503, "5.5.1")
    expect(t.cmd(f"EHLO {CLIENT_NAME}"), 250)
    expect(t.cmd("STARTTLS"), 503, "5.5.1")  # already active
    expect(t.cmd("MAIL FROM:<a@remote.example>"), 250)
    t.sock.close()


def test_starttls_not_offered_and_syntax(submission_server):
    srv = submission_server()
    with srv.raw() as r:  # mx listener: tls = none
        expect(r.cmd("STARTTLS"), 502, "5.5.1")
    with srv.raw(port=srv.ports["submission"]) as r:
        expect(r.cmd("STARTTLS now"), 501, "5.5.4")


def test_handshake_failure_is_logged_and_isolated(submission_server):
    srv = submission_server()
    import smtplib
    good = smtplib.SMTP_SSL("127.0.0.1", srv.ports["smtps"],
                            context=tls_ctx(srv), timeout=30)
    with Raw("127.0.0.1", srv.ports["smtps"], timeout=10) as bad:
        bad.send(b"EHLO this is not a ClientHello\r\n" * 4)
        assert bad.closed_by_peer(10)
    wait_log(srv, "event=tls_failed")
    assert good.noop()[0] == 250
    good.quit()
    # A client that drops during the handshake neither.
    s = socket.create_connection(("127.0.0.1", srv.ports["smtps"]), 10)
    s.close()
    with smtplib.SMTP_SSL("127.0.0.1", srv.ports["smtps"],
                          context=tls_ctx(srv), timeout=30) as s2:
        assert s2.noop()[0] == 250


def peer_cert(srv):
    ctx = tls_client()
    with ctx.wrap_socket(socket.create_connection(
            ("127.0.0.1", srv.ports["smtps"]), timeout=10)) as t:
        return t.getpeercert(binary_form=True)


def test_sighup_reloads_certificate(submission_server, tmp_path):
    srv = submission_server()
    import smtplib
    old = smtplib.SMTP_SSL("127.0.0.1", srv.ports["smtps"],
                           context=tls_ctx(srv), timeout=30)
    first = peer_cert(srv)
    cert2, key2 = make_cert(tmp_path / "pki2")
    srv.cert.write_bytes(cert2.read_bytes())
    (srv.cert.parent / "cert.key").write_bytes(key2.read_bytes())
    srv.proc.send_signal(signal.SIGHUP)
    wait_log(srv, "event=reload what=config")
    second = peer_cert(srv)
    assert second != first and second
    # The session from before the reload goes on.
    assert old.noop()[0] == 250
    old.quit()


def test_sighup_bad_certificate_keeps_old(submission_server):
    srv = submission_server()
    first = peer_cert(srv)
    srv.cert.write_text("not a certificate\n")
    srv.proc.send_signal(signal.SIGHUP)
    wait_log(srv, "event=reload_refused")
    assert peer_cert(srv) == first


def test_self_signed_generated_when_no_cert(make_server):
    srv = make_server(listeners=[("mx", "127.0.0.1", "mx", "starttls")])
    crt = srv.data_dir / "tls" / "self-signed.crt"
    key = srv.data_dir / "tls" / "self-signed.key"
    assert crt.is_file() and key.is_file()
    assert key.stat().st_mode & 0o077 == 0
    assert "event=tls_self_signed_in_use" in srv.log()
    assert "[tls] cert" in srv.log()  # says how to install a real one
    with srv.smtp() as s:
        s.ehlo()
        assert s.starttls(context=tls_client())[0] == 220
        cert = s.sock.getpeercert(binary_form=True)
        assert s.ehlo()[0] == 250
    out = subprocess.run(["openssl", "x509", "-noout", "-subject"],
                         input=ssl.DER_cert_to_PEM_cert(cert).encode(),
                         capture_output=True, timeout=CLI_TIMEOUT)
    assert HOSTNAME in out.stdout.decode()
    # A restart reuses it rather than making a new one.
    before = crt.read_bytes()
    srv.stop()
    srv.start()
    assert crt.read_bytes() == before
