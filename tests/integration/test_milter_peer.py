# SPDX-License-Identifier: ISC
"""The scripted filter of milter_peer.py on its own (issue 18), driven
by a tiny MTA-side encoder here: what it answers at each stage, the
packets of its modification replies byte for byte, what it records, and
its hostile modes. No tern involved: this checks the test tool, so that a
failure of test_milter.py is tern's. (The filter was also run against
Postfix 3.7's smtpd_milters by hand: every verdict and edit worked.)
"""

import socket
import struct
import time

import pytest

from milter_peer import GARBAGE, HUGE_LEN, Milter


class Mta:
    """The MTA's end of one milter connection."""

    def __init__(self, m):
        if m.path is not None:
            self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self.s.settimeout(5)
            self.s.connect(str(m.path))
        else:
            self.s = socket.create_connection(("127.0.0.1", m.port), 5)
        self.buf = b""

    def close(self):
        self.s.close()

    def send(self, code, payload=b""):
        self.s.sendall(struct.pack(">I", len(payload) + 1) + code + payload)

    def _exact(self, n):
        while len(self.buf) < n:
            chunk = self.s.recv(65536)
            if not chunk:
                raise EOFError
            self.buf += chunk
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def reply(self):
        (n,) = struct.unpack(">I", self._exact(4))
        assert 0 < n <= 1 << 20, n
        data = self._exact(n)
        return data[:1], data[1:]

    def optneg(self, actions=0x1FF, proto=0x1FFFFF):
        self.send(b"O", struct.pack(">III", 6, actions, proto))
        code, p = self.reply()
        assert code == b"O"
        return struct.unpack(">III", p[:12]), p[12:]

    def macro(self, cmd, **kv):
        self.send(b"D", cmd + b"".join(k.encode() + b"\0" + v.encode() +
                                       b"\0" for k, v in kv.items()))


@pytest.fixture
def milter():
    made = []

    def make(*a, **kw):
        m = Milter(*a, **kw)
        made.append(m)
        return m
    yield make
    for m in made:
        m.stop()


def transaction(mta, rcpt_reply=b"c"):
    mta.macro(b"C", j="mx.example.test", **{"{client_addr}": "127.0.0.1"})
    mta.send(b"C", b"client.example\x004" + struct.pack(">H", 4242) +
             b"127.0.0.1\0")
    assert mta.reply() == (b"c", b"")
    mta.send(b"H", b"client.example\0")
    assert mta.reply() == (b"c", b"")
    mta.send(b"M", b"<a@remote.example>\0SIZE=10\0")
    assert mta.reply() == (b"c", b"")
    mta.send(b"R", b"<alice@example.test>\0")
    if rcpt_reply is not None:
        assert mta.reply() == (rcpt_reply, b"")
    mta.send(b"T")
    assert mta.reply() == (b"c", b"")
    mta.send(b"L", b"Subject\0folded\n value\0")
    assert mta.reply() == (b"c", b"")
    mta.send(b"N")
    assert mta.reply() == (b"c", b"")
    mta.send(b"B", b"body\r\n")
    assert mta.reply() == (b"c", b"")
    mta.macro(b"E", i="QID1")
    mta.send(b"E")


def test_scripted_replies_and_records(milter):
    m = milter({"rcpt": "reject", "eom": [
        ("addheader", "X-A", "1"), ("insheader", 0, "X-I", "2"),
        ("chgheader", 3, "X-C", ""), ("addrcpt", "<b@x>"),
        ("addrcpt_par", "<c@x>", "NOTIFY=NEVER"), ("delrcpt", "<d@x>"),
        ("chgfrom", "<e@x>", "SIZE=1"), ("replbody", b"new\r\n"),
        ("quarantine", "why"), ("progress",),
        ("replycode", "554 5.7.1 no")]},
        symlists={2: "{mail_addr}"})
    mta = Mta(m)
    (ver, act, proto), syms = mta.optneg(proto=0x1FFFFF)
    assert (ver, act, proto) == (6, 0x1FF, 0)
    assert syms == struct.pack(">I", 2) + b"{mail_addr}\0"
    transaction(mta, rcpt_reply=b"r")
    want = [(b"h", b"X-A\x001\0"),
            (b"i", struct.pack(">I", 0) + b"X-I\x002\0"),
            (b"m", struct.pack(">I", 3) + b"X-C\0\0"),
            (b"+", b"<b@x>\0"), (b"2", b"<c@x>\0NOTIFY=NEVER\0"),
            (b"-", b"<d@x>\0"), (b"e", b"<e@x>\0SIZE=1\0"),
            (b"b", b"new\r\n"), (b"q", b"why\0"), (b"p", b""),
            (b"y", b"554 5.7.1 no\0")]
    assert [mta.reply() for _ in want] == want
    mta.send(b"A")
    mta.send(b"Q")
    with pytest.raises(EOFError):
        mta.reply()
    s = m.wait_closed(1)[0]
    assert s.closed_by == "us"
    assert s.offered == (6, 0x1FF, 0x1FFFFF)
    assert s.connect == ("client.example", "4", 4242, "127.0.0.1")
    assert s.helo == "client.example"
    assert s.macros["connect"] == {"j": "mx.example.test",
                                   "{client_addr}": "127.0.0.1"}
    msg = s.messages[0]
    assert (msg.sender, msg.mail_params) == ("<a@remote.example>",
                                             ["SIZE=10"])
    assert msg.rcpts == ["<alice@example.test>"]
    assert msg.headers == [("Subject", "folded\n value")]
    assert msg.body == b"body\r\n" and msg.chunks == [6]
    assert msg.macros["eom"] == {"i": "QID1"}
    assert msg.eom and msg.aborted
    assert [e for e in s.stages() if e != "macro"] == [
        "optneg", "connect", "helo", "mail", "rcpt", "data", "header",
        "eoh", "body", "eom", "abort", "quit"]


def test_no_reply_flags_and_unix_socket(milter, tmp_path):
    # NR_RCPT asked: nothing is answered to RCPT; a callable decides EOM
    m = milter({"eom": lambda s, a: "quarantine"}, proto=0x008000,
               path=tmp_path / "f.sock")
    assert m.address == f"unix:{tmp_path / 'f.sock'}"
    mta = Mta(m)
    assert mta.optneg()[0] == (6, 0x1FF, 0x008000)
    transaction(mta, rcpt_reply=None)
    assert mta.reply() == (b"q", b"by test\0")
    assert mta.reply() == (b"a", b"")
    mta.close()
    m.wait_closed(1)


@pytest.mark.parametrize("mode", ["hang", "garbage", "close", "huge",
                                  "version"])
def test_hostile_modes(milter, mode):
    if mode == "version":
        m = milter({"optneg": ("version", 1)})
        mta = Mta(m)
        assert mta.optneg()[0][0] == 1
        return
    m = milter({"mail": mode})
    mta = Mta(m)
    mta.optneg()
    mta.send(b"C", b"h\0U")
    assert mta.reply() == (b"c", b"")
    mta.send(b"H", b"h\0")
    assert mta.reply() == (b"c", b"")
    mta.send(b"M", b"<a@b>\0")
    if mode == "hang":
        mta.s.settimeout(0.3)
        with pytest.raises(socket.timeout):
            mta.reply()
        mta.close()
        assert m.wait_closed(1)[0].closed_by == "mta"
    elif mode == "garbage":
        assert mta._exact(len(GARBAGE)) == GARBAGE
    elif mode == "close":
        with pytest.raises(EOFError):
            mta.reply()
    else:
        (n,) = struct.unpack(">I", mta._exact(4))
        assert n == HUGE_LEN + 1 and mta._exact(1) == b"y"
        t0 = time.monotonic()
        mta.close()  # what tern should do: refuse it at its length
        s = m.wait_closed(1)[0]
        assert s.huge_sent < HUGE_LEN and time.monotonic() - t0 < 5


def test_stop_joins_a_hanging_connection(milter):
    m = milter({"connect": "hang"})
    mta = Mta(m)
    mta.optneg()
    mta.send(b"C", b"h\0U")
    m.wait_for(lambda mm: "connect" in mm.sessions[0].stages())
    t0 = time.monotonic()
    m.stop()  # asserts that no thread is left
    assert time.monotonic() - t0 < 5
    assert m.sessions[0].closed_by in ("stop", "mta")
    mta.close()
