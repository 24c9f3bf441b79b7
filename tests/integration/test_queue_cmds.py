# SPDX-License-Identifier: ISC
"""`tern queue flush|retry|hold|release|delete` (issue 4), with the server
running (requests through <data_dir>/queue/control/) and without it."""

import time

import pytest

from conftest import make_message, wait_log
from test_remote import relay_server, sinks, submit, wait_log  # noqa: F401

SLOW = {"retry_initial": "1h", "retry_max": "2h"}


def deferred_once(make_server, sinks, n=1):
    """A server whose remote said 451 to the first n messages, so each
    waits an hour for its next attempt."""
    sink = sinks()
    state = {"n": 0}

    def rcpt(a):
        state["n"] += 1
        return "451 4.3.0 busy" if state["n"] <= n else "250 2.1.5 Ok"

    sink.rcpt_reply = rcpt
    srv = relay_server(make_server,
                       f"relay.test = 127.0.0.1:{sink.port} tls=none\n",
                       queue=SLOW)
    ids = []
    for i in range(n):
        ids.append(submit(srv, "alice@example.test", [f"x{i}@relay.test"],
                          make_message(to=f"x{i}@relay.test")))
    deadline = time.monotonic() + 20
    while srv.log().count("event=deferred") < n:
        assert time.monotonic() < deadline, srv.log()[-2000:]
        time.sleep(0.05)
    return srv, sink, ids


def test_retry_delivers_now(make_server, sinks):
    srv, sink, ids = deferred_once(make_server, sinks)
    item = srv.queue_json()[0]
    assert item["state"] == "deferred"
    assert item["next_attempt"] > time.time() + 1000
    assert "busy" in item["errors"]["x0@relay.test"]
    srv.cli("queue", "retry", ids[0])
    sink.wait_messages(1, timeout=10)
    srv.wait_queue_empty()
    assert "event=queue_retry id=" + ids[0] in srv.log()


def test_flush_delivers_all(make_server, sinks):
    srv, sink, ids = deferred_once(make_server, sinks, n=2)
    srv.cli("queue", "flush")
    sink.wait_messages(2, timeout=10)
    srv.wait_queue_empty()


def test_hold_and_release(make_server, sinks):
    srv, sink, ids = deferred_once(make_server, sinks)
    srv.cli("queue", "hold", ids[0])
    assert srv.queue_json()[0]["state"] == "held"
    # A flush does not touch a held message: it left the schedule.
    srv.cli("queue", "flush")
    wait_log(srv, "event=queue_flush messages=0")
    assert not sink.messages
    srv.cli("queue", "release", ids[0])
    sink.wait_messages(1, timeout=10)
    srv.wait_queue_empty()


def test_delete_without_bounce(make_server, sinks):
    srv, sink, ids = deferred_once(make_server, sinks)
    srv.cli("queue", "delete", ids[0])
    srv.wait_queue_empty(timeout=5)
    # The log line may trail the removal the CLI saw.
    wait_log(srv, "event=queue_delete id=" + ids[0])
    assert srv.mail("alice@example.test") == []


def test_offline_hold_survives_restart(make_server, sinks):
    srv, sink, ids = deferred_once(make_server, sinks)
    srv.stop()
    srv.cli("queue", "hold", ids[0])
    srv.cli("queue", "retry", ids[0])  # offline: next attempt = now
    srv.start()
    wait_log(srv, "event=held id=" + ids[0])
    assert not sink.messages
    srv.cli("queue", "release", ids[0])
    sink.wait_messages(1, timeout=10)
    srv.wait_queue_empty()


def test_bad_arguments(make_server):
    srv = make_server()
    r = srv.cli("queue", "hold", "nonsense", check=False)
    assert r.returncode == 1 and "not a queue id" in r.err
    r = srv.cli("queue", "retry", "0" * 20, check=False)
    assert r.returncode == 1 and "no message" in r.err
    r = srv.cli("queue", "flush", "extra", check=False)
    assert r.returncode == 64
    r = srv.cli("queue", "flush")
    assert r.returncode == 0
