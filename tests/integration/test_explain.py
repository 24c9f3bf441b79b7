# SPDX-License-Identifier: ISC
"""`tern explain ID|ADDRESS` (issue 17): the story of a message read back
from the journal the server wrote.

A real server delivers to a Maildir, to a sink that answers 451 once and
then 250 (deferred, then delivered), to a sink that answers 550 (a
bounce), holds and deletes one, and refuses an unknown user; explain
tells each, by id and by address, in words and in JSON, with the server
running and stopped. Rotation, torn and garbage lines and a symbolic
link are checked on journals written by the test (no server: that is
the point of a reader of files).
"""

import json
import os
import re
import threading
import time

import pytest

from conftest import make_message
from smtp_sink import Sink

QUEUE = {"retry_initial": "1s", "retry_max": "1s", "delivery_threads": "2",
         "remote_timeout": "5s", "connect_timeout": "2s"}
WAIT = 30.0
# Relaying to relay.test: the submission listener, from relay_networks.
LISTENERS = [("mx", "127.0.0.1", "mx"), ("sub", "127.0.0.1", "submission")]


@pytest.fixture
def sink():
    s = Sink()
    yield s
    s.stop()


def journal_events(srv):
    """Every event in data_dir/journal.1 and journal, in order."""
    out = []
    for name in ("journal.1", "journal"):
        path = srv.data_dir / name
        if not path.exists():
            continue
        for line in path.read_text("utf-8", "replace").splitlines():
            try:
                out.append(json.loads(line))
            except ValueError:
                pass  # a line being written
    return out


def wait_event(srv, pred, what, timeout=WAIT):
    """Poll the journal until an event satisfies pred; return it."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for ev in journal_events(srv):
            if pred(ev):
                return ev
        time.sleep(0.05)
    pytest.fail(f"no {what} in the journal after {timeout}s:\n"
                f"{journal_events(srv)}\nlog:\n{srv.log()[-3000:]}")


def wait_kind(srv, qid, kind, timeout=WAIT):
    return wait_event(srv, lambda e: e.get("id") == qid and
                      e.get("event") == kind, f"{kind} of {qid}", timeout)


def explain(srv, *args, code=0):
    r = srv.cli("explain", *args, check=False)
    assert r.returncode == code, (
        f"`tern explain {' '.join(args)}` exited {r.returncode}, not "
        f"{code}:\nstdout: {r.out}\nstderr: {r.err}")
    return r


def test_local_refused_by_address_json_stopped(make_server):
    """Delivered into a Maildir; a refused RCPT; by address; --json; the
    same answers once the server is stopped."""
    srv = make_server(obs={"journal": "on"})
    qid = srv.send("sender@remote.example", ["bob@example.test"],
                   make_message(to="bob@example.test"))
    srv.wait_for_mail("bob@example.test")
    with srv.raw() as r:
        assert r.cmd("MAIL FROM:<eve@remote.example>").code == 250
        assert r.cmd("RCPT TO:<nobody@example.test>").code == 550
        r.cmd("QUIT")
    wait_kind(srv, qid, "removed")
    wait_event(srv, lambda e: e.get("event") == "rejected" and
               e.get("to") == "nobody@example.test", "the refusal")

    for running in (True, False):
        out = explain(srv, qid).out
        assert out.startswith(f"Message {qid}\n"), out
        assert "accepted from 127.0.0.1, HELO client.example.test, " \
            "listener mx, no TLS\n" in out, out
        assert f"250 queued as {qid}: from <sender@remote.example>" in out
        assert "1 recipient: <bob@example.test>" in out
        assert "<bob@example.test>: delivered into Maildir " \
            "mail/example.test/bob (attempt 1, " in out, out
        assert "left the queue\n" in out
        assert "still in the queue" not in out

        # By address, the domain in any case: the same story.
        by_addr = explain(srv, "bob@EXAMPLE.test").out
        assert f"Message {qid}\n" in by_addr
        assert "delivered into Maildir" in by_addr

        ref = explain(srv, "nobody@example.test").out
        assert ref.startswith("Refused (no queue id)\n"), ref
        assert "refused at RCPT TO <nobody@example.test>: 550 5.1.1" in ref
        assert "(unknown user)" in ref
        assert "sender <eve@remote.example>" in ref

        stories = json.loads(explain(srv, qid, "--json").out)
        assert [s["id"] for s in stories] == [qid]
        kinds = [e["event"] for e in stories[0]["events"]]
        assert kinds == ["accepted", "delivered", "removed"], kinds
        assert stories[0]["events"][1]["to"] == "bob@example.test"
        seqs = [e["seq"] for e in stories[0]["events"]]
        assert seqs == sorted(seqs)

        none = explain(srv, "00000000000000000000", code=1)
        assert "no message 00000000000000000000 in the journal" in none.err
        assert none.out == ""
        gone = explain(srv, "nobody@nowhere.example", code=1)
        assert "no mail to or from nobody@nowhere.example" in gone.err
        if running:
            srv.stop()
    # Usage errors are not "not found".
    explain(srv, code=64)
    explain(srv, qid, "--limit", "0", code=64)
    explain(srv, qid, "--bogus", code=64)


def test_deferred_delivered_bounce_held(make_server, sink):
    """A 451 then 250, a 550 and its bounce, a hold and a delete."""
    tries = {}
    lock = threading.Lock()

    def rcpt_reply(addr):
        addr = addr.strip("<>")
        with lock:
            tries[addr] = tries.get(addr, 0) + 1
            n = tries[addr]
        if addr.startswith("later@"):
            return "451 4.3.0 try again later" if n == 1 else \
                "250 2.1.5 Ok"
        if addr.startswith("gone@"):
            return "550 5.1.1 no such mailbox here"
        if addr.startswith("stuck@"):
            return "451 4.3.0 still busy"
        return "250 2.1.5 Ok"

    sink.rcpt_reply = rcpt_reply
    srv = make_server(
        obs={"journal": "on"}, queue=QUEUE,
        top={"relay_networks": "127.0.0.0/8"}, listeners=LISTENERS,
        extra=f"\n[routes]\nrelay.test = 127.0.0.1:{sink.port} tls=none\n")
    later = srv.send("alice@example.test", ["later@relay.test"],
                     make_message(sender="alice@example.test",
                                  to="later@relay.test"),
                     port=srv.ports["sub"])
    gone = srv.send("alice@example.test", ["gone@relay.test"],
                    make_message(sender="alice@example.test",
                                 to="gone@relay.test"),
                    port=srv.ports["sub"])
    stuck = srv.send("alice@example.test", ["stuck@relay.test"],
                     make_message(sender="alice@example.test",
                                  to="stuck@relay.test"),
                     port=srv.ports["sub"])
    wait_kind(srv, later, "removed")
    bounced = wait_kind(srv, gone, "bounced")
    dsn = bounced.get("dsn_id")
    assert dsn, bounced
    wait_kind(srv, stuck, "deferred")
    srv.cli("queue", "hold", stuck)
    wait_kind(srv, stuck, "held")
    srv.cli("queue", "delete", stuck)
    wait_kind(srv, stuck, "deleted")
    srv.wait_for_mail("alice@example.test")  # the bounce
    wait_kind(srv, dsn, "removed")

    out = explain(srv, later).out
    assert f"Message {later}\n" in out
    assert "<later@relay.test>: deferred by smtp:" in out, out
    assert "(attempt 1, " in out
    assert "reply: 451 4.3.0 try again later" in out
    assert "next attempt at " in out and " UTC, " in out
    assert "<later@relay.test>: delivered to smtp:" in out
    assert "(attempt 2, " in out
    assert out.index("deferred by") < out.index("delivered to")
    assert "left the queue" in out

    out = explain(srv, gone).out
    assert "<gone@relay.test>: bounced by smtp:" in out, out
    assert "550 5.1.1 no such mailbox here" in out
    assert f"bounce sent to the sender as {dsn}\n" in out
    # The bounce's own delivery is part of the story, and asked by the
    # bounce's id it is the same story.
    assert f"[bounce {dsn}] <alice@example.test>: delivered into " \
        "Maildir mail/example.test/alice" in out, out
    assert explain(srv, dsn).out == out

    out = explain(srv, stuck).out
    assert "<stuck@relay.test>: deferred by smtp:" in out
    assert re.search(r"\n  \d\d:\d\d:\d\d\.\d{3}  held", out), out
    assert "deleted from the queue by the operator (no bounce)" in out
    assert "still in the queue" not in out

    # alice sent all three and got the bounce: with --limit 2 the two
    # latest, oldest first, and every story in JSON.
    stories = json.loads(explain(srv, "alice@example.test", "--json").out)
    ids = [s["id"] for s in stories]
    assert sorted(ids) == sorted([later, gone, stuck]), ids
    assert dsn in next(s for s in stories if s["id"] == gone)["ids"]
    two = json.loads(explain(srv, "alice@example.test", "--json",
                             "--limit", "2").out)
    assert len(two) == 2
    assert later not in [s["id"] for s in two]  # its last event is oldest


def ev(seq, kind, **kw):
    e = {"seq": seq, "time": f"2026-12-04T18:00:{seq:02d}.000Z",
         "event": kind}
    e.update(kw)
    return json.dumps(e, separators=(",", ":"))


def test_rotation_torn_garbage_symlink(make_server):
    """journal.1 then journal; a torn line continued by the next run, a
    garbage line and a torn last line are skipped and counted; a
    symbolic link is refused. No server runs."""
    srv = make_server(start=False)
    srv.data_dir.mkdir(parents=True, exist_ok=True)
    qid = "0005f1c2a3b4c5d6e7f8"
    old = [ev(1, "accepted", id=qid, **{"from": "a@remote.example"},
              rcpts=["carol@example.test"], client="192.0.2.1",
              listener="mx", size=10),
           ev(2, "deferred", id=qid, to="carol@example.test",
              route="local", relay="maildir:mail/example.test/carol",
              text="mailbox busy", attempt=1, delay=0.5,
              next_attempt=1796407205)]
    new = [ev(3, "delivered", id=qid, to="carol@example.test",
              route="local", relay="maildir:mail/example.test/carol",
              attempt=2, delay=3.0)[:30] + ev(4, "delivered", id=qid,
                                                to="carol@example.test",
                                                route="local", attempt=2,
                                                delay=3.0),
           "this is not json",
           ev(5, "removed", id=qid),
           ev(6, "accepted", id="x")[:20]]
    (srv.data_dir / "journal.1").write_text("\n".join(old) + "\n")
    (srv.data_dir / "journal").write_text("\n".join(new))  # torn end

    r = explain(srv, qid)
    out = r.out
    assert "accepted from 192.0.2.1" in out, out
    assert "<carol@example.test>: deferred at Maildir " \
        "mail/example.test/carol (attempt 1, 0.500 s after arrival)" in out
    assert "why: mailbox busy" in out
    assert "next attempt at 2026-12-04 18:00:05 UTC, 3 s later" in out
    assert "<carol@example.test>: delivered (attempt 2, 3.000 s after " \
        "arrival)" in out
    assert "left the queue" in out
    assert "skipped 2 journal lines" in r.err, r.err
    stories = json.loads(explain(srv, qid, "--json").out)
    assert [e["seq"] for e in stories[0]["events"]] == [1, 2, 4, 5]

    # Only journal.1 (the new one not made yet) still tells the start.
    os.rename(srv.data_dir / "journal", srv.data_dir / "journal.new")
    out = explain(srv, "CAROL@example.test", code=1).out
    assert out == ""
    out = explain(srv, "carol@EXAMPLE.TEST").out
    assert "still in the queue at the journal's end" in out

    os.symlink("journal.1", srv.data_dir / "journal")
    r = explain(srv, qid, code=74)
    assert "symbolic link" in r.err
    os.unlink(srv.data_dir / "journal")
    os.unlink(srv.data_dir / "journal.1")
    os.unlink(srv.data_dir / "journal.new")
    r = explain(srv, qid, code=1)
    assert "no journal yet" in r.err
