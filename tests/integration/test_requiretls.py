# SPDX-License-Identifier: ISC
"""Issue 19: REQUIRETLS (RFC 8689) between two tern instances.

The sender (domain example.test) relays bob@remote.test through a
[routes] entry to the receiver (domain remote.test) on 127.0.0.1, whose
certificate, for IP:127.0.0.1, is signed by a test CA the sender trusts
through [outbound_tls] ca_file. A client submits over STARTTLS with MAIL
FROM:<...> REQUIRETLS.
- the receiver offers REQUIRETLS: delivered, and the receiver logged the
  flag (it came with the MAIL); the sender showed it in `queue show`;
- the receiver has requiretls = off, or a certificate for another
  address: the sender bounces to alice with 5.7.30 (RFC 8689 5),
  headers only, and the receiver gets nothing;
- MAIL REQUIRETLS without TLS: 530 5.7.10; EHLO offers REQUIRETLS only
  after STARTTLS.
Each test waits on log lines and mailboxes (bounded), never sleeps."""

import smtplib
import ssl

import pytest

from conftest import CLIENT_NAME, expect, make_message, wait_log
from rpt_pki import PKI

QUEUE = {"retry_initial": "1s", "retry_max": "1s", "delivery_threads": "2",
         "remote_timeout": "5s", "connect_timeout": "2s"}
SECRET = "the-body-that-must-not-travel-in-a-bounce"


@pytest.fixture
def pki(tmp_path):
    return PKI(tmp_path / "pki")


def receiver(make_server, pki, *, cert_ip="127.0.0.1", requiretls="on",
             start=True):
    cert, key = pki.leaf(f"rcv-{cert_ip}", ips=[cert_ip])
    return make_server(
        users=("bob@remote.test",), domains=("remote.test",),
        postmaster="bob@remote.test", subdir="receiver", start=start,
        listeners=[("mx", "127.0.0.1", "mx", "starttls")], queue=QUEUE,
        extra=f"\n[tls]\ncert = {cert}\nkey = {key}\n"
              f"\n[outbound_tls]\nrequiretls = {requiretls}\n")


def sender(make_server, pki, rcv):
    cert, key = pki.leaf("sender", ips=["127.0.0.1"])
    return make_server(
        subdir="sender", queue=QUEUE,
        listeners=[("sub", "127.0.0.1", "submission", "starttls")],
        top={"relay_networks": "127.0.0.0/8"},
        extra=f"\n[tls]\ncert = {cert}\nkey = {key}\n"
              f"\n[outbound_tls]\nca_file = {pki.ca}\n"
              f"\n[routes]\nremote.test = 127.0.0.1:{rcv.port}\n")


def submit(srv, pki, body=SECRET, options=("REQUIRETLS",), extra=()):
    """STARTTLS (trusting the test CA), then MAIL with options; the id."""
    ctx = ssl.create_default_context(cafile=str(pki.ca))
    with smtplib.SMTP(srv.host, srv.port, local_hostname=CLIENT_NAME,
                      timeout=30) as s:
        s.ehlo()
        s.starttls(context=ctx)
        code, resp = s.ehlo()
        assert code == 250 and b"REQUIRETLS" in resp, resp
        code, resp = s.mail("alice@example.test", list(options))
        assert code == 250, (code, resp)
        code, resp = s.rcpt("bob@remote.test")
        assert code == 250, (code, resp)
        code, resp = s.data(make_message(
            sender="alice@example.test", to="bob@remote.test",
            body=body + "\r\n", extra_headers=extra))
        assert code == 250, (code, resp)
        return resp.decode().split()[-1]


def assert_bounced(snd, rcv, qid):
    bounce = snd.wait_for_mail("alice@example.test", timeout=30)[0]
    text = bounce.decode("utf-8", "replace")
    assert "Status: 5.7.30" in text, text
    assert "REQUIRETLS" in text, text
    # RFC 8689 5: the content stays out of the notice (headers only).
    assert "text/rfc822-headers" in text, text
    assert SECRET not in text, text
    snd.wait_queue_empty()
    assert not rcv.mail_files("bob@remote.test")
    log = snd.log()
    assert f"id={qid}" in log


def test_requiretls_relayed_and_kept(make_server, pki):
    rcv = receiver(make_server, pki, start=False)
    snd = sender(make_server, pki, rcv)
    qid = submit(snd, pki)
    # The receiver is not up yet: deferred, and the flag is shown.
    wait_log(snd, f"event=deferred id={qid}")
    show = snd.cli("queue", "show", qid).out
    assert "requiretls" in show.split("flags:")[1].splitlines()[0], show
    rcv.start()
    got = rcv.wait_for_mail("bob@remote.test", timeout=30)[0]
    assert SECRET.encode() in got
    snd.wait_queue_empty()
    # The receiver took it with REQUIRETLS on the MAIL (flag kept) ...
    assert "requiretls=yes" in wait_log(rcv, "event=queued")
    # ... over a verified session that offered it.
    line = [ln for ln in snd.log().splitlines()
            if "event=remote_session" in ln and f"id={qid}" in ln][-1]
    assert "tls=yes" in line and "requiretls=yes" in line, line
    assert "accepted=1" in line, line


def test_next_hop_without_requiretls_bounces(make_server, pki):
    rcv = receiver(make_server, pki, requiretls="off")
    snd = sender(make_server, pki, rcv)
    qid = submit(snd, pki)
    assert_bounced(snd, rcv, qid)
    # It did reach the server and went no further than EHLO.
    assert "event=queued" not in rcv.log()


def test_unverified_certificate_bounces(make_server, pki):
    rcv = receiver(make_server, pki, cert_ip="127.0.0.2")
    snd = sender(make_server, pki, rcv)
    qid = submit(snd, pki)
    assert_bounced(snd, rcv, qid)


def test_plain_mail_unaffected_by_bad_certificate(make_server, pki):
    # Without REQUIRETLS, opportunistic TLS takes any certificate.
    rcv = receiver(make_server, pki, cert_ip="127.0.0.2")
    snd = sender(make_server, pki, rcv)
    submit(snd, pki, options=())
    assert rcv.wait_for_mail("bob@remote.test", timeout=30)
    assert "requiretls=yes" not in rcv.log()


def test_requiretls_needs_tls(make_server, pki):
    rcv = receiver(make_server, pki)
    r = rcv.raw()
    ehlo = r.cmd(f"EHLO {CLIENT_NAME}")
    assert "REQUIRETLS" not in ehlo.text, ehlo.text
    expect(r.cmd("MAIL FROM:<a@remote.example> REQUIRETLS"), 530, "5.7.10")
    # Still usable, and plain MAIL works.
    expect(r.cmd("MAIL FROM:<a@remote.example>"), 250)
    r.close()
