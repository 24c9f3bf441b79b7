# SPDX-License-Identifier: ISC
"""Milter filters (issue 18) against tern, with the scripted filter of
milter_peer.py on loopback.

Every verdict at every stage (connect, HELO, MAIL, RCPT, DATA, header,
body, end of message), every end-of-message edit carried through to the
Maildir (headers by index, body, recipients, sender), quarantine in the
hold queue, discard, the macros a filter sees and SETSYMLIST narrowing
them, two filters in order, non_smtpd_milters on `tern sendmail` mail,
and hostile filters (down, silent, garbage, closing mid-message, a 10 MB
reply, an old protocol version) under both default actions: each gets
its default action within its timeout, the server keeps serving and
nothing is delivered twice.

One server (and one filter, whose script changes between sessions) per
group of cases; hostile cases use timeouts of 1-2 s.
"""

import base64
import re
import time

import pytest

from conftest import (CLIENT_NAME, HOSTNAME, PASSWORD, TIME_SCALE, Raw,
                      expect, header_block, log_records, make_message,
                      tls_client, wait_log)
from dnstest import DnsServer, Zone
from milter_peer import HUGE_LEN, Milter
from test_sendmail import sendmail

REJECTED = "5.7.1 Command rejected"
TEMPFAILED = "4.7.1 Service unavailable - try again later"
CONTENT_REJECTED = "5.7.1 Message content rejected"
QUEUED_RE = re.compile(r"2\.0\.0 Ok: queued as (\S+)")
SLACK = 3.0 * TIME_SCALE  # seconds past a filter's timeout (ASan, 2 cores)


@pytest.fixture
def milters():
    """Factory: milters(script, **Milter kwargs) -> a started Milter;
    every one is stopped (threads joined) after the test."""
    made = []

    def make(script=None, **kw):
        m = Milter(script, **kw)
        made.append(m)
        return m
    yield make
    for m in made:
        m.stop()


def milter_section(name, address, default="tempfail", connect="2s",
                   command="2s", content="5s"):
    return (f"\n[milter {name}]\naddress = {address}\n"
            f"default_action = {default}\nconnect_timeout = {connect}\n"
            f"command_timeout = {command}\ncontent_timeout = {content}\n")


def milter_server(make_server, filters, listeners=None, on=None, **kw):
    """A server with [milter NAME] for each (name, Milter or address,
    section kwargs) of filters, and milters = on[listener] ("mx": every
    filter in order by default)."""
    extra = kw.pop("extra", "")
    names = []
    for name, m, *opt in filters:
        addr = m if isinstance(m, str) else m.address
        extra += milter_section(name, addr, **(opt[0] if opt else {}))
        names.append(name)
    on = on or {"mx": " ".join(names)}
    return make_server(listeners=listeners, extra=extra,
                       listener_extra={k: {"milters": v}
                                       for k, v in on.items()}, **kw)


def session(srv, port=None, ehlo=True):
    r = Raw("127.0.0.1", port or srv.port, timeout=30)
    expect(r.reply(), 220)
    if ehlo:
        expect(r.cmd(f"EHLO {CLIENT_NAME}"), 250)
    return r


def data(r, msg, sender="sender@remote.example",
         rcpts=("alice@example.test",)):
    """MAIL, RCPTs (each 250), DATA (354), msg: the final reply."""
    expect(r.cmd(f"MAIL FROM:<{sender}>"), 250)
    for x in rcpts:
        expect(r.cmd(f"RCPT TO:<{x}>"), 250)
    expect(r.cmd("DATA"), 354)
    r.send(msg + b".\r\n")
    return r.reply()


def queued_id(reply):
    m = QUEUED_RE.search(reply.text)
    assert reply.code == 250 and m, reply
    return m.group(1)


def lf(b):
    return b.replace(b"\r\n", b"\n")


def names(data):
    return [n for n, _ in header_block(data)]


def field(data, name):
    return [v for n, v in header_block(data) if n.lower() == name.lower()]


def ids_delivered(srv):
    """Message-IDs of every delivered file; asserts no Maildir holds one
    twice."""
    out, seen = [], set()
    for p in srv.all_mail():
        for v in field(p.read_bytes(), "Message-ID"):
            key = (p.parent.parent, v.strip("<>"))
            assert key not in seen, f"delivered twice: {key}"
            seen.add(key)
            out.append(v.strip("<>"))
    return out


# -- verdicts ------------------------------------------------------------

def test_connect_verdicts(make_server, milters):
    m = milters()
    srv = milter_server(make_server, [("f1", m)])
    for verdict, code, text in (
            ("reject", 554, "5.7.1"), ("tempfail", 421, "4.7.1"),
            (("replycode", "554 5.7.1 You are not welcome"), 554,
             "5.7.1 You are not welcome"),
            (("replycode", "421-4.7.0 busy\r\n421 4.7.0 come back"), 421,
             "4.7.0 busy\n4.7.0 come back")):
        m.script = {"connect": verdict}
        with Raw("127.0.0.1", srv.port, timeout=30) as r:
            rep = r.reply()
            assert rep.code == code, (verdict, rep)
            assert rep.text.startswith(text), (verdict, rep)
            assert r.closed_by_peer(10), f"{verdict}: still open"
    m.script = {}
    with session(srv) as r:
        queued_id(data(r, make_message(msgid="ok.connect@remote.example")))
    srv.wait_for_mail("alice@example.test")
    s = m.sessions[-1]
    assert s.connect[1] == "4" and s.connect[3] == "127.0.0.1", s.connect
    assert 0 < s.connect[2] < 65536, s.connect


COMMAND_CASES = [
    ("reject", 550, REJECTED),
    ("tempfail", 451, TEMPFAILED),
    (("replycode", "553 5.7.0 Not from you"), 553, "5.7.0 Not from you"),
    (("replycode", "550-5.7.1 first line\r\n550 5.7.1 second line"), 550,
     "5.7.1 first line\n5.7.1 second line"),
]


def test_command_verdicts(make_server, milters):
    """REJECT, TEMPFAIL, REPLYCODE at HELO, MAIL, RCPT and DATA: the reply
    to that command; nothing delivered; the session goes on."""
    m = milters()
    srv = milter_server(make_server, [("f1", m)])
    for verdict, code, text in COMMAND_CASES:
        m.script = {"helo": verdict}
        with session(srv, ehlo=False) as r:
            rep = r.cmd(f"EHLO {CLIENT_NAME}")
            assert (rep.code, rep.text) == (code, text), ("helo", rep)
            # a refused HELO leaves none behind
            expect(r.cmd("MAIL FROM:<sender@remote.example>"), 503)

        m.script = {"mail": verdict}
        with session(srv) as r:
            rep = r.cmd("MAIL FROM:<sender@remote.example>")
            assert (rep.code, rep.text) == (code, text), ("mail", rep)
            expect(r.cmd("RCPT TO:<alice@example.test>"), 503)
            expect(r.cmd("RSET"), 250)

        m.script = {"rcpt": verdict}
        with session(srv) as r:
            expect(r.cmd("MAIL FROM:<sender@remote.example>"), 250)
            rep = r.cmd("RCPT TO:<alice@example.test>")
            assert (rep.code, rep.text) == (code, text), ("rcpt", rep)
            expect(r.cmd("DATA"), 503)

        m.script = {"data": verdict}
        with session(srv) as r:
            expect(r.cmd("MAIL FROM:<sender@remote.example>"), 250)
            expect(r.cmd("RCPT TO:<alice@example.test>"), 250)
            rep = r.cmd("DATA")
            assert (rep.code, rep.text) == (code, text), ("data", rep)
            # still serving this session
            expect(r.cmd("NOOP"), 250)
    m.script = {}
    with session(srv) as r:
        queued_id(data(r, make_message(msgid="after@remote.example")))
    srv.wait_for_mail("alice@example.test")
    assert ids_delivered(srv) == ["after@remote.example"]
    assert srv.queue_json() == []


def test_replycode_421_closes_the_session(make_server, milters):
    """Regression: a filter's 421 (at MAIL, RCPT, DATA or the end of the
    message) is the last reply of the session, as the code says; the
    session used to go on after it."""
    m = milters()
    srv = milter_server(make_server, [("f1", m)])
    for stage in ("mail", "rcpt", "data", "eom"):
        m.script = {stage: ("replycode", "421 4.7.0 go away")}
        with session(srv) as r:
            cmds = ["MAIL FROM:<sender@remote.example>",
                    "RCPT TO:<alice@example.test>", "DATA"]
            upto = {"mail": 1, "rcpt": 2, "data": 3, "eom": 3}[stage]
            for c in cmds[:upto - 1]:
                expect(r.cmd(c), 250)
            if stage == "eom":
                expect(r.cmd("DATA"), 354)
                r.send(make_message() + b".\r\n")
                rep = r.reply()
            else:
                rep = r.cmd(cmds[upto - 1])
            assert (rep.code, rep.text) == (421, "4.7.0 go away"), \
                (stage, rep)
            assert r.closed_by_peer(10), f"{stage}: still open"
    assert srv.queue_json() == []


def test_rcpt_reject_refuses_only_that_recipient(make_server, milters):
    m = milters({"rcpt": lambda s, a: "reject" if "bob@" in a[0]
                 else "continue"})
    srv = milter_server(make_server, [("f1", m)])
    with session(srv) as r:
        expect(r.cmd("MAIL FROM:<sender@remote.example>"), 250)
        expect(r.cmd("RCPT TO:<alice@example.test>"), 250)
        rep = r.cmd("RCPT TO:<bob@example.test>")
        assert (rep.code, rep.text) == (550, REJECTED), rep
        # tern refuses an unknown user itself: the filter never sees it
        expect(r.cmd("RCPT TO:<nobody@example.test>"), 550)
        expect(r.cmd("RCPT TO:<admin@example.test>"), 250)
        expect(r.cmd("DATA"), 354)
        r.send(make_message(msgid="rcpt@remote.example") + b".\r\n")
        queued_id(r.reply())
    srv.wait_for_mail("alice@example.test")
    srv.wait_for_mail("admin@example.test")
    srv.wait_queue_empty()
    assert srv.mail_files("bob@example.test") == []
    msg = m.messages()[-1]
    assert msg.rcpts == ["<alice@example.test>", "<bob@example.test>",
                         "<admin@example.test>"]


CONTENT_CASES = [
    # (stage, verdict, code, text or None: code and class checked)
    ("header", "reject", 550, None),
    ("eoh", "tempfail", 451, None),
    ("body", "reject", 550, None),
    ("eom", "reject", 550, CONTENT_REJECTED),
    ("eom", "tempfail", 451, TEMPFAILED),
    ("eom", ("replycode", "554 5.7.9 Looks like spam"), 554,
     "5.7.9 Looks like spam"),
    ("eom", ("replycode", "450-4.7.1 later\r\n450 4.7.1 really"), 450,
     "4.7.1 later\n4.7.1 really"),
]


def test_filter_refusals_count_toward_max_errors(make_server, milters):
    """A filter's 5xx to a command is the client's error like tern's own:
    at max_errors the session gets 421 and is closed."""
    m = milters({"rcpt": "reject"})
    srv = milter_server(make_server, [("f1", m)],
                        limits={"max_errors": "3"})
    with session(srv) as r:
        expect(r.cmd("MAIL FROM:<s@remote.example>"), 250)
        for _ in range(2):
            expect(r.cmd("RCPT TO:<alice@example.test>"), 550, "5.7.1")
        rep = r.cmd("RCPT TO:<alice@example.test>")
        assert rep.code == 550, rep
        expect(r.reply(), 421, "4.7.0")
        with pytest.raises(EOFError):
            r.reply()


def test_content_verdicts(make_server, milters):
    """Verdicts at the header fields, EOH, body and end of message: the
    reply to the final dot; nothing is delivered."""
    m = milters()
    srv = milter_server(make_server, [("f1", m)])
    for i, (stage, verdict, code, text) in enumerate(CONTENT_CASES):
        m.script = {stage: verdict}
        with session(srv) as r:
            rep = data(r, make_message(msgid=f"c{i}@remote.example"))
            assert rep.code == code, (stage, verdict, rep)
            if text is not None:
                assert rep.text == text, (stage, verdict, rep)
            else:
                assert rep.enh.startswith(f"{code // 100}."), rep
            # the session still serves
            expect(r.cmd("RSET"), 250)
    # accept at MAIL means: no more of this filter for this message
    m.script = {"mail": "accept", "eom": "reject"}
    with session(srv) as r:
        queued_id(data(r, make_message(msgid="acc@remote.example")))
    # CONTINUE at end of message is accepting it
    m.script = {"eom": "continue"}
    with session(srv) as r:
        queued_id(data(r, make_message(msgid="cont@remote.example")))
    srv.wait_for_mail("alice@example.test", 2)
    assert sorted(ids_delivered(srv)) == ["acc@remote.example",
                                          "cont@remote.example"]
    srv.wait_queue_empty()


def test_discard_and_quarantine(make_server, milters):
    m = milters({"eom": "discard"})
    srv = milter_server(make_server, [("f1", m)])
    with session(srv) as r:
        qid_d = queued_id(data(r, make_message(msgid="d@remote.example")))
    wait_log(srv, "event=milter_discard")
    m.script = {"eom": [("quarantine", "suspicious attachment"), "accept"]}
    with session(srv) as r:
        qid_q = queued_id(data(r, make_message(msgid="q@remote.example")))
    held = srv.cli("queue", "list", "--held").out
    assert qid_q in held, held
    assert "quarantined by milter f1: suspicious attachment" in held, held
    assert [i["state"] for i in srv.queue_json()] == ["held"]
    # a control message after both: only it is delivered
    m.script = {}
    with session(srv) as r:
        queued_id(data(r, make_message(msgid="ok@remote.example")))
    srv.wait_for_mail("alice@example.test")
    assert ids_delivered(srv) == ["ok@remote.example"]
    assert qid_d not in srv.cli("queue", "list").out
    line = [ln for ln in srv.log().splitlines()
            if "event=milter_discard" in ln][0]
    assert qid_d in line, line


# -- end-of-message edits --------------------------------------------------

EDIT_MSG = (b"From: <sender@remote.example>\r\n"
            b"To: <alice@example.test>\r\n"
            b"Subject: original\r\n"
            b"Message-ID: <edit@remote.example>\r\n"
            b"X-Dup: first\r\n"
            b"X-Dup: second\r\n"
            b"X-Dup: third\r\n"
            b"X-Gone: bye\r\n"
            b"X-Fold: one\r\n\ttwo\r\n"
            b"\r\n"
            b"original body\r\n")


def test_header_and_body_edits(make_server, milters):
    m = milters({"eom": [
        ("chgheader", 2, "X-Dup", "changed second"),
        ("chgheader", 1, "x-gone", ""),             # delete (any case)
        ("insheader", 0, "X-Top", "on top"),
        ("addheader", "X-Added", "one\n\ttwo"),      # folded, LF
        ("chgheader", 7, "X-Dup", "appended"),       # no 7th: appended
        ("chgheader", 0, "Subject", "changed"),      # 0 is taken as 1
        ("replbody", b"replaced body\nsecond line\n"),
        "accept"]})
    srv = milter_server(make_server, [("f1", m)])
    with session(srv) as r:
        queued_id(data(r, EDIT_MSG))
    got = srv.wait_for_mail("alice@example.test")[0]
    hdr = header_block(got)
    n = names(got)
    assert field(got, "X-Dup") == ["first", "changed second", "third",
                                   "appended"], hdr
    assert "X-Gone" not in n, hdr
    assert field(got, "Subject") == ["changed"], hdr
    # on top of the header the filter saw (tern's Received first)
    assert n.index("X-Top") < n.index("Received"), n
    assert field(got, "X-Added") == ["one two"], hdr
    assert b"X-Added: one\r\n\ttwo\r\n" in got or \
        b"X-Added: one\n\ttwo\n" in got, got
    # ADDHEADER appends; then the 7th X-Dup (there is none) after it
    assert n[-2:] == ["X-Added", "X-Dup"], n
    body = lf(got).split(b"\n\n", 1)[1]
    assert body == b"replaced body\nsecond line\n", got
    assert b"original body" not in got
    # what the filter saw: the header as sent, LF in folded values
    msg = m.messages()[-1]
    assert ("X-Dup", "second") in msg.headers
    # folded lines reach the filter LF-separated, as Postfix sends them
    assert ("X-Fold", "one\n\ttwo") in msg.headers, msg.headers
    assert msg.headers[0][0] == "Received", msg.headers
    assert msg.body == b"original body\r\n"


def test_recipient_and_sender_edits(make_server, milters):
    m = milters({"eom": [("addrcpt", "<bob@example.test>"),
                         ("addrcpt_par", "<admin@example.test>", ""),
                         ("delrcpt", "<alice@example.test>"),
                         ("chgfrom", "<changed@remote.example>"),
                         "accept"]})
    srv = milter_server(make_server, [("f1", m)])
    with session(srv) as r:
        queued_id(data(r, make_message(msgid="env@remote.example")))
    got = srv.wait_for_mail("bob@example.test")[0]
    srv.wait_for_mail("admin@example.test")
    srv.wait_queue_empty()
    assert srv.mail_files("alice@example.test") == []
    assert got.startswith(b"Return-Path: <changed@remote.example>"), got
    assert ids_delivered(srv) == ["env@remote.example"] * 2
    assert len(srv.all_mail()) == 2


def test_added_local_recipient_resolves_like_rcpt(make_server, milters):
    """A recipient a filter adds in a local domain goes where RCPT TO
    would send it: an alias to its target, an unknown user nowhere (the
    change is ignored and logged)."""
    m = milters({"eom": [("addrcpt", "<team@example.test>"),
                         ("addrcpt", "<nobody@example.test>"),
                         "accept"]})
    srv = milter_server(make_server, [("f1", m)])
    srv.add_alias("team@example.test", "bob@example.test")
    with session(srv) as r:
        queued_id(data(r, make_message(msgid="alias@remote.example")))
    srv.wait_for_mail("bob@example.test")
    srv.wait_for_mail("alice@example.test")
    srv.wait_queue_empty()
    assert ids_delivered(srv) == ["alias@remote.example"] * 2
    assert len(srv.all_mail()) == 2
    assert "event=milter_change_ignored" in srv.log()
    assert "nobody@example.test" in srv.log()


# -- macros ----------------------------------------------------------------

def test_macros_and_stages(make_server, milters):
    m = milters()
    srv = milter_server(make_server, [("f1", m)])
    with session(srv) as r:
        client_port = str(r.sock.getsockname()[1])
        rep = r.cmd("XYZZY hello")   # UNKNOWN to the filter
        assert rep.code in (500, 502), rep
        qid = queued_id(data(r, make_message(msgid="mac@remote.example")))
        expect(r.cmd("MAIL FROM:<x@remote.example>"), 250)
        expect(r.cmd("RSET"), 250)          # ABORT to the filter
        expect(r.cmd("QUIT"), 221)
    sess = m.wait_closed(1)[0]
    st = [e for e in sess.stages() if e != "macro"]
    assert st[:3] == ["optneg", "connect", "helo"], st
    assert st[-1] == "quit", st
    assert "unknown" in st and sess.unknown == ["XYZZY hello"], st
    i = st.index("mail")
    assert st[i:i + 5] == ["mail", "rcpt", "data", "header", "header"], st
    assert st.index("eoh") < st.index("body") < st.index("eom"), st
    assert "abort" in st[st.index("eom"):], st
    ver, actions, proto = sess.offered
    assert ver == 6 and actions == 0x1ff, sess.offered
    msg = sess.messages[0]
    # every macro checked, all mismatches reported at once
    want = {
        ("connect", "j"): HOSTNAME,
        ("connect", "{daemon_name}"): "mx",
        # Sendmail and Postfix: the address alone ({daemon_port} apart)
        ("connect", "{daemon_addr}"): "127.0.0.1",
        ("connect", "{client_addr}"): "127.0.0.1",
        ("connect", "{client_port}"): client_port,
        ("mail", "{mail_addr}"): "sender@remote.example",
        ("rcpt", "{rcpt_addr}"): "alice@example.test",
        ("data", "i"): qid, ("eoh", "i"): qid, ("eom", "i"): qid,
    }
    got = {}
    for (stage, name) in want:
        d = sess.macros if stage == "connect" else msg.macros
        got[(stage, name)] = d.get(stage, {}).get(name)
    bad = {k: (got[k], v) for k, v in want.items() if got[k] != v}
    for name in ("v", "_", "{client_name}", "{client_ptr}"):
        if name not in sess.macros["connect"]:
            bad[("connect", name)] = "missing"
    assert not bad, f"(stage, macro): (got, wanted): {bad}"
    assert sess.connect[1:] == ("4", sess.connect[2], "127.0.0.1")
    assert sess.helo == CLIENT_NAME
    assert msg.sender == "<sender@remote.example>"
    assert msg.rcpts == ["<alice@example.test>"]
    assert sess.messages[1].aborted


def test_setsymlist_narrows_macros(make_server, milters):
    # stages: 0 connect, 1 helo, 2 mail, 3 rcpt, 4 data, 5 eom, 6 eoh
    m = milters(symlists={0: "j {client_addr}", 2: "{mail_addr}",
                          5: "i"})
    srv = milter_server(make_server, [("f1", m)])
    with session(srv) as r:
        qid = queued_id(data(r, make_message()))
    sess = m.wait_sessions(1)[0]
    m.wait_for(lambda mm: "eom" in sess.stages(), what="eom")
    assert sess.macros["connect"] == {"j": HOSTNAME,
                                      "{client_addr}": "127.0.0.1"}
    assert sess.macros["mail"] == {"{mail_addr}": "sender@remote.example"}
    assert sess.macros["eom"] == {"i": qid}


def test_macros_tls_and_auth(submission_server, milters):
    m = milters()
    srv = submission_server(
        extra=milter_section("f1", m.address),
        listener_extra={"submission": {"milters": "f1"}})
    r = Raw("127.0.0.1", srv.ports["submission"], timeout=30)
    expect(r.reply(), 220)
    expect(r.cmd(f"EHLO {CLIENT_NAME}"), 250)
    expect(r.cmd("STARTTLS"), 220)
    ctx = tls_client(srv.cert)
    ctx.check_hostname = False
    r.sock = ctx.wrap_socket(r.sock)
    expect(r.cmd(f"EHLO {CLIENT_NAME}"), 250)
    auth = base64.b64encode(f"\0alice@example.test\0{PASSWORD}".encode())
    expect(r.cmd("AUTH PLAIN " + auth.decode()), 235)
    queued_id(data(r, make_message(), sender="alice@example.test",
                   rcpts=("bob@example.test",)))
    r.close()
    srv.wait_for_mail("bob@example.test")
    sess = m.wait_sessions(1)[0]
    h = sess.macros["helo"]
    mail = sess.messages[0].macros["mail"]
    bad = []
    if not h.get("{tls_version}", "").startswith("TLSv1."):
        bad.append(("{tls_version}", h))
    if not h.get("{cipher}"):
        bad.append(("{cipher}", h))
    if not h.get("{cipher_bits}", "").isdigit() or \
            int(h["{cipher_bits}"]) < 128:
        bad.append(("{cipher_bits}", h))
    if mail.get("{auth_type}") != "PLAIN":
        bad.append(("{auth_type}", mail))
    if mail.get("{auth_authen}") != "alice@example.test":
        bad.append(("{auth_authen}", mail))
    if sess.macros["connect"].get("{daemon_name}") != "submission":
        bad.append(("{daemon_name}", sess.macros["connect"]))
    assert not bad, bad


# -- several filters, sendmail ----------------------------------------------

def test_two_filters_in_order(make_server, milters, tmp_path):
    f1 = milters({"eom": [("chgheader", 1, "Subject", "by f1"),
                          ("addheader", "X-F1", "yes"), "accept"]})
    # the second on a unix socket, named in milters = by its address
    f2 = milters({"eom": [("addheader", "X-F2", "yes"), "accept"]},
                 path=tmp_path / "f2.sock")
    srv = milter_server(make_server, [("f1", f1)],
                        on={"mx": f"f1 {f2.address}"})
    with session(srv) as r:
        queued_id(data(r, make_message(subject="orig")))
    got = srv.wait_for_mail("alice@example.test")[0]
    assert field(got, "Subject") == ["by f1"]
    n = names(got)
    assert n.index("X-F1") < n.index("X-F2"), n
    seen = f2.messages()[-1].headers
    assert ("Subject", "by f1") in seen and ("X-F1", "yes") in seen, seen
    assert ("Subject", "orig") in f1.messages()[-1].headers
    # f1 rejecting: f2 never gets the message's end
    f1.script = {"eom": "reject"}
    with session(srv) as r:
        rep = data(r, make_message(subject="second"))
        assert (rep.code, rep.text) == (550, CONTENT_REJECTED), rep
    assert not any(mm.eom for mm in f2.messages()[1:])


def test_filters_see_authentication_results(make_server, milters):
    """Issue 18: the built-in checks (issue 16) and the filters work side
    by side: the filter sees tern's Authentication-Results on top (a
    forged one claiming tern's authserv-id is gone before it), and what
    the filter adds is delivered beside it."""
    zone = Zone({"remote.example": [{"TXT": "v=spf1 ip4:127.0.0.1 -all"}]})
    dns = DnsServer(zone)
    try:
        m = milters({"eom": [("addheader", "X-Filter", "saw it"),
                             "accept"]})
        srv = milter_server(make_server, [("f1", m)],
                            auth={"checks": "on"},
                            top={"dns_server": f"127.0.0.1:{dns.port}"})
        forged = (f"Authentication-Results: {HOSTNAME}; spf=pass "
                  f"smtp.mailfrom=forged@remote.example\r\n").encode()
        with session(srv) as r:
            queued_id(data(r, forged + make_message(subject="checked")))
        got = srv.wait_for_mail("alice@example.test")[0]
    finally:
        dns.close()
    seen = m.messages()[-1].headers
    assert seen[0][0] == "Authentication-Results", seen
    assert seen[0][1].startswith(HOSTNAME + ";"), seen[0]
    assert "spf=pass" in seen[0][1], seen[0]
    assert "smtp.mailfrom=sender@remote.example" in seen[0][1], seen[0]
    assert [n for n, _ in seen].count("Authentication-Results") == 1, seen
    assert "forged@" not in str(seen)
    assert field(got, "X-Filter") == ["saw it"]
    assert len(field(got, "Authentication-Results")) == 1, header_block(got)
    n = names(got)
    assert n.index("Authentication-Results") < n.index("Received"), n


def test_own_dkim_signs_what_the_filters_left(make_server, milters):
    """Issue 18 with issue 16: on a submission listener with filters,
    tern signs the message as the filters changed it (a new body, a new
    Subject), so its DKIM-Signature verifies (dkimpy) on what is
    delivered."""
    import dkim
    m = milters({"eom": [("chgheader", 1, "Subject", "by the filter"),
                         ("replbody", b"a disclaimer the filter wrote\r\n"),
                         "accept"]})
    srv = milter_server(make_server, [("f1", m)],
                        listeners=[("mx", "127.0.0.1", "mx"),
                                   ("submission", "127.0.0.1",
                                    "submission")],
                        on={"submission": "f1"},
                        top={"relay_networks": "127.0.0.1/32"})
    r = srv.cli("dkim", "keygen", "example.test", "--selector", "s18",
                "--algorithm", "ed25519")
    assert r.returncode == 0, r.err
    line = next(ln for ln in r.out.splitlines() if " IN TXT " in ln)
    record = "".join(re.findall(r'"([^"]*)"', line.split(" IN TXT ", 1)[1]))
    assert srv.cli("reload").returncode == 0
    with session(srv, port=srv.ports["submission"]) as c:
        queued_id(data(c, make_message(sender="alice@example.test",
                                       to="bob@example.test",
                                       subject="original"),
                       sender="alice@example.test",
                       rcpts=("bob@example.test",)))
    got = srv.wait_for_mail("bob@example.test")[0]
    assert field(got, "Subject") == ["by the filter"], got
    assert b"a disclaimer the filter wrote" in got
    sigs = field(got, "DKIM-Signature")
    assert len(sigs) == 1 and "s=s18" in sigs[0], sigs

    def dnsfunc(name, timeout=5):
        assert name == b"s18._domainkey.example.test.", name
        return record.encode()

    wire = got if b"\r\n" in got else got.replace(b"\n", b"\r\n")
    assert dkim.verify(wire, dnsfunc=dnsfunc), got


def test_big_body_in_chunks_and_replaced(make_server, milters):
    """A 300 KB body reaches the filter in chunks of at most 65535 bytes,
    byte for byte; a 1.25 MB replacement sent in 20 REPLBODY chunks is
    what is delivered."""
    line = b"0123456789abcdefghijklmnopqrstuvwxyz" * 2 + b"\r\n"
    body = line * (300 * 1024 // len(line))
    piece = (b"R" * 63 + b"\r\n") * 1024    # 64 KiB
    m = milters({"eom": [("replbody", piece)] * 20 + ["accept"]})
    srv = milter_server(make_server, [("f1", m)])
    with session(srv) as r:
        queued_id(data(r, make_message(msgid="big@remote.example",
                                       body=body)))
    got = srv.wait_for_mail("alice@example.test")[0]
    msg = m.messages()[-1]
    assert msg.body == body
    assert max(msg.chunks) <= 65535 and len(msg.chunks) >= 5, msg.chunks
    assert lf(got).split(b"\n\n", 1)[1] == lf(piece * 20)


def test_non_smtpd_milters_on_sendmail(make_server, milters):
    m = milters({"eom": [("addheader", "X-Local-Filter", "seen"),
                         "accept"]})
    srv = make_server(extra=milter_section("local", m.address),
                      top={"non_smtpd_milters": "local"})
    sendmail(srv, "-t", "-oi",
             input="To: alice@example.test\nSubject: local\n\nhi\n")
    got = srv.wait_for_mail("alice@example.test")[0]
    assert field(got, "X-Local-Filter") == ["seen"], got
    msg = m.messages()[-1]
    assert msg.rcpts == ["<alice@example.test>"], msg.rcpts
    assert ("Subject", "local") in msg.headers
    # an SMTP session of the mx listener (no milters) is not filtered
    with session(srv) as r:
        queued_id(data(r, make_message(to="bob@example.test"),
                       rcpts=("bob@example.test",)))
    srv.wait_for_mail("bob@example.test")
    assert len(m.messages()) == 1
    # a recipient the filter adds goes where the alias says
    srv.add_alias("team@example.test", "admin@example.test")
    m.script = {"eom": [("addrcpt", "<team@example.test>"), "accept"]}
    sendmail(srv, "-t", "-oi",
             input="To: alice@example.test\nSubject: two\n\nhi\n")
    srv.wait_for_mail("admin@example.test")
    srv.wait_for_mail("alice@example.test", 2)
    srv.wait_queue_empty()


def test_non_smtpd_verdicts(make_server, milters):
    """`tern sendmail` mail refused by a filter: a tempfail keeps it in
    the maildrop and the pickup asks again (delivered once the filter
    accepts); a reject bounces it to the sender (root: the postmaster)
    with the filter's reply; a discard delivers nothing."""
    m = milters({"eom": "tempfail"})
    srv = make_server(extra=milter_section("local", m.address),
                      top={"non_smtpd_milters": "local"})
    sendmail(srv, "-t", "-oi",
             input="To: alice@example.test\nSubject: later\n\nhi\n")
    wait_log(srv, "event=pickup_deferred")
    assert srv.mail_files("alice@example.test") == []
    m.script = {}
    srv.wait_for_mail("alice@example.test")
    assert len(m.messages()) >= 2  # asked again after the tempfail
    m.script = {"eom": ("replycode", "550 5.7.1 no local spam")}
    sendmail(srv, "-t", "-oi",
             input="To: bob@example.test\nSubject: spam\n\nhi\n")
    bounce = srv.wait_for_mail("admin@example.test")[0]
    assert b"no local spam" in bounce, bounce
    m.script = {"eom": "discard"}
    sendmail(srv, "-t", "-oi",
             input="To: bob@example.test\nSubject: gone\n\nhi\n")
    wait_log(srv, "event=milter_discard")
    srv.wait_queue_empty()
    assert srv.mail_files("bob@example.test") == []
    assert len(srv.mail_files("alice@example.test")) == 1


def test_non_smtpd_every_recipient_deleted(make_server, milters):
    """Regression: a filter that deletes every recipient of `tern
    sendmail` mail discards it (as on SMTP); it used to fail the rewrite
    (no recipients) and stay in the maildrop, asked again forever."""
    m = milters({"eom": [("delrcpt", "<alice@example.test>"), "accept"]})
    srv = make_server(extra=milter_section("local", m.address),
                      top={"non_smtpd_milters": "local"})
    sendmail(srv, "-t", "-oi",
             input="To: alice@example.test\nSubject: gone\n\nhi\n")
    wait_log(srv, "event=milter_discard source=maildrop file=")
    srv.wait_queue_empty()
    time.sleep(1.0 * TIME_SCALE)  # a kept drop file would be retried
    assert len(m.messages()) == 1, m.messages()
    assert "event=pickup_deferred" not in srv.log()
    assert srv.mail_files("alice@example.test") == []


# -- protocol edges ----------------------------------------------------------

P_NOHDRS, P_NOBODY, P_NR_RCPT, P_SKIP = 0x20, 0x10, 0x8000, 0x400


def test_discard_at_rcpt_and_pipelining(make_server, milters):
    """DISCARD at RCPT discards the whole message (Sendmail's meaning):
    250 to everything, nothing delivered. Pipelined MAIL, RCPTs and DATA
    are answered in order, each after the filter's verdict."""
    m = milters({"rcpt": lambda s, a: "discard" if "admin@" in a[0]
                 else ("reject" if "bob@" in a[0] else "continue")})
    srv = milter_server(make_server, [("f1", m)])
    with session(srv) as r:
        r.send("MAIL FROM:<sender@remote.example>\r\n"
               "RCPT TO:<alice@example.test>\r\n"
               "RCPT TO:<bob@example.test>\r\n"
               "RCPT TO:<admin@example.test>\r\n"
               "DATA\r\n")
        reps = r.replies(5)
        assert [x.code for x in reps] == [250, 250, 550, 250, 354], reps
        r.send(make_message(msgid="disc@remote.example") + b".\r\n")
        queued_id(r.reply())
    wait_log(srv, "event=milter_discard")
    m.script = {}
    with session(srv) as r:
        queued_id(data(r, make_message(msgid="after.disc@remote.example")))
    srv.wait_for_mail("alice@example.test")
    srv.wait_queue_empty()
    assert ids_delivered(srv) == ["after.disc@remote.example"]


def test_negotiated_steps_only(make_server, milters):
    """A filter that asked for no header fields, no body and no reply to
    RCPT gets none, and tern does not wait for what it will not say; a
    filter that negotiated SKIP may stop the body early."""
    m = milters(proto=P_NOHDRS | P_NOBODY | P_NR_RCPT)
    srv = milter_server(make_server, [("f1", m)])
    with session(srv) as r:
        queued_id(data(r, make_message(body="x\r\n" * 10)))
    srv.wait_for_mail("alice@example.test")
    sess = m.wait_sessions(1)[0]
    m.wait_for(lambda mm: "eom" in sess.stages(), what="eom")
    st = sess.stages()
    assert "header" not in st and "body" not in st, st
    assert "rcpt" in st and "eoh" in st, st
    big = b"y" * 1000 + b"\r\n"
    m2 = milters({"body": "skip"}, proto=P_SKIP)
    srv.stop()
    srv2 = milter_server(make_server, [("f2", m2)])
    with session(srv2) as r:
        queued_id(data(r, make_message(body=big * 300)))
    got = srv2.wait_for_mail("alice@example.test")[0]
    assert lf(got).endswith(lf(big * 300))  # skipped by the filter only
    msg = m2.messages()[-1]
    assert len(msg.chunks) == 1, msg.chunks  # nothing after the SKIP


BAD_REPLIES = [
    # (name, stage, reply): each a protocol error at that stage
    ("edit_at_mail", "mail", [("addheader", "X-Early", "no")]),
    ("replycode_2xx", "rcpt", ("replycode", "250 2.0.0 fine")),
    ("replycode_class", "rcpt", ("replycode", "550 4.7.1 mixed")),
    ("header_injection", "eom",
     [("addheader", "X-Evil", "a\r\nBcc: <victim@example.org>"),
      "accept"]),
    ("nul_name", "eom", [("raw", b"h", b"\0value\0"), "accept"]),
    ("unknown_code", "helo", ("raw", b"Z", b"")),
]


def test_protocol_errors_get_the_default_action(make_server, milters):
    """Replies a filter may not send (an edit before end of message, a
    REPLYCODE that is no 4xx/5xx, a header value with a line break not
    before a blank, an empty header name, an unknown code): the default
    action (tempfail) for that command, never the edit."""
    m = milters()
    filters = [("f1", m, {"command": "2s", "content": "2s"})]
    srv = milter_server(make_server, filters)
    for name, stage, reply in BAD_REPLIES:
        m.script = {stage: reply}
        with session(srv, ehlo=False) as r:
            reps = [r.cmd(f"EHLO {CLIENT_NAME}")]
            for cmd in ("MAIL FROM:<sender@remote.example>",
                        "RCPT TO:<alice@example.test>", "DATA"):
                if reps[-1].code >= 400:
                    break
                reps.append(r.cmd(cmd))
            if reps[-1].code == 354:
                r.send(make_message(msgid=f"{name}@remote.example") +
                       b".\r\n")
                reps.append(r.reply())
            final = reps[-1]
            if stage == "helo":
                # HELO is not refused for a broken filter; MAIL is
                assert reps[0].code == 250, (name, reps)
                final = r.cmd("MAIL FROM:<sender@remote.example>")
            assert (final.code, final.text) == (451, TEMPFAILED), \
                (name, reps, final)
    wait_log(srv, "event=milter_error", len(BAD_REPLIES))
    log_records(srv)  # the filters' bytes did not break a log line
    assert srv.all_mail() == [] and srv.queue_json() == []
    m.script = {}
    with session(srv) as r:
        queued_id(data(r, make_message(msgid="fine@remote.example")))
    got = srv.wait_for_mail("alice@example.test")[0]
    assert b"victim" not in got and b"X-Early" not in got


def test_unnegotiated_edit_is_not_applied(make_server, milters):
    """A filter that asked for no actions sends ADDHEADER and ADDRCPT at
    end of message: neither is applied (tern refuses the reply as a
    protocol error, or ignores it), and nobody else gets the message."""
    m = milters({"eom": [("addheader", "X-Sneaky", "1"),
                         ("addrcpt", "<bob@example.test>"), "accept"]},
                actions=0)
    srv = milter_server(make_server, [("f1", m)])
    with session(srv) as r:
        rep = data(r, make_message(msgid="sneaky@remote.example"))
    assert rep.code in (250, 451), rep
    if rep.code == 250:
        got = srv.wait_for_mail("alice@example.test")[0]
        assert b"X-Sneaky" not in got
    srv.wait_queue_empty()
    assert srv.mail_files("bob@example.test") == []
    assert m.sessions[0].agreed[1] == 0


def test_client_gone_while_filter_thinks(make_server, milters):
    """The client disconnects while tern waits for the filter (end of
    message, and RCPT): nothing is delivered, the server serves on."""
    m = milters({"eom": "hang"})
    srv = milter_server(make_server, [("f1", m, {"content": "2s"})])
    r = session(srv)
    expect(r.cmd("MAIL FROM:<sender@remote.example>"), 250)
    expect(r.cmd("RCPT TO:<alice@example.test>"), 250)
    expect(r.cmd("DATA"), 354)
    r.send(make_message(msgid="gone@remote.example") + b".\r\n")
    m.wait_for(lambda mm: "eom" in mm.sessions[0].stages(), what="eom")
    r.close()
    m.script = {"rcpt": "hang"}
    r = session(srv)
    expect(r.cmd("MAIL FROM:<sender@remote.example>"), 250)
    r.send("RCPT TO:<alice@example.test>\r\n")
    m.wait_for(lambda mm: len(mm.sessions) > 1 and
               "rcpt" in mm.sessions[1].stages(), what="rcpt")
    r.close()
    m.wait_closed(2, timeout=5 + SLACK)
    m.script = {}
    with session(srv) as r:
        queued_id(data(r, make_message(msgid="later@remote.example")))
    srv.wait_for_mail("alice@example.test")
    srv.wait_queue_empty()
    assert ids_delivered(srv) == ["later@remote.example"]


def test_session_state_between_messages(make_server, milters):
    """Two messages in one session: the first's edits do not reach the
    second, each has its own queue id in macro i; a filter that accepts
    at connect is not asked again in that session; '%%' in a REPLYCODE
    is Sendmail's doubled '%'."""
    def eom(sess, args):
        if len(sess.messages) == 1:
            return [("addheader", "X-First", "1"), "accept"]
        return "accept"
    m = milters({"eom": eom})
    srv = milter_server(make_server, [("f1", m)])
    with session(srv) as r:
        q1 = queued_id(data(r, make_message(msgid="m1@remote.example")))
        q2 = queued_id(data(r, make_message(msgid="m2@remote.example")))
    got = {field(g, "Message-ID")[0]: g
           for g in srv.wait_for_mail("alice@example.test", 2)}
    assert field(got["<m1@remote.example>"], "X-First") == ["1"]
    assert field(got["<m2@remote.example>"], "X-First") == []
    sess = m.wait_sessions(1)[0]
    assert [x.macros["eom"]["i"] for x in sess.messages] == [q1, q2]
    # accept at connect: no more of this filter in the session
    m.script = {"connect": "accept", "eom": "reject"}
    with session(srv) as r:
        queued_id(data(r, make_message(msgid="m3@remote.example")))
    srv.wait_for_mail("alice@example.test", 3)
    assert m.sessions[1].messages == [], m.sessions[1].stages()
    m.script = {"mail": ("replycode", "550 5.7.1 100%% spam")}
    with session(srv) as r:
        rep = r.cmd("MAIL FROM:<sender@remote.example>")
        assert (rep.code, rep.text) == (550, "5.7.1 100% spam"), rep


def test_bdat_message_filtered(make_server, milters):
    """CHUNKING: a message sent with BDAT reaches the filter whole, and
    its verdict is the reply to BDAT LAST."""
    m = milters({"eom": "reject"})
    srv = milter_server(make_server, [("f1", m)])
    msg = make_message(msgid="bdat@remote.example", body="chunked\r\n")
    with session(srv) as r:
        expect(r.cmd("MAIL FROM:<sender@remote.example>"), 250)
        expect(r.cmd("RCPT TO:<alice@example.test>"), 250)
        a, b = msg[:20], msg[20:]
        r.send(b"BDAT %d\r\n" % len(a) + a)
        expect(r.reply(), 250)
        r.send(b"BDAT %d LAST\r\n" % len(b) + b)
        rep = r.reply()
        assert (rep.code, rep.text) == (550, CONTENT_REJECTED), rep
        m.script = {}
        expect(r.cmd("MAIL FROM:<sender@remote.example>"), 250)
        expect(r.cmd("RCPT TO:<alice@example.test>"), 250)
        r.send(b"BDAT %d LAST\r\n" % len(msg) + msg)
        queued_id(r.reply())
    srv.wait_for_mail("alice@example.test")
    bodies = [x.body for x in m.messages()]
    assert bodies == [b"chunked\r\n", b"chunked\r\n"], bodies


def test_slow_filter_does_not_block_other_sessions(make_server, milters):
    """One event loop (threads = 1): while a filter sits on one session's
    message, other sessions on the same loop are served at once; 20
    sessions at a time each get their message through, once."""
    import threading

    def eom(sess, args):
        subj = dict(sess.msg.headers).get("Subject")
        return "hang" if subj == "slow" else "accept"
    m = milters({"eom": eom})
    srv = milter_server(make_server, [("f1", m, {"content": "5s"})],
                        top={"threads": "1"})
    slow = session(srv)
    expect(slow.cmd("MAIL FROM:<sender@remote.example>"), 250)
    expect(slow.cmd("RCPT TO:<alice@example.test>"), 250)
    expect(slow.cmd("DATA"), 354)
    slow.send(make_message(subject="slow") + b".\r\n")
    m.wait_for(lambda mm: any("eom" in x.stages() for x in mm.sessions),
               what="slow eom")
    with session(srv) as r:
        queued_id(data(r, make_message(msgid="quick@remote.example")))
    # done while the slow message still waits for its filter
    assert m.sessions[0].t_closed is None, "served only after the timeout"
    errors = []

    def one(i):
        try:
            with session(srv) as r:
                queued_id(data(r, make_message(
                    msgid=f"par{i}@remote.example")))
        except BaseException as e:  # reported below
            errors.append(repr(e))
    ts = [threading.Thread(target=one, args=(i,)) for i in range(20)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(60)
    assert not errors, errors
    # the slow one gets its tempfail at the content timeout
    rep = slow.reply()
    assert (rep.code, rep.text) == (451, TEMPFAILED), rep
    slow.close()
    srv.wait_for_mail("alice@example.test", 21)
    assert len(ids_delivered(srv)) == 21
    srv.wait_queue_empty()


def test_odd_envelope_edits(make_server, milters):
    """Envelope edits at the edges: deleting a recipient the message does
    not have changes nothing; deleting every recipient is a discard; a
    null sender from CHGFROM gives Return-Path: <>; a sender or an added
    recipient that is no address is never used. The server serves on."""
    m = milters({"eom": [("delrcpt", "<nobody@example.test>"), "accept"]})
    srv = milter_server(make_server, [("f1", m)])
    with session(srv) as r:
        queued_id(data(r, make_message(msgid="o1@remote.example")))
    srv.wait_for_mail("alice@example.test", 1)
    m.script = {"eom": [("delrcpt", "<alice@example.test>"), "accept"]}
    with session(srv) as r:
        # no recipient left: a discard (as Postfix does)
        queued_id(data(r, make_message(msgid="o2@remote.example")))
    wait_log(srv, "event=milter_discard")
    m.script = {"eom": [("chgfrom", "<>"), "accept"]}
    with session(srv) as r:
        queued_id(data(r, make_message(msgid="o3@remote.example")))
    got = srv.wait_for_mail("alice@example.test", 2)
    assert any(g.startswith(b"Return-Path: <>") for g in got), got
    n = 2
    for edit in (("chgfrom", "<not a sender>"),
                 ("addrcpt", "<not an address>")):
        m.script = {"eom": [edit, "accept"]}
        with session(srv) as r:
            rep = data(r, make_message(msgid=f"{edit[0]}@remote.example"))
            assert rep.code in (250, 451), rep
            n += rep.code == 250
    m.script = {}
    with session(srv) as r:
        queued_id(data(r, make_message(msgid="o5@remote.example")))
    got = srv.wait_for_mail("alice@example.test", n + 1)
    bad = [("queued", i["id"], i["recipients"]) for i in srv.queue_json()
           if "not an address" in i["recipients"]]
    bad += [("Return-Path", g.split(b"\n", 1)[0]) for g in got
            if b"not a sender" in g.split(b"\n", 1)[0]]
    assert not bad, f"a filter's non-address used: {bad}"
    # each ignored change is logged, the address escaped
    log = wait_log(srv, "event=milter_change_ignored", 2)
    assert 'address="<not a sender>"' in log or \
        'address="not a sender"' in log, log[-2000:]
    srv.wait_queue_empty()
    ids = ids_delivered(srv)
    assert "o2@remote.example" not in ids, ids
    assert {"o1@remote.example", "o3@remote.example",
            "o5@remote.example"} <= set(ids), ids
    assert [p.parent.parent.name for p in srv.all_mail()] == \
        ["alice"] * len(ids), srv.all_mail()
    log_records(srv)


# -- hostile filters ---------------------------------------------------------

# (name, script, where it fails): the SMTP command whose reply carries the
# default action: "greet" (OPTNEG/connect), "mail" or "dot".
HOSTILE = [
    ("down", None, "mail"),
    ("version1", {"optneg": ("version", 1)}, "mail"),
    ("hang_optneg", {"optneg": "hang"}, "mail"),
    ("hang_mail", {"mail": "hang"}, "mail"),
    ("garbage_rcpt", {"rcpt": "garbage"}, "rcpt"),
    ("close_body", {"body": "close"}, "dot"),
    ("hang_eom", {"eom": "hang"}, "dot"),
    ("huge_eom", {"eom": "huge"}, "dot"),
]
GROUPS = {"a": HOSTILE[:4], "b": HOSTILE[4:]}


def run_hostile(srv, name, m, where, default, n):
    """One case on listener `name`: the failing command answered with the
    default action within the timeout, then (tempfail) the next MAIL of
    the session refused too, or (accept) the message delivered."""
    msgid = f"{name}.{default}@remote.example"
    timeout = 2.0 if where == "dot" else 1.0
    r = Raw("127.0.0.1", srv.ports[name], timeout=30)
    t0 = time.monotonic()
    expect(r.reply(), 220)
    expect(r.cmd(f"EHLO {CLIENT_NAME}"), 250)
    replies = []
    for cmd in ("MAIL FROM:<sender@remote.example>",
                "RCPT TO:<alice@example.test>", "DATA"):
        rep = r.cmd(cmd)
        replies.append(rep)
        if rep.code != 250:
            break
    if replies[-1].code == 354:
        # closing mid-message: after the first of several body chunks
        body = b"z" * 998 + b"\r\n" if name == "close_body" else b"hi\r\n"
        r.send(make_message(msgid=msgid, body=body * (200 if
               name == "close_body" else 1)) + b".\r\n")
        replies.append(r.reply())
    took = time.monotonic() - t0
    last = replies[-1]
    assert took < timeout + SLACK, (name, took, replies)
    if name.startswith("hang"):
        # the filter's timeout, not less
        assert took >= timeout - 0.1, (name, took, replies)
    if default == "tempfail":
        assert (last.code, last.text) == (451, TEMPFAILED), (name, replies)
        stage = {"mail": 0, "rcpt": 1, "dot": 3}[where]
        assert len(replies) == stage + 1, (name, replies)
        # every later MAIL of the session: 451 too
        expect(r.cmd("RSET"), 250)
        rep = r.cmd("MAIL FROM:<sender@remote.example>")
        assert (rep.code, rep.text) == (451, TEMPFAILED), (name, rep)
    else:
        assert last.code == 250 and queued_id(last), (name, replies)
        # the filter is skipped for the rest of the session
        rep = data(r, make_message(msgid="2." + msgid))
        queued_id(rep)
    r.close()
    # the filter's connection is closed (not left hanging)
    if not isinstance(m, str):
        m.wait_closed(n, timeout=timeout + SLACK)
    if name == "close_body":  # it went away with chunks still to come
        chunks = m.sessions[0].messages[0].chunks
        assert len(chunks) == 1 and chunks[0] < 200 * 1000, chunks
    wait_log(srv, f"milter={name} ", 1)
    return 2 if default == "accept" else 0


@pytest.mark.parametrize("group", sorted(GROUPS))
@pytest.mark.parametrize("default", ["tempfail", "accept"])
def test_hostile_filters(make_server, milters, default, group):
    cases = GROUPS[group]
    filters, mils = [], {}
    for name, script, where in cases:
        if script is None:
            m = f"inet:127.0.0.1:{free_closed_port()}"
        else:
            m = milters(script)
        mils[name] = m
        filters.append((name, m, {
            "default": default, "connect": "1s", "command": "1s",
            "content": "2s"}))
    listeners = [("mx", "127.0.0.1", "mx")] + \
        [(name, "127.0.0.1", "mx") for name, _, _ in cases]
    on = {name: name for name, _, _ in cases}
    srv = milter_server(make_server, filters, listeners=listeners, on=on)
    expected = 0
    for name, script, where in cases:
        expected += run_hostile(srv, name, mils[name], where, default, 1)
        # still serving: the same listener with the filter behaving
        m = mils[name]
        if not isinstance(m, str):
            m.script = {}
            with session(srv, srv.ports[name]) as r:
                queued_id(data(r, make_message(
                    msgid=f"ok.{name}.{default}@remote.example")))
            expected += 1
        # and the unfiltered listener
        with session(srv) as r:
            queued_id(data(r, make_message(
                msgid=f"mx.{name}.{default}@remote.example")))
        expected += 1
    srv.wait_for_mail("alice@example.test", expected)
    ids = ids_delivered(srv)
    assert len(ids) == expected
    srv.wait_queue_empty()
    log = srv.log()
    for name, _, where in cases:
        lines = [ln for ln in log.splitlines()
                 if "event=milter_error" in ln and f"milter={name} " in ln]
        assert lines, (name, log[-3000:])
        assert f"action={default}" in lines[0], lines[0]
        # a 10 MB reply is refused at its length, not at the timeout
        if name.startswith("huge"):
            assert "timeout" not in lines[0], lines[0]
        assert re.search(r"sid=\d+ .*stage=\S+ .*error=", lines[0]), lines[0]
    # every log line keeps the grammar whatever the filters sent
    log_records(srv)
    for name, m in mils.items():
        if name == "huge_eom":
            assert m.sessions[0].huge_sent < HUGE_LEN, m.sessions[0]
    assert srv.running()


def free_closed_port():
    """A loopback port with nothing listening (connect: refused)."""
    import socket
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port
