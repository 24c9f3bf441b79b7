# SPDX-License-Identifier: ISC
"""LMTP delivery (issue 4): into a real Dovecot (dovecot-lmtpd) over a
unix socket, with per-recipient replies, and per-recipient replies after
DATA (RFC 2033 4.2) from the Python sink in LMTP mode over TCP.
"""

import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time

import pytest

from conftest import make_message
from test_remote import relay_server, sinks, submit, wait_log  # noqa: F401

DOVECOT = shutil.which("dovecot") or "/usr/sbin/dovecot"

DOVECOT_CONF = """\
base_dir = {d}/run
state_dir = {d}/state
instance_name = tern-test-{tag}
protocols = lmtp
listen = 127.0.0.1
log_path = {d}/dovecot.log
ssl = no
mail_location = maildir:{d}/mail/%d/%n
mail_uid = {uid}
mail_gid = {gid}
first_valid_uid = 1
default_internal_user = dovecot
default_login_user = dovenull
passdb {{
  driver = passwd-file
  args = {d}/users
}}
userdb {{
  driver = passwd-file
  args = {d}/users
}}
service lmtp {{
  unix_listener {d}/run/lmtp.sock {{
    mode = 0666
  }}
}}
service anvil {{
  chroot =
}}
lmtp_save_to_detail_mailbox = no
"""


@pytest.fixture
def dovecot():
    """start(users) -> (socket path, maildir(addr) function)."""
    procs, dirs = [], []

    def start(users):
        if not os.path.exists(DOVECOT) or \
                not os.path.exists("/usr/lib/dovecot/lmtp"):
            pytest.skip("dovecot-lmtpd not installed")
        if os.geteuid() != 0:
            pytest.skip("running Dovecot here needs root")
        try:
            nobody = pwd.getpwnam("nobody")
            pwd.getpwnam("dovecot")
            pwd.getpwnam("dovenull")
        except KeyError:
            pytest.skip("Dovecot's system users are missing")
        # Short path (unix socket) that the mail uid can traverse.
        d = tempfile.mkdtemp(prefix="tdv", dir="/tmp")
        dirs.append(d)
        os.chmod(d, 0o755)
        for sub in ("run", "state", "mail"):
            os.mkdir(os.path.join(d, sub))
        os.chown(os.path.join(d, "mail"), nobody.pw_uid, nobody.pw_gid)
        with open(os.path.join(d, "users"), "w") as f:
            for u in users:
                local, dom = u.split("@")
                f.write(f"{u}::{nobody.pw_uid}:{nobody.pw_gid}::"
                        f"{d}/mail/{dom}/{local}\n")
        conf = os.path.join(d, "dovecot.conf")
        with open(conf, "w") as f:
            f.write(DOVECOT_CONF.format(d=d, uid=nobody.pw_uid,
                                        gid=nobody.pw_gid,
                                        tag=os.path.basename(d)))
        p = subprocess.Popen([DOVECOT, "-F", "-c", conf],
                             stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
        procs.append(p)
        sock = os.path.join(d, "run", "lmtp.sock")
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if p.poll() is not None:
                log = open(os.path.join(d, "dovecot.log")).read() \
                    if os.path.exists(os.path.join(d, "dovecot.log")) \
                    else ""
                pytest.fail(f"dovecot exited {p.returncode}: {log}")
            try:
                s = socket.socket(socket.AF_UNIX)
                s.settimeout(2)
                s.connect(sock)
                greeting = s.recv(512)
                s.close()
                if greeting.startswith(b"220"):
                    break
            except OSError:
                time.sleep(0.05)
        else:
            pytest.fail("dovecot lmtp did not come up")

        def maildir_files(addr):
            local, dom = addr.split("@")
            new = os.path.join(d, "mail", dom, local, "new")
            if not os.path.isdir(new):
                return []
            return sorted(os.path.join(new, n) for n in os.listdir(new))

        return sock, maildir_files

    yield start
    for p in procs:
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(15)
        except subprocess.TimeoutExpired:
            p.kill()
    for d in dirs:
        shutil.rmtree(d, ignore_errors=True)


def wait_files(fn, addr, n=1, timeout=30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        files = fn(addr)
        if len(files) >= n:
            return files
        time.sleep(0.05)
    pytest.fail(f"{addr}: {len(fn(addr))} of {n} messages in Dovecot")


def test_dovecot_lmtp_unix_socket(make_server, dovecot):
    sock, files = dovecot(["alice@example.test", "bob@example.test",
                           "admin@example.test"])
    # Our own domain's mailboxes live in Dovecot, reached over LMTP.
    srv = make_server(users=("alice@example.test", "bob@example.test",
                             "admin@example.test", "carol@example.test"),
                      extra=f"\n[routes]\nexample.test = lmtp:{sock}\n")
    srv.send("alice@example.test", ["bob@example.test", "carol@example.test"],
             make_message(subject="over lmtp", to="bob@example.test"))
    got = wait_files(files, "bob@example.test")
    data = open(got[0], "rb").read()
    assert b"Subject: over lmtp" in data
    # carol is ours but unknown to Dovecot: its 550 for her alone, and
    # the bounce reaches alice through Dovecot too.
    bounce = wait_files(files, "alice@example.test")
    text = open(bounce[0], "rb").read()
    assert b"multipart/report" in text and b"carol@example.test" in text
    assert srv.maildir("bob@example.test").exists() is False
    srv.wait_queue_empty()
    log = srv.log()
    assert "dest=route:example.test" in log
    assert "to=carol@example.test" in log and "event=failed" in log


def test_lmtp_replies_per_recipient_after_data(make_server, sinks):
    sink = sinks(lmtp=True, ext=("PIPELINING", "ENHANCEDSTATUSCODES"))
    seen = {"b": 0}

    def after_data(msg, rcpt):
        if rcpt.startswith("b@"):
            seen["b"] += 1
            if seen["b"] == 1:
                return "452 4.2.2 <b@l.test> mailbox full"
        if rcpt.startswith("c@"):
            return "550 5.1.1 <c@l.test> gone"
        return "250 2.0.0 <%s> saved" % rcpt

    sink.data_reply = after_data
    srv = relay_server(make_server,
                       f"l.test = lmtp:127.0.0.1:{sink.port}\n")
    submit(srv, "alice@example.test", ["a@l.test", "b@l.test", "c@l.test"],
           make_message(to="a@l.test"))
    # a: delivered at once; b: 452 after DATA, so retried alone; c: 550.
    msgs = sink.wait_messages(2, timeout=30)
    assert msgs[0].rcpts == ["a@l.test", "b@l.test", "c@l.test"]
    assert msgs[1].rcpts == ["b@l.test"]
    assert sink.commands[0].startswith("LHLO ")
    srv.wait_queue_empty()
    log = srv.log()
    assert "mailbox full" in log
    assert "event=failed" in log and "to=c@l.test" in log
    dsn = srv.wait_for_mail("alice@example.test")
    assert b"c@l.test" in dsn[0] and b"5.1.1" in dsn[0]
