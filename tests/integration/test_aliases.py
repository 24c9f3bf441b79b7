# SPDX-License-Identifier: ISC
"""Aliases: one to several, catch-all @domain, chains, loops."""

import time

import pytest

from conftest import expect, make_message


def test_alias_to_several(server):
    server.add_alias("team@example.test", "alice@example.test",
                     "bob@example.test")
    qid = server.send("a@remote.example", ["Team@Example.Test"],
                      make_message(subject="to the team", msgid="team@t"))
    for u in ("alice@example.test", "bob@example.test"):
        [data] = server.wait_for_mail(u, 1)
        assert f"Delivered-To: {u}\n".encode() in data
        assert f"id {qid}".encode() in data
    server.wait_queue_empty()
    assert len(server.all_mail()) == 2


def test_catch_all(server):
    server.add_alias("@example.org", "admin@example.test")
    with server.raw() as r:
        expect(r.cmd("MAIL FROM:<a@remote.example>"), 250)
        expect(r.cmd("RCPT TO:<anything@example.org>"), 250)
        expect(r.cmd("RCPT TO:<Else@EXAMPLE.ORG>"), 250)
        # the catch-all is for example.org only
        expect(r.cmd("RCPT TO:<nobody@example.test>"), 550, "5.1.1")
        expect(r.cmd("DATA"), 354)
        r.send("Subject: catch all\r\n\r\nx\r\n.\r\n")
        expect(r.reply(), 250, "2.0.0")
    # both RCPTs end in the same mailbox: one copy (RFC 5321 3.7.1 does
    # not require duplicates; one file per final recipient)
    [got] = server.wait_for_mail("admin@example.test", 1)
    assert b"catch all" in got
    server.wait_queue_empty()
    assert len(server.mail_files("admin@example.test")) == 1


def test_alias_chain(server):
    server.add_alias("first@example.test", "second@example.org")
    server.add_alias("second@example.org", "alice@example.test")
    server.send("a@remote.example", ["first@example.test"],
                make_message(subject="chain"))
    [data] = server.wait_for_mail("alice@example.test", 1)
    assert b"chain" in data


def test_alias_list_and_del(server):
    server.add_alias("list@example.test", "alice@example.test",
                     "bob@example.test")
    out = server.cli("alias", "list").out
    assert "list@example.test" in out
    assert "alice@example.test" in out and "bob@example.test" in out
    server.cli("alias", "del", "list@example.test", "bob@example.test")
    server.send("a@remote.example", ["list@example.test"],
                make_message(subject="one left"))
    server.wait_for_mail("alice@example.test", 1)
    server.wait_queue_empty()
    assert server.mail_files("bob@example.test") == []
    server.cli("alias", "del", "list@example.test")
    assert "list@example.test" not in server.cli("alias", "list").out
    with server.raw() as r:
        expect(r.cmd("MAIL FROM:<a@remote.example>"), 250)
        expect(r.cmd("RCPT TO:<list@example.test>"), 550, "5.1.1")
    r = server.cli("alias", "del", "list@example.test", check=False)
    assert r.returncode != 0, "deleting a missing alias succeeded"


@pytest.mark.parametrize("loop", [
    [("self@example.test", "self@example.test")],
    [("l1@example.test", "l2@example.test"),
     ("l2@example.test", "l1@example.test")],
    [("l1@example.test", "l2@example.test"),
     ("l2@example.test", "l3@example.org"),
     ("l3@example.org", "l1@example.test")],
], ids=["self", "two", "three"])
def test_alias_loop(server, loop):
    """A loop is refused at RCPT (5xx) or accepted and never delivered;
    never a crash or a hang."""
    for alias, target in loop:
        r = server.cli("alias", "add", alias, target, check=False)
        if r.returncode != 0:
            # refusing to create the loop is fine too
            assert r.err.strip()
    head = loop[0][0]
    with server.raw() as r:
        expect(r.cmd("MAIL FROM:<>"), 250)
        rep = r.cmd(f"RCPT TO:<{head}>")
        assert rep.code == 250 or 500 <= rep.code <= 599, rep
        accepted = rep.code == 250
        if accepted:
            expect(r.cmd("DATA"), 354)
            r.send("Subject: loop marker\r\n\r\nx\r\n.\r\n")
            rep = r.reply()
            assert rep.code == 250 or 500 <= rep.code <= 599, rep
        expect(r.cmd("NOOP"), 250, "2.0.0")
    # a normal message after it still goes through
    server.send("a@remote.example", ["alice@example.test"],
                make_message(subject="after loop"))
    server.wait_for_mail("alice@example.test", 1)
    if accepted:
        # bounded: give the looping message time to (not) arrive
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and server.queue_json():
            time.sleep(0.1)
    for f in server.all_mail():
        assert b"loop marker" not in f.read_bytes(), f
    assert server.running()
