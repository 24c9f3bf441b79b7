# SPDX-License-Identifier: ISC
"""SMTP smuggling (CVE-2023-51764 class): only CRLF.CRLF ends DATA
(RFC 5321 4.1.1.4), and a bare CR or LF never lets a second transaction
hide inside one message. tern's contract: a message with a bare CR or bare
LF is refused with 5xx after the real CRLF.CRLF, and nothing is delivered.
"""

import pytest

from conftest import QUEUED_RE, Raw, expect

SEPARATORS = {
    "lf-dot-lf": b"\n.\n",
    "cr-dot-cr": b"\r.\r",
    "crlf-dot-lf": b"\r\n.\n",
    "lf-dot-crlf": b"\n.\r\n",
    "cr-dot-crlf": b"\r.\r\n",
}

SMUGGLED = (b"MAIL FROM:<evil@remote.example>\r\n"
            b"RCPT TO:<bob@example.test>\r\n"
            b"DATA\r\n"
            b"From: <evil@remote.example>\r\nSubject: smuggled\r\n\r\n"
            b"smuggled body\r\n")


def run_smuggle(server, sep, bytewise):
    """Send one DATA whose body hides a second transaction after sep;
    return every reply up to QUIT's (or EOF)."""
    data = (b"From: <a@remote.example>\r\nSubject: legit\r\n\r\n"
            b"legit line" + sep + SMUGGLED + b"\r\n.\r\nQUIT\r\n")
    with Raw(server.host, server.port) as r:
        expect(r.reply(), 220)
        expect(r.cmd("EHLO client.example.test"), 250)
        expect(r.cmd("MAIL FROM:<a@remote.example>"), 250)
        expect(r.cmd("RCPT TO:<alice@example.test>"), 250)
        expect(r.cmd("DATA"), 354)
        if bytewise:
            for i in range(len(data)):
                r.send(data[i:i + 1])
        else:
            r.send(data)
        replies = []
        for _ in range(20):  # a vulnerable server answers at most ~8
            rep = r.reply_or_eof()
            if rep is None:
                break
            replies.append(rep)
            if rep.code == 221:
                break
    return replies


@pytest.mark.parametrize("bytewise", [False, True],
                         ids=["one-write", "bytewise"])
@pytest.mark.parametrize("name", list(SEPARATORS))
def test_smuggling_at_most_one_message(server, name, bytewise):
    replies = run_smuggle(server, SEPARATORS[name], bytewise)
    queued = [x for x in replies if QUEUED_RE.search(x.text)]
    assert len(queued) <= 1, f"two messages accepted: {replies}"
    assert not any(x.code == 354 for x in replies), \
        f"a second DATA was started: {replies}"
    server.wait_queue_empty()
    assert server.mail_files("bob@example.test") == [], \
        "the smuggled message was delivered"
    files = server.all_mail()
    assert len(files) <= 1, files
    for f in files:
        assert not f.read_bytes().startswith(
            b"Return-Path: <evil@remote.example>"), f.read_bytes()


@pytest.mark.parametrize("name", list(SEPARATORS))
def test_smuggling_attempt_refused(server, name):
    """tern's choice: refuse (5xx) after the real end, deliver nothing."""
    replies = run_smuggle(server, SEPARATORS[name], False)
    assert replies, "no reply to the end of data"
    assert 500 <= replies[0].code <= 599, \
        f"message with bare CR/LF not refused: {replies}"
    assert replies[-1].code == 221, f"session did not go on: {replies}"
    server.wait_queue_empty()
    assert server.all_mail() == []


BODIES = [
    ("valid", b"line 1\r\nline 2\r\n", True),
    ("valid-long-crlf", b"a" * 998 + b"\r\n", True),
    ("bare-lf-mid", b"line 1\nline 2\r\n", False),
    ("bare-cr-mid", b"line 1\rline 2\r\n", False),
    ("cr-cr-lf", b"line 1\r\r\n", False),
    ("lf-in-header", b"", False),
    ("lone-lf-line", b"x\r\n\n\r\n", False),
    ("lf-cr", b"x\n\r\n", False),
]


@pytest.mark.parametrize("name,body,ok", BODIES,
                         ids=[b[0] for b in BODIES])
def test_bare_cr_lf_in_data(server, name, body, ok):
    head = b"Subject: bare\r\n"
    if name == "lf-in-header":
        head = b"Subject: bare\nX-Hidden: 1\r\n"
        body = b"x\r\n"
    with server.raw() as r:
        expect(r.cmd("MAIL FROM:<a@remote.example>"), 250)
        expect(r.cmd("RCPT TO:<alice@example.test>"), 250)
        expect(r.cmd("DATA"), 354)
        r.send(head + b"\r\n" + body + b".\r\n")
        rep = r.reply()
        if ok:
            expect(rep, 250, "2.0.0")
        else:
            assert 500 <= rep.code <= 599, rep
        expect(r.cmd("NOOP"), 250, "2.0.0")
    server.wait_queue_empty()
    assert len(server.all_mail()) == (1 if ok else 0)
