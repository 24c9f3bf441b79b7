# SPDX-License-Identifier: ISC
"""Issue 15: `tern check-config` catches the first-day mistakes, prints
only what differs from the defaults (--all: everything), and never a
password; route passwords live in secrets_file, which the server refuses
when others could read or write it, and which `tern sendmail` never reads.

Errors exit 78 (EX_CONFIG) and read "tern: error: ..."; warnings keep the
exit status 0 and read "tern: warning: ...". Certificates are made here
with the openssl command; an expired or not-yet-valid one with
`openssl ca -selfsign -startdate/-enddate` (OpenSSL 3.0's req and x509
cannot back-date). The checks of what the server's user may read and
write need root (a child drops to `user =`): those tests skip otherwise.
"""

import os
import shutil
import stat
import subprocess
import tempfile
from pathlib import Path

import pytest

from conftest import (CLI_TIMEOUT, HOSTNAME, TERN_BIN, child_env,
                      free_port, sanitizer_clean)

NOBODY = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
EX_CONFIG = 78
root_only = pytest.mark.skipif(
    os.geteuid() != 0,
    reason="needs root: checks as the server's user (user = nobody) drop "
           "from root, and the files are chowned")

CA_CNF = """[ca]
default_ca = d
[d]
dir = {dir}
database = {dir}/index.txt
new_certs_dir = {dir}
serial = {dir}/serial
default_md = sha256
policy = p
unique_subject = no
copy_extensions = copy
[p]
commonName = supplied
"""


def openssl(*args):
    subprocess.run(["openssl", *map(str, args)], check=True,
                   capture_output=True, timeout=CLI_TIMEOUT)


def new_key_args(key):
    return ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
            "-nodes", "-keyout", key]


def new_cert(d, name, cn=HOSTNAME, days=60, start=None, end=None):
    """(cert, key): self-signed for cn, valid `days` from now, or from
    `start` to `end` (YYYYMMDDHHMMSSZ)."""
    d = Path(d)
    d.mkdir(parents=True, exist_ok=True)
    crt, key = d / f"{name}.pem", d / f"{name}.key"
    subj = ["-subj", f"/CN={cn}", "-addext", f"subjectAltName=DNS:{cn}"]
    if start is None:
        openssl("req", "-x509", *new_key_args(key), *subj, "-days", days,
                "-out", crt)
        return crt, key
    ca = d / f"{name}-ca"
    ca.mkdir()
    (ca / "index.txt").write_text("")
    (ca / "serial").write_text("01\n")
    (ca / "ca.cnf").write_text(CA_CNF.format(dir=ca))
    openssl("req", "-new", *new_key_args(key), *subj, "-out", ca / "csr")
    openssl("ca", "-batch", "-config", ca / "ca.cnf", "-selfsign",
            "-keyfile", key, "-in", ca / "csr", "-out", crt,
            "-startdate", start, "-enddate", end, "-notext")
    return crt, key


def write_conf(d, top="", extra="", data_dir=None, mode=0o644):
    d = Path(d)
    d.mkdir(parents=True, exist_ok=True)
    conf = d / "tern.conf"
    conf.write_text(
        f"hostname = {HOSTNAME}\n"
        f"data_dir = {data_dir or d / 'data'}\n"
        "domains = example.test, example.org\n" + top +
        f"\n[listener mx]\naddress = 127.0.0.1:{free_port()}\n" + extra)
    conf.chmod(mode)
    return conf


def check(conf, *args, wrapper=()):
    r = subprocess.run(list(wrapper) + [TERN_BIN, "-c", str(conf),
                                        "check-config", *args],
                       capture_output=True, timeout=CLI_TIMEOUT,
                       env=child_env(), stdin=subprocess.DEVNULL)
    r.out = r.stdout.decode("utf-8", "replace")
    r.err = r.stderr.decode("utf-8", "replace")
    assert sanitizer_clean(r.err) is None, r.err
    r.errors = [ln[len("tern: error: "):] for ln in r.err.splitlines()
                if ln.startswith("tern: error: ")]
    r.warnings = [ln[len("tern: warning: "):] for ln in r.err.splitlines()
                  if ln.startswith("tern: warning: ")]
    return r


def has(lines, *parts):
    return any(all(p in ln for p in parts) for ln in lines)


def serve_refused(conf):
    """`tern serve` must exit before it is ready; its stderr."""
    try:
        r = subprocess.run([TERN_BIN, "serve", "-c", str(conf)],
                           capture_output=True, timeout=CLI_TIMEOUT,
                           env=child_env(), stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        pytest.fail("tern serve started with a bad configuration")
    err = r.stderr.decode("utf-8", "replace")
    assert r.returncode != 0, err
    assert "event=ready" not in err, err
    assert sanitizer_clean(err) is None, err
    return err


@pytest.fixture
def open_dir():
    """A directory every user may search (pytest's tmp_path is 0700)."""
    d = Path(tempfile.mkdtemp(prefix="tern-check-", dir="/tmp"))
    d.chmod(0o755)
    yield d
    shutil.rmtree(d, ignore_errors=True)


# -- printing ------------------------------------------------------------

def test_prints_only_changes_unless_all(make_server):
    srv = make_server(start=False)
    r = srv.cli("check-config")
    # The harness sets max_message_size = 35M, the default: not shown.
    # retry_initial = 1s is not the default: shown, in its section.
    assert "max_message_size" not in r.out and "max_errors" not in r.out
    assert "\n[queue]\nretry_initial = 1s\t; 1s..1d\n" in r.out, r.out
    assert "[limits]" not in r.out and "[tls]" not in r.out, r.out
    assert "# (settings that differ from the defaults" in r.out
    a = srv.cli("check-config", "--all")
    for line in ("max_message_size = 35M\t; 1k..2G",
                 "max_errors = 10\t; 1..1000", "min_version = TLSv1.2",
                 "# log_file = (not set: log to stderr)"):
        assert line in a.out, a.out
    # Both load back (the round trip is in test_conf.c for every key).
    for out in (r.out, a.out):
        again = srv.dir / "again.conf"
        again.write_text(out)
        assert check(again).returncode == 0
    r = srv.cli("check-config", "--bogus", check=False)
    assert r.returncode == 64 and "usage: " in r.err


# -- user, data_dir ------------------------------------------------------

def test_user_missing(tmp_path):
    conf = write_conf(tmp_path, "user = tern-no-such-user\n")
    r = check(conf)
    assert r.returncode == EX_CONFIG, r.err
    assert has(r.errors, "user tern-no-such-user: no such user",
               "adduser --system"), r.err
    assert f"{conf}: 1 error" in r.err


@root_only
def test_data_dir_other_owner(open_dir):
    data = open_dir / "data"
    data.mkdir(mode=0o755)
    os.chown(data, 12345, 12345)
    r = check(write_conf(open_dir, "user = nobody\n", data_dir=data))
    assert r.returncode == EX_CONFIG, r.err
    assert has(r.errors, f"data_dir {data}: nobody cannot write it",
               f"chown nobody {data}"), r.err
    # Owned by root: `tern serve` gives it to nobody at start.
    os.chown(data, 0, 0)
    r = check(write_conf(open_dir, "user = nobody\n", data_dir=data))
    assert not has(r.errors, "data_dir"), r.err
    # Owned by nobody: fine as it is.
    os.chown(data, 65534, 65534)
    r = check(write_conf(open_dir, "user = nobody\n", data_dir=data))
    assert r.returncode == 0 and not has(r.errors, "data_dir"), r.err


@root_only
def test_data_dir_unreachable(open_dir):
    private = open_dir / "private"
    private.mkdir(mode=0o700)
    for data in (private / "data", private / "missing"):
        if data.name == "data":
            data.mkdir()
            os.chown(data, 65534, 65534)
        r = check(write_conf(open_dir, "user = nobody\n", data_dir=data))
        assert r.returncode == EX_CONFIG, r.err
        assert has(r.errors, f"data_dir {data}: nobody cannot reach it"), \
            r.err
    # Missing but reachable: made at start, a note.
    r = check(write_conf(open_dir, "user = nobody\n",
                         data_dir=open_dir / "new" / "data"))
    assert r.returncode == 0, r.err
    assert "does not exist yet; tern serve makes it" in r.err


@root_only
def test_data_dir_checked_as_the_caller_without_user(open_dir):
    """No `user =`: the server runs as whoever starts it."""
    data = open_dir / "data"
    data.mkdir(mode=0o755)
    conf = write_conf(open_dir, data_dir=data)
    r = check(conf, wrapper=NOBODY)
    assert r.returncode == EX_CONFIG, r.err
    assert has(r.errors, f"data_dir {data}: uid 65534 cannot write it",
               f"chown 65534 {data}"), r.err
    assert check(conf).returncode == 0


# -- [tls] ---------------------------------------------------------------

def tls_conf(d, cert, key, top=""):
    return write_conf(d, top, extra=f"tls = starttls\n[tls]\ncert = {cert}\n"
                      f"key = {key}\n")


def test_tls_good_cert(tmp_path):
    cert, key = new_cert(tmp_path / "pki", "good")
    r = check(tls_conf(tmp_path, cert, key))
    assert r.returncode == 0, r.err
    assert not r.errors, r.err
    # A self-signed certificate is worth a word, nothing more.
    assert has(r.warnings, f"[tls] cert {cert}: self-signed"), r.err
    assert not has(r.warnings, "expires") and \
        not has(r.warnings, "does not name"), r.err


@pytest.mark.parametrize("what", ["cert", "key"])
def test_tls_file_missing(tmp_path, what):
    cert, key = new_cert(tmp_path / "pki", "good")
    missing = tmp_path / "pki" / "missing.pem"
    r = check(tls_conf(tmp_path, missing if what == "cert" else cert,
                       missing if what == "key" else key))
    assert r.returncode == EX_CONFIG, r.err
    assert has(r.errors, f"[tls] {what} {missing}: No such file"), r.err


def test_tls_key_mismatch(tmp_path):
    cert, _ = new_cert(tmp_path / "pki", "one")
    _, key = new_cert(tmp_path / "pki", "two")
    r = check(tls_conf(tmp_path, cert, key))
    assert r.returncode == EX_CONFIG, r.err
    assert has(r.errors, f"[tls] key {key} does not belong to the "
               f"certificate in {cert}"), r.err


def test_tls_not_pem(tmp_path):
    cert, key = new_cert(tmp_path / "pki", "good")
    junk = tmp_path / "junk.pem"
    junk.write_text("not a certificate\n")
    r = check(tls_conf(tmp_path, junk, key))
    assert r.returncode == EX_CONFIG
    assert has(r.errors, f"[tls] cert {junk}: no PEM certificate"), r.err
    r = check(tls_conf(tmp_path, cert, junk))
    assert r.returncode == EX_CONFIG
    assert has(r.errors, f"[tls] key {junk}: no unencrypted PEM private "
               "key"), r.err


def test_tls_expired(tmp_path):
    cert, key = new_cert(tmp_path / "pki", "old",
                         start="20200101000000Z", end="20200201000000Z")
    r = check(tls_conf(tmp_path, cert, key))
    assert r.returncode == EX_CONFIG, r.err
    assert has(r.errors, f"[tls] cert {cert}: expired on 2020-02-01 "
               "00:00 UTC"), r.err
    # The key matches: only the date is wrong.
    assert len(r.errors) == 1, r.err


def test_tls_not_yet_valid(tmp_path):
    cert, key = new_cert(tmp_path / "pki", "future",
                         start="20990101000000Z", end="21000101000000Z")
    r = check(tls_conf(tmp_path, cert, key))
    assert r.returncode == EX_CONFIG, r.err
    assert has(r.errors, f"[tls] cert {cert}: not valid before "
               "2099-01-01"), r.err


def test_tls_expires_soon(tmp_path):
    cert, key = new_cert(tmp_path / "pki", "soon", days=5)
    r = check(tls_conf(tmp_path, cert, key))
    assert r.returncode == 0, r.err
    assert has(r.warnings, f"[tls] cert {cert}: expires on",
               "within 14 days"), r.err
    cert, key = new_cert(tmp_path / "pki", "later", days=20)
    r = check(tls_conf(tmp_path, cert, key))
    assert not has(r.warnings, "within 14 days"), r.err


def test_tls_wrong_name_and_untrusted_chain(tmp_path):
    pki = tmp_path / "pki"
    cert, key = new_cert(pki, "other", cn="other.example")
    r = check(tls_conf(tmp_path, cert, key))
    assert r.returncode == 0, r.err
    assert has(r.warnings, f"[tls] cert {cert}: does not name hostname "
               f"{HOSTNAME}"), r.err
    # Signed by a CA nobody trusts: not self-signed, but no chain.
    ca, ca_key = new_cert(pki, "ca", cn="Test CA")
    leaf_key = pki / "leaf.key"
    openssl("req", "-new", *new_key_args(leaf_key), "-subj",
            f"/CN={HOSTNAME}", "-addext", f"subjectAltName=DNS:{HOSTNAME}",
            "-out", pki / "leaf.csr")
    leaf = pki / "leaf.pem"
    openssl("x509", "-req", "-in", pki / "leaf.csr", "-CA", ca, "-CAkey",
            ca_key, "-days", "60", "-copy_extensions", "copy", "-out", leaf)
    r = check(tls_conf(tmp_path, leaf, leaf_key))
    assert r.returncode == 0, r.err
    assert has(r.warnings, f"[tls] cert {leaf}: does not chain to this "
               "system's CAs"), r.err
    assert not has(r.warnings, "self-signed"), r.err


@root_only
def test_tls_key_unreadable_by_service_user(open_dir):
    cert, key = new_cert(open_dir / "pki", "good")
    (open_dir / "pki").chmod(0o755)
    cert.chmod(0o644)
    key.chmod(0o600)
    r = check(tls_conf(open_dir, cert, key, "user = nobody\n"))
    assert r.returncode == 0, r.err
    assert has(r.warnings, f"[tls] key {key}: nobody cannot read it",
               "a reload"), r.err
    assert not has(r.warnings, f"[tls] cert {cert}: nobody"), r.err
    key.chmod(0o640)
    os.chown(key, 0, 65534)
    r = check(tls_conf(open_dir, cert, key, "user = nobody\n"))
    assert not has(r.warnings, "cannot read it"), r.err


# -- the user database -----------------------------------------------------

def test_alias_to_missing_user(make_server):
    srv = make_server(start=False)
    srv.add_alias("team@example.test", "alice@example.test",
                  "ghost@example.test", "far@remote.example")
    srv.add_alias("list@example.test", "team@example.test")
    srv.add_alias("@example.org", "nobody-here@example.test")
    r = check(srv.conf_path)
    assert r.returncode == 0
    assert has(r.warnings, "alias team@example.test -> ghost@example.test",
               "tern alias del team@example.test ghost@example.test"), r.err
    assert has(r.warnings, "alias @example.org -> "
               "nobody-here@example.test"), r.err
    # A user, another alias, a remote address: fine.
    for ok in ("-> alice@", "-> team@", "far@remote"):
        assert not has(r.warnings, ok), r.err


def test_domain_without_postmaster(make_server):
    srv = make_server(start=False, postmaster=None)
    r = check(srv.conf_path)
    assert r.returncode == 0
    assert has(r.warnings, "no postmaster (RFC 5321 4.5.1) for "
               "example.test, example.org:"), r.err
    srv.add_alias("postmaster@example.org", "admin@example.test")
    r = check(srv.conf_path)
    assert has(r.warnings, "no postmaster (RFC 5321 4.5.1) for "
               "example.test:"), r.err
    # `postmaster =` covers every domain.
    srv.postmaster = "admin@example.test"
    srv.write_config()
    r = check(srv.conf_path)
    assert not has(r.warnings, "no postmaster"), r.err


# -- secrets -------------------------------------------------------------

PASSWORD = "Sekr1t: with spaces"
INLINE = "inl1ne-Sekr1t"


def secrets_conf(d, text, mode=0o600, route="* = 127.0.0.1:1 auth=relay\n",
                 top="", conf_mode=0o644):
    d = Path(d)
    d.mkdir(parents=True, exist_ok=True)
    sec = d / "secrets"
    sec.write_text(text)
    sec.chmod(mode)
    conf = write_conf(d, f"secrets_file = {sec}\n" + top,
                      extra="[routes]\n" + route, mode=conf_mode)
    return conf, sec


def test_check_config_never_prints_a_password(tmp_path):
    conf, _ = secrets_conf(
        tmp_path, f"* relay:{PASSWORD}\n",
        route=f"* = 127.0.0.1:1 auth=relay\n"
              f"x.test = 127.0.0.1:2 auth=bob:{INLINE}\n")
    for args in ((), ("--all",)):
        r = check(conf, *args)
        assert r.returncode == 0, r.err
        for secret in ("Sekr1t", PASSWORD, INLINE):
            assert secret not in r.out + r.err, (args, r.out, r.err)
        assert "* = 127.0.0.1:1 auth=relay\n" in r.out, r.out
        assert "x.test = 127.0.0.1:2 auth=bob\n" in r.out, r.out
        assert "auth= password is in the config file (not shown)" in r.out


def test_inline_password_in_readable_config_warned(tmp_path):
    route = f"* = 127.0.0.1:1 auth=bob:{INLINE}\n"
    conf, _ = secrets_conf(tmp_path, "", route=route)
    r = check(conf)
    assert r.returncode == 0, r.err
    assert has(r.warnings, "[routes] *: the auth= password is in "
               f"{conf}, which every local user can read (mode 0644)",
               "move it to secrets_file"), r.err
    conf.chmod(0o640)
    assert not has(check(conf).warnings, "every local user"), r.err


@pytest.mark.parametrize("mode,what", [
    (0o644, "readable by others (mode 0644)"),
    (0o660, "writable by its group (mode 0660)"),
    (0o606, "writable by others (mode 0606)"),
])
def test_secrets_open_to_others_refused(tmp_path, mode, what):
    conf, sec = secrets_conf(tmp_path, f"* relay:{PASSWORD}\n", mode=mode)
    fix = "and chmod 0640 it"
    r = check(conf)
    assert r.returncode == EX_CONFIG, r.err
    assert has(r.errors, f"secrets_file {sec}: {what}", "chown root:", fix), \
        r.err
    err = serve_refused(conf)
    assert f"secrets_file {sec}: {what}" in err and fix in err, err
    assert "Sekr1t" not in r.err + err


def test_secrets_link_and_missing_refused(tmp_path):
    conf, sec = secrets_conf(tmp_path, f"* relay:{PASSWORD}\n")
    link = tmp_path / "link"
    link.symlink_to(sec)
    conf.write_text(conf.read_text().replace(str(sec), str(link)))
    r = check(conf)
    assert r.returncode == EX_CONFIG
    assert has(r.errors, f"secrets_file {link}: a symbolic link"), r.err
    assert "a symbolic link" in serve_refused(conf)
    sec.unlink()
    link.unlink()
    r = check(conf)
    assert has(r.errors, f"secrets_file {link}: no such file; make it"), \
        r.err


def test_secrets_without_the_routes_password(tmp_path):
    conf, sec = secrets_conf(tmp_path, f"other.test relay:{PASSWORD}\n")
    r = check(conf)
    assert r.returncode == EX_CONFIG
    assert has(r.errors, f"{sec}: no password for route *; add the line "
               "'* relay:PASSWORD'"), r.err
    assert has(r.warnings, f"{sec}:1: no [routes] entry for other.test"), \
        r.err
    err = serve_refused(conf)
    assert "no password for route *" in err and "Sekr1t" not in err


def test_route_auth_needs_secrets_file(tmp_path):
    conf = write_conf(tmp_path, extra="[routes]\n* = 127.0.0.1:1 "
                                      "auth=relay\n")
    r = check(conf)
    assert r.returncode != 0
    assert f"{conf}:8: route *: auth=relay takes its password from " \
           "secrets_file, which is not set" in r.err, r.err


@root_only
def test_secrets_unreadable_by_service_user(open_dir):
    conf, sec = secrets_conf(open_dir, f"* relay:{PASSWORD}\n", mode=0o600,
                             top="user = nobody\n")
    r = check(conf)
    assert r.returncode == EX_CONFIG, r.err
    assert has(r.errors, f"secrets_file {sec}: nobody cannot read it",
               "chown root:nogroup and chmod 0640 it"), r.err
    # As the message says: group nogroup may read it, nobody else.
    os.chown(sec, 0, 65534)
    sec.chmod(0o640)
    r = check(conf)
    assert not has(r.errors, "secrets_file"), r.err
    # Owned by another user: refused even though readable.
    os.chown(sec, 12345, 65534)
    r = check(conf)
    assert has(r.errors, f"secrets_file {sec}: owned by uid 12345, neither "
               "root nor nobody"), r.err


@root_only
def test_sendmail_never_reads_secrets(make_server, open_dir):
    """An unprivileged local user queues mail with `tern sendmail` while
    the secrets file is root's alone (the server runs as root here)."""
    sec = open_dir / "secrets"
    sec.write_text(f"* relay:{PASSWORD}\n")
    sec.chmod(0o600)
    srv = make_server(subdir=str(open_dir / "srv"), start=False,
                      top={"secrets_file": str(sec)},
                      extra="\n[routes]\n* = 127.0.0.1:1 auth=relay\n")
    srv.data_dir.chmod(0o711)
    srv.start()
    r = subprocess.run(NOBODY + ["cat", str(sec)], capture_output=True,
                       timeout=CLI_TIMEOUT)
    assert r.returncode != 0, "nobody can read the secrets file"
    env = child_env()
    env["TERN_CONFIG"] = str(srv.conf_path)
    r = subprocess.run(NOBODY + [TERN_BIN, "sendmail", "-t"],
                       input=b"To: alice@example.test\nSubject: s\n\nhi\n",
                       capture_output=True, timeout=CLI_TIMEOUT, env=env)
    err = r.stderr.decode("utf-8", "replace")
    assert r.returncode == 0, err
    assert sanitizer_clean(err) is None, err
    srv.wait_for_mail("alice@example.test")
