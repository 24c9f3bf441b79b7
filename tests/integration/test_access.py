# SPDX-License-Identifier: ISC
"""Issue 3, access lists: `allow` and `deny` in [listener NAME]. A denied
client gets 554 5.7.1 and is disconnected; the most specific network
decides; an allow list turns away everyone not on it; one
event=access_denied line per refusal; check-config prints the lists and
bad ones are refused with their line.

Clients pose as other hosts by binding a 127.0.0.0/8 source address
(all of it is loopback on Linux)."""

import subprocess
import time

import pytest

from conftest import (CLI_TIMEOUT, CLIENT_NAME, TERN_BIN, Raw, child_env,
                      expect, free_port, raw_transaction, wait_log)


def acl_server(make_server, *lines):
    """A server whose extra [listener acl] (mx) carries `lines`."""
    port = free_port()
    body = "\n".join(lines)
    srv = make_server(extra=f"\n[listener acl]\naddress = 127.0.0.1:{port}"
                            f"\nmode = mx\n{body}\n")
    srv.acl_port = port
    return srv


def greet(srv, source):
    """The first reply to a client at `source`, and whether the server
    then closed the connection."""
    with Raw("127.0.0.1", srv.acl_port, source=(source, 0)) as r:
        rep = r.reply_or_eof()
        closed = rep is not None and rep.code != 220 and \
            r.closed_by_peer(timeout=5)
        if rep is not None and rep.code == 220:
            expect(r.cmd("QUIT"), 221)
        return rep, closed


def assert_denied(srv, source):
    rep, closed = greet(srv, source)
    expect(rep, 554, "5.7.1")
    assert "Access denied" in rep.text and source in rep.text, rep
    assert closed, "the server did not disconnect a denied client"


def assert_allowed(srv, source):
    rep, _ = greet(srv, source)
    expect(rep, 220)


def test_allow_list_turns_away_the_rest(make_server):
    srv = acl_server(make_server, "allow = 127.0.0.2/32, 127.0.1.0/24")
    assert_allowed(srv, "127.0.0.2")
    assert_allowed(srv, "127.0.1.9")
    assert_denied(srv, "127.0.0.3")
    log = wait_log(srv, "event=access_denied")
    assert "event=access_denied client=127.0.0.3 listener=acl " \
        "rule=not_in_allow" in log
    assert "event=access_denied client=127.0.0.2" not in log
    # The other listener has no lists: everyone may use it.
    with Raw(srv.host, srv.port, source=("127.0.0.3", 0)) as r:
        expect(r.reply(), 220)


def test_deny_list(make_server):
    srv = acl_server(make_server, "deny = 127.0.0.4")
    assert_denied(srv, "127.0.0.4")
    assert_allowed(srv, "127.0.0.5")
    wait_log(srv, "event=access_denied client=127.0.0.4 listener=acl "
             "rule=deny:127.0.0.4/32")


def test_most_specific_network_decides(make_server):
    # Deny the /8, allow a /24 in it, deny one host of that /24 again;
    # the keys may repeat.
    srv = acl_server(make_server, "deny = 127.0.0.0/8",
                     "allow = 127.0.2.0/24", "deny = 127.0.2.66")
    assert_allowed(srv, "127.0.2.1")
    assert_denied(srv, "127.0.2.66")
    assert_denied(srv, "127.0.0.1")
    assert wait_log(srv, "event=access_denied", 2).count(
        "event=access_denied") == 2


def test_denied_client_sends_nothing_through(make_server):
    """Pipelined commands from a denied client are never read."""
    srv = acl_server(make_server, "deny = 127.0.0.7")
    with Raw("127.0.0.1", srv.acl_port, source=("127.0.0.7", 0)) as r:
        try:
            r.send(b"EHLO x\r\nMAIL FROM:<a@b.example>\r\n"
                   b"RCPT TO:<alice@example.test>\r\nDATA\r\n")
        except OSError:
            pass  # already closed: fine
        rep = r.reply_or_eof()
        assert rep is None or rep.code == 554, rep
        assert r.closed_by_peer(timeout=5)
    # The allowed client gets mail through on the same listener.
    with Raw("127.0.0.1", srv.acl_port, source=("127.0.0.8", 0)) as r:
        expect(r.reply(), 220)
        expect(r.cmd(f"EHLO {CLIENT_NAME}"), 250)
        raw_transaction(r)
    srv.wait_for_mail("alice@example.test")
    log = wait_log(srv, "event=access_denied client=127.0.0.7 ")
    seen = [ln for ln in log.splitlines() if "client=127.0.0.7 " in ln]
    assert seen and all("event=access_denied" in ln for ln in seen), seen


def check_config(tmp_path, text):
    conf = tmp_path / "t.conf"
    conf.write_text(text)
    return subprocess.run([TERN_BIN, "check-config", "-c", str(conf)],
                          capture_output=True, text=True,
                          timeout=CLI_TIMEOUT, env=child_env())


BASE = ("domains = example.test\ndata_dir = /nonexistent\n"
        "[listener mx]\naddress = 127.0.0.1:2525\n")


def test_check_config_prints_lists(tmp_path):
    r = check_config(tmp_path, BASE + "allow = 10.0.0.0/8 ::1\n"
                     "deny = 10.9.0.0/16\n")
    assert r.returncode == 0, r.stderr
    assert "allow = 10.0.0.0/8 ::1/128\n" in r.stdout
    assert "deny = 10.9.0.0/16\n" in r.stdout
    # What it prints loads again, to the same lists.
    again = check_config(tmp_path, r.stdout)
    assert again.returncode == 0, again.stderr
    assert "allow = 10.0.0.0/8 ::1/128\n" in again.stdout


@pytest.mark.parametrize("line,err", [
    ("allow = 10.0.0.1/8", "t.conf:5: allow: '10.0.0.1/8'"),
    ("deny = 300.1.1.1", "t.conf:5: deny: '300.1.1.1'"),
    ("allowed = 10.0.0.0/8",
     "t.conf:5: unknown key 'allowed' in [listener mx]; known: address, "
     "mode, tls, allow, deny"),
])
def test_bad_lists_refused_with_line(tmp_path, line, err):
    r = check_config(tmp_path, BASE + line + "\n")
    assert r.returncode != 0
    assert err in r.stderr, r.stderr


def test_pregreet_talker_rejected(make_server):
    """Issue 3: a client that sends before the 220 (with greet_delay) is
    rejected postscreen-style; a client that waits is served."""
    srv = make_server(limits={"greet_delay": "1s"})
    r = Raw(srv.host, srv.port)
    try:
        r.send("EHLO eager.example\r\n")
        rep = r.reply()
        expect(rep, 554, "5.5.1")
        assert "before the greeting" in rep.text
        assert r.reply_or_eof() is None
    finally:
        r.close()
    wait_log(srv, "event=pregreet")
    with srv.raw() as r:  # waits for the 220, then EHLO
        expect(r.cmd("NOOP"), 250, "2.0.0")


@pytest.mark.serial  # a 1 s bound: not beside other tests
def test_no_greet_delay_by_default(make_server):
    srv = make_server()
    r = Raw(srv.host, srv.port)
    try:
        t0 = time.monotonic()
        expect(r.reply(), 220)
        assert time.monotonic() - t0 < 1.0
    finally:
        r.close()
