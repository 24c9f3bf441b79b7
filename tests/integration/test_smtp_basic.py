# SPDX-License-Identifier: ISC
"""SMTP commands and replies (RFC 5321, 2034/3463 enhanced status codes)."""

import signal
import socket
import time

import pytest

from conftest import (CLIENT_NAME, Raw, expect, header_block, ipv6_available,
                      make_message)


def test_greeting_and_ehlo_extensions(server):
    with server.raw(ehlo=False) as r:
        # The 220 was read by raw(); EHLO lists every extension on its
        # own 250- line (RFC 5321 4.1.1.1).
        rep = expect(r.cmd(f"EHLO {CLIENT_NAME}"), 250)
        assert len(rep.lines) >= 7, rep
        keywords = [ln.split(" ")[0].upper() for ln in rep.lines[1:]]
        for ext in ("PIPELINING", "8BITMIME", "ENHANCEDSTATUSCODES",
                    "SMTPUTF8", "CHUNKING", "SIZE"):
            assert ext in keywords, f"{ext} not advertised: {rep.lines}"
        size = [ln for ln in rep.lines[1:] if ln.upper().startswith("SIZE")]
        # 35M: binary or decimal mega, as long as it is the limit
        assert size[0].split(" ")[1] in (str(35 << 20), "35000000"), size
        expect(r.cmd("QUIT"), 221, "2.0.0")


def test_helo_then_mail(server):
    with server.raw(ehlo=False) as r:
        expect(r.cmd(f"HELO {CLIENT_NAME}"), 250)
        expect(r.cmd("MAIL FROM:<a@remote.example>"), 250)
        expect(r.cmd("RCPT TO:<alice@example.test>"), 250)


@pytest.mark.parametrize("line,code,enh", [
    ("NOOP", 250, "2.0.0"),
    ("noop", 250, "2.0.0"),
    ("NOOP with an argument", 250, "2.0.0"),
    ("RSET", 250, "2.0.0"),
    ("VRFY alice@example.test", 252, None),
    ("VRFY nobody@example.test", 252, None),
    ("HELP", 214, None),
    ("FOO", 500, "5.5.1"),
    ("MAILFROM:<a@b>", 500, "5.5.1"),
    ("", 500, "5.5.1"),
    ("\x01\x02\x03", 500, "5.5.1"),
    ("EHLO", 501, None),
    ("HELO", 501, None),
    ("MAIL FROM:<a@remote.example>\x00junk", 501, None),
], ids=["noop", "noop-lower", "noop-arg", "rset", "vrfy-user",
        "vrfy-nobody", "help", "unknown", "glued-verb", "empty", "binary",
        "ehlo-no-arg", "helo-no-arg", "nul-after-address"])
def test_simple_commands(server, line, code, enh):
    with server.raw() as r:
        rep = expect(r.cmd(line), code)
        if enh:
            assert rep.enh == enh, rep
        # The session survives every one of these.
        expect(r.cmd("NOOP"), 250, "2.0.0")


def test_vrfy_discloses_nothing(server):
    with server.raw() as r:
        a = expect(r.cmd("VRFY alice@example.test"), 252)
        b = expect(r.cmd("VRFY nobody@example.test"), 252)
        assert a.text == b.text, (a, b)


def test_quit(server):
    with server.raw() as r:
        expect(r.cmd("QUIT"), 221, "2.0.0")
        assert r.closed_by_peer(), "connection still open after QUIT"


@pytest.mark.parametrize("steps", [
    [("RCPT TO:<alice@example.test>", 503)],
    [("DATA", 503)],
    [("MAIL FROM:<a@remote.example>", 250), ("DATA", 503)],
    [("MAIL FROM:<a@remote.example>", 250),
     ("MAIL FROM:<b@remote.example>", 503)],
    [("MAIL FROM:<a@remote.example>", 250), ("RSET", 250),
     ("RCPT TO:<alice@example.test>", 503)],
    # RFC 3030 2: a refused BDAT's chunk is still read and dropped, so
    # the chunk bytes follow the command before the reply.
    [("BDAT 3 LAST\r\nxyz", 503)],
    [("MAIL FROM:<a@remote.example>", 250), ("BDAT 3\r\nxyz", 503)],
], ids=["rcpt-before-mail", "data-before-mail", "data-before-rcpt",
        "nested-mail", "rcpt-after-rset", "bdat-before-mail",
        "bdat-before-rcpt"])
def test_out_of_sequence(server, steps):
    with server.raw() as r:
        for line, code in steps:
            r.send(line if "\r\n" in line else line + "\r\n")
            rep = expect(r.reply(), code)
            if code == 503:
                assert rep.enh == "5.5.1", rep
        expect(r.cmd("NOOP"), 250, "2.0.0")


def test_ehlo_mid_transaction_resets(server):
    """RFC 5321 4.1.4: EHLO in a transaction clears it, like RSET."""
    with server.raw() as r:
        expect(r.cmd("MAIL FROM:<a@remote.example>"), 250)
        expect(r.cmd("RCPT TO:<alice@example.test>"), 250)
        expect(r.cmd("EHLO again.example.test"), 250)
        expect(r.cmd("DATA"), 503, "5.5.1")


def test_mail_without_helo(server):
    with server.raw(ehlo=False) as r:
        rep = r.cmd("MAIL FROM:<a@remote.example>")
        # RFC 5321 4.1.4: a server may require EHLO first (503) or not.
        assert rep.code in (250, 503), rep


@pytest.mark.parametrize("rcpt,code,enh", [
    ("<alice@example.test>", 250, "2.1.5"),
    ("<ALICE@EXAMPLE.TEST>", 250, "2.1.5"),
    ("<nobody@example.test>", 550, "5.1.1"),
    ("<alice@example.org>", 550, "5.1.1"),
    ("<alice@remote.example>", 554, "5.7.1"),
    ("<alice@sub.example.test>", 554, "5.7.1"),
    ("<alice@example.test.evil>", 554, "5.7.1"),
    ("<postmaster>", 250, None),
    ("<POSTMASTER>", 250, None),
    ("<PostMaster>", 250, None),
    ("<postmaster@example.test>", 250, None),
    ("<postmaster@example.org>", 250, None),
    ("<postmaster@remote.example>", 554, "5.7.1"),
    ("<@a.example,@b.example:alice@example.test>", 250, None),
    ('<"alice"@example.test>', 250, None),
    ("alice@example.test", 501, None),
    ("<alice@example.test", 501, None),
    ("<>", 501, None),
    ("<alice@@example.test>", 501, None),
], ids=["user", "user-upper", "unknown-user",
        "user-in-other-local-domain", "relay", "relay-subdomain",
        "relay-suffix", "postmaster-bare", "postmaster-upper",
        "postmaster-mixed", "postmaster-dom1", "postmaster-dom2",
        "postmaster-remote", "source-route", "quoted-local", "no-brackets",
        "unclosed", "null-rcpt", "double-at"])
def test_rcpt_policy(server, rcpt, code, enh):
    # 2.1.5 "destination address valid" (RFC 3463 3.2) for accepted RCPTs.
    with server.raw() as r:
        expect(r.cmd("MAIL FROM:<a@remote.example>"), 250)
        rep = r.cmd(f"RCPT TO:{rcpt}")
        if code == 501:
            # syntax errors: any 5xx except "accepted"; 501 5.1.3 ideal
            assert 500 <= rep.code <= 599, rep
        else:
            expect(rep, code, enh)
        expect(r.cmd("NOOP"), 250, "2.0.0")


@pytest.mark.parametrize("sender,code", [
    ("<>", 250),
    ("<a@remote.example>", 250),
    ("<@x.example:a@remote.example>", 250),
    ('<"a b"@remote.example>', 250),
    ("<a@remote.example> SIZE=100", 250),
    ("<a@remote.example> BODY=7BIT", 250),
    ("<a@remote.example> BODY=8BITMIME", 250),
    ("<a@remote.example> FROB=1", 555),
    ("<a@remote.example> SIZE=abc", 501),
    ("<a@remote.example> BODY=9BIT", 501),
    ("a@remote.example", 501),
    ("<a@remote.example", 501),
    ("<a b@remote.example>", 501),
], ids=["null", "plain", "source-route", "quoted", "size", "7bit",
        "8bitmime", "unknown-param", "bad-size", "bad-body",
        "no-brackets", "unclosed", "space-in-local"])
def test_mail_from(server, sender, code):
    with server.raw() as r:
        rep = r.cmd(f"MAIL FROM:{sender}")
        if code == 250:
            expect(rep, 250)
        else:
            assert 500 <= rep.code <= 599, rep
        expect(r.cmd("RSET"), 250, "2.0.0")


def test_delivery_headers(server):
    """Return-Path, Delivered-To, Received with the queue id; LF only."""
    msg = make_message(subject="headers", body="line one\r\nline two\r\n",
                       msgid="hdr@test")
    qid = server.send("sender@remote.example", ["Alice@Example.Test"], msg)
    [data] = server.wait_for_mail("alice@example.test", 1)
    assert b"\r" not in data, "CRLF not converted to LF in the Maildir"
    assert data.startswith(b"Return-Path: <sender@remote.example>\n"
                           b"Delivered-To: alice@example.test\n"
                           b"Received: from "), data[:300]
    hdrs = header_block(data)
    assert hdrs[2][0] == "Received", hdrs
    received = hdrs[2][1]
    assert f"id {qid}" in received, (qid, received)
    assert CLIENT_NAME in received, received
    assert "127.0.0.1" in received, received
    assert data.endswith(msg.replace(b"\r\n", b"\n")), data


def test_null_sender_return_path(server):
    server.send("", ["bob@example.test"], make_message(body="bounce\r\n"))
    [data] = server.wait_for_mail("bob@example.test", 1)
    assert data.startswith(b"Return-Path: <>\n"), data[:200]


def test_postmaster_delivered_to_configured_address(server):
    with server.raw() as r:
        expect(r.cmd("MAIL FROM:<a@remote.example>"), 250)
        expect(r.cmd("RCPT TO:<PostMaster>"), 250)
        expect(r.cmd("DATA"), 354)
        r.send("Subject: to postmaster\r\n\r\nhi\r\n.\r\n")
        expect(r.reply(), 250, "2.0.0")
    [data] = server.wait_for_mail("admin@example.test", 1)
    assert b"to postmaster" in data


def test_source_route_and_quoted_local_part_delivered(server):
    with server.raw() as r:
        expect(r.cmd("MAIL FROM:<@relay.example:a@remote.example>"), 250)
        expect(r.cmd("RCPT TO:<@a,@b:alice@example.test>"), 250)
        expect(r.cmd('RCPT TO:<"bob"@example.test>'), 250)
        expect(r.cmd("DATA"), 354)
        r.send("Subject: routes\r\n\r\nhi\r\n.\r\n")
        expect(r.reply(), 250, "2.0.0")
    [a] = server.wait_for_mail("alice@example.test", 1)
    [b] = server.wait_for_mail("bob@example.test", 1)
    for data in (a, b):
        # the source route is stripped from the reverse path too
        assert data.startswith(b"Return-Path: <a@remote.example>\n"), data
    assert b"Delivered-To: alice@example.test\n" in a
    assert b"Delivered-To: bob@example.test\n" in b


def test_rset_discards_transaction(server):
    with server.raw() as r:
        expect(r.cmd("MAIL FROM:<a@remote.example>"), 250)
        expect(r.cmd("RCPT TO:<alice@example.test>"), 250)
        expect(r.cmd("RSET"), 250, "2.0.0")
        expect(r.cmd("MAIL FROM:<b@remote.example>"), 250)
        expect(r.cmd("RCPT TO:<bob@example.test>"), 250)
        expect(r.cmd("DATA"), 354)
        r.send("Subject: after rset\r\n\r\nx\r\n.\r\n")
        expect(r.reply(), 250, "2.0.0")
    server.wait_for_mail("bob@example.test", 1)
    server.wait_queue_empty()
    assert server.mail("alice@example.test") == []


# RFC 5321 4.5.3.1.4: a command line is at most 512 octets with CRLF.
@pytest.mark.parametrize("total,ok", [(511, True), (512, True),
                                      (513, False), (2000, False)],
                         ids=["limit-1", "limit", "limit+1", "far-over"])
def test_command_line_limit(server, total, ok):
    line = "NOOP " + "x" * (total - len("NOOP ") - 2)
    assert len(line) + 2 == total
    with server.raw() as r:
        rep = r.cmd(line)
        if ok:
            expect(rep, 250, "2.0.0")
        else:
            expect(rep, 500, "5.5.2")
        expect(r.cmd("NOOP"), 250, "2.0.0")


def test_huge_line_does_not_grow_memory(server):
    # 4 MiB without a newline: the server must cap its buffer, answer
    # 500 5.5.2 (or close), and keep serving others.
    with server.raw() as r:
        try:
            r.send(b"NOOP " + b"y" * (4 << 20) + b"\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass
        rep = r.reply_or_eof()
        if rep is not None:
            expect(rep, 500, "5.5.2")
    with server.raw() as r2:
        expect(r2.cmd("NOOP"), 250, "2.0.0")


@pytest.mark.parametrize("kind", ["unknown-command", "unknown-rcpt"])
@pytest.mark.parametrize("nerr", [2, 3, 4], ids=["limit-1", "limit",
                                                 "limit+1"])
def test_error_limit_421(make_server, nerr, kind):
    """After max_errors errors: 421 4.7.0 and close, unprompted. Refused
    recipients count too (address harvesting)."""
    srv = make_server(limits={"max_errors": "3"})
    with srv.raw() as r:
        if kind == "unknown-command":
            line, code, enh = "BOGUS", 500, "5.5.1"
        else:
            expect(r.cmd("MAIL FROM:<h@remote.example>"), 250)
            line, code, enh = "RCPT TO:<nobody@example.test>", 550, "5.1.1"
        replies = []
        for i in range(nerr):
            rep = r.cmd(line)
            replies.append(rep)
            if rep.code == 421:
                break
            expect(rep, code, enh)
            if i + 1 == 3:
                # the third error was answered; the 421 follows at once
                # (the client must not have to send a fourth command)
                replies.append(r.reply_or_eof())
                break
        if nerr < 3:
            assert [x.code for x in replies] == [code] * nerr, replies
            expect(r.cmd("NOOP"), 250, "2.0.0")
            return
        assert [x.code for x in replies[:2]] == [code, code], replies
        expect(replies[-1], 421, "4.7.0")
        assert len(replies) <= 4, replies
        assert r.closed_by_peer(), "still open after 421"


def test_ipv6_listener(make_server):
    if not ipv6_available():
        pytest.skip("::1 unavailable")
    srv = make_server(listeners=[("mx4", "127.0.0.1", "mx"),
                                 ("mx6", "::1", "mx")])
    qid = srv.send("v6@remote.example", ["alice@example.test"],
                   make_message(subject="over v6"), host="::1",
                   port=srv.ports["mx6"])
    [data] = srv.wait_for_mail("alice@example.test", 1)
    assert f"id {qid}".encode() in data
    assert b"::1" in data.split(b"\n\n")[0], data
    # the v4 listener works as well
    with srv.raw(host="127.0.0.1", port=srv.ports["mx4"]) as r:
        expect(r.cmd("NOOP"), 250, "2.0.0")


@pytest.mark.parametrize("n", [2, 3, 4], ids=["limit-1", "limit",
                                              "limit+1"])
def test_connections_per_ip(make_server, n):
    # Loopback is not one of the operator's own networks here (issue 14).
    srv = make_server(limits={"max_connections_per_ip": "3",
                              "own_networks": "none"})
    conns = []
    try:
        for i in range(n):
            c = Raw(srv.host, srv.port)
            conns.append(c)
            rep = c.reply_or_eof()
            if i < 3:
                expect(rep, 220)
            else:
                # over the limit: 421 (RFC 5321 3.1) or an immediate close
                assert rep is None or rep.code == 421, rep
        for c in conns[:3]:
            expect(c.cmd("NOOP"), 250, "2.0.0")
    finally:
        for c in conns:
            c.close()
    # closed sessions give their slots back (bounded wait: the server
    # sees the close asynchronously)
    for i in range(3):
        deadline = time.monotonic() + 10
        while True:
            c = Raw(srv.host, srv.port)
            rep = c.reply_or_eof()
            if rep is not None and rep.code == 220:
                conns.append(c)
                break
            c.close()
            assert time.monotonic() < deadline, \
                f"slot {i} not given back after close: {rep}"
            time.sleep(0.05)
    for c in conns[-3:]:
        expect(c.cmd("QUIT"), 221, "2.0.0")
        c.close()


@pytest.mark.parametrize("n", [2, 3, 4], ids=["limit-1", "limit",
                                              "limit+1"])
def test_max_connections(make_server, n):
    srv = make_server(limits={"max_connections": "3"})
    conns = []
    try:
        for i in range(n):
            # not all from one address: the total limit, not the per-IP
            c = Raw(srv.host, srv.port, source=(f"127.0.0.{i + 2}", 0))
            conns.append(c)
            rep = c.reply_or_eof()
            if i < 3:
                expect(rep, 220)
            else:
                assert rep is None or rep.code == 421, rep
        for c in conns[:3]:
            expect(c.cmd("NOOP"), 250, "2.0.0")
    finally:
        for c in conns:
            c.close()


def test_idle_timeout(make_server):
    srv = make_server(start=False, limits={"timeout_command": "2s"})
    r = srv.cli("check-config", check=False)
    if r.returncode != 0:
        pytest.skip("timeout_command = 2s refused: " + r.err.strip())
    srv.start()
    with srv.raw() as c:
        assert c.closed_by_peer(timeout=15), \
            "idle session not closed after timeout_command"


def test_sigterm_with_open_session(server):
    c = server.raw()
    try:
        expect(c.cmd("MAIL FROM:<a@remote.example>"), 250)
        server.stop()  # asserts exit 0 and clean stderr
        rep = c.reply_or_eof()
        assert rep is None or rep.code == 421, rep
    finally:
        c.close()


def test_server_survives_reset_connections(server):
    for _ in range(20):
        s = socket.create_connection((server.host, server.port), timeout=5)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                     b"\x01\x00\x00\x00\x00\x00\x00\x00")
        s.close()  # RST
    with server.raw() as r:
        expect(r.cmd("NOOP"), 250, "2.0.0")


def test_sighup_keeps_serving(server):
    """SIGHUP reopens logs and re-reads users; it never stops the
    server or drops a session."""
    with server.raw() as r:
        expect(r.cmd("MAIL FROM:<a@remote.example>"), 250)
        server.proc.send_signal(signal.SIGHUP)
        expect(r.cmd("RCPT TO:<alice@example.test>"), 250)
        expect(r.cmd("DATA"), 354)
        r.send("Subject: hup\r\n\r\nx\r\n.\r\n")
        expect(r.reply(), 250, "2.0.0")
    server.wait_for_mail("alice@example.test", 1)
    assert server.running()
