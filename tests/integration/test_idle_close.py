# SPDX-License-Identifier: ISC
"""Idle outbound sessions are closed on time (issue 15): after a message,
an SMTP or LMTP session waits IDLE_SECS (5 s, deliver/remote.c) for the
next message to the same destination, and is then closed with QUIT even
when no other mail moves (before, only the next delivery reaped it, so a
quiet server held the connection open until it stopped).
"""

import time

import pytest

from conftest import TIME_SCALE, make_message
from test_remote import relay_server, sinks, submit  # noqa: F401

IDLE_SECS = 5.0  # deliver/remote.c
# Closed no earlier than this after its last message (a reaper that
# closes early would break reuse), and no later than this.
EARLY = IDLE_SECS - 0.5
LATE = IDLE_SECS + 3.0 * TIME_SCALE


@pytest.mark.parametrize("lmtp", [False, True], ids=["smtp", "lmtp"])
def test_idle_session_closed_on_time(make_server, sinks, lmtp):
    sink = sinks(lmtp=lmtp)
    route = (f"lmtp:127.0.0.1:{sink.port}" if lmtp
             else f"127.0.0.1:{sink.port} tls=none")
    srv = relay_server(make_server, f"idle.test = {route}\n")
    submit(srv, "alice@example.test", ["x@idle.test"],
           make_message(to="x@idle.test"))
    sink.wait_messages(1)
    # A second message inside the idle time reuses the session, and its
    # idle time starts again from there.
    submit(srv, "alice@example.test", ["y@idle.test"],
           make_message(to="y@idle.test"))
    sink.wait_messages(2)
    t_last = time.monotonic()
    assert sink.sessions == 1, "the idle session was not reused"
    # Nothing else moves now: the server alone must close it.
    ended = sink.wait_ended(1, timeout=LATE + 5)
    sid, how, t_end = ended[0]
    assert how == "quit", f"session ended by {how}, not QUIT: {ended}"
    assert sink.commands[-1] == "QUIT"
    idle = t_end - t_last
    assert idle >= EARLY, f"closed after {idle:.2f}s idle: too early"
    assert idle <= LATE, f"closed after {idle:.2f}s idle: too late"
    assert sink.sessions == 1
    assert srv.running()
    # The next message opens a new session, which is closed again on time.
    submit(srv, "alice@example.test", ["z@idle.test"],
           make_message(to="z@idle.test"))
    sink.wait_messages(3)
    assert sink.sessions == 2
    ended = sink.wait_ended(2, timeout=LATE + 5)
    assert ended[1][1] == "quit", ended


def test_stop_while_idle_sends_quit(make_server, sinks):
    """Shutdown stops the reaper and still closes idle sessions politely
    (and the server exits 0, sanitizer-clean: make_server checks)."""
    sink = sinks()
    srv = relay_server(make_server,
                       f"idle.test = 127.0.0.1:{sink.port} tls=none\n")
    submit(srv, "alice@example.test", ["x@idle.test"],
           make_message(to="x@idle.test"))
    sink.wait_messages(1)
    t0 = time.monotonic()
    srv.stop()  # inside the idle time: the session is still open
    ended = sink.wait_ended(1, timeout=10)
    assert ended[0][1] == "quit", ended
    assert ended[0][2] - t0 < 10
