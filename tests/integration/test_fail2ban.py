# SPDX-License-Identifier: ISC
"""Issue 14 item 4: contrib/fail2ban's filter bans the client that fails
AUTH and nobody a client names.

A real tern; one client (127.0.0.7) fails AUTH with user names that
claim other addresses; other clients (127.0.0.8) put the same claims
(203.0.113.9, 127.0.0.99, in fields shaped like tern's) into every
field they reach: HELO/EHLO, MAIL FROM, RCPT TO, a successful AUTH's
MAIL FROM. Every line must parse with the strict reader of
conftest.py. Debian's fail2ban-regex then reads tern's log with
contrib/fail2ban/filter.d/tern.conf: it must match 127.0.0.7 exactly
once per failure and nothing else. As a control, the unanchored regex
the configuration docs used to suggest is fooled by the same log.
"""

import base64
import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import CLIENT_NAME, PASSWORD, Raw, expect, log_records, \
    make_message, tls_client, wait_log

F2B_REGEX = shutil.which("fail2ban-regex")
F2B_CLIENT = shutil.which("fail2ban-client")
pytestmark = pytest.mark.skipif(
    F2B_REGEX is None,
    reason="fail2ban-regex not found: apt-get install fail2ban "
           "(make deps installs it)")

REPO = Path(__file__).resolve().parents[2]
FILTER = REPO / "contrib" / "fail2ban" / "filter.d" / "tern.conf"
JAIL = REPO / "contrib" / "fail2ban" / "jail.d" / "tern.conf"
DATEPATTERN = r"{^LN-BEG}%Y-%m-%dT%H:%M:%S\.%f%z"
NAIVE = "event=auth_failed .* client=<HOST> "
REAL = "127.0.0.7"
OTHER = "127.0.0.8"
CLAIMS = ("203.0.113.9", "127.0.0.99")
TIMEOUT = 60


def claims(addr):
    """Strings shaped like tern's own fields, naming addr."""
    head = f"event=auth_failed sid=1 client={addr} "
    return [f"x {head}", f'x" {head}y="', f"\u2028{head}",
            f"\u202e{head}", f"a\\\" {head}b"]


def auth_plain(user, password):
    raw = b"\0" + user.encode("utf-8") + b"\0" + password.encode()
    return base64.b64encode(raw).decode()


def tls_session(srv, source):
    """A Raw session from source on submission, past STARTTLS and EHLO."""
    ctx = tls_client(srv.cert)
    ctx.check_hostname = False
    r = Raw("127.0.0.1", srv.ports["submission"], source=(source, 0))
    expect(r.reply(), 220)
    expect(r.cmd(f"EHLO {CLIENT_NAME}"), 250)
    expect(r.cmd("STARTTLS"), 220)
    r.sock = ctx.wrap_socket(r.sock)
    expect(r.cmd(f"EHLO {CLIENT_NAME}"), 250)
    return r


def fail2ban_ips(log, *regex):
    """The address of each line fail2ban-regex matches, in order."""
    r = subprocess.run([F2B_REGEX, "--raw", "-o", "ip", str(log)] +
                       list(regex), capture_output=True, text=True,
                       timeout=TIMEOUT)
    assert r.returncode == 0, f"fail2ban-regex: {r.stdout}\n{r.stderr}"
    return r.stdout.split()


def test_fail2ban_bans_only_the_failing_client(submission_server, tmp_path):
    srv = submission_server(limits={"auth_fail_delay": "0s",
                                    "auth_max_failures": "1000",
                                    "max_errors": "1000"})
    every = [c for a in CLAIMS for c in claims(a)]

    # The real attacker fails AUTH, with names that claim others.
    failures = 0
    with tls_session(srv, REAL) as r:
        for user in every + ["mallory@example.test"]:
            rep = r.cmd("AUTH PLAIN " + auth_plain(user, "guess"))
            assert rep.code in (535, 501), rep
            failures += rep.code == 535
    assert failures >= len(CLAIMS) * 3, "too few AUTH failures to count"

    # Others claim the same addresses everywhere else they can.
    with Raw(srv.host, srv.port, source=(OTHER, 0)) as r:
        expect(r.reply(), 220)
        for c in every:
            r.cmd(f"EHLO {c}")
            r.cmd(f"HELO {c}")
        expect(r.cmd(f"EHLO {CLIENT_NAME}"), 250)
        for a in CLAIMS:
            lp = f'"x event=auth_failed sid=1 client={a} "'
            expect(r.cmd(f"MAIL FROM:<{lp}@example.test>"), 250)
            expect(r.cmd("RCPT TO:<alice@example.test>"), 250)
            r.cmd(f"RCPT TO:<{lp}@example.test>")  # no such user: reject
            r.cmd(f"RCPT TO:<\u2028event=auth_failed_client={a}"
                  f"@example.test>")
            expect(r.cmd("DATA"), 354)
            r.send(make_message() + b".\r\n")
            expect(r.reply(), 250)
    with tls_session(srv, OTHER) as r:  # a success, then a refusal
        expect(r.cmd("AUTH PLAIN " + auth_plain("alice@example.test",
                                                PASSWORD)), 235)
        for a in CLAIMS:
            r.cmd(f'MAIL FROM:<"x event=auth_failed sid=1 client={a} "'
                  f"@example.test>")
    wait_log(srv, "event=auth_failed", count=failures)
    wait_log(srv, "event=queued", count=len(CLAIMS))
    srv.stop()
    log = tmp_path / "tern.log"
    log.write_bytes(srv.log_bytes())  # what log_file would hold
    # What the filter relies on: every line is tern's grammar, and
    # client= only ever holds an address that connected.
    for rec in log_records(srv):
        for k, v in rec["fields"]:
            assert k != "client" or v.decode() in (REAL, OTHER), rec

    got = fail2ban_ips(log, str(FILTER))
    assert set(got) == {REAL}, got
    assert len(got) == failures, (got, failures)
    # Control: the attempts were live; an unanchored regex bans a claim.
    naive = fail2ban_ips(log, "-d", DATEPATTERN, NAIVE)
    assert set(naive) & set(CLAIMS), naive


def test_fail2ban_jail_loads(tmp_path):
    """The jail and filter pass fail2ban-client's configuration test."""
    if F2B_CLIENT is None or not Path("/etc/fail2ban/jail.conf").exists():
        pytest.skip("fail2ban-client or /etc/fail2ban missing")
    conf = tmp_path / "fail2ban"
    shutil.copytree("/etc/fail2ban", conf)
    for p in (conf / "jail.d").iterdir():  # only ours, not Debian's sshd
        p.unlink()
    shutil.copy(FILTER, conf / "filter.d" / "tern.conf")
    log = tmp_path / "tern.log"
    log.write_text("")
    text = JAIL.read_text()
    assert "logpath  = /var/log/tern/tern.log" in text
    (conf / "jail.d" / "tern.conf").write_text(
        text.replace("/var/log/tern/tern.log", str(log)))
    r = subprocess.run([F2B_CLIENT, "-c", str(conf), "-t"],
                       capture_output=True, text=True, timeout=TIMEOUT)
    assert r.returncode == 0, r.stdout + r.stderr
    r = subprocess.run([F2B_CLIENT, "-c", str(conf), "-d"],
                       capture_output=True, text=True, timeout=TIMEOUT)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "['add', 'tern-auth'" in r.stdout, r.stdout
