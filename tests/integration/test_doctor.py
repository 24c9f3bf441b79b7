# SPDX-License-Identifier: ISC
"""`tern doctor [DOMAIN]` (issue 17): a good domain gives no warning and
exit 0; a domain with one problem gives that one finding (with its fix)
and exit 1, or exit 0 for a warning or a note; the host checks (FCrDNS,
certificate, relay_networks, data_dir) each report their own problem;
the open-relay self-test talks to a running server.

DNS is tests/integration/dnstest.py on loopback (dns_server); the
certificates come from a test CA (python3-cryptography) that the doctor
trusts through SSL_CERT_FILE. Every doctor run but the relay ones shares
one set-up per xdist worker (a module fixture): the doctor changes
nothing, and the one test that breaks a mode puts it back.
"""

import datetime
import json
import os
import re
import shutil
import subprocess

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from conftest import (CLI_TIMEOUT, TERN_BIN, child_env, free_port,
                      sanitizer_clean)
from dnstest import DnsServer, Zone

HOST = "mx.good.test"
HOST_IP = "10.255.0.25"  # RFC 1918: unbound forwards its PTR (dns.c)
NOPTR_HOST = "mx.noptr.test"
NOPTR_IP = "10.255.0.26"
ALIAS_MX = "alias.good.test"  # an MX name reaching us by address
GOOD_SPF = f"v=spf1 ip4:{HOST_IP} -all"
DKIM_DOMAINS = ("good.test", "byaddr.test", "nomx.test", "elsewhere.test",
                "nospf.test", "badspf.test", "brokenspf.test",
                "wrongdkim.test", "nodkimtxt.test", "nodmarc.test",
                "nonedmarc.test", "nosts.test", "ptr.test")


# -- certificates ------------------------------------------------------

def _name(cn):
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _pem(cert):
    return cert.public_bytes(serialization.Encoding.PEM)


def make_pki(d):
    """ca.pem, and good.pem / expired.pem (leaf and key in one file)
    for HOST, ALIAS_MX and NOPTR_HOST, signed by the CA."""
    now = datetime.datetime.now(datetime.timezone.utc)
    day = datetime.timedelta(days=1)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (x509.CertificateBuilder().subject_name(_name("doctor test CA"))
          .issuer_name(_name("doctor test CA"))
          .public_key(ca_key.public_key())
          .serial_number(x509.random_serial_number())
          .not_valid_before(now - day).not_valid_after(now + 90 * day)
          .add_extension(x509.BasicConstraints(ca=True, path_length=None),
                         critical=True)
          .sign(ca_key, hashes.SHA256()))
    (d / "ca.pem").write_bytes(_pem(ca))
    for name, start, end in (("good", now - day, now + 90 * day),
                             ("expired", now - 30 * day, now - day)):
        key = ec.generate_private_key(ec.SECP256R1())
        leaf = (x509.CertificateBuilder().subject_name(_name(HOST))
                .issuer_name(ca.subject).public_key(key.public_key())
                .serial_number(x509.random_serial_number())
                .not_valid_before(start).not_valid_after(end)
                .add_extension(x509.SubjectAlternativeName(
                    [x509.DNSName(n) for n in (HOST, ALIAS_MX,
                                               NOPTR_HOST)]),
                    critical=False)
                .sign(ca_key, hashes.SHA256()))
        p = d / f"{name}.pem"
        p.write_bytes(_pem(leaf) + key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption()))
        os.chmod(p, 0o600)


# -- running the doctor -----------------------------------------------

def run_tern(conf, *args, ca=None):
    env = child_env()
    if ca is not None:
        env["SSL_CERT_FILE"] = str(ca)
    r = subprocess.run([TERN_BIN, "-c", str(conf), *args],
                       capture_output=True, timeout=CLI_TIMEOUT, env=env)
    r.out = r.stdout.decode("utf-8", "replace")
    r.err = r.stderr.decode("utf-8", "replace")
    assert sanitizer_clean(r.err) is None, r.err
    return r


def txt_of(out):
    """The TXT value from `tern dkim keygen`'s record line."""
    line = next(ln for ln in out.splitlines() if " IN TXT " in ln)
    return "".join(re.findall(r'"([^"]*)"', line.split(" IN TXT ", 1)[1]))


def record_line(out):
    """`tern dkim keygen`'s record line as doctor's fix gives it."""
    return next(ln for ln in out.splitlines() if " IN TXT " in ln).strip()


class Site:
    """A data_dir, keys, certificates, a zone and config files."""

    def __init__(self, d):
        self.dir = d
        self.data_dir = d / "data"
        self.ca = d / "ca.pem"
        make_pki(d)
        self.zone = Zone({})
        self.dns = DnsServer(self.zone)
        self.port = free_port()  # an mx listener nobody serves
        self.conf = self.write_conf("tern.conf")
        self.keys = {}
        for dom in ("good.test", "wrongdkim.test"):
            r = run_tern(self.conf, "dkim", "keygen", dom, "--selector",
                         "s1", "--algorithm", "ed25519")
            assert r.returncode == 0, r.err
            self.keys[dom] = r.out
        # The other domains sign with good.test's key: one keygen (an
        # ASan process) instead of a dozen.
        src = self.data_dir / "dkim" / "good.test" / "s1.key"
        for dom in DKIM_DOMAINS:
            if dom in self.keys:
                continue
            d = self.data_dir / "dkim" / dom
            d.mkdir(mode=0o700)
            shutil.copyfile(src, d / "s1.key")
            os.chmod(d / "s1.key", 0o600)
            self.keys[dom] = self.keys["good.test"].replace(
                "good.test", dom)
        self.build_zone()

    def write_conf(self, name, hostname=HOST, cert="good.pem", top=""):
        p = self.dir / name
        p.write_text(
            f"hostname = {hostname}\ndata_dir = {self.data_dir}\n"
            f"domains = good.test\ndns_server = 127.0.0.1:{self.dns.port}\n"
            f"{top}\n[listener mx]\naddress = 127.0.0.1:{self.port}\n"
            f"mode = mx\ntls = starttls\n\n"
            f"[tls]\ncert = {self.dir / cert}\n\n"
            f"[authentication]\nchecks = off\n")
        return p

    def publish(self, dom, mx=HOST, spf=GOOD_SPF, dkim=True,
                dmarc="v=DMARC1; p=reject", sts="v=STSv1; id=20260101"):
        z = self.zone
        if mx:
            z.add(dom, "MX", (10, mx))
        if spf:
            z.add(dom, "TXT", spf)
        if dkim:
            z.add(f"s1._domainkey.{dom}", "TXT", txt_of(self.keys[dom]))
        if dmarc:
            z.add(f"_dmarc.{dom}", "TXT", dmarc)
        if sts:
            z.add(f"_mta-sts.{dom}", "TXT", sts)

    def build_zone(self):
        z = self.zone
        z.add(HOST, "A", HOST_IP)
        z.add("25.0.255.10.in-addr.arpa", "PTR", HOST)
        z.add(ALIAS_MX, "A", "127.0.0.1")
        z.add("mx.other.test", "A", "10.255.0.99")
        z.add(NOPTR_HOST, "A", NOPTR_IP)
        z.add("26.0.255.10.in-addr.arpa", "PTR", "somebody.else.test")
        self.publish("good.test")
        self.publish("byaddr.test", mx=ALIAS_MX)
        self.publish("nomx.test", mx=None)
        self.publish("elsewhere.test", mx="mx.other.test")
        self.publish("nospf.test", spf=None)
        self.publish("badspf.test", spf="v=spf1 ip4:10.255.0.99 -all")
        self.publish("brokenspf.test", spf="v=spf1 bogus:x -all")
        self.publish("nodkim.test", dkim=False)
        self.publish("wrongdkim.test", dkim=False)
        self.zone.add("s1._domainkey.wrongdkim.test", "TXT",
                      txt_of(self.keys["good.test"]))
        self.publish("nodkimtxt.test", dkim=False)
        self.publish("nodmarc.test", dmarc=None)
        self.publish("nonedmarc.test",
                     dmarc="v=DMARC1; p=none; rua=mailto:d@nonedmarc.test")
        self.publish("nosts.test", sts=None)
        self.publish("ptr.test", mx=NOPTR_HOST,
                     spf=f"v=spf1 ip4:{NOPTR_IP} -all")

    def doctor(self, *args, conf=None):
        """(exit status, report) of `tern doctor --json ARGS`."""
        r = run_tern(conf or self.conf, "doctor", "--json", "--timeout",
                     "5", *args, ca=self.ca)
        assert r.returncode in (0, 1), (r.returncode, r.out, r.err)
        return r.returncode, json.loads(r.out)


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    s = Site(tmp_path_factory.mktemp("doctor"))
    yield s
    s.dns.close()


def problems(report):
    """The findings that are not ok or note."""
    return [f for f in report["results"]
            if f["status"] not in ("ok", "note")]


def by_check(report, check):
    return [f for f in report["results"] if f["check"] == check]


# -- a good domain ------------------------------------------------------

def test_good_domain_is_all_ok(site):
    # `domains = good.test`: no DOMAIN means that one.
    rc, rep = site.doctor()
    assert problems(rep) == [], rep
    assert rc == 0 and rep["failed"] == 0 and rep["warnings"] == 0
    for check in ("fcrdns", "mx", "tls", "spf", "dkim", "dmarc", "mta-sts",
                  "data_dir"):
        got = by_check(rep, check)
        assert got and all(f["status"] == "ok" for f in got), (check, rep)
    # No server runs on the listener: said, and only a note.
    relay = by_check(rep, "relay")
    assert [f["status"] for f in relay] == ["note"], relay
    assert "no server answers" in relay[0]["text"]
    assert {f["subject"] for f in by_check(rep, "spf")} == {"good.test"}


def test_text_output(site):
    r = run_tern(site.conf, "doctor", "good.test", ca=site.ca)
    assert r.returncode == 0, r.out + r.err
    lines = r.out.splitlines()
    assert re.fullmatch(r"\d+ checks: 0 failed, 0 warnings", lines[-1])
    for ln in lines[:-1]:
        assert re.match(r"(ok   |note |warn |FAIL |      fix: )", ln), ln
    assert any(ln.startswith("ok    mx good.test: MX mx.good.test")
               for ln in lines), r.out


def test_mx_by_address(site):
    rc, rep = site.doctor("byaddr.test")
    assert rc == 0 and problems(rep) == [], rep
    mx, = by_check(rep, "mx")
    assert "by address" in mx["text"]
    # The certificate must then name that MX host too: it does.
    tls, = by_check(rep, "tls")
    assert tls["status"] == "ok" and "MX names" in tls["text"]


# -- one problem per domain --------------------------------------------

DKIM_RECORD = object()  # the fix is keygen's record line for the domain

PROBLEMS = [
    ("nomx.test", "mx", "FAIL", "nomx.test. IN MX 10 mx.good.test."),
    ("elsewhere.test", "mx", "FAIL", "elsewhere.test. IN MX 10 mx.good.test."),
    ("nospf.test", "spf", "FAIL",
     f'nospf.test. IN TXT "v=spf1 ip4:{HOST_IP} -all"'),
    ("badspf.test", "spf", "FAIL",
     f'badspf.test. IN TXT "v=spf1 ip4:{HOST_IP} ip4:10.255.0.99 -all"'),
    ("brokenspf.test", "spf", "FAIL",
     f'brokenspf.test. IN TXT "v=spf1 ip4:{HOST_IP} -all"'),
    ("nodkim.test", "dkim", "FAIL",
     "tern dkim keygen nodkim.test, then publish the TXT record it prints"),
    ("wrongdkim.test", "dkim", "FAIL", DKIM_RECORD),
    ("nodkimtxt.test", "dkim", "FAIL", DKIM_RECORD),
    ("nodmarc.test", "dmarc", "FAIL",
     '_dmarc.nodmarc.test. IN TXT "v=DMARC1; p=quarantine; '
     'rua=mailto:postmaster@nodmarc.test"'),
    # The report address published is kept.
    ("nonedmarc.test", "dmarc", "warn",
     '_dmarc.nonedmarc.test. IN TXT "v=DMARC1; p=quarantine; '
     'rua=mailto:d@nonedmarc.test"'),
]


@pytest.mark.parametrize("domain,check,status,fix", PROBLEMS,
                         ids=[p[0] for p in PROBLEMS])
def test_one_problem(site, domain, check, status, fix):
    rc, rep = site.doctor(domain)
    found = problems(rep)
    assert len(found) == 1, found
    f = found[0]
    assert (f["check"], f["status"]) == (check, status), f
    if fix is DKIM_RECORD:
        fix = record_line(site.keys[domain])
    assert f["fix"] == fix, f
    assert rc == (1 if status == "FAIL" else 0)


def test_no_mta_sts_is_a_note(site):
    rc, rep = site.doctor("nosts.test")
    assert rc == 0 and problems(rep) == [], rep
    sts, = by_check(rep, "mta-sts")
    assert sts["status"] == "note" and "_mta-sts.nosts.test" in sts["fix"]


# -- the host checks ----------------------------------------------------

def test_fcrdns_wrong_ptr(site):
    conf = site.write_conf("noptr.conf", hostname=NOPTR_HOST)
    rc, rep = site.doctor("ptr.test", conf=conf)
    found = problems(rep)
    assert [(f["check"], f["status"], f["subject"]) for f in found] == \
        [("fcrdns", "FAIL", NOPTR_IP)], found
    assert "somebody.else.test" in found[0]["text"]
    assert found[0]["fix"].endswith(
        f"26.0.255.10.in-addr.arpa. IN PTR {NOPTR_HOST}.")
    assert rc == 1


def test_expired_certificate(site):
    conf = site.write_conf("expired.conf", cert="expired.pem")
    rc, rep = site.doctor("good.test", conf=conf)
    found = problems(rep)
    assert [(f["check"], f["status"]) for f in found] == \
        [("tls", "FAIL")], found
    assert "expired on" in found[0]["text"] and "certbot" in found[0]["fix"]
    assert rc == 1


def test_untrusted_certificate_warns(site):
    # Without the test CA the same certificate chains to nothing.
    r = run_tern(site.conf, "doctor", "--json", "good.test")
    rep = json.loads(r.out)
    found = problems(rep)
    assert [(f["check"], f["status"]) for f in found] == \
        [("tls", "warn")], found
    assert "does not chain" in found[0]["text"] and r.returncode == 0


def test_relay_networks_everyone(site):
    conf = site.write_conf("relay.conf", top="relay_networks = 0.0.0.0/0")
    rc, rep = site.doctor("good.test", conf=conf)
    found = problems(rep)
    assert [(f["check"], f["status"]) for f in found] == \
        [("relay", "FAIL")], found
    assert found[0]["fix"] == \
        "remove 0.0.0.0/0 from relay_networks, then tern reload"
    assert rc == 1


def test_data_dir_key_mode(site):
    key = site.data_dir / "dkim" / "good.test" / "s1.key"
    ddir = site.data_dir / "dkim" / "good.test"
    os.chmod(key, 0o644)
    os.chmod(ddir, 0o777)
    try:
        rc, rep = site.doctor("good.test")
    finally:
        os.chmod(key, 0o600)
        os.chmod(ddir, 0o700)
    found = problems(rep)
    assert sorted((f["check"], f["subject"], f["fix"]) for f in found) == [
        ("data_dir", str(ddir), f"chmod go-w {ddir}"),
        ("data_dir", str(key), f"chmod 600 {key}")], found
    assert rc == 1


def test_data_dir_symlink(site, tmp_path):
    # A link in place of queue/: refused, never followed.
    link = site.data_dir / "queue"
    link.symlink_to(tmp_path)
    try:
        rc, rep = site.doctor("good.test")
    finally:
        link.unlink()
    found = problems(rep)
    assert [(f["check"], f["subject"]) for f in found] == \
        [("data_dir", str(link))], found
    assert "symbolic link" in found[0]["text"] and rc == 1


def test_bad_config_exits_78(tmp_path):
    conf = tmp_path / "bad.conf"
    conf.write_text("no_such_setting = 1\n")
    r = run_tern(conf, "doctor")
    assert r.returncode == 78, (r.out, r.err)


def test_usage(site):
    r = run_tern(site.conf, "doctor", "--bogus")
    assert r.returncode == 64 and "usage: tern" in r.err


# -- the open-relay self-test against a running server -----------------

def relay_findings(srv):
    r = srv.cli("doctor", "--json", "--timeout", "5", "example.test",
                check=False)
    assert r.returncode in (0, 1), r.err
    return r.returncode, by_check(json.loads(r.out), "relay")


@pytest.fixture
def quiet_dns():
    """A DNS server that knows nothing: the DNS checks fail fast."""
    dns = DnsServer(Zone({}))
    yield dns
    dns.close()


def test_relay_probe_normal_server(make_server, quiet_dns):
    srv = make_server(users=(),
                      top={"dns_server": f"127.0.0.1:{quiet_dns.port}",
                           "relay_networks": "127.0.0.1/32"})
    _, relay = relay_findings(srv)
    assert [f["status"] for f in relay] == ["ok"], relay
    # Refused even for loopback, which relay_networks trusts.
    assert "refused to relay for 127.0.0.1 (554" in relay[0]["text"]
    assert srv.queue_json() == []


@pytest.mark.parametrize("trusted", [False, True],
                         ids=["stranger", "relay_networks"])
def test_relay_probe_open_relay(make_server, quiet_dns, trusted):
    # The probe's domain relayed for anyone: mail to a domain not ours
    # is taken from loopback. A failure when no setting trusts loopback;
    # when relay_networks does, the test proves nothing about strangers
    # and says so.
    top = {"dns_server": f"127.0.0.1:{quiet_dns.port}"}
    if trusted:
        top["relay_networks"] = "127.0.0.0/8"
    srv = make_server(users=(), top=top,
                      extra="\n[relay_domains]\ndoctor-test.invalid = any\n")
    rc, relay = relay_findings(srv)
    if trusted:
        assert [f["status"] for f in relay] == ["warn"], relay
        assert "cannot tell what a stranger gets" in relay[0]["text"]
        assert "swaks" in relay[0]["fix"]
    else:
        assert [f["status"] for f in relay] == ["FAIL"], relay
        assert relay[0]["text"].startswith("OPEN RELAY")
    assert rc == 1  # the DNS checks of example.test fail either way
    # RSET, QUIT: nothing was queued.
    assert srv.queue_json() == []
