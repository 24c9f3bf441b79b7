# SPDX-License-Identifier: ISC
"""Issue 14, item 6: AUTH throttling that an outsider cannot turn against
users. Failures are counted per client (an IPv4 address, an IPv6 network
of auth_ipv6_prefix bits), never per account: a guesser is slowed, then
refused, while the real user logging in from elsewhere never is. User
names are normalized once, before counting and logging.

The IPv6 test needs a whole /64 of local addresses, which only a network
namespace of its own can give: it runs as root, and skips otherwise."""

import base64
import concurrent.futures
import ctypes
import os
import re
import shutil
import socket
import ssl
import subprocess
import time
import uuid

import pytest

from conftest import (CLIENT_NAME, PASSWORD, Raw, expect, tls_client,
                      wait_log)

USER = "alice@example.test"
ATTEMPTS = 1000
MAX_FAILURES = 3
# 1s, then 2s before the two 535s; the third failure gets the 421.
LIMITS = {"auth_fail_delay": "1s", "auth_max_failures": str(MAX_FAILURES),
          "auth_lockout": "1h", "max_errors": "1000"}
LOCKOUT_421 = "Too many failed authentication attempts"


def plain(user, password):
    return base64.b64encode(f"\0{user}\0{password}".encode()).decode()


class Client:
    """SMTP over implicit TLS from a chosen source address."""

    def __init__(self, srv, host, source=None, freebind=False):
        port = srv.ports["smtps"]
        fam = socket.AF_INET6 if ":" in host else socket.AF_INET
        sock = socket.socket(fam, socket.SOCK_STREAM)
        try:
            sock.settimeout(30)
            if freebind:  # any address of a local /64 (IPV6_FREEBIND)
                sock.setsockopt(socket.IPPROTO_IPV6, 78, 1)
            if source is not None:
                sock.bind((source, 0))
            sock.connect((host, port))
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            ctx = tls_client(srv.cert)
            ctx.check_hostname = False
            self.sock = ctx.wrap_socket(sock)
        except BaseException:
            sock.close()
            raise
        self.r = Raw.__new__(Raw)  # Raw's reader on our own socket
        self.r.sock, self.r.buf = self.sock, b""
        expect(self.r.reply(), 220)
        expect(self.r.cmd(f"EHLO {CLIENT_NAME}"), 250)

    def auth(self, user, password):
        """The reply to AUTH PLAIN, or None when the server has closed."""
        try:
            return self.r.cmd("AUTH PLAIN " + plain(user, password))
        except (EOFError, ConnectionResetError, ssl.SSLError):
            return None

    def close(self):
        self.r.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def login(srv, host, source=None, user=USER):
    """The reply code of one right login from source."""
    with Client(srv, host, source, freebind=":" in host) as c:
        rep = c.auth(user, PASSWORD)
    return rep.code if rep is not None else None


def tally(replies):
    """{'535': n, '421': n, '454': n, ...} of AUTH replies."""
    out = {}
    for rep in replies:
        k = "eof" if rep is None else str(rep.code)
        if rep is not None and rep.code == 421:
            assert LOCKOUT_421 in rep.text, rep
        out[k] = out.get(k, 0) + 1
    return out


def check_attack(replies, times):
    """Slowed (1 s, 2 s), then refused: exactly MAX_FAILURES checks."""
    got = tally(replies)
    assert got == {"535": MAX_FAILURES - 1, "421": 1,
                   "454": ATTEMPTS - MAX_FAILURES}, got
    slow = sorted(t for rep, t in zip(replies, times) if rep.code == 535)
    assert 0.9 <= slow[0] and 1.9 <= slow[1], slow
    for rep in replies:
        if rep.code == 454:
            assert rep.enh == "4.7.0", rep


# -- (a) one client address, 1,000 guesses --------------------------------

def test_guesser_on_one_address_never_stops_the_real_user(submission_server):
    """1,000 AUTH attempts for alice from 127.0.0.2, in sessions of up
    to 100: two 535s after 1 s and 2 s, a 421, then 454 without a check.
    Between the guesser's sessions alice logs in from 127.0.0.3, and
    gets 235 every time. On a server that locks the account, she gets
    454 from the guesser's third failure on."""
    srv = submission_server(limits=LIMITS, listeners=[
        ("mx", "127.0.0.1", "mx"),
        ("smtps", "127.0.0.1", "submission", "implicit")])
    assert login(srv, "127.0.0.1", "127.0.0.3") == 235
    replies, times, codes = [], [], []
    while len(replies) < ATTEMPTS:
        # A new session after the 421, and after 100 attempts.
        with Client(srv, "127.0.0.1", "127.0.0.2") as c:
            for _ in range(min(100, ATTEMPTS - len(replies))):
                t0 = time.monotonic()
                rep = c.auth(USER, f"guess-{len(replies)}")
                if rep is None:
                    break
                replies.append(rep)
                times.append(time.monotonic() - t0)
                if rep.code == 421:
                    break
        codes.append(login(srv, "127.0.0.1", "127.0.0.3"))
    assert codes == [235] * 11, codes
    check_attack(replies, times)
    # From another address too.
    assert login(srv, "127.0.0.1", "127.0.0.1") == 235
    # The guesser stays refused, even with the right password.
    with Client(srv, "127.0.0.1", "127.0.0.2") as c:
        expect(c.auth(USER, PASSWORD), 454, "4.7.0")
    # (Log lines may trail the replies: the log is read by a thread.)
    log = wait_log(srv, 'reply="454 4.7.0 Too many failed',
                   ATTEMPTS - MAX_FAILURES + 1)
    assert re.search(r"event=auth_failed sid=\d+ client=127\.0\.0\.2 "
                     r"user=alice@example\.test mech=PLAIN "
                     r"reason=bad_credentials failures=3 key=127\.0\.0\.2 "
                     r"delay=0\b", log)
    # Refused before the exchange: no check, one line each.
    refused = re.findall(r"event=reject sid=\d+ client=127\.0\.0\.2 "
                         r"reply=\"454 4\.7\.0 Too many failed "
                         r"authentication attempts; try again in \d+ "
                         r"seconds\"", log)
    assert len(refused) == ATTEMPTS - MAX_FAILURES + 1, len(refused)
    assert log.count("reason=bad_credentials") == MAX_FAILURES
    assert "client=127.0.0.3 user=alice@example.test mech=PLAIN" in log
    assert not re.search(r"event=auth_failed [^\n]*client=127\.0\.0\.[13] ",
                         log)


def test_parallel_guesses_cannot_race_past_the_limit(submission_server):
    """40 sessions from one address send their guess at once: still only
    MAX_FAILURES are checked, the rest wait their turn and get 454."""
    srv = submission_server(limits=LIMITS, listeners=[
        ("mx", "127.0.0.1", "mx"),
        ("smtps", "127.0.0.1", "submission", "implicit")])
    n = 40
    clients = [Client(srv, "127.0.0.1", "127.0.0.4") for _ in range(n)]
    try:
        for i, c in enumerate(clients):  # all in flight before any reply
            c.r.send("AUTH PLAIN " + plain(USER, f"guess-{i}") + "\r\n")
        replies = [c.r.reply() for c in clients]
    finally:
        for c in clients:
            c.close()
    got = tally(replies)
    assert got == {"535": MAX_FAILURES - 1, "421": 1,
                   "454": n - MAX_FAILURES}, got
    log = wait_log(srv, "reason=bad_credentials", MAX_FAILURES)
    assert log.count("reason=bad_credentials") == MAX_FAILURES
    assert login(srv, "127.0.0.1", "127.0.0.5") == 235


def test_parallel_right_logins_from_one_address_all_pass(submission_server):
    """The other side of the same rule: a crowd of right logins from one
    address (a webmail, an office behind NAT) waits in line, never gets
    refused."""
    srv = submission_server(limits=LIMITS, listeners=[
        ("mx", "127.0.0.1", "mx"),
        ("smtps", "127.0.0.1", "submission", "implicit")])
    n = 30
    clients = [Client(srv, "127.0.0.1", "127.0.0.6") for _ in range(n)]
    try:
        for c in clients:
            c.r.send("AUTH PLAIN " + plain(USER, PASSWORD) + "\r\n")
        codes = [c.r.reply().code for c in clients]
    finally:
        for c in clients:
            c.close()
    assert codes == [235] * n, codes
    assert wait_log(srv, "event=auth sid=", n).count("event=auth sid=") == n
    assert "event=auth_busy" not in srv.log()


# -- (b) 1,000 addresses of one IPv6 /64 ----------------------------------

CLONE_NEWNET = 0x40000000
ATTACK_NET = "2001:db8:1::"
OTHER_NET = "2001:db8:2::"


def ip(*args):
    subprocess.run(["ip", *args], check=True, capture_output=True,
                   timeout=30)


@pytest.fixture
def netns():
    """A fresh network namespace with lo up and two /64s local to it;
    always deleted. Its name, for `ip netns exec` and setns(2)."""
    if os.geteuid() != 0:
        pytest.skip("needs root: creates a network namespace (ip netns)")
    if shutil.which("ip") is None:
        pytest.skip("needs iproute2's ip(8) for a network namespace")
    name = f"tern-auth-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    try:
        ip("netns", "add", name)
    except subprocess.CalledProcessError as e:
        pytest.skip(f"ip netns add failed: {e.stderr.decode().strip()}")
    try:
        ip("-n", name, "link", "set", "lo", "up")
        for net in (ATTACK_NET, OTHER_NET):
            ip("-n", name, "-6", "route", "add", "local", net + "/64",
               "dev", "lo")
        yield name
    finally:
        subprocess.run(["ip", "netns", "del", name], capture_output=True,
                       timeout=30)
    assert not os.path.exists(f"/run/netns/{name}")


def enter_netns(name):
    """Move the calling thread (only it) into the namespace."""
    libc = ctypes.CDLL(None, use_errno=True)
    fd = os.open(f"/run/netns/{name}", os.O_RDONLY | os.O_CLOEXEC)
    try:
        if libc.setns(fd, CLONE_NEWNET) != 0:
            err = ctypes.get_errno()
            raise OSError(err, os.strerror(err), "setns")
    finally:
        os.close(fd)


def test_guesser_on_a_whole_ipv6_64_never_stops_the_real_user(
        submission_server, netns):
    """1,000 addresses of 2001:db8:1::/64, one guess each, 8 at a time:
    one client for tern (auth_ipv6_prefix = 64), so two 535s (after 1 s
    and 2 s), a 421 and 997 x 454. alice, logging in from ::1 and from
    2001:db8:2::1 throughout, always gets 235. On a server that counts
    each address and the account, she is locked out."""
    srv = submission_server(limits=LIMITS, start=False, listeners=[
        ("mx", "127.0.0.1", "mx"),
        ("smtps", "::1", "submission", "implicit")])
    srv.wrapper = ["ip", "netns", "exec", netns]
    srv.start()

    def attempt(i):
        src = f"{ATTACK_NET}{(i * 40503) & 0xffff:x}:{i:x}:7:{i + 1:x}"
        with Client(srv, "::1", src, freebind=True) as c:
            t0 = time.monotonic()
            rep = c.auth(USER, f"guess-{i}")
            return rep, time.monotonic() - t0, src

    def locked():
        with Client(srv, "::1", f"{ATTACK_NET}abcd", freebind=True) as c:
            return c.auth(USER, PASSWORD)

    results, codes = [], []
    with pool_in(netns, 8) as pool:
        # Batches of 100 guesses; alice logs in after each, from ::1
        # and from another /64.
        for first in range(0, ATTEMPTS, 100):
            results += pool.map(attempt, range(first, first + 100))
            for src in ("::1", f"{OTHER_NET}{first + 1:x}"):
                codes.append(pool.submit(login, srv, "::1", src)
                             .result(60))
        # The attacked /64 stays refused, even with the right password.
        expect(pool.submit(locked).result(60), 454, "4.7.0")
    assert codes == [235] * 20, codes
    assert len({src for _, _, src in results}) == ATTEMPTS
    replies = [rep for rep, _, _ in results]
    check_attack(replies, [t for _, t, _ in results])
    log = wait_log(srv, "event=auth sid=", len(codes))
    assert re.search(r"event=auth_failed sid=\d+ client=2001:db8:1:[0-9a-f:]+ "
                     r"user=alice@example\.test mech=PLAIN "
                     r"reason=bad_credentials failures=3 "
                     r"key=2001:db8:1::/64 delay=0\b", log)
    assert not re.search(r"event=auth_failed [^\n]*key=(::/64|"
                         r"2001:db8:2::/64)", log)
    assert log.count("event=auth sid=") == len(codes)


def pool_in(name, n=1):
    """Threads that run in the namespace."""
    return concurrent.futures.ThreadPoolExecutor(
        max_workers=n, initializer=enter_netns, initargs=(name,))


# -- (c) one user, however spelled ----------------------------------------

def test_user_names_are_normalized_before_counting_and_logging(
        submission_server):
    """alice@EXAMPLE.TEST. and Alice@example.test are alice@example.test:
    in the failure lines, the success line and the session's identity.
    A login does not go through aliases."""
    srv = submission_server(limits={"auth_fail_delay": "0s",
                                    "auth_max_failures": "5"}, listeners=[
        ("mx", "127.0.0.1", "mx"),
        ("smtps", "127.0.0.1", "submission", "implicit")])
    srv.add_alias("al@example.test", USER)
    with Client(srv, "127.0.0.1", "127.0.0.7") as c:
        expect(c.auth("alice@EXAMPLE.TEST.", "wrong"), 535, "5.7.8")
        expect(c.auth("Alice@example.test", "wrong"), 535, "5.7.8")
        expect(c.auth("al@example.test", PASSWORD), 535, "5.7.8")
        expect(c.auth("ALICE@Example.Test.", PASSWORD), 235, "2.7.0")
        expect(c.r.cmd("MAIL FROM:<alice@example.test>"), 250)
    log = wait_log(srv, "event=auth sid=")
    failed = [ln for ln in log.splitlines() if "event=auth_failed" in ln]
    assert len(failed) == 3, failed
    for n, (ln, user) in enumerate(zip(failed, [USER, USER,
                                                "al@example.test"])):
        assert re.search(rf"event=auth_failed sid=\d+ client=127\.0\.0\.7 "
                         rf"user={re.escape(user)} mech=PLAIN "
                         rf"reason=bad_credentials failures={n + 1} "
                         rf"key=127\.0\.0\.7 delay=0$", ln), ln
    assert re.search(r"event=auth sid=\d+ client=127\.0\.0\.7 "
                     r"user=alice@example\.test mech=PLAIN", log)
    assert "EXAMPLE" not in log and "Alice@" not in log
