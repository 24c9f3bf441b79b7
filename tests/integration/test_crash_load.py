# SPDX-License-Identifier: ISC
"""kill -9 under load (issue 7; issue 20: 20 rounds, 0 lost, 0 duplicated).

SENDERS client threads keep sessions open and send MESSAGES messages in
total; the test sends SIGKILL to the server at random moments, ROUNDS
times, and restarts it. A client that loses its session before the 250
sends the message again on a new session, as a new message: every
attempt has its own Message-ID (load-N-A), so a copy of an attempt
never 250'd is told apart from the server's own duplicate.

At the end every attempt that got a 250 must be in the mailbox once,
exactly as sent: none lost, none truncated, none delivered twice (the
server's duplicate: a delivery cut by a kill before the spool recorded
it and repeated after restart; local delivery names its file after the
queue id and recipient, so the retry finds it). An attempt without a 250
that was delivered anyway is the client's duplicate (RFC 5321 6.1: the
250 was lost in the kill and the client sent the message again); it is
allowed, counted and printed, as are the deliveries the server found
already made (event=already_delivered).

The default (2,000 messages, 20 sessions, 20 kills) takes about 20 s on
2 cores under ASan; TERN_LONG=1 runs 20,000 messages and 60 kills.
TERN_CRASH_SEED=N replays one run, TERN_CRASH_ROUNDS=N changes the
number of kills. The summary line starts with "crash-load:" (pytest -s
shows it); README "Reliability" quotes it.
"""

import hashlib
import os
import random
import re
import socket
import threading
import time

import pytest

from conftest import QUEUED_RE, Raw, expect, header_block, message_id_of

# A load test with kill -9: run alone (make integration).
pytestmark = pytest.mark.serial

LONG = os.environ.get("TERN_LONG") == "1"
MESSAGES = 20000 if LONG else 2000
SENDERS = 20
ROUNDS = int(os.environ.get("TERN_CRASH_ROUNDS", 60 if LONG else 20))
USERS = [f"u{i}@example.test" for i in range(4)]
QID_RE = re.compile(rb"\bid ([0-9a-f]{20})\b")
MID_RE = re.compile(r"^load-(\d+)-(\d+)@test$")
FOUND_RE = re.compile(r"event=already_delivered ")
DEADLINE = 600 if LONG else 150  # seconds for the sending phase


def body_of(n, rng):
    """Message n: lines of varied length, a few up to 20 kB in all, so a
    kill lands in DATA as well as between commands."""
    lines = [f"message {n} line {i} " + "x" * rng.randrange(0, 200)
             for i in range(rng.choice((1, 5, 40, 100)))]
    return ("\r\n".join(lines) + "\r\n-- end " + str(n) + " --\r\n").encode()


def make_msg(n, rng):
    """Recipient, body and digest of message n; make_attempt() adds the
    header of one attempt at sending it."""
    body = body_of(n, rng)
    return USERS[n % len(USERS)], body, hashlib.sha256(body).hexdigest()


def make_attempt(n, attempt, rcpt, body, digest):
    head = (f"From: <s{n}@remote.example>\r\nTo: <{rcpt}>\r\n"
            f"Subject: crash load {n}\r\n"
            f"Message-ID: <load-{n}-{attempt}@test>\r\n"
            f"X-Digest: {digest}\r\n\r\n").encode()
    return head + body


def split_body(data):
    """Body of a delivered file, LF line ends back to CRLF."""
    for sep in (b"\r\n\r\n", b"\n\n"):
        i = data.find(sep)
        if i != -1:
            body = data[i + len(sep):]
            return body.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    return b""


class Sender(threading.Thread):
    def __init__(self, srv, work, acked, lock, stop, errors):
        super().__init__(daemon=True)
        self.srv, self.work, self.acked = srv, work, acked
        self.lock, self.stop, self.errors = lock, stop, errors
        self.r = None
        self.broken = 0
        self.refused = 0

    def session(self):
        if self.r is not None:
            return self.r
        r = Raw(self.srv.host, self.srv.port, timeout=20)
        try:
            expect(r.reply(), 220)
            expect(r.cmd("EHLO client.example.test"), 250)
        except BaseException:
            r.close()
            raise
        self.r = r
        return r

    def drop(self):
        if self.r is not None:
            self.r.close()
            self.r = None

    def send_one(self, n, rcpt, msg):
        r = self.session()
        # Pipelined, as real clients do: MAIL, RCPT, DATA in one write.
        r.send(f"MAIL FROM:<s{n}@remote.example>\r\nRCPT TO:<{rcpt}>\r\n"
               "DATA\r\n")
        expect(r.reply(), 250)
        expect(r.reply(), 250)
        expect(r.reply(), 354)
        r.send(msg + b".\r\n")
        rep = expect(r.reply(), 250, "2.0.0")
        return QUEUED_RE.search(rep.text).group(1)

    def run(self):
        for n, rcpt, body, digest in self.work:
            attempt = 0
            while not self.stop.is_set():
                # A new attempt, a new message: only a 250 ends the loop.
                msg = make_attempt(n, attempt, rcpt, body, digest)
                attempt += 1
                try:
                    qid = self.send_one(n, rcpt, msg)
                except ConnectionRefusedError:
                    self.refused += 1  # down between kill and restart
                    self.drop()
                    time.sleep(0.02)
                    continue
                except (OSError, EOFError, AssertionError):
                    self.broken += 1
                    # Killed under us (or refused while down): the
                    # message was not acked, so it is sent again.
                    self.drop()
                    time.sleep(0.02)
                    continue
                except BaseException as e:
                    self.errors.append(repr(e))
                    return
                with self.lock:
                    self.acked[n] = (attempt - 1, qid)
                break
        if self.r is not None:
            try:
                self.r.cmd("QUIT")
            except (OSError, EOFError, AssertionError):
                pass
            self.drop()


def wait_listening(srv, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((srv.host, srv.port), 1):
                return
        except OSError:
            time.sleep(0.02)
    raise AssertionError("server not accepting after restart")


def found_in_log(srv):
    """event=already_delivered lines of the server's current process."""
    return len(FOUND_RE.findall(srv.log()))


def kill_rounds(srv, rng, acked, lock):
    """ROUNDS times: wait for a share of the messages, kill -9 at a random
    moment, restart. Returns the acked counts at each kill and the
    already_delivered lines of the processes killed."""
    kills, found = [], 0
    for k in range(ROUNDS):
        # Kill after a random share of the messages, at a random moment.
        target = (k + 1) * MESSAGES // (ROUNDS + 1)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with lock:
                if len(acked) >= target:
                    break
            time.sleep(0.005)
        time.sleep(rng.random() * 0.2)
        with lock:
            kills.append(len(acked))
        srv.kill9()
        found += found_in_log(srv)  # the log is kept until start()
        time.sleep(rng.random() * 0.3)  # clients retry against a dead port
        srv.start()
        wait_listening(srv)
    return kills, found


def tally(srv, msgs, acked):
    """What is in the mailboxes: per attempt (n, a), its queue ids; the
    damaged and the unexpected files."""
    got, truncated, foreign = {}, [], []
    for f in srv.all_mail():
        data = f.read_bytes()
        m = MID_RE.match(message_id_of(data) or "")
        if m is None:
            foreign.append(f.name)
            continue
        n, a = int(m.group(1)), int(m.group(2))
        q = QID_RE.search(data)
        got.setdefault((n, a), []).append(q.group(1) if q else b"?")
        digest = dict((k.lower(), v) for k, v in header_block(data)) \
            .get("x-digest")
        body = split_body(data)
        if n not in msgs or digest != msgs[n][2] or \
                hashlib.sha256(body).hexdigest() != msgs[n][2]:
            truncated.append((n, a, f.name, len(body)))
        elif f.parent.parent.name != msgs[n][0].split("@")[0]:
            foreign.append(f"{f.name}: load-{n}-{a} in "
                           f"{f.parent.parent.name}")
    return got, truncated, foreign


def test_kill9_under_load(make_server):
    seed = int(os.environ.get("TERN_CRASH_SEED", random.randrange(1 << 30)))
    rng = random.Random(seed)
    srv = make_server(users=USERS,
                      limits={"max_connections_per_ip": "200"},
                      queue={"delivery_threads": "4"})
    msgs = {n: make_msg(n, rng) for n in range(MESSAGES)}
    work = [[] for _ in range(SENDERS)]
    for n in range(MESSAGES):
        work[n % SENDERS].append((n,) + msgs[n])
    acked, lock, stop, errors = {}, threading.Lock(), threading.Event(), []
    senders = [Sender(srv, w, acked, lock, stop, errors) for w in work]
    t0 = time.monotonic()
    for s in senders:
        s.start()
    kills, found = kill_rounds(srv, rng, acked, lock)
    for s in senders:
        s.join(max(1, DEADLINE - (time.monotonic() - t0)))
    stop.set()
    hung = [s for s in senders if s.is_alive()]
    for s in senders:
        s.join(10)
    assert not errors, errors[:5]
    assert not hung, f"{len(hung)} senders still running after {DEADLINE}s"
    with lock:
        acked = dict(acked)
    assert len(acked) == MESSAGES, f"only {len(acked)} of {MESSAGES} acked"
    send_s = time.monotonic() - t0

    srv.wait_queue_empty(timeout=120)
    found += found_in_log(srv)
    got, truncated, foreign = tally(srv, msgs, acked)
    lost = sorted(n for n, (a, _) in acked.items() if (n, a) not in got)
    # The server's duplicate: one attempt (one DATA, one queue id) in
    # the mailbox twice.
    twice = {f"load-{n}-{a}": q for (n, a), q in got.items() if len(q) > 1}
    # The client's: an attempt whose 250 never arrived, delivered too.
    resent = sorted(f"load-{n}-{a}" for (n, a) in got if acked[n][0] != a)
    # An acked attempt must carry the queue id its 250 gave.
    wrong_qid = sorted(n for n, (a, q) in acked.items()
                       if (n, a) in got and q.encode() not in got[(n, a)])
    broken = sum(s.broken for s in senders)
    refused = sum(s.refused for s in senders)
    print(f"\ncrash-load: seed={seed} messages={MESSAGES} "
          f"sessions={SENDERS} kills={len(kills)} at_acked={kills} "
          f"acked={len(acked)} delivered={sum(map(len, got.values()))} "
          f"lost={len(lost)} truncated={len(truncated)} "
          f"server_duplicates={len(twice)} "
          f"already_delivered_found={found} "
          f"client_resends_delivered={len(resent)} "
          f"sessions_broken={broken} connects_refused={refused} "
          f"send_seconds={send_s:.1f}")
    assert not lost, f"seed {seed}: 250'd but never delivered: {lost[:20]}"
    assert not truncated, f"seed {seed}: damaged: {truncated[:10]}"
    assert not foreign, f"seed {seed}: unexpected files: {foreign[:10]}"
    assert not twice, f"seed {seed}: delivered twice by the server: " \
        f"{dict(list(twice.items())[:10])}"
    assert not wrong_qid, f"seed {seed}: not the 250's queue id: " \
        f"{wrong_qid[:10]}"
