# SPDX-License-Identifier: ISC
"""Issue 5: libtern and `tern send` against tern's own server: plain,
STARTTLS with verification, AUTH, pipelined mixed accept/reject,
connection reuse; certificate failures (self-signed, wrong name) that
send nothing and the --insecure opt-out; MIME output parsed back with
Python's email package; only tern_ symbols exported; examples/send.c
built with pkg-config against an installed copy."""

import email
import email.policy
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import CLI_TIMEOUT, PASSWORD, TERN_BIN, make_cert

BUILD = Path(TERN_BIN).parent
SMOKE = BUILD / "src" / "lib" / "lib_smoke"
LIBSO = BUILD / "src" / "lib" / "libtern.so"


def send(srv_port, *args, stdin=b"hello\n", env_extra=None, host="127.0.0.1"):
    env = dict(os.environ)
    env.pop("TERN_PASSWORD", None)
    env.update(env_extra or {})
    return subprocess.run(
        [TERN_BIN, "send", "--server", f"{host}:{srv_port}", *args],
        input=stdin, capture_output=True, timeout=CLI_TIMEOUT, env=env)


def tls_server(make_server, tmp_path, cn="localhost",
               listener=("submission", "starttls")):
    """mx and a submission listener (name, tls mode), with a new cert for
    cn; srv.cert is its path."""
    name, tls = listener
    cert, key = make_cert(tmp_path / "pki", cn=cn)
    srv = make_server(
        listeners=[("mx", "127.0.0.1", "mx"),
                   (name, "127.0.0.1", "submission", tls)],
        extra=f"\n[tls]\ncert = {cert}\nkey = {key}\n")
    srv.cert = cert
    return srv


def send_verified_auth(port, tls_flag, cafile):
    """`tern send -v` as alice to bob, TLS (tls_flag: --starttls or
    --tls) verified against cafile, AUTH; it must work and say so."""
    r = send(port, tls_flag, "--ca-file", str(cafile),
             "--user", "alice@example.test", "--from", "alice@example.test",
             "--to", "bob@example.test", "-v", host="localhost",
             env_extra={"TERN_PASSWORD": PASSWORD})
    assert r.returncode == 0, r.stderr
    assert b"TLS verified" in r.stderr
    return r


def smoke_verified_auth(port, mode, cafile, count):
    """lib_smoke sends count messages as alice to bob on one connection,
    TLS (mode: starttls or implicit) verified against cafile, AUTH."""
    r = subprocess.run(
        [str(SMOKE), "localhost", str(port), mode, str(cafile),
         "alice@example.test", str(count), "alice@example.test",
         "bob@example.test"],
        capture_output=True, timeout=CLI_TIMEOUT,
        env={**os.environ, "TERN_PASSWORD": PASSWORD})
    assert r.returncode == 0, r.stdout + r.stderr
    assert b"CONNECTED tls=1" in r.stdout


def parse(raw):
    return email.message_from_bytes(raw, policy=email.policy.default)


def test_send_plain_mime_roundtrip(server, tmp_path):
    blob = bytes(range(256)) * 40 + b"\r\n.\r\n\x00"
    att = tmp_path / "data.bin"
    att.write_bytes(blob)
    pdf = tmp_path / "report.pdf"
    pdf.write_bytes(b"%PDF-1.4 fake")
    html = tmp_path / "body.html"
    html.write_text("<p>Hallo <b>Welt</b> \u263a</p>\n")
    subject = "Gr\u00fc\u00dfe aus K\u00f6ln \u2014 " + "lang " * 30
    body = "Zeile eins\n.Punkt am Anfang\n\u00fcml\u00e4ute\n"
    r = send(server.port, "--from", "sender@example.org",
             "--to", "alice@example.test", "--cc", "bob@example.test",
             "--subject", subject, "--attach", str(att), "--attach",
             str(pdf), "--html", str(html), stdin=body.encode())
    assert r.returncode == 0, r.stderr
    for rcpt in ("alice@example.test", "bob@example.test"):
        server.wait_for_mail(rcpt)
    raw = server.mail("alice@example.test")[0]
    for line in raw.split(b"\n"):  # the Maildir keeps LF
        assert len(line) <= 998
    msg = parse(raw)
    assert msg["Subject"] == subject.strip() or \
        str(msg["Subject"]).split() == subject.split()
    assert msg["Message-ID"].endswith("@example.org>")
    assert msg["Date"] is not None
    assert "bob@example.test" in str(msg["Cc"])
    assert msg.get_content_type() == "multipart/mixed"
    alt = msg.get_body(preferencelist=("plain",))
    assert alt.get_content().replace("\r\n", "\n") == body
    assert "Welt" in msg.get_body(preferencelist=("html",)).get_content()
    atts = {a.get_filename(): a for a in msg.iter_attachments()}
    assert atts["data.bin"].get_content() == blob
    assert atts["data.bin"].get_content_type() == "application/octet-stream"
    assert atts["report.pdf"].get_content_type() == "application/pdf"
    assert atts["report.pdf"].get_content() == b"%PDF-1.4 fake"


def test_send_mixed_recipients_pipelined(server):
    r = send(server.port, "--from", "s@example.org",
             "--to", "alice@example.test", "--to", "nobody@example.test",
             "--to", "bob@example.test")
    assert r.returncode == 65, r.stderr  # EX_DATAERR
    err = r.stderr.decode()
    assert "nobody@example.test" in err and "550 5.1.1" in err
    assert "no such mailbox" in err
    server.wait_for_mail("alice@example.test")
    server.wait_for_mail("bob@example.test")


def test_lib_reuse_and_results(server):
    r = subprocess.run(
        [str(SMOKE), "127.0.0.1", str(server.port), "none", "-", "-", "3",
         "s@example.org", "alice@example.test", "ghost@example.test"],
        capture_output=True, timeout=CLI_TIMEOUT)
    out = r.stdout.decode()
    assert "CONNECTED tls=0" in out
    for i in range(3):
        assert f"MSG {i} RCPT alice@example.test accepted 250" in out
        assert re.search(
            rf"MSG {i} RCPT ghost@example.test refused 550 5\.1\.1 .*"
            r"no such user", out), out
    assert out.count("CONNECTED") == 1  # one connection, three messages
    server.wait_for_mail("alice@example.test", count=3)
    mail = server.mail("alice@example.test")
    assert all(b"\n.leading dot\n" in m for m in mail)


def test_starttls_verified_auth(make_server, tmp_path):
    srv = tls_server(make_server, tmp_path)
    port = srv.ports["submission"]
    r = send_verified_auth(port, "--starttls", srv.cert)
    assert PASSWORD.encode() not in r.stderr + r.stdout
    srv.wait_for_mail("bob@example.test")
    # The library too, with AUTH and two messages on one connection.
    smoke_verified_auth(port, "starttls", srv.cert, 2)
    srv.wait_for_mail("bob@example.test", count=3)


def test_implicit_tls_verified_auth(make_server, tmp_path):
    # issue 5 (i5b): RFC 8314 implicit TLS against tern's own port-465
    # style listener, with `tern send --tls` and with the library.
    srv = tls_server(make_server, tmp_path, listener=("smtps", "implicit"))
    port = srv.ports["smtps"]
    send_verified_auth(port, "--tls", srv.cert)
    srv.wait_for_mail("bob@example.test")
    smoke_verified_auth(port, "implicit", srv.cert, 1)
    srv.wait_for_mail("bob@example.test", count=2)
    # Unverifiable (no --ca-file): refused, nothing sent.
    r = send(port, "--tls", "--from", "alice@example.test",
             "--to", "bob@example.test", host="localhost")
    assert r.returncode != 0
    assert b"certificate" in r.stderr


def test_auth_wrong_password_explained(make_server, tmp_path):
    srv = tls_server(make_server, tmp_path)
    pwfile = tmp_path / "pw"
    pwfile.write_text("wrong password\n")
    r = send(srv.ports["submission"], "--starttls", "--ca-file",
             str(srv.cert), "--user", "alice@example.test",
             "--password-file", str(pwfile), "--from", "alice@example.test",
             "--to", "bob@example.test", host="localhost")
    assert r.returncode == 77, r.stderr  # EX_NOPERM
    err = r.stderr.decode()
    assert "535" in err
    assert "the server rejected the user name or password" in err


def test_cert_self_signed_refused_then_insecure(make_server, tmp_path):
    srv = tls_server(make_server, tmp_path)
    port = srv.ports["submission"]
    args = ["--starttls", "--from", "alice@example.test",
            "--to", "bob@example.test"]
    r = send(port, *args, host="localhost")
    assert r.returncode == 76, r.stderr  # EX_PROTOCOL
    err = r.stderr.decode()
    assert "localhost: certificate verification failed" in err
    assert "self-signed" in err
    assert "queued as" not in srv.log()
    r = send(port, *args, "--insecure", "--user", "alice@example.test",
             host="localhost", env_extra={"TERN_PASSWORD": PASSWORD})
    assert r.returncode == 0, r.stderr
    assert b"insecure" in r.stderr.lower()
    srv.wait_for_mail("bob@example.test")


def test_cert_wrong_name_refused(make_server, tmp_path):
    srv = tls_server(make_server, tmp_path, cn="mx.example.test")
    r = send(srv.ports["submission"], "--starttls", "--ca-file",
             str(srv.cert), "--from", "alice@example.test",
             "--to", "bob@example.test", host="localhost")
    assert r.returncode == 76, r.stderr
    err = r.stderr.decode()
    assert "localhost: certificate verification failed" in err
    assert "for another name" in err
    assert "queued as" not in srv.log()
    assert srv.mail_files("bob@example.test") == []


def test_connect_refused_and_dns_errors(tmp_path):
    from conftest import free_port
    r = send(free_port(), "--from", "a@example.org", "--to", "b@example.org")
    assert r.returncode == 69, r.stderr  # EX_UNAVAILABLE
    assert b"connect to 127.0.0.1" in r.stderr
    r = send(25, "--from", "a@example.org", "--to", "b@example.org",
             host="no-such-host.invalid")
    assert r.returncode == 68, r.stderr  # EX_NOHOST
    assert b"cannot resolve no-such-host.invalid" in r.stderr


def test_only_tern_symbols_exported():
    out = subprocess.run(["nm", "-D", "--defined-only", str(LIBSO)],
                         capture_output=True, text=True, check=True).stdout
    names = [l.split()[-1].split("@")[0] for l in out.splitlines()
             if l.strip()]
    names = [n for n in names if n != "TERN_0"]
    assert "tern_connect" in names and "tern_msg_render" in names
    assert [n for n in names if not n.startswith("tern_")] == []


def test_example_builds_against_installed_copy(server, tmp_path):
    dest = tmp_path / "inst"
    subprocess.run(["meson", "install", "-C", str(BUILD), "--no-rebuild",
                    "--quiet", "--destdir", str(dest)],
                   check=True, capture_output=True, timeout=120)
    pcs = list(dest.rglob("tern.pc"))
    assert len(pcs) == 1
    assert list(dest.rglob("tern/tern.h")) and list(dest.rglob("bin/tern"))
    env = {**os.environ, "PKG_CONFIG_PATH": str(pcs[0].parent)}
    flags = subprocess.run(
        ["pkg-config", f"--define-variable=prefix={dest}/usr/local",
         "--cflags", "--libs", "tern"],
        env=env, capture_output=True, text=True, check=True).stdout.split()
    # A sanitizer build's library needs the runtime in the program too.
    undef = subprocess.run(["nm", "-D", "--undefined-only", str(LIBSO)],
                           capture_output=True, text=True).stdout
    san = ["-fsanitize=address,undefined"] if "__asan" in undef else []
    exe = tmp_path / "send"
    src = Path(__file__).resolve().parents[2] / "examples" / "send.c"
    subprocess.run([shutil.which("cc") or "gcc", str(src), "-o", str(exe),
                    *flags, *san], check=True, capture_output=True,
                   timeout=120)
    libdir = [f[2:] for f in flags if f.startswith("-L")][0]
    r = subprocess.run([str(exe), "127.0.0.1", str(server.port),
                        "app@example.org", "alice@example.test"],
                       env={**os.environ, "LD_LIBRARY_PATH": libdir},
                       capture_output=True, timeout=CLI_TIMEOUT)
    assert r.returncode == 0, r.stderr
    msg = parse(server.wait_for_mail("alice@example.test")[0])
    assert msg["Subject"] == "libtern example"


def test_send_verbose_dialogue_masks_credentials(make_server, tmp_path):
    # issue 5 (i5c): -v prints the SMTP dialogue as C:/S: lines on
    # stderr; the password and every base64 form of it never appear.
    import base64
    srv = tls_server(make_server, tmp_path)
    user = "alice@example.test"
    r = send(srv.ports["submission"], "--starttls", "--ca-file",
             str(srv.cert), "--user", user, "--from", user,
             "--to", "bob@example.test", "--to", "ghost@example.test",
             "-v", host="localhost", stdin=b"secret body line\n",
             env_extra={"TERN_PASSWORD": PASSWORD})
    assert r.returncode == 65, r.stderr  # ghost refused
    err = r.stderr.decode()
    lines = err.splitlines()
    assert any(re.match(r"S: 220[ -]", ln) for ln in lines), err
    for cmd in ("C: EHLO ", "C: STARTTLS", "C: AUTH PLAIN ****",
                "C: MAIL FROM:<alice@example.test>",
                "C: RCPT TO:<bob@example.test>",
                "C: RCPT TO:<ghost@example.test>", "C: QUIT"):
        assert any(ln.startswith(cmd) for ln in lines), (cmd, err)
    # tern offers CHUNKING, so the data step is BDAT (DATA elsewhere).
    assert any(re.match(r"C: (DATA$|BDAT \d+ LAST$)", ln)
               for ln in lines), err
    assert any(re.match(r"S: 235[ -]", ln) for ln in lines), err
    assert any(re.match(r"S: 550[ -]5\.1\.1", ln) for ln in lines), err
    assert any(re.match(r"S: 250[ -]", ln) for ln in lines), err
    assert re.search(r"C: <message body: \d+ octets>", err), err
    assert "secret body line" not in err
    # No form of the credentials, anywhere.
    both = r.stdout + r.stderr
    forms = [PASSWORD.encode(),
             base64.b64encode(b"\0" + user.encode() + b"\0" +
                              PASSWORD.encode()),
             base64.b64encode(PASSWORD.encode()),
             base64.b64encode(user.encode())]
    for f in forms:
        assert f not in both, f
    srv.wait_for_mail("bob@example.test")


def _run_with_tty(argv, answers, stdin=b"", env=None, timeout=CLI_TIMEOUT):
    """Run argv with a pseudo-terminal as its controlling tty (stdin
    stays a pipe); answer each prompt in `answers` (prompt, reply).
    Returns (process, everything written to the terminal)."""
    import fcntl
    import select
    import termios
    import time
    master, slave = os.openpty()

    def ctty():
        os.setsid()
        fcntl.ioctl(slave, termios.TIOCSCTTY, 0)

    p = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, preexec_fn=ctty,
                         pass_fds=(slave,), env=env)
    os.close(slave)
    p.stdin.write(stdin)  # `tern send` reads the body before it asks
    p.stdin.close()
    seen = b""
    deadline = time.monotonic() + timeout
    try:
        for prompt, reply in answers:
            while prompt not in seen:
                left = deadline - time.monotonic()
                assert left > 0, seen
                r, _, _ = select.select([master], [], [], left)
                if r:
                    seen += os.read(master, 4096)
            os.write(master, reply)
        p.stdin = None  # closed above; communicate() must not flush it
        out, err = p.communicate(timeout=timeout)
        while select.select([master], [], [], 0.2)[0]:
            try:
                chunk = os.read(master, 4096)
            except OSError:
                break
            if not chunk:
                break
            seen += chunk
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
        os.close(master)
    p.out, p.err = out, err
    return p, seen


def test_send_password_prompt_on_tty(make_server, tmp_path):
    # issue 5 (i5c): with no TERN_PASSWORD or --password-file, `tern
    # send` asks on the terminal with echo off (cli/tty.c, shared with
    # `tern user add`), and the login works.
    srv = tls_server(make_server, tmp_path)
    env = dict(os.environ)
    env.pop("TERN_PASSWORD", None)
    p, seen = _run_with_tty(
        [TERN_BIN, "send", "--server",
         f"localhost:{srv.ports['submission']}", "--starttls", "--ca-file",
         str(srv.cert), "--user", "alice@example.test", "--from",
         "alice@example.test", "--to", "bob@example.test"],
        [(b"Password for alice@example.test: ",
          PASSWORD.encode() + b"\n")], stdin=b"via a tty\n", env=env)
    assert p.returncode == 0, p.err
    assert PASSWORD.encode() not in seen  # echo was off
    srv.wait_for_mail("bob@example.test")


def test_user_add_prompts_twice_on_tty(server):
    p, seen = _run_with_tty(
        [TERN_BIN, "-c", str(server.conf_path), "user", "add",
         "carol@example.test"],
        [(b"Password: ", b"pw-for-carol\n"),
         (b"Retype password: ", b"pw-for-carol\n")])
    assert p.returncode == 0, p.err
    assert b"pw-for-carol" not in seen
    p, _ = _run_with_tty(
        [TERN_BIN, "-c", str(server.conf_path), "user", "add",
         "dave@example.test"],
        [(b"Password: ", b"one\n"), (b"Retype password: ", b"two\n")])
    assert p.returncode != 0
    assert b"the passwords differ" in p.err
