# SPDX-License-Identifier: ISC
"""Issue 19: TLS-RPT (RFC 8460) reports from a day of counts.

The day of test traffic comes in through the documented test path of
deliver/tlsrpt_store.h: the store's own file, DATA_DIR/tlsrpt/DAY.json,
planted before the server starts (the store reads it at start: the same
path that keeps counts over a restart). The hook itself is unit-tested
(test_tlsrpt_store); counts from real DANE and no-policy deliveries are
in test_tlsrpt_dane.

The test DNS (dnstest.py) publishes _smtp._tls for policy.test with two
rua: a mailbox of the server itself (reports@example.test) and an HTTPS
endpoint on loopback (Python, a certificate of a test CA the server
trusts through [outbound_tls] ca_file). `tern tlsrpt send` must send
policy.test's report to both: both copies decompress and validate
against tests/integration/tlsrpt.schema.json (RFC 8460 4.4) and hold the
planted counts; other.test publishes nothing and is dropped; two.test
publishes two records, which means no report (RFC 8460 3)."""

import datetime
import email
import email.policy
import gzip
import http.server
import json
import re
import ssl
import threading
from pathlib import Path

import jsonschema
import pytest

from conftest import wait_log
from dnstest import DnsServer, Zone
from rpt_pki import PKI

SCHEMA = json.loads((Path(__file__).parent / "tlsrpt.schema.json")
                    .read_text())
USERS = ("alice@example.test", "reports@example.test", "admin@example.test")
QUEUE = {"retry_initial": "1s", "retry_max": "1s", "delivery_threads": "2"}


class Endpoint:
    """An HTTPS server on 127.0.0.1 that keeps every POST."""

    def __init__(self, cert, key, status=200):
        self.posts = []
        self.got = threading.Event()
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                n = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(min(n, 1 << 24))
                outer.posts.append((self.path, dict(self.headers), body))
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()
                outer.got.set()

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0),
                                                     Handler)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(str(cert), str(key))
        self.httpd.socket = ctx.wrap_socket(self.httpd.socket,
                                            server_side=True)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever,
                                       daemon=True)
        self.thread.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def plant(srv, day, policies):
    d = srv.data_dir / "tlsrpt"
    d.mkdir(parents=True, exist_ok=True)
    (d / f"{day}.json").write_text(json.dumps(
        {"version": 1, "day": day, "policies": policies}))


POLICIES = [
    {"domain": "policy.test", "type": "sts",
     "strings": ["version: STSv1", "mode: enforce", "mx: mx.policy.test",
                 "max_age: 86400"],
     "mx": ["mx.policy.test"], "ok": 41, "failed": 3,
     "failures": [
         {"result": "certificate-expired", "sending-ip": "127.0.0.1",
          "mx-host": "mx.policy.test", "mx-ip": "192.0.2.7",
          "reason": "", "sessions": 2},
         {"result": "starttls-not-supported", "mx-host": "mx2.policy.test",
          "sessions": 1}]},
    {"domain": "policy.test", "type": "no-policy-found", "ok": 5},
    {"domain": "other.test", "type": "no-policy-found", "ok": 9},
    {"domain": "two.test", "type": "tlsa", "strings": ["3 1 1 ab"],
     "ok": 1},
]


def utc_day(days_ago):
    return (datetime.datetime.now(datetime.timezone.utc)
            - datetime.timedelta(days=days_ago)).strftime("%Y-%m-%d")


@pytest.fixture
def world(request, make_server, tmp_path):
    """(server, endpoint, day): the day planted is today (param 0:
    `tern tlsrpt send` sends it) or yesterday (1: over, so the server
    sends it by itself soon after start)."""
    days_ago = getattr(request, "param", 0)
    pki = PKI(tmp_path / "pki")
    cert, key = pki.leaf("endpoint", ips=["127.0.0.1"])
    ep = Endpoint(cert, key)
    zone = Zone({
        "_smtp._tls.policy.test": [{"TXT": [
            "v=TLSRPTv1; rua=mailto:reports@example.test,",
            f"https://127.0.0.1:{ep.port}/tlsrpt"]}],
        "_smtp._tls.two.test": [{"TXT": "v=TLSRPTv1; rua=mailto:a@two.test"},
                                {"TXT": "v=TLSRPTv1; rua=mailto:b@two.test"}],
    })
    dns = DnsServer(zone)
    srv = make_server(
        users=USERS, start=False, queue=QUEUE,
        top={"dns_server": f"127.0.0.1:{dns.port}"},
        extra=f"\n[outbound_tls]\nca_file = {pki.ca}\n")
    day = utc_day(days_ago)
    plant(srv, day, POLICIES)
    srv.start()
    yield srv, ep, day
    ep.close()
    dns.close()


def check_report(report, day):
    jsonschema.validate(report, SCHEMA)
    assert report["date-range"] == {"start-datetime": f"{day}T00:00:00Z",
                                    "end-datetime": f"{day}T23:59:59Z"}
    assert report["organization-name"] == "mx.example.test"
    pols = {p["policy"]["policy-type"]: p for p in report["policies"]}
    assert set(pols) == {"sts", "no-policy-found"}
    sts = pols["sts"]
    assert sts["policy"]["policy-domain"] == "policy.test"
    assert sts["policy"]["mx-host"] == ["mx.policy.test"]
    assert "mode: enforce" in sts["policy"]["policy-string"]
    assert sts["summary"] == {"total-successful-session-count": 41,
                              "total-failure-session-count": 3}
    fails = {f["result-type"]: f for f in sts["failure-details"]}
    assert fails["certificate-expired"]["failed-session-count"] == 2
    assert fails["certificate-expired"]["receiving-ip"] == "192.0.2.7"
    assert fails["starttls-not-supported"]["receiving-mx-hostname"] == \
        "mx2.policy.test"
    assert pols["no-policy-found"]["summary"][
        "total-successful-session-count"] == 5


def test_report_reaches_mailbox_and_https(world):
    srv, ep, day = world
    r = srv.cli("tlsrpt", "send")
    assert "policy.test" in r.out and "sent to mailto:" in r.out, r.out
    assert "sent to https://127.0.0.1" in r.out, r.out
    assert re.search(r"other\.test \S+: no report wanted", r.out), r.out
    assert re.search(r"two\.test \S+: no report wanted: not exactly one",
                     r.out), r.out
    assert "1 of 3 reports sent" in r.out, r.out

    # HTTPS (RFC 8460 5.4): one POST, gzip'd JSON of the right type.
    assert ep.got.wait(10), "no POST"
    (path, headers, body), = ep.posts
    assert path == "/tlsrpt"
    assert headers["Content-Type"] == "application/tlsrpt+gzip"
    posted = json.loads(gzip.decompress(body))
    check_report(posted, day)

    # Mail (5.3): through the queue into the reports mailbox.
    raw = srv.wait_for_mail("reports@example.test", timeout=20)[0]
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    rid = posted["report-id"]  # each rua gets the same report
    assert msg["Subject"] == (f"Report Domain: policy.test Submitter: "
                              f"mx.example.test Report-ID: <{rid}>")
    assert msg["TLS-Report-Domain"] == "policy.test"
    assert msg["TLS-Report-Submitter"] == "mx.example.test"
    assert msg.get_content_type() == "multipart/report"
    assert msg.get_param("report-type") == "tlsrpt"
    parts = [p for p in msg.iter_attachments()
             if p.get_content_type() == "application/tlsrpt+gzip"]
    assert len(parts) == 1
    fname = parts[0].get_filename()
    assert fname.startswith("mx.example.test!policy.test!") and \
        fname.endswith(".json.gz"), fname
    mailed = json.loads(gzip.decompress(parts[0].get_content()))
    check_report(mailed, day)
    assert mailed == posted

    # Sent and dropped counts are forgotten, durably: nothing is left.
    r = srv.cli("tlsrpt", "send", check=False)
    assert r.returncode == 1, (r.out, r.err)
    assert "nothing to send" in r.err
    assert not (srv.data_dir / "tlsrpt" / f"{day}.json").exists()


def test_send_refusals(world):
    srv, ep, day = world
    r = srv.cli("tlsrpt", "send", "--day", "2001-02-03", check=False)
    assert r.returncode == 1 and "no TLS counts for 2001-02-03" in r.err, \
        (r.out, r.err)
    r = srv.cli("tlsrpt", "send", "--day", "2001-02-30", check=False)
    assert r.returncode == 64 and "not a day" in r.err, (r.out, r.err)
    r = srv.cli("tlsrpt", "resend", check=False)
    assert r.returncode == 64
    # Nothing was sent by those; the day is still whole after a restart.
    srv.stop()
    srv.start()
    r = srv.cli("tlsrpt", "send", "--day", day)
    assert "1 of 3 reports sent" in r.out, r.out
    assert ep.got.wait(10) and len(ep.posts) == 1


@pytest.mark.parametrize("world", [1], indirect=True)
def test_ended_day_goes_out_by_itself(world):
    # No command: the day before today has ended, so the server sends
    # its reports soon after start (and then once a day).
    srv, ep, day = world
    raw = srv.wait_for_mail("reports@example.test", timeout=20)[0]
    assert b"TLS-Report-Domain: policy.test" in raw
    assert ep.got.wait(10)
    check_report(json.loads(gzip.decompress(ep.posts[0][2])), day)
    wait_log(srv, "event=tlsrpt_run day=before-today domains=3 sent=1")


def test_daily_run_does_not_block_the_main_thread(make_server, tmp_path):
    """Review r19: the daily run looks up and posts one report after
    another (a slow name server or an https: rua that never answers
    holds it for seconds each, and any domain tern sends to is counted);
    the control socket and signals share the main thread, so the run
    goes on a thread of its own: `tern queue flush` (a control request) answers while a
    report's POST hangs."""
    import socket
    import subprocess
    import time

    hang = socket.socket()
    hang.bind(("127.0.0.1", 0))
    hang.listen(4)
    port = hang.getsockname()[1]
    zone = Zone({"_smtp._tls.policy.test": [{"TXT":
                 f"v=TLSRPTv1; rua=https://127.0.0.1:{port}/r"}]})
    dns = DnsServer(zone)
    srv = make_server(users=USERS, start=False, queue=QUEUE,
                      top={"dns_server": f"127.0.0.1:{dns.port}"})
    plant(srv, utc_day(1), POLICIES[:1])
    conns = []
    try:
        srv.start()
        # The run (2 s after start) connects, and the TLS handshake
        # waits on a server that never speaks.
        hang.settimeout(15)
        conns.append(hang.accept()[0])
        t0 = time.monotonic()
        r = srv.cli("queue", "flush", check=False)
        took = time.monotonic() - t0
        assert r.returncode == 0, (r.out, r.err)
        assert took < 4, f"control request took {took:.1f}s"
    except subprocess.TimeoutExpired:
        pytest.fail("control request blocked by the TLS-RPT run")
    finally:
        for c in conns:
            c.close()
        hang.close()
        dns.close()
