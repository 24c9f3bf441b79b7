# SPDX-License-Identifier: ISC
"""Outbound delivery to remote peers that misbehave (issue 7).

A peer that never greets, greets one byte a second, answers EHLO with an
endless multi-line reply, sends binary junk instead of replies, or resets
the connection in the middle of the message body. For each: the attempt
ends within the configured timeouts with a temporary failure, the
message stays queued (no bounce, nothing lost), a message for a healthy
destination queued at the same time is delivered promptly, and once the
peer behaves, the retry delivers the message.
"""

import re
import time

import pytest

from conftest import make_message
from smtp_sink import HOSTILE_MODES, HostileSink, Sink
from test_remote import relay_server, submit

# Time-outs measured to the tenth of a second: run alone.
pytestmark = pytest.mark.serial

TIMEOUT = 4  # [queue] remote_timeout, seconds
# What tern's log gives as the reason of the deferral.
REASONS = {
    "silent": r"timed out waiting for the greeting",
    "trickle": r"timed out waiting for the greeting",
    "endless": r"reply too long",
    "garbage": r"malformed reply",
    "drop_data": r"connection closed by the server|write: "
                 r"(Connection reset|Broken pipe)|read: Connection reset",
}
# Modes whose attempt lasts until the timeout: the healthy delivery must
# finish while that attempt is still waiting.
SLOW = ("silent", "trickle")
SENDER = "alice@example.test"


@pytest.fixture
def peers():
    made = []

    def make(mode=None):
        s = HostileSink(mode) if mode else Sink()
        made.append(s)
        return s

    yield make
    for s in made:
        s.stop()


def deferred_line(srv, qid, rcpt, timeout):
    pat = re.compile(rf"event=deferred id={qid} to={re.escape(rcpt)} .*")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        m = pat.search(srv.log())
        if m:
            return m.group(0)
        time.sleep(0.05)
    pytest.fail(f"no deferral of {qid} to {rcpt} after {timeout}s:\n"
                f"{srv.log()[-3000:]}")


@pytest.mark.parametrize("mode", HOSTILE_MODES)
def test_hostile_remote(make_server, peers, mode):
    bad, good = peers(mode), peers()
    srv = relay_server(
        make_server,
        f"bad.test = 127.0.0.1:{bad.port} tls=none\n"
        f"good.test = 127.0.0.1:{good.port} tls=none\n",
        queue={"remote_timeout": f"{TIMEOUT}s", "connect_timeout": "2s",
               "delay_warning": "0"})
    # Big enough that the peer hangs up while tern still writes it.
    body = ("x" * 76 + "\r\n") * (8192 if mode == "drop_data" else 1)
    t_bad = time.monotonic()
    qid = submit(srv, SENDER, ["x@bad.test"],
                 make_message(subject=f"to {mode}", to="x@bad.test",
                              body=body))
    bad.wait_sessions(1, timeout=10)

    # A healthy destination is not held up by the hostile one.
    t0 = time.monotonic()
    submit(srv, SENDER, ["y@good.test"],
           make_message(subject="healthy", to="y@good.test"))
    got = good.wait_messages(1, timeout=TIMEOUT)
    took = time.monotonic() - t0
    assert got[0].rcpts == ["y@good.test"]
    assert took < TIMEOUT - 1, f"healthy delivery took {took:.2f}s"
    if mode in SLOW:
        assert bad.hostile_done == [], \
            "the hostile session ended before the healthy delivery"

    # The hostile attempt fails as a temporary error, within the timeout.
    line = deferred_line(srv, qid, "x@bad.test", timeout=TIMEOUT + 10)
    attempt = time.monotonic() - t_bad
    print(f"{mode}: healthy in {took:.3f}s; attempt {attempt:.1f}s: {line}")
    assert re.search(REASONS[mode], line), line
    assert attempt < TIMEOUT + 6, f"attempt took {attempt:.1f}s"
    ended = bad.wait_hostile_done(1, timeout=15)
    if mode == "drop_data":
        assert ended[0] == "dropped in DATA", ended
    if mode == "endless":
        # tern hung up on the reply, not the sink's line budget.
        assert ended[0].startswith("peer closed"), ended

    # Still queued, for that recipient, and never bounced.
    items = srv.queue_json()
    assert [i for i in items if i.get("id") == qid], items
    log = srv.log()
    assert f"event=failed id={qid}" not in log
    assert not bad.messages

    # The peer recovers: the retry delivers the message, exactly once.
    bad.mode = None
    m = bad.wait_messages(1, timeout=20)[0]
    assert m.rcpts == ["x@bad.test"]
    assert f"Subject: to {mode}".encode() in m.data
    srv.wait_queue_empty(timeout=20)
    assert len(bad.messages) == 1
    assert len(good.messages) == 1
    assert srv.mail_files(SENDER) == [], "a bounce or warning was sent"
    assert "event=failed" not in srv.log()
