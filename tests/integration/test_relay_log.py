# SPDX-License-Identifier: ISC
"""Where mail went (issue 15): the relay= field of the delivered, deferred
and failed log lines names the Maildir, the LMTP server or the SMTP
server, as Postfix's relay= does, instead of "relay=router".

  maildir:mail/DOMAIN/USER     the Maildir below data_dir
  lmtp:PATH                    LMTP over a unix socket
  lmtp:HOST[IP]:PORT           LMTP over TCP
  smtp:HOST[IP]:PORT           SMTP, HOST the route's or the MX's name
  none                         no server was reached or tried
"""

import os
import re
import shutil
import tempfile

import pytest

from conftest import make_message
from smtp_sink import Sink
from test_remote import (dnsmasq, loop_net, port25_sink,  # noqa: F401
                         relay_server, sinks, submit, wait_log)


def line_of(srv, event, qid, to):
    """The one `event=EVENT id=QID to=TO` line of the log."""
    pat = re.compile(rf"event={event} id={qid} to={re.escape(to)} .*")
    found = pat.findall(srv.log())
    assert len(found) == 1, f"{event} lines for {qid} {to}: {found}\n" \
                            f"{srv.log()[-3000:]}"
    return found[0]


def relay_of(line):
    m = re.search(r" relay=(\S+)", line)
    assert m, line
    return m.group(1)


def test_maildir(make_server):
    srv = make_server()
    qid = srv.send("someone@remote.example", ["alice@example.test"],
                   make_message())
    srv.wait_for_mail("alice@example.test")
    wait_log(srv, f"event=delivered id={qid}")
    line = line_of(srv, "delivered", qid, "alice@example.test")
    assert relay_of(line) == "maildir:mail/example.test/alice"
    assert "relay=router" not in srv.log()
    # It names the directory the message is in.
    assert (srv.data_dir / "mail" / "example.test" / "alice" / "new").is_dir()


def test_smtp_static_route_and_reuse(make_server, sinks):
    sink = sinks()
    srv = relay_server(make_server,
                       f"relay.test = 127.0.0.1:{sink.port} tls=none\n")
    want = f"smtp:127.0.0.1[127.0.0.1]:{sink.port}"
    q1 = submit(srv, "alice@example.test", ["x@relay.test"],
                make_message(to="x@relay.test"))
    sink.wait_messages(1)
    wait_log(srv, f"event=delivered id={q1}")
    assert relay_of(line_of(srv, "delivered", q1, "x@relay.test")) == want
    # The second one reuses the idle session: it knows where it goes too.
    q2 = submit(srv, "alice@example.test", ["y@relay.test"],
                make_message(to="y@relay.test"))
    sink.wait_messages(2)
    wait_log(srv, f"event=delivered id={q2}")
    assert relay_of(line_of(srv, "delivered", q2, "y@relay.test")) == want
    assert re.search(rf"event=remote_session id={q2} .*reused=yes",
                     srv.log()), srv.log()[-2000:]
    assert sink.sessions == 1


def test_smtp_failed_and_deferred_say_where(make_server, sinks):
    sink = sinks()
    sink.rcpt_reply = lambda a: ("550 5.1.1 no such user"
                                 if a.startswith("bad") else
                                 "451 4.3.0 later" if a.startswith("slow")
                                 else "250 2.1.5 Ok")
    srv = relay_server(make_server,
                       f"relay.test = 127.0.0.1:{sink.port} tls=none\n",
                       queue={"retry_initial": "1h", "retry_max": "1h"})
    want = f"smtp:127.0.0.1[127.0.0.1]:{sink.port}"
    qid = submit(srv, "alice@example.test",
                 ["bad@relay.test", "slow@relay.test"],
                 make_message(to="bad@relay.test"))
    wait_log(srv, f"event=deferred id={qid}")
    wait_log(srv, f"event=failed id={qid}")
    assert relay_of(line_of(srv, "failed", qid, "bad@relay.test")) == want
    assert relay_of(line_of(srv, "deferred", qid, "slow@relay.test")) == want


def test_connect_refused_names_the_address_tried(make_server):
    # A port nobody listens on (free a moment ago).
    from conftest import free_port
    port = free_port()
    srv = relay_server(make_server,
                       f"dead.test = 127.0.0.1:{port} tls=none\n",
                       queue={"retry_initial": "1h", "retry_max": "1h"})
    qid = submit(srv, "alice@example.test", ["x@dead.test"],
                 make_message(to="x@dead.test"))
    wait_log(srv, f"event=deferred id={qid}")
    line = line_of(srv, "deferred", qid, "x@dead.test")
    assert relay_of(line) == f"smtp:127.0.0.1[127.0.0.1]:{port}"


def test_lmtp_unix_socket(make_server, sinks):
    d = tempfile.mkdtemp(prefix="tlm", dir="/tmp")  # short: sun_path
    try:
        path = os.path.join(d, "lmtp.sock")
        sink = sinks(lmtp=True, path=path,
                     ext=("PIPELINING", "8BITMIME", "ENHANCEDSTATUSCODES"))
        srv = relay_server(make_server, f"lmtp.test = lmtp:{path}\n")
        qid = submit(srv, "alice@example.test", ["x@lmtp.test"],
                     make_message(to="x@lmtp.test"))
        sink.wait_messages(1)
        wait_log(srv, f"event=delivered id={qid}")
        line = line_of(srv, "delivered", qid, "x@lmtp.test")
        assert relay_of(line) == f"lmtp:{path}"
        assert "LHLO" in " ".join(sink.commands)
    finally:
        shutil.rmtree(d, ignore_errors=True)


def test_lmtp_tcp(make_server, sinks):
    sink = sinks(lmtp=True)
    srv = relay_server(make_server,
                       f"lmtp.test = lmtp:127.0.0.1:{sink.port}\n")
    qid = submit(srv, "alice@example.test", ["x@lmtp.test"],
                 make_message(to="x@lmtp.test"))
    sink.wait_messages(1)
    wait_log(srv, f"event=delivered id={qid}")
    line = line_of(srv, "delivered", qid, "x@lmtp.test")
    assert relay_of(line) == f"lmtp:127.0.0.1[127.0.0.1]:{sink.port}"


def test_mx_by_name(make_server, sinks, dnsmasq):  # noqa: F811
    net = loop_net()
    good = port25_sink(sinks, f"{net}.7")
    dns = dnsmasq([f"--mx-host=named.test,mx1.named.test,10",
                   f"--host-record=mx1.named.test,{net}.7"])
    srv = relay_server(make_server, top={"dns_server": dns},
                       queue={"retry_initial": "1h", "retry_max": "1h"})
    qid = submit(srv, "alice@example.test", ["x@named.test", "y@nx.test"],
                 make_message(to="x@named.test"))
    good.wait_messages(1)
    wait_log(srv, f"event=delivered id={qid}")
    wait_log(srv, f"event=failed id={qid}")
    line = line_of(srv, "delivered", qid, "x@named.test")
    assert relay_of(line) == f"smtp:mx1.named.test[{net}.7]:25"
    # No such domain: no server was tried at all.
    assert relay_of(line_of(srv, "failed", qid, "y@nx.test")) == "none"
