# SPDX-License-Identifier: ISC
"""`tern sendmail` (issue 5): the maildrop hand-off and the pickup.

Each test runs a real server, queues with `tern sendmail` (or a symlink
named sendmail) and reads the result from the Maildir. The maildrop is
found through TERN_CONFIG, as cron or PHP would find it.
"""

import os
import stat
import subprocess
import tempfile
from pathlib import Path

import pytest

from conftest import (CLI_TIMEOUT, TERN_BIN, child_env, header_block,
                      sanitizer_clean, wait_log)

NOBODY = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]


def sendmail(srv, *args, input=b"", argv0=None, wrapper=(), check=True):
    env = child_env()
    env["TERN_CONFIG"] = str(srv.conf_path)
    prog = [argv0] if argv0 else [TERN_BIN, "sendmail"]
    if isinstance(input, str):
        input = input.encode("utf-8")
    r = subprocess.run(list(wrapper) + prog + list(args), input=input,
                       capture_output=True, timeout=CLI_TIMEOUT, env=env)
    err = r.stderr.decode("utf-8", "replace")
    assert sanitizer_clean(err) is None, err
    if check:
        assert r.returncode == 0, f"sendmail exited {r.returncode}: {err}"
    r.err = err
    return r


def lf(data):
    """Maildir files may use LF line ends: compare without CR."""
    return data.replace(b"\r\n", b"\n")


def fields(data):
    return {k.lower(): v for k, v in header_block(data)}


def test_sendmail_t_cron_message(server):
    # What cron writes: LF line ends, a bare name, no From/Date/Message-ID.
    msg = ("To: alice\nSubject: Cron <root@host> run-parts\n"
           "Bcc: bob@example.test\n\nline one\n.hidden dot line? no\n")
    sendmail(server, "-t", "-oi", input=msg)
    data = server.wait_for_mail("alice@example.test")[0]
    f = fields(data)
    assert f["subject"] == "Cron <root@host> run-parts"
    assert "root@example.test" in f["from"]
    assert "date" in f and "message-id" in f
    assert "from userid 0" in f["received"]
    # the field, not the letters: queue ids and Message-IDs are hex
    assert "bcc" not in f and b"bob@" not in data, "Bcc must be removed"
    assert b"\n\nline one\n.hidden dot line? no\n" in lf(data)
    # Bcc got a copy too.
    server.wait_for_mail("bob@example.test")


def test_sendmail_command_line_rcpts_and_dot(server):
    # Without -i a lone "." ends the message.
    sendmail(server, "alice@example.test", "bob",
             input="Subject: two\n\nbefore\n.\nafter\n")
    for who in ("alice@example.test", "bob@example.test"):
        data = server.wait_for_mail(who)[0]
        assert b"before\n" in lf(data) and b"after" not in data
        assert "message-id" in fields(data)


def test_sendmail_f_and_F(server):
    sendmail(server, "-f", "bounces@example.org", "-F", "Cron Daemon",
             "-bm", "alice@example.test", input="Subject: x\n\nbody\n")
    data = server.wait_for_mail("alice@example.test")[0]
    f = fields(data)
    assert f["return-path"] == "<bounces@example.org>"
    assert f["from"] == '"Cron Daemon" <bounces@example.org>' or \
        f["from"] == "Cron Daemon <bounces@example.org>"


def test_sendmail_symlink_and_i(server, tmp_path):
    link = tmp_path / "sendmail"
    os.symlink(TERN_BIN, link)
    sendmail(server, "-i", "alice", argv0=str(link),
             input="Subject: via link\n\nkeep\n.\nthis\n")
    data = server.wait_for_mail("alice@example.test")[0]
    assert fields(data)["subject"] == "via link"
    assert b"keep\n.\nthis\n" in lf(data)


def test_sendmail_errors(server):
    r = sendmail(server, "-t", input="Subject: nobody\n\nx\n", check=False)
    assert r.returncode == 64 and "no recipient" in r.err
    r = sendmail(server, "bad address@@x", input="x\n", check=False)
    assert r.returncode == 65 and "bad address" in r.err
    r = sendmail(server, "-bs", input="", check=False)
    assert r.returncode == 64


def test_sendmail_as_nobody(make_server):
    # Every directory on the way must be searchable by uid 65534.
    base = Path(tempfile.mkdtemp(prefix="tern-sendmail-", dir="/tmp"))
    try:
        base.chmod(0o755)
        srv = make_server(subdir=str(base / "srv"), start=False)
        srv.data_dir.chmod(0o711)
        srv.start()
        drop = srv.data_dir / "maildrop"
        st = drop.stat()
        assert stat.S_IMODE(st.st_mode) == 0o1733
        sendmail(srv, "-t", wrapper=NOBODY,
                 input="To: alice@example.test\nSubject: from nobody\n\nhi\n")
        data = srv.wait_for_mail("alice@example.test")[0]
        f = fields(data)
        assert "from userid 65534" in f["received"]
        assert f["return-path"] == "<nobody@example.test>"
        # nobody can drop but not list the directory.
        r = subprocess.run(NOBODY + ["ls", str(drop)], capture_output=True,
                           timeout=CLI_TIMEOUT)
        assert r.returncode != 0
        srv.stop()
    finally:
        subprocess.run(["rm", "-rf", str(base)], timeout=CLI_TIMEOUT)


def test_malformed_drop_is_refused(server):
    drop = server.data_dir / "maildrop"
    refused = server.data_dir / "maildrop-refused"
    (drop / "garbage1").write_bytes(b"not a drop file\n")
    (drop / "badaddr1").write_bytes(
        b"TERN-MAILDROP 1\nS <>\nR <a b@example.test>\n\nx\r\n")
    (drop / "bare-lf1").write_bytes(
        b"TERN-MAILDROP 1\nS <>\nR <alice@example.test>\n\nx\ny\r\n")
    os.symlink("/etc/passwd", drop / "link1")
    os.mkfifo(drop / "fifo1")
    for name in ("garbage1", "badaddr1", "bare-lf1", "link1", "fifo1"):
        wait_log(server, f"file={name} ")
    log = server.log()
    assert log.count("event=pickup_refused") == 5, log
    assert sorted(p.name for p in refused.iterdir()) == \
        ["badaddr1", "bare-lf1", "fifo1", "garbage1", "link1"]
    assert not [p for p in drop.iterdir()]
    # Still alive and taking mail.
    sendmail(server, "alice", input="Subject: after\n\nok\n")
    assert fields(server.wait_for_mail("alice@example.test")[0])[
        "subject"] == "after"


def test_dropped_while_down_is_delivered(make_server):
    srv = make_server()
    srv.stop()  # the first start created the maildrop
    sendmail(srv, "alice", input="Subject: while down\n\nqueued\n")
    assert len(list((srv.data_dir / "maildrop").iterdir())) == 1
    srv.start()
    data = srv.wait_for_mail("alice@example.test")[0]
    assert fields(data)["subject"] == "while down"
    assert not list((srv.data_dir / "maildrop").iterdir())


def _dsn_status(data):
    """Final-Recipient -> (Status, Diagnostic-Code) of a DSN's report."""
    import email
    import email.policy
    msg = email.message_from_bytes(data, policy=email.policy.default)
    assert msg.get_content_type() == "multipart/report"
    out = {}
    for part in msg.walk():
        if part.get_content_type() != "message/delivery-status":
            continue
        for block in part.get_payload()[1:]:
            out[block["Final-Recipient"].split(";")[1].strip()] = (
                block["Status"], block.get("Diagnostic-Code"))
    return out


def test_sendmail_unknown_local_user_bounces(server):
    # issue 5 (i5c): sendmail already said yes, so a local recipient
    # that does not exist comes back to the sender as a DSN (5.1.1);
    # the other recipients still get the message.
    sendmail(server, "-f", "alice@example.test", "bob",
             "nobody@example.test", input="Subject: half\n\nhello\n")
    server.wait_for_mail("bob@example.test")
    dsn = server.wait_for_mail("alice@example.test")[0]
    f = fields(dsn)
    assert "undelivered" in f["subject"].lower()
    assert f["return-path"] == "<>"
    st = _dsn_status(dsn)
    assert list(st) == ["nobody@example.test"], st
    assert st["nobody@example.test"][0] == "5.1.1"
    assert "5.1.1" in st["nobody@example.test"][1]
    assert b"Subject: half" in dsn  # the original comes back
    log = server.log()
    assert "event=pickup_rcpt_refused" in log and "action=bounce" in log


def test_sendmail_no_recipient_resolves_bounces_whole(server):
    sendmail(server, "-f", "alice@example.test", "ghost@example.test",
             "nobody@example.test", input="Subject: none\n\nhello\n")
    dsn = server.wait_for_mail("alice@example.test")[0]
    st = _dsn_status(dsn)
    assert sorted(st) == ["ghost@example.test", "nobody@example.test"], st
    assert all(s == "5.1.1" for s, _ in st.values())
    server.wait_queue_empty()
    assert not list((server.data_dir / "maildrop-refused").iterdir())


def test_sendmail_null_sender_unknown_user_not_bounced(server):
    # RFC 5321 6.1: never bounce a message with the null sender.
    sendmail(server, "-f", "<>", "nobody@example.test", "bob",
             input="Subject: null\n\nhello\n")
    server.wait_for_mail("bob@example.test")
    wait_log(server, "action=drop")
    server.wait_queue_empty()
    assert not server.mail("alice@example.test")
    assert not server.mail("postmaster@example.test")


def test_global_c_before_sendmail(server):
    # `tern -c FILE sendmail` (a cron line with a non-default config):
    # no TERN_CONFIG in the environment, so only -c can find the server.
    env = child_env()
    env.pop("TERN_CONFIG", None)
    r = subprocess.run(
        [TERN_BIN, "-c", str(server.conf_path), "sendmail", "-oi", "alice"],
        input=b"Subject: via -c\n\nbody\n", capture_output=True,
        timeout=CLI_TIMEOUT, env=env)
    assert r.returncode == 0, r.stderr
    data = server.wait_for_mail("alice@example.test")[0]
    assert fields(data)["subject"] == "via -c"
    # A -c FILE that does not exist is a configuration error.
    r = subprocess.run(
        [TERN_BIN, "-c", str(server.conf_path) + ".missing", "sendmail",
         "alice"], input=b"x\n", capture_output=True, timeout=CLI_TIMEOUT,
        env=env)
    assert r.returncode == 78, r.stderr  # EX_CONFIG
