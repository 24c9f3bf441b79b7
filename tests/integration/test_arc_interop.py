# SPDX-License-Identifier: ISC
"""ARC interop (issue 16, RFC 8617): tern against dkimpy's ARC, both ways.

dkimpy seals and `tern dkim arc-verify` (dns_server = the tests' DNS
server) says pass; `tern dkim arc-seal` seals and dkimpy's arc_verify
says pass (rsa-sha256: RFC 8617 defines no other algorithm and dkimpy's
ARC knows no other; tern's ed25519-sha256 seals verify in tern only); a chain dkimpy -> tern -> dkimpy verifies in both;
a changed body or seal fails in both.
"""

import re

import dkim
import pytest

# The fixtures too: one DNS server and one tern (dns_server = it) per test.
from test_dkim_interop import (MSG, dkimpy_keys, dnsserver,  # noqa: F401
                               keygen, tern)

AR1 = b"Authentication-Results: hop1.test; spf=pass smtp.mailfrom=alice@example.test\r\n"


def dkimpy_seal(msg, priv, alg, srv_id):
    """dkimpy's ARC set for msg (it needs an Authentication-Results
    field of srv_id), on top of msg."""
    a = dkim.ARC(msg, signature_algorithm=alg)
    fields = a.sign(b"py", b"example.test", priv, srv_id)
    assert len(fields) == 3, fields
    return b"".join(fields) + msg


def dkimpy_cv(msg, dnsserver):
    cv, _, reason = dkim.arc_verify(msg, dnsfunc=dnsserver.dnsfunc)
    return cv, reason


def tern_verify(srv, msg):
    out = srv.cli("dkim", "arc-verify", input=msg).out.strip()
    m = re.fullmatch(r"arc=(\w+) \((.*)\) sets=(\d+) oldest-pass=(\d+)", out)
    assert m, out
    return m.group(1), m.group(2), int(m.group(3)), int(m.group(4))


def tern_seal(srv, msg, authres):
    r = srv.cli("dkim", "arc-seal", "example.test", "--authres", authres,
                input=msg)
    sealed = r.stdout
    assert sealed.endswith(msg), r
    head = sealed[:-len(msg)]
    for line in head.split(b"\r\n"):
        assert len(line) < 78, line
    names = re.findall(rb"^([\w-]+):", head, re.M)
    assert names == [b"ARC-Seal", b"ARC-Message-Signature",
                     b"ARC-Authentication-Results"], names
    return sealed


def tamper_body(msg):
    i = msg.rindex(b"Hello Bob")
    return msg[:i] + b"hello Bob" + msg[i + 9:]


def test_dkimpy_seals_tern_verifies(tern, dnsserver, tmp_path):
    # dkimpy's ARC signer takes PEM keys only: rsa-sha256.
    priv, alg = dkimpy_keys(tmp_path, dnsserver, "rsa")
    sealed = dkimpy_seal(AR1 + MSG, priv, alg, b"hop1.test")
    assert dkimpy_cv(sealed, dnsserver)[0] == b"pass"
    assert tern_verify(tern, sealed) == ("pass", "ok", 1, 1)
    cv, reason, sets, _ = tern_verify(tern, tamper_body(sealed))
    assert (cv, sets) == ("fail", 1), reason
    assert tern_verify(tern, MSG) == ("none", "ok", 0, 0)


@pytest.mark.parametrize("algorithm", ["rsa", "ed25519"])
def test_tern_seals_dkimpy_verifies(tern, dnsserver, algorithm):
    keygen(tern, dnsserver, algorithm, "s1")
    sealed = tern_seal(tern, MSG, "tern.test; spf=pass "
                       "smtp.mailfrom=alice@example.test")
    assert b"cv=none" in sealed and b"i=1;" in sealed
    assert tern_verify(tern, sealed) == ("pass", "ok", 1, 1)
    assert tern_verify(tern, tamper_body(sealed))[0] == "fail"
    cv, reason = dkimpy_cv(sealed, dnsserver)
    if algorithm == "ed25519":
        # RFC 8617 defines only rsa-sha256; dkimpy's ARC knows no other.
        assert cv == b"fail" and "unknown signature algorithm" in reason
        return
    assert cv == b"pass", reason
    cv, reason = dkimpy_cv(tamper_body(sealed), dnsserver)
    assert cv == b"fail", reason


def test_chain_dkimpy_tern_dkimpy(tern, dnsserver, tmp_path):
    priv, alg = dkimpy_keys(tmp_path, dnsserver, "rsa")
    keygen(tern, dnsserver, "rsa", "s1")
    hop1 = dkimpy_seal(AR1 + MSG, priv, alg, b"hop1.test")
    # tern forwards it: the message changes (a header added, as a
    # mailing list would), and tern's seal vouches for what it saw.
    hop2 = tern_seal(tern, hop1, "tern.test; arc=pass "
                     "smtp.remote-ip=192.0.2.1")
    assert b"i=2;" in hop2 and b"cv=pass" in hop2
    cv, reason = dkimpy_cv(hop2, dnsserver)
    assert cv == b"pass", reason
    assert tern_verify(tern, hop2) == ("pass", "ok", 2, 1)
    # dkimpy adds the third set on top of tern's.
    ar3 = b"Authentication-Results: hop3.test; arc=pass\r\n"
    hop3 = dkimpy_seal(ar3 + hop2, priv, alg, b"hop3.test")
    cv, reason = dkimpy_cv(hop3, dnsserver)
    assert cv == b"pass", reason
    assert tern_verify(tern, hop3) == ("pass", "ok", 3, 1)
    # A change after the last seal fails for both.
    assert dkimpy_cv(tamper_body(hop3), dnsserver)[0] == b"fail"
    assert tern_verify(tern, tamper_body(hop3))[0] == "fail"
    # A changed older seal breaks the chain for both.
    bad = hop3.replace(b"cv=none", b"cv=pass", 1)
    assert dkimpy_cv(bad, dnsserver)[0] == b"fail"
    assert tern_verify(tern, bad)[0] == "fail"


def test_tern_seals_a_failed_chain_with_cv_fail(tern, dnsserver, tmp_path):
    priv, alg = dkimpy_keys(tmp_path, dnsserver, "rsa")
    keygen(tern, dnsserver, "rsa", "s1")
    hop1 = tamper_body(dkimpy_seal(AR1 + MSG, priv, alg, b"hop1.test"))
    hop2 = tern_seal(tern, hop1, "tern.test; arc=fail")
    assert b"i=2;" in hop2 and b"cv=fail" in hop2
    assert tern_verify(tern, hop2)[0] == "fail"
    assert dkimpy_cv(hop2, dnsserver)[0] != b"pass"
