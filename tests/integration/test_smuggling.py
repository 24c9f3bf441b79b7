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
    # issue 7: the rest of the published matrix (every end-of-line pair
    # around the dot but the real CRLF.CRLF).
    "lf-dot-cr": b"\n.\r",
    "cr-dot-lf": b"\r.\n",
    "crlf-dot-cr": b"\r\n.\r",
    "cr-dot-crlf-lf": b"\r.\r\n\n",
    "lf-lf-dot-lf-lf": b"\n\n.\n\n",
}
# issue 7: a NUL next to the dot (no bare CR/LF, so not refused for
# that): the dot line is not an end, so the rest stays message text.
NUL_SEPARATORS = {
    "crlf-nul-dot-crlf": b"\r\n\x00.\r\n",
    "crlf-dot-nul-crlf": b"\r\n.\x00\r\n",
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


# -- issue 7 -------------------------------------------------------------
@pytest.mark.parametrize("bytewise", [False, True],
                         ids=["one-write", "bytewise"])
@pytest.mark.parametrize("name", list(NUL_SEPARATORS))
def test_smuggling_nul_at_most_one_message(server, name, bytewise):
    replies = run_smuggle(server, NUL_SEPARATORS[name], bytewise)
    assert len([x for x in replies if QUEUED_RE.search(x.text)]) <= 1
    assert not any(x.code == 354 for x in replies), replies
    assert replies[-1].code == 221, f"session out of sync: {replies}"
    server.wait_queue_empty()
    assert server.mail_files("bob@example.test") == []
    for f in server.all_mail():
        assert b"Return-Path: <evil@remote.example>" not in f.read_bytes()


# The same matrix over BDAT (RFC 3030).
# In a BDAT chunk nothing ends the message but the octet count, so a
# "dot line" is only data; tern refuses bare CR/LF there too, and the
# real CRLF.CRLF inside a chunk is message text, never a command.
BDAT_SEPARATORS = dict(SEPARATORS, **NUL_SEPARATORS,
                       **{"crlf-dot-crlf": b"\r\n.\r\n"})


def run_bdat_smuggle(server, sep, chunked):
    payload = (b"From: <a@remote.example>\r\nSubject: legit\r\n\r\n"
               b"legit line" + sep + SMUGGLED + b"\r\n.\r\n")
    with Raw(server.host, server.port) as r:
        expect(r.reply(), 220)
        expect(r.cmd("EHLO client.example.test"), 250)
        expect(r.cmd("MAIL FROM:<a@remote.example>"), 250)
        expect(r.cmd("RCPT TO:<alice@example.test>"), 250)
        if chunked:  # the separator cut across two chunks
            cut = payload.index(sep) + 1
            parts = [payload[:cut], payload[cut:]]
        else:
            parts = [payload]
        replies = []
        for i, part in enumerate(parts):
            last = " LAST" if i == len(parts) - 1 else ""
            r.send(f"BDAT {len(part)}{last}\r\n".encode() + part)
            replies.append(r.reply())
        replies.append(r.cmd("QUIT"))
    return replies


@pytest.mark.parametrize("chunked", [False, True], ids=["one-chunk", "split"])
@pytest.mark.parametrize("name", list(BDAT_SEPARATORS))
def test_bdat_smuggling(server, name, chunked):
    replies = run_bdat_smuggle(server, BDAT_SEPARATORS[name], chunked)
    assert replies[-1].code == 221, f"session out of sync: {replies}"
    queued = [x for x in replies if QUEUED_RE.search(x.text)]
    if name == "crlf-dot-crlf" or name in NUL_SEPARATORS:
        assert len(queued) == 1, replies  # one message, dot line inside
    else:
        assert 500 <= replies[-2].code <= 599, \
            f"bare CR/LF in BDAT not refused: {replies}"
        assert not queued, replies
    server.wait_queue_empty()
    assert server.mail_files("bob@example.test") == [], \
        "the smuggled message was delivered"
    files = server.all_mail()
    assert len(files) == len(queued)
    for f in files:
        data = f.read_bytes()
        assert b"Return-Path: <evil@remote.example>" not in data
        assert b"smuggled body" in data  # the text stayed in the message
