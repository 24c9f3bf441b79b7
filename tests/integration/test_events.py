# SPDX-License-Identifier: ISC
"""Issue 17: the event socket (<data_dir>/events.sock) and the webhook.

A consumer on the socket sees every event in seq order, `since SEQ`
replays what it missed, one that does not read is cut off with an
overflow line while the server goes on, and only root and the service
user may connect. A webhook receiver that is down, then answers 503,
then 200, gets every event once, in order, with the bearer token.
"""

import json
import os
import socket
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from conftest import (CLIENT_NAME, QUEUED_RE, expect, free_port,
                      make_message)

TIMEOUT = 30.0


class Consumer:
    """A client of the event socket; lines() reads JSON lines."""

    def __init__(self, srv, hello=None):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(TIMEOUT)
        self.sock.connect(str(srv.data_dir / "events.sock"))
        self.buf = b""
        if hello is not None:
            self.sock.sendall(hello.encode() + b"\n")

    def close(self):
        self.sock.close()

    def line(self):
        """One decoded JSON object, or None at EOF."""
        while b"\n" not in self.buf:
            chunk = self.sock.recv(1 << 16)
            if not chunk:
                assert self.buf == b"", f"half a line at EOF: {self.buf!r}"
                return None
            self.buf += chunk
        raw, self.buf = self.buf.split(b"\n", 1)
        return json.loads(raw)

    def until(self, done, limit=100000):
        """Events until done(events) is true (bounded)."""
        got = []
        for _ in range(limit):
            ev = self.line()
            assert ev is not None, f"EOF after {len(got)} events"
            got.append(ev)
            if done(got):
                return got
        raise AssertionError(f"not done after {limit} events")



def journal_upto(srv, seq, timeout=10.0):
    """The journal's events, once it holds seq: the journal is written
    by a thread of its own a few milliseconds after the socket has an
    event (obs.c), so wait for it (bounded)."""
    end = time.monotonic() + timeout
    while True:
        path = srv.data_dir / "journal"
        lines = path.read_text().splitlines() if path.exists() else []
        events = [json.loads(x) for x in lines if x.endswith("}")]
        if (events and events[-1]["seq"] >= seq) or \
                time.monotonic() > end:
            return events
        time.sleep(0.02)

def removed_all(ids):
    want = set(ids)

    def done(events):
        return want <= {e.get("id") for e in events
                        if e["event"] == "removed"}
    return done


def assert_consecutive(events):
    seqs = [e["seq"] for e in events]
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs))), seqs


def send_many(srv, n, rcpt="alice@example.test"):
    """n messages over one SMTP session; their queue ids in order."""
    ids = []
    with srv.smtp() as s:
        assert s.ehlo()[0] == 250
        for i in range(n):
            assert s.mail("sender@remote.example")[0] == 250
            assert s.rcpt(rcpt)[0] == 250
            code, resp = s.data(make_message(subject=f"m{i}"))
            m = QUEUED_RE.search(resp.decode())
            assert code == 250 and m, resp
            ids.append(m.group(1))
    return ids


def test_socket_sees_every_state_change_in_order(make_server):
    srv = make_server()
    sock = srv.data_dir / "events.sock"
    assert (os.stat(sock).st_mode & 0o777) == 0o600
    assert os.stat(sock).st_uid == os.geteuid()
    # since 0: every event of this run, whenever the server takes the
    # connection (the live stream starts when it does).
    c = Consumer(srv, "since 0")
    ids = send_many(srv, 100)
    assert len(set(ids)) == 100
    events = c.until(removed_all(ids))
    c.close()
    assert_consecutive(events)
    for qid in ids:
        kinds = [e["event"] for e in events if e.get("id") == qid]
        assert kinds == ["accepted", "delivered", "removed"], (qid, kinds)
    mine = [e for e in events if e.get("id") in set(ids)]
    assert len(mine) == 300
    # The same lines as the journal, byte for byte in meaning.
    journal = journal_upto(srv, events[-1]["seq"])
    assert journal[:len(events)] == events


def test_since_replays_what_was_missed(make_server):
    srv = make_server()
    first = Consumer(srv, "since 0")
    ids = send_many(srv, 3)
    seen = first.until(removed_all(ids))
    first.close()
    # A consumer that had the first message's events comes back.
    k = next(e["seq"] for e in seen
             if e["event"] == "removed" and e["id"] == ids[0])
    later = send_many(srv, 2)  # while nobody listens
    c = Consumer(srv, f"since {k}")
    got = c.until(removed_all(later))
    assert got[0]["seq"] == k + 1
    assert_consecutive(got)
    journal = journal_upto(srv, got[-1]["seq"])
    assert got == [e for e in journal if e["seq"] > k][:len(got)]
    assert not any(e.get("id") == ids[0] for e in got)
    # Then live, without a gap.
    more = send_many(srv, 1)
    live = c.until(removed_all(more))
    assert live[0]["seq"] == got[-1]["seq"] + 1
    assert_consecutive(got + live)
    c.close()
    # A bad first line is refused with an error line, then closed.
    bad = Consumer(srv, "since yesterday")
    ev = bad.line()
    assert ev["event"] == "error" and "since SEQ" in ev["text"]
    assert bad.line() is None
    bad.close()


def refused_rcpts(srv, n, tag):
    """n RCPTs the server refuses (relay denied), pipelined; each is a
    `rejected` event of several hundred bytes."""
    far = "d" * 60 + "." + "e" * 60 + "." + "f" * 60 + ".example"
    with srv.raw(ehlo=False) as r:
        expect(r.cmd(f"EHLO {'h' * 60}.{'i' * 60}.{CLIENT_NAME}"), 250)
        expect(r.cmd(f"MAIL FROM:<{'s' * 60}@{far}>"), 250)
        for start in range(0, n, 100):
            batch = range(start, min(n, start + 100))
            r.send("".join(f"RCPT TO:<{tag}{i:05d}{'r' * 50}@{far}>\r\n"
                           for i in batch))
            for _ in batch:
                assert r.reply().code in (550, 554)


def test_consumer_that_does_not_read_is_cut_off(make_server):
    srv = make_server(limits={"max_errors": "1000"})
    stuck = Consumer(srv, "since 0")  # and never reads until the end
    # Its 1 MiB and the kernel's buffer fill, then the server's ring of
    # the last 10,000 events turns past what it has not had: cut off.
    for k in range(13):
        refused_rcpts(srv, 990, f"x{k}")
    # The server goes on: mail is accepted and delivered.
    ids = send_many(srv, 1)
    srv.wait_for_mail("alice@example.test", 1)
    # Now read: consecutive events, then the overflow line, then EOF.
    events = []
    for _ in range(20000):
        ev = stuck.line()
        assert ev is not None, "EOF before the overflow line"
        if ev["event"] == "overflow":
            break
        events.append(ev)
    assert ev == {"event": "overflow", "seq": events[-1]["seq"]}
    assert stuck.line() is None
    stuck.close()
    assert_consecutive(events)
    assert 500 < len(events) < 13 * 990
    assert "event=events_overflow" in srv.log()
    # `since N` gives what the ring still holds: the gap shows in seq.
    again = Consumer(srv, f"since {ev['seq']}")
    rest = again.until(removed_all(ids))
    again.close()
    assert rest[0]["seq"] > ev["seq"]
    assert_consecutive(rest)
    assert 9000 < len(rest) <= 10000


AS_NOBODY = r"""
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.settimeout(20)
try:
    s.connect(sys.argv[1])
except PermissionError:
    print("EACCES"); sys.exit(0)
data = b""
try:  # the server may close before or after our line
    s.sendall(b"since 0\n")
    while True:
        chunk = s.recv(65536)
        if not chunk:
            break
        data += chunk
except (BrokenPipeError, ConnectionResetError):
    pass
print("CLOSED" if data == b"" else "DATA")
"""


def as_nobody(path):
    r = subprocess.run(
        ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups",
         sys.executable, "-c", AS_NOBODY, str(path)],
        capture_output=True, text=True, timeout=TIMEOUT)
    assert r.returncode == 0, r.stderr
    return r.stdout.strip()


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to be nobody")
def test_other_uid_cannot_read_events(make_server):
    srv = make_server(public=True)
    send_many(srv, 1)  # there is something to read
    sock = srv.data_dir / "events.sock"
    # data_dir is the server's own; open the way to the socket only.
    os.chmod(srv.data_dir, os.stat(srv.data_dir).st_mode | 0o005)
    assert (os.stat(sock).st_mode & 0o777) == 0o600
    assert as_nobody(sock) == "EACCES"
    # Even with the mode opened by mistake, SO_PEERCRED refuses it.
    os.chmod(sock, 0o666)
    assert as_nobody(sock) == "CLOSED"
    assert "event=events_refused uid=65534" in srv.log()


class Receiver:
    """A webhook receiver on loopback: answers 503 to the first
    `fail_first` requests, 200 after; keeps what it answered 2xx to."""

    def __init__(self, port, fail_first=1):
        self.batches = []  # lists of events, 2xx-answered, in order
        self.requests = []  # (status, headers) of every request
        self.fail_left = fail_first
        self.lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):
                n = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(n)
                with outer.lock:
                    status = 503 if outer.fail_left > 0 else 200
                    outer.fail_left -= 1
                    outer.requests.append((status, dict(self.headers)))
                    if status == 200:
                        outer.batches.append(json.loads(body))
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        # Threads: curl keeps its connection open between POSTs.
        self.httpd = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever,
                                       daemon=True)
        self.thread.start()

    def events(self):
        with self.lock:
            return [e for b in self.batches for e in b]

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def wait_for(pred, what, srv):
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        if pred():
            return
        time.sleep(0.05)
    pytest.fail(f"{what} after {TIMEOUT}s\nlog:\n{srv.log()[-3000:]}")


def test_webhook_gets_every_event_once_in_order(make_server, tmp_path):
    port = free_port()
    token = tmp_path / "hook-token"
    token.write_text("t0ken-for.the_hook\n")
    os.chmod(token, 0o600)
    srv = make_server(obs={"webhook_url": f"http://127.0.0.1:{port}/hook",
                           "webhook_token_file": str(token)})
    # Down (nothing listens): mail goes on, the webhook fails.
    ids = send_many(srv, 5)
    wait_for(lambda: "event=webhook_failed" in srv.log(),
             "no webhook_failed", srv)
    assert 'error="Failed to connect' in srv.log() or \
        "Connection refused" in srv.log()
    # Up, answering 503 once: retried, then taken.
    rcv = Receiver(port, fail_first=1)
    try:
        ids += send_many(srv, 5)
        done = removed_all(ids)
        wait_for(lambda: done(rcv.events()), "not every event", srv)
        got = rcv.events()
    finally:
        rcv.stop()
    seqs = [e["seq"] for e in got]
    assert len(seqs) == len(set(seqs)), "an event came twice"
    assert seqs == sorted(seqs)
    # Every event of the journal, none missing, from the first.
    journal = journal_upto(srv, got[-1]["seq"])
    assert got == journal[:len(got)]
    assert seqs[0] == journal[0]["seq"]
    for b in rcv.batches:
        assert 1 <= len(b) <= 100
    statuses = [s for s, _ in rcv.requests]
    assert statuses[0] == 503 and 200 in statuses
    for _, headers in rcv.requests:
        assert headers["Authorization"] == "Bearer t0ken-for.the_hook"
        assert headers["Content-Type"] == "application/json"
    assert "event=webhook_recovered" in srv.log()
    assert "t0ken" not in srv.log()  # never logged


def test_webhook_token_file_must_be_private(make_server, tmp_path):
    token = tmp_path / "hook-token"
    token.write_text("t0ken\n")
    os.chmod(token, 0o644)
    srv = make_server(obs={"webhook_url": "http://127.0.0.1:9/hook",
                           "webhook_token_file": str(token)}, start=False)
    r = subprocess.run(
        [os.environ.get("TERN_BIN", "/work/main/build-asan/tern"),
         "serve", "-c", str(srv.conf_path)],
        capture_output=True, text=True, timeout=TIMEOUT)
    assert r.returncode != 0
    assert f"webhook_token_file {token}: readable by others" in r.stderr
    assert "t0ken" not in r.stderr.replace(str(token), "")
