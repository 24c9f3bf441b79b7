# SPDX-License-Identifier: ISC
"""Real filters from Debian as tern's milters (issue 18): rspamd's proxy
worker in milter mode and OpenDKIM in sign mode, each started once for
this module on a loopback port, with every file under a temporary
directory.

- rspamd rejects the GTUBE test string at the end of DATA with its own
  reply, and a clean message arrives in the Maildir with rspamd's
  headers (milter_headers with extended_spam_headers: X-Spamd-Result).
- OpenDKIM signs mail submitted through tern's submission listener (a
  relay_networks client); dkimpy verifies the DKIM-Signature of the
  delivered message with the key OpenDKIM signed with.

rspamd runs without Redis (the modules needing it disable themselves),
with a five-name TLD list (the full public suffix list takes 15 s to
compile on a loaded machine) and a DNS server of the tests (dnstest.py:
NXDOMAIN for everything) so no lookup leaves the host. Each daemon's
start-up is bounded by a readiness check: its port accepts connections.
"""

import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from conftest import CLIENT_NAME, Raw, expect, header_block, make_message
from dnstest import DnsServer, Zone

READY_TIMEOUT = 60.0
GTUBE = "XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X"
QUEUED_RE = re.compile(r"2\.0\.0 Ok: queued as (\S+)")


def field_values(data, name):
    return [v for n, v in header_block(data) if n.lower() == name.lower()]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, proc, logfile, what):
    """Until 127.0.0.1:port accepts a connection (bounded), or fail with
    the daemon's log if it exits or stays deaf."""
    deadline = time.monotonic() + READY_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            break
        try:
            socket.create_connection(("127.0.0.1", port), 0.5).close()
            return
        except OSError:
            time.sleep(0.1)
    log = Path(logfile).read_text(errors="replace")[-3000:] \
        if Path(logfile).exists() else ""
    stop_daemon(proc)
    pytest.fail(f"{what} not listening on 127.0.0.1:{port} "
                f"(exit {proc.returncode}):\n{log}")


def stop_daemon(proc):
    """SIGTERM to the daemon's process group (it was started in a new
    session: its workers are in that group), bounded, then SIGKILL."""
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        proc.wait(15)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)


def milter_conf(name, port, content="60s"):
    return (f"\n[milter {name}]\naddress = inet:127.0.0.1:{port}\n"
            f"default_action = tempfail\nconnect_timeout = 10s\n"
            f"command_timeout = 30s\ncontent_timeout = {content}\n")


def send(srv, msg, port=None, sender="sender@remote.example",
         rcpt="alice@example.test"):
    """One transaction on a fresh session: the reply to the final dot."""
    with Raw("127.0.0.1", port or srv.port, timeout=60) as r:
        expect(r.reply(), 220)
        expect(r.cmd(f"EHLO {CLIENT_NAME}"), 250)
        expect(r.cmd(f"MAIL FROM:<{sender}>"), 250)
        expect(r.cmd(f"RCPT TO:<{rcpt}>"), 250)
        expect(r.cmd("DATA"), 354)
        r.send(msg + b".\r\n")
        rep = r.reply()
        expect(r.cmd("QUIT"), 221)
        return rep


def wait_milter_ready(srv, timeout=60):
    """Readiness of a real filter behind tern: its port may be open
    before it can answer (rspamd compiles its rules first, slowly on a
    busy machine, and says 451 4.7.1 at the connect stage until then).
    Bounded: EHLO until it is not 451, at most `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        with Raw("127.0.0.1", srv.port, timeout=60) as r:
            expect(r.reply(), 220)
            rep = r.cmd(f"EHLO {CLIENT_NAME}")
            if rep.code != 451 or time.monotonic() > deadline:
                expect(rep, 250)
                expect(r.cmd("QUIT"), 221)
                return
        time.sleep(0.2)


# -- rspamd ----------------------------------------------------------------

RSPAMD_CONF = """\
.include "$CONFDIR/common.conf"
options {
    pidfile = "$RUNDIR/rspamd.pid";
    .include "$CONFDIR/options.inc"
    .include(try=true; priority=1,duplicate=merge) "$LOCAL_CONFDIR/local.d/options.inc"
}
logging {
    type = "file";
    filename = "$LOGDIR/rspamd.log";
    level = "notice";
}
worker "rspamd_proxy" {
    bind_socket = "127.0.0.1:$MILTER_PORT";
    milter = yes;
    timeout = 60s;
    count = 1;
    upstream "local" {
        default = yes;
        self_scan = yes;
    }
}
"""


@pytest.fixture(scope="module")
def rspamd():
    """Debian's rspamd, proxy worker in milter mode: its port."""
    exe = shutil.which("rspamd")
    if exe is None:
        pytest.skip("rspamd is not installed (apt-get install rspamd)")
    d = Path(tempfile.mkdtemp(prefix="tern-rspamd-"))
    for sub in ("local.d", "run", "db", "log"):
        (d / sub).mkdir()
    dns = DnsServer(Zone({}))
    (d / "rspamd.conf").write_text(RSPAMD_CONF)
    (d / "tld.dat").write_text("com\nnet\norg\ntest\nexample\n")
    (d / "local.d" / "options.inc").write_text(
        f'dns {{\n  nameserver = ["127.0.0.1:{dns.port}"];\n'
        f'  timeout = 1s;\n  retransmits = 1;\n}}\n'
        f'url_tld = "{d}/tld.dat";\n')
    # Headers also for mail from loopback (rspamd skips "local" mail).
    (d / "local.d" / "milter_headers.conf").write_text(
        "extended_spam_headers = true;\nskip_local = false;\n"
        "skip_authenticated = false;\n")
    port = free_port()
    argv = [exe, "-f", "-c", str(d / "rspamd.conf")]
    if os.geteuid() == 0:
        argv.append("-i")  # root: run the workers as root (test only)
    for k, v in (("CONFDIR", "/etc/rspamd"), ("LOCAL_CONFDIR", d),
                 ("RUNDIR", d / "run"), ("DBDIR", d / "db"),
                 ("LOGDIR", d / "log"), ("MILTER_PORT", port)):
        argv += ["--var", f"{k}={v}"]
    out = open(d / "log" / "stdout.log", "wb")
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out,
                            stderr=subprocess.STDOUT, start_new_session=True)
    out.close()
    try:
        wait_port(port, proc, d / "log" / "rspamd.log", "rspamd")
        yield port
    finally:
        stop_daemon(proc)
        dns.close()
        shutil.rmtree(d, ignore_errors=True)


def test_rspamd_gtube_rejected_clean_mail_gets_headers(make_server, rspamd):
    srv = make_server(extra=milter_conf("rspamd", rspamd),
                      listener_extra={"mx": {"milters": "rspamd"}})
    wait_milter_ready(srv)
    rep = send(srv, make_message(subject="gtube",
                                 body=f"test\r\n{GTUBE}\r\n"))
    # rspamd's own reply for GTUBE (its reject action), at end of DATA
    assert rep.code == 554 and rep.text == "5.7.1 Gtube pattern", rep
    rep = send(srv, make_message(subject="clean", msgid="clean@remote.example",
                                 body="Hello Alice,\r\n\r\nsee you.\r\n"))
    assert rep.code == 250 and QUEUED_RE.search(rep.text), rep
    qid = QUEUED_RE.search(rep.text).group(1)
    got = srv.wait_for_mail("alice@example.test")
    assert len(got) == 1
    result = field_values(got[0], "X-Spamd-Result")
    assert len(result) == 1 and result[0].startswith("default: False ["), \
        got[0]
    assert field_values(got[0], "X-Rspamd-Action") == ["no action"], got[0]
    # rspamd names the message by macro i: the id tern gave the client
    assert field_values(got[0], "X-Rspamd-Queue-Id") == [qid], got[0]
    assert b"GTUBE" not in b"".join(p.read_bytes() for p in srv.all_mail())
    srv.wait_queue_empty()


# -- OpenDKIM --------------------------------------------------------------

@pytest.fixture(scope="module")
def opendkim():
    """Debian's opendkim signing example.test (selector "tern18") as a
    milter: (port, public key record)."""
    exe = shutil.which("opendkim") or "/usr/sbin/opendkim"
    gen = shutil.which("opendkim-genkey") or "/usr/sbin/opendkim-genkey"
    if not (os.access(exe, os.X_OK) and os.access(gen, os.X_OK)):
        pytest.skip("opendkim / opendkim-tools are not installed")
    d = Path(tempfile.mkdtemp(prefix="tern-opendkim-"))
    subprocess.run([gen, "-b", "1024", "-h", "sha256", "-d", "example.test",
                    "-s", "tern18", "-D", str(d)], check=True,
                   capture_output=True, timeout=60)
    txt = (d / "tern18.txt").read_text()
    record = "".join(re.findall(r'"([^"]*)"', txt))
    assert "p=" in record, txt
    port = free_port()
    (d / "opendkim.conf").write_text(
        "Syslog no\nBackground no\nMode s\nDomain example.test\n"
        f"Selector tern18\nKeyFile {d}/tern18.private\n"
        "RequireSafeKeys false\n"
        f"Socket inet:{port}@127.0.0.1\nInternalHosts 127.0.0.1\n"
        "Canonicalization relaxed/relaxed\nSignatureAlgorithm rsa-sha256\n"
        f"PidFile {d}/opendkim.pid\n")
    log = d / "opendkim.log"
    out = open(log, "wb")
    proc = subprocess.Popen([exe, "-f", "-x", str(d / "opendkim.conf")],
                            stdin=subprocess.DEVNULL, stdout=out,
                            stderr=subprocess.STDOUT, start_new_session=True)
    out.close()
    try:
        wait_port(port, proc, log, "opendkim")
        yield port, record
    finally:
        stop_daemon(proc)
        shutil.rmtree(d, ignore_errors=True)


def test_opendkim_signs_submitted_mail(make_server, opendkim):
    import dkim

    port, record = opendkim
    srv = make_server(
        listeners=[("mx", "127.0.0.1", "mx"),
                   ("submission", "127.0.0.1", "submission")],
        top={"relay_networks": "127.0.0.1/32"},
        extra=milter_conf("opendkim", port),
        listener_extra={"submission": {"milters": "opendkim"}})
    msg = (b"From: Alice <alice@example.test>\r\n"
           b"To: Bob <bob@example.test>\r\n"
           b"Subject: signed by OpenDKIM\r\n"
           b"Date: Fri, 04 Dec 2026 10:00:00 +0000\r\n"
           b"Message-ID: <od.1@example.test>\r\n"
           b"\r\n"
           b"Hello Bob,\r\n\r\n  spaces  and\ttabs \r\n")
    rep = send(srv, msg, port=srv.ports["submission"],
               sender="alice@example.test", rcpt="bob@example.test")
    assert rep.code == 250 and QUEUED_RE.search(rep.text), rep
    got = srv.wait_for_mail("bob@example.test")[0]
    sigs = field_values(got, "DKIM-Signature")
    assert len(sigs) == 1, got
    assert "d=example.test" in sigs[0] and "s=tern18" in sigs[0], sigs

    def dnsfunc(name, timeout=5):
        assert name == b"tern18._domainkey.example.test.", name
        return record.encode()

    # The Maildir file as delivered (tern's Return-Path and Delivered-To
    # on top are outside the signature); CRLF for dkimpy.
    wire = got if b"\r\n" in got else got.replace(b"\n", b"\r\n")
    assert dkim.verify(wire, dnsfunc=dnsfunc), got
    tampered = wire.replace(b"Hello Bob", b"Hello Rob", 1)
    assert not dkim.verify(tampered, dnsfunc=dnsfunc)
    # mail to the mx listener (no milters) is not signed
    rep = send(srv, make_message(to="bob@example.test"),
               rcpt="bob@example.test")
    assert rep.code == 250, rep
    got = srv.wait_for_mail("bob@example.test", 2)
    assert sum(b"DKIM-Signature" in m for m in got) == 1
