# SPDX-License-Identifier: ISC
"""Many sessions at once: every accepted message is delivered exactly
once, to the right mailbox."""

import collections
import threading

from conftest import QUEUED_RE, make_message, message_id_of

NSESSIONS = 200
USERS = [f"c{i}@example.test" for i in range(4)]


def test_200_concurrent_sessions(make_server):
    srv = make_server(users=USERS,
                      limits={"max_connections": "1000",
                              "max_connections_per_ip": "400"})
    # All 200 sessions are open at the same time before any sends: the
    # barrier is passed only when every thread holds an EHLO'd session.
    barrier = threading.Barrier(NSESSIONS, timeout=60)
    results = [None] * NSESSIONS

    def worker(i):
        rcpt = USERS[i % len(USERS)]
        msgid = f"conc-{i}@test"
        try:
            with srv.smtp(timeout=60) as s:
                code, resp = s.ehlo()
                assert code == 250, resp
                barrier.wait()
                code, resp = s.mail(f"s{i}@remote.example")
                assert code == 250, resp
                code, resp = s.rcpt(rcpt)
                assert code == 250, resp
                code, resp = s.data(make_message(
                    subject=f"concurrent {i}", msgid=msgid, to=rcpt,
                    body=f"body of message {i}\r\n" * 20))
                assert code == 250, resp
                m = QUEUED_RE.search(resp.decode())
                assert m, resp
                results[i] = ("ok", m.group(1))
        except BaseException as e:  # reported below, thread by thread
            barrier.abort()
            results[i] = ("error", repr(e))

    threads = [threading.Thread(target=worker, args=(i,), daemon=True)
               for i in range(NSESSIONS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not any(t.is_alive() for t in threads), "client threads hung"
    errors = [(i, r) for i, r in enumerate(results) if r[0] != "ok"]
    assert not errors, f"{len(errors)} sessions failed, e.g. {errors[:5]}"
    qids = [r[1] for r in results]
    assert len(set(qids)) == NSESSIONS, "queue ids are not unique"

    per_user = NSESSIONS // len(USERS)
    for u in USERS:
        srv.wait_for_mail(u, per_user, timeout=90)
    srv.wait_queue_empty(timeout=60)

    seen = collections.Counter()
    for i, u in enumerate(USERS):
        for data in srv.mail(u):
            mid = message_id_of(data)
            seen[mid] += 1
            n = int(mid.split("-")[1].split("@")[0])
            assert USERS[n % len(USERS)] == u, f"{mid} delivered to {u}"
            assert f"id {qids[n]}".encode() in data, (mid, qids[n])
    want = {f"conc-{i}@test" for i in range(NSESSIONS)}
    assert set(seen) == want, sorted(want - set(seen))[:10]
    dups = {k: v for k, v in seen.items() if v != 1}
    assert not dups, f"delivered more than once: {dups}"
    assert len(srv.all_mail()) == NSESSIONS


def test_cli_while_sessions_deliver(make_server):
    """`tern user add` (SQLite writes) while the server delivers under
    load: no "database is locked" failure on either side."""
    srv = make_server(users=USERS)
    errors = []

    def sender(t):
        try:
            for i in range(10):
                srv.send(f"s{t}@remote.example", [USERS[t]],
                         make_message(msgid=f"cli-{t}-{i}@test",
                                      to=USERS[t]))
        except BaseException as e:
            errors.append(repr(e))

    threads = [threading.Thread(target=sender, args=(t,), daemon=True)
               for t in range(len(USERS))]
    for t in threads:
        t.start()
    for i in range(8):
        srv.add_user(f"new{i}@example.test")
    for t in threads:
        t.join(120)
    assert not errors, errors
    for u in USERS:
        srv.wait_for_mail(u, 10, timeout=60)
    # Every user added is visible to the running server. (A server that
    # loses its SQLite file locks lets the CLI delete the WAL under it;
    # it then never sees later changes. Seen here under load.)
    new = [f"new{i}@example.test" for i in range(8)]
    srv.send("x@remote.example", new, make_message())
    for u in new:
        srv.wait_for_mail(u, 1)
