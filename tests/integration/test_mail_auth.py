# SPDX-License-Identifier: ISC
"""Issue 16, end to end through running servers: mail that one tern signs
(DKIM, rsa-sha256 and ed25519-sha256), sent through it to a second tern on
loopback (a route), arrives with dkim=pass, spf=pass and dmarc=pass in the
one Authentication-Results header the second tern writes; a spoofed From of
a p=reject domain is refused with 550 5.7.1; p=quarantine lands in .Junk;
an Authentication-Results field from outside that claims the receiver's
authserv-id is removed. A DNS server on 127.0.0.1 (python3-dnspython)
serves SPF, DKIM and DMARC records to the receiver.
"""

import re
import smtplib
import subprocess

import authres
import dkim
import pytest

from conftest import TERN_BIN, child_env, make_message, wait_log
from dnstest import DnsServer, Zone

SENDER_HOST = "mail.example.org"
RECEIVER_HOST = "mx.example.net"


def txt_of(dkim_out):
    """The TXT value from `tern dkim keygen`'s record line."""
    line = next(ln for ln in dkim_out.splitlines() if " IN TXT " in ln)
    return "".join(re.findall(r'"([^"]*)"', line.split(" IN TXT ", 1)[1]))


@pytest.fixture
def pair(make_server):
    """(sender, receiver, zone): sender signs for example.org and routes
    example.net to the receiver, which checks mail from outside."""
    rx = make_server(domains=["example.net"], postmaster=None,
                     users=["bob@example.net"], start=False,
                     top={"hostname": RECEIVER_HOST},
                     auth={"checks": "on"})
    tx = make_server(domains=["example.org"], postmaster=None,
                     users=["alice@example.org"], start=False,
                     listeners=[("sub", "127.0.0.1", "submission")],
                     top={"hostname": SENDER_HOST,
                          "relay_networks": "127.0.0.1/32"})
    keys = {}
    for sel, alg in (("r1", "rsa"), ("e1", "ed25519")):
        r = tx.cli("dkim", "keygen", "example.org", "--selector", sel,
                   "--algorithm", alg)
        assert r.returncode == 0, r.err
        keys[sel] = txt_of(r.out)
    # The receiver forwards fwd@example.net to carol@example.org (back to
    # the sender's server) and ARC-seals what it forwards (RFC 8617).
    r = rx.cli("dkim", "keygen", "example.net", "--selector", "arc1",
               "--algorithm", "rsa")
    assert r.returncode == 0, r.err
    keys["arc1"] = txt_of(r.out)
    rx.add_alias("fwd@example.net", "carol@example.org")
    tx.add_user("carol@example.org")
    zone = Zone({
        "example.org": [{"TXT": "v=spf1 ip4:127.0.0.1 -all"}],
        "_dmarc.example.org": [{"TXT": "v=DMARC1; p=reject"}],
        "r1._domainkey.example.org": [{"TXT": keys["r1"]}],
        "e1._domainkey.example.org": [{"TXT": keys["e1"]}],
        "arc1._domainkey.example.net": [{"TXT": keys["arc1"]}],
        SENDER_HOST: [{"A": "127.0.0.1"},
                      {"TXT": "v=spf1 a -all"}],
        "bank.test": [{"TXT": "v=spf1 ip4:192.0.2.1 -all"}],
        "_dmarc.bank.test": [{"TXT": "v=DMARC1; p=reject"}],
        "shop.test": [{"TXT": "v=spf1 -all"}],
        "_dmarc.shop.test": [{"TXT": "v=DMARC1; p=quarantine"}],
    })
    dns = DnsServer(zone)
    rx.top["dns_server"] = f"127.0.0.1:{dns.port}"
    rx.write_config()
    tx.start()
    rx.start()
    # Each routes to the other's port as it is once both listen: a start
    # that found its port taken picks another (conftest), so the routes
    # are written after both started, and put in force by a reload.
    tx.extra += f"\n[routes]\nexample.net = 127.0.0.1:{rx.port}\n"
    rx.extra += f"\n[routes]\nexample.org = 127.0.0.1:{tx.port}\n"
    for srv in (tx, rx):
        srv.write_config()
        r = srv.cli("reload")
        assert r.returncode == 0, r.err
    rx.zone = zone
    yield tx, rx
    dns.close()


def one_authres(msg):
    fields = re.findall(rb"^Authentication-Results:(.*(?:\r?\n[ \t].*)*)",
                        msg, re.M)
    assert len(fields) == 1, msg[:2000]
    value = re.sub(rb"\r?\n[ \t]", b" ", fields[0]).decode().strip()
    return authres.AuthenticationResultsHeader.parse(
        "Authentication-Results: " + value)


def results(ar):
    return {(r.method, r.result) for r in ar.results}


def test_signed_mail_passes_dkim_spf_dmarc(pair):
    tx, rx = pair
    with smtplib.SMTP(tx.host, tx.port, timeout=30) as s:
        s.sendmail("alice@example.org", ["bob@example.net"],
                   make_message(sender="alice@example.org",
                                to="bob@example.net",
                                subject="signed"))
    rx.wait_for_mail("bob@example.net", 1, timeout=60)
    msg = rx.mail("bob@example.net")[0]
    # Two signatures (rsa-sha256 and ed25519-sha256), both passing.
    assert msg.count(b"DKIM-Signature:") == 2
    ar = one_authres(msg)
    assert ar.authserv_id == RECEIVER_HOST
    got = results(ar)
    assert ("spf", "pass") in got
    assert ("dmarc", "pass") in got
    dk = [r for r in ar.results if r.method == "dkim"]
    assert len(dk) == 2 and all(r.result == "pass" for r in dk), ar
    algs = sorted(p.value for r in dk for p in r.properties
                  if p.name == "a")
    assert algs == ["ed25519-sha256", "rsa-sha256"]
    wait_log(rx, "spf=pass dkim=pass,pass dmarc=pass")


def spoof(rx, mailfrom, from_hdr, extra="", to="bob@example.net",
          headers=()):
    msg = make_message(sender=from_hdr, to=to, subject="urgent",
                       extra_headers=headers)
    if extra:
        msg = extra.encode() + msg
    with smtplib.SMTP(rx.host, rx.port, timeout=30) as s:
        s.ehlo("client.test")
        s.mail(mailfrom)
        s.rcpt(to)
        return s.data(msg)


def test_spoofed_from_of_reject_domain_is_refused(pair):
    _, rx = pair
    code, text = spoof(rx, "x@evil.test", "ceo@Bank.TEST")
    assert code == 550, text
    assert b"5.7.1" in text and b"DMARC" in text
    wait_log(rx, "event=message_rejected")
    assert rx.mail("bob@example.net") == []


def test_quarantine_goes_to_junk(pair):
    _, rx = pair
    code, text = spoof(rx, "x@evil.test", "news@shop.test")
    assert code == 250, text
    wait_log(rx, "event=delivered")
    junk = rx.data_dir / "mail" / "example.net" / "bob" / ".Junk" / "new"
    files = list(junk.iterdir())
    assert len(files) == 1
    ar = one_authres(files[0].read_bytes())
    assert ("dmarc", "fail") in results(ar)


def test_forged_authres_is_removed(pair):
    _, rx = pair
    forged = (f"Authentication-Results: {RECEIVER_HOST.upper()}; "
              "dkim=pass header.d=bank.test\r\n"
              "Authentication-Results: other.example; spf=pass\r\n")
    code, text = spoof(rx, "x@evil.test", "a@nowhere.test", forged)
    assert code == 250, text
    rx.wait_for_mail("bob@example.net", 1, timeout=60)
    msg = rx.mail("bob@example.net")[0]
    assert b"dkim=pass header.d=bank.test" not in msg
    assert b"Authentication-Results: other.example; spf=pass" in msg
    mine = [m for m in re.findall(rb"^Authentication-Results: ([^;]+);",
                                  msg, re.M)]
    assert mine.count(RECEIVER_HOST.encode()) == 1


def test_sendmail_mail_is_signed(pair):
    """Mail from `tern sendmail` (the maildrop) is signed like SMTP
    submissions: it arrives at the second tern with dkim=pass."""
    tx, rx = pair
    env = child_env()
    env["TERN_CONFIG"] = str(tx.conf_path)
    msg = (b"From: alice@example.org\nTo: bob@example.net\n"
           b"Subject: from sendmail\n\nhello\n")
    r = subprocess.run([TERN_BIN, "sendmail", "-f", "alice@example.org",
                        "bob@example.net"], input=msg, capture_output=True,
                       timeout=60, env=env)
    assert r.returncode == 0, r.stderr
    wait_log(tx, "event=dkim_signed source=maildrop domain=example.org")
    rx.wait_for_mail("bob@example.net", 1, timeout=60)
    ar = one_authres(rx.mail("bob@example.net")[0])
    dk = [r for r in ar.results if r.method == "dkim"]
    assert len(dk) == 2 and all(r.result == "pass" for r in dk), ar
    assert ("dmarc", "pass") in results(ar)


def test_forwarded_mail_is_arc_sealed(pair):
    """RFC 8617: mail from outside that an alias forwards to another
    domain leaves sealed (i=1, cv=none) by the forwarding domain, and
    dkimpy's ARC verifier finds the chain valid at the next hop."""
    tx, rx = pair
    # Date and Message-ID given: the next hop here is a submission
    # listener, which would add them and so change signed fields.
    code, text = spoof(rx, "x@evil.test", "someone@nowhere.test",
                       to="fwd@example.net",
                       headers=("Date: Fri, 04 Dec 2026 12:00:00 +0000",
                                "Message-ID: <fwd.1@nowhere.test>"))
    assert code == 250, text
    tx.wait_for_mail("carol@example.org", 1, timeout=60)
    msg = tx.mail("carol@example.org")[0]
    assert msg.count(b"ARC-Seal: i=1;") == 1, msg[:3000]
    assert b"ARC-Message-Signature: i=1;" in msg
    assert b"ARC-Authentication-Results: i=1;" in msg
    wait_log(rx, "arc_sealed=yes")
    crlf = re.sub(rb"(?<!\r)\n", b"\r\n", msg)
    cv, results_, reason = dkim.arc_verify(
        crlf, dnsfunc=lambda name, timeout=5: rx.zone.txt(name.decode()))
    assert cv == dkim.CV_Pass, (reason, results_)


def test_arc_chain_from_outside_is_verified(pair):
    """A message that dkimpy ARC-sealed (as a mailing list would) comes
    in with arc=pass in the receiver's Authentication-Results."""
    tx, rx = pair
    key = (tx.data_dir / "dkim" / "example.org" / "r1.key").read_bytes()
    msg = make_message(sender="someone@nowhere.test", to="bob@example.net",
                       subject="via a list",
                       extra_headers=("Date: Fri, 04 Dec 2026 12:00:00 "
                                      "+0000",
                                      "Authentication-Results: "
                                      "lists.example.org; spf=pass "
                                      "smtp.mailfrom=example.org"))
    sealed = b"".join(dkim.arc_sign(msg, b"r1", b"example.org", key,
                                    b"lists.example.org")) + msg
    with smtplib.SMTP(rx.host, rx.port, timeout=30) as s:
        s.sendmail("x@evil.test", ["bob@example.net"], sealed)
    rx.wait_for_mail("bob@example.net", 1, timeout=60)
    ar = [r for r in authres_fields(rx.mail("bob@example.net")[0])
          if r.authserv_id == RECEIVER_HOST]
    assert len(ar) == 1
    assert ("arc", "pass") in results(ar[0]), ar[0]


def authres_fields(msg):
    out = []
    for f in re.findall(rb"^Authentication-Results:(.*(?:\r?\n[ \t].*)*)",
                        msg, re.M):
        value = re.sub(rb"\r?\n[ \t]", b" ", f).decode().strip()
        out.append(authres.AuthenticationResultsHeader.parse(
            "Authentication-Results: " + value))
    return out


def test_trusted_arc_sealer_overrides_dmarc(pair):
    """RFC 8617 7.2: a p=reject From that a mailing list re-sent (its own
    MAIL FROM, no aligned DKIM) is refused, unless the list's passing ARC
    chain is from a sealer in arc_trusted_sealers (then delivered, the
    override logged)."""
    tx, rx = pair
    key = (tx.data_dir / "dkim" / "example.org" / "r1.key").read_bytes()
    msg = make_message(sender="ceo@bank.test", to="bob@example.net",
                       subject="list post",
                       extra_headers=("Date: Fri, 04 Dec 2026 12:00:00 "
                                      "+0000",
                                      "Authentication-Results: "
                                      "lists.example.org; dmarc=pass "
                                      "header.from=bank.test"))
    sealed = b"".join(dkim.arc_sign(msg, b"r1", b"example.org", key,
                                    b"lists.example.org")) + msg

    def send():
        with smtplib.SMTP(rx.host, rx.port, timeout=30) as s:
            s.ehlo("lists.example.org")
            s.mail("list-bounces@example.org")
            s.rcpt("bob@example.net")
            return s.data(sealed)

    code, text = send()
    assert code == 550 and b"DMARC" in text, text
    rx.auth["arc_trusted_sealers"] = "example.org"
    rx.write_config()
    assert "reloaded" in rx.cli("reload").out
    code, text = send()
    assert code == 250, text
    wait_log(rx, "dmarc_override=arc")
    rx.wait_for_mail("bob@example.net", 1, timeout=60)
    ar = [r for r in authres_fields(rx.mail("bob@example.net")[0])
          if r.authserv_id == RECEIVER_HOST][0]
    assert ("dmarc", "fail") in results(ar)
    assert ("arc", "pass") in results(ar)
