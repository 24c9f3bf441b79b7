# SPDX-License-Identifier: ISC
"""Outbound delivery (issue 4): static routes to a Python SMTP sink,
PIPELINING, STARTTLS, CHUNKING, per-recipient results, retries,
connection reuse, stalling servers, and MX routing against dnsmasq.

Mail for other domains is handed in on a submission listener that
relays for 127.0.0.0/8 (relay_networks), the way a local application
would send it.
"""

import os
import shutil
import signal
import subprocess
import time

import pytest

from conftest import expect, make_cert, make_message, tls_client
from smtp_sink import Sink

RELAY_LISTENERS = [("mx", "127.0.0.1", "mx"),
                   ("sub", "127.0.0.1", "submission")]
FAST_QUEUE = {"retry_initial": "1s", "retry_max": "1s",
              "delivery_threads": "4", "remote_timeout": "3s",
              "connect_timeout": "2s"}


@pytest.fixture
def sinks():
    made = []

    def make(*a, **kw):
        s = Sink(*a, **kw)
        made.append(s)
        return s

    yield make
    for s in made:
        s.stop()


def relay_server(make_server, routes="", queue=None, top=None, extra="",
                 **kw):
    q = dict(FAST_QUEUE)
    q.update(queue or {})
    t = {"relay_networks": "127.0.0.0/8"}
    t.update(top or {})
    extra = ("\n[routes]\n" + routes if routes else "") + extra
    return make_server(listeners=RELAY_LISTENERS, queue=q, top=t,
                       extra=extra, **kw)


def submit(srv, sender, rcpts, msg, **kw):
    return srv.send(sender, rcpts, msg, port=srv.ports["sub"], **kw)


def wait_log(srv, needle, timeout=30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if needle in srv.log():
            return
        time.sleep(0.05)
    pytest.fail(f"no {needle!r} in log after {timeout}s:\n"
                f"{srv.log()[-3000:]}")


def test_static_route_pipelining(make_server, sinks):
    sink = sinks()
    srv = relay_server(make_server,
                       f"relay.test = 127.0.0.1:{sink.port} tls=none\n")
    body = "line one\r\n.leading dot\r\n..two dots\r\n"
    msg = make_message(subject="remote one", to="x@relay.test", body=body)
    submit(srv, "alice@example.test", ["x@relay.test", "y@relay.test"], msg)
    got = sink.wait_messages(1)
    m = got[0]
    assert m.sender == "alice@example.test"
    assert m.rcpts == ["x@relay.test", "y@relay.test"]
    # Dot-stuffing undone by the sink gives back the original lines.
    assert b"\r\n.leading dot\r\n..two dots\r\n" in m.data
    assert b"Subject: remote one" in m.data
    assert not m.tls and not m.chunked
    # PIPELINING: MAIL, both RCPTs and DATA came in one go; the sink
    # saw them in order and only one transaction.
    assert "pipelined=True" in sink.commands
    cmds = [c.split(" ")[0] for c in sink.commands
            if not c.startswith("pipelined=")]
    assert cmds[:5] == ["EHLO", "MAIL", "RCPT", "RCPT", "DATA"]
    srv.wait_queue_empty()
    assert "event=remote_session" in srv.log()


def test_starttls_opportunistic(make_server, sinks, tmp_path):
    import ssl
    cert, key = make_cert(tmp_path / "sinkpki", cn="sink.test")
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(str(cert), str(key))
    sink = sinks(tls_ctx=ctx)
    srv = relay_server(make_server, f"relay.test = 127.0.0.1:{sink.port}\n")
    submit(srv, "alice@example.test", ["x@relay.test"],
           make_message(to="x@relay.test"))
    m = sink.wait_messages(1)[0]
    assert m.tls, "STARTTLS offered but not used"
    # EHLO again after the handshake (RFC 3207 4.2).
    cmds = [c.split(" ")[0] for c in sink.commands]
    assert cmds[:3] == ["EHLO", "STARTTLS", "EHLO"]
    assert "pipelined=True" in sink.commands
    srv.wait_queue_empty()
    assert "tls=yes" in srv.log()


def test_smarthost_auth(make_server, sinks, tmp_path):
    import ssl
    cert, key = make_cert(tmp_path / "sinkpki", cn="sink.test")
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(str(cert), str(key))
    sink = sinks(tls_ctx=ctx,
                 ext=("PIPELINING", "AUTH PLAIN LOGIN", "8BITMIME"))
    srv = relay_server(make_server, f"* = 127.0.0.1:{sink.port} "
                                    f"auth=relayuser:s3cret:x\n")
    submit(srv, "alice@example.test", ["x@anywhere.test"],
           make_message(to="x@anywhere.test"))
    m = sink.wait_messages(1)[0]
    # Credentials only after STARTTLS (opportunistic TLS by default).
    assert m.tls
    assert sink.auth == [("relayuser", "s3cret:x")]
    srv.wait_queue_empty()
    assert "s3cret" not in srv.log()
    # Issue 15: inline in a file others may read (0644 here): warned.
    assert "event=config_warning what=route_password_readable" in srv.log()


def test_smarthost_auth_from_secrets_file(make_server, sinks, tmp_path):
    """Issue 15: the route says auth=USER, the password comes from
    secrets_file (read by the server after any privilege drop), and
    neither the log nor check-config ever shows it."""
    import ssl
    cert, key = make_cert(tmp_path / "sinkpki", cn="sink.test")
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(str(cert), str(key))
    sink = sinks(tls_ctx=ctx,
                 ext=("PIPELINING", "AUTH PLAIN LOGIN", "8BITMIME"))
    secrets = tmp_path / "secrets"
    secrets.write_text("# route  user:password\n"
                       "*  relayuser:s3cret: with blanks\n")
    secrets.chmod(0o600)
    srv = relay_server(make_server, f"* = 127.0.0.1:{sink.port} "
                                    f"auth=relayuser\n",
                       top={"secrets_file": str(secrets)})
    submit(srv, "alice@example.test", ["x@anywhere.test"],
           make_message(to="x@anywhere.test"))
    m = sink.wait_messages(1)[0]
    assert m.tls
    assert sink.auth == [("relayuser", "s3cret: with blanks")]
    srv.wait_queue_empty()
    assert "s3cret" not in srv.log()
    for args in (("check-config",), ("check-config", "--all")):
        r = srv.cli(*args)
        assert "s3cret" not in r.out + r.err
        assert f"* = 127.0.0.1:{sink.port} auth=relayuser\n" in r.out


def test_alias_to_external_address(make_server, sinks):
    sink = sinks()
    srv = relay_server(make_server,
                       f"relay.test = 127.0.0.1:{sink.port} tls=none\n")
    srv.add_alias("fwd@example.test", "far@relay.test")
    # Through the mx listener: the alias is ours, its target is remote.
    srv.send("someone@remote.test", ["fwd@example.test"],
             make_message(to="fwd@example.test"))
    m = sink.wait_messages(1)[0]
    assert m.rcpts == ["far@relay.test"]
    srv.wait_queue_empty()


def test_tls_require_unverifiable_defers(make_server, sinks, tmp_path):
    import ssl
    cert, key = make_cert(tmp_path / "sinkpki", cn="sink.test")
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(str(cert), str(key))
    sink = sinks(tls_ctx=ctx)
    srv = relay_server(
        make_server, f"relay.test = 127.0.0.1:{sink.port} tls=require\n")
    submit(srv, "alice@example.test", ["x@relay.test"],
           make_message(to="x@relay.test"))
    # A self-signed certificate does not verify: deferred, not sent.
    wait_log(srv, "event=deferred")
    assert "certificate" in srv.log() or "TLS" in srv.log()
    assert not sink.messages


def test_static_route_ipv6(make_server, sinks):
    from conftest import ipv6_available
    if not ipv6_available():
        pytest.skip("no IPv6 on loopback")
    sink = sinks(host="::1")
    srv = relay_server(make_server,
                       f"v6.test = [::1]:{sink.port} tls=none\n")
    submit(srv, "alice@example.test", ["x@v6.test"],
           make_message(to="x@v6.test"))
    sink.wait_messages(1)
    srv.wait_queue_empty()
    assert "addr=::1" in srv.log()


def test_chunking(make_server, sinks):
    sink = sinks(ext=("PIPELINING", "CHUNKING", "8BITMIME"))
    srv = relay_server(make_server,
                       f"relay.test = 127.0.0.1:{sink.port} tls=none\n")
    body = "a\r\n.b\r\n" * 1000
    submit(srv, "alice@example.test", ["x@relay.test"],
           make_message(to="x@relay.test", body=body))
    m = sink.wait_messages(1)[0]
    assert m.chunked
    assert m.data.endswith(("a\r\n.b\r\n" * 1000).encode())
    assert any(c.startswith("BDAT ") and c.endswith(" LAST")
               for c in sink.commands)
    assert "DATA" not in sink.commands
    srv.wait_queue_empty()


def test_no_pipelining_helo_fallback(make_server, sinks):
    sink = sinks(ext=())
    srv = relay_server(make_server,
                       f"relay.test = 127.0.0.1:{sink.port} tls=none\n")
    submit(srv, "alice@example.test", ["x@relay.test"],
           make_message(to="x@relay.test"))
    sink.wait_messages(1)
    # EHLO refused? No: the sink has no extensions, so plain commands,
    # one at a time.
    assert "pipelined=False" in sink.commands
    srv.wait_queue_empty()


def test_per_recipient_results_and_bounce(make_server, sinks):
    sink = sinks()
    sink.rcpt_reply = lambda a: ("550 5.1.1 no such user here"
                                 if a.startswith("bad") else "250 2.1.5 Ok")
    srv = relay_server(make_server,
                       f"relay.test = 127.0.0.1:{sink.port} tls=none\n")
    submit(srv, "alice@example.test", ["good@relay.test", "bad@relay.test"],
           make_message(to="good@relay.test"))
    m = sink.wait_messages(1)[0]
    assert m.rcpts == ["good@relay.test"]
    wait_log(srv, "event=failed")
    assert "no such user here" in srv.log()
    srv.wait_queue_empty()


def test_4xx_then_success(make_server, sinks):
    sink = sinks()
    state = {"n": 0}

    def rcpt(a):
        state["n"] += 1
        return "451 4.3.0 try later" if state["n"] == 1 else "250 2.1.5 Ok"

    sink.rcpt_reply = rcpt
    srv = relay_server(make_server,
                       f"relay.test = 127.0.0.1:{sink.port} tls=none\n")
    submit(srv, "alice@example.test", ["x@relay.test"],
           make_message(to="x@relay.test"))
    m = sink.wait_messages(1, timeout=30)[0]
    assert m.rcpts == ["x@relay.test"]
    assert "try later" in srv.log()
    srv.wait_queue_empty()


def test_stalling_remote_does_not_block_others(make_server, sinks):
    stall = sinks()
    stall.stall = True
    good = sinks()
    srv = relay_server(
        make_server,
        f"stall.test = 127.0.0.1:{stall.port} tls=none\n"
        f"good.test = 127.0.0.1:{good.port} tls=none\n",
        queue={"remote_timeout": "20s"})
    submit(srv, "alice@example.test", ["x@stall.test"],
           make_message(to="x@stall.test"))
    stall.wait_sessions(1)
    t0 = time.monotonic()
    submit(srv, "alice@example.test", ["y@good.test"],
           make_message(to="y@good.test"))
    good.wait_messages(1, timeout=15)
    # Delivered while the stalled session still waits for its greeting.
    assert time.monotonic() - t0 < 15
    assert not stall.messages


def test_connection_reuse_many_domains(make_server, sinks):
    """1,000 messages to 10 domains: each delivered exactly once, over far
    fewer sessions than messages."""
    sink_list = [sinks() for _ in range(10)]
    routes = "".join(f"d{i}.test = 127.0.0.1:{s.port} tls=none\n"
                     for i, s in enumerate(sink_list))
    srv = relay_server(make_server, routes)
    total = 1000
    import smtplib
    with smtplib.SMTP("127.0.0.1", srv.ports["sub"], timeout=30) as c:
        c.ehlo("client.test")
        for n in range(total):
            to = f"u{n}@d{n % 10}.test"
            c.sendmail("alice@example.test", [to],
                       make_message(subject=f"n{n}", to=to,
                                    msgid=f"m{n}@client.test"))
    got = []
    for s in sink_list:
        got += s.wait_messages(total // 10, timeout=120)
    ids = [m.data.split(b"Message-ID: <", 1)[1].split(b">", 1)[0]
           for m in got]
    assert len(ids) == total
    assert len(set(ids)) == total, "a message was delivered twice"
    sessions = sum(s.sessions for s in sink_list)
    print(f"{total} messages over {sessions} sessions")
    assert sessions < total // 4, f"{sessions} sessions for {total} msgs"
    srv.wait_queue_empty(timeout=60)


# -- MX routing against a real DNS server (dnsmasq on loopback) ----------

DNSMASQ = shutil.which("dnsmasq") or "/usr/sbin/dnsmasq"


def loop_net():
    """A random 127.x.y.0/24 so parallel runs never share port 25."""
    b = os.urandom(2)
    return f"127.{b[0] % 200 + 20}.{b[1]}"


@pytest.fixture
def dnsmasq(tmp_path):
    """start(args) -> "127.0.0.1:PORT" of a dnsmasq that knows only what
    the test tells it (--local=/test/: everything else in .test is
    NXDOMAIN)."""
    procs = []

    def start(records):
        if not os.path.exists(DNSMASQ):
            pytest.skip("dnsmasq not installed")
        from conftest import free_port
        port = free_port()
        argv = [DNSMASQ, "--keep-in-foreground", "--no-resolv",
                "--no-hosts", "--conf-file=/dev/null",
                "--listen-address=127.0.0.1", "--bind-interfaces",
                f"--port={port}", "--local=/test/", "--log-queries",
                "--log-facility=-", "--user=" + os.environ.get("USER", "root")
                ] + records
        p = subprocess.Popen(argv, stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT)
        procs.append(p)
        # Ready when it answers on TCP (bounded wait).
        import socket
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if p.poll() is not None:
                pytest.fail(f"dnsmasq exited: {p.stdout.read()!r}")
            try:
                socket.create_connection(("127.0.0.1", port), 0.2).close()
                return f"127.0.0.1:{port}"
            except OSError:
                time.sleep(0.05)
        pytest.fail("dnsmasq did not start")

    yield start
    for p in procs:
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(10)
        except subprocess.TimeoutExpired:
            p.kill()


def port25_sink(sinks, host, **kw):
    try:
        return sinks(host=host, port=25, **kw)
    except PermissionError:
        pytest.skip("binding port 25 needs root or CAP_NET_BIND_SERVICE")


def test_mx_fallback_to_second(make_server, sinks, dnsmasq):
    net = loop_net()
    good = port25_sink(sinks, f"{net}.3")
    dns = dnsmasq([f"--mx-host=mx2.test,a.mx2.test,10",
                   f"--mx-host=mx2.test,b.mx2.test,20",
                   f"--host-record=a.mx2.test,{net}.2",
                   f"--host-record=b.mx2.test,{net}.3"])
    srv = relay_server(make_server, top={"dns_server": dns})
    submit(srv, "alice@example.test", ["x@mx2.test"],
           make_message(to="x@mx2.test"))
    m = good.wait_messages(1)[0]
    assert m.rcpts == ["x@mx2.test"]
    log = srv.log()
    # The preferred host refused the connection first.
    assert "event=connect_failed domain=mx2.test host=a.mx2.test" in log
    srv.wait_queue_empty()


def test_implicit_mx(make_server, sinks, dnsmasq):
    net = loop_net()
    good = port25_sink(sinks, f"{net}.4")
    dns = dnsmasq([f"--host-record=imp.test,{net}.4"])
    srv = relay_server(make_server, top={"dns_server": dns})
    submit(srv, "alice@example.test", ["x@imp.test"],
           make_message(to="x@imp.test"))
    good.wait_messages(1)
    srv.wait_queue_empty()


def test_null_mx_and_nxdomain_fail_at_once(make_server, dnsmasq):
    # RFC 7505: MX 0 "." (rdata 0000 00).
    dns = dnsmasq(["--dns-rr=nullmx.test,15,000000"])
    srv = relay_server(make_server, top={"dns_server": dns},
                       queue={"retry_initial": "1h", "retry_max": "1h"})
    submit(srv, "alice@example.test", ["x@nullmx.test", "y@nx.test"],
           make_message(to="x@nullmx.test"))
    wait_log(srv, "to=y@nx.test")
    srv.wait_queue_empty(timeout=15)
    log = srv.log()
    assert "null MX" in log
    assert "does not exist" in log
    assert "event=deferred" not in log


def test_mx_accepts_relay_domain_only(make_server, sinks):
    """A [relay_domains] domain is relayed on mx listeners (a backup MX);
    a "*" smarthost route opens no relay (issue 14: neither does a
    domain's own route: test_relay_domains.py)."""
    sink = sinks()
    srv = relay_server(make_server,
                       f"relay.test = 127.0.0.1:{sink.port} tls=none\n"
                       f"* = 127.0.0.1:{sink.port} tls=none\n",
                       top={"relay_networks": "192.0.2.0/24"},
                       extra="\n[relay_domains]\nrelay.test = any\n")
    msg = make_message(subject="via mx", to="x@relay.test")
    srv.send("someone@remote.example", ["x@relay.test"], msg,
             port=srv.ports["mx"])
    got = sink.wait_messages(1)
    assert got[0].rcpts == ["x@relay.test"]
    with srv.raw(port=srv.ports["mx"]) as r:
        expect(r.cmd("MAIL FROM:<someone@remote.example>"), 250)
        expect(r.cmd("RCPT TO:<x@other.example>"), 554, "5.7.1")
