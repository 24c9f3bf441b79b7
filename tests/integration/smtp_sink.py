# SPDX-License-Identifier: ISC
"""A small scriptable SMTP/LMTP server for testing tern's outbound side.

Each accepted connection runs in its own thread. The sink records every
session and message (envelope, parameters, TLS, bytes). Its behaviour is
set by attributes a test may change at any time:

  ext          EHLO keywords after the greeting line
  rcpt_reply   fn(addr) -> reply line for RCPT (default "250 2.1.5 Ok")
  data_reply   fn(msg) -> final reply after DATA/BDAT LAST (SMTP); in
               LMTP mode fn(msg, rcpt) per accepted recipient
  stall        accept, then say nothing (until stop())
  tls_ctx      ssl.SSLContext: STARTTLS is offered when set
  auth         (user, password) pairs received with AUTH PLAIN

Sink(path=P) listens on the unix socket P instead (LMTP routes such as
`lmtp:/run/dovecot/lmtp`); its port is None. Each session's end is
recorded in `ended` as (session number, how, time.monotonic()), how being
"quit" (QUIT, then the client closed), "eof" (closed without QUIT),
"stalled" or "error"; wait_ended() waits for them.

Trust: the peer is tern under test. Every socket has a timeout and every
loop ends on EOF, timeout or stop(); nothing listens beyond loopback.
"""

import socket
import ssl
import threading
import time

IO_TIMEOUT = 30.0
LINE_MAX = 4096
BDAT_MAX = 64 * 1024 * 1024


class Message:
    def __init__(self):
        self.sender = None
        self.mail_params = ""
        self.rcpts = []
        self.rcpt_params = []
        self.data = b""
        self.tls = False
        self.session = 0
        self.chunked = False


class Sink:
    def __init__(self, host="127.0.0.1", port=0, lmtp=False,
                 ext=("PIPELINING", "8BITMIME", "SIZE 100000000",
                      "ENHANCEDSTATUSCODES", "DSN", "SMTPUTF8"),
                 tls_ctx=None, path=None):
        self.host = host
        self.path = path
        self.lmtp = lmtp
        self.ext = list(ext)
        self.tls_ctx = tls_ctx
        self.rcpt_reply = lambda addr: "250 2.1.5 Ok"
        self.data_reply = None
        self.stall = False
        self.messages = []
        self.sessions = 0
        self.commands = []
        self.errors = []
        self.auth = []  # (user, password) of each AUTH PLAIN
        self.ended = []  # (session, "quit" | "eof" | "error", monotonic)
        self._lock = threading.Lock()
        self._cv = threading.Condition(self._lock)
        self._stop = threading.Event()
        self._threads = []
        self._conns = []
        if path is not None:
            self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self.sock.bind(path)
            self.port = None
        else:
            fam = socket.AF_INET6 if ":" in host else socket.AF_INET
            self.sock = socket.socket(fam, socket.SOCK_STREAM)
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            self.sock.bind((host, port))
            self.port = self.sock.getsockname()[1]
        self.sock.listen(128)
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
        for c in conns:  # wake sessions blocked in a read
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        for t in list(self._threads):
            t.join(10)

    def wait_messages(self, n, timeout=30.0):
        """Block until n messages arrived; return them (or fail)."""
        deadline = time.monotonic() + timeout
        with self._cv:
            while len(self.messages) < n:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(
                        f"sink {self.host}:{self.port}: "
                        f"{len(self.messages)} of {n} messages after "
                        f"{timeout}s; commands: {self.commands[-20:]}")
                self._cv.wait(left)
            return list(self.messages)

    def wait_ended(self, n, timeout=30.0):
        """Block until n sessions ended; return self.ended (or fail)."""
        deadline = time.monotonic() + timeout
        with self._cv:
            while len(self.ended) < n:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(
                        f"{len(self.ended)} of {n} sessions ended after "
                        f"{timeout}s: {self.ended}")
                self._cv.wait(left)
            return list(self.ended)

    def wait_sessions(self, n, timeout=30.0):
        deadline = time.monotonic() + timeout
        with self._cv:
            while self.sessions < n:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"{self.sessions} of {n} sessions")
                self._cv.wait(left)

    # -- server --------------------------------------------------------

    def _accept(self):
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            with self._lock:
                self.sessions += 1
                sid = self.sessions
                self._conns.append(conn)
                self._cv.notify_all()
            t = threading.Thread(target=self._serve, args=(conn, sid),
                                 daemon=True)
            self._threads.append(t)
            t.start()

    def _serve(self, conn, sid):
        how = "error"
        try:
            conn.settimeout(IO_TIMEOUT)
            if self.stall:
                # Say nothing; hold the connection until stop().
                while not self._stop.wait(0.2):
                    pass
                how = "stalled"
                return
            how = _Session(self, conn, sid).run()
        except (OSError, ssl.SSLError, ValueError) as e:
            with self._lock:
                self.errors.append(repr(e))
        finally:
            try:
                conn.close()
            except OSError:
                pass
            with self._cv:
                self.ended.append((sid, how, time.monotonic()))
                self._cv.notify_all()

    def _record(self, cmd):
        with self._lock:
            self.commands.append(cmd)

    def _deliver(self, msg):
        with self._cv:
            self.messages.append(msg)
            self._cv.notify_all()


class _Session:
    def __init__(self, sink, conn, sid):
        self.sink = sink
        self.conn = conn
        self.rf = conn.makefile("rb")
        self.sid = sid
        self.tls = False
        self.msg = None

    def send(self, text):
        self.conn.sendall(text.encode("utf-8") + b"\r\n")

    def pending(self):
        """True if more client bytes are already waiting (pipelining)."""
        self.conn.setblocking(False)
        try:
            return len(self.rf.peek(1)) > 0
        except (BlockingIOError, ssl.SSLWantReadError, OSError):
            return False
        finally:
            self.conn.settimeout(IO_TIMEOUT)

    def line(self):
        raw = self.rf.readline(LINE_MAX)
        if not raw:
            return None
        if not raw.endswith(b"\r\n"):
            raise ValueError(f"bad line ending: {raw!r}")
        return raw[:-2].decode("utf-8", "replace")

    def run(self):
        s = self.sink
        name = "LMTP" if s.lmtp else "ESMTP"
        self.send(f"220 sink.test {name} ready")
        for _ in range(100000):
            line = self.line()
            if line is None:
                return "eof"
            s._record(line)
            verb = line.split(" ", 1)[0].upper()
            arg = line[len(verb) + 1:]
            if verb in ("EHLO", "LHLO", "HELO"):
                ext = list(s.ext)
                if s.tls_ctx is not None and not self.tls:
                    ext.append("STARTTLS")
                if verb == "HELO" or not ext:
                    self.send("250 sink.test")
                else:
                    lines = ["sink.test"] + ext
                    for x in lines[:-1]:
                        self.send("250-" + x)
                    self.send("250 " + lines[-1])
            elif verb == "STARTTLS":
                self.send("220 2.0.0 go ahead")
                self.conn = s.tls_ctx.wrap_socket(self.conn,
                                                  server_side=True)
                self.rf = self.conn.makefile("rb")
                self.tls = True
                with s._lock:
                    s._conns.append(self.conn)
            elif verb == "MAIL":
                # Were RCPT/DATA already sent before our reply?
                s._record("pipelined=%s" % self.pending())
                self.msg = Message()
                self.msg.session = self.sid
                self.msg.tls = self.tls
                path, _, params = arg[5:].partition(">")
                self.msg.sender = path.lstrip("<")
                self.msg.mail_params = params.strip()
                self.send("250 2.1.0 Ok")
            elif verb == "RCPT":
                path, _, params = arg[3:].partition(">")
                addr = path.lstrip("<")
                reply = s.rcpt_reply(addr)
                if reply.startswith("2") and self.msg is not None:
                    self.msg.rcpts.append(addr)
                    self.msg.rcpt_params.append(params.strip())
                self.send(reply)
            elif verb == "DATA":
                if self.msg is None or not self.msg.rcpts:
                    self.send("554 5.5.1 no valid recipients")
                    continue
                self.send("354 go ahead")
                chunks = []
                for _ in range(10_000_000):
                    raw = self.rf.readline(LINE_MAX)
                    if not raw:
                        return "eof"
                    if raw == b".\r\n":
                        break
                    if raw.startswith(b"."):
                        raw = raw[1:]
                    chunks.append(raw)
                self.msg.data = b"".join(chunks)
                self._finish()
            elif verb == "BDAT":
                parts = arg.split()
                size = int(parts[0])
                if size > BDAT_MAX:
                    raise ValueError("BDAT too big")
                data = self.rf.read(size)
                last = len(parts) > 1 and parts[1].upper() == "LAST"
                if self.msg is None or not self.msg.rcpts:
                    self.send("554 5.5.1 no valid recipients")
                    continue
                self.msg.data += data
                self.msg.chunked = True
                if last:
                    self._finish()
                else:
                    self.send("250 2.0.0 chunk ok")
            elif verb == "AUTH":
                import base64
                parts = arg.split()
                if parts[0].upper() == "PLAIN" and len(parts) == 2:
                    raw = base64.b64decode(parts[1])
                    _, user, pw = raw.split(b"\0", 2)
                    with s._lock:
                        s.auth.append((user.decode(), pw.decode()))
                    self.send("235 2.7.0 ok")
                else:
                    self.send("504 5.5.4 mechanism not supported")
            elif verb == "RSET":
                self.msg = None
                self.send("250 2.0.0 Ok")
            elif verb == "NOOP":
                self.send("250 2.0.0 Ok")
            elif verb == "QUIT":
                self.send("221 2.0.0 bye")
                # The client closes next (RFC 5321 4.1.1.10): wait for
                # its EOF, so that "quit" means QUIT and then a close.
                return "quit" if not self.rf.read(1) else "error"
            else:
                self.send("500 5.5.2 unknown command")

    def _finish(self):
        s = self.sink
        msg, self.msg = self.msg, None
        if s.lmtp:
            for r in msg.rcpts:
                reply = s.data_reply(msg, r) if s.data_reply else \
                    "250 2.0.0 delivered"
                self.send(reply)
        else:
            reply = s.data_reply(msg) if s.data_reply else \
                "250 2.0.0 Ok queued"
            self.send(reply)
            if not reply.startswith("2"):
                return
        s._deliver(msg)


# -- issue 7: misbehaving peers ------------------------------------------
# HostileSink(mode) is a Sink whose sessions misbehave while `mode` is
# set; a test sets `mode = None` to make it a healthy sink again (the
# mode is read once per accepted connection). Every loop below ends on
# stop(), a socket error (tern closed), or a fixed count.
#
#   silent     accept, then never send the greeting
#   trickle    the greeting, one byte a second
#   endless    the greeting, then "250-..." lines forever after EHLO
#   garbage    the greeting, then binary junk instead of each reply
#   drop_data  a good session up to 354, then close after DROP_AFTER
#              bytes of the message body

import struct  # noqa: E402 (SO_LINGER below)

HOSTILE_MODES = ("silent", "trickle", "endless", "garbage", "drop_data")
ENDLESS_LINES_MAX = 1_000_000
TRICKLE_BYTES_MAX = 600
DROP_AFTER = 1000


class HostileSink(Sink):
    def __init__(self, mode, **kw):
        assert mode in HOSTILE_MODES, mode
        super().__init__(**kw)
        self.mode = mode
        self.hostile_sessions = 0
        self.hostile_done = []  # how each hostile session ended

    def _serve(self, conn, sid):
        mode = self.mode
        if mode is None:
            super()._serve(conn, sid)
            return
        with self._lock:
            self.hostile_sessions += 1
        how = "stopped"
        try:
            conn.settimeout(IO_TIMEOUT)
            how = getattr(self, "_h_" + mode)(conn)
        except (OSError, ValueError) as e:
            how = "peer closed: " + type(e).__name__
        finally:
            try:
                conn.close()
            except OSError:
                pass
            with self._cv:
                self.hostile_done.append(how)
                self._cv.notify_all()

    def wait_hostile_done(self, n, timeout=30.0):
        """Block until n hostile sessions ended; return how they ended."""
        deadline = time.monotonic() + timeout
        with self._cv:
            while len(self.hostile_done) < n:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(
                        f"{len(self.hostile_done)} of {n} hostile "
                        f"sessions ended after {timeout}s")
                self._cv.wait(left)
            return list(self.hostile_done)

    def _read_line(self, rf):
        raw = rf.readline(LINE_MAX)
        if not raw:
            raise ValueError("EOF")
        line = raw.rstrip(b"\r\n").decode("utf-8", "replace")
        self._record(line)
        return line

    def _h_silent(self, conn):
        conn.settimeout(0.2)
        while not self._stop.is_set():
            try:
                if not conn.recv(4096):
                    return "peer closed: EOF"
            except socket.timeout:
                continue
        return "stopped"

    def _h_trickle(self, conn):
        greeting = b"220 sink.test ESMTP slow\r\n"
        for i in range(TRICKLE_BYTES_MAX):
            if self._stop.wait(1.0):
                return "stopped"
            conn.sendall(greeting[i % len(greeting):][:1])
        return "done"

    def _h_endless(self, conn):
        rf = conn.makefile("rb")
        conn.sendall(b"220 sink.test ESMTP\r\n")
        self._read_line(rf)  # EHLO
        line = b"250-" + b"X" * 70 + b"\r\n"
        for _ in range(ENDLESS_LINES_MAX // 100):
            if self._stop.is_set():
                return "stopped"
            conn.sendall(line * 100)
        return "done"

    def _h_garbage(self, conn):
        rf = conn.makefile("rb")
        conn.sendall(b"220 sink.test ESMTP\r\n")
        for _ in range(100):
            self._read_line(rf)
            conn.sendall(b"\x00\xff\x1b[2J garbage \x80\x81 250 \r\n")
        return "done"

    def _h_drop_data(self, conn):
        rf = conn.makefile("rb")
        conn.sendall(b"220 sink.test ESMTP\r\n")
        for _ in range(100):
            line = self._read_line(rf)
            verb = line.split(" ", 1)[0].upper()
            if verb == "EHLO":
                conn.sendall(b"250-sink.test\r\n250 8BITMIME\r\n")
            elif verb in ("MAIL", "RCPT", "RSET", "NOOP"):
                conn.sendall(b"250 2.0.0 Ok\r\n")
            elif verb == "DATA":
                conn.sendall(b"354 go ahead\r\n")
                rf.read(DROP_AFTER)
                # RST, not FIN: like a crashed or cut-off peer.
                conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                struct.pack("ii", 1, 0))
                return "dropped in DATA"
            else:
                conn.sendall(b"500 5.5.2 unknown command\r\n")
        return "done"
# -- end of issue 7 block -------------------------------------------------
