# SPDX-License-Identifier: ISC
"""Several MX hosts, one shared Dovecot store, mail read over IMAP and
POP3 (issue 21), on a network of the test's own (netns.py):

    dns     10.21.0.2   dnsmasq: example.test MX 10 mx1, MX 10 mx2
                                 example.org  MX 10 mx1, MX 20 mx2
    mx1     10.21.0.11  tern, mode mx, [routes] both domains -> LMTP
    mx2     10.21.0.12  the same
    store   10.21.0.20  Dovecot (LMTP 24, IMAP 143, POP3 110) and tern
                        (mode mx, own Maildir delivery, the user store)
    sender  10.21.0.30  tern, the outbound MTA (dns_server = dnsmasq)

The store's tern holds the users (`tern user add`, yescrypt hashes) in
its tern.db; the MX hosts get a copy of that file, and Dovecot's passdb
and userdb read it (driver sqlite, CRYPT). Dovecot's mail_location is the
store tern's <data_dir>/mail/%d/%n, so the Maildirs Dovecot writes over
LMTP and the one tern writes itself are one tree.

One test, phases in order (one network, built once: 1-6 s): equal MX
preference spreads the mail over both hosts; with Dovecot down both MX
hosts queue, and deliver once it is back; unequal preference uses mx1
only; kill -9 of an MX host in the middle of a run loses nothing, and
doubles only what the crash itself may double (RFC 5321 6.1); alice
reads over IMAP, bob over POP3, with the passwords of tern's user store.
It prints the delivery rate through two MX hosts and through one
(docs/scaling.md). Skipped unless `ip netns add` works.
"""

import imaplib
import os
import poplib
import pwd
import re
import shutil
import signal
import smtplib
import subprocess
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

import netns
from conftest import (PASSWORD, TERN_WRAPPER, Server, make_message,
                      message_id_of)

DOVECOT = shutil.which("dovecot") or "/usr/sbin/dovecot"
DNSMASQ = shutil.which("dnsmasq") or "/usr/sbin/dnsmasq"
DOMAINS = ("example.test", "example.org")
ALICE, BOB = "alice@example.test", "bob@example.org"
HOSTS = {"dns": 2, "mx1": 11, "mx2": 12, "store": 20, "sender": 30}
SUBMIT_PORT = 587
WAIT = 30.0  # the bound of every wait for mail
N_RATE = 40  # messages per rate phase (two MX hosts, then one)
N_KILL = 60
N_WARM = 4
N_DOWN = 20
SUBMITTERS = 16  # client sessions at once
# A retry a second after a failure, every second: the MX hosts while
# Dovecot is down, the sender after the kill -9 of an MX host.
RETRY = {"retry_initial": "1s", "retry_max": "1s"}

DOVECOT_CONF = """\
base_dir = {d}/run
state_dir = {d}/state
instance_name = tern-i21-{tag}
protocols = lmtp imap pop3
listen = {addr}
log_path = {d}/dovecot.log
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain
# The wrong password of the test is refused at once (default: 2 s).
auth_failure_delay = 0
mail_location = maildir:{data}/mail/%d/%n
mail_uid = {uid}
mail_gid = {gid}
first_valid_uid = 1
default_internal_user = dovecot
default_login_user = dovenull
passdb {{
  driver = sql
  args = {d}/sql.conf.ext
}}
userdb {{
  driver = sql
  args = {d}/sql.conf.ext
}}
service lmtp {{
  inet_listener lmtp {{
    port = 24
  }}
}}
service imap-login {{
  chroot =
  inet_listener imaps {{
    port = 0
  }}
}}
service pop3-login {{
  chroot =
  inet_listener pop3s {{
    port = 0
  }}
}}
# tern.db belongs to the store tern's user: read it as that user, so
# SQLite's -wal and -shm files stay that user's too.
service auth-worker {{
  user = {user}
}}
service anvil {{
  chroot =
}}
lmtp_save_to_detail_mailbox = no
"""

SQL_CONF = """\
driver = sqlite
connect = {data}/tern.db
# tern's hashes are crypt(3) strings ($y$: yescrypt, libxcrypt)
default_pass_scheme = CRYPT
password_query = SELECT address AS user, hash AS password \\
  FROM users WHERE address = '%u'
user_query = SELECT '{data}/mail/%d/%n' AS home \\
  FROM users WHERE address = '%u'
"""


def dnsmasq_argv(net):
    a = {h: net.addr(h) for h in ("mx1", "mx2")}
    return [DNSMASQ, "-k", "--conf-file=/dev/null", "--no-resolv",
            "--no-hosts", "--no-poll", "--pid-file=", "-u", "root",
            f"--listen-address={net.addr('dns')}", "--bind-interfaces",
            "--local=/example.test/", "--local=/example.org/",
            "--mx-host=example.test,mx1.example.test,10",
            "--mx-host=example.test,mx2.example.test,10",
            "--mx-host=example.org,mx1.example.test,10",
            "--mx-host=example.org,mx2.example.test,20",
            f"--host-record=mx1.example.test,{a['mx1']}",
            f"--host-record=mx2.example.test,{a['mx2']}"]


def wait_dns(net):
    """Until dnsmasq answers the MX query of example.test."""
    import dns.message
    q = dns.message.make_query("example.test", "MX")
    s = net.udp("sender", timeout=0.1)
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            s.sendto(q.to_wire(), (net.addr("dns"), 53))
            try:
                r = dns.message.from_wire(s.recvfrom(4096)[0])
            except OSError:
                continue
            assert len(r.answer[0]) == 2, r
            return
    finally:
        s.close()
    pytest.fail("dnsmasq did not answer within 10 s")


def greeting(net, host, port, proc, timeout=10.0):
    """The first line a server (proc) in `host` sends on port, waiting
    until it listens (bounded)."""
    deadline = time.monotonic() + timeout
    err = None
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            s = net.connect(host, net.addr(host), port, timeout=5)
        except OSError as e:
            err = e
            time.sleep(0.02)
            continue
        with s:
            return s.recv(512)
    return f"nothing on {host}:{port} (exit {proc.poll()}): {err}".encode()


class NsSMTP(smtplib.SMTP):
    """smtplib from inside a host of the network."""

    def __init__(self, net, where, host, port, **kw):
        self._net, self._where = net, where
        super().__init__(host, port, **kw)

    def _get_socket(self, host, port, timeout):
        return self._net.connect(self._where, host, port, timeout)


class NsIMAP(imaplib.IMAP4):
    def __init__(self, net, where, host, port):
        self._net, self._where = net, where
        super().__init__(host, port, timeout=15)

    def _create_socket(self, timeout):
        return self._net.connect(self._where, self.host, self.port, timeout)


class NsPOP3(poplib.POP3):
    def __init__(self, net, where, host, port):
        self._net, self._where = net, where
        super().__init__(host, port, timeout=15)

    def _create_socket(self, timeout):
        return self._net.connect(self._where, self.host, self.port, timeout)


RECEIVED_BY_TERN = re.compile(
    rb"\r?\n[ \t]+by (\S+) \(tern\) with \S+ id ([0-9a-f]+)")


class Copy:
    """One stored copy of a message: which MX host relayed it (mx1, mx2,
    or none: tern's own Maildir delivery), and the queue ids the MX host
    and the sender gave it (their Received fields)."""

    def __init__(self, data):
        # Dovecot stores lines with LF, tern's Maildir with CRLF.
        head = re.split(rb"\r?\n\r?\n", data, maxsplit=1)[0]
        hops = {h.decode().split(".")[0]: i.decode()
                for h, i in RECEIVED_BY_TERN.findall(head)}
        self.via = next((h for h in ("mx1", "mx2") if h in hops), "none")
        self.mx_id = hops.get(self.via)
        self.sender_id = hops.get("sender")

    def __repr__(self):
        return f"Copy({self.via} {self.mx_id}, sender {self.sender_id})"


class Store:
    """The mailbox host: Dovecot, and the tern whose data_dir it serves."""

    def __init__(self, net, d, data):
        self.net, self.d, self.data = net, Path(d), Path(data)
        self.proc = None

    def write_config(self, user):
        pw = pwd.getpwnam(user)
        for sub in ("run", "state"):
            (self.d / sub).mkdir(parents=True, exist_ok=True)
        (self.d / "sql.conf.ext").write_text(SQL_CONF.format(data=self.data))
        self.conf = self.d / "dovecot.conf"
        self.conf.write_text(DOVECOT_CONF.format(
            d=self.d, data=self.data, uid=pw.pw_uid, gid=pw.pw_gid,
            user=user, tag=self.d.name, addr=self.net.addr("store")))

    def start(self):
        with open(self.d / "dovecot.stderr", "ab") as err:
            self.proc = self.net.popen(
                "store", [DOVECOT, "-F", "-c", str(self.conf)],
                stdout=subprocess.DEVNULL, stderr=err)
        for port, hello in ((24, b"220 "), (143, b"* OK"), (110, b"+OK")):
            line = greeting(self.net, "store", port, self.proc)
            assert line.startswith(hello), (port, line, self.log())

    def stop(self):
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(15)
        # A child of the master may hold the listening socket a moment
        # longer: down means LMTP refuses connections.
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                self.net.connect("store", self.net.addr("store"), 24,
                                 2).close()
            except OSError:
                return
            time.sleep(0.05)
        pytest.fail("Dovecot's LMTP still answers 10 s after SIGTERM")

    def log(self):
        out = ""
        for name in ("dovecot.stderr", "dovecot.log"):
            p = self.d / name
            if p.exists():
                out += p.read_text(errors="replace")[-3000:]
        return out

    def messages(self, addr):
        """{Message-ID: [Copy, ...]} of addr's Maildir (new and cur),
        read as files: what Dovecot serves."""
        local, dom = addr.split("@")
        out = {}
        for sub in ("new", "cur"):
            box = self.data / "mail" / dom / local / sub
            if not box.is_dir():
                continue
            for f in box.iterdir():
                try:
                    data = f.read_bytes()
                except FileNotFoundError:  # moved to cur/: seen there
                    continue
                out.setdefault(message_id_of(data), []).append(Copy(data))
        return out

    def wait_ids(self, addr, ids, timeout=WAIT):
        """addr's messages once every one of ids is there (bounded)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            got = self.messages(addr)
            if all(i in got for i in ids):
                return got
            time.sleep(0.02)
        missing = [i for i in ids if i not in self.messages(addr)]
        pytest.fail(f"{addr}: {len(missing)} of {len(ids)} messages "
                    f"missing after {timeout}s: {missing[:5]}\n"
                    f"dovecot log:\n{self.log()}")


def tern_host(net, base, name, *, domains=DOMAINS, top=None, extra="",
              listener=("mx", "mx", 25), queue=None):
    """A Server (conftest) that runs in host `name` of the network."""
    lname, mode, port = listener
    (base / name).mkdir(mode=0o755)
    addr = "127.0.0.1" if mode == "submission" else net.addr(name)
    srv = Server(base / name, domains=domains,
                 postmaster=f"postmaster@{domains[0]}",
                 top={"hostname": f"{name}.{domains[0]}",
                      "dns_server": net.addr("dns"), **(top or {})},
                 listeners=[(lname, addr, mode)], extra=extra, queue=queue)
    srv.ports = {lname: port}  # the host's own port space: no picking
    srv.wrapper = net.exec_argv(name) + TERN_WRAPPER
    return srv


def stop_all(servers):
    """Stop every server (each exit is checked: status 0, no sanitizer
    report); the errors, for the caller to raise."""
    errors = []

    def stop(srv):
        try:
            srv.stop()
        except BaseException as e:  # every server is stopped
            errors.append(e)
    # At once, so that their exits overlap; one SIGTERM each (stop()
    # sends it): a second one, once tern has taken its signal handlers
    # down on the way out, ends it with the default action (status -15).
    with ThreadPoolExecutor(len(servers) or 1) as pool:
        list(pool.map(stop, servers))
    return errors


@pytest.fixture
def scale_net():
    """The network with every host up; everything removed at the end."""
    why = netns.netns_unavailable()
    if why:
        pytest.skip(f"issue 21 scaling test: {why}")
    for tool in (DOVECOT, DNSMASQ, "/usr/lib/dovecot/lmtp",
                 "/usr/lib/dovecot/imap", "/usr/lib/dovecot/pop3",
                 "/usr/lib/dovecot/modules/auth/libdriver_sqlite.so"):
        if not os.path.exists(tool):
            pytest.skip(f"{tool} is missing (make deps-test)")
    netns.remove_stale()
    # Mode 0755 in /tmp: Dovecot's and tern's mail user must reach the
    # store's data_dir (pytest's tmp_path is root's alone).
    base = Path(tempfile.mkdtemp(prefix="tern-i21-", dir="/tmp"))
    os.chmod(base, 0o755)
    net = netns.Net()
    servers = []
    try:
        net.up()
        for name, octet in HOSTS.items():
            net.add_host(name, octet)
        yield start_hosts(net, base, servers)
    finally:
        errors = stop_all(servers)
        net.close()
        shutil.rmtree(base, ignore_errors=True)
        if errors:
            raise errors[0]


def start_hosts(net, base, servers):
    t0 = time.monotonic()
    net.popen("dns", dnsmasq_argv(net), stdout=subprocess.DEVNULL,
              stderr=subprocess.DEVNULL)
    # The store: tern with its own Maildir delivery, running as the mail
    # user Dovecot uses, and the user store every host shares.
    st = tern_host(net, base, "store", top={"user": "nobody"})
    servers.append(st)
    st.write_config()
    for addr in (ALICE, BOB):
        st.add_user(addr)
    db = st.data_dir / "tern.db"
    assert db.exists() and not Path(f"{db}-wal").exists()
    store = Store(net, base / "dovecot", st.data_dir)
    store.write_config("nobody")
    route = f"lmtp:{net.addr('store')}:24"
    mx = {}
    for name in ("mx1", "mx2"):
        srv = tern_host(net, base, name, extra="\n[routes]\n" + "".join(
            f"{d} = {route}\n" for d in DOMAINS), queue=RETRY)
        servers.append(srv)
        srv.data_dir.mkdir(mode=0o750, parents=True)
        shutil.copy2(db, srv.data_dir / "tern.db")
        mx[name] = srv
    sender = tern_host(net, base, "sender", domains=("sender.test",),
                       top={"relay_networks": "127.0.0.1/32"},
                       queue={"delivery_threads": "16", **RETRY},
                       listener=("submission", "submission", SUBMIT_PORT))
    servers.append(sender)
    wait_dns(net)
    for srv in (st, mx["mx1"], mx["mx2"], sender):
        srv.start()
    store.start()
    print(f"\nnetwork and servers up in {time.monotonic() - t0:.2f} s")
    return {"net": net, "store": store, "st": st, "mx": mx,
            "sender": sender, "base": base}


def submit_one_session(net, rcpt, ids):
    with NsSMTP(net, "sender", "127.0.0.1", SUBMIT_PORT,
                local_hostname="client.sender.test", timeout=30) as s:
        for i in ids:
            msg = make_message(subject=f"i21 {i}", msgid=i,
                               sender="carol@sender.test", to=rcpt)
            refused = s.sendmail("carol@sender.test", [rcpt], msg)
            assert refused == {}, (i, refused)


def submit_direct(net, srv, rcpt, ids):
    """ids as messages to rcpt straight to the MX host srv, from the
    sender's host, one session."""
    with NsSMTP(net, "sender", srv.host, 25,
                local_hostname="other.sender.test", timeout=30) as s:
        for i in ids:
            msg = make_message(subject=f"i21 {i}", msgid=i,
                               sender="dave@sender.test", to=rcpt)
            refused = s.sendmail("dave@sender.test", [rcpt], msg)
            assert refused == {}, (i, refused)


def submit(env, rcpt, ids):
    """ids as messages to rcpt through the sender, over SUBMITTERS
    sessions at once; returns once every message got its 250. Several
    at once, as many clients do: the sender then opens several sessions
    to the MX hosts, each to a host picked at random among the equally
    preferred, and reuses them (one client, one session, would pin all
    its mail to the one host that session went to)."""
    parts = [ids[k::SUBMITTERS] for k in range(SUBMITTERS)]
    with ThreadPoolExecutor(SUBMITTERS) as pool:
        for f in [pool.submit(submit_one_session, env["net"], rcpt, p)
                  for p in parts if p]:
            f.result(timeout=WAIT)


def mids(phase, n):
    return [f"{phase}-{k}@sender.test" for k in range(n)]


def exactly_once(got, ids):
    """The relaying host of each of ids, each stored exactly once."""
    more = {i: got[i] for i in ids if len(got[i]) != 1}
    assert not more, f"stored more than once: {more}"
    return [got[i][0].via for i in ids]


def once_but_for_the_crash(got, ids, victim, victim_log, sender_log):
    """Like exactly_once(), but a second copy is allowed where kill -9
    of the MX host `victim` made one, and only there (RFC 5321 6.1: a
    crash may duplicate, never lose). One of the copies came through
    victim, from its spool after its restart: the restarted victim
    delivered that queue id without having queued it (victim_log is the
    restarted server's). Either the victim had handed it to Dovecot
    already and died before it struck it from its queue (both copies
    carry that one queue id of the victim), or it died before the sender
    read its 250, so the sender sent the message again, through the
    other host, and counts it delivered once, there (both copies carry
    one sender queue id). Returns the relaying
    host of each first copy, and for each doubled message which of the
    two it was."""
    doubled = []
    for i in ids:
        copies = got[i]
        if len(copies) == 1:
            continue
        assert len(copies) == 2, f"{i} stored {len(copies)} times: {copies}"
        a, b = sorted(copies, key=lambda c: c.via != victim)
        assert a.via == victim, f"{i}: twice, not by {victim}: {copies}"
        assert f"event=delivered id={a.mx_id} " in victim_log and \
            f"event=queued id={a.mx_id} " not in victim_log, (i, copies)
        if b.via == victim:
            assert a.mx_id == b.mx_id, (i, copies)
            doubled.append(f"{victim} again")
        else:
            assert a.sender_id == b.sender_id, (i, copies)
            done = [ln for ln in sender_log.splitlines()
                    if f"event=delivered id={a.sender_id} " in ln]
            assert len(done) == 1 and \
                f" relay=smtp:{b.via}.example.test[" in done[0], (i, done)
            doubled.append("sender again")
    return [got[i][0].via for i in ids], doubled


def wait_sessions_closed(servers, timeout=WAIT):
    """Until every session the servers had has ended (event=disconnect
    for each event=connect): the sender closes an idle one after 5 s."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if all(set(re.findall(r"event=connect sid=(\d+)", srv.log())) <=
               set(re.findall(r"event=disconnect sid=(\d+)", srv.log()))
               for srv in servers):
            return
        time.sleep(0.1)
    pytest.fail(f"sessions still open after {timeout}s")


def sessions_opened(log):
    """{MX host: sessions the sender opened to it} in log."""
    out = {"mx1": 0, "mx2": 0}
    for ln in log.splitlines():
        if "event=remote_session" in ln and " reused=no " in ln:
            for h in out:
                out[h] += f" host={h}.example.test " in ln
    return out


def timed_phase(env, rcpt, ids):
    t0 = time.monotonic()
    submit(env, rcpt, ids)
    got = env["store"].wait_ids(rcpt, ids)
    return got, time.monotonic() - t0


def queue_len(srv):
    r = srv.cli("queue", "list", "--json")
    return len([ln for ln in r.out.splitlines() if ln.strip()])


def wait_queue(srv, pred, what, timeout=WAIT):
    deadline = time.monotonic() + timeout
    n = None
    while time.monotonic() < deadline:
        n = queue_len(srv)
        if pred(n):
            return n
        time.sleep(0.1)
    pytest.fail(f"{srv.top['hostname']}: queue holds {n}, not {what}, "
                f"after {timeout}s\nlog:\n{srv.log()[-4000:]}")


def test_two_mx_hosts_one_dovecot_store(scale_net):
    env = scale_net
    store, mx, sender = env["store"], env["mx"], env["sender"]

    # 0. Untimed: the first sessions (sender to MX, MX to Dovecot) and
    # DNS answers, so the timed phases compare like with like.
    for rcpt in (ALICE, BOB):
        ids = mids("warm", N_WARM)
        submit(env, rcpt, ids)
        exactly_once(store.wait_ids(rcpt, ids), ids)

    # 1. Equal preference: both MX hosts carry a share, each message
    # is stored once. The sender picks a host at random for each
    # session it opens, and reuses its sessions: all of them (8-18 by
    # here on the development machine) went to one host with a chance
    # of 2^(1-sessions). Then, and at most twice, one more batch once
    # the sender's idle sessions are closed: new sessions, new picks.
    split = {"mx1": 0, "mx2": 0}
    alice_equal = 0
    for batch in range(3):
        if batch:
            wait_sessions_closed(mx.values())
        log_at = len(sender.log())
        ids = mids(f"equal{batch}", N_RATE)
        got, t = timed_phase(env, ALICE, ids)
        alice_equal += N_RATE
        for h in exactly_once(got, ids):
            split[h] += 1
        if batch == 0:  # the rate of the first batch only
            t2, first_split = t, dict(split)
            opened = sessions_opened(sender.log()[log_at:])
        if split["mx1"] and split["mx2"]:
            break
        print(f"batch {batch}: every session went to one host: {split}")
    assert split["mx1"] > 0 and split["mx2"] > 0, split

    # 2. Dovecot down: both MX hosts take the mail and queue it, then
    # deliver it once Dovecot is back. Half the messages go straight to
    # each MX host, as two senders of the Internet would: which host one
    # sender's sessions reach is its coin (phase 1), not this phase's.
    store.stop()
    ids = mids("down", N_DOWN)
    for name, part in (("mx1", ids[0::2]), ("mx2", ids[1::2])):
        submit_direct(env["net"], mx[name], ALICE, part)
    held = {h: queue_len(srv) for h, srv in mx.items()}
    assert held == {"mx1": N_DOWN // 2, "mx2": N_DOWN // 2}, held
    assert not any(i in store.messages(ALICE) for i in ids)
    store.start()
    got = store.wait_ids(ALICE, ids)
    assert sorted(exactly_once(got, ids)) == \
        ["mx1"] * (N_DOWN // 2) + ["mx2"] * (N_DOWN // 2)
    for srv in mx.values():
        wait_queue(srv, lambda n: n == 0, "empty")

    # 3. Unequal preference: mx1 (10) takes everything, mx2 (20) idles.
    ids = mids("unequal", N_RATE)
    got, t1 = timed_phase(env, BOB, ids)
    assert exactly_once(got, ids) == ["mx1"] * N_RATE
    print(f"equal MX, 2 hosts: {N_RATE} messages in {t2:.2f} s = "
          f"{N_RATE / t2:.1f} msg/s (mx1 {first_split['mx1']}, mx2 "
          f"{first_split['mx2']}; sessions opened {opened}); one MX host: "
          f"{N_RATE} in {t1:.2f} s = {N_RATE / t1:.1f} msg/s")

    # 4. kill -9 in the middle of a run: once a part of the first half
    # has arrived, the MX host that carried the most of it dies, while
    # the sender still delivers the rest of that half; then comes the
    # second half. Every message the sender took (250) arrives, once
    # but for the crash's own duplicates; all of the second half through
    # the other host; what the killed host had taken and not yet
    # delivered waits in its spool until it is back.
    ids = mids("kill", N_KILL)
    first, second = ids[:N_KILL // 2], ids[N_KILL // 2:]
    submit(env, ALICE, first)
    deadline = time.monotonic() + WAIT
    while True:
        got = store.messages(ALICE)
        before = [got[i][0].via for i in ids if i in got]
        if len(before) >= N_KILL // 6:
            break
        assert time.monotonic() < deadline, f"{len(before)} before the kill"
        time.sleep(0.005)
    victim = max(("mx1", "mx2"), key=before.count)
    other = "mx2" if victim == "mx1" else "mx1"
    mx[victim].kill9()
    submit(env, ALICE, second)
    wait_queue(sender, lambda n: n == 0, "empty (all handed on)")
    mx[victim].start()
    store.wait_ids(ALICE, ids)
    for srv in mx.values():
        wait_queue(srv, lambda n: n == 0, "empty")
    via, doubled = once_but_for_the_crash(
        store.messages(ALICE), ids, victim, mx[victim].log(), sender.log())
    assert via[N_KILL // 2:] == [other] * len(second), via
    print(f"kill -9 of {victim} once {len(before)} of {N_KILL} had "
          f"arrived ({before.count(victim)} through it): {victim} "
          f"{via.count(victim)}, {other} {via.count(other)}; "
          f"stored twice by the crash: {len(doubled)} {doubled}")

    # 5. The Maildir that tern writes itself (the store's tern, no
    # route) is the one Dovecot serves.
    local_id = "local-0@sender.test"
    with NsSMTP(env["net"], "sender", env["net"].addr("store"), 25,
                local_hostname="client.sender.test", timeout=30) as s:
        s.sendmail("carol@sender.test", [ALICE], make_message(
            subject="written by tern", msgid=local_id, body="maildir\r\n",
            sender="carol@sender.test", to=ALICE))
    copies = store.wait_ids(ALICE, [local_id])[local_id]
    assert [c.via for c in copies] == ["none"], copies

    # 6. alice over IMAP, bob over POP3, with tern's passwords.
    total = N_WARM + alice_equal + N_KILL + len(doubled) + N_DOWN + 1
    net, at = env["net"], env["net"].addr("store")
    imap = NsIMAP(net, "sender", at, 143)
    with pytest.raises(imaplib.IMAP4.error):
        imap.login(ALICE, PASSWORD + "x")
    imap.logout()
    imap = NsIMAP(net, "sender", at, 143)
    try:
        assert imap.login(ALICE, PASSWORD)[0] == "OK"
        typ, data = imap.select("INBOX", readonly=True)
        assert typ == "OK" and int(data[0]) == total, data
        typ, data = imap.search(None, "HEADER", "Message-ID", local_id)
        assert typ == "OK" and len(data[0].split()) == 1, data
        typ, data = imap.fetch(data[0], "(BODY.PEEK[])")
        raw = data[0][1]
        assert message_id_of(raw) == local_id
        assert b"Subject: written by tern" in raw and raw.endswith(
            b"maildir\r\n")
    finally:
        imap.logout()
    pop = NsPOP3(net, "sender", at, 110)
    try:
        pop.user(BOB)
        pop.pass_(PASSWORD)
        count, _ = pop.stat()
        assert count == N_WARM + N_RATE
        seen = {message_id_of(b"\r\n".join(pop.retr(k)[1]))
                for k in range(1, count + 1)}
        assert seen == set(mids("unequal", N_RATE) + mids("warm", N_WARM))
    finally:
        pop.quit()
