# SPDX-License-Identifier: ISC
"""`tern queue show ID` prints the message's header as text (issue 15): a
tab is a tab, UTF-8 is UTF-8 and folded lines stay lines, while what could
hurt a terminal or deceive its reader is still escaped: ESC and the other
C0 controls, DEL, C1 controls, bytes that are not UTF-8, and the bidi
controls and line separators ("Trojan Source")."""

from conftest import free_port, make_message
from test_remote import relay_server, submit, wait_log  # noqa: F401

SLOW = {"retry_initial": "1h", "retry_max": "1h"}


def queued(make_server, extra_headers, body="hi\r\n"):
    """A server holding one message (its next hop refuses connections,
    and the retry is an hour away); (server, queue id)."""
    port = free_port()
    srv = relay_server(make_server, f"dead.test = 127.0.0.1:{port} "
                                    f"tls=none\n", queue=SLOW)
    msg = make_message(subject="caf\u00e9\tmenu", to="x@dead.test",
                       extra_headers=extra_headers, body=body)
    qid = submit(srv, "alice@example.test", ["x@dead.test"], msg)
    wait_log(srv, f"event=deferred id={qid}")
    return srv, qid


def test_show_prints_text(make_server):
    srv, qid = queued(make_server, [
        "X-Folded: first part\r\n\tsecond part\r\n  third part",
        "X-Tabs: a\tb\t\tc",
        "X-Greek: \u03b1\u03b2\u03b3 \u65e5\u672c"])
    r = srv.cli("queue", "show", qid)
    out = r.stdout
    # Tabs as tabs, UTF-8 as UTF-8, a folded field on its own lines.
    assert "Subject: caf\u00e9\tmenu\n".encode() in out, out
    assert b"X-Folded: first part\n\tsecond part\n  third part\n" in out
    assert b"X-Tabs: a\tb\t\tc\n" in out
    assert "X-Greek: \u03b1\u03b2\u03b3 \u65e5\u672c\n".encode() in out
    assert b"\\x09" not in out
    # Each line ends in LF alone (the spool's CR is not printed).
    assert b"\r" not in out


def test_show_still_escapes_what_hurts(make_server):
    srv, qid = queued(make_server, [
        "X-Esc: \x1b[2J\x1b]0;owned\x07 red",
        "X-C1: a\u0085b\u009bc",
        "X-Del: a\x7fb",
        "X-Bidi: abc\u202egnp.exe",
        "X-Iso: \u2066x\u2069 \u200f",
        "X-Sep: one\u2028two\u2029three",
        "X-Backslash: C:\\x1b"])
    out = srv.cli("queue", "show", qid).stdout
    # Nothing a terminal would act on, nothing that reorders text.
    for bad in (b"\x1b", b"\x07", b"\x7f", "\u0085".encode(),
                "\u009b".encode(), "\u202e".encode(), "\u2066".encode(),
                "\u2069".encode(), "\u200f".encode(), "\u2028".encode(),
                "\u2029".encode()):
        assert bad not in out, (bad, out)
    assert b"X-Esc: \\x1b[2J\\x1b]0;owned\\x07 red\n" in out
    assert b"X-C1: a\\xc2\\x85b\\xc2\\x9bc\n" in out
    assert b"X-Del: a\\x7fb\n" in out
    assert b"X-Bidi: abc\\u202egnp.exe\n" in out
    assert b"X-Iso: \\u2066x\\u2069 \\u200f\n" in out
    assert b"X-Sep: one\\u2028two\\u2029three\n" in out
    # A backslash of the message is doubled: every \x.. shown is ours.
    assert b"X-Backslash: C:\\\\x1b\n" in out


def test_show_envelope_fields_stay_on_one_line(make_server):
    """A last error quoting a server stays on its recipient's line."""
    srv, qid = queued(make_server, [])
    out = srv.cli("queue", "show", qid).out
    rcpt = [ln for ln in out.splitlines() if ln.startswith("  x@dead.test")]
    assert len(rcpt) == 1, out
    assert "\t" not in rcpt[0]
