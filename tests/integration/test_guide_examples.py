# SPDX-License-Identifier: ISC
"""Issue 22: every example in docs/sending-from-applications.md runs.

The guide marks each fenced block with an HTML comment on the line
before it: `<!-- example: NAME -->` (run here by the handler of that
name, against a `tern capture` this module starts, and what arrived is
asserted through capture's JSON API) or `<!-- excerpt: PATH -->` (the
block is a verbatim excerpt of PATH). An unmarked block, a mark without
a handler or a handler without a mark fails, so the guide and these tests
cannot drift apart. The examples name capture's default addresses
(127.0.0.1:1025 and :8025); they are pointed at the test's capture by
replacing exactly those strings. `tern`, `cc` and `curl` come from PATH
(tern is TERN_BIN; cc adds the sanitizer flags an ASan libtern needs);
examples/html_mail.c is built with pkg-config against a staged install
(meson install --destdir) of the build that made TERN_BIN.
"""

import email
import email.policy
import json
import os
import re
import select
import shlex
import shutil
import signal
import smtplib
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from conftest import CLI_TIMEOUT, READY_TIMEOUT, TERN_BIN, child_env, \
    sanitizer_clean

REPO = Path(__file__).resolve().parents[2]
GUIDE = REPO / "docs" / "sending-from-applications.md"
BUILD = Path(TERN_BIN).parent
LIBSO = BUILD / "src" / "lib" / "libtern.so"

MARKED = re.compile(r"^<!-- (example|excerpt): (\S+) -->\n```(\w*)\n(.*?)^```$",
                    re.M | re.S)
READY = re.compile(r"^capture: smtp=(\S+):(\d+) http=(\S+):(\d+)$")
DEFAULT_SMTP, DEFAULT_HTTP = "127.0.0.1:1025", "127.0.0.1:8025"


def guide_blocks():
    """[(kind, name, lang, code)] of the guide's marked fenced blocks."""
    return [m.groups() for m in MARKED.finditer(GUIDE.read_text("utf-8"))]


def example(name):
    [code] = [c for k, n, _, c in guide_blocks()
              if k == "example" and n == name]
    return code


# ---- capture ---------------------------------------------------------

class Capture:
    def __init__(self, argv):
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE,
                                     env=child_env())
        line = self._ready_line()
        m = READY.match(line)
        assert m, line
        self.smtp_port, self.http_port = int(m[2]), int(m[4])
        self.smtp = f"{m[1]}:{m[2]}"
        self.http = f"http://{m[3]}:{m[4]}"

    def _ready_line(self):
        """capture's first stdout line: it is ready once printed."""
        deadline = time.monotonic() + READY_TIMEOUT
        buf = b""
        while b"\n" not in buf:
            left = deadline - time.monotonic()
            assert left > 0, "tern capture: no ready line"
            r, _, _ = select.select([self.proc.stdout], [], [], left)
            if r:
                chunk = os.read(self.proc.stdout.fileno(), 4096)
                assert chunk, self.proc.stderr.read().decode()
                buf += chunk
        return buf.split(b"\n", 1)[0].decode()

    def api(self, method, path, body=None):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(
            self.http + path, data=data, method=method,
            headers={"Content-Type": "application/json"} if data else {})
        try:
            with urllib.request.urlopen(req, timeout=CLI_TIMEOUT) as r:
                return r.status, r.read()
        except urllib.error.HTTPError as e:
            return e.code, e.read()

    def get(self, path):
        status, body = self.api("GET", path)
        assert status == 200, (path, status, body)
        return json.loads(body)

    def only_message(self):
        """The one stored message, in full, and its raw form parsed."""
        lst = self.get("/api/messages")
        assert lst["total"] == 1, lst
        mid = lst["messages"][0]["id"]
        status, raw = self.api("GET", f"/api/messages/{mid}/raw")
        assert status == 200
        return (self.get(f"/api/messages/{mid}"),
                email.message_from_bytes(raw, policy=email.policy.default))

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        rc = self.proc.wait(timeout=CLI_TIMEOUT)
        err = self.proc.stderr.read().decode(errors="replace")
        assert rc == 0, err
        assert sanitizer_clean(err) is None, err


def capture_argv():
    """The guide's own command, on ports the kernel picks."""
    argv = shlex.split(example("capture"))
    assert argv == ["tern", "capture"], argv
    return [TERN_BIN] + argv[1:] + ["--smtp", "127.0.0.1:0",
                                    "--http", "127.0.0.1:0"]


@pytest.fixture(scope="module")
def cap():
    c = Capture(capture_argv())
    yield c
    c.stop()


@pytest.fixture
def capture(cap):
    """The module's capture, emptied, without faults."""
    no_faults = {"rcpt_tempfail": 0, "rcpt_permfail": 0, "msg_tempfail": 0,
                 "msg_permfail": 0, "delay_ms": 0, "drop_mid_data": 0}
    assert cap.api("PUT", "/api/faults", no_faults)[0] == 200
    assert cap.api("DELETE", "/api/messages")[0] == 200
    yield cap
    cap.api("PUT", "/api/faults", no_faults)


def localize(code, cap):
    """The example pointed at cap; it may name no other port."""
    subs = [(DEFAULT_SMTP, cap.smtp), (DEFAULT_HTTP, cap.http[7:]),
            ('"127.0.0.1", 1025', f'"127.0.0.1", {cap.smtp_port}'),
            ("port=1025", f"port={cap.smtp_port}"),
            ("127.0.0.1 1025", f"127.0.0.1 {cap.smtp_port}")]
    rest = code
    for old, new in subs:
        rest = rest.replace(old, "")
        code = code.replace(old, new)
    assert "1025" not in rest and "8025" not in rest, rest
    return code


@pytest.fixture(scope="module")
def toolbin(tmp_path_factory):
    """A directory for PATH: tern (TERN_BIN) and a cc that adds the
    sanitizer runtime an ASan build's libtern needs; `examples` links
    to the repository's, as an example's working directory."""
    d = tmp_path_factory.mktemp("bin")
    (d / "tern").symlink_to(TERN_BIN)
    undef = subprocess.run(["nm", "-D", "--undefined-only", str(LIBSO)],
                           capture_output=True, text=True).stdout
    san = "-fsanitize=address,undefined" if "__asan" in undef else ""
    cc = shutil.which("cc") or shutil.which("gcc")
    (d / "cc").write_text(f'#!/bin/sh\nexec {cc} "$@" {san}\n')
    (d / "cc").chmod(0o755)
    (d / "examples").symlink_to(REPO / "examples")
    return d


def run_sh(code, cap, toolbin, env_extra=None):
    env = {**child_env(), "PATH": f"{toolbin}:{os.environ['PATH']}",
           **(env_extra or {})}
    return subprocess.run(["bash", "-eo", "pipefail", "-c",
                           localize(code, cap)],
                          cwd=toolbin, env=env, capture_output=True,
                          timeout=CLI_TIMEOUT * 2)


def run_py(code, cap):
    """exec the example (as a module would run it); its namespace."""
    ns = {"__name__": "guide_example"}
    exec(compile(localize(code, cap), str(GUIDE), "exec"), ns)
    return ns


def header(msg_json, name):
    """The values of field `name` (unfolded; a fold right after the
    colon leaves a space, which is not part of the value)."""
    return [v.strip() for n, v in msg_json["headers"]
            if n.lower() == name.lower()]


# ---- the examples ------------------------------------------------------

def check_capture(capture, toolbin):
    # capture_argv() ran it; the ready line the guide shows is the one
    # the fixture parsed.
    assert READY.match(f"capture: smtp={DEFAULT_SMTP} http={DEFAULT_HTTP}")
    assert f"`capture: smtp={DEFAULT_SMTP} http={DEFAULT_HTTP}`" in \
        GUIDE.read_text("utf-8")
    assert capture.get("/api/messages")["total"] == 0


def check_send_sh(capture, toolbin):
    # The guide's earlier examples mailed alice@ too (a receipt, a
    # newsletter, a report): followed in order, the example must answer
    # with its own message, not with the oldest one stored for her.
    with smtplib.SMTP("127.0.0.1", capture.smtp_port,
                      timeout=CLI_TIMEOUT) as s:
        s.sendmail("news@example.com", ["alice@example.net"],
                   "Subject: What is new\r\n\r\nan earlier mail\r\n")
    t0 = time.monotonic()
    r = run_sh(example("send-sh"), capture, toolbin)
    assert r.returncode == 0, r.stderr
    summary = json.loads(r.stdout)  # what /api/wait answered
    assert summary["subject"] == "Your sign-in code"
    assert summary["to"] == ["alice@example.net"]
    assert summary["from"] == "noreply@example.com"
    assert time.monotonic() - t0 < 10  # not the wait's timeout
    full, raw = capture.only_message()
    assert "424242" in full["text"]
    assert raw.get_content_type() == "text/plain"


def staged_install(tmp):
    """meson install --destdir of TERN_BIN's build: the env to build
    against it with pkg-config and run what was built."""
    dest = tmp / "stage"
    subprocess.run(["meson", "install", "-C", str(BUILD), "--no-rebuild",
                    "--quiet", "--destdir", str(dest)],
                   check=True, capture_output=True, timeout=120)
    [pc] = list(dest.rglob("tern.pc"))
    [so] = [p for p in dest.rglob("libtern.so") if p.is_symlink()]
    return {"PKG_CONFIG_PATH": str(pc.parent),
            "PKG_CONFIG_SYSROOT_DIR": str(dest),
            "LD_LIBRARY_PATH": str(so.parent)}


def check_html_mail_c(capture, toolbin, tmp_path):
    env = staged_install(tmp_path)
    r = run_sh(example("html-mail-c"), capture, toolbin, env)
    assert r.returncode == 0, r.stderr
    m = re.fullmatch(rb"sent (<[^>\s]+@example\.com>)\n", r.stdout)
    assert m, r.stdout
    full, raw = capture.only_message()
    assert full["from"] == "app@example.com"
    assert full["to"] == ["alice@example.net"]
    assert full["subject"] == "Your monthly report"
    assert header(full, "Message-ID") == [m[1].decode()]
    # multipart/mixed: an alternative (text, then HTML) and the CSV.
    assert raw.get_content_type() == "multipart/mixed"
    alt, att = raw.get_payload()
    assert alt.get_content_type() == "multipart/alternative"
    text, html = alt.get_payload()
    assert text.get_content_type() == "text/plain"
    assert html.get_content_type() == "text/html"
    assert "monthly report" in text.get_content()
    assert "<b>monthly report</b>" in html.get_content()
    assert att.get_content_type() == "text/csv"
    assert att.get_filename() == "report.csv"
    assert att.get_content_disposition() == "attachment"
    assert "2026-12,1300" in att.get_content()
    # What capture's own parser made of it.
    assert full["html"] is True
    assert "monthly report" in full["text"]
    # Its leaf parts, in order (the structure is checked on raw above).
    types = [(p["type"], p["filename"], p["attachment"])
             for p in full["parts"]]
    assert types == [("text/plain", None, False), ("text/html", None, False),
                     ("text/csv", "report.csv", True)], types
    [csv] = [p for p in full["parts"] if p["type"] == "text/csv"]
    status, body = capture.api(
        "GET", f"/api/messages/{full['id']}/parts/{csv['index']}")
    assert status == 200 and b"2026-12,1300" in body
    assert full["problems"] == []


def check_newsletter(capture, toolbin):
    run_py(example("newsletter"), capture)
    full, raw = capture.only_message()
    assert full["from"] == "bounces+alice=example.net@example.com"
    assert full["subject"] == "What is new in December"
    assert header(full, "List-Unsubscribe-Post") == \
        ["List-Unsubscribe=One-Click"]
    [unsub] = header(full, "List-Unsubscribe")
    assert unsub.startswith("<https://example.com/unsub/")
    assert len(header(full, "Message-ID")) == 1
    assert len(header(full, "Date")) == 1
    assert raw.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in raw.get_payload()] == \
        ["text/plain", "text/html"]
    assert full["html"] is True
    assert "Three things are new" in full["text"]
    assert full["problems"] == []


def check_verp(capture, toolbin):
    ns = run_py(example("verp"), capture)
    assert ns["verp"]("bob@example.org") == \
        "bounces+bob=example.org@example.com"
    full, _ = capture.only_message()
    assert full["from"] == "bounces+alice=example.net@example.com"
    assert full["to"] == ["alice@example.net"]
    assert "noreply@example.com" in full["header_from"]


def check_retry(capture, toolbin):
    import smtplib
    from email.message import EmailMessage
    ns = run_py(example("retry"), capture)
    send = ns["send_with_retry"]
    msg = EmailMessage()
    msg["From"] = "app@example.com"
    msg["To"] = "alice@example.net"
    msg["Subject"] = "retry"
    msg.set_content("hello\n")
    fast = {"port": capture.smtp_port, "base_delay": 0.01}

    def with_faults(faults, **kw):
        assert capture.api("PUT", "/api/faults", faults)[0] == 200
        try:
            return send(msg, **fast, **kw)
        finally:
            capture.api("PUT", "/api/faults", {k: 0 for k in faults})

    # Permanent: given up at once.
    out, n, err = with_faults({"msg_permfail": 100})
    assert (out, n) == ("permanent", 1) and err.smtp_code == 554
    out, n, err = with_faults({"rcpt_permfail": 100})
    assert (out, n) == ("permanent", 1)
    assert isinstance(err, smtplib.SMTPRecipientsRefused)
    # Temporary: every attempt made, then given up.
    out, n, err = with_faults({"msg_tempfail": 100}, attempts=3)
    assert (out, n) == ("temporary", 3) and err.smtp_code == 451
    out, n, err = with_faults({"rcpt_tempfail": 100}, attempts=2)
    assert (out, n) == ("temporary", 2)
    out, n, err = with_faults({"drop_mid_data": 100}, attempts=2)
    assert (out, n) == ("temporary", 2)
    assert isinstance(err, (smtplib.SMTPServerDisconnected, OSError))
    assert capture.get("/api/messages")["total"] == 0  # none half-stored
    # No fault: sent on the first try.
    assert send(msg, **fast) == ("sent", 1, {})
    assert capture.get("/api/messages")["total"] == 1
    # Half the recipients refused: sent to the others, the refused
    # ones returned with their 451 (20 draws: all alike is 2 in 2^20).
    del msg["To"]
    rcpts = [f"r{i}@example.net" for i in range(20)]
    msg["To"] = ", ".join(rcpts)
    out, n, refused = with_faults({"rcpt_tempfail": 50})
    assert (out, n) == ("sent", 1)
    assert 0 < len(refused) < 20, refused
    assert {code for code, _ in refused.values()} == {451}
    latest = capture.get("/api/messages?limit=1")["messages"][0]
    assert sorted(latest["to"] + list(refused)) == sorted(rcpts)


class ResetApp:
    """The `app` of the guide's test: sends a password-reset mail."""

    def __init__(self, port, subject="Reset your password"):
        self.port, self.subject = port, subject

    def send_password_reset(self, to):
        import smtplib
        from email.message import EmailMessage
        from email.utils import formatdate, make_msgid
        msg = EmailMessage()
        msg["From"] = "App <noreply@app.example.com>"
        msg["To"] = to
        msg["Subject"] = self.subject
        msg["Date"] = formatdate(localtime=True)
        msg["Message-ID"] = make_msgid(domain="app.example.com")
        msg.set_content("Reset it at https://app.example.com/reset/k3y\n")
        with smtplib.SMTP("127.0.0.1", self.port, timeout=10) as smtp:
            smtp.send_message(msg)


def check_app_test(capture, toolbin):
    ns = run_py(example("app-test"), capture)
    ns["test_password_reset_mail"](ResetApp(capture.smtp_port))
    assert capture.get("/api/messages")["total"] == 1
    # The guide's test can fail: a wrong subject is caught.
    assert capture.api("DELETE", "/api/messages")[0] == 200
    with pytest.raises(AssertionError):
        ns["test_password_reset_mail"](ResetApp(capture.smtp_port, "Hi"))


def check_faults(capture, toolbin):
    r = run_sh(example("faults"), capture, toolbin)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["rcpt_tempfail"] == 30
    now = capture.get("/api/faults")
    assert now["rcpt_tempfail"] == 30 and now["delay_ms"] == 100


HANDLERS = {
    "capture": check_capture,
    "send-sh": check_send_sh,
    "html-mail-c": check_html_mail_c,
    "newsletter": check_newsletter,
    "verp": check_verp,
    "retry": check_retry,
    "app-test": check_app_test,
    "faults": check_faults,
}


# ---- the tests ---------------------------------------------------------

def test_every_block_is_marked_and_handled():
    text = GUIDE.read_text("utf-8")
    blocks = guide_blocks()
    fences = re.findall(r"^```", text, re.M)
    assert len(fences) == 2 * len(blocks), "a fenced block without a mark"
    names = [n for k, n, _, _ in blocks if k == "example"]
    assert len(names) == len(set(names))
    assert set(names) == set(HANDLERS)


@pytest.mark.parametrize("path", sorted({n for k, n, _, _ in guide_blocks()
                                         if k == "excerpt"}))
def test_excerpts_are_verbatim(path):
    source = (REPO / path).read_text("utf-8")
    codes = [c for k, n, _, c in guide_blocks()
             if k == "excerpt" and n == path]
    for code in codes:
        assert code in source, code


@pytest.mark.parametrize("name", sorted(HANDLERS))
def test_example(name, capture, toolbin, tmp_path):
    fn = HANDLERS[name]
    if name == "html-mail-c":
        fn(capture, toolbin, tmp_path)
    else:
        fn(capture, toolbin)


def test_send_too_big_exits_69(tmp_path):
    """The guide's promise: a message over the server's SIZE is a
    permanent failure for `tern send` (exit 69, TERN_E_TOO_BIG), and
    nothing is sent. A capture of its own, with --max-size 2000."""
    small = Capture(capture_argv() + ["--max-size", "2000"])
    try:
        r = subprocess.run(
            [TERN_BIN, "send", "--server", small.smtp, "--from",
             "app@example.com", "--to", "alice@example.net",
             "--subject", "big"],
            input=(b"y" * 70 + b"\n") * 40,
            capture_output=True, timeout=CLI_TIMEOUT, env=child_env())
        assert r.returncode == 69, r.stderr
        assert b"too big" in r.stderr, r.stderr
        assert b"nothing was sent" in r.stderr, r.stderr
        assert small.get("/api/messages")["total"] == 0
        # Under the limit the same command works.
        r = subprocess.run(
            [TERN_BIN, "send", "--server", small.smtp, "--from",
             "app@example.com", "--to", "alice@example.net",
             "--subject", "small"],
            input=b"short\n", capture_output=True, timeout=CLI_TIMEOUT,
            env=child_env())
        assert r.returncode == 0, r.stderr
        assert small.get("/api/messages")["total"] == 1
    finally:
        small.stop()
