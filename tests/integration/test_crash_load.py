# SPDX-License-Identifier: ISC
"""kill -9 under load (issue 7, "Fault injection and crash safety").

SENDERS client threads keep sessions open and send MESSAGES messages in
total; a killer thread sends SIGKILL to the server at random moments,
ROUNDS times, and restarts it. A client that loses its session (before the
250) sends the same message again on a new session. At the end every
message that got a 250 must be in the mailbox exactly as sent: none lost,
none truncated. A message whose 250 was lost in the kill is sent again
and may arrive twice, and a delivery cut by a kill before the spool
recorded it is repeated after restart (DESIGN.md allows a duplicate,
never a loss): both kinds are counted and printed; one queue id
delivered three times fails the test.

The default is the size the issue asks for (2,000 messages, 20 sessions,
8 kills; ~10 s on 2 cores under ASan); TERN_LONG=1 runs 20,000 messages
and 40 kills.
TERN_CRASH_SEED=N replays one run. The summary line starts with
"crash-load:" (pytest -s shows it); README "Reliability" quotes it.
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
ROUNDS = 40 if LONG else 8
USERS = [f"u{i}@example.test" for i in range(4)]
QID_RE = re.compile(rb"\bid ([0-9a-f]{20})\b")
DEADLINE = 600 if LONG else 150  # seconds for the sending phase


def body_of(n, rng):
    """Message n: lines of varied length, a few up to 20 kB in all, so a
    kill lands in DATA as well as between commands."""
    lines = [f"message {n} line {i} " + "x" * rng.randrange(0, 200)
             for i in range(rng.choice((1, 5, 40, 100)))]
    return ("\r\n".join(lines) + "\r\n-- end " + str(n) + " --\r\n").encode()


def make_msg(n, rng):
    body = body_of(n, rng)
    digest = hashlib.sha256(body).hexdigest()
    rcpt = USERS[n % len(USERS)]
    head = (f"From: <s{n}@remote.example>\r\nTo: <{rcpt}>\r\n"
            f"Subject: crash load {n}\r\nMessage-ID: <load-{n}@test>\r\n"
            f"X-Digest: {digest}\r\n\r\n").encode()
    return rcpt, head + body, digest


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
        for n, rcpt, msg in self.work:
            while not self.stop.is_set():
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
                    self.acked[n] = qid
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


def test_kill9_under_load(make_server):
    seed = int(os.environ.get("TERN_CRASH_SEED", random.randrange(1 << 30)))
    rng = random.Random(seed)
    srv = make_server(users=USERS,
                      limits={"max_connections_per_ip": "200"},
                      queue={"delivery_threads": "4"})
    msgs = {}
    for n in range(MESSAGES):
        msgs[n] = make_msg(n, rng)
    work = [[] for _ in range(SENDERS)]
    for n in range(MESSAGES):
        work[n % SENDERS].append((n, msgs[n][0], msgs[n][1]))
    acked, lock, stop, errors = {}, threading.Lock(), threading.Event(), []
    senders = [Sender(srv, w, acked, lock, stop, errors) for w in work]
    t0 = time.monotonic()
    for s in senders:
        s.start()

    kills = []
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
        time.sleep(rng.random() * 0.3)  # clients retry against a dead port
        srv.start()
        wait_listening(srv)

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
    seen, qids, truncated, foreign = {}, {}, [], []
    for f in srv.all_mail():
        data = f.read_bytes()
        mid = message_id_of(data) or ""
        if not (mid.startswith("load-") and mid.endswith("@test")):
            foreign.append(f.name)
            continue
        n = int(mid[5:-5])
        seen[n] = seen.get(n, 0) + 1
        m = QID_RE.search(data)
        qids.setdefault(n, []).append(m.group(1) if m else b"?")
        digest = dict((k.lower(), v) for k, v in header_block(data)) \
            .get("x-digest")
        body = split_body(data)
        if digest != msgs[n][2] or \
                hashlib.sha256(body).hexdigest() != msgs[n][2]:
            truncated.append((n, f.name, len(body)))
        if f.parent.parent.name != msgs[n][0].split("@")[0]:
            foreign.append(f"{f.name}: load-{n} in {f.parent.parent.name}")
    lost = sorted(set(acked) - set(seen))
    dups = {n: c for n, c in seen.items() if c > 1}
    # Same queue id twice: delivered, then killed before the spool knew
    # (redelivery). Two queue ids: the 250 was lost in the kill and the
    # client sent the message again (the client's duplicate).
    redelivered = sum(1 for n in dups if len(set(qids[n])) < len(qids[n]))
    broken = sum(s.broken for s in senders)
    refused = sum(s.refused for s in senders)
    print(f"\ncrash-load: seed={seed} messages={MESSAGES} "
          f"sessions={SENDERS} kills={len(kills)} at_acked={kills} "
          f"acked={len(acked)} delivered={sum(seen.values())} "
          f"lost={len(lost)} truncated={len(truncated)} "
          f"duplicates={len(dups)} (redelivered={redelivered} "
          f"resent={len(dups) - redelivered}) sessions_broken={broken} "
          f"connects_refused={refused} "
          f"send_seconds={send_s:.1f}")
    assert not lost, f"seed {seed}: 250'd but never delivered: {lost[:20]}"
    assert not truncated, f"seed {seed}: damaged: {truncated[:10]}"
    assert not foreign, f"seed {seed}: unexpected files: {foreign[:10]}"
    # A client resend after each lost 250 is a new queue id (allowed);
    # one queue id delivered three times means recovery replays blindly.
    replayed = {n: q for n, q in qids.items()
                if max(q.count(x) for x in q) > 2}
    assert not replayed, f"seed {seed}: one queue id delivered 3+ " \
        f"times: {replayed}"
