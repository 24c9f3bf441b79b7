# SPDX-License-Identifier: ISC
"""Issue 16: `tern check message` prints the Authentication-Results field
the server would add to a message (the same code writes both:
auth/verdict.c), one line of reason per method, and the action the
[authentication] settings ask for. A DNS server on 127.0.0.1 serves the
SPF, DKIM and DMARC records; the DKIM key is made by `tern dkim keygen`
and the message signed by `tern dkim sign`.
"""

import re

import authres
import dkim
import pytest

from conftest import make_message
from dnstest import DnsServer, Zone

HOST = "mx.example.net"


def txt_of(dkim_out):
    """The TXT value from `tern dkim keygen`'s record line."""
    line = next(ln for ln in dkim_out.splitlines() if " IN TXT " in ln)
    return "".join(re.findall(r'"([^"]*)"', line.split(" IN TXT ", 1)[1]))


@pytest.fixture
def srv(make_server):
    """A configured (not started) tern whose dns_server is a test DNS
    server, with a DKIM key r1 for example.org."""
    s = make_server(domains=["example.net"], postmaster=None,
                    users=["bob@example.net"], start=False,
                    top={"hostname": HOST}, auth={"checks": "on"})
    r = s.cli("dkim", "keygen", "example.org", "--selector", "r1",
              "--algorithm", "rsa")
    assert r.returncode == 0, r.err
    zone = Zone({
        "example.org": [{"TXT": "v=spf1 ip4:127.0.0.1 -all"}],
        "_dmarc.example.org": [{"TXT": "v=DMARC1; p=reject"}],
        "r1._domainkey.example.org": [{"TXT": txt_of(r.out)}],
        "mail.example.org": [{"A": "127.0.0.1"},
                             {"TXT": "v=spf1 a -all"}],
        "bank.test": [{"TXT": "v=spf1 ip4:192.0.2.1 -all"}],
        "_dmarc.bank.test": [{"TXT": "v=DMARC1; p=reject"}],
        "shop.test": [{"TXT": "v=spf1 -all"}],
        "_dmarc.shop.test": [{"TXT": "v=DMARC1; p=quarantine"}],
    })
    dns = DnsServer(zone)
    s.top["dns_server"] = f"127.0.0.1:{dns.port}"
    s.write_config()
    yield s
    dns.close()


def signed(s, sender="alice@example.org", extra_headers=()):
    msg = make_message(sender=sender, to="bob@example.net",
                       subject="signed", extra_headers=extra_headers)
    r = s.cli("dkim", "sign", "example.org", input=msg)
    assert r.stdout.startswith(b"DKIM-Signature:"), r.err
    return r.stdout


def check(s, msg, *args):
    """Run `tern check message ARGS < msg`: (A-R parsed, the reason
    lines as a dict of lists, the process)."""
    r = s.cli("check", "message", "--timeout", "5", *args, input=msg)
    first, rest = split_output(r.out)
    ar = authres.AuthenticationResultsHeader.parse(first)
    assert ar.authserv_id == HOST
    lines = {}
    for ln in rest:
        key, _, val = ln.partition(": ")
        lines.setdefault(key, []).append(val)
    return ar, lines, r


def split_output(out):
    """The folded Authentication-Results field (unfolded), then the
    remaining lines."""
    lines = out.split("\n")
    assert lines[0].startswith("Authentication-Results: "), out
    i = 1
    while i < len(lines) and lines[i][:1] in (" ", "\t"):
        i += 1
    field = " ".join(ln.strip() for ln in lines[:i])
    assert all(ln.endswith("\r") for ln in lines[:i]), "CRLF ends lines"
    return field, [ln for ln in lines[i:] if ln]


def results(ar):
    return {(r.method, r.result) for r in ar.results}


def test_signed_aligned_passes_everything(srv):
    ar, lines, _ = check(srv, signed(srv), "--ip", "127.0.0.1",
                         "--helo", "mail.example.org",
                         "--from", "alice@example.org")
    got = results(ar)
    assert {("spf", "pass"), ("dkim", "pass"), ("dmarc", "pass")} <= got
    assert lines["spf"][0].startswith("pass (")
    assert "matched in example.org" in lines["spf"][0]
    assert lines["spf"][0].endswith("mailfrom=<alice@example.org>")
    assert lines["spf-helo"][0].startswith("pass (")
    assert lines["dkim"] == [lines["dkim"][0]]
    assert lines["dkim"][0].startswith("pass d=example.org s=r1 "
                                       "a=rsa-sha256 ")
    assert lines["dmarc"][0].startswith("pass policy=reject "
                                        "from=example.org")
    assert lines["action"] == ["accept"]


def test_lf_message_is_checked_as_crlf(srv):
    msg = signed(srv).replace(b"\r\n", b"\n")
    ar, lines, _ = check(srv, msg)
    assert ("dkim", "pass") in results(ar), lines


def test_spoofed_reject_from_is_refused(srv):
    msg = make_message(sender="ceo@Bank.TEST", to="bob@example.net")
    ar, lines, _ = check(srv, msg, "--ip", "127.0.0.1", "--helo",
                         "client.test", "--from", "x@evil.test")
    assert ("dmarc", "fail") in results(ar)
    assert lines["dmarc"][0].startswith("fail policy=reject from=bank.test")
    assert lines["action"][0].startswith(
        "refuse 550 5.7.1 Message rejected: the DMARC policy of bank.test")


def test_quarantine_goes_to_junk(srv):
    msg = make_message(sender="news@shop.test", to="bob@example.net")
    ar, lines, _ = check(srv, msg, "--ip", "127.0.0.1", "--helo",
                         "client.test", "--from", "x@evil.test")
    assert ("dmarc", "fail") in results(ar)
    assert lines["action"] == ["deliver to Junk"]


def test_without_ip_spf_skipped_dmarc_by_dkim(srv):
    ar, lines, _ = check(srv, signed(srv))
    assert "spf" not in {r.method for r in ar.results}
    assert {("dkim", "pass"), ("dmarc", "pass")} <= results(ar)
    assert lines["spf"][0].startswith("skipped")
    assert lines["action"] == ["accept"]
    # And without a signature DMARC has nothing to pass on.
    ar, lines, _ = check(srv, make_message(sender="alice@example.org"))
    assert ("dkim", "none") in results(ar)
    assert ("dmarc", "fail") in results(ar)
    assert lines["action"][0].startswith("refuse 550 5.7.1")


def test_two_from_fields_permerror(srv):
    msg = signed(srv, extra_headers=["From: <eve@evil.test>"])
    ar, lines, _ = check(srv, msg, "--ip", "127.0.0.1")
    assert ("dmarc", "permerror") in results(ar)
    assert lines["dmarc"][0].startswith("permerror policy=reject")
    assert lines["action"][0].startswith("refuse 550 5.7.1")


def test_return_path_is_the_default_mail_from(srv):
    msg = b"Return-Path: <alice@example.org>\r\n" + make_message(
        sender="alice@example.org")
    ar, lines, _ = check(srv, msg, "--ip", "127.0.0.1", "--helo",
                         "mail.example.org")
    spf = [r for r in ar.results if r.method == "spf"]
    assert spf[0].result == "pass"
    assert any(p.name == "mailfrom" and p.value == "alice@example.org"
               for p in spf[0].properties)
    assert "from Return-Path" in lines["spf"][0]
    # An address that SPF does not allow: fail, with the reason.
    ar, lines, _ = check(srv, msg, "--ip", "192.0.2.9")
    assert ("spf", "fail") in results(ar)
    assert lines["spf"][0].startswith("fail (")


def test_forged_authres_is_left_out(srv):
    msg = (f"Authentication-Results: {HOST.upper()}; dkim=pass\r\n"
           .encode() + signed(srv))
    ar, lines, _ = check(srv, msg)
    assert ("dkim", "pass") in results(ar)
    assert lines["note"][0].startswith("1 Authentication-Results field")


def test_settings_change_the_action(srv):
    msg = make_message(sender="ceo@bank.test", to="bob@example.net")
    srv.auth.update({"dmarc_policy": "note", "spf_fail": "reject"})
    srv.write_config()
    _, lines, _ = check(srv, msg)
    assert lines["action"] == ["accept"]  # DMARC only noted
    _, lines, _ = check(srv, msg, "--ip", "192.0.2.9", "--helo",
                        "client.test", "--from", "x@bank.test")
    assert lines["action"][0].startswith("refuse 550 5.7.23 SPF: "
                                         "bank.test"), lines
    assert lines["action"][0].endswith("(at MAIL FROM)")
    srv.auth.update({"dmarc_policy": "quarantine", "spf_fail": "note"})
    srv.write_config()
    _, lines, _ = check(srv, msg)
    assert lines["action"] == ["deliver to Junk"]


@pytest.mark.parametrize("args", [
    ["--bogus"],
    ["--ip"],
    ["--ip", "not-an-ip"],
    ["--timeout", "0"],
    ["--timeout", "601"],
    ["extra"],
])
def test_usage_errors_exit_64(srv, args):
    r = srv.cli("check", "message", *args, input=b"From: a@b.example\r\n",
                check=False)
    assert r.returncode == 64, (r.out, r.err)
    assert r.out == ""
    assert "usage:" in r.err


def test_help_describes_check_message(srv):
    r = srv.cli("check", "--help")
    assert "check message [--ip IP --helo NAME --from ADDR]" in r.out


def test_broken_config_exits_78(srv):
    srv.conf_path.write_text(srv.render() + "\n[authentication]\n"
                             "dmarc_policy = maybe\n")
    r = srv.cli("check", "message", input=b"From: a@b.example\r\n\r\n",
                check=False)
    assert r.returncode == 78, (r.out, r.err)
    assert r.out == ""


def test_message_over_max_message_size_exits_65(srv):
    srv.limits["max_message_size"] = "1k"
    srv.write_config()
    r = srv.cli("check", "message", input=make_message(body="x" * 2000),
                check=False)
    assert r.returncode == 65, (r.out, r.err)
    assert "max_message_size" in r.err



def test_arc_line_and_result(srv):
    """The ARC chain, verified as the server does: none without one, and
    pass for a message dkimpy sealed with a published key."""
    ar, lines, _ = check(srv, signed(srv))
    assert ("arc", "none") in results(ar)
    assert lines["arc"] == ["none sets=0"]
    key = (srv.data_dir / "dkim" / "example.org" / "r1.key").read_bytes()
    msg = make_message(sender="x@nowhere.test", to="bob@example.net",
                       extra_headers=("Authentication-Results: "
                                      "lists.example.org; none",))
    sealed = b"".join(dkim.arc_sign(msg, b"r1", b"example.org", key,
                                    b"lists.example.org")) + msg
    ar, lines, _ = check(srv, sealed)
    assert ("arc", "pass") in results(ar)
    assert lines["arc"][0].startswith("pass sets=1 oldest-pass=")
