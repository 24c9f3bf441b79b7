# SPDX-License-Identifier: ISC
"""Issue 3, who may send what: mx never relays (the classic relay tricks
are all refused and nothing is queued for another host), submission
relays only for authenticated clients and relay_networks, and an
authenticated user may send only as their own address or an alias that
points to them."""

import base64
import re

import pytest

from conftest import CLIENT_NAME, PASSWORD, Raw, expect, tls_client

USER = "alice@example.test"

# (RCPT argument, why it is a trick). Local domains: example.test/.org.
RELAY_TRICKS = [
    "<user%other.example@example.test>",      # percent hack
    '<"user@other.example"@example.test>',    # quoted @
    "<@example.test:user@other.example>",     # source route
    "<user@other.example@example.test>",      # two @
    "<other.example!user@example.test>",      # bang path
    "<user%other.example@EXAMPLE.TEST.>",     # odd case, trailing dot
    "<user@other.example.>",                  # trailing dot elsewhere
    "<user@example.test.other.example>",      # local as a prefix
    "<user@[192.0.2.1]>",                     # address literal
    "<user@[127.0.0.1]>",
    "<user@other.example>",                   # plain relay
    "<\"user%other.example\"@example.test>",
    "<@other.example,@example.test:user@other.example>",
]


def b64(s):
    return base64.b64encode(s.encode()).decode()


@pytest.mark.parametrize("rcpt", RELAY_TRICKS)
def test_mx_refuses_relay_trick(server, rcpt):
    with server.raw() as r:
        expect(r.cmd("MAIL FROM:<someone@remote.example>"), 250)
        rep = r.cmd(f"RCPT TO:{rcpt}")
        assert 500 <= rep.code < 600, (rcpt, rep)
        expect(r.cmd("DATA"), 503)  # no valid recipient at all
    assert server.queue_json() == []
    assert "relay=" not in server.log()


def test_mx_relay_tricks_nothing_queued_for_other_hosts(make_server):
    """All tricks in one transaction plus one real local recipient: the
    message goes to alice only."""
    srv = make_server(limits={"max_errors": "100"})
    with srv.raw() as r:
        expect(r.cmd("MAIL FROM:<someone@remote.example>"), 250)
        for rcpt in RELAY_TRICKS:
            rep = r.cmd(f"RCPT TO:{rcpt}")
            assert 500 <= rep.code < 600, (rcpt, rep)
        expect(r.cmd("RCPT TO:<ALICE@Example.Test.>"), 250)  # local, fine
        expect(r.cmd("DATA"), 354)
        r.send(b"Subject: x\r\n\r\nx\r\n.\r\n")
        expect(r.reply(), 250)
    got = srv.wait_for_mail("alice@example.test")
    assert len(got) == 1
    srv.wait_queue_empty()
    assert "other.example" not in srv.log().split("event=queued")[-1]


def tls_session(srv):
    r = Raw("127.0.0.1", srv.ports["submission"], timeout=30)
    expect(r.reply(), 220)
    expect(r.cmd(f"EHLO {CLIENT_NAME}"), 250)
    expect(r.cmd("STARTTLS"), 220)
    ctx = tls_client(srv.cert)
    ctx.check_hostname = False
    r.sock = ctx.wrap_socket(r.sock)
    expect(r.cmd(f"EHLO {CLIENT_NAME}"), 250)
    return r


def login(r, user=USER):
    expect(r.cmd("AUTH PLAIN " + b64(f"\0{user}\0{PASSWORD}")), 235)


def send(r, sender, rcpts):
    expect(r.cmd(f"MAIL FROM:<{sender}>"), 250)
    for x in rcpts:
        expect(r.cmd(f"RCPT TO:<{x}>"), 250)
    expect(r.cmd("DATA"), 354)
    r.send(b"Subject: relay\r\n\r\nhi\r\n.\r\n")
    return expect(r.reply(), 250)


def test_submission_unauthenticated_refused(submission_server):
    srv = submission_server()
    r = tls_session(srv)
    expect(r.cmd("MAIL FROM:<alice@example.test>"), 530, "5.7.0")
    expect(r.cmd("RCPT TO:<user@other.example>"), 503)
    r.close()
    assert srv.queue_json() == []


def test_submission_authenticated_relays(submission_server):
    srv = submission_server(queue={"retry_initial": "1h", "retry_max": "1h"})
    r = tls_session(srv)
    login(r)
    send(r, USER, ["friend@other.example", "bob@example.test"])
    r.close()
    srv.wait_for_mail("bob@example.test")
    log = srv.log()
    assert "to=friend@other.example relay=auth" in log
    # Queued for both (what remote delivery then does is not ours here).
    assert re.search(r"event=queued .*from=<alice@example\.test> nrcpt=2",
                     log), log


def test_relay_networks_submit_without_auth(submission_server):
    srv = submission_server(top={"relay_networks": "10.0.0.0/8 127.0.0.1/32"},
                            queue={"retry_initial": "1h", "retry_max": "1h"})
    with srv.raw(port=srv.ports["submission"]) as r:  # no TLS, no AUTH
        send(r, "app@whatever.example", ["friend@other.example"])
    assert "relay=network" in srv.log()
    # The mx listener still never relays, whatever the network.
    with srv.raw() as r:
        expect(r.cmd("MAIL FROM:<a@b.example>"), 250)
        expect(r.cmd("RCPT TO:<friend@other.example>"), 554, "5.7.1")


def test_relay_networks_other_net_refused(submission_server):
    srv = submission_server(top={"relay_networks": "10.0.0.0/8, ::1/128"})
    with srv.raw(port=srv.ports["submission"]) as r:
        expect(r.cmd("MAIL FROM:<app@whatever.example>"), 530, "5.7.0")


@pytest.fixture
def owned(submission_server):
    srv = submission_server(queue={"retry_initial": "1h", "retry_max": "1h"})
    srv.add_alias("sales@example.test", "alice@example.test",
                  "bob@example.test")
    srv.add_alias("bobs@example.test", "bob@example.test")
    return srv


@pytest.mark.parametrize("sender,code,enh", [
    ("alice@example.test", 250, None),
    ("ALICE@Example.TEST", 250, None),      # the same address
    ("sales@example.test", 250, None),      # alias that includes alice
    ("", 250, None),                        # null sender (bounces)
    ("bob@example.test", 553, "5.7.1"),     # another user
    ("bobs@example.test", 553, "5.7.1"),    # alias of another user
    ("nobody@example.test", 553, "5.7.1"),  # no such address
    ("alice@other.example", 553, "5.7.1"),  # someone else's domain
    ("alice@[127.0.0.1]", 553, "5.7.1"),
])
def test_sender_ownership(owned, sender, code, enh):
    r = tls_session(owned)
    login(r)
    rep = r.cmd(f"MAIL FROM:<{sender}>")
    expect(rep, code, enh)
    if code == 553:
        assert "not owned by user alice@example.test" in rep.text
    r.close()


def test_sender_ownership_any(submission_server):
    srv = submission_server(top={"sender_ownership": "any"})
    r = tls_session(srv)
    login(r)
    expect(r.cmd("MAIL FROM:<bob@example.test>"), 250)
    r.close()


def test_sender_check_pipelined(owned):
    """A rejected MAIL and the RCPTs pipelined after it stay in order."""
    r = tls_session(owned)
    login(r)
    r.send("MAIL FROM:<bob@example.test>\r\nRCPT TO:<bob@example.test>\r\n"
           "MAIL FROM:<sales@example.test>\r\nRCPT TO:<bob@example.test>\r\n"
           "DATA\r\n")
    expect(r.reply(), 553, "5.7.1")
    expect(r.reply(), 503)
    expect(r.reply(), 250)
    expect(r.reply(), 250)
    expect(r.reply(), 354)
    r.send(b"Subject: p\r\n\r\np\r\n.\r\n")
    expect(r.reply(), 250)
    r.close()
    owned.wait_for_mail("bob@example.test")
