# SPDX-License-Identifier: ISC
"""Every Authentication-Results field tern writes parses with an
independent implementation, Debian's python3-authres (issue 16).

tests/tools/authres_gen.c writes the fields with auth/authres.c; each case
here says what goes in and what python3-authres must read back: method,
result, reason and every property, after tern's cleaning of hostile text.
Fields are unfolded (RFC 5322 2.2.3: CRLF removed) before parsing, as
python3-authres expects, and each physical line is checked for length.
"""

import os
import re
import subprocess

import authres
import pytest

from conftest import CLI_TIMEOUT, TERN_BIN

GEN = os.environ.get("AUTHRES_GEN") or os.path.join(
    os.path.dirname(TERN_BIN), "src", "auth", "authres_gen")
ID = "mx.example.org"

# (name, [(method, result, reason, comment, [(ptype, prop, value)])],
#  [(method, result, reason, [(ptype, prop, value)])] expected back)
LONG_REASON = " ".join(["word%02d" % i for i in range(30)])
CASES = [
    ("none", [], []),
    ("spf", [("spf", "pass", None, "sender is authorized",
              [("smtp", "mailfrom", "bounce@example.com"),
               ("smtp", "helo", "mail.example.com")])],
     [("spf", "pass", None, [("smtp", "mailfrom", "bounce@example.com"),
                             ("smtp", "helo", "mail.example.com")])]),
    ("spf-helo-literal", [("spf", "none", None, None,
                           [("smtp", "helo", "[192.0.2.1]")])],
     [("spf", "none", None, [("smtp", "helo", "[192.0.2.1]")])]),
    ("spf-null-sender", [("spf", "softfail", "no mailfrom: helo checked",
                          None, [("smtp", "helo", "host.example.net")])],
     [("spf", "softfail", "no mailfrom: helo checked",
       [("smtp", "helo", "host.example.net")])]),
    ("dkim", [("dkim", "pass", None, "2048-bit key",
               [("header", "d", "example.com"), ("header", "s", "sel-2024"),
                ("header", "i", "@example.com"),
                ("header", "a", "rsa-sha256"),
                ("header", "b", "Ab+/9xYz")])],
     [("dkim", "pass", None, [("header", "d", "example.com"),
                              ("header", "s", "sel-2024"),
                              ("header", "i", "@example.com"),
                              ("header", "a", "rsa-sha256"),
                              ("header", "b", "Ab+/9xYz")])]),
    ("dkim-fail-reason", [("dkim", "fail", 'body hash "bh" mismatch \\ x',
                           None, [("header", "d", "example.net")])],
     [("dkim", "fail", 'body hash "bh" mismatch \\ x',
       [("header", "d", "example.net")])]),
    ("dkim-hostile-d", [("dkim", "permerror", "bad key", "(oops",
                         [("header", "d", "ex ample;\r\n.com\x01")])],
     [("dkim", "permerror", "bad key",
       [("header", "d", "ex ample;??.com?")])]),
    ("dmarc", [("dmarc", "fail", None, "p=reject sp=quarantine",
                [("header", "from", "example.com"),
                 ("policy", "dmarc", "reject")])],
     [("dmarc", "fail", None, [("header", "from", "example.com"),
                               ("policy", "dmarc", "reject")])]),
    ("dmarc-permerror", [("dmarc", "permerror", "several From addresses",
                          None, [])],
     [("dmarc", "permerror", "several From addresses", [])]),
    ("arc", [("arc", "pass", None, "i=2",
              [("smtp", "remote-ip", "2001:db8::1"),
               ("header", "oldest-pass", "0")])],
     # An IPv6 address is not a token (":"): quoted, hence last.
     [("arc", "pass", None, [("header", "oldest-pass", "0"),
                             ("smtp", "remote-ip", "2001:db8::1")])]),
    ("iprev", [("iprev", "fail", None, None,
                [("smtp", "remote-ip", "192.0.2.7")])],
     [("iprev", "fail", None, [("smtp", "remote-ip", "192.0.2.7")])]),
    ("reason-cleaned", [("spf", "fail", "  a\tb\r\n c (d) \x7f\u00e9 ",
                         "x ( y", [])],
     [("spf", "fail", "a b c (d) ???", [])]),
    ("quoted-value-last", [("spf", "pass", None, None,
                            [("smtp", "helo", "a b"),
                             ("smtp", "mailfrom", "a@example.com")])],
     [("spf", "pass", None, [("smtp", "mailfrom", "a@example.com"),
                             ("smtp", "helo", "a b")])]),
    ("quoted-escapes", [("spf", "pass", None, None,
                         [("smtp", "mailfrom", '"a\\b"@example.com')])],
     [("spf", "pass", None, [("smtp", "mailfrom", '"a\\b"@example.com')])]),
    ("long-folded", [("dkim", "fail", LONG_REASON, LONG_REASON[:90],
                      [("header", "d", "a-rather-long-domain.example.com"),
                       ("header", "s", "selector")])] * 4,
     # Reasons are cut at AUTHRES_TEXT_MAX (200) bytes.
     [("dkim", "fail", LONG_REASON[:200],
       [("header", "d", "a-rather-long-domain.example.com"),
        ("header", "s", "selector")])] * 4),
    ("all-methods", [
        ("iprev", "pass", None, None, [("smtp", "remote-ip", "192.0.2.1")]),
        ("spf", "pass", None, None, [("smtp", "mailfrom", "b@example.com")]),
        ("dkim", "pass", None, None, [("header", "d", "example.com")]),
        ("dkim", "pass", None, None, [("header", "d", "esp.example")]),
        ("dmarc", "pass", None, None, [("header", "from", "example.com")]),
        ("arc", "none", None, None, [])],
     [("iprev", "pass", None, [("smtp", "remote-ip", "192.0.2.1")]),
      ("spf", "pass", None, [("smtp", "mailfrom", "b@example.com")]),
      ("dkim", "pass", None, [("header", "d", "example.com")]),
      ("dkim", "pass", None, [("header", "d", "esp.example")]),
      ("dmarc", "pass", None, [("header", "from", "example.com")]),
      ("arc", "none", None, [])]),
]


def hexarg(s):
    return "-" if s is None else (s.encode("utf-8").hex() or "")


def gen_input():
    lines = []
    for _name, results, _want in CASES:
        lines.append("F " + ID)
        for method, result, reason, comment, props in results:
            lines.append("R %s %s %s %s" % (method, result, hexarg(reason),
                                            hexarg(comment)))
            for ptype, prop, value in props:
                lines.append("P %s %s %s" % (ptype, prop, hexarg(value)))
        lines.append("E")
    return "\n".join(lines) + "\n"


def unescape(s):
    """python3-authres keeps quoted-pairs as written: undo them."""
    return None if s is None else re.sub(r"\\(.)", r"\1", s)


@pytest.fixture(scope="module")
def fields():
    if not os.access(GEN, os.X_OK):
        pytest.fail("no %s: build the tests (ninja) first" % GEN)
    out = subprocess.run([GEN], input=gen_input().encode(),
                         capture_output=True, timeout=CLI_TIMEOUT, check=True)
    parts = out.stdout.split(b".\n")
    assert parts[-1] == b""
    assert len(parts) - 1 == len(CASES)
    return [p.decode("ascii") for p in parts[:-1]]


@pytest.mark.parametrize("i", range(len(CASES)), ids=[c[0] for c in CASES])
def test_parses_back(fields, i):
    name, _results, want = CASES[i]
    raw = fields[i]
    assert not raw.startswith("ERROR"), raw
    assert raw.endswith("\r\n")
    lines = raw[:-2].split("\r\n")
    for n, line in enumerate(lines):
        assert len(line) <= 78, (name, line)
        assert "\r" not in line and "\n" not in line
        if n > 0:
            assert line.startswith(" ") and line.strip(), (name, line)
    unfolded = raw.replace("\r\n", "")
    hdr = authres.AuthenticationResultsHeader.parse(unfolded)
    assert hdr.authserv_id == ID
    got = [(r.method, r.result, unescape(r.reason),
            [(p.type, p.name, unescape(p.value)) for p in r.properties])
           for r in hdr.results]
    assert got == [(m, r, rs, list(ps)) for m, r, rs, ps in want], unfolded
    # The dmarc, dkim, arc classes know their properties too.
    full = authres.all_features().parse(unfolded)
    assert len(full.results) == len(want)


def test_long_field_is_folded(fields):
    i = [c[0] for c in CASES].index("long-folded")
    assert fields[i].count("\r\n ") >= 8
