# SPDX-License-Identifier: ISC
"""DKIM interop (issue 16): tern against dkimpy and OpenDKIM, both ways.

A DNS server on 127.0.0.1 (UDP and TCP, answers with AA and RA) serves
the key records. `tern dkim sign` signs with rsa-sha256 and ed25519-
sha256 and dkimpy (keys through its dnsfunc) and OpenDKIM (opendkim -t,
its libunbound forwarding to the test DNS server) verify; dkimpy and
OpenDKIM sign and `tern dkim verify` (dns_server = the test server) says
pass, and fail once one byte changes.
"""

import base64
import os
import pwd
import re
import shutil
import stat
import subprocess
from pathlib import Path

import dkim
import nacl.signing
import pytest

from dnstest import DnsServer, Zone

MSG = (b"From: Alice <alice@example.test>\r\n"
       b"To: Bob <bob@example.org>\r\n"
       b"Subject: interop\r\n"
       b"Date: Fri, 04 Dec 2026 10:00:00 +0000\r\n"
       b"Message-ID: <interop.1@example.test>\r\n"
       b"MIME-Version: 1.0\r\n"
       b"Content-Type: text/plain; charset=us-ascii\r\n"
       b"X-Unsigned: anything\r\n"
       b"\r\n"
       b"Hello Bob,\r\n"
       b"\r\n"
       b"  lines with  spaces \t \r\n"
       b"and trailing empty lines\r\n"
       b"\r\n"
       b"\r\n")

CLI_TIMEOUT = 60


class TxtDns:
    """TXT records on the tests' DNS server (dnstest.py), and the same
    table as dkimpy's dnsfunc."""

    def __init__(self):
        self.zone = Zone({})
        self.server = DnsServer(self.zone)
        self.port = self.server.port

    @property
    def queries(self):
        return self.server.queries

    def add(self, name, value):
        self.zone.add(name, "TXT", value)

    def dnsfunc(self, name, timeout=5):
        return self.zone.txt(name.decode())

    def close(self):
        self.server.close()


@pytest.fixture
def dnsserver():
    srv = TxtDns()
    yield srv
    srv.close()


@pytest.fixture
def tern(make_server, dnsserver):
    return make_server(top={"dns_server": f"127.0.0.1:{dnsserver.port}"})


def keygen(srv, dnsserver, algorithm, selector):
    r = srv.cli("dkim", "keygen", "example.test", "--selector", selector,
                "--algorithm", algorithm)
    m = re.search(r"^  (\S+)\. IN TXT (.*)$", r.out, re.M)
    assert m, r.out
    assert m.group(1) == f"{selector}._domainkey.example.test"
    value = "".join(re.findall(r'"([^"]*)"', m.group(2)))
    assert all(len(s) <= 255 for s in re.findall(r'"([^"]*)"', m.group(2)))
    dnsserver.add(m.group(1), value)
    return value


def tern_sign(srv, msg, *selectors):
    args = ["dkim", "sign", "example.test"]
    for s in selectors:
        args += ["--selector", s]
    return srv.cli(*args, input=msg).stdout


def tern_verify(srv, msg):
    r = srv.cli("dkim", "verify", input=msg)
    return r.out.splitlines()


def dkimpy_ok(msg, idx, dnsserver):
    """dkimpy's verdict on signature idx (it raises on some failures)."""
    try:
        return bool(dkim.DKIM(msg).verify(idx, dnsfunc=dnsserver.dnsfunc))
    except dkim.DKIMException:
        return False


def tamper_body(msg):
    i = msg.index(b"Hello Bob")
    return msg[:i] + b"hello Bob" + msg[i + 9:]


def tamper_header(msg):
    return msg.replace(b"Subject: interop", b"Subject: Interop", 1)


# -- OpenDKIM ----------------------------------------------------------

def opendkim_conf(tmp_path, dnsserver, extra):
    ub = tmp_path / "unbound.conf"
    # unbound answers the special-use name test. itself (RFC 6761)
    # unless told not to.
    ub.write_text("server:\n  do-not-query-localhost: no\n"
                  "  local-zone: \"test.\" nodefault\n"
                  "forward-zone:\n  name: \".\"\n"
                  f"  forward-addr: 127.0.0.1@{dnsserver.port}\n")
    conf = tmp_path / "opendkim.conf"
    conf.write_text("Syslog no\nRequireSafeKeys false\n"
                    "Canonicalization relaxed/relaxed\n"
                    f"ResolverConfiguration {ub}\n"
                    "AuthservID verifier.test\n" + extra)
    return conf


def opendkim_run(tmp_path, conf, msg):
    path = tmp_path / "od-msg.eml"
    path.write_bytes(msg)
    r = subprocess.run(["opendkim", "-x", str(conf), "-vvv", "-t",
                        str(path)], capture_output=True, timeout=CLI_TIMEOUT)
    assert r.returncode == 0, r.stderr.decode(errors="replace")
    return r.stdout.decode(errors="replace")


def opendkim_inserted(out, hname):
    """The values of the fields opendkim -t says it would insert."""
    return re.findall(r"### INSHEADER: idx=\d+ hname='" + hname +
                      r"' hvalue='(.*?)'\n", out, re.S)


def opendkim_verify(tmp_path, dnsserver, msg):
    conf = opendkim_conf(tmp_path, dnsserver, "Mode v\n")
    out = opendkim_run(tmp_path, conf, msg)
    ar = opendkim_inserted(out, "Authentication-Results")
    assert len(ar) == 1, out
    # "dkim=pass (2048-bit key; unprotected) header.d=D ..." per signature
    out = []
    for part in ar[0].split("dkim=")[1:]:
        d = re.search(r"header\.d=([^\s;]+)", part)
        out.append((re.match(r"\w+", part).group(0), d and d.group(1)))
    return out


needs_opendkim = pytest.mark.skipif(shutil.which("opendkim") is None,
                                    reason="opendkim is not installed")


# -- tern signs ----------------------------------------------------------

@pytest.mark.parametrize("algorithm", ["rsa", "ed25519"])
def test_tern_signs_dkimpy_verifies(tern, dnsserver, algorithm):
    keygen(tern, dnsserver, algorithm, "s1")
    signed = tern_sign(tern, MSG)
    assert signed.endswith(MSG)
    assert signed.count(b"DKIM-Signature:") == 1
    for line in signed[:-len(MSG)].split(b"\r\n"):
        assert len(line) < 78, line
    d = dkim.DKIM(signed)
    assert d.verify(0, dnsfunc=dnsserver.dnsfunc)
    algo = b"ed25519-sha256" if algorithm == "ed25519" else b"rsa-sha256"
    assert d.signature_fields[b"a"] == algo
    assert not dkimpy_ok(tamper_body(signed), 0, dnsserver)
    assert not dkimpy_ok(tamper_header(signed), 0, dnsserver)


def test_tern_dual_signs_both_verify(tern, dnsserver):
    keygen(tern, dnsserver, "rsa", "r1")
    keygen(tern, dnsserver, "ed25519", "e1")
    signed = tern_sign(tern, MSG)
    assert signed.count(b"DKIM-Signature:") == 2
    assert dkimpy_ok(signed, 0, dnsserver)
    assert dkimpy_ok(signed, 1, dnsserver)
    lines = tern_verify(tern, signed)
    assert len(lines) == 2
    assert all(ln.startswith("dkim=pass header.d=example.test") for ln in
               lines), lines
    # the keys came from the test DNS server, over UDP or TCP
    assert "r1._domainkey.example.test" in dnsserver.queries
    assert "e1._domainkey.example.test" in dnsserver.queries


@needs_opendkim
@pytest.mark.parametrize("algorithm", ["rsa", "ed25519"])
def test_tern_signs_opendkim_verifies(tern, dnsserver, tmp_path, algorithm):
    keygen(tern, dnsserver, algorithm, "s1")
    signed = tern_sign(tern, MSG)
    assert opendkim_verify(tmp_path, dnsserver, signed) == \
        [("pass", "example.test")]
    got = opendkim_verify(tmp_path, dnsserver, tamper_body(signed))
    assert got == [("fail", "example.test")], got


# -- others sign, tern verifies ------------------------------------------

def dkimpy_keys(tmp_path, dnsserver, algorithm):
    if algorithm == "ed25519":
        sk = nacl.signing.SigningKey.generate()
        priv = base64.b64encode(bytes(sk))
        pub = base64.b64encode(bytes(sk.verify_key)).decode()
        dnsserver.add("py._domainkey.example.test",
                      f"v=DKIM1; k=ed25519; p={pub}")
        return priv, b"ed25519-sha256"
    key = tmp_path / "py.key"
    subprocess.run(["openssl", "genrsa", "-out", str(key), "2048"],
                   check=True, capture_output=True, timeout=CLI_TIMEOUT)
    der = subprocess.run(["openssl", "rsa", "-in", str(key), "-pubout",
                          "-outform", "DER"], check=True,
                         capture_output=True, timeout=CLI_TIMEOUT).stdout
    dnsserver.add("py._domainkey.example.test",
                  "v=DKIM1; k=rsa; p=" + base64.b64encode(der).decode())
    return key.read_bytes(), b"rsa-sha256"


@pytest.mark.parametrize("algorithm", ["rsa", "ed25519"])
@pytest.mark.parametrize("canon", [(b"relaxed", b"relaxed"),
                                   (b"simple", b"simple")])
def test_dkimpy_signs_tern_verifies(tern, dnsserver, tmp_path, algorithm,
                                    canon):
    priv, algo = dkimpy_keys(tmp_path, dnsserver, algorithm)
    sig = dkim.sign(MSG, b"py", b"example.test", priv, canonicalize=canon,
                    signature_algorithm=algo,
                    include_headers=[b"from", b"to", b"subject", b"date"])
    signed = sig + MSG
    lines = tern_verify(tern, signed)
    assert len(lines) == 1, lines
    assert lines[0].startswith("dkim=pass header.d=example.test "
                               "header.s=py header.a=" + algo.decode())
    assert tern_verify(tern, tamper_body(signed))[0].startswith(
        "dkim=fail header.d=example.test")
    assert "body hash mismatch" in tern_verify(tern, tamper_body(signed))[0]
    assert "signature mismatch" in tern_verify(tern,
                                               tamper_header(signed))[0]
    # an unsigned field may change
    changed = signed.replace(b"X-Unsigned: anything", b"X-Unsigned: else")
    assert tern_verify(tern, changed)[0].startswith("dkim=pass")


def test_dkimpy_l_tag_counts_what_was_signed(tern, dnsserver, tmp_path):
    priv, algo = dkimpy_keys(tmp_path, dnsserver, "ed25519")
    sig = dkim.sign(MSG, b"py", b"example.test", priv, length=True,
                    canonicalize=(b"relaxed", b"relaxed"),
                    signature_algorithm=algo,
                    include_headers=[b"from", b"to", b"subject"])
    assert b"l=" in sig
    signed = sig + MSG
    lines = tern_verify(tern, signed)
    assert lines[0].startswith("dkim=pass") and "l=" not in lines[0], lines
    # text appended after the signed length: still pass, and said so
    lines = tern_verify(tern, signed + b"appended by a list\r\n")
    assert lines[0].startswith("dkim=pass"), lines
    # relaxed: 60 signed bytes; the 2 held-back empty lines (4) and the
    # new line (20) follow them
    assert lines[0].endswith("l= signs 60 of 84 body bytes"), lines


@needs_opendkim
@pytest.mark.parametrize("algorithm", ["rsa", "ed25519"])
def test_opendkim_signs_tern_verifies(tern, dnsserver, tmp_path, algorithm):
    key = tmp_path / "od.key"
    if algorithm == "rsa":
        subprocess.run(["openssl", "genrsa", "-out", str(key), "2048"],
                       check=True, capture_output=True, timeout=CLI_TIMEOUT)
    else:
        subprocess.run(["openssl", "genpkey", "-algorithm", "ed25519",
                        "-out", str(key)], check=True, capture_output=True,
                       timeout=CLI_TIMEOUT)
    der = subprocess.run(["openssl", "pkey", "-in", str(key), "-pubout",
                          "-outform", "DER"], check=True,
                         capture_output=True, timeout=CLI_TIMEOUT).stdout
    # Ed25519: the raw 32-byte key is the tail of its SPKI (RFC 8463 4.2).
    pub = der[-32:] if algorithm == "ed25519" else der
    dnsserver.add("od._domainkey.example.test",
                  f"v=DKIM1; k={algorithm}; p=" +
                  base64.b64encode(pub).decode())
    algo = "ed25519-sha256" if algorithm == "ed25519" else "rsa-sha256"
    conf = opendkim_conf(tmp_path, dnsserver,
                         f"Mode s\nDomain example.test\nSelector od\n"
                         f"KeyFile {key}\nSignatureAlgorithm {algo}\n")
    sigs = opendkim_inserted(opendkim_run(tmp_path, conf, MSG),
                             "DKIM-Signature")
    assert len(sigs) == 1
    field = ("DKIM-Signature: " + sigs[0]).replace("\r\n", "\n")
    signed = field.replace("\n", "\r\n").encode() + b"\r\n" + MSG
    lines = tern_verify(tern, signed)
    assert len(lines) == 1, lines
    assert lines[0].startswith("dkim=pass header.d=example.test "
                               "header.s=od header.a=" + algo), lines
    assert tern_verify(tern, tamper_body(signed))[0].startswith("dkim=fail")
    assert tern_verify(tern, tamper_header(signed))[0].startswith(
        "dkim=fail")


# -- the key store -------------------------------------------------------

@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to drop from")
def test_keygen_as_root_gives_keys_to_service_user(make_server):
    nobody = pwd.getpwnam("nobody")
    srv = make_server(top={"user": "nobody"}, public=True, start=False)
    r = srv.cli("dkim", "keygen", "Example.TEST", "--algorithm", "ed25519")
    sel = re.search(r"/dkim/example\.test/(t\d{6}e)\.key", r.out).group(1)
    key = srv.data_dir / "dkim" / "example.test" / f"{sel}.key"
    for p in (key, key.parent, key.parent.parent):
        st = os.lstat(p)
        assert st.st_uid == nobody.pw_uid, p
    assert stat.S_IMODE(os.lstat(key).st_mode) == 0o600
    assert stat.S_IMODE(os.lstat(key.parent).st_mode) == 0o700
    # a second keygen of the same selector is refused, the key is kept
    before = key.read_bytes()
    r = srv.cli("dkim", "keygen", "example.test", "--selector", sel,
                "--algorithm", "rsa", check=False)
    assert r.returncode == 1 and "exists" in r.err
    assert key.read_bytes() == before
    # a link in place of a domain directory is not followed
    os.symlink("/etc", srv.data_dir / "dkim" / "evil.test")
    r = srv.cli("dkim", "keygen", "evil.test", check=False)
    assert r.returncode == 1
    assert not any(p.name.endswith(".key") for p in Path("/etc").iterdir())
    r = srv.cli("dkim", "sign", "evil.test", input=MSG, check=False)
    assert r.returncode == 1
    r = srv.cli("dkim", "list")
    assert f"example.test {sel} ed25519-sha256 256" in r.out
    assert "evil.test" not in r.out
