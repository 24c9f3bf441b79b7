# SPDX-License-Identifier: ISC
"""`tern user ...` and `tern queue ...` against a running server."""

import json
import re
import stat
import time

import pytest

from conftest import PASSWORD, expect, make_message


def users_listed(srv):
    return srv.cli("user", "list").out.split()


def test_user_add_list_del(server):
    server.add_user("carol@example.test")
    listed = users_listed(server)
    for u in ("alice@example.test", "bob@example.test",
              "carol@example.test"):
        assert u in listed, listed
    r = server.cli("user", "add", "carol@example.test", "--password-stdin",
                   input="x\n", check=False)
    assert r.returncode != 0, "duplicate user accepted"
    server.cli("user", "del", "carol@example.test")
    assert "carol@example.test" not in users_listed(server)
    r = server.cli("user", "del", "carol@example.test", check=False)
    assert r.returncode != 0, "deleting a missing user succeeded"
    assert PASSWORD not in server.cli("user", "list").out


@pytest.mark.parametrize("addr", ["not-an-address", "@example.test",
                                  "a@", "a b@example.test", "",
                                  "a/b@example.test", "..@example.test",
                                  '".."@example.test', '"a/b"@example.test',
                                  ".hidden@example.test"],
                         ids=["no-at", "no-local", "no-domain", "space",
                              "empty", "slash", "dotdot", "quoted-dotdot",
                              "quoted-slash", "leading-dot"])
def test_user_add_invalid(server, addr):
    r = server.cli("user", "add", addr, "--password-stdin", input="pw\n",
                   check=False)
    assert r.returncode != 0, f"accepted user {addr!r}"
    assert r.err.strip(), "refused without saying why"


def test_user_add_empty_password_refused(server):
    r = server.cli("user", "add", "carol@example.test", "--password-stdin",
                   input="\n", check=False)
    assert r.returncode != 0


def test_password_stored_as_yescrypt(server):
    server.cli("user", "passwd", "alice@example.test", "--password-stdin",
               input="new secret 123\n")
    db = (server.data_dir / "tern.db").read_bytes()
    assert PASSWORD.encode() not in db
    assert b"new secret 123" not in db
    assert b"$y$" in db, "no yescrypt hash in tern.db"
    r = server.cli("user", "passwd", "nobody@example.test",
                   "--password-stdin", input="x\n", check=False)
    assert r.returncode != 0


def test_user_added_while_running(server):
    with server.raw() as r:
        expect(r.cmd("MAIL FROM:<a@remote.example>"), 250)
        expect(r.cmd("RCPT TO:<dave@example.test>"), 550, "5.1.1")
    server.add_user("Dave@Example.Test")  # case-folded for ASCII
    server.send("a@remote.example", ["dave@example.test"],
                make_message(subject="welcome dave"))
    [data] = server.wait_for_mail("dave@example.test", 1)
    assert (server.data_dir / "mail" / "example.test" / "dave"
            / "new").is_dir()
    assert b"Delivered-To: dave@example.test\n" in data


def test_user_deleted_while_running(server):
    server.cli("user", "del", "bob@example.test")
    with server.raw() as r:
        expect(r.cmd("MAIL FROM:<a@remote.example>"), 250)
        expect(r.cmd("RCPT TO:<bob@example.test>"), 550, "5.1.1")
        expect(r.cmd("RCPT TO:<alice@example.test>"), 250)


def test_data_dir_modes(server):
    """tern creates data_dir itself, nothing group/world-writable, and
    the password database not world-readable (its group may be a
    trusted reader such as Dovecot's)."""
    assert server.data_dir.is_dir()
    for p in [server.data_dir] + list(server.data_dir.rglob("*")):
        if p.is_symlink():
            continue
        mode = p.stat().st_mode
        if p == server.data_dir / "maildrop":
            # Anyone may drop mail, nobody may list or remove others'
            # drops: writable by all only with the sticky bit, no read.
            assert stat.S_IMODE(mode) == 0o1733, oct(mode)
            continue
        assert not mode & (stat.S_IWGRP | stat.S_IWOTH), \
            f"{p} is mode {oct(mode)}"
    db = server.data_dir / "tern.db"
    assert db.stat().st_mode & 0o007 == 0, oct(db.stat().st_mode)


def test_queue_list_empty(server):
    assert server.queue_json() == []
    r = server.cli("queue", "list")
    assert r.returncode == 0


def test_queue_show_unknown(server):
    r = server.cli("queue", "show", "NOSUCHID", check=False)
    assert r.returncode != 0
    r = server.cli("queue", "show", "../../etc/passwd", check=False)
    assert r.returncode != 0
    assert "root:" not in r.out


def test_queue_deferred_then_delivered(server):
    """A Maildir that cannot be created defers the message; queue list,
    --json and show describe it; once fixed, a retry delivers it."""
    blocker = server.maildir("bob@example.test")
    blocker.parent.mkdir(parents=True, exist_ok=True)
    blocker.write_text("I am a file where a Maildir should be\n")
    qid = server.send("queued@remote.example", ["bob@example.test"],
                      make_message(subject="deferred", msgid="def@test"))

    # bounded wait for a delivery attempt to have failed (logged)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        attempted = [ln for ln in server.log().splitlines()
                     if qid in ln and re.search(r"defer|retry|temp|error",
                                                ln, re.I)]
        if attempted:
            break
        time.sleep(0.05)
    else:
        pytest.fail(f"no failed attempt logged for {qid}:\n{server.log()}")

    items = server.queue_json()
    assert len(items) == 1, items
    it = items[0]
    for key in ("id", "sender", "recipients", "state"):
        assert key in it, f"key {key} missing in {it}"
    assert it["id"] == qid
    assert it["sender"] == "queued@remote.example"
    assert "bob@example.test" in json.dumps(it["recipients"])
    # the last error is shown (whatever the key is called)
    assert any("error" in k and v for k, v in it.items()), it

    line = [ln for ln in server.cli("queue", "list").out.splitlines()
            if qid in ln]
    assert len(line) == 1, server.cli("queue", "list").out
    assert "queued@remote.example" in line[0]
    assert "bob@example.test" in line[0]

    show = server.cli("queue", "show", qid).out
    assert qid in show and "queued@remote.example" in show
    assert "bob@example.test" in show
    # the message's header, read from the file the envelope came from
    assert "Subject: deferred" in show and "def@test" in show, show

    blocker.unlink()
    [data] = server.wait_for_mail("bob@example.test", 1, timeout=30)
    assert f"id {qid}".encode() in data
    server.wait_queue_empty()
    assert server.cli("queue", "show", qid, check=False).returncode != 0
