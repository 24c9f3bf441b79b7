# SPDX-License-Identifier: ISC
"""Issue 3, rate limits (token buckets, [limits]): per client IP,
connections per minute (421 4.7.0 at connect) and messages per minute
(450 4.7.1 at MAIL); per authenticated user, messages and recipients per
hour, either deferred (450 4.7.1 / 452 4.5.3) or accepted and held in
the queue until `tern queue release` (the default), with one warning
when the user first crosses the limit. Each reply names its limit.

Clients pose as other hosts by binding a 127.0.0.0/8 source address;
tests of the per-address limits set own_networks = none, as loopback is
otherwise one of the operator's own networks, with limits of its own
(issue 14, test_own_limits.py).
Limits are small, so no test waits for a bucket to refill."""

import smtplib
import json
import time

import pytest

from conftest import (CLIENT_NAME, PASSWORD, QUEUED_RE, Raw, expect,
                      make_message, raw_transaction, tls_client, wait_log)


def connect(srv, source):
    r = Raw(srv.host, srv.port, source=(source, 0))
    return r, r.reply_or_eof()


def test_connections_per_minute_per_ip(make_server):
    srv = make_server(limits={"ip_connections_per_minute": "3",
                              "own_networks": "none"})
    for _ in range(3):
        r, rep = connect(srv, "127.0.0.11")
        with r:
            expect(rep, 220)
            expect(r.cmd("QUIT"), 221)
    r, rep = connect(srv, "127.0.0.11")
    with r:
        expect(rep, 421, "4.7.0")
        assert "ip_connections_per_minute" in rep.text, rep
        assert r.closed_by_peer(timeout=5)
    # Another address has its own bucket.
    r, rep = connect(srv, "127.0.0.12")
    with r:
        expect(rep, 220)
    needle = ("event=rate_limited client=127.0.0.11 listener=mx "
              "limit=ip_connections_per_minute max=3")
    assert wait_log(srv, needle).count(needle) == 1


def test_messages_per_minute_per_ip(make_server):
    srv = make_server(limits={"ip_messages_per_minute": "2",
                              "own_networks": "none"})
    r, rep = connect(srv, "127.0.0.13")
    with r:
        expect(rep, 220)
        expect(r.cmd(f"EHLO {CLIENT_NAME}"), 250)
        for _ in range(2):
            expect(r.cmd("MAIL FROM:<a@remote.example>"), 250)
            expect(r.cmd("RSET"), 250)
        rep = expect(r.cmd("MAIL FROM:<a@remote.example>"), 450, "4.7.1")
        assert "ip_messages_per_minute" in rep.text, rep
        # The session goes on; a new connection is no way round it.
        expect(r.cmd("NOOP"), 250)
    r, rep = connect(srv, "127.0.0.13")
    with r:
        expect(rep, 220)
        expect(r.cmd(f"EHLO {CLIENT_NAME}"), 250)
        expect(r.cmd("MAIL FROM:<a@remote.example>"), 450, "4.7.1")
    # Another client is not affected, and its mail goes through.
    r, rep = connect(srv, "127.0.0.14")
    with r:
        expect(rep, 220)
        expect(r.cmd(f"EHLO {CLIENT_NAME}"), 250)
        raw_transaction(r)
    srv.wait_for_mail("alice@example.test")


def login(srv, user="alice@example.test"):
    """An authenticated submission session (STARTTLS, AUTH)."""
    s = smtplib.SMTP("127.0.0.1", srv.ports["submission"],
                     local_hostname=CLIENT_NAME, timeout=30)
    ctx = tls_client(srv.cert)
    ctx.check_hostname = False  # the cert names mx.example.test
    s.starttls(context=ctx)
    s.ehlo(CLIENT_NAME)
    assert s.login(user, PASSWORD)[0] == 235
    return s


def submit(s, sender, rcpts, subject="t"):
    """MAIL, RCPT..., DATA; the (code, text) of the first refusal or of
    the final reply, and the queue id when queued."""
    code, resp = s.mail(sender)
    if code != 250:
        return code, resp.decode(), None
    for rc in rcpts:
        code, resp = s.rcpt(rc)
        if code != 250:
            s.rset()
            return code, resp.decode(), None
    code, resp = s.data(make_message(subject=subject, sender=sender,
                                     to=rcpts[0]))
    text = resp.decode()
    m = QUEUED_RE.search(text)
    return code, text, m.group(1) if m else None


def test_user_messages_per_hour_defer(submission_server):
    srv = submission_server(limits={"user_messages_per_hour": "2",
                                    "user_limit_action": "defer"})
    with login(srv) as s:
        for i in range(2):
            code, text, _ = submit(s, "alice@example.test",
                                   ["bob@example.test"], f"m{i}")
            assert code == 250, text
        code, text, _ = submit(s, "alice@example.test", ["bob@example.test"])
        assert code == 450, text
        assert text.startswith("4.7.1 ") and \
            "user_messages_per_hour" in text, text
    # Per user, not per connection or per address: bob may still send.
    with login(srv, "bob@example.test") as s:
        code, text, _ = submit(s, "bob@example.test", ["alice@example.test"])
        assert code == 250, text
    with login(srv) as s:
        code, text, _ = submit(s, "alice@example.test", ["bob@example.test"])
        assert code == 450, text
    srv.wait_for_mail("bob@example.test", 2)
    srv.wait_for_mail("alice@example.test", 1)
    log = wait_log(srv, "event=user_limit ")
    assert log.count("event=user_limit ") == 1, log[-3000:]
    assert "user=alice@example.test limit=user_messages_per_hour max=2 " \
        "action=defer" in log


def test_user_recipients_per_hour_defer(submission_server):
    srv = submission_server(limits={"user_recipients_per_hour": "3",
                                    "user_limit_action": "defer"})
    with login(srv) as s:
        assert s.mail("alice@example.test")[0] == 250
        for rc in ("bob@example.test", "admin@example.test",
                   "x@remote.example"):
            assert s.rcpt(rc)[0] == 250
        code, resp = s.rcpt("y@remote.example")
        text = resp.decode()
        assert code == 452, text
        assert text.startswith("4.5.3 ") and \
            "user_recipients_per_hour" in text, text
        s.rset()


def test_hold_then_release(submission_server):
    """Default action: accepted, held, one warning, released by hand."""
    srv = submission_server(limits={"user_messages_per_hour": "1"})
    ids = []
    with login(srv) as s:
        for i in range(3):
            code, text, qid = submit(s, "alice@example.test",
                                     ["bob@example.test"], f"m{i}")
            assert code == 250 and qid, text
            ids.append(qid)
    srv.wait_for_mail("bob@example.test", 1)
    # The two over the limit wait in the queue, held.
    items = {i["id"]: i for i in srv.queue_json()}
    assert set(items) == set(ids[1:]), items
    assert all(i["state"] == "held" for i in items.values()), items
    log = wait_log(srv, f"event=queued id={ids[2]} ")
    assert log.count("event=user_limit ") == 1, log[-3000:]
    assert "limit=user_messages_per_hour max=1 action=hold" in log
    for qid in ids:
        line = [ln for ln in log.splitlines()
                if f"event=queued id={qid} " in ln][0]
        assert ("held=user_messages_per_hour" in line) == (qid != ids[0])
    # Still held a moment later: the scheduler does not send it.
    deadline = time.monotonic() + 1.0
    while time.monotonic() < deadline:
        assert len(srv.mail_files("bob@example.test")) == 1
        time.sleep(0.1)
    # `queue list --held` shows exactly the held ones (issue 3).
    r = srv.cli("queue", "list", "--held", "--json")
    held = [json.loads(ln)["id"] for ln in r.out.splitlines() if ln.strip()]
    assert sorted(held) == sorted(ids[1:]), r.out
    srv.cli("queue", "release", ids[1])
    srv.wait_for_mail("bob@example.test", 2)
    r = srv.cli("queue", "list", "--held")
    assert ids[2] in r.out and ids[1] not in r.out, r.out
    assert [i["id"] for i in srv.queue_json()] == [ids[2]]
    srv.cli("queue", "release", ids[2])
    srv.wait_for_mail("bob@example.test", 3)
    srv.wait_queue_empty()


def test_hold_on_recipients(submission_server):
    srv = submission_server(limits={"user_recipients_per_hour": "2"})
    with login(srv) as s:
        code, text, first = submit(s, "alice@example.test",
                                   ["bob@example.test", "admin@example.test"])
        assert code == 250, text
        code, text, qid = submit(s, "alice@example.test",
                                 ["bob@example.test"])
        assert code == 250 and qid, text
    srv.wait_for_mail("admin@example.test", 1)
    items = srv.queue_json()
    assert [(i["id"], i["state"]) for i in items] == [(qid, "held")], items
    wait_log(srv, "limit=user_recipients_per_hour max=2 action=hold")


def test_unauthenticated_mx_not_counted_per_user(make_server):
    """Per-user limits apply to AUTH users only: mx mail is unaffected."""
    srv = make_server(limits={"user_messages_per_hour": "1",
                              "user_limit_action": "defer"})
    for i in range(3):
        srv.send("x@remote.example", ["alice@example.test"],
                 make_message(subject=f"m{i}"))
    srv.wait_for_mail("alice@example.test", 3)


def test_check_config_shows_limits(make_server):
    srv = make_server(start=False,
                      limits={"ip_connections_per_minute": "30",
                              "user_limit_action": "defer"})
    r = srv.cli("check-config", "--all")
    for line in ("ip_connections_per_minute = 30\t; 0..1000000",
                 "ip_messages_per_minute = 0\t; 0..1000000",
                 "user_messages_per_hour = 500\t; 0..1000000",
                 "user_recipients_per_hour = 2000\t; 0..1000000",
                 "user_limit_action = defer"):
        assert line in r.out, r.out


@pytest.mark.parametrize("key,value,err", [
    ("ip_messages_per_minute", "1000001", "is out of range; use 0..1000000"),
    ("user_messages_per_hour", "lots", "expected a whole number"),
    ("user_limit_action", "drop", "expected hold or defer"),
])
def test_bad_limits_refused(make_server, key, value, err):
    srv = make_server(start=False, users=(), limits={key: value})
    r = srv.cli("check-config", check=False)
    assert r.returncode != 0
    assert "tern.conf:" in r.err and err in r.err, r.err
