# SPDX-License-Identifier: ISC
"""Message transfer: DATA (RFC 5321 4.1.1.4), PIPELINING (RFC 2920),
BDAT (RFC 3030), 8BITMIME (RFC 6152), SMTPUTF8 (RFC 6531), SIZE (RFC 1870),
limits, and what is left behind when a client goes away mid-message."""

import socket

import pytest

from conftest import (QUEUED_RE, Raw, expect, header_block, make_message,
                      message_id_of)


def queued_id(rep):
    expect(rep, 250, "2.0.0")
    m = QUEUED_RE.search(rep.text)
    assert m, f"no queue id in {rep}"
    return m.group(1)


def test_pipelined_transaction_in_one_write(server):
    """EHLO/MAIL/3xRCPT/DATA/message/QUIT in a single write (RFC 2920)."""
    users = ["alice@example.test", "bob@example.test", "admin@example.test"]
    with Raw(server.host, server.port) as r:
        expect(r.reply(), 220)
        blob = ("EHLO client.example.test\r\n"
                "MAIL FROM:<pipe@remote.example>\r\n"
                + "".join(f"RCPT TO:<{u}>\r\n" for u in users)
                + "DATA\r\n"
                "Subject: pipelined\r\nMessage-ID: <pipe@test>\r\n\r\n"
                "body\r\n.\r\n"
                "QUIT\r\n")
        r.send(blob)
        ehlo = expect(r.reply(), 250)
        assert any(ln.upper() == "PIPELINING" for ln in ehlo.lines), ehlo
        expect(r.reply(), 250)             # MAIL
        for _ in users:
            expect(r.reply(), 250)         # RCPT x3
        expect(r.reply(), 354)             # DATA
        qid = queued_id(r.reply())         # end of data
        expect(r.reply(), 221, "2.0.0")    # QUIT
        assert r.closed_by_peer()
    for u in users:
        [data] = server.wait_for_mail(u, 1)
        assert message_id_of(data) == "pipe@test"
        assert f"id {qid}".encode() in data


def test_pipelined_with_failing_rcpt(server):
    with server.raw() as r:
        r.send("MAIL FROM:<pipe@remote.example>\r\n"
               "RCPT TO:<nobody@example.test>\r\n"
               "RCPT TO:<alice@example.test>\r\n"
               "RCPT TO:<x@remote.example>\r\n"
               "DATA\r\nSubject: partial\r\n\r\nx\r\n.\r\n")
        expect(r.reply(), 250)
        expect(r.reply(), 550, "5.1.1")
        expect(r.reply(), 250)
        expect(r.reply(), 554, "5.7.1")
        expect(r.reply(), 354)
        queued_id(r.reply())
    server.wait_for_mail("alice@example.test", 1)


def test_pipelined_data_without_valid_rcpt(server):
    """No valid RCPT: DATA gets 503 (or 554) and the following text is
    read as commands, so nothing is queued (RFC 2920 3.1)."""
    with server.raw() as r:
        r.send("MAIL FROM:<pipe@remote.example>\r\n"
               "RCPT TO:<nobody@example.test>\r\n"
               "DATA\r\n")
        expect(r.reply(), 250)
        expect(r.reply(), 550, "5.1.1")
        rep = r.reply()
        assert rep.code in (503, 554), rep
        expect(r.cmd("NOOP"), 250, "2.0.0")
    assert server.queue_json() == []


DOT_LINES = [".", "..", "...", ".leading dot", "..two dots", "trailing .",
             " .", ".\t", "x", ". ", ""]


def test_dot_stuffing_round_trip(server):
    """Lines starting with '.' arrive intact (RFC 5321 4.5.2)."""
    body = "\r\n".join(DOT_LINES) + "\r\nend\r\n"
    msg = make_message(subject="dots", body=body, msgid="dots@test")
    server.send("d@remote.example", ["alice@example.test"], msg)  # stuffs
    [data] = server.wait_for_mail("alice@example.test", 1)
    got = data.split(b"\n\n", 1)[1].decode()
    assert got == "\n".join(DOT_LINES) + "\nend\n", repr(got)


def test_dot_stuffing_raw_unstuffing(server):
    with server.raw() as r:
        expect(r.cmd("MAIL FROM:<d@remote.example>"), 250)
        expect(r.cmd("RCPT TO:<alice@example.test>"), 250)
        expect(r.cmd("DATA"), 354)
        # The client stuffs: ".." -> ".", "..." -> "..", ".x" stays ".x"
        # (a lone leading dot on a non-terminator line is just removed).
        r.send("Subject: raw dots\r\n\r\n..\r\n...\r\n..x\r\n.y\r\n.\r\n")
        queued_id(r.reply())
    [data] = server.wait_for_mail("alice@example.test", 1)
    assert data.split(b"\n\n", 1)[1] == b".\n..\n.x\ny\n", data


def test_empty_message(server):
    with server.raw() as r:
        expect(r.cmd("MAIL FROM:<e@remote.example>"), 250)
        expect(r.cmd("RCPT TO:<alice@example.test>"), 250)
        expect(r.cmd("DATA"), 354)
        r.send(".\r\n")
        rep = r.reply()
        # An empty message may be accepted or refused, never crash.
        assert rep.code in (250, 550, 554), rep
        expect(r.cmd("NOOP"), 250, "2.0.0")


@pytest.mark.parametrize("chunks", [
    [b"Subject: bdat\r\n\r\nhello\r\n"],
    [b"Subject: bdat\r\n", b"\r\nhel", b"lo wor", b"ld\r\n.dot line\r\n"],
    [b"Subject: bdat\r\n\r\nline 1\r", b"\nline 2\r\n", b""],
    [b"Subject: bdat\r\n\r\n", (b"x" * 98 + b"\r\n") * 1000,
     b"end\r\n"],
], ids=["one-chunk", "mid-line-chunks", "crlf-split-empty-last",
        "large-chunk"])
def test_bdat(server, chunks):
    """BDAT (RFC 3030): chunks may end anywhere, even mid-line or between
    CR and LF; no dot-stuffing inside chunks."""
    with server.raw() as r:
        expect(r.cmd("MAIL FROM:<b@remote.example>"), 250)
        expect(r.cmd("RCPT TO:<alice@example.test>"), 250)
        for i, c in enumerate(chunks):
            last = i == len(chunks) - 1
            r.send(b"BDAT %d%s\r\n" % (len(c), b" LAST" if last else b"")
                   + c)
            rep = r.reply()
            if last:
                qid = queued_id(rep)
            else:
                expect(rep, 250)
        expect(r.cmd("QUIT"), 221, "2.0.0")
    [data] = server.wait_for_mail("alice@example.test", 1)
    want = b"".join(chunks).replace(b"\r\n", b"\n")
    assert data.endswith(want), (data[-200:], want[-200:])
    assert f"id {qid}".encode() in data.split(b"\n\n")[0]


def test_bdat_pipelined(server):
    """Chunks and commands in one write; DATA after BDAT is refused."""
    first = b"Subject: p\r\n\r\n0123456"
    with server.raw() as r:
        r.send(b"MAIL FROM:<b@remote.example>\r\n"
               b"RCPT TO:<alice@example.test>\r\n"
               b"BDAT %d\r\n%s"
               b"BDAT 5 LAST\r\n789\r\n"
               b"NOOP\r\n" % (len(first), first))
        expect(r.reply(), 250)
        expect(r.reply(), 250)
        expect(r.reply(), 250)
        queued_id(r.reply())
        expect(r.reply(), 250, "2.0.0")
        expect(r.cmd("MAIL FROM:<b@remote.example>"), 250)
        expect(r.cmd("RCPT TO:<alice@example.test>"), 250)
        r.send(b"BDAT 3\r\nabc")
        expect(r.reply(), 250)
        # RFC 3030 2: DATA after BDAT in one transaction is 503.
        expect(r.cmd("DATA"), 503, "5.5.1")
        expect(r.cmd("RSET"), 250, "2.0.0")
    [data] = server.wait_for_mail("alice@example.test", 1)
    assert data.endswith(b"Subject: p\n\n0123456789\n"), data


@pytest.mark.parametrize("cmd", ["BDAT", "BDAT x", "BDAT -1", "BDAT 1x",
                                 "BDAT 99999999999999999999999"],
                         ids=["no-size", "alpha", "negative", "trailing",
                              "overflow"])
def test_bdat_bad_syntax(server, cmd):
    with server.raw() as r:
        expect(r.cmd("MAIL FROM:<b@remote.example>"), 250)
        expect(r.cmd("RCPT TO:<alice@example.test>"), 250)
        rep = r.cmd(cmd)
        assert 500 <= rep.code <= 599, rep
        # Without a valid size the chunk's end is unknown, so the server
        # may close (it cannot resync); if it stays, it must be usable.
        if not r.closed_by_peer(timeout=0.5):
            expect(r.cmd("RSET"), 250, "2.0.0")
    assert server.queue_json() == []


def test_8bitmime_body(server):
    body = ("caf\u00e9 \u00fcber \u2603\r\n".encode("utf-8")
            + b"latin1 \xe9\xfc\xff\r\n" + bytes(range(0x80, 0x100))
            + b"\r\n")
    msg = make_message(subject="8bit", body=body)
    server.send("e@remote.example", ["bob@example.test"], msg,
                mail_options=["BODY=8BITMIME"])
    [data] = server.wait_for_mail("bob@example.test", 1)
    assert data.endswith(body.replace(b"\r\n", b"\n")), data[-200:]


def test_smtputf8_delivery(server):
    user = "\u00fcser@example.test"
    server.add_user(user)
    sender = "s\u00e9nder@remote.example"
    msg = ("From: <" + sender + ">\r\nTo: <" + user + ">\r\n"
           "Subject: \u00fcnicode\r\n\r\ngr\u00fc\u00dfe\r\n").encode()
    qid = server.send(sender, [user], msg,
                      mail_options=["SMTPUTF8", "BODY=8BITMIME"])
    [data] = server.wait_for_mail(user, 1)
    assert server.maildir(user).name == "\u00fcser"
    assert data.startswith(("Return-Path: <" + sender + ">\nDelivered-To: "
                            + user + "\n").encode()), data[:200]
    assert f"id {qid}".encode() in data
    assert data.endswith("gr\u00fc\u00dfe\n".encode())


def test_utf8_address_without_smtputf8_refused(server):
    server.add_user("\u00fcser@example.test")
    with server.raw() as r:
        expect(r.cmd("MAIL FROM:<a@remote.example>"), 250)
        # RFC 6531 3.4: UTF-8 addresses only in an SMTPUTF8 transaction.
        rep = r.cmd("RCPT TO:<\u00fcser@example.test>")
        assert 500 <= rep.code <= 599, rep


# SIZE (RFC 1870): limit = 10000 octets here.
LIMIT = 10000


@pytest.mark.parametrize("size,code", [(LIMIT - 1, 250), (LIMIT, 250),
                                       (LIMIT + 1, 552)],
                         ids=["limit-1", "limit", "limit+1"])
def test_size_param_at_mail(make_server, size, code):
    srv = make_server(limits={"max_message_size": str(LIMIT)})
    with srv.raw() as r:
        rep = r.cmd(f"MAIL FROM:<s@remote.example> SIZE={size}")
        expect(rep, code, "5.3.4" if code == 552 else None)


def test_size_advertised(make_server):
    srv = make_server(limits={"max_message_size": "10k"})
    with srv.raw(ehlo=False) as r:
        rep = expect(r.cmd("EHLO client.example.test"), 250)
        # k = 1024 (or 1000: the unit is the config's to define)
        assert "SIZE 10240" in rep.lines or "SIZE 10000" in rep.lines, rep


@pytest.mark.parametrize("nbytes,ok,dots", [
    (LIMIT // 2, True, False),
    (LIMIT - 1, True, False),
    (LIMIT, True, False),
    (LIMIT, True, True),
    (LIMIT + 1, False, False),
    (LIMIT + 1, False, True),
    (LIMIT * 10, False, False),
], ids=["under", "limit-1", "limit", "limit-dotted", "limit+1",
        "limit+1-dotted", "far-over"])
@pytest.mark.parametrize("verb", ["DATA", "BDAT"])
def test_oversize_message(make_server, verb, nbytes, ok, dots):
    """Message size as RFC 1870 defines it: octets with CRLFs, without
    the final dot and without stuffing dots. Over the limit: 552 5.3.4
    after the end of data, and the session goes on."""
    srv = make_server(limits={"max_message_size": str(LIMIT)})
    # with dots, every line starts with "." and is stuffed on the wire
    line = (b"." if dots else b"x") + b"x" * 97 + b"\r\n"
    body = b"Subject: big\r\n\r\n"
    body += line * ((nbytes - len(body)) // len(line))
    body += b"y" * (nbytes - len(body) - 2) + b"\r\n"
    assert len(body) == nbytes
    with srv.raw() as r:
        expect(r.cmd("MAIL FROM:<s@remote.example>"), 250)
        expect(r.cmd("RCPT TO:<alice@example.test>"), 250)
        if verb == "DATA":
            expect(r.cmd("DATA"), 354)
            r.send(body.replace(b"\n.", b"\n..") + b".\r\n")
        else:
            r.send(b"BDAT %d LAST\r\n" % len(body) + body)
        rep = r.reply()
        if ok:
            queued_id(rep)
        else:
            expect(rep, 552, "5.3.4")
        # the session goes on after a refused message
        expect(r.cmd("NOOP"), 250, "2.0.0")
    srv.wait_queue_empty()
    got = srv.mail("alice@example.test")
    assert len(got) == (1 if ok else 0)
    if ok:
        assert got[0].endswith(body.split(b"\r\n\r\n", 1)[1]
                               .replace(b"\r\n", b"\n"))


def test_bytewise_session(server):
    """Every byte in its own write: the server's parser must reassemble
    commands, the end-of-data marker and BDAT chunks at any split."""
    script = (b"EHLO client.example.test\r\n"
              b"MAIL FROM:<bw@remote.example>\r\n"
              b"RCPT TO:<alice@example.test>\r\n"
              b"DATA\r\n"
              b"Subject: bytewise\r\n\r\n..dot\r\nline\r\n.\r\n"
              b"MAIL FROM:<bw@remote.example>\r\n"
              b"RCPT TO:<bob@example.test>\r\n"
              b"BDAT 24 LAST\r\nSubject: chunk\r\n\r\nbody\r\n"
              b"QUIT\r\n")
    with Raw(server.host, server.port) as r:
        expect(r.reply(), 220)
        for i in range(len(script)):
            r.send(script[i:i + 1])
        codes = [r.reply().code for _ in range(8)]
        assert codes == [250, 250, 250, 354, 250, 250, 250, 250], codes
        expect(r.reply(), 221, "2.0.0")
    [a] = server.wait_for_mail("alice@example.test", 1)
    [b] = server.wait_for_mail("bob@example.test", 1)
    assert a.endswith(b"Subject: bytewise\n\n.dot\nline\n"), a
    assert b.endswith(b"Subject: chunk\n\nbody\n"), b


@pytest.mark.parametrize("n", [2, 3, 4], ids=["limit-1", "limit",
                                              "limit+1"])
def test_max_recipients(make_server, n):
    users = [f"u{i}@example.test" for i in range(4)]
    srv = make_server(users=users, limits={"max_recipients": "3"})
    with srv.raw() as r:
        expect(r.cmd("MAIL FROM:<m@remote.example>"), 250)
        for i, u in enumerate(users[:n]):
            rep = r.cmd(f"RCPT TO:<{u}>")
            if i < 3:
                expect(rep, 250)
            else:
                expect(rep, 452, "4.5.3")
        expect(r.cmd("DATA"), 354)
        r.send("Subject: many\r\n\r\nx\r\n.\r\n")
        queued_id(r.reply())
    for i, u in enumerate(users):
        want = 1 if i < min(n, 3) else 0
        if want:
            srv.wait_for_mail(u, 1)
    srv.wait_queue_empty()
    assert srv.mail_files(users[3]) == []


@pytest.mark.parametrize("nreceived,ok", [(99, True), (100, True),
                                          (101, False)],
                         ids=["limit-1", "limit", "limit+1"])
def test_received_header_limit(server, nreceived, ok):
    """More than 100 Received headers: a mail loop, 554 5.4.6
    (RFC 5321 6.3)."""
    hdrs = [f"Received: from hop{i}.example by hop{i + 1}.example; "
            f"Mon, 1 Jan 2024 00:00:00 +0000" for i in range(nreceived)]
    msg = make_message(subject="hops", extra_headers=hdrs)
    with server.raw() as r:
        expect(r.cmd("MAIL FROM:<l@remote.example>"), 250)
        expect(r.cmd("RCPT TO:<alice@example.test>"), 250)
        expect(r.cmd("DATA"), 354)
        r.send(msg + b".\r\n")
        rep = r.reply()
        if ok:
            queued_id(rep)
        else:
            expect(rep, 554, "5.4.6")
    server.wait_queue_empty()
    got = server.mail_files("alice@example.test")
    assert len(got) == (1 if ok else 0)
    if ok:
        names = [n for n, _ in header_block(got[0].read_bytes())]
        assert names.count("Received") == nreceived + 1


@pytest.mark.parametrize("verb", ["DATA", "BDAT"])
def test_connection_dropped_mid_message(server, verb):
    """A client that vanishes mid-message leaves nothing behind: no
    mailbox file, no queue entry, no file in a Maildir tmp/."""
    for how in ("close", "reset"):
        r = server.raw()
        expect(r.cmd("MAIL FROM:<drop@remote.example>"), 250)
        expect(r.cmd("RCPT TO:<alice@example.test>"), 250)
        part = b"Subject: dropped\r\n\r\n" + b"partial line\r\n" * 200
        if verb == "DATA":
            expect(r.cmd("DATA"), 354)
            r.send(part + b"no end")
        else:
            r.send(b"BDAT 100000 LAST\r\n" + part)
        if how == "reset":
            r.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                              b"\x01\x00\x00\x00\x00\x00\x00\x00")
        r.close()
    # A complete message afterwards proves the server moved on; once it
    # is delivered and the queue is empty, the dropped ones are settled.
    server.send("ok@remote.example", ["bob@example.test"],
                make_message(subject="after drop"))
    server.wait_for_mail("bob@example.test", 1)
    server.wait_queue_empty()
    assert server.mail_files("alice@example.test") == []
    assert len(server.all_mail()) == 1
    tmp = server.maildir("alice@example.test") / "tmp"
    assert not tmp.is_dir() or list(tmp.iterdir()) == []


@pytest.mark.parametrize("body", [
    b"ab\x00cd\r\n",
    b"L" * 998 + b"\r\n",
    b"L" * 5000 + b"\r\nend\r\n",
], ids=["nul", "line-1000", "line-5002"])
def test_odd_bodies_never_truncated(server, body):
    """A NUL byte or an over-long text line (RFC 5321 4.5.3.1.6) is
    either refused with 5xx or delivered whole: never cut short."""
    with server.raw() as r:
        expect(r.cmd("MAIL FROM:<o@remote.example>"), 250)
        expect(r.cmd("RCPT TO:<alice@example.test>"), 250)
        expect(r.cmd("DATA"), 354)
        r.send(b"Subject: odd\r\n\r\n" + body + b".\r\n")
        rep = r.reply()
        assert rep.code == 250 or 500 <= rep.code <= 599, rep
        expect(r.cmd("NOOP"), 250, "2.0.0")
    server.wait_queue_empty()
    got = server.mail("alice@example.test")
    if rep.code == 250:
        [data] = got
        assert data.endswith(body.replace(b"\r\n", b"\n")), data[-100:]
    else:
        assert got == []
