# SPDX-License-Identifier: ISC
"""Issue 14, item 2: the operator's own clients (relay_networks and
[limits] own_networks, loopback by default) get limits of their own
(own_max_connections_per_ip, own_ip_connections_per_minute,
own_ip_messages_per_minute); the per-address limits stay for strangers,
and max_connections (the total) for everyone. Refusals and log lines name
the limit that applied.

Every client here is on loopback: a client binds a 127.0.0.x source
address to play a stranger (outside own_networks) or an own client.
Limits are small, so no test waits for a bucket to refill."""

import pytest

from conftest import (CLIENT_NAME, Raw, expect, ipv6_available,
                      raw_transaction, wait_log)

OWN = "127.0.0.1"
STRANGER = "127.0.0.2"
# own_networks that leaves STRANGER (and the rest of 127/8) outside.
OWN_NET = {"own_networks": "127.0.0.1/32"}


def connect(srv, source, host=None):
    """A Raw session from `source` and its first reply (None: closed)."""
    r = Raw(host or srv.host, srv.port, source=(source, 0))
    return r, r.reply_or_eof()


def open_sessions(srv, source, n, host=None):
    """n sessions from source, each asserted to get its 220."""
    conns = []
    try:
        for i in range(n):
            r, rep = connect(srv, source, host)
            conns.append(r)
            assert rep is not None and rep.code == 220, \
                f"session {i + 1} of {n} from {source}: {rep}"
    except BaseException:
        close_all(conns)
        raise
    return conns


def close_all(conns):
    for c in conns:
        c.close()


def assert_refused(srv, source, limit, host=None):
    """The next session from source gets a 421 that names `limit`."""
    r, rep = connect(srv, source, host)
    with r:
        expect(rep, 421, "4.7.0")
        assert f"({limit})" in rep.text, rep
        assert r.closed_by_peer(timeout=5)
    return rep


def test_200_sessions_from_loopback_with_defaults(make_server):
    """A web application on the same host holds 200 sessions: each gets
    its 220 and sends (max_connections_per_ip is 50)."""
    srv = make_server()
    assert srv.limits["max_connections_per_ip"] == "50"
    conns = open_sessions(srv, OWN, 200)
    try:
        for r in conns:
            expect(r.cmd(f"EHLO {CLIENT_NAME}"), 250)
        for r in conns:
            raw_transaction(r)
        for r in conns:
            expect(r.cmd("QUIT"), 221)
    finally:
        close_all(conns)
    srv.wait_for_mail("alice@example.test", 200, timeout=120)
    assert "event=refused" not in srv.log()


def test_stranger_refused_per_ip_while_own_client_is_not(make_server):
    srv = make_server(limits={"max_connections_per_ip": "3", **OWN_NET})
    strangers = open_sessions(srv, STRANGER, 3)
    own = []
    try:
        rep = assert_refused(srv, STRANGER, "max_connections_per_ip")
        assert "Too many connections from your address: the limit is 3 " \
            "(max_connections_per_ip)" in rep.text, rep
        # At the same time, an own client is far past 3, and sends.
        own = open_sessions(srv, OWN, 10)
        expect(own[-1].cmd(f"EHLO {CLIENT_NAME}"), 250)
        raw_transaction(own[-1])
        # The strangers already in keep their sessions.
        for r in strangers:
            expect(r.cmd("NOOP"), 250)
    finally:
        close_all(strangers + own)
    srv.wait_for_mail("alice@example.test")
    needle = (f"event=refused client={STRANGER} listener=mx "
              "reason=max_connections_per_ip max=3")
    log = wait_log(srv, needle)
    assert log.count("event=refused") == 1, log[-3000:]


def test_stranger_connection_rate_while_own_client_is_not(make_server):
    srv = make_server(limits={"ip_connections_per_minute": "3", **OWN_NET})
    for _ in range(3):
        r, rep = connect(srv, STRANGER)
        with r:
            expect(rep, 220)
            expect(r.cmd("QUIT"), 221)
    rep = assert_refused(srv, STRANGER, "ip_connections_per_minute")
    assert "the limit is 3 per minute (ip_connections_per_minute)" in \
        rep.text, rep
    for _ in range(10):
        r, rep = connect(srv, OWN)
        with r:
            expect(rep, 220)
            expect(r.cmd("QUIT"), 221)
    log = wait_log(srv, "event=rate_limited")
    assert log.count("event=rate_limited") == 1, log[-3000:]
    assert (f"event=rate_limited client={STRANGER} listener=mx "
            "limit=ip_connections_per_minute max=3") in log


def test_stranger_message_rate_while_own_client_is_not(make_server):
    srv = make_server(limits={"ip_messages_per_minute": "2", **OWN_NET})
    r, rep = connect(srv, STRANGER)
    with r:
        expect(rep, 220)
        expect(r.cmd(f"EHLO {CLIENT_NAME}"), 250)
        for _ in range(2):
            expect(r.cmd("MAIL FROM:<a@remote.example>"), 250)
            expect(r.cmd("RSET"), 250)
        rep = expect(r.cmd("MAIL FROM:<a@remote.example>"), 450, "4.7.1")
        assert "the limit is 2 per minute (ip_messages_per_minute)" in \
            rep.text, rep
    r, rep = connect(srv, OWN)
    with r:
        expect(rep, 220)
        expect(r.cmd(f"EHLO {CLIENT_NAME}"), 250)
        for _ in range(5):
            raw_transaction(r)
    srv.wait_for_mail("alice@example.test", 5)
    log = wait_log(srv, "event=rate_limited")
    assert log.count("event=rate_limited") == 1, log[-3000:]
    assert (f"client={STRANGER} limit=ip_messages_per_minute max=2"
            in log), log[-3000:]


def test_relay_networks_client_gets_own_limits(make_server):
    """relay_networks counts even when own_networks leaves it out."""
    relay = "127.0.0.3"
    srv = make_server(top={"relay_networks": f"{relay}/32"},
                      limits={"max_connections_per_ip": "2",
                              "ip_messages_per_minute": "1",
                              "own_networks": "none"})
    conns = open_sessions(srv, relay, 6)
    try:
        # Loopback is a stranger now: own_networks = none.
        strangers = open_sessions(srv, OWN, 2)
        conns += strangers
        assert_refused(srv, OWN, "max_connections_per_ip")
        expect(conns[0].cmd(f"EHLO {CLIENT_NAME}"), 250)
        for _ in range(3):
            raw_transaction(conns[0])
    finally:
        close_all(conns)
    srv.wait_for_mail("alice@example.test", 3)
    log = wait_log(srv, f"event=refused client={OWN} ")
    refusals = [ln for ln in log.splitlines()
                if "event=refused" in ln or "event=rate_limited" in ln]
    assert len(refusals) == 1 and f"client={OWN} " in refusals[0], refusals


def test_own_max_connections_per_ip_applies(make_server):
    srv = make_server(limits={"own_max_connections_per_ip": "3",
                              "max_connections_per_ip": "1",
                              **OWN_NET})
    conns = open_sessions(srv, OWN, 3)
    try:
        rep = assert_refused(srv, OWN, "own_max_connections_per_ip")
        assert "the limit is 3 (own_max_connections_per_ip)" in rep.text
        # The stranger's limit is its own: one session.
        conns += open_sessions(srv, STRANGER, 1)
        assert_refused(srv, STRANGER, "max_connections_per_ip")
    finally:
        close_all(conns)
    log = wait_log(srv, "event=refused", 2)
    assert (f"event=refused client={OWN} listener=mx "
            "reason=own_max_connections_per_ip max=3") in log
    assert (f"event=refused client={STRANGER} listener=mx "
            "reason=max_connections_per_ip max=1") in log


def test_own_rates_apply(make_server):
    srv = make_server(limits={"own_ip_connections_per_minute": "2",
                              "own_ip_messages_per_minute": "1"})
    r, rep = connect(srv, OWN)
    with r:
        expect(rep, 220)
        expect(r.cmd(f"EHLO {CLIENT_NAME}"), 250)
        raw_transaction(r)
        rep = expect(r.cmd("MAIL FROM:<a@remote.example>"), 450, "4.7.1")
        assert "the limit is 1 per minute (own_ip_messages_per_minute)" \
            in rep.text, rep
    r, rep = connect(srv, OWN)
    with r:
        expect(rep, 220)
    rep = assert_refused(srv, OWN, "own_ip_connections_per_minute")
    assert "the limit is 2 per minute (own_ip_connections_per_minute)" \
        in rep.text, rep
    log = wait_log(srv, "event=rate_limited", 2)
    assert f"client={OWN} limit=own_ip_messages_per_minute max=1" in log
    assert (f"event=rate_limited client={OWN} listener=mx "
            "limit=own_ip_connections_per_minute max=2") in log


def test_max_connections_applies_to_own_clients(make_server):
    srv = make_server(limits={"max_connections": "3"})
    conns = open_sessions(srv, OWN, 3)
    try:
        rep = assert_refused(srv, OWN, "max_connections")
        assert "Too many connections: the limit is 3 (max_connections)" \
            in rep.text, rep
    finally:
        close_all(conns)
    wait_log(srv, f"event=refused client={OWN} listener=mx "
             "reason=max_connections max=3")


def test_own_client_over_ipv6_loopback(make_server):
    if not ipv6_available():
        pytest.skip("::1 unavailable")
    srv = make_server(listeners=[("mx", "::1", "mx")],
                      limits={"max_connections_per_ip": "2"})
    conns = open_sessions(srv, "::1", 5, host="::1")
    close_all(conns)


def test_check_config_prints_own_networks(make_server):
    srv = make_server(start=False, users=(),
                      top={"relay_networks": "192.0.2.0/24"},
                      limits={"own_max_connections_per_ip": "70"})
    r = srv.cli("check-config", "--all")
    assert "own_networks = 127.0.0.0/8 ::1/128\n" in r.out, r.out
    assert "own_max_connections_per_ip = 70\t; 1..1000000\n" in r.out
    assert "own_ip_connections_per_minute = 0\t; 0..1000000\n" in r.out
    assert "own_ip_messages_per_minute = 0\t; 0..1000000\n" in r.out
    # Without --all, what differs from the defaults: not the default list.
    r = srv.cli("check-config")
    assert "own_max_connections_per_ip = 70\t" in r.out, r.out
    assert "own_networks" not in r.out, r.out
    srv.limits["own_networks"] = "none"
    srv.write_config()
    r = srv.cli("check-config")
    assert "own_networks = none\n" in r.out, r.out
    srv.limits["own_networks"] = "10.0.0.1/8"
    srv.write_config()
    r = srv.cli("check-config", check=False)
    assert r.returncode != 0
    assert "own_networks: '10.0.0.1/8'" in r.err, r.err
