# SPDX-License-Identifier: ISC
"""Issue 14, item 1: a route is not a relay permission.

Which domains a client without AUTH may send to is [relay_domains], empty
by default; a [routes] entry only says how mail travels. Mail for a relay
domain is accepted only for recipients known to exist: by asking the next
hop at RCPT time (verify; the answer cached), by a file of addresses, or
by tern's user store. Postfix's relay_domains with relay_recipient_maps
or reject_unverified_recipient, whose replies these follow:
  550 5.1.1 <x>: Recipient address rejected: undeliverable address: ...
  450 4.1.1 <x>: Recipient address rejected: unverified address: ...
  550 5.1.1 <x>: Recipient address rejected: user unknown in relay
      recipient table
RFC 5321 3.6.2: a server must not be an open relay; 7.1: backscatter.
"""

import os
import socket
import subprocess
import time

from conftest import TERN_BIN, expect, make_message
from test_lmtp import dovecot  # noqa: F401 (fixture)
from test_remote import relay_server, sinks, wait_log  # noqa: F401

REFUSE = "550 5.1.1 <{}>: Recipient address rejected: User unknown"


def mx_server(make_server, routes, relay_domains, queue=None, top=None):
    """Clients on the mx listener are strangers: relay_networks holds
    none of loopback."""
    extra = "\n[relay_domains]\n" + relay_domains if relay_domains else ""
    t = {"relay_networks": "192.0.2.0/24"}
    t.update(top or {})
    return relay_server(make_server, routes, queue=queue, top=t,
                        extra=extra)


def rcpt(srv, addr, sender="someone@remote.example"):
    """The reply to one RCPT on the mx listener."""
    with srv.raw(port=srv.ports["mx"]) as r:
        expect(r.cmd(f"MAIL FROM:<{sender}>"), 250)
        return r.cmd(f"RCPT TO:<{addr}>")


def probes(sink):
    """How many recipient probes (MAIL FROM:<> with no message) it saw."""
    return sum(1 for c in sink.commands if c.upper().startswith(
        "MAIL FROM:<>"))


def test_route_alone_opens_no_relay(make_server, sinks):
    """Fails on the old main: any domain with a [routes] entry was open
    to anyone on an mx listener, with any local part."""
    sink = sinks()
    srv = mx_server(make_server,
                    f"relay.test = 127.0.0.1:{sink.port} tls=none\n", "")
    rep = rcpt(srv, "anything@relay.test")
    expect(rep, 554, "5.7.1")
    assert "Relay access denied" in rep.text
    assert sink.sessions == 0
    # The upgrade note names the domain and the setting to add.
    wait_log(srv, "event=config_warning what=route_not_relay_domain")
    line = [ln for ln in srv.log().splitlines()
            if "route_not_relay_domain" in ln][0]
    assert "relay.test" in line and "[relay_domains]" in line
    assert "relay.test = verify" in line
    r = srv.cli("check-config", check=False)
    assert r.returncode == 0
    err = r.stderr.decode()
    assert "warning: [routes] relay.test" in err
    assert "relay.test = verify" in err


def test_verify_accepts_known_refuses_unknown(make_server, sinks):
    sink = sinks()
    sink.rcpt_reply = lambda a: ("250 2.1.5 Ok" if a.startswith("known")
                                 else "550 5.1.1 no such mailbox here")
    srv = mx_server(make_server,
                    f"relay.test = 127.0.0.1:{sink.port} tls=none\n",
                    "relay.test = verify\n")
    expect(rcpt(srv, "known@relay.test"), 250, "2.1.5")
    rep = rcpt(srv, "nobody@relay.test")
    expect(rep, 550, "5.1.1")
    assert "Recipient address rejected: undeliverable address" in rep.text
    assert "no such mailbox here" in rep.text  # the next hop's words
    assert probes(sink) == 2
    # The probe is MAIL FROM:<>, RCPT, RSET: never a message.
    assert sink.messages == []
    assert "RSET" in sink.commands
    assert not any(c.upper().startswith("DATA") for c in sink.commands)
    # Both answers are cached: no more probes for these addresses.
    expect(rcpt(srv, "KNOWN@Relay.Test"), 250)
    expect(rcpt(srv, "nobody@relay.test"), 550, "5.1.1")
    assert probes(sink) == 2
    wait_log(srv, "relay=domain:verify:cached")
    # Mail to the known recipient goes through to the next hop.
    msg = make_message(subject="relayed", to="known@relay.test")
    srv.send("someone@remote.example", ["known@relay.test"], msg,
             port=srv.ports["mx"])
    got = sink.wait_messages(1)
    assert got[0].rcpts == ["known@relay.test"]
    assert b"Subject: relayed" in got[0].data


def test_verify_case_of_local_part_kept(make_server, sinks):
    """The cache folds case, but the next hop gets the address as the
    client wrote it (a local part may be case-sensitive there)."""
    sink = sinks()
    seen = []
    sink.rcpt_reply = lambda a: (seen.append(a), "250 2.1.5 Ok")[1]
    srv = mx_server(make_server,
                    f"relay.test = 127.0.0.1:{sink.port} tls=none\n",
                    "relay.test = verify\n")
    expect(rcpt(srv, "John.Smith@relay.test"), 250)
    assert seen == ["John.Smith@relay.test"]


def test_verify_next_hop_down_is_450_and_cached(make_server, sinks):
    # A port nothing listens on (bound, never accepting, then closed).
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = s.getsockname()[1]
    srv = mx_server(make_server,
                    f"relay.test = 127.0.0.1:{dead} tls=none\n",
                    "relay.test = verify\n")
    rep = rcpt(srv, "a@relay.test")
    expect(rep, 450, "4.1.1")
    assert "unverified address" in rep.text
    # Within a minute, other addresses there get 450 without a probe.
    t0 = time.monotonic()
    rep = rcpt(srv, "b@relay.test")
    expect(rep, 450, "4.1.1")
    assert time.monotonic() - t0 < 2.0
    wait_log(srv, "event=verify ")
    assert srv.log().count("event=verify ") == 1
    # Nothing was queued for an address we could not check.
    assert srv.queue_json() == []


def test_verify_next_hop_4xx_is_450(make_server, sinks):
    sink = sinks()
    sink.rcpt_reply = lambda a: "451 4.7.1 greylisted, try later"
    srv = mx_server(make_server,
                    f"relay.test = 127.0.0.1:{sink.port} tls=none\n",
                    "relay.test = verify\n")
    rep = rcpt(srv, "a@relay.test")
    expect(rep, 450, "4.1.1")
    assert "greylisted" in rep.text


def test_verify_against_dovecot_lmtp(make_server, dovecot):  # noqa: F811
    """The real next hop: Dovecot's LMTP says which users exist."""
    sock, maildir_files = dovecot(["alice@relay.test"])
    srv = mx_server(make_server, f"relay.test = lmtp:{sock}\n",
                    "relay.test = verify\n")
    expect(rcpt(srv, "alice@relay.test"), 250)
    rep = rcpt(srv, "mallory@relay.test")
    expect(rep, 550, "5.1.1")
    assert "undeliverable address" in rep.text
    msg = make_message(subject="via dovecot", to="alice@relay.test")
    srv.send("someone@remote.example", ["alice@relay.test"], msg,
             port=srv.ports["mx"])
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not maildir_files(
            "alice@relay.test"):
        time.sleep(0.05)
    files = maildir_files("alice@relay.test")
    assert len(files) == 1


def test_file_list(make_server, sinks, tmp_path):
    sink = sinks()
    lst = tmp_path / "relay-recipients"
    lst.write_text("# who exists on the inside\n"
                   "Alice@Relay.Test\n"
                   "  bob@relay.test  \n"
                   "\n"
                   "not an address\n")
    srv = mx_server(make_server,
                    f"relay.test = 127.0.0.1:{sink.port} tls=none\n",
                    f"relay.test = file:{lst}\n")
    expect(rcpt(srv, "alice@relay.test"), 250)
    expect(rcpt(srv, "bob@RELAY.test"), 250)
    rep = rcpt(srv, "carol@relay.test")
    expect(rep, 550, "5.1.1")
    assert "user unknown in relay recipient table" in rep.text
    wait_log(srv, "event=relay_list_bad_line")
    assert probes(sink) == 0  # a list is not a probe
    # The file is read again when it changes.
    lst.write_text("alice@relay.test\nbob@relay.test\ncarol@relay.test\n")
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if rcpt(srv, "carol@relay.test").code == 250:
            break
        time.sleep(0.2)
    else:
        raise AssertionError("carol never accepted after the list changed")
    # An unreadable list is a temporary failure, never an open door.
    lst.unlink()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        rep = rcpt(srv, "alice@relay.test")
        if rep.code != 250:
            break
        time.sleep(0.2)
    expect(rep, 450, "4.1.1")


def test_users_store(make_server, sinks):
    sink = sinks()
    srv = mx_server(make_server,
                    f"relay.test = 127.0.0.1:{sink.port} tls=none\n",
                    "relay.test = users\n")
    srv.add_user("dave@relay.test")
    srv.add_alias("sales@relay.test", "dave@relay.test")
    expect(rcpt(srv, "dave@relay.test"), 250)
    expect(rcpt(srv, "sales@relay.test"), 250)
    rep = rcpt(srv, "eve@relay.test")
    expect(rep, 550, "5.1.1")
    # Relayed to the next hop as given, not delivered here.
    msg = make_message(subject="to sales", to="sales@relay.test")
    srv.send("someone@remote.example", ["sales@relay.test"], msg,
             port=srv.ports["mx"])
    got = sink.wait_messages(1)
    assert got[0].rcpts == ["sales@relay.test"]


def test_any_accepts_all_and_is_warned(make_server, sinks):
    sink = sinks()
    srv = mx_server(make_server,
                    f"relay.test = 127.0.0.1:{sink.port} tls=none\n",
                    "relay.test = any\n")
    expect(rcpt(srv, "whoever@relay.test"), 250)
    wait_log(srv, "what=relay_domain_unchecked")
    err = srv.cli("check-config", check=False).stderr.decode()
    assert "relay.test = any" in err and "backscatter" in err


def test_other_domains_stay_closed(make_server, sinks):
    """A relay domain and a "*" smarthost open nothing else; submission
    clients still relay anywhere."""
    sink = sinks()
    srv = mx_server(make_server,
                    f"relay.test = 127.0.0.1:{sink.port} tls=none\n"
                    f"* = 127.0.0.1:{sink.port} tls=none\n",
                    "relay.test = verify\n",
                    top={"relay_networks": "127.0.0.0/8"})
    expect(rcpt(srv, "x@other.example"), 554, "5.7.1")
    expect(rcpt(srv, "x@sub.relay.test"), 554, "5.7.1")
    expect(rcpt(srv, "x@[127.0.0.1]"), 554, "5.7.1")
    with srv.raw(port=srv.ports["sub"]) as r:
        expect(r.cmd("MAIL FROM:<app@example.test>"), 250)
        expect(r.cmd("RCPT TO:<x@other.example>"), 250)
    assert probes(sink) == 0


def test_config_errors(tmp_path):
    def check(text):
        p = tmp_path / "t.conf"
        p.write_text(text)
        return subprocess.run([TERN_BIN, "-c", str(p), "check-config"],
                              capture_output=True, text=True, timeout=30)

    base = ("domains = example.test\n[listener mx]\n"
            "address = 127.0.0.1:2525\n")
    r = check(base + "[relay_domains]\nexample.test = verify\n")
    assert r.returncode != 0
    assert "both domains and [relay_domains]" in r.stderr
    r = check(base + "[relay_domains]\n* = verify\n")
    assert r.returncode != 0 and "open relay" in r.stderr
    r = check(base + "[relay_domains]\nx.test = maybe\n")
    assert r.returncode != 0 and "t.conf:5:" in r.stderr
    assert "expected verify" in r.stderr
    r = check(base + "[relay_domains]\nx.test = file:relative\n")
    assert r.returncode != 0 and "absolute path" in r.stderr
    r = check(base + "[relay_domains]\nx.test = verify\n")
    assert r.returncode == 0, r.stderr
    assert "[relay_domains]\nx.test = verify\n" in r.stdout
    assert os.path.exists(TERN_BIN)
