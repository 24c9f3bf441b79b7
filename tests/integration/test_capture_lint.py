# SPDX-License-Identifier: ISC
"""`tern capture` problems end to end (issue 22, msg/lint.h): for each
rule one message that shows it and one that does not, sent with smtplib
to one capture and asserted through GET /api/messages/ID "problems".
A "shows" message breaks only its rule, so its problems are exactly that
rule; a "does not show" message has no problem at all.
"""

from test_capture import Capture

DATE = "Date: Fri, 4 Dec 2026 23:30:00 +0000\r\n"
FROM = "From: app@example.test\r\n"
ONE = ["bob@example.test"]
TEN = [f"u{i}@example.test" for i in range(10)]
ALT = ("Content-Type: multipart/alternative; boundary=b\r\n\r\n--b\r\n"
       "Content-Type: text/plain\r\n\r\nhi\r\n--b\r\n"
       "Content-Type: text/html\r\n\r\n<p>hi</p>\r\n--b--\r\n")
REF = {
    "no-date": "RFC 5322 3.6", "no-message-id": "RFC 5322 3.6.4",
    "no-from": "RFC 5322 3.6", "several-from": "RFC 5322 3.6",
    "bare-lf": "RFC 5322 2.3", "bare-cr": "RFC 5322 2.3",
    "line-too-long": "RFC 5322 2.1.1",
    "8bit-header": "RFC 6532 / RFC 5322 2.2",
    "unclosed-multipart": "RFC 2046 5.1.1",
    "html-without-text": "RFC 2046 5.1.4",
    "no-list-unsubscribe": "RFC 8058 / RFC 2369",
    "list-unsubscribe-post-missing": "RFC 8058",
}


def msg(name, date=True, mid=True, frm=FROM, extra="", body="\r\nhi\r\n"):
    """A message whose Subject is its case name; body starts with the
    empty line (or holds MIME fields before it)."""
    return ((DATE if date else "") +
            (f"Message-ID: <{name}@example.test>\r\n" if mid else "") +
            frm + "To: bob@example.test\r\n" + f"Subject: {name}\r\n" +
            extra + body).encode()


# (case name, rule shown or None, recipients, message bytes)
CASES = [
    ("no-date+", "no-date", ONE, msg("no-date+", date=False)),
    ("no-date-", None, ONE, msg("no-date-")),
    ("no-message-id+", "no-message-id", ONE, msg("no-message-id+",
                                                 mid=False)),
    ("no-message-id-", None, ONE, msg("no-message-id-")),
    ("no-from+", "no-from", ONE, msg("no-from+", frm="")),
    ("no-from-", None, ONE, msg("no-from-", frm="From: a@example.test\r\n")),
    ("several-from+", "several-from", ONE,
     msg("several-from+", frm=FROM + "From: b@example.test\r\n")),
    ("several-from-", None, ONE,
     msg("several-from-", frm="From: app@example.test, b@example.test\r\n"
         "Sender: app@example.test\r\n")),
    ("bare-lf+", "bare-lf", ONE, msg("bare-lf+", body="\r\none\ntwo\r\n")),
    ("bare-lf-", None, ONE, msg("bare-lf-", body="\r\none\r\ntwo\r\n")),
    ("bare-cr+", "bare-cr", ONE, msg("bare-cr+", body="\r\none\rtwo\r\n")),
    ("bare-cr-", None, ONE, msg("bare-cr-", body="\r\none\r\n\r\n")),
    ("line-too-long+", "line-too-long", ONE,
     msg("line-too-long+", body="\r\n" + "x" * 999 + "\r\n")),
    ("line-too-long-", None, ONE,
     msg("line-too-long-", body="\r\n" + "x" * 998 + "\r\n")),
    ("8bit-header+", "8bit-header", ONE,
     msg("8bit-header+", extra="X-Note: caf\u00e9\r\n")),
    ("8bit-header-", None, ONE,
     msg("8bit-header-", extra="X-Note: =?UTF-8?Q?caf=C3=A9?=\r\n",
         body="\r\ncaf\u00e9 in the body is fine\r\n")),
    ("unclosed-multipart+", "unclosed-multipart", ONE,
     msg("unclosed-multipart+", body=ALT[:-len("--b--\r\n")])),
    ("unclosed-multipart-", None, ONE, msg("unclosed-multipart-", body=ALT)),
    ("html-without-text+", "html-without-text", ONE,
     msg("html-without-text+", extra="Content-Type: text/html\r\n",
         body="\r\n<p>hi</p>\r\n")),
    ("html-without-text-", None, ONE, msg("html-without-text-", body=ALT)),
    ("no-list-unsubscribe+", "no-list-unsubscribe", TEN,
     msg("no-list-unsubscribe+")),
    ("no-list-unsubscribe-", None, TEN,
     msg("no-list-unsubscribe-",
         extra="List-Unsubscribe: <mailto:unsub@example.test>\r\n")),
    ("list-unsubscribe-post-missing+", "list-unsubscribe-post-missing", TEN,
     msg("list-unsubscribe-post-missing+",
         extra="List-Unsubscribe: <https://example.test/u?1>\r\n")),
    ("list-unsubscribe-post-missing-", None, TEN,
     msg("list-unsubscribe-post-missing-",
         extra="List-Unsubscribe: <https://example.test/u?1>\r\n"
               "List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n")),
]


# (case name, rule, a substring of its detail, what follows the header)
WHERE = [
    ("where-line", "line-too-long", "line 7 has 1200 octets",
     b"\r\n" + b"y" * 1200 + b"\r\n"),
    ("where-field", "8bit-header", "field X-\\x5cOdd (line 6)",
     b"X-\\Odd: caf\xc3\xa9\r\n\r\nx\r\n"),
]


def test_every_rule_shown_and_not_shown():
    """One capture, all the cases in one SMTP session (fast)."""
    assert {c[1] for c in CASES if c[1]} == set(REF)
    sends = [(name, rcpts, data) for name, _, rcpts, data in CASES] + \
        [(name, ONE, msg(name, body="") + tail)
         for name, _, _, tail in WHERE]
    cap = Capture()
    try:
        with cap.smtp() as s:
            s.ehlo("client.test")
            for name, rcpts, data in sends:
                # Raw 8-bit in a header is legal only with SMTPUTF8.
                opts = ["SMTPUTF8"] if b"\xc3" in data else []
                assert s.sendmail("app@example.test", rcpts, data,
                                  mail_options=opts) == {}, name
        lst = cap.messages(f"?limit={len(sends) + 5}")
        assert lst["total"] == len(sends)
        by_subject = {m["subject"]: m for m in lst["messages"]}

        def problems(name):
            return cap.get_json(
                f"/api/messages/{by_subject[name]['id']}")["problems"]

        for name, rule, _, _ in CASES:
            probs = problems(name)
            want = [rule] if rule else []
            assert [p["rule"] for p in probs] == want, (name, probs)
            assert by_subject[name]["problems"] == len(want), name
            for p in probs:
                assert p["ref"] == REF[p["rule"]], p
                # Shown in a page and JSON: printable ASCII only.
                assert p["detail"] and all(
                    " " <= ch <= "~" for ch in p["detail"]), p
        # The detail says where: the line, or the field name escaped.
        for name, rule, where, _ in WHERE:
            got = [p for p in problems(name) if p["rule"] == rule]
            assert len(got) == 1 and where in got[0]["detail"], (name, got)
    finally:
        cap.stop()
