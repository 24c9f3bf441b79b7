# SPDX-License-Identifier: ISC
"""Where local addresses go (issue 15): the admin address and its names
(postmaster, root, abuse, mailer-daemon of every local domain),
subaddresses (alice+news@ into the Maildir++ folder .news), bare names
from `tern sendmail` qualified with the first local domain, notices to
the postmaster following its aliases, and the password minimum of
`tern user add|passwd`.
"""

import pytest

from conftest import expect, header_block, make_message, wait_log
from test_remote import relay_server, sinks, submit  # noqa: F401
from test_sendmail import sendmail

ADMIN = "admin@example.test"  # the test config's postmaster, a user


def rcpt(srv, addr):
    """The reply to RCPT TO:<addr> in a fresh transaction."""
    with srv.raw() as r:
        expect(r.cmd("MAIL FROM:<a@remote.example>"), 250)
        return r.cmd(f"RCPT TO:<{addr}>")


def fields(data):
    return {k.lower(): v for k, v in header_block(data)}


def send_each(srv, addrs):
    """One message per address, its subject naming it."""
    for a in addrs:
        srv.send("a@remote.example", [a], make_message(subject=f"to {a}",
                                                       to=a))


# -- the admin address ---------------------------------------------------

ADMIN_NAMES = ["root@example.test", "ROOT@Example.Org", "abuse@example.test",
               "Abuse@example.org", "MAILER-DAEMON@example.test",
               "mailer-daemon@EXAMPLE.ORG", "postmaster@example.org",
               "PostMaster@example.test"]


def test_admin_names_reach_postmaster(server):
    send_each(server, ADMIN_NAMES)
    mail = server.wait_for_mail(ADMIN, len(ADMIN_NAMES))
    subjects = sorted(fields(m)["subject"] for m in mail)
    assert subjects == sorted(f"to {a}" for a in ADMIN_NAMES)
    # Delivered-To is the mailbox; the names made no Maildirs of their own.
    for m in mail:
        assert fields(m)["delivered-to"] == ADMIN
    for local in ("root", "abuse", "mailer-daemon", "postmaster"):
        for dom in ("example.test", "example.org"):
            assert not (server.data_dir / "mail" / dom / local).exists()


def test_admin_name_user_and_alias_win(server):
    server.add_user("root@example.test")
    server.add_alias("abuse@example.org", "bob@example.test")
    send_each(server, ["root@example.test", "abuse@example.org",
                       "root@example.org", "abuse@example.test"])
    [own] = server.wait_for_mail("root@example.test", 1)
    assert b"to root@example.test" in own
    [fwd] = server.wait_for_mail("bob@example.test", 1)
    assert b"to abuse@example.org" in fwd
    mail = server.wait_for_mail(ADMIN, 2)
    assert sorted(fields(m)["subject"] for m in mail) == \
        ["to abuse@example.test", "to root@example.org"]


def test_admin_aliases_none(make_server):
    srv = make_server(top={"admin_aliases": "none"})
    for a in ("root@example.test", "abuse@example.org",
              "mailer-daemon@example.test"):
        expect(rcpt(srv, a), 550, "5.1.1")
    # postmaster is always there (RFC 5321 4.5.1).
    send_each(srv, ["postmaster@example.org"])
    srv.wait_for_mail(ADMIN, 1)


def test_admin_aliases_own_list(make_server):
    srv = make_server(top={"admin_aliases": "hostmaster, Webmaster"})
    expect(rcpt(srv, "root@example.test"), 550, "5.1.1")
    send_each(srv, ["webmaster@example.org", "hostmaster@example.test"])
    srv.wait_for_mail(ADMIN, 2)


def test_postmaster_unset_keeps_old_rules(make_server):
    srv = make_server(postmaster=None)
    expect(rcpt(srv, "root@example.test"), 550, "5.1.1")
    expect(rcpt(srv, "abuse@example.org"), 550, "5.1.1")
    send_each(srv, ["postmaster@example.test"])
    [m] = srv.wait_for_mail("postmaster@example.test", 1)
    assert fields(m)["delivered-to"] == "postmaster@example.test"


def test_postmaster_is_a_mailbox_without_user(make_server):
    srv = make_server(postmaster="Boss@Example.Test",
                      users=("alice@example.test",))
    send_each(srv, ["boss@example.test", "root@example.org"])
    mail = srv.wait_for_mail("boss@example.test", 2)
    assert {fields(m)["delivered-to"] for m in mail} == \
        {"boss@example.test"}
    # An address next to it is still unknown.
    expect(rcpt(srv, "bossx@example.test"), 550, "5.1.1")


def test_sendmail_root_reaches_admin(server):
    # The README's first mail: a bare name, on the command line and in
    # the header.
    sendmail(server, "root", input="To: root\nSubject: backup done\n\nok\n")
    [m] = server.wait_for_mail(ADMIN, 1)
    f = fields(m)
    assert f["subject"] == "backup done"
    assert f["to"] == "root@example.test"
    assert f["delivered-to"] == ADMIN


# -- sendmail: bare names qualified by the pickup --------------------------

def test_sendmail_header_names_qualified(server):
    msg = ('From: root (Cron Daemon)\n'
           'To: Alice <alice>, "Smith, Bob" <bob>,\n'
           '    carol@example.org\n'
           'Cc: team: dave, erin;\n'
           'Reply-To: ops\n'
           'Sender: nobody\n'
           'Subject: to alice, bob\n\n'
           'To: body stays\n')
    sendmail(server, "-t", "-oi", input=msg)
    data = server.wait_for_mail("alice@example.test")[0]
    server.wait_for_mail("bob@example.test")
    f = fields(data)
    assert f["from"] == "root@example.test (Cron Daemon)"
    assert f["to"] == ('Alice <alice@example.test>, "Smith, Bob" '
                       '<bob@example.test>, carol@example.org')
    assert f["cc"] == "team: dave, erin;"  # a group stays as it is
    assert f["reply-to"] == "ops@example.test"
    assert f["sender"] == "nobody"  # not one of the four fields
    assert f["subject"] == "to alice, bob"
    assert data.replace(b"\r\n", b"\n").endswith(b"\n\nTo: body stays\n")


def test_sendmail_names_use_first_domain(make_server):
    srv = make_server(domains=("example.org", "example.test"),
                      users=("alice@example.org", "admin@example.test"))
    sendmail(srv, "alice", input="To: alice\nFrom: carol\nSubject: x\n\ny\n")
    [m] = srv.wait_for_mail("alice@example.org", 1)
    f = fields(m)
    assert f["to"] == "alice@example.org"
    assert f["from"] == "carol@example.org"


# -- subaddresses ------------------------------------------------------------

def make_folder(srv, addr, name):
    md = srv.maildir(addr)
    for sub in ("cur", "new", "tmp"):
        (md / f".{name}" / sub).mkdir(parents=True, exist_ok=True)
    return md / f".{name}"


def test_subaddress_into_folder(server):
    folder = make_folder(server, "alice@example.test", "news")
    server.send("a@remote.example", ["alice+news@example.test"],
                make_message(subject="news", to="alice+news@example.test"))
    server.send("a@remote.example", ["Alice+Other@example.test"],
                make_message(subject="other"))
    [inbox] = server.wait_for_mail("alice@example.test", 1)
    assert b"Subject: other" in inbox
    assert fields(inbox)["delivered-to"] == "alice+other@example.test"
    server.wait_queue_empty()
    [f] = list((folder / "new").iterdir())
    data = f.read_bytes()
    assert b"Subject: news" in data
    assert fields(data)["delivered-to"] == "alice+news@example.test"
    # Dovecot's Maildir++ layout: nothing else was made.
    assert sorted(p.name for p in server.maildir(
        "alice@example.test").iterdir()) == [".news", "cur", "new", "tmp"]


def test_subaddress_rules(make_server):
    srv = make_server()
    expect(rcpt(srv, "nobody+x@example.test"), 550, "5.1.1")
    expect(rcpt(srv, "+alice@example.test"), 550, "5.1.1")
    # An address with the delimiter in it wins over the split.
    srv.add_alias("bob+lists@example.test", "alice@example.test")
    srv.send("a@remote.example", ["bob+lists@example.test"],
             make_message(subject="exact"))
    [m] = srv.wait_for_mail("alice@example.test", 1)
    assert b"Subject: exact" in m
    # The catch-all comes after the split.
    srv.add_alias("@example.org", "bob@example.test")
    srv.send("a@remote.example", ["alice+x@example.org", "ghost+y@example.org"],
             make_message(subject="catch"))
    [m] = srv.wait_for_mail("bob@example.test", 1)
    assert b"Subject: catch" in m


def test_subaddress_folder_name_checked(server):
    # A link named like a folder is not followed; a name Dovecot would
    # read differently ('&' starts modified UTF-7) is not used.
    md = server.maildir("alice@example.test")
    make_folder(server, "alice@example.test", "real")
    make_folder(server, "alice@example.test", "&x")
    (md / ".linked").symlink_to(".real")
    for a in ("alice+linked@example.test", "alice+&x@example.test"):
        server.send("a@remote.example", [a], make_message(subject=a))
    mail = server.wait_for_mail("alice@example.test", 2)  # the inbox
    assert {fields(m)["delivered-to"] for m in mail} == \
        {"alice+linked@example.test", "alice+&x@example.test"}
    for name in (".real", ".&x"):
        assert not list((md / name / "new").iterdir())
    # ".." is no dot-atom: refused before any lookup.
    assert rcpt(server, "alice+a..b@example.test").code >= 500


def test_subaddress_off(make_server):
    srv = make_server(top={"recipient_delimiter": "none"})
    expect(rcpt(srv, "alice+news@example.test"), 550, "5.1.1")


def test_subaddress_other_delimiter(make_server):
    srv = make_server(top={"recipient_delimiter": "-"})
    expect(rcpt(srv, "alice+news@example.test"), 550, "5.1.1")
    folder = make_folder(srv, "alice@example.test", "news")
    srv.send("a@remote.example", ["alice-news@example.test"],
             make_message(subject="dash"))
    srv.wait_queue_empty()
    [f] = list((folder / "new").iterdir())
    assert fields(f.read_bytes())["delivered-to"] == \
        "alice-news@example.test"


# -- notices to the postmaster follow its aliases ----------------------------

def test_failed_bounce_follows_postmaster_alias(make_server, sinks):
    sink = sinks()
    sink.rcpt_reply = lambda a: "550 5.1.1 no such user"
    srv = relay_server(make_server,
                       f"relay.test = 127.0.0.1:{sink.port} tls=none\n",
                       postmaster="ops@example.test")
    srv.add_alias("ops@example.test", "bob@example.test")
    submit(srv, "", ["x@relay.test"], make_message(to="x@relay.test"))
    [m] = srv.wait_for_mail("bob@example.test", 1)
    assert fields(m)["to"] == "<ops@example.test>"
    srv.wait_queue_empty()
    assert not srv.maildir("ops@example.test").exists()


def test_sendmail_bounce_follows_sender_alias(server):
    # The DSN for a refused recipient goes where mail to the sender goes.
    server.add_alias("cron@example.test", "bob@example.test")
    sendmail(server, "-f", "cron@example.test", "ghost@example.test",
             input="Subject: lost\n\nx\n")
    [m] = server.wait_for_mail("bob@example.test", 1)
    assert b"ghost@example.test" in m
    server.wait_queue_empty()
    assert not server.maildir("cron@example.test").exists()


def test_sendmail_bounce_to_nobody_dropped(server):
    sendmail(server, "-f", "nosuch@example.test", "ghost@example.test",
             input="Subject: lost\n\nx\n")
    wait_log(server, "event=bounce_dropped")
    server.wait_queue_empty()
    assert not server.maildir("nosuch@example.test").exists()


# -- passwords ---------------------------------------------------------------

def stored_hash(srv, addr):
    import sqlite3
    db = sqlite3.connect(str(srv.data_dir / "tern.db"))
    try:
        row = db.execute("SELECT hash FROM users WHERE address = ?",
                         (addr,)).fetchone()
    finally:
        db.close()
    return row[0] if row else None


@pytest.mark.parametrize("sub", ["add", "passwd"])
def test_weak_password_refused(server, sub):
    addr = "carol@example.test" if sub == "add" else "alice@example.test"
    before = stored_hash(server, addr)
    # 11 characters, and 11 characters in 22 bytes: both too short.
    for pw in ("eleven char", "\u00e9" * 11):
        r = server.cli("user", sub, addr, "--password-stdin",
                       input=pw + "\n", check=False)
        assert r.returncode != 0
        assert "12 characters" in r.err and "--allow-weak" in r.err, r.err
        assert stored_hash(server, addr) == before, "changed anyway"
    # 12 characters is enough, also when they are 24 bytes.
    server.cli("user", sub, addr, "--password-stdin",
               input="\u00e9" * 12 + "\n")
    h12 = stored_hash(server, addr)
    assert h12 is not None and h12 != before
    # --allow-weak keeps a short one, for add and passwd alike.
    server.cli("user", "passwd", addr, "--password-stdin", "--allow-weak",
               input="short\n")
    assert stored_hash(server, addr) not in (None, h12)
    server.cli("user", "add", "dave@example.test", "--allow-weak",
               "--password-stdin", input="pw\n")
    assert stored_hash(server, "dave@example.test") is not None
