# SPDX-License-Identifier: ISC
"""Issue 15: SIGHUP and `tern reload` re-read the configuration without
dropping sessions. New sessions use the new settings; sessions in flight
finish on the old ones; a broken file is refused with FILE:LINE and the
old configuration stays; a change that takes a restart (a listener's
address, data_dir ...) is refused whole.

TERN_LONG=1 (make test-long) makes the load test 50 sessions x 40
messages across 100 reloads.
"""

import os
import re
import signal
import threading
import time

from conftest import (CLIENT_NAME, HOSTNAME, Raw, expect, make_message,
                      wait_log)


LONG = os.environ.get("TERN_LONG") == "1"
RELOADS = 100 if LONG else 10
PER_SESSION = 40 if LONG else 4


def reconfigure(srv, **changes):
    """Rewrite srv's config file with changes (top=, limits=, domains=,
    extra=) applied; the running server does not see it until asked."""
    if "top" in changes:
        srv.top.update(changes.pop("top"))
    if "limits" in changes:
        srv.limits.update(changes.pop("limits"))
    for k, v in changes.items():
        setattr(srv, k, v)
    srv.conf_path.write_text(srv.render())


def greeting_and_size(srv):
    """(hostname in the 220, SIZE in EHLO) of a new session."""
    with Raw(srv.host, srv.port) as r:
        greet = r.reply()
        expect(greet, 220)
        ehlo = r.cmd(f"EHLO {CLIENT_NAME}")
        expect(ehlo, 250)
        size = [ln for ln in ehlo.lines if ln.startswith("SIZE ")]
        return greet.lines[0].split()[0], int(size[0].split()[1])


def test_reload_applies_to_new_sessions_only(make_server):
    srv = make_server(limits={"max_message_size": "1M"})
    assert greeting_and_size(srv) == (HOSTNAME, 1 << 20)
    old = srv.raw()  # a session in flight, from before the reload
    reconfigure(srv, top={"hostname": "other.example.test"},
                limits={"max_message_size": "2M"})
    r = srv.cli("reload")
    assert "reloaded " + str(srv.conf_path) in r.out
    assert "new sessions" in r.out
    wait_log(srv, "event=reload what=config")
    # The new session gets the new settings ...
    assert greeting_and_size(srv) == ("other.example.test", 2 << 20)
    # ... the old one keeps its own, and still works.
    ehlo = old.cmd(f"EHLO {CLIENT_NAME}")
    assert "SIZE 1048576" in ehlo.lines
    expect(old.cmd("MAIL FROM:<x@remote.example>"), 250)
    expect(old.cmd("RCPT TO:<alice@example.test>"), 250)
    expect(old.cmd("DATA"), 354)
    old.send(make_message(subject="across the reload") + b".\r\n")
    expect(old.reply(), 250)
    old.close()
    srv.wait_for_mail("alice@example.test", 1)


def test_reload_new_domain_for_new_sessions(make_server):
    srv = make_server()
    old = srv.raw()
    reconfigure(srv, domains=("example.test", "example.org",
                              "new.example.test"))
    srv.add_user("carol@new.example.test")
    srv.cli("reload")
    with srv.raw() as r:
        expect(r.cmd("MAIL FROM:<x@remote.example>"), 250)
        expect(r.cmd("RCPT TO:<carol@new.example.test>"), 250)
    # The session from before still knows only the old domains.
    expect(old.cmd("MAIL FROM:<x@remote.example>"), 250)
    expect(old.cmd("RCPT TO:<carol@new.example.test>"), 554, "5.7.1")
    old.close()


def test_reload_changes_limits(make_server):
    """Rate limits made at start follow a reload (0 -> 1 a minute)."""
    srv = make_server(limits={"own_networks": "none"})
    for i in range(3):
        srv.send("x@remote.example", ["alice@example.test"],
                 make_message(subject=f"before {i}"))
    reconfigure(srv, limits={"ip_messages_per_minute": "1"})
    srv.cli("reload")
    with srv.raw() as r:
        expect(r.cmd("MAIL FROM:<x@remote.example>"), 250)
        expect(r.cmd("RSET"), 250)
        rep = r.cmd("MAIL FROM:<x@remote.example>")
        expect(rep, 450, "4.7.1")
        assert "ip_messages_per_minute" in rep.text


def test_broken_file_is_refused_and_old_stays(make_server):
    srv = make_server(limits={"max_message_size": "1M"})
    good = srv.conf_path.read_text()
    bad = good.replace("[limits]\n", "[limits]\nno_such_key = 1\n")
    lineno = bad.splitlines().index("no_such_key = 1") + 1
    srv.conf_path.write_text(bad)
    # tern reload reads the file itself first: it says where, and does
    # not bother the server, which keeps its configuration.
    r = srv.cli("reload", check=False)
    assert r.returncode == 78
    assert f"{srv.conf_path}:{lineno}: unknown key 'no_such_key'" in r.err
    assert "keeps its configuration" in r.err
    # SIGHUP makes the server read it: refused, logged with FILE:LINE.
    srv.proc.send_signal(signal.SIGHUP)
    wait_log(srv, "event=reload_refused")
    line = [ln for ln in srv.log().splitlines()
            if "event=reload_refused" in ln][0]
    assert f"{srv.conf_path}:{lineno}:" in line
    assert srv.running()
    assert greeting_and_size(srv) == (HOSTNAME, 1 << 20)
    srv.conf_path.write_text(good)


def test_restart_changes_are_refused(make_server, tmp_path):
    srv = make_server()
    old_port = srv.ports["mx"]
    srv.ports = {"mx": old_port + 1 if old_port < 65000 else old_port - 1}
    srv.conf_path.write_text(srv.render())
    srv.ports = {"mx": old_port}
    r = srv.cli("reload", check=False)
    assert r.returncode == 1
    assert "take a restart" in r.err
    assert "[listener mx] address" in r.err
    assert "nothing was changed" in r.err
    # A new data_dir: `tern reload` would look for the server there (and
    # say no server runs on it); SIGHUP asks the one running.
    reconfigure(srv, top={"data_dir": str(tmp_path / "elsewhere")})
    srv.proc.send_signal(signal.SIGHUP)
    wait_log(srv, "event=reload_refused", count=2)
    assert "data_dir" in [ln for ln in srv.log().splitlines()
                          if "event=reload_refused" in ln][-1]
    srv.top.pop("data_dir")
    srv.conf_path.write_text(srv.render())
    # Still serving, on the old address, with the old data.
    srv.send("x@remote.example", ["alice@example.test"],
             make_message(subject="still here"))
    srv.wait_for_mail("alice@example.test", 1)


def test_fifty_sessions_across_ten_reloads(make_server):
    """The issue's test: 50 sessions send while the server reloads 10
    times: no session dropped, every message delivered exactly once,
    new sessions on the new settings."""
    srv = make_server(limits={"max_connections_per_ip": "200"},
                      queue={"delivery_threads": "4"})
    sessions, per_session = 50, PER_SESSION
    errors, sent = [], []
    lock = threading.Lock()
    start = threading.Barrier(sessions + 1)

    def client(k):
        try:
            start.wait(30)
            with srv.smtp() as s:
                for m in range(per_session):
                    mid = f"reload-{k}-{m}@test"
                    s.sendmail("x@remote.example", ["alice@example.test"],
                               make_message(subject=f"s{k} m{m}",
                                            msgid=mid))
                    with lock:
                        sent.append(mid)
                    time.sleep(0.05)  # spread the session over reloads
        except Exception as e:  # reported below, with the others
            with lock:
                errors.append(f"session {k}: {e!r}")

    threads = [threading.Thread(target=client, args=(k,))
               for k in range(sessions)]
    for th in threads:
        th.start()
    start.wait(30)
    for i in range(RELOADS):
        name = f"gen{i}.example.test"
        reconfigure(srv, top={"hostname": name})
        r = srv.cli("reload")
        assert "reloaded" in r.out
    for th in threads:
        th.join(600 if LONG else 120)
    assert not any(th.is_alive() for th in threads)
    assert errors == [], errors[:5]
    assert len(sent) == sessions * per_session
    assert srv.log().count("event=reload what=config") == RELOADS
    # Nothing lost, nothing twice.
    srv.wait_for_mail("alice@example.test", sessions * per_session,
                      timeout=600 if LONG else 120)
    ids = [re.search(rb"Message-ID: <([^>]+)>", m).group(1).decode()
           for m in srv.mail("alice@example.test")]
    assert sorted(ids) == sorted(sent)
    # A new session gets the last configuration.
    assert greeting_and_size(srv)[0] == f"gen{RELOADS - 1}.example.test"


def test_sighup_reloads_too(make_server):
    srv = make_server()
    reconfigure(srv, top={"hostname": "hup.example.test"})
    os.kill(srv.proc.pid, signal.SIGHUP)
    wait_log(srv, "event=reload what=config")
    assert greeting_and_size(srv)[0] == "hup.example.test"
