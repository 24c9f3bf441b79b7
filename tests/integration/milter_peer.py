# SPDX-License-Identifier: ISC
"""A scriptable milter (content filter) for tern's tests (issue 18).

Milter speaks protocol version 6 as a *filter*: it listens on a loopback
port (or a unix socket), answers the MTA's OPTNEG, and answers each stage
as the test scripted it, recording everything it received.

Script: a dict from stage name to a reply. Stages: "connect", "helo",
"mail", "rcpt", "data", "header", "eoh", "body", "eom", "unknown", and
"optneg" (hostile modes only). A stage not in the script gets "continue".
A reply is
  - a verdict: "continue", "accept", "reject", "tempfail", "discard",
    "skip" (body stage only);
  - a tuple: ("replycode", "550 5.7.0 text"), ("quarantine", reason),
    ("addheader", name, value), ("insheader", index, name, value),
    ("chgheader", index, name, value), ("addrcpt", addr),
    ("addrcpt_par", addr, params), ("delrcpt", addr),
    ("chgfrom", addr[, params]), ("replbody", bytes), ("progress",),
    ("raw", code, payload) (any packet), ("version", n) (at "optneg":
    answer OPTNEG with version n);
  - a hostile mode: "hang" (never answer; keep reading until the MTA
    closes), "garbage" (bytes that are no milter packet), "close" (close
    the connection without answering), "huge" (a reply whose length says
    10 MB, then as much of it as the MTA reads);
  - a list of the above, sent in order (modifications, then a verdict);
  - a callable f(session, args) returning one of the above (args: the
    stage's decoded arguments, see Session).
"quarantine" alone means [("quarantine", "by test"), "accept"].

Recorded per connection in a Session: the OPTNEG the MTA offered, every
command in order (events), the macros of each stage, and per message
(from MAIL on) the sender, recipients, header fields, body bytes and
whether it was aborted.

Trust: the peer is tern under test. Every socket has a timeout, every
packet a length cap, every loop ends on EOF, timeout or stop(); nothing
listens beyond loopback. stop() joins every thread it started.
"""

import os
import socket
import struct
import threading
import time

IO_TIMEOUT = 30.0
PACKET_MAX = 1 << 20  # what we accept from the MTA (a body chunk: 64 KiB)
HUGE_LEN = 10 * 1024 * 1024

# MTA -> filter commands.
C_ABORT, C_BODY, C_CONNECT, C_MACRO = b"A", b"B", b"C", b"D"
C_BODYEOB, C_HELO, C_QUIT_NC, C_HEADER = b"E", b"H", b"K", b"L"
C_MAIL, C_EOH, C_OPTNEG, C_QUIT = b"M", b"N", b"O", b"Q"
C_RCPT, C_DATA, C_UNKNOWN = b"R", b"T", b"U"

STAGE_OF = {C_CONNECT: "connect", C_HELO: "helo", C_MAIL: "mail",
            C_RCPT: "rcpt", C_DATA: "data", C_HEADER: "header",
            C_EOH: "eoh", C_BODY: "body", C_BODYEOB: "eom",
            C_UNKNOWN: "unknown", C_ABORT: "abort", C_QUIT: "quit",
            C_QUIT_NC: "quit_nc", C_OPTNEG: "optneg", C_MACRO: "macro"}

# Protocol flags: which stages the filter asked not to answer.
P_NR = {"connect": 0x001000, "helo": 0x002000, "mail": 0x004000,
        "rcpt": 0x008000, "data": 0x010000, "unknown": 0x020000,
        "eoh": 0x040000, "body": 0x080000, "header": 0x000080}

VERDICTS = {"continue": b"c", "accept": b"a", "reject": b"r",
            "tempfail": b"t", "discard": b"d", "skip": b"s"}

HOSTILE = ("hang", "garbage", "close", "huge")
GARBAGE = b"HTTP/1.0 400 Bad Request\r\n\r\n\xff\xfe garbage \x00\x01"


def packet(code, payload=b""):
    if isinstance(code, str):
        code = code.encode()
    return struct.pack(">I", len(payload) + 1) + code + payload


def z(s):
    """s NUL-terminated, as bytes."""
    if isinstance(s, str):
        s = s.encode("utf-8")
    return s + b"\0"


def encode_reply(r):
    """The packet(s) of one scripted reply (not a hostile mode)."""
    if isinstance(r, str):
        if r in VERDICTS:
            return packet(VERDICTS[r])
        raise ValueError(f"unknown verdict {r!r}")
    kind, *a = r
    if kind == "replycode":
        return packet(b"y", z(a[0]))
    if kind == "quarantine":
        return packet(b"q", z(a[0]))
    if kind == "addheader":
        return packet(b"h", z(a[0]) + z(a[1]))
    if kind == "insheader":
        return packet(b"i", struct.pack(">I", a[0]) + z(a[1]) + z(a[2]))
    if kind == "chgheader":
        return packet(b"m", struct.pack(">I", a[0]) + z(a[1]) + z(a[2]))
    if kind == "addrcpt":
        return packet(b"+", z(a[0]))
    if kind == "addrcpt_par":
        return packet(b"2", z(a[0]) + z(a[1]))
    if kind == "delrcpt":
        return packet(b"-", z(a[0]))
    if kind == "chgfrom":
        return packet(b"e", z(a[0]) + (z(a[1]) if len(a) > 1 else b""))
    if kind == "replbody":
        data = a[0] if isinstance(a[0], bytes) else a[0].encode()
        return packet(b"b", data)
    if kind == "progress":
        return packet(b"p")
    if kind == "raw":
        return packet(a[0], a[1])
    raise ValueError(f"unknown reply {r!r}")


def cstrings(payload):
    """The NUL-terminated strings of a payload (a trailing part without
    NUL is kept too), decoded."""
    parts = payload.split(b"\0")
    if parts and parts[-1] == b"":
        parts.pop()
    return [p.decode("utf-8", "surrogateescape") for p in parts]


class Message:
    """One transaction as the filter saw it."""

    def __init__(self, sender, params):
        self.sender = sender        # "<a@b>" as sent
        self.mail_params = params
        self.rcpts = []             # "<a@b>" as sent
        self.rcpt_params = []
        self.headers = []           # (name, value) as sent
        self.body = b""
        self.chunks = []            # the size of each body chunk
        self.macros = {}            # stage -> {name: value}
        self.data = False
        self.eoh = False
        self.eom = False
        self.aborted = False


class Session:
    """One MTA connection as the filter saw it."""

    def __init__(self, sid):
        self.sid = sid
        self.offered = None   # (version, actions, proto) from the MTA
        self.agreed = None    # what we answered
        self.events = []      # (stage, args) in order
        self.macros = {}      # stage -> {name: value} (latest)
        self.connect = None   # (hostname, family, port, address)
        self.helo = None
        self.messages = []
        self.unknown = []
        self.closed_by = None  # "mta", "us", "stop", "error: ..."
        self.t_open = time.monotonic()
        self.t_closed = None
        self.huge_sent = 0
        self._pending_macros = {}

    @property
    def msg(self):
        return self.messages[-1] if self.messages else None

    def stages(self):
        return [e[0] for e in self.events]


class Milter:
    """The filter. Milter(script, ...) listens at once (loopback port, or
    path= a unix socket); .address is what tern's config wants."""

    def __init__(self, script=None, host="127.0.0.1", path=None,
                 version=6, actions=None, proto=0, symlists=None):
        self.script = dict(script or {})
        self.version = version
        self.actions = actions      # None: all the MTA offered
        self.proto = proto          # asked of what the MTA offered
        self.symlists = dict(symlists or {})  # stage int -> "names"
        self.sessions = []
        self.errors = []
        self._lock = threading.Lock()
        self._cv = threading.Condition(self._lock)
        self._stop = threading.Event()
        self._threads = []
        self._conns = []
        self.path = path
        if path is not None:
            self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self.sock.bind(str(path))
            self.port = None
            self.address = f"unix:{path}"
        else:
            self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            self.sock.bind((host, 0))
            self.port = self.sock.getsockname()[1]
            self.address = f"inet:{host}:{self.port}"
        self.sock.listen(64)
        self.sock.settimeout(0.2)
        self._acceptor = threading.Thread(target=self._accept, daemon=True)
        self._acceptor.start()

    # -- control -------------------------------------------------------

    def stop(self):
        self._stop.set()
        self._acceptor.join(10)
        self.sock.close()
        with self._lock:
            conns = list(self._conns)
        for c in conns:
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        for t in list(self._threads):
            t.join(10)
        if self.path is not None:
            try:
                os.unlink(self.path)
            except OSError:
                pass
        alive = [t for t in self._threads if t.is_alive()]
        assert not alive, f"milter threads still running: {alive}"

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()

    def wait_sessions(self, n, timeout=15.0):
        """The sessions once n connections were accepted."""
        return self._wait(lambda: len(self.sessions) >= n, timeout,
                          lambda: f"{len(self.sessions)} of {n} sessions")

    def wait_closed(self, n, timeout=15.0):
        """The sessions once n of them ended."""
        return self._wait(
            lambda: sum(s.t_closed is not None for s in self.sessions) >= n,
            timeout, lambda: f"fewer than {n} sessions closed: "
            f"{[(s.sid, s.closed_by) for s in self.sessions]}")

    def wait_for(self, pred, timeout=15.0, what="condition"):
        """Wait until pred(self) (evaluated under the lock) is true."""
        return self._wait(lambda: pred(self), timeout, lambda: what)

    def _wait(self, pred, timeout, why):
        deadline = time.monotonic() + timeout
        with self._cv:
            while not pred():
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(
                        f"milter {self.address}: {why()} after {timeout}s; "
                        f"errors: {self.errors}")
                self._cv.wait(left)
            return list(self.sessions)

    def messages(self):
        """Every message of every session, in order of arrival."""
        with self._lock:
            return [m for s in self.sessions for m in s.messages]

    # -- server --------------------------------------------------------

    def _accept(self):
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            with self._cv:
                sess = Session(len(self.sessions) + 1)
                self.sessions.append(sess)
                self._conns.append(conn)
                self._cv.notify_all()
            t = threading.Thread(target=self._serve, args=(conn, sess),
                                 daemon=True)
            self._threads.append(t)
            t.start()

    def _serve(self, conn, sess):
        how = "error"
        try:
            conn.settimeout(IO_TIMEOUT)
            how = _Conn(self, conn, sess).run()
        except (OSError, ValueError, struct.error) as e:
            how = f"error: {e!r}"
            with self._lock:
                self.errors.append(repr(e))
        finally:
            try:
                conn.close()
            except OSError:
                pass
            with self._cv:
                sess.closed_by = how
                sess.t_closed = time.monotonic()
                self._cv.notify_all()


class _Closed(Exception):
    pass


class _Conn:
    def __init__(self, milter, conn, sess):
        self.m = milter
        self.conn = conn
        self.s = sess
        self.buf = b""
        self.proto = 0

    def _recv_exact(self, n):
        while len(self.buf) < n:
            if self.m._stop.is_set():
                raise _Closed("stop")
            try:
                chunk = self.conn.recv(65536)
            except socket.timeout:
                raise _Closed("timeout") from None
            except (ConnectionResetError, BrokenPipeError):
                raise _Closed("mta") from None
            if not chunk:
                raise _Closed("mta")
            self.buf += chunk
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def read_packet(self):
        (n,) = struct.unpack(">I", self._recv_exact(4))
        if n == 0 or n > PACKET_MAX:
            raise ValueError(f"MTA sent a packet of length {n}")
        data = self._recv_exact(n)
        return data[:1], data[1:]

    def send(self, data):
        self.conn.sendall(data)

    def run(self):
        try:
            while True:
                code, payload = self.read_packet()
                if self.handle(code, payload) == "done":
                    return "us"
        except _Closed as e:
            return str(e)

    def record(self, stage, args):
        with self.m._cv:
            self.s.events.append((stage, args))
            self.m._cv.notify_all()

    def handle(self, code, p):
        stage = STAGE_OF.get(code)
        if stage is None:
            raise ValueError(f"unknown command {code!r}")
        if code == C_OPTNEG:
            return self.optneg(p)
        if code == C_MACRO:
            names = cstrings(p[1:])
            d = dict(zip(names[0::2], names[1::2]))
            st = STAGE_OF.get(p[:1], p[:1].decode(errors="replace"))
            with self.m._lock:
                self.s.macros[st] = d
                self.s._pending_macros[st] = d
            self.record("macro", (st, d))
            return None
        args = self.parse(code, p)
        self.record(stage, args)
        if code == C_QUIT:
            return "done"
        if code in (C_ABORT, C_QUIT_NC):
            return None
        if self.proto & P_NR.get(stage, 0):
            return None
        return self.answer(stage, args)

    def optneg(self, p):
        ver, act, proto = struct.unpack(">III", p[:12])
        self.record("optneg", (ver, act, proto))
        with self.m._lock:
            self.s.offered = (ver, act, proto)
        r = self.m.script.get("optneg")
        if r in HOSTILE:
            return self.hostile(r)
        version = self.m.version
        if isinstance(r, tuple) and r[0] == "version":
            version = r[1]
        actions = act if self.m.actions is None else self.m.actions
        self.proto = self.m.proto
        syms = b"".join(struct.pack(">I", st) + z(names)
                        for st, names in sorted(self.m.symlists.items()))
        with self.m._lock:
            self.s.agreed = (version, actions, self.proto)
        self.send(packet(b"O", struct.pack(">III", version, actions,
                                           self.proto) + syms))
        return None

    def parse(self, code, p):
        s = self.s
        with self.m._lock:
            if code == C_CONNECT:
                host, rest = p.split(b"\0", 1)
                fam = rest[:1].decode()
                port, addr = None, None
                if fam != "U":
                    (port,) = struct.unpack(">H", rest[1:3])
                    addr = cstrings(rest[3:])[0]
                s.connect = (host.decode(errors="replace"), fam, port, addr)
                return s.connect
            if code == C_HELO:
                s.helo = cstrings(p)[0]
                return (s.helo,)
            if code == C_MAIL:
                a = cstrings(p)
                m = Message(a[0], a[1:])
                m.macros.update(s._pending_macros)
                s.messages.append(m)
                s._pending_macros = {}
                return tuple(a)
            if code == C_UNKNOWN:
                line = cstrings(p)[0] if p else ""
                s.unknown.append(line)
                return (line,)
            m = s.msg
            if m is None:  # a stage out of order: recorded as events
                return (p,)
            m.macros.update(s._pending_macros)
            s._pending_macros = {}
            if code == C_RCPT:
                a = cstrings(p)
                m.rcpts.append(a[0])
                m.rcpt_params.append(a[1:])
                return tuple(a)
            if code == C_DATA:
                m.data = True
            elif code == C_HEADER:
                a = cstrings(p)
                m.headers.append((a[0], a[1] if len(a) > 1 else ""))
                return tuple(a)
            elif code == C_EOH:
                m.eoh = True
            elif code == C_BODY:
                m.body += p
                m.chunks.append(len(p))
                return (p,)
            elif code == C_BODYEOB:
                m.body += p  # Sendmail may send a last chunk here
                m.eom = True
            elif code == C_ABORT:
                m.aborted = True
            return ()

    def answer(self, stage, args):
        r = self.m.script.get(stage, "continue")
        if callable(r):
            r = r(self.s, args)
        if r == "quarantine":
            r = [("quarantine", "by test"), "accept"]
        if r in HOSTILE:
            return self.hostile(r)
        for one in (r if isinstance(r, list) else [r]):
            if one in HOSTILE:
                return self.hostile(one)
            self.send(encode_reply(one))
        return None

    def hostile(self, mode):
        if mode == "close":
            return "done"
        if mode == "garbage":
            self.send(GARBAGE)
            return self.drain()
        if mode == "hang":
            return self.drain()
        # "huge": the length of a 10 MB REPLYCODE, then its bytes for as
        # long as the MTA reads them (it should close at the length).
        head = struct.pack(">I", HUGE_LEN + 1) + b"y" + b"550 5.7.1 "
        self.conn.settimeout(2.0)
        sent = 0
        try:
            self.send(head)
            chunk = b"x" * 65536
            while sent < HUGE_LEN and not self.m._stop.is_set():
                self.send(chunk)
                sent += len(chunk)
        except (socket.timeout, OSError):
            pass
        finally:
            self.conn.settimeout(IO_TIMEOUT)
            with self.m._lock:
                self.s.huge_sent = sent
        return self.drain()

    def drain(self):
        """Read and record until the MTA closes (or stop): answer
        nothing more."""
        while True:
            code, p = self.read_packet()  # raises _Closed at the end
            stage = STAGE_OF.get(code, "?")
            self.record(stage, ("after-hostile", len(p)))
