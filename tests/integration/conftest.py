# SPDX-License-Identifier: ISC
"""Integration test harness: runs the real tern binary on loopback ports.

Trust: the server under test is untrusted; every wait here is bounded in
time, every socket has a timeout, and the server's stderr is drained by a
thread so that a chatty server can never block on a full pipe.

The binary is $TERN_BIN (default /work/main/build-asan/tern). Each test gets
its own data_dir in tmp_path and its own free loopback port(s). Readiness is
the `event=ready` log line (never a sleep). stop() sends SIGTERM and fails
the test unless the exit status is 0 and stderr is free of sanitizer
reports.
"""

import atexit
import json
import os
import random
import re
import shutil
import signal
import smtplib
import socket
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import pytest

TERN_BIN = os.environ.get("TERN_BIN", "/work/main/build-asan/tern")
HOSTNAME = "mx.example.test"
CLIENT_NAME = "client.example.test"
DOMAINS = ("example.test", "example.org")
PASSWORD = "correct horse battery staple"
READY_TIMEOUT = 30.0
STOP_TIMEOUT = 30.0
CLI_TIMEOUT = 30.0
SANITIZER_MARKS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer",
                   "runtime error:")
QUEUED_RE = re.compile(r"2\.0\.0 Ok: queued as (\S+)")


# -- issue 7: run the server under a wrapper ---------------------------
# TERN_WRAPPER="valgrind --error-exitcode=99 ..." (make check-valgrind)
# prefixes every `tern serve`; a test may set srv.wrapper (a list) to run
# one server under another wrapper (setpriv to drop CAP_DAC_OVERRIDE).
# A wrapper that reports errors must make the exit status nonzero:
# stop() asserts status 0.
TERN_WRAPPER = os.environ.get("TERN_WRAPPER", "").split()
# Under a wrapper (valgrind: 20-50x slower) latency bounds are this much
# looser; what they check (no stall) stays checked.
TIME_SCALE = 10.0 if TERN_WRAPPER else 1.0


def server_argv(srv):
    wrapper = getattr(srv, "wrapper", None)
    verbose = ["-v"] if getattr(srv, "verbose", False) else []
    return list(TERN_WRAPPER if wrapper is None else wrapper) + \
        [TERN_BIN] + verbose + ["serve", "-c", str(srv.conf_path)]
# -- end of issue 7 block ----------------------------------------------


def sanitizer_clean(text):
    """Return the first sanitizer mark found in text, or None."""
    for mark in SANITIZER_MARKS:
        if mark in text:
            return mark
    return None


def child_env():
    env = dict(os.environ)
    # Report every UB occurrence (no halt) so the test sees it in stderr.
    env.setdefault("UBSAN_OPTIONS", "print_stacktrace=1")
    env.setdefault("ASAN_OPTIONS", "detect_leaks=1")
    return env


# Listening ports come from below the kernel's ephemeral range
# (/proc/sys/net/ipv4/ip_local_port_range, 32768-60999 here): a port the
# kernel hands out for port 0 is one it also hands to outgoing
# connections, and under the parallel suite one of those could take it
# between the pick and the server's bind.
PORT_LOW, PORT_HIGH = 10000, 32000


def free_port(host="127.0.0.1"):
    """A port that was free a moment ago on host (loopback only), outside
    the ephemeral range."""
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    rng = random.Random()
    for _ in range(200):
        port = rng.randrange(PORT_LOW, PORT_HIGH)
        with socket.socket(fam, socket.SOCK_STREAM) as s:
            try:
                s.bind((host, port))
            except OSError:
                continue
            return port
    with socket.socket(fam, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def ipv6_available():
    if not socket.has_ipv6:
        return False
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


def make_message(subject="test", body="hello\r\n", msgid=None,
                 sender="sender@remote.example", to="alice@example.test",
                 extra_headers=()):
    """An RFC 5322 message as CRLF bytes."""
    if isinstance(body, str):
        body = body.encode("utf-8")
    hdr = [f"From: <{sender}>", f"To: <{to}>", f"Subject: {subject}"]
    if msgid:
        hdr.append(f"Message-ID: <{msgid}>")
    hdr.extend(extra_headers)
    return ("\r\n".join(hdr) + "\r\n\r\n").encode("utf-8") + body


def header_block(data):
    """Unfolded (name, value) pairs of the first header block of bytes."""
    text = data.decode("utf-8", "replace")
    head = re.split(r"\r?\n\r?\n", text, maxsplit=1)[0]
    out = []
    for line in re.split(r"\r?\n", head):
        if line[:1] in (" ", "\t") and out:
            out[-1] = (out[-1][0], out[-1][1] + " " + line.strip())
        elif ":" in line:
            name, value = line.split(":", 1)
            out.append((name, value.strip()))
    return out


def message_id_of(data):
    for name, value in header_block(data):
        if name.lower() == "message-id":
            return value.strip("<>")
    return None


class Reply:
    def __init__(self, code, lines):
        self.code = code
        self.lines = lines

    @property
    def text(self):
        return "\n".join(self.lines)

    @property
    def enh(self):
        """Enhanced status code (RFC 3463) of the first line, or ''."""
        parts = self.lines[0].split(" ", 1) if self.lines else [""]
        if re.fullmatch(r"[245]\.\d{1,3}\.\d{1,3}", parts[0]):
            return parts[0]
        return ""

    def __repr__(self):
        return "Reply(%d %r)" % (self.code, self.lines)


def expect(reply, code, enh=None):
    assert reply is not None, f"expected {code} {enh or ''}, got EOF"
    assert reply.code == code, f"expected {code} {enh or ''}, got {reply}"
    if enh is not None:
        assert reply.enh == enh, f"expected {code} {enh}, got {reply}"
    return reply


class Raw:
    """A raw SMTP connection for what smtplib will not send."""

    def __init__(self, host, port, timeout=15.0, source=None):
        self.sock = socket.create_connection((host, port), timeout=timeout,
                                             source_address=source)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def send(self, data):
        if isinstance(data, str):
            data = data.encode("utf-8")
        self.sock.sendall(data)

    def _line(self):
        while b"\n" not in self.buf:
            if len(self.buf) > 1 << 20:
                raise AssertionError("server reply line over 1 MiB")
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError("server closed the connection")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return line.rstrip(b"\r")

    def reply(self):
        """One (possibly multi-line) reply; EOFError if the server closed."""
        lines = []
        for _ in range(1000):
            line = self._line()
            lines.append(line)
            if len(line) < 4 or line[3:4] != b"-":
                break
        else:
            raise AssertionError("reply with over 1000 lines")
        first = lines[0][:3]
        assert first.isdigit(), f"malformed reply line {lines[0]!r}"
        for ln in lines:
            assert ln[:3] == first, f"mixed codes in one reply: {lines!r}"
        return Reply(int(first),
                     [ln[4:].decode("utf-8", "replace") for ln in lines])

    def reply_or_eof(self):
        try:
            return self.reply()
        except (EOFError, ConnectionResetError):
            return None

    def replies(self, n):
        return [self.reply() for _ in range(n)]

    def cmd(self, line):
        self.send(line + "\r\n")
        return self.reply()

    def closed_by_peer(self, timeout=10.0):
        """True when the server closes within timeout (data discarded)."""
        deadline = time.monotonic() + timeout
        self.buf = b""
        while time.monotonic() < deadline:
            self.sock.settimeout(max(0.05, deadline - time.monotonic()))
            try:
                chunk = self.sock.recv(65536)
            except socket.timeout:
                return False
            except (ConnectionResetError, BrokenPipeError):
                return True
            if not chunk:
                return True
        return False


class Server:
    """One tern process with its own config file and data_dir."""

    def __init__(self, tmp_path, *, limits=None, queue=None, top=None,
                 listeners=None, extra="", domains=DOMAINS,
                 postmaster="admin@example.test", auth=None, obs=None,
                 listener_extra=None):
        self.dir = Path(tmp_path)
        self.data_dir = self.dir / "data"
        self.conf_path = self.dir / "tern.conf"
        self.domains = domains
        self.postmaster = postmaster
        self.top = dict(top or {})
        self.limits = {
            "max_message_size": "35M",
            "max_recipients": "100",
            "max_errors": "10",
            "max_connections": "1000",
            "max_connections_per_ip": "50",
            "timeout_command": "300",
        }
        self.limits.update(limits or {})
        self.queue = {
            "retry_initial": "1s",
            "retry_max": "2s",
            "delivery_threads": "2",
        }
        self.queue.update(queue or {})
        # Issue 16: SPF/DKIM/DMARC ask DNS; tests that want them give
        # auth= (and a dns_server of their own), the others never ask.
        self.auth = {"checks": "off"}
        self.auth.update(auth or {})
        # Issue 17: [observability]; http_listen = "auto" picks a free
        # loopback port (self.http_port, self.http_url).
        self.obs = dict(obs or {})
        self.http_port = None
        self.extra = extra
        # Issue 18: more keys per listener ({"mx": {"milters": "f1"}}).
        self.listener_extra = {k: dict(v) for k, v in
                               (listener_extra or {}).items()}
        # listeners: list of (name, host, mode); ports picked at start.
        self.listener_spec = listeners or [("mx", "127.0.0.1", "mx")]
        self.ports = {}
        self.proc = None
        self.log_lines = []
        self.log_raw = []  # the same lines as bytes, as tern wrote them
        self._log_lock = threading.Lock()
        self._ready = threading.Event()
        self._reader = None
        self.exits = []

    # -- configuration -------------------------------------------------

    def _pick_ports(self):
        # Distinct: two free_port() calls in a row can return the same
        # port, and the config then refuses the second listener.
        self.ports = {}
        for name, host, *_ in self.listener_spec:
            for _ in range(50):
                port = free_port(host)
                if port not in self.ports.values():
                    break
            self.ports[name] = port
        if self.obs.get("http_listen") == "auto":
            while True:
                port = free_port()
                if port not in self.ports.values():
                    break
            self.http_port = port

    @property
    def http_url(self):
        return f"http://127.0.0.1:{self.http_port}"

    def render(self):
        # top may set hostname and data_dir too: each key once.
        out = [f"hostname = {self.top.get('hostname', HOSTNAME)}",
               f"data_dir = {self.top.get('data_dir', self.data_dir)}",
               f"domains = {', '.join(self.domains)}"]
        if self.postmaster:
            out.append(f"postmaster = {self.postmaster}")
        for k, v in self.top.items():
            if k not in ("hostname", "data_dir"):
                out.append(f"{k} = {v}")
        # listener_spec: (name, host, mode) or (name, host, mode, tls).
        for name, host, mode, *tls in self.listener_spec:
            addr = f"[{host}]" if ":" in host else host
            out += ["", f"[listener {name}]",
                    f"address = {addr}:{self.ports[name]}",
                    f"mode = {mode}", f"tls = {tls[0] if tls else 'none'}"]
            out += [f"{k} = {v}" for k, v in
                    self.listener_extra.get(name, {}).items()]
        out += ["", "[limits]"]
        out += [f"{k} = {v}" for k, v in self.limits.items()]
        out += ["", "[queue]"]
        out += [f"{k} = {v}" for k, v in self.queue.items()]
        out += ["", "[authentication]"]
        out += [f"{k} = {v}" for k, v in self.auth.items()]
        if self.obs:
            out += ["", "[observability]"]
            for k, v in self.obs.items():
                if k == "http_listen" and v == "auto":
                    v = f"127.0.0.1:{self.http_port}"
                out.append(f"{k} = {v}")
        return "\n".join(out) + "\n" + self.extra

    def write_config(self):
        if not self.ports:
            self._pick_ports()
        self.conf_path.write_text(self.render())

    @property
    def host(self):
        return self.listener_spec[0][1]

    @property
    def port(self):
        return self.ports[self.listener_spec[0][0]]

    # -- process -------------------------------------------------------

    def _drain(self, proc):
        for raw in proc.stderr:
            line = raw.decode("utf-8", "replace")
            with self._log_lock:
                self.log_lines.append(line)
                self.log_raw.append(raw)
            if "event=ready" in line:
                self._ready.set()

    def log(self):
        with self._log_lock:
            return "".join(self.log_lines)

    def log_bytes(self):
        """The log as tern wrote it (no decoding, nothing replaced)."""
        with self._log_lock:
            return b"".join(self.log_raw)

    def start(self):
        """Start `tern serve` and wait for its event=ready line."""
        if not os.access(TERN_BIN, os.X_OK):
            pytest.fail(f"TERN_BIN={TERN_BIN} is not an executable file")
        for attempt in range(3):
            self.write_config()
            with self._log_lock:
                self.log_lines = []
                self.log_raw = []
            self._ready.clear()
            self.proc = subprocess.Popen(
                server_argv(self),
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE, env=child_env())
            self._reader = threading.Thread(target=self._drain,
                                            args=(self.proc,), daemon=True)
            self._reader.start()
            deadline = time.monotonic() + READY_TIMEOUT
            while time.monotonic() < deadline:
                if self._ready.wait(0.05):
                    return self
                if self.proc.poll() is not None:
                    break
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait(10)
                pytest.fail("no event=ready within %ds; log:\n%s"
                            % (READY_TIMEOUT, self.log()))
            self._reader.join(5)
            log = self.log()
            # A port picked as free may have been taken meanwhile by
            # another process: pick new ports and try again (bounded).
            if re.search(r"in use|bind", log, re.I) and attempt < 2:
                self.ports = {}
                continue
            pytest.fail("tern serve exited with %s before ready; log:\n%s"
                        % (self.proc.returncode, log))
        raise AssertionError("unreachable")

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self):
        """SIGTERM; assert exit status 0 and a sanitizer-clean stderr."""
        if self.proc is None:
            return
        proc, self.proc = self.proc, None
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)
                pytest.fail("tern did not exit within %ds of SIGTERM; "
                            "log:\n%s" % (STOP_TIMEOUT, self.log()))
        self._reader.join(10)
        log = self.log()
        self.exits.append(proc.returncode)
        mark = sanitizer_clean(log)
        assert mark is None, f"sanitizer report ({mark}) in server log:\n{log}"
        assert proc.returncode == 0, (
            f"tern exited with status {proc.returncode} after SIGTERM; "
            f"log:\n{log}")

    def kill9(self):
        """SIGKILL, as a power cut would do (no clean-up runs)."""
        assert self.running(), "server not running before kill -9:\n" + \
            self.log()
        proc, self.proc = self.proc, None
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        self._reader.join(10)

    # -- command-line tools --------------------------------------------

    def cli(self, *args, input=None, check=True, conf_first=True):
        """Run `tern -c CONF args...`; assert exit 0 when check."""
        if not self.conf_path.exists():
            self.write_config()
        c = ["-c", str(self.conf_path)]
        argv = [TERN_BIN] + (c + list(args) if conf_first
                             else list(args) + c)
        if isinstance(input, str):
            input = input.encode("utf-8")
        r = subprocess.run(argv, input=input, capture_output=True,
                           timeout=CLI_TIMEOUT, env=child_env())
        r.out = r.stdout.decode("utf-8", "replace")
        r.err = r.stderr.decode("utf-8", "replace")
        mark = sanitizer_clean(r.err)
        assert mark is None, \
            f"sanitizer report in `{' '.join(args)}`:\n{r.err}"
        if check:
            assert r.returncode == 0, (
                f"`tern {' '.join(args)}` exited {r.returncode}:\n"
                f"stdout: {r.out}\nstderr: {r.err}")
        return r

    def add_user(self, addr, password=PASSWORD):
        return self.cli("user", "add", addr, "--password-stdin",
                        input=password + "\n")

    def add_alias(self, alias, *targets):
        return self.cli("alias", "add", alias, *targets)

    def queue_json(self):
        r = self.cli("queue", "list", "--json")
        items = []
        for line in r.out.splitlines():
            if line.strip():
                items.append(json.loads(line))
        return items

    def wait_queue_empty(self, timeout=30.0):
        deadline = time.monotonic() + timeout
        items = None
        while time.monotonic() < deadline:
            items = self.queue_json()
            if not items:
                return
            time.sleep(0.1)
        pytest.fail(f"queue not empty after {timeout}s: {items}\n"
                    f"log:\n{self.log()[-4000:]}")

    # -- mailboxes -----------------------------------------------------

    def maildir(self, addr):
        local, domain = addr.rsplit("@", 1)
        if local.isascii():
            local = local.lower()
        return self.data_dir / "mail" / domain.lower() / local

    def mail_files(self, addr):
        new = self.maildir(addr) / "new"
        if not new.is_dir():
            return []
        return sorted(p for p in new.iterdir() if not p.name.startswith("."))

    def mail(self, addr):
        return [p.read_bytes() for p in self.mail_files(addr)]

    def all_mail(self):
        """Every delivered file under data_dir/mail/*/*/new."""
        root = self.data_dir / "mail"
        if not root.is_dir():
            return []
        return sorted(root.glob("*/*/new/*"))

    def wait_for_mail(self, addr, count=1, timeout=30.0):
        """Poll addr's Maildir until it holds exactly count messages."""
        deadline = time.monotonic() + timeout
        n = 0
        while time.monotonic() < deadline:
            n = len(self.mail_files(addr))
            assert n <= count, (
                f"{addr} has {n} messages, expected {count}")
            if n == count:
                return self.mail(addr)
            time.sleep(0.05)
        pytest.fail(f"{addr}: {n} of {count} messages after {timeout}s; "
                    f"queue: {self.queue_json()}\n"
                    f"log:\n{self.log()[-4000:]}")

    # -- SMTP clients --------------------------------------------------

    def smtp(self, host=None, port=None, timeout=30):
        s = smtplib.SMTP(host or self.host, port or self.port,
                         local_hostname=CLIENT_NAME, timeout=timeout)
        return s

    def raw(self, ehlo=True, host=None, port=None):
        r = Raw(host or self.host, port or self.port)
        expect(r.reply(), 220)
        if ehlo:
            expect(r.cmd(f"EHLO {CLIENT_NAME}"), 250)
        return r

    def send(self, sender, rcpts, msg, mail_options=(), host=None,
             port=None):
        """Send one message with smtplib; return the queue id."""
        with self.smtp(host, port) as s:
            code, resp = s.ehlo()
            assert code == 250, (code, resp)
            code, resp = s.mail(sender, list(mail_options))
            assert code == 250, ("MAIL", code, resp)
            for r in rcpts:
                code, resp = s.rcpt(r)
                assert code == 250, ("RCPT", r, code, resp)
            code, resp = s.data(msg)
            text = resp.decode("utf-8", "replace")
            assert code == 250, ("DATA", code, text)
            m = QUEUED_RE.search(text)
            assert m, f"250 reply without queue id: {text!r}"
        return m.group(1)


DEFAULT_USERS = ("alice@example.test", "bob@example.test",
                 "admin@example.test")
_user_db_templates = {}  # users -> a tern.db made by `tern user add`


def user_db_from_template(srv, users):
    """Give srv the user database of `users`, copied from one that this
    test process made once with the binary under test (`tern user add`,
    each user with PASSWORD): three CLI runs saved per server. Only for
    the default domains and a server without `user =` (whose data_dir
    the CLI hands over itself); False means "add them yourself"."""
    if not users or srv.top.get("user") or srv.domains != DOMAINS:
        return False
    key = tuple(users)
    if key not in _user_db_templates:
        d = Path(tempfile.mkdtemp(prefix="tern-userdb-"))
        atexit.register(shutil.rmtree, d, True)
        tpl = Server(d)
        tpl.write_config()
        for u in users:
            tpl.add_user(u)
        db = tpl.data_dir / "tern.db"
        assert db.exists() and not (tpl.data_dir / "tern.db-wal").exists()
        _user_db_templates[key] = db
    srv.data_dir.mkdir(mode=0o750, parents=True, exist_ok=True)
    shutil.copy2(_user_db_templates[key], srv.data_dir / "tern.db")
    return True


@pytest.fixture
def public_dir():
    """A fresh directory every local user can traverse (mode 0755, in
    /tmp), removed after the test: for a server that drops privileges
    (`user =`) or a command run as another user. tmp_path will not do:
    pytest keeps /tmp/pytest-of-root at mode 0700 and puts it back to
    that whenever a pytest process starts, so loosening it races."""
    d = Path(tempfile.mkdtemp(prefix="tern-pub-", dir="/tmp"))
    os.chmod(d, 0o755)
    yield d
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def make_server(tmp_path, public_dir):
    """Factory: make_server(users=[...], **Server kwargs) -> started Server.

    public=True puts the server's files in public_dir (for `user =`).
    Every server made is stopped (SIGTERM, exit 0, sanitizer-clean) at the
    end of the test, which fails the test if that goes wrong.
    """
    made = []

    def make(users=("alice@example.test", "bob@example.test",
                    "admin@example.test"), start=True, subdir=None,
             public=False, **kw):
        path = (public_dir if public else tmp_path) / \
            (subdir or f"srv{len(made)}")
        path.mkdir(parents=True, exist_ok=True)
        srv = Server(path, **kw)
        made.append(srv)
        srv.write_config()
        if not user_db_from_template(srv, users):
            for u in users:
                srv.add_user(u)
        if start:
            srv.start()
        return srv

    yield make
    errors = []
    for srv in made:
        try:
            srv.stop()
        except BaseException as e:  # report all, not only the first
            errors.append(e)
    if errors:
        raise errors[0]


@pytest.fixture
def server(make_server):
    """A started server with users alice, bob and admin @example.test."""
    return make_server()


# -- issue 3: TLS and submission helpers ---------------------------------
# make_cert() writes a self-signed key/cert with the openssl CLI;
# tls_client() is a client context that trusts exactly that cert (or
# nothing, for the server's own self-signed one); submission_server()
# starts a server with an mx and a STARTTLS submission listener and [tls]
# pointing at the cert.

def make_cert(dirpath, cn=HOSTNAME, name="cert"):
    """(cert_path, key_path) of a new RSA-2048 self-signed cert."""
    dirpath = Path(dirpath)
    dirpath.mkdir(parents=True, exist_ok=True)
    cert, key = dirpath / f"{name}.pem", dirpath / f"{name}.key"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
         "-subj", f"/CN={cn}", "-addext", f"subjectAltName=DNS:{cn}",
         "-days", "2", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True, timeout=CLI_TIMEOUT)
    return cert, key


def tls_client(cafile=None):
    import ssl
    ctx = ssl.create_default_context(cafile=str(cafile) if cafile else None)
    if cafile is None:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    return ctx


@pytest.fixture
def submission_server(make_server, tmp_path):
    """make(**kw): mx (plain) + submission (STARTTLS) + smtps (implicit)
    listeners, [tls] with a fresh cert; srv.cert is its path."""

    def make(listeners=None, **kw):
        cert, key = make_cert(tmp_path / "pki")
        extra = kw.pop("extra", "")
        srv = make_server(
            listeners=listeners or [
                ("mx", "127.0.0.1", "mx"),
                ("submission", "127.0.0.1", "submission", "starttls"),
                ("smtps", "127.0.0.1", "submission", "implicit")],
            extra=f"\n[tls]\ncert = {cert}\nkey = {key}\n" + extra, **kw)
        srv.cert = cert
        return srv
    return make
# -- end of issue 3 block ------------------------------------------------


# -- issue 3: limits and access control -----------------------------------
def wait_log(srv, needle, count=1, timeout=10.0):
    """The server's log once it holds needle count times (stderr is read
    by a thread, so a line may trail the reply it goes with)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        log = srv.log()
        if log.count(needle) >= count:
            return log
        time.sleep(0.05)
    pytest.fail(f"{count} x {needle!r} not logged within {timeout}s:\n"
                f"{srv.log()[-4000:]}")
# -- end of issue 3 limits block ---------------------------------------------


# -- review D7: one mail transaction on a Raw session ----------------------
def raw_transaction(r, sender="a@remote.example",
                    rcpts=("alice@example.test",)):
    """MAIL, RCPT for each of rcpts, DATA and a make_message() on a Raw
    session past its EHLO, each reply asserted; the final reply, a 250."""
    expect(r.cmd(f"MAIL FROM:<{sender}>"), 250)
    for rcpt in rcpts:
        expect(r.cmd(f"RCPT TO:<{rcpt}>"), 250)
    expect(r.cmd("DATA"), 354)
    r.send(make_message() + b".\r\n")
    return expect(r.reply(), 250)
# -- end of review D7 block --------------------------------------------------


# -- issue 14 item 4: the log line grammar (util/log.h, docs/logging.md) ---
# parse_log_line() is the strict reader of one line: it accepts exactly
# what the one escaping rule of util/log.c writes, so a test that parses
# every line proves no peer text changed a line's fields.

LOG_HEAD_RE = re.compile(
    rb"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z) tern\[(\d+)\]: "
    rb"(debug|info|warn|crit) ")
LOG_KEY_RE = re.compile(r"[a-z0-9_]+=")
LOG_BARE = frozenset(chr(c) for c in range(0x21, 0x7f)) - set('"\\=')
LOG_HEX_RE = re.compile(r"[0-9a-f]{2}")
LOG_UNI_RE = re.compile(r"\{([0-9a-f]{4})\}")


def log_is_hidden(cp):
    """The code points the rule writes as \\u{NNNN}, never raw."""
    return (0x80 <= cp <= 0x9f or cp in (0x061c, 0x200e, 0x200f, 0xfeff)
            or 0x2028 <= cp <= 0x202e or 0x2066 <= cp <= 0x2069)


def _log_value(body, i):
    """(decoded bytes, index after the value) of the value at body[i:]."""
    if i >= len(body) or body[i] == " ":
        raise ValueError(f"empty value at {i}")
    if body[i] != '"':
        j = i
        while j < len(body) and body[j] != " ":
            if body[j] not in LOG_BARE:
                raise ValueError(f"{body[j]!r} in a bare value at {j}")
            j += 1
        return body[i:j].encode("ascii"), j
    out = bytearray()
    j = i + 1
    while j < len(body):
        c = body[j]
        if c == '"':
            return bytes(out), j + 1
        if c == "\\":
            e = body[j + 1:j + 2]
            if e in ('"', "\\"):
                out += e.encode()
                j += 2
            elif e == "x" and LOG_HEX_RE.fullmatch(body[j + 2:j + 4]):
                b = int(body[j + 2:j + 4], 16)
                if 0x20 <= b < 0x7f:
                    raise ValueError(f"needless \\x{b:02x} at {j}")
                out.append(b)
                j += 4
            elif e == "u" and LOG_UNI_RE.fullmatch(body[j + 2:j + 8]):
                cp = int(body[j + 3:j + 7], 16)
                if not log_is_hidden(cp):
                    raise ValueError(f"needless \\u{{{cp:04x}}} at {j}")
                out += chr(cp).encode("utf-8")
                j += 8
            else:
                raise ValueError(f"unknown escape {body[j:j + 4]!r} at {j}")
            continue
        if ord(c) < 0x20 or ord(c) == 0x7f or log_is_hidden(ord(c)):
            raise ValueError(f"raw {c!r} in a quoted value at {j}")
        out += c.encode("utf-8")
        j += 1
    raise ValueError("unterminated quoted value")


def parse_log_line(raw):
    """One log line (bytes, with or without its LF) as a dict: time, pid,
    level and fields, a list of (key, decoded value bytes) in order.
    ValueError unless the line is exactly `<time> tern[<pid>]: <level>
    key=value ...` with every value bare or quoted by the rule, the
    first key event and one space between fields."""
    if raw.endswith(b"\n"):
        raw = raw[:-1]
    if b"\n" in raw or b"\r" in raw:
        raise ValueError("a line break inside the line")
    m = LOG_HEAD_RE.match(raw)
    if not m:
        raise ValueError(f"no `<time> tern[<pid>]: <level> ` in {raw!r}")
    body = raw[m.end():].decode("utf-8")  # ill-formed UTF-8 is an error
    fields = []
    i = 0
    while True:
        k = LOG_KEY_RE.match(body, i)
        if not k:
            raise ValueError(f"no key= at {i} of {body!r}")
        value, i = _log_value(body, k.end())
        fields.append((k.group()[:-1], value))
        if i == len(body):
            break
        if body[i] != " " or i + 1 == len(body):
            raise ValueError(f"no single space after a value at {i} "
                             f"of {body!r}")
        i += 1
    if fields[0][0] != "event":
        raise ValueError(f"first field is not event= in {body!r}")
    return {"time": m.group(1).decode(), "pid": int(m.group(2)),
            "level": m.group(3).decode(), "fields": fields}


def log_records(srv):
    """Every line of srv's log parsed (ValueError names a bad line)."""
    out = []
    for raw in srv.log_bytes().split(b"\n")[:-1]:
        try:
            out.append(parse_log_line(raw))
        except ValueError as e:
            raise ValueError(f"{e}\nin line {raw!r}") from None
    return out
# -- end of issue 14 item 4 block -------------------------------------------
