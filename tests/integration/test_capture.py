# SPDX-License-Identifier: ISC
"""`tern capture` (issue 22): mail in over SMTP (smtplib, `tern send`, raw
pipelined commands), asserted through the JSON API; /api/wait; the
bounded ring; search and delete; the raw, html and parts endpoints and
their headers; fault injection (the binomial bound on 1,000 recipients,
message refusals, delay, a connection dropped mid-DATA); the loopback
rule.

Each capture listens on port 0 and is ready when it prints its
`capture: smtp=... http=...` line (no sleeps). stop() asserts exit 0 and
no sanitizer report.
"""

import base64
import json
import os
import re
import select
import signal
import smtplib
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request

import pytest

from conftest import (CLI_TIMEOUT, READY_TIMEOUT, STOP_TIMEOUT, TERN_BIN,
                      TIME_SCALE, Raw, child_env, sanitizer_clean)

READY_RE = re.compile(r"^capture: smtp=127\.0\.0\.1:(\d+) "
                      r"http=127\.0\.0\.1:(\d+)$")
HTML_CSP = ("default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
            "sandbox")


class Capture:
    """A `tern capture` on loopback, port 0 for both listeners."""

    def __init__(self, *args):
        self.proc = subprocess.Popen(
            [TERN_BIN, "capture", "--smtp", "127.0.0.1:0", "--http",
             "127.0.0.1:0", *args],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=child_env())
        self.err = []
        self.cond = threading.Condition()
        self.errt = threading.Thread(target=self._drain, daemon=True)
        self.errt.start()
        line = self._ready_line()
        m = READY_RE.match(line)
        assert m, f"bad ready line {line!r}"
        self.smtp_port, self.http_port = int(m.group(1)), int(m.group(2))

    def _drain(self):
        for line in self.proc.stderr:
            with self.cond:
                self.err.append(line.decode("utf-8", "replace"))
                self.cond.notify_all()

    def wait_log(self, needle, timeout=10.0):
        """Block until a stderr line holds needle (bounded)."""
        deadline = time.monotonic() + timeout * TIME_SCALE
        with self.cond:
            while not any(needle in ln for ln in self.err):
                left = deadline - time.monotonic()
                assert left > 0, f"no log line with {needle!r}"
                self.cond.wait(left)

    def _ready_line(self):
        deadline = time.monotonic() + READY_TIMEOUT * TIME_SCALE
        buf = b""
        fd = self.proc.stdout.fileno()
        while b"\n" not in buf:
            left = deadline - time.monotonic()
            assert left > 0, "capture not ready: " + "".join(self.err)
            r, _, _ = select.select([fd], [], [], left)
            if r:
                chunk = os.read(fd, 4096)
                assert chunk, "capture exited: " + "".join(self.err)
                buf += chunk
        return buf.split(b"\n", 1)[0].decode()

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        rc = self.proc.wait(timeout=STOP_TIMEOUT)
        self.errt.join(timeout=STOP_TIMEOUT)
        text = "".join(self.err)
        assert rc == 0, f"capture exited {rc}: {text}"
        assert sanitizer_clean(text) is None, text

    # -- HTTP ----------------------------------------------------------
    def http(self, method, path, body=None, timeout=10):
        req = urllib.request.Request(
            f"http://127.0.0.1:{self.http_port}{path}", method=method,
            data=body)
        try:
            with urllib.request.urlopen(req, timeout=timeout) as r:
                return r.status, r.headers, r.read()
        except urllib.error.HTTPError as e:
            return e.code, e.headers, e.read()

    def get_json(self, path, want=200, **kw):
        st, hd, body = self.http("GET", path, **kw)
        assert st == want, (path, st, body)
        assert hd["Content-Type"] == "application/json"
        return json.loads(body)

    def messages(self, query=""):
        return self.get_json("/api/messages" + query)

    def put_faults(self, **faults):
        st, _, body = self.http("PUT", "/api/faults",
                                json.dumps(faults).encode())
        assert st == 200, body
        return json.loads(body)

    # -- SMTP ----------------------------------------------------------
    def smtp(self):
        return smtplib.SMTP("127.0.0.1", self.smtp_port, timeout=10)

    def send(self, to, subject="hello", body="hi\r\n", frm="app@example.test",
             extra=""):
        msg = (f"From: {frm}\r\nTo: {', '.join(to)}\r\nSubject: {subject}"
               f"\r\nDate: Fri, 4 Dec 2026 23:30:00 +0000\r\n"
               f"Message-ID: <{time.monotonic_ns()}@example.test>\r\n"
               f"{extra}\r\n{body}")
        with self.smtp() as s:
            s.sendmail(frm, to, msg)
        return msg


@pytest.fixture
def cap():
    c = Capture()
    yield c
    c.stop()


def test_smtplib_starttls_auth_stored_as_sent(cap):
    """STARTTLS with the generated certificate, AUTH with any login; the
    API shows the envelope, the decoded subject and the exact bytes."""
    msg = ("From: App <app@example.test>\r\nTo: bob@example.test\r\n"
           "Subject: =?UTF-8?B?UsOpc2V0?= your password\r\n\r\n"
           "line one\r\n.starts with a dot\r\n")
    with cap.smtp() as s:
        s.ehlo("client.test")
        for kw in ("pipelining", "size", "8bitmime", "smtputf8",
                   "enhancedstatuscodes", "starttls"):
            assert s.has_extn(kw), kw
        assert "PLAIN" in s.esmtp_features["auth"]
        s.starttls()
        s.ehlo("client.test")
        assert not s.has_extn("starttls")
        s.login("anyone", "any password")
        s.sendmail("app@example.test", ["bob@example.test",
                                        "Carol@Example.test"], msg)
    lst = cap.messages()
    assert lst["total"] == 1
    m = lst["messages"][0]
    assert m["from"] == "app@example.test"
    assert m["to"] == ["bob@example.test", "Carol@Example.test"]
    assert m["tls"] is True and m["auth"] == "anyone"
    assert m["helo"] == "client.test" and m["client"] == "127.0.0.1"
    assert m["subject"] == "R\u00e9set your password"
    assert m["header_from"] == "App <app@example.test>"
    assert m["size"] == len(msg.encode())
    st, hd, raw = cap.http("GET", f"/api/messages/{m['id']}/raw")
    assert st == 200 and raw == msg.encode()   # dot-unstuffed, as sent
    assert hd["Content-Type"] == "message/rfc822"
    full = cap.get_json(f"/api/messages/{m['id']}")
    assert ["Subject", "=?UTF-8?B?UsOpc2V0?= your password"] in \
        full["headers"]
    assert full["text"] == "line one\r\n.starts with a dot\r\n"
    assert full["html"] is False


def test_tern_send_html_and_attachment(cap, tmp_path):
    """`tern send` with a text, an HTML alternative and an attachment."""
    html = tmp_path / "m.html"
    html.write_text("<p>Hello <b>Bob</b></p>")
    att = tmp_path / "report.csv"
    att.write_bytes(b"a,b\r\n1,2\r\n")
    r = subprocess.run(
        [TERN_BIN, "send", "--server", f"127.0.0.1:{cap.smtp_port}",
         "--from", "app@example.test", "--to", "bob@example.test",
         "--subject", "Your report", "--html", str(html),
         "--attach", str(att)],
        input=b"Hello Bob\n", capture_output=True, timeout=CLI_TIMEOUT,
        env=child_env())
    assert r.returncode == 0, r.stderr
    m = cap.get_json("/api/wait?to=bob%40example.test&timeout=10")
    assert m["subject"] == "Your report"
    full = cap.get_json(f"/api/messages/{m['id']}")
    assert full["text"].replace("\r\n", "\n").startswith("Hello Bob")
    assert full["html"] is True
    st, hd, body = cap.http("GET", f"/api/messages/{m['id']}/html")
    assert st == 200 and b"Hello <b>Bob</b>" in body
    assert hd["Content-Type"] == "text/html; charset=utf-8"
    assert hd["Content-Security-Policy"] == HTML_CSP
    assert hd["X-Content-Type-Options"] == "nosniff"
    atts = [p for p in full["parts"] if p["filename"] == "report.csv"]
    assert len(atts) == 1 and atts[0]["attachment"] is True
    st, hd, body = cap.http(
        "GET", f"/api/messages/{m['id']}/parts/{atts[0]['index']}")
    assert st == 200 and body == b"a,b\r\n1,2\r\n"
    assert hd["Content-Disposition"] == 'attachment; filename="report.csv"'


def test_max_messages_drops_the_oldest():
    c = Capture("--max-messages", "3")
    try:
        for i in range(5):
            c.send(["bob@example.test"], subject=f"n{i}")
        lst = c.messages()
        assert lst["total"] == 3
        assert [m["subject"] for m in lst["messages"]] == ["n4", "n3", "n2"]
        first = lst["messages"][-1]["id"]
        assert c.http("GET", "/api/messages/1")[0] == 404
        assert int(first) == 3
    finally:
        c.stop()


def test_wait_answers_as_soon_as_stored():
    """The wait is held first (its request is in the log), the mail sent
    after: it answers at once (well before its 20 s timeout), and only
    for the matching message."""
    cap = Capture("-v")
    got = {}

    def wait():
        got["m"] = cap.get_json(
            "/api/wait?to=carol%40example.test&subject=welcome&timeout=20",
            timeout=30)
        got["at"] = time.monotonic()

    try:
        th = threading.Thread(target=wait)
        th.start()
        cap.wait_log('target="/api/wait?to=carol')
        cap.send(["bob@example.test"], subject="Welcome")  # other rcpt
        cap.send(["carol@example.test"], subject="Invoice")  # other subject
        assert "m" not in got
        cap.send(["carol@example.test"], subject="Welcome aboard")
        sent = time.monotonic()
        th.join(timeout=30)
        assert not th.is_alive()
        assert got["m"]["subject"] == "Welcome aboard"
        assert got["at"] - sent < 2.0 * TIME_SCALE
    finally:
        cap.stop()


def test_wait_times_out_with_408(cap):
    cap.send(["bob@example.test"])
    t0 = time.monotonic()
    st, _, body = cap.http("GET", "/api/wait?since=1&timeout=1")
    took = time.monotonic() - t0
    assert st == 408 and json.loads(body) == {"error": "timeout"}
    assert 0.9 <= took < 5 * TIME_SCALE
    assert cap.http("GET", "/api/wait?timeout=301")[0] == 400


def test_search_and_delete(cap):
    cap.send(["bob@example.test"], subject="Reset your password")
    cap.send(["alice@example.test", "BOB@example.test"], subject="Invoice")
    cap.send(["carol@example.test"], subject="password changed")
    by_to = cap.messages("?to=bob%40example.test")
    assert by_to["total"] == 2
    assert [m["subject"] for m in by_to["messages"]] == [
        "Invoice", "Reset your password"]
    assert cap.messages("?to=bob%40example")["total"] == 0  # whole address
    by_subj = cap.messages("?subject=PASSWORD")
    assert {m["subject"] for m in by_subj["messages"]} == {
        "Reset your password", "password changed"}
    lim = cap.messages("?limit=1")
    assert lim["total"] == 3 and len(lim["messages"]) == 1
    assert cap.http("GET", "/api/messages?limit=x")[0] == 400
    one = by_to["messages"][0]["id"]
    st, _, body = cap.http("DELETE", f"/api/messages/{one}")
    assert st == 200 and json.loads(body) == {"deleted": 1}
    assert cap.http("DELETE", f"/api/messages/{one}")[0] == 404
    assert cap.http("GET", f"/api/messages/{one}")[0] == 404
    st, _, body = cap.http("DELETE", "/api/messages")
    assert st == 200 and json.loads(body) == {"deleted": 2}
    assert cap.messages()["total"] == 0
    assert cap.http("GET", "/api/nothing")[0] == 404
    assert cap.http("PUT", "/api/messages", b"{}")[0] == 405


def test_dir_and_size_limit(tmp_path):
    c = Capture("--dir", str(tmp_path), "--max-size", "2000")
    try:
        msg = c.send(["bob@example.test"], subject="kept")
        (mid,) = [m["id"] for m in c.messages()["messages"]]
        assert (tmp_path / f"{mid}.eml").read_bytes() == msg.encode()
        big = "Subject: big\r\n\r\n" + "x" * 3000 + "\r\n"
        with c.smtp() as s:      # smtplib says SIZE=: refused at MAIL
            with pytest.raises(smtplib.SMTPSenderRefused) as e:
                s.sendmail("a@example.test", ["b@example.test"], big)
            assert e.value.smtp_code == 552
        with Raw("127.0.0.1", c.smtp_port) as r:   # no SIZE=: at the dot
            assert r.reply().code == 220
            for line in ("EHLO client.test", "MAIL FROM:<a@example.test>",
                         "RCPT TO:<b@example.test>"):
                assert r.cmd(line).code == 250
            assert r.cmd("DATA").code == 354
            rep = r.cmd(big + ".")
            assert rep.code == 552 and rep.enh == "5.3.4"
        assert c.messages()["total"] == 1
        c.http("DELETE", "/api/messages")
        assert not (tmp_path / f"{mid}.eml").exists()
    finally:
        c.stop()


def test_rcpt_tempfail_share_is_binomial():
    """30% of 1,000 RCPTs (10 messages x 100, pipelined) get 451: the
    count lies in the 99.9% interval of Binomial(1000, 0.3), 300 +- 47."""
    c = Capture("--rcpt-tempfail", "30", "--seed", "20261204")
    try:
        refused = accepted = 0
        with Raw("127.0.0.1", c.smtp_port) as r:
            assert r.reply().code == 220
            assert r.cmd("EHLO client.test").code == 250
            for i in range(10):
                cmds = [f"MAIL FROM:<app@example.test>"]
                cmds += [f"RCPT TO:<u{i}-{k}@example.test>"
                         for k in range(100)]
                cmds.append("RSET")
                r.send("".join(x + "\r\n" for x in cmds))
                reps = r.replies(len(cmds))
                assert reps[0].code == 250 and reps[-1].code == 250
                for rep in reps[1:-1]:
                    if rep.code == 451:
                        assert rep.text == ("4.3.0 capture: injected "
                                            "temporary failure"), rep.text
                        refused += 1
                    else:
                        assert rep.code == 250, rep
                        accepted += 1
        assert refused + accepted == 1000
        assert 253 <= refused <= 347, refused
    finally:
        c.stop()


def test_faults_api_msg_permfail_and_delay(cap):
    assert cap.get_json("/api/faults") == {
        "rcpt_tempfail": 0, "rcpt_permfail": 0, "msg_tempfail": 0,
        "msg_permfail": 0, "delay_ms": 0, "drop_mid_data": 0}
    assert cap.http("PUT", "/api/faults", b'{"msg_permfail":101}')[0] == 400
    assert cap.http("PUT", "/api/faults", b'{"bogus":1}')[0] == 400
    f = cap.put_faults(msg_permfail=100)
    assert f["msg_permfail"] == 100 and f["rcpt_tempfail"] == 0
    with cap.smtp() as s:
        with pytest.raises(smtplib.SMTPDataError) as e:
            s.sendmail("a@example.test", ["b@example.test"],
                       "Subject: no\r\n\r\nx\r\n")
        assert e.value.smtp_code == 554
        assert b"5.6.0 capture: injected permanent failure" in \
            e.value.smtp_error
    assert cap.messages()["total"] == 0
    cap.put_faults(msg_permfail=0, delay_ms=300)
    with Raw("127.0.0.1", cap.smtp_port) as r:
        t0 = time.monotonic()
        assert r.reply().code == 220
        assert time.monotonic() - t0 >= 0.29
        t0 = time.monotonic()
        r.send("NOOP\r\nNOOP\r\n")          # pipelined: each reply waits
        assert [x.code for x in r.replies(2)] == [250, 250]
        assert time.monotonic() - t0 >= 0.58


def test_drop_mid_data_stores_nothing(cap):
    cap.send(["bob@example.test"], subject="before")
    cap.put_faults(drop_mid_data=100)
    with Raw("127.0.0.1", cap.smtp_port) as r:
        assert r.reply().code == 220
        for line in ("EHLO client.test", "MAIL FROM:<a@example.test>",
                     "RCPT TO:<b@example.test>"):
            assert r.cmd(line).code == 250
        assert r.cmd("DATA").code == 354
        r.send("Subject: half\r\n\r\n" + "x" * 500 + "\r\n")
        assert r.closed_by_peer(timeout=5 * TIME_SCALE)
    lst = cap.messages()
    assert lst["total"] == 1 and lst["messages"][0]["subject"] == "before"


def test_non_loopback_needs_allow_remote():
    r = subprocess.run([TERN_BIN, "capture", "--smtp", "0.0.0.0:0",
                        "--http", "127.0.0.1:0"],
                       capture_output=True, timeout=CLI_TIMEOUT,
                       env=child_env())
    assert r.returncode == 1
    assert b"--allow-remote" in r.stderr and r.stdout == b""


def rsa_key_and_record():
    """A 2048-bit RSA key (PEM) and its DKIM TXT value."""
    import base64
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM,
                            serialization.PrivateFormat.TraditionalOpenSSL,
                            serialization.NoEncryption())
    spki = key.public_key().public_bytes(
        serialization.Encoding.DER,
        serialization.PublicFormat.SubjectPublicKeyInfo)
    return pem, "v=DKIM1; k=rsa; p=" + base64.b64encode(spki).decode()


def test_dkim_fail_problem_only_when_the_signature_breaks():
    """dkimpy signs; the key is in a DNS server of the test's own. The
    message as signed has no dkim-fail; with its body changed, it has."""
    import dkim
    from dnstest import DnsServer, Zone
    pem, record = rsa_key_and_record()
    zone = Zone({})
    zone.add("s1._domainkey.example.org", "TXT", record)
    dns = DnsServer(zone)
    c = Capture("--dns-server", f"127.0.0.1:{dns.port}")
    try:
        msg = (b"From: app@example.org\r\nTo: bob@example.test\r\n"
               b"Subject: signed\r\nDate: Fri, 4 Dec 2026 23:30:00 +0000\r\n"
               b"Message-ID: <s1@example.org>\r\n\r\nHello Bob\r\n")
        sig = dkim.sign(msg, b"s1", b"example.org", pem,
                        include_headers=[b"from", b"to", b"subject"])
        signed = sig + msg
        with c.smtp() as s:
            s.sendmail("app@example.org", ["bob@example.test"], signed)
            s.sendmail("app@example.org", ["bob@example.test"],
                       signed.replace(b"Hello Bob", b"Hello Eve"))
        good, bad = reversed(c.messages()["messages"])
        rules = lambda m: [p["rule"] for p in c.get_json(
            f"/api/messages/{m['id']}")["problems"]]
        assert "dkim-fail" not in rules(good), rules(good)
        probs = c.get_json(f"/api/messages/{bad['id']}")["problems"]
        dk = [p for p in probs if p["rule"] == "dkim-fail"]
        assert len(dk) == 1 and dk[0]["ref"] == "RFC 6376"
        assert dk[0]["detail"].startswith("d=example.org s=s1: fail"), dk
        assert bad["problems"] == len(probs)
        assert "s1._domainkey.example.org" in dns.queries
    finally:
        c.stop()
        dns.close()


def test_problems_listed_with_their_rule(cap):
    """A message without Date and Message-ID, with a bare LF, shows those
    problems; a well-formed one shows none (msg/lint.h's rules)."""
    cap.send(["bob@example.test"], subject="clean")
    with Raw("127.0.0.1", cap.smtp_port) as r:
        assert r.reply().code == 220
        for line in ("EHLO client.test", "MAIL FROM:<a@example.test>",
                     "RCPT TO:<b@example.test>"):
            assert r.cmd(line).code == 250
        assert r.cmd("DATA").code == 354
        rep = r.cmd("From: a@example.test\r\nSubject: broken\r\n\r\n"
                    "one\ntwo\r\n.")
        assert rep.code == 250, rep
    broken, clean = cap.messages()["messages"]
    assert clean["problems"] == 0
    got = {p["rule"]: p["ref"] for p in cap.get_json(
        f"/api/messages/{broken['id']}")["problems"]}
    assert got.get("no-date") == "RFC 5322 3.6"
    assert got.get("no-message-id") == "RFC 5322 3.6.4"
    assert "bare-lf" in got
    assert broken["problems"] == len(got)


def test_page_files_and_stop_answers_held_waits():
    """/ and /page/NAME serve the compiled-in page with its CSP; a stop
    answers a held wait (503) instead of cutting it."""
    c = Capture("-v")
    st, hd, body = c.http("GET", "/")
    assert st == 200 and hd["Content-Type"] == "text/html; charset=utf-8"
    assert "script-src 'self'" in hd["Content-Security-Policy"]
    assert b"<html" in body
    st, hd, _ = c.http("GET", "/page/app.js")
    assert st == 200 and hd["Content-Type"].startswith("text/javascript")
    assert c.http("GET", "/page/nope.js")[0] == 404
    assert c.http("GET", "/page/..%2fx")[0] == 404
    got = {}
    th = threading.Thread(target=lambda: got.update(
        r=c.http("GET", "/api/wait?timeout=60", timeout=30)))
    th.start()
    try:
        c.wait_log('target="/api/wait?timeout=60"')
    finally:
        c.stop()
    th.join(timeout=30)
    assert got["r"][0] == 503
    assert json.loads(got["r"][2]) == {"error": "shutting down"}


def test_wait_of_a_gone_client_is_dropped():
    """A client that gives up on a held /api/wait (a page reloaded, a
    search typed, a test's own socket timeout) frees its place at once:
    256 waits held (the cap: the next gets 503), their clients hang up,
    and a new wait is held again (408 after its 1 s) long before the
    gone ones' 300 s."""
    c = Capture("-v")
    socks = []
    try:
        for i in range(256):
            s = socket.create_connection(("127.0.0.1", c.http_port))
            socks.append(s)
            s.sendall(f"GET /api/wait?to=nobody%40x.test&timeout=300&n={i} "
                      "HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
        for i in range(256):
            c.wait_log(f'&n={i}"')
        assert c.http("GET", "/api/wait?timeout=1")[0] == 503
        for s in socks:
            s.close()
        socks = []
        deadline = time.monotonic() + 10 * TIME_SCALE
        with c.cond:     # each gone one is logged (-v)
            while sum("event=capture_wait_gone" in ln for ln in c.err) < 256:
                left = deadline - time.monotonic()
                assert left > 0, "the gone clients' waits are still held"
                c.cond.wait(left)
        assert c.http("GET", "/api/wait?timeout=1")[0] == 408
    finally:
        for s in socks:
            s.close()
        c.stop()


def test_auth_line_too_long_ends_the_exchange(cap):
    """A response line over the limit ends the AUTH exchange, as in tern
    serve: the next line is a command again, not taken as credentials."""
    with Raw("127.0.0.1", cap.smtp_port) as r:
        assert r.reply().code == 220
        assert r.cmd("EHLO client.test").code == 250
        assert r.cmd("AUTH LOGIN").code == 334
        assert r.cmd("A" * 13000).code == 500
        assert r.cmd("MAIL FROM:<a@example.test>").code == 250


def test_auth_line_as_long_as_rfc_4954_allows(cap):
    """RFC 4954 4: an AUTH command and its responses may be 12288 octets
    (a 500-byte password: 680 in base64), and tern serve reads them so; other
    commands keep the 512 of RFC 5321."""
    cred = base64.b64encode(b"\0user\0" + b"p" * 500).decode()  # 680
    with Raw("127.0.0.1", cap.smtp_port) as r:
        assert r.reply().code == 220
        assert r.cmd("EHLO client.test").code == 250
        assert r.cmd("AUTH PLAIN " + cred).code == 235
        assert r.cmd("NOOP " + "x" * 600).code == 500
    with Raw("127.0.0.1", cap.smtp_port) as r:
        assert r.reply().code == 220
        assert r.cmd("EHLO client.test").code == 250
        assert r.cmd("AUTH PLAIN").code == 334
        assert r.cmd(cred).code == 235


def test_foreign_host_refused_dns_rebinding(cap):
    """A web page elsewhere whose name an attacker pointed at 127.0.0.1
    (DNS rebinding) is same-origin with the API in the browser: its
    requests carry its own Host, and get 403, so it can neither read the
    mail nor delete it or change the faults. Loopback literals,
    localhost and NAME.localhost (RFC 6761) work; so does no Host."""
    cap.send(["bob@example.test"])
    port = cap.http_port
    for host in (f"rebind.attacker.example:{port}", "attacker.example",
                 f"127.0.0.1.nip.io:{port}", f"localhost.attacker.example"):
        for method, path in (("GET", "/api/messages"), ("GET", "/"),
                             ("DELETE", "/api/messages")):
            with socket.create_connection(("127.0.0.1", port),
                                          timeout=10) as s:
                s.sendall(f"{method} {path} HTTP/1.1\r\nHost: {host}\r\n"
                          "Connection: close\r\n\r\n".encode())
                head = s.makefile("rb").readline()
            assert head.split()[1] == b"403", (host, method, head)
    assert cap.messages()["total"] == 1
    for host in (f"127.0.0.1:{port}", f"localhost:{port}", "LOCALHOST",
                 f"app.localhost:{port}", f"127.1.2.3:{port}", None):
        with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
            hdr = f"Host: {host}\r\n" if host is not None else ""
            s.sendall(f"GET /api/messages HTTP/1.0\r\n{hdr}\r\n".encode())
            head = s.makefile("rb").readline()
        assert head.split()[1] == b"200", (host, head)


def test_auth_login_asks_for_the_password(cap):
    """AUTH LOGIN's second challenge is "Password:" (as tern serve's),
    not an empty one."""
    with Raw("127.0.0.1", cap.smtp_port) as r:
        assert r.reply().code == 220
        assert r.cmd("EHLO client.test").code == 250
        rep = r.cmd("AUTH LOGIN")
        assert (rep.code, rep.lines) == (334, ["VXNlcm5hbWU6"])
        rep = r.cmd(base64.b64encode(b"user").decode())
        assert (rep.code, rep.lines) == (334, ["UGFzc3dvcmQ6"])
        assert r.cmd(base64.b64encode(b"pass").decode()).code == 235


def test_http_connections_counted_in_a_burst():
    """Connections the listener accepts in one go (the kernel's backlog
    after a pause) are all counted, so the cap of 512 holds: five bursts
    of 120 (the process stopped while they queue) reach it. Counting
    only 64 of each burst, capture let the others run uncounted."""
    c = Capture("-v")
    socks = []
    try:
        for burst in range(5):
            c.proc.send_signal(signal.SIGSTOP)
            try:
                for _ in range(120):   # queued by the kernel: backlog 128
                    socks.append(socket.create_connection(
                        ("127.0.0.1", c.http_port), timeout=10))
            finally:
                c.proc.send_signal(signal.SIGCONT)
            if burst < 4:   # accepted (FIFO) before this one is answered
                assert c.http("GET", "/api/faults")[0] == 200
        c.wait_log("event=capture_http_busy connections=512")
    finally:
        for s in socks:
            s.close()
        c.stop()
