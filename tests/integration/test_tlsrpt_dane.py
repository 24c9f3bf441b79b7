# SPDX-License-Identifier: ISC
"""Issue 19: REQUIRETLS's `TLS-Required: No` (RFC 8689 4) and TLS-RPT
counts from real deliveries, on test_dane.py's DNSSEC world (nsd with a
signed zone, the receiving tern on 127.0.0.N:25; its fixtures are
imported from there).

- A TLSA record that does not match defers a message (test_dane); the
  same message with `TLS-Required: No` is delivered over opportunistic
  TLS, and the sender's log says why.
- That failed DANE session is counted (the hook in nexthop.c) and the
  zone publishes _smtp._tls with an https: rua: a restart keeps the
  count, and `tern tlsrpt send` posts a report (validated against
  tlsrpt.schema.json) that says tlsa-invalid for the MX.
- An unsigned zone (no policy) that publishes _smtp._tls: the
  opportunistic session is reported under no-policy-found.
"""

import datetime
import gzip
import json
import time

import jsonschema
import pytest

from conftest import make_message, wait_log
import dnssec
from rpt_pki import PKI
from test_dane import MX, RCPT, env, pki  # noqa: F401 (fixtures)
from test_tlsrpt import SCHEMA, Endpoint

pytestmark = pytest.mark.skipif(dnssec.tools_missing() is not None,
                                reason=str(dnssec.tools_missing()))

WRONG = "_25._tcp.mx TLSA 3 1 1 " + "00" * 32


def submit(tx, extra=()):
    return tx.send("alice@sender.test", [RCPT],
                   make_message(to=RCPT, subject="rpt",
                                extra_headers=extra),
                   port=tx.ports["sub"])


def test_tls_required_no_ignores_a_dane_failure(env):
    tx, rx = env([WRONG])
    qid = submit(tx, extra=("TLS-Required: No",))
    rx.wait_for_mail(RCPT)
    log = wait_log(tx, f"event=remote_session id={qid}")
    line = [ln for ln in log.splitlines()
            if f"event=remote_session id={qid}" in ln][0]
    assert "tls=yes tls_policy=opportunistic" in line, line
    assert "accepted=1" in line, line
    assert "TLS-Required: No" in log, log[-3000:]


def test_tls_required_no_session_not_reused_for_dane_mail(env):
    """Review r19: the opportunistic session a `TLS-Required: No` message
    opened to a host whose TLSA record does not match is not kept for the
    domain's other mail: the next message (no such field) still needs
    DANE, so it is deferred and nothing more reaches the host."""
    tx, rx = env([WRONG])
    q1 = submit(tx, extra=("TLS-Required: No",))
    rx.wait_for_mail(RCPT)
    wait_log(tx, f"event=remote_session id={q1}")
    # Within the sender's idle-session time (5 s).
    q2 = submit(tx)
    log = tx.log()
    deadline = time.monotonic() + 15
    while (f"event=deferred id={q2}" not in log
           and f"event=delivered id={q2}" not in log
           and time.monotonic() < deadline):
        time.sleep(0.05)
        log = tx.log()
    assert f"event=deferred id={q2}" in log, log[-3000:]
    assert len(rx.mail_files(RCPT)) == 1
    line = [ln for ln in log.splitlines()
            if f"event=remote_session id={q2}" in ln]
    assert not line or "reused=yes" not in line[0], line


def test_dane_failure_counted_and_reported(env, tmp_path):
    pk = PKI(tmp_path / "rpt-pki")
    ep = Endpoint(*pk.leaf("endpoint", ips=["127.0.0.1"]))
    try:
        tx, rx = env([WRONG, '_smtp._tls TXT "v=TLSRPTv1; '
                      f'rua=https://127.0.0.1:{ep.port}/r"'])
        qid = submit(tx)
        wait_log(tx, f"event=deferred id={qid}")
        assert rx.mail_files(RCPT) == []
        # The count outlives a restart (flushed at shutdown); the
        # endpoint's CA comes in with ca_file.
        tx.stop()
        tx.extra = tx.extra.replace(
            "[outbound_tls]\n", f"[outbound_tls]\nca_file = {pk.ca}\n")
        tx.start()
        day = datetime.datetime.now(datetime.timezone.utc) \
            .strftime("%Y-%m-%d")
        r = tx.cli("tlsrpt", "send", "--day", day, check=False)
        if r.returncode == 1 and "no TLS counts" in r.err:
            # The UTC day turned between the attempt and now.
            day = (datetime.datetime.now(datetime.timezone.utc)
                   - datetime.timedelta(days=1)).strftime("%Y-%m-%d")
            r = tx.cli("tlsrpt", "send", "--day", day, check=False)
        assert r.returncode == 0, (r.out, r.err)
        assert "example.test" in r.out and "sent to https://" in r.out
        assert ep.got.wait(10)
        (path, headers, body), = ep.posts
        assert headers["Content-Type"] == "application/tlsrpt+gzip"
        report = json.loads(gzip.decompress(body))
        jsonschema.validate(report, SCHEMA)
        pol, = report["policies"]
        assert pol["policy"]["policy-type"] == "tlsa"
        assert pol["policy"]["policy-domain"] == "example.test"
        assert pol["policy"]["policy-string"] == ["3 1 1 " + "00" * 32]
        assert pol["summary"]["total-failure-session-count"] >= 1
        fail = pol["failure-details"][0]
        assert fail["result-type"] == "tlsa-invalid"
        assert fail["receiving-mx-hostname"] == MX
    finally:
        ep.close()


def test_no_policy_sessions_reported_when_asked(env, pki, tmp_path):
    # An unsigned zone, no MTA-STS: opportunistic TLS, counted as
    # no-policy-found and reported because the domain asks for reports.
    pk = PKI(tmp_path / "rpt-pki")
    ep = Endpoint(*pk.leaf("endpoint", ips=["127.0.0.1"]))
    try:
        tx, rx = env([f"_25._tcp.mx TLSA {pki['311']}",
                      '_smtp._tls TXT "v=TLSRPTv1; '
                      f'rua=https://127.0.0.1:{ep.port}/r"'], sign=False)
        tx.stop()
        tx.extra = tx.extra.replace(
            "[outbound_tls]\n", f"[outbound_tls]\nca_file = {pk.ca}\n")
        tx.start()
        submit(tx)
        rx.wait_for_mail(RCPT)
        r = tx.cli("tlsrpt", "send")
        assert "example.test" in r.out and "sent to https://" in r.out, \
            r.out
        assert ep.got.wait(10)
        report = json.loads(gzip.decompress(ep.posts[0][2]))
        jsonschema.validate(report, SCHEMA)
        pol, = report["policies"]
        assert pol["policy"]["policy-type"] == "no-policy-found"
        assert pol["summary"] == {"total-successful-session-count": 1,
                                  "total-failure-session-count": 0}
    finally:
        ep.close()
