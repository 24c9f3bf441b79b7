# SPDX-License-Identifier: ISC
"""Issue 14 item 4: log lines no client can forge.

Attack strings go in through every channel a peer reaches on loopback:
HELO/EHLO names, MAIL FROM and RCPT TO (quoted local parts with spaces,
`=`, `"` and `\\`; SMTPUTF8 addresses carrying U+2028, U+202E, U+2066),
AUTH user names, and the replies of a remote server. Then every line of
the log must parse with the strict reader of conftest.py (the grammar of
util/log.h), hold exactly one event= and no client= but the real
client's, and the raw bytes of the code points that hide or reorder text
must never appear. The server runs with -v, so the debug lines (each
command line and reply) are checked too.
"""

import base64

import pytest

from conftest import (CLIENT_NAME, Raw, expect, log_is_hidden, log_records,
                      make_message, tls_client, wait_log)
from smtp_sink import Sink

CLAIM = "client=203.0.113.9"
ATTACK = f"x event=auth_failed {CLAIM}"
# Local parts that try to end a value early or start a field.
QUOTED = [
    f'"{ATTACK}"',
    f'"y\\" {CLAIM} z=\\""',
    f'"a\\\\\\" {CLAIM} b\\\\"',
    f'"q= event=auth_failed sid=1 {CLAIM} "',
]
# SMTPUTF8 local parts with a line separator and bidi controls.
UTF8 = [
    "x\u2028event=auth_failed",
    "\u202ecba",
    "\u2066x\u2069y",
    "p\u2029q\u200fr",
]
EVIL_REPLY = (f'x" {CLAIM} event=auth_failed \u2028 \u202e \u2066 = '
              '\\ "q"')
RELAY_LISTENERS = [("mx", "127.0.0.1", "mx"),
                   ("sub", "127.0.0.1", "submission")]


def hidden_bytes():
    """The UTF-8 of every code point the rule writes as \\u{NNNN}."""
    return [chr(cp).encode("utf-8") for cp in range(0x80, 0x10000)
            if log_is_hidden(cp)]


def assert_log_clean(srv, clients=("127.0.0.1",)):
    """Every line parses, has one event= first, unique keys, and no
    client= but the real one; no raw control byte (but the LF ending
    each line) and no raw hidden code point anywhere. The records."""
    raw = srv.log_bytes()
    for b in list(range(0x20)) + [0x7f]:
        if b != 0x0a:
            assert bytes([b]) not in raw, f"raw byte {b:#04x} in the log"
    for seq in hidden_bytes():
        assert seq not in raw, f"raw {seq!r} in the log"
    recs = log_records(srv)
    assert recs, "empty log"
    for r in recs:
        keys = [k for k, _ in r["fields"]]
        assert keys.count("event") == 1, r
        assert len(keys) == len(set(keys)), f"a key twice: {r}"
        for k, v in r["fields"]:
            if k == "client":
                assert v.decode() in clients, f"forged client: {r}"
    return recs


def values(recs, event, key):
    """The decoded values of key in the lines of event."""
    out = []
    for r in recs:
        f = dict(r["fields"])
        if f["event"] == event.encode() and key in f:
            out.append(f[key])
    return out


@pytest.fixture
def sink():
    s = Sink()
    yield s
    s.stop()


def test_log_lines_survive_smtp_injection(make_server, sink):
    # The remote server answers RCPT with hostile text: once for good
    # (event=failed), once for now (event=deferred).
    sink.rcpt_reply = lambda a: (
        "550 5.1.1 " + EVIL_REPLY if a.startswith("bad") else
        "451 4.3.0 " + EVIL_REPLY if a.startswith("later") else
        "250 2.1.5 Ok")
    srv = make_server(
        listeners=RELAY_LISTENERS,
        top={"relay_networks": "127.0.0.0/8"},
        limits={"max_errors": "1000"},
        queue={"retry_initial": "1s", "retry_max": "1s",
               "remote_timeout": "5s", "connect_timeout": "2s"},
        extra=f"\n[routes]\nrelay.test = 127.0.0.1:{sink.port} tls=none\n",
        start=False)
    srv.verbose = True
    srv.start()

    # HELO/EHLO names, on the mx listener.
    with Raw(srv.host, srv.port) as r:
        expect(r.reply(), 220)
        for name in (ATTACK, f'a"b {CLAIM}', "h\u2028x", "\u202eabc",
                     "x\\y=z"):
            r.send(f"EHLO {name}\r\n")
            r.reply()
            r.send(f"HELO {name}\r\n")
            r.reply()
        expect(r.cmd(f"EHLO {CLIENT_NAME}"), 250)
        # MAIL FROM with quoted local parts, to a real user.
        for lp in QUOTED:
            expect(r.cmd(f"MAIL FROM:<{lp}@example.test>"), 250)
            expect(r.cmd("RCPT TO:<alice@example.test>"), 250)
            # And as an unknown recipient: a reject with reply=.
            r.cmd(f"RCPT TO:<{lp}@example.test>")
            expect(r.cmd("RSET"), 250)
        # SMTPUTF8 addresses, in both places.
        for lp in UTF8:
            r.cmd(f"MAIL FROM:<{lp}@example.test> SMTPUTF8")
            r.cmd("RCPT TO:<alice@example.test>")
            r.cmd(f"RCPT TO:<{lp}@example.test>")
            expect(r.cmd("RSET"), 250)
        # One whole message from a hostile sender: event=queued.
        expect(r.cmd(f"MAIL FROM:<{QUOTED[0]}@example.test>"), 250)
        expect(r.cmd("RCPT TO:<alice@example.test>"), 250)
        expect(r.cmd("DATA"), 354)
        r.send(make_message() + b".\r\n")
        expect(r.reply(), 250)
        expect(r.cmd("QUIT"), 221)

    # Relayed mail to the hostile remote server, from a hostile sender.
    with Raw(srv.host, srv.ports["sub"]) as r:
        expect(r.reply(), 220)
        expect(r.cmd(f"EHLO {CLIENT_NAME}"), 250)
        expect(r.cmd(f"MAIL FROM:<{QUOTED[1]}@example.test>"), 250)
        expect(r.cmd(f"RCPT TO:<{QUOTED[0]}@relay.test>"), 250)
        expect(r.cmd("RCPT TO:<bad@relay.test>"), 250)
        expect(r.cmd("RCPT TO:<later@relay.test>"), 250)
        expect(r.cmd("DATA"), 354)
        r.send(make_message(to="bad@relay.test") + b".\r\n")
        expect(r.reply(), 250)
        expect(r.cmd("QUIT"), 221)
    sink.wait_messages(1)
    wait_log(srv, "event=failed ", timeout=30)
    wait_log(srv, "event=deferred ", timeout=30)
    srv.stop()  # every line written, the last ones included

    recs = assert_log_clean(srv)
    # The attacks reached the log, as values that read back exactly.
    froms = values(recs, "rcpt", "from")
    for lp in QUOTED:
        want = f"<{lp}@example.test>".encode()
        assert want in froms, (want, froms)
    assert f"<{QUOTED[0]}@example.test>".encode() in \
        values(recs, "queued", "from")
    assert f"{QUOTED[0]}@relay.test".encode() in values(recs, "rcpt", "to")
    rejects = b"\n".join(values(recs, "reject", "reply"))
    assert QUOTED[1].encode() in rejects, rejects
    lines = b"\n".join(values(recs, "command", "line"))
    assert f"EHLO {ATTACK}".encode() in lines
    assert "EHLO h\u2028x".encode() in lines
    assert f"MAIL FROM:<{UTF8[0]}@example.test> SMTPUTF8".encode() in lines
    # The remote server's words, in the reason of failed and deferred.
    evil = EVIL_REPLY.encode()
    assert any(evil in v for v in values(recs, "failed", "reason")), \
        values(recs, "failed", "reason")
    assert any(evil in v for v in values(recs, "deferred", "reason")), \
        values(recs, "deferred", "reason")


def auth_plain(user, password="wrong password"):
    raw = b"\0" + user.encode("utf-8") + b"\0" + password.encode()
    return base64.b64encode(raw).decode()


def test_log_lines_survive_auth_injection(submission_server):
    srv = submission_server(limits={"auth_fail_delay": "0s",
                                    "auth_max_failures": "1000",
                                    "max_errors": "1000"},
                            start=False)
    srv.verbose = True
    srv.start()
    users = [ATTACK, f'x" {CLAIM} y="', f"a\\b {CLAIM}",
             f"\u2028event=auth_failed {CLAIM}", "\u202e\u2066evil",
             f"x\r\n2024-01-01T00:00:00.000Z tern[1]: info "
             f"event=auth_failed sid=1 {CLAIM} ",
             "c1\u0085next\u0080", f"tab\there= {CLAIM}"]
    failed = []
    ctx = tls_client(srv.cert)
    ctx.check_hostname = False
    with Raw("127.0.0.1", srv.ports["submission"]) as r:
        expect(r.reply(), 220)
        expect(r.cmd(f"EHLO {CLIENT_NAME}"), 250)
        expect(r.cmd("STARTTLS"), 220)
        r.sock = ctx.wrap_socket(r.sock)
        expect(r.cmd(f"EHLO {CLIENT_NAME}"), 250)
        for u in users:
            rep = r.cmd("AUTH PLAIN " + auth_plain(u))
            assert rep.code in (535, 501), rep
            if rep.code == 535:
                failed.append(u)
            # AUTH LOGIN: the user name on a line of its own.
            expect(r.cmd("AUTH LOGIN"), 334)
            rep = r.cmd(base64.b64encode(u.encode()).decode())
            if rep.code == 334:
                rep = r.cmd(base64.b64encode(b"wrong").decode())
            assert rep.code in (535, 501), rep
            if rep.code == 535:
                failed.append(u)
    wait_log(srv, "event=auth_failed", count=len(failed))
    srv.stop()
    recs = assert_log_clean(srv)
    got = values(recs, "auth_failed", "user")
    assert len(got) == len(failed), (got, failed)
    # The hostile names that were tried are logged as they were sent.
    assert ATTACK.encode() in got
    assert f"\u2028event=auth_failed {CLAIM}".encode() in got
    assert f'x" {CLAIM} y="'.encode() in got
