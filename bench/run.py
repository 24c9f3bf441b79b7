#!/usr/bin/python3
# SPDX-License-Identifier: ISC
"""bench/run.py - side-by-side benchmark of tern and a tuned Postfix.

Runs the six workloads of issue 6 against a private Postfix instance and
against build/tern, both on loopback ports of this machine, and prints
workload | postfix | tern | ratio. Results go to bench/results/.

Trust: runs as root on a developer machine; starts servers on 127.0.0.1 only,
writes only under bench/work/ and bench/results/, installs Debian packages
(postfix, linux-perf) when they are missing. Python 3 stdlib only.

Every loop is bounded in count and time, and both servers are stopped on
the way out (normal end, error, Ctrl-C, SIGTERM).
"""

import argparse
import datetime
import http.client
import json
import os
import platform
import pwd
import re
import resource
import selectors
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
WORK = os.path.join(HERE, "work")
RESULTS = os.path.join(HERE, "results")

DOMAIN = "bench.test"
RELAY_DOMAIN = "relay.test"
USERS = ["u%d" % i for i in range(10)]
PASSWORD = "bench-password-not-secret"
CLIENT_HELO = "client.bench.test"
SENDER = "sender@client.bench.test"
# Workloads 7 and 8 (issue 16): submission with DKIM signing. The header
# From (smtp-source writes "From: <-f address>") is in DOMAIN, which has an
# RSA 2048 key on both sides; SENDER's domain has none (signing off).
SIGN_SENDER = "sender@" + DOMAIN
DKIM_SELECTOR = "bench"
DKIM_BITS = 2048
# Workload 8 also signs with an Ed25519 key (RFC 8463), for a second From
# domain, to show what the key type costs; workload 7 is RSA on both sides.
ED_DOMAIN = "ed25519.test"
ED_SENDER = "sender@" + ED_DOMAIN
# Postfix + OpenDKIM on a busy 2-core machine did 60 msg/s: a run of
# workload 7 gets 30 s plus 1 s per 20 messages.
SIGN_MIN_RATE = 20.0
KIB = 1024
SYNC_SYSCALLS = ("fsync", "fdatasync", "syncfs", "sync_file_range")
# Workload 9 (issue 17): tern with observability off and on. "on" is the
# default journal plus the HTTP listener, scraped like Prometheus and the
# dashboard would: these paths once a second.
OBS_MODES = ("off", "on")
OBS_JOURNAL = "journal"  # <data_dir>/journal, docs/observability.md
OBS_EVENTS_SOCKET = "events.sock"  # <data_dir>/events.sock, obs/events.h
SCRAPE_PATHS = ("/metrics", "/api/status")
SCRAPE_MAX = 16 * 1024 * 1024  # bytes read of one answer
JOURNAL_READ_MAX = 256 * 1024 * 1024  # bytes read at once (64M rotates)
JOURNAL_WAIT_S = 15.0  # for the last "removed" lines after a run
W9_WARMUP = 200  # messages after each restart, before the clock starts
# Workload 10 (issue 18): local delivery through one milter that accepts
# everything (bench/milter_accept.c, built here against Debian's libmilter).
MILTER_SRC = os.path.join(HERE, "milter_accept.c")
MILTER_NAME = "accept"  # tern's [milter accept]
MILTER_STOP_S = 10.0  # libmilter's listener notices SIGTERM within ~5 s
MILTER_REPORT_S = 5.0  # for the answer to SIGUSR1 (a line on stdout)
W10_MODES = ("milter", "plain")  # tern's two listeners, order rotates

_children = []  # every Popen we start, for cleanup
_verbose = False
_reuse = False  # smtp-source -d (--reuse)


def log(msg):
    print("bench: " + msg, file=sys.stderr, flush=True)


def vlog(msg):
    if _verbose:
        log(msg)


class BenchError(Exception):
    pass


def run(cmd, check=True, timeout=120, **kw):
    """Run a short command, bounded in time; return CompletedProcess."""
    vlog("run: " + " ".join(cmd))
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       text=True, timeout=timeout, **kw)
    if check and p.returncode != 0:
        raise BenchError("%s failed (%d): %s" % (
            " ".join(cmd), p.returncode, (p.stderr or p.stdout).strip()[-500:]))
    return p


def spawn(cmd, **kw):
    vlog("spawn: " + " ".join(cmd))
    p = subprocess.Popen(cmd, **kw)
    _children.append(p)
    return p


def reap(p, grace=5.0):
    """Stop one process we started: SIGTERM, then SIGKILL after grace."""
    if p is None or p.poll() is not None:
        return
    try:
        p.terminate()
        p.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait(timeout=grace)
    except ProcessLookupError:
        pass


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, timeout, alive=None):
    """Wait until 127.0.0.1:port accepts a connection (bounded)."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if alive is not None and not alive():
            return False
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return True
        except OSError:
            time.sleep(0.1)
    return False


# ---------------------------------------------------------------------------
# /proc helpers: CPU and memory of a set of processes.

CLK_TCK = os.sysconf("SC_CLK_TCK")


def proc_stat(pid):
    """(ppid, utime+stime, cutime+cstime) in seconds, or None if gone."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            s = f.read()
    except OSError:
        return None
    # The command name may contain spaces and parentheses: split at the last.
    fields = s[s.rindex(")") + 2:].split()
    ppid = int(fields[1])
    own = (int(fields[11]) + int(fields[12])) / CLK_TCK
    kids = (int(fields[13]) + int(fields[14])) / CLK_TCK
    return ppid, own, kids


def descendants(root):
    """root and all its descendants (one /proc scan)."""
    children = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        st = proc_stat(int(d))
        if st:
            children.setdefault(st[0], []).append(int(d))
    out, todo = [], [root]
    while todo and len(out) < 100000:
        pid = todo.pop()
        out.append(pid)
        todo.extend(children.get(pid, []))
    return out


def cpu_seconds(root):
    """CPU used so far by root's process tree.

    root's own and reaped-children time plus the live descendants' own
    time: a child that exits between two samples moves from the second term
    into root's cutime, so deltas stay right (Postfix's master reaps every
    daemon; tern is one process whose stat covers all its threads).
    """
    total = 0.0
    for pid in descendants(root):
        st = proc_stat(pid)
        if st is None:
            continue
        total += st[1] + (st[2] if pid == root else 0.0)
    return total


def memory_kib(pids):
    """(sum of PSS, sum of RSS) in KiB over pids, from smaps_rollup."""
    pss = rss = 0
    for pid in pids:
        try:
            with open("/proc/%d/smaps_rollup" % pid) as f:
                for line in f:
                    if line.startswith("Pss:"):
                        pss += int(line.split()[1])
                    elif line.startswith("Rss:"):
                        rss += int(line.split()[1])
        except OSError:
            continue
    return pss, rss


# ---------------------------------------------------------------------------
# fsync counting: perf's syscall tracepoints, attached to the server's
# processes; counters are inherited by children forked later (Postfix's
# master forks its daemons) and by new threads (tern).

class SyncCounter:
    def __init__(self, pids, outfile):
        self.outfile = outfile
        events = ",".join("syscalls:sys_enter_" + s for s in SYNC_SYSCALLS)
        self.p = spawn(["perf", "stat", "-x", ",", "-o", outfile, "-e",
                        events, "-p", ",".join(str(p) for p in pids)],
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                       text=True)
        time.sleep(0.5)  # let perf attach before the load starts
        if self.p.poll() is not None:
            raise BenchError("perf stat failed: " +
                             self.p.stderr.read().strip()[-300:])

    def stop(self):
        """Stop perf, return {syscall: count}."""
        self.p.send_signal(signal.SIGINT)
        try:
            self.p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            reap(self.p)
        counts = {}
        with open(self.outfile) as f:
            for line in f:
                parts = line.strip().split(",")
                if len(parts) >= 3 and parts[2].startswith("syscalls:"):
                    name = parts[2].replace("syscalls:sys_enter_", "")
                    counts[name] = int(parts[0]) if parts[0].isdigit() else 0
        return counts


def perf_works():
    if shutil.which("perf") is None:
        return False
    try:
        p = run(["perf", "stat", "-x", ",", "-e", "syscalls:sys_enter_fsync",
                 "true"], check=False, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return p.returncode == 0


# ---------------------------------------------------------------------------
# Maildir counting.

def count_files(dirs):
    n = 0
    for d in dirs:
        try:
            with os.scandir(d) as it:
                for _ in it:
                    n += 1
        except FileNotFoundError:
            pass
    return n


def empty_dirs(dirs):
    for d in dirs:
        try:
            with os.scandir(d) as it:
                for e in it:
                    os.unlink(e.path)
        except FileNotFoundError:
            pass


def wait_count(counter, target, deadline, what):
    """Poll counter() until it reaches target; return the time it did."""
    while True:
        now = time.monotonic()
        if counter() >= target:
            return now
        if now > deadline:
            raise BenchError("timed out waiting for %s: %d of %d" % (
                what, counter(), target))
        time.sleep(0.02)


# ---------------------------------------------------------------------------
# Servers. Each has: name, port, root_pid(), pids(), maildirs(),
# maildir_new(user), relay_ok, and start()/stop().

class Postfix:
    name = "postfix"

    def __init__(self, args, sink_port, accept_milter_port=None):
        self.args = args
        self.dir = os.path.join(WORK, "postfix")
        self.etc = os.path.join(self.dir, "etc")
        self.spool = os.path.join(self.dir, "spool")
        self.data = os.path.join(self.dir, "data")
        self.mail = os.path.join(self.dir, "mail")
        self.maillog = os.path.join(self.dir, "maillog")
        self.port = free_port()
        self.idle_port = free_port()
        self.sink_port = sink_port
        self.relay_ok = True
        self.started = False
        self.note = ""
        # Workload 7: a third smtpd, the only one with the OpenDKIM milter.
        self.dkim = 7 in args.workloads
        self.dkim_port = free_port()
        self.milter_port = free_port()
        # Workload 10: a fourth smtpd, the only one with the accept-all
        # milter (bench/milter_accept.c, shared with tern's side).
        self.accept_milter_port = accept_milter_port
        self.accept_port = free_port()

    # Mail owner of the virtual deliveries: an unprivileged uid >= 100
    # (virtual_minimum_uid) that owns bench/work/postfix/mail.
    def _vuid(self):
        pw = pwd.getpwnam("nobody")
        return pw.pw_uid, pw.pw_gid

    def setup(self):
        stop_stale_postfix(self.etc, self.spool)
        shutil.rmtree(self.dir, ignore_errors=True)
        for d in (self.etc, self.spool, self.mail):
            os.makedirs(d, 0o755)
        os.makedirs(self.data, 0o700)
        pf = pwd.getpwnam("postfix")
        os.chown(self.data, pf.pw_uid, pf.pw_gid)
        uid, gid = self._vuid()
        os.chown(self.mail, uid, gid)
        for u in USERS:  # pre-create, so the first delivery does no mkdir
            for sub in ("tmp", "new", "cur"):
                p = os.path.join(self.mail, u, sub)
                os.makedirs(p, 0o700)
                os.chown(p, uid, gid)
            os.chown(os.path.join(self.mail, u), uid, gid)
        with open(os.path.join(self.etc, "main.cf"), "w") as f:
            f.write(self.main_cf(uid, gid))
        with open(os.path.join(self.etc, "master.cf"), "w") as f:
            f.write(self.master_cf())
        with open(os.path.join(self.etc, "vmailbox"), "w") as f:
            for u in USERS:
                f.write("%s@%s %s/\n" % (u, DOMAIN, u))
        with open(os.path.join(self.etc, "transport"), "w") as f:
            f.write("%s smtp:[127.0.0.1]:%d\n" % (RELAY_DOMAIN,
                                                  self.sink_port))
        for m in ("vmailbox", "transport"):
            run(["postmap", "-c", self.etc,
                 "hash:" + os.path.join(self.etc, m)])
        # Creates the queue subdirectories with the right owners.
        run(["postfix", "-c", self.etc, "check"], timeout=60)

    def main_cf(self, uid, gid):
        # The "tuned" configuration of issue 6: what a competent operator
        # runs. Durability is Postfix's default (fsync before 250, fsync of
        # the delivered Maildir file); nothing here weakens it.
        return """\
# Generated by bench/run.py: private benchmark instance, loopback only.
compatibility_level = 3.6
queue_directory = {spool}
data_directory = {data}
mail_owner = postfix
setgid_group = postdrop
myhostname = postfix.{domain}
mydomain = {domain}
mydestination =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
{logging}
syslog_name = postfix-bench

# No local delivery, no aliases, no biff.
local_transport = error:local delivery is disabled
alias_maps =
alias_database =
local_recipient_maps =
biff = no

# Virtual Maildir delivery for {domain}, 10 users.
virtual_mailbox_domains = {domain}
virtual_mailbox_base = {mail}
virtual_mailbox_maps = hash:{etc}/vmailbox
virtual_uid_maps = static:{uid}
virtual_gid_maps = static:{gid}
virtual_minimum_uid = 100

# Relay workload: {relay} goes to smtp-sink on loopback.
relay_domains = {relay}
transport_maps = hash:{etc}/transport
smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination

# No DNS anywhere.
smtp_host_lookup = native
disable_dns_lookups = yes
smtp_dns_support_level = disabled
smtpd_peername_lookup = no

# Tuned (issue 6).
default_process_limit = 300
in_flow_delay = 0
default_destination_concurrency_limit = 50
virtual_destination_concurrency_limit = 50
smtp_destination_concurrency_limit = 50
smtpd_client_connection_count_limit = 0
smtpd_client_connection_rate_limit = 0
smtpd_client_message_rate_limit = 0
smtpd_client_recipient_rate_limit = 0
smtpd_tls_security_level = none
smtp_tls_security_level = none
{milter}""".format(milter=self.milter_cf(), spool=self.spool, data=self.data, domain=DOMAIN,
           logging=self.logging(),
           maillog=self.maillog, dir=self.dir, mail=self.mail, etc=self.etc,
           uid=uid, gid=gid, relay=RELAY_DOMAIN)

    def milter_cf(self):
        # Workload 7: Postfix with OpenDKIM, as its documentation sets it
        # up. smtpd_milters is set on the signing listener only (master.cf),
        # so workloads 1-6 run without a milter; non_smtpd_milters would
        # sign sendmail/pickup mail, which the bench does not send. A milter
        # that does not answer defers the message (tempfail) instead of
        # letting it through unsigned.
        # Workload 10's listener uses the same two global settings.
        if not self.dkim and not self.accept_milter_port:
            return ""
        text = """
# Workloads 7 and 10: a milter that does not answer defers the mail.
milter_default_action = tempfail
milter_protocol = 6
"""
        if self.dkim:
            text += """\
# Workload 7: DKIM signing by OpenDKIM (bench/work/opendkim/).
non_smtpd_milters = inet:127.0.0.1:{port}
""".format(port=self.milter_port)
        return text

    def logging(self):
        # "file": postlogd writes bench/work/postfix/maillog, the match of
        # tern logging to a file. "syslog": syslog(3), which costs Postfix
        # nothing when no syslog daemon runs (the cost moves out of the
        # server's processes when one does).
        if self.args.postfix_log == "file":
            return "maillog_file = %s\nmaillog_file_prefixes = %s" % (
                self.maillog, self.dir)
        return "# logging to syslog(3)"

    def master_cf(self):
        # Postfix's stock services, chroot off, smtpd only on 127.0.0.1.
        # The second smtpd is for the idle-sessions workload: one process
        # per session, so its process limit is the session count; its idle
        # processes exit after 10 s instead of 100 s.
        idle_max = self.args.idle + 10
        return """\
# Generated by bench/run.py.
# service type  private unpriv  chroot  wakeup  maxproc command + args
127.0.0.1:{port} inet n - n - - smtpd
127.0.0.1:{idle_port} inet n - n - {idle_max} smtpd -o max_idle=10s
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
tlsmgr    unix  -       -       n       1000?   1       tlsmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
proxywrite unix -       -       n       -       1       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
local     unix  -       n       n       -       -       local
virtual   unix  -       n       n       -       -       virtual
lmtp      unix  -       -       n       -       -       lmtp
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
""".format(port=self.port, idle_port=self.idle_port, idle_max=idle_max) + \
            self.dkim_master_cf() + self.accept_master_cf()

    def accept_master_cf(self):
        if not self.accept_milter_port:
            return ""
        return ("127.0.0.1:{port} inet n - n - - smtpd\n"
                "  -o syslog_name=postfix-bench/milter\n"
                "  -o smtpd_milters=inet:127.0.0.1:{mport}\n").format(
                    port=self.accept_port, mport=self.accept_milter_port)

    def dkim_master_cf(self):
        if not self.dkim:
            return ""
        return ("127.0.0.1:{port} inet n - n - - smtpd\n"
                "  -o syslog_name=postfix-bench/submission\n"
                "  -o smtpd_milters=inet:127.0.0.1:{mport}\n").format(
                    port=self.dkim_port, mport=self.milter_port)

    def start(self):
        run(["postfix", "-c", self.etc, "start"], timeout=60)
        self.started = True
        if not wait_port(self.port, 20):
            raise BenchError("postfix does not listen on 127.0.0.1:%d (see %s)"
                             % (self.port, self.maillog))

    def drop_idle_daemons(self):
        """postfix reload: daemons left idle by earlier workloads (up to
        max_idle = 100 s) exit now, so workload 5 counts the sessions'
        processes, not leftovers. Bounded wait for them to go."""
        before = len(self.pids())
        run(["postfix", "-c", self.etc, "reload"], timeout=60)
        end = time.monotonic() + 30
        n = before
        while time.monotonic() < end:
            time.sleep(1)
            m = len(self.pids())
            if m >= n and m < 40:  # master + a few resident daemons
                break
            n = m
        vlog("postfix reload: %d -> %d processes" % (before, n))

    def root_pid(self):
        try:
            with open(os.path.join(self.spool, "pid", "master.pid")) as f:
                return int(f.read().split()[0])
        except (OSError, ValueError, IndexError):
            return None

    def pids(self):
        r = self.root_pid()
        return descendants(r) if r else []

    def maildir_new(self, user):
        return os.path.join(self.mail, user, "new")

    def maildirs(self):
        return [os.path.join(self.mail, u, s) for u in USERS
                for s in ("new", "cur", "tmp")]

    def stop(self):
        if not self.started:
            return
        self.started = False
        r = self.root_pid()
        try:
            run(["postfix", "-c", self.etc, "stop"], check=False, timeout=30)
        except subprocess.TimeoutExpired:
            pass
        end = time.monotonic() + 15
        while r and os.path.exists("/proc/%d" % r) and time.monotonic() < end:
            time.sleep(0.2)
        if r and os.path.exists("/proc/%d" % r):
            for pid in descendants(r):
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass


def stop_stale_postfix(etc, spool):
    """A previous run killed hard may have left our instance running."""
    pid = read_first(os.path.join(spool, "pid", "master.pid"))
    if os.path.exists(os.path.join(etc, "main.cf")) and pid.isdigit() and \
            os.path.exists("/proc/%s" % pid):
        log("stopping a postfix instance left by an earlier run")
        run(["postfix", "-c", etc, "stop"], check=False, timeout=30)
        time.sleep(1)


class Tern:
    name = "tern"

    def __init__(self, args, sink_port):
        self.args = args
        self.bin = args.tern_bin
        self.dir = os.path.join(WORK, "tern")
        self.conf = os.path.join(WORK, "tern.conf")
        self.data = os.path.join(self.dir, "data")
        self.logfile = os.path.join(self.dir, "tern.log")
        self.port = free_port()
        self.idle_port = self.port
        self.sink_port = sink_port
        self.proc = None
        self.relay_ok = False  # set by the relay probe
        self.started = False
        self.note = ""
        self.with_routes = True

    def conf_text(self):
        text = """\
# Generated by bench/run.py: the tern side of the benchmark, loopback only.
# Durability is tern's default (fsync before 250 and of delivered files).
# Observability too, unless an [observability] section below says
# otherwise (workload 9): the journal and the event socket are on.
hostname = tern.{domain}
data_dir = {data}
domains = {domain}

[listener mx]
address = 127.0.0.1:{port}
mode = mx
tls = none

[limits]
max_connections = 20000
max_connections_per_ip = 20000

# Issue 16: the Postfix side runs no SPF, DKIM or DMARC checks, so the
# tern side does not either (they would also ask this machine's DNS).
[authentication]
checks = off
""".format(domain=DOMAIN, data=self.data, port=self.port)
        if self.with_routes:
            # Workload 3: relay.test relayed for anyone, any local part
            # (Postfix: relay_domains without relay_recipient_maps), to
            # smtp-sink without STARTTLS (smtp_tls_security_level = none).
            text += ("\n[routes]\n%s = 127.0.0.1:%d tls=none\n"
                     "\n[relay_domains]\n%s = any\n") % (
                         RELAY_DOMAIN, self.sink_port, RELAY_DOMAIN)
        return text

    def setup(self):
        if not os.access(self.bin, os.X_OK):
            raise BenchError("%s missing: run make build" %
                             os.path.relpath(self.bin, ROOT))
        shutil.rmtree(self.dir, ignore_errors=True)
        os.makedirs(self.data, 0o755)
        self._write_conf()
        for u in USERS:
            addr = "%s@%s" % (u, DOMAIN)
            p = run([self.bin, "-c", self.conf, "user", "add", addr,
                     "--password-stdin"], check=False, timeout=60,
                    input=PASSWORD + "\n")
            if p.returncode != 0 and self.with_routes and \
                    "routes" in (p.stderr + p.stdout):
                # The config parser does not know [routes] yet.
                self.with_routes = False
                self._write_conf()
                p = run([self.bin, "-c", self.conf, "user", "add", addr,
                         "--password-stdin"], check=False, timeout=60,
                        input=PASSWORD + "\n")
            if p.returncode != 0:
                raise BenchError("user add %s failed (%d): %s" % (
                    addr, p.returncode,
                    (p.stderr or p.stdout).strip()[-300:]))
        self.check_durability_config()

    def _write_conf(self):
        with open(self.conf, "w") as f:
            f.write(self.conf_text())

    def check_durability_config(self):
        """Refuse a configuration that turns syncing off.

        tern has no such setting yet; when one appears, `check-config`
        prints it in the effective configuration and this catches it.
        """
        p = run([self.bin, "-c", self.conf, "check-config"], check=False,
                timeout=30)
        for line in (p.stdout or "").splitlines():
            m = re.match(r"\s*([\w.-]*(sync|durab)[\w.-]*)\s*=\s*(\S+)",
                         line, re.I)
            if m and m.group(3).lower() in ("no", "off", "false", "0",
                                            "none", "never", "async"):
                raise BenchError("refusing: tern runs with %s = %s "
                                 "(not durable)" % (m.group(1), m.group(3)))

    def start(self):
        logf = open(self.logfile, "ab")
        base = logf.tell()  # a restart (workload 9) appends to the log
        try:
            self.proc = spawn([self.bin, "serve", "-c", self.conf],
                              stdin=subprocess.DEVNULL,
                              stdout=logf, stderr=logf)
        finally:
            logf.close()
        self.started = True
        end = time.monotonic() + 20
        while time.monotonic() < end:
            if self.proc.poll() is not None:
                raise BenchError("tern serve exited with %d: %s" % (
                    self.proc.returncode, self.log_tail()))
            with open(self.logfile, "rb") as f:
                f.seek(base)
                if b"event=ready" in f.read():
                    break
            time.sleep(0.1)
        else:
            raise BenchError("tern logged no event=ready in 20 s: " +
                             self.log_tail())
        if not wait_port(self.port, 10, alive=lambda: self.proc.poll() is None):
            raise BenchError("tern does not accept on 127.0.0.1:%d" %
                             self.port)

    def log_tail(self):
        try:
            with open(self.logfile, "rb") as f:
                lines = f.read().decode(errors="replace").strip().splitlines()
            return " | ".join(lines[-3:])[-400:]
        except OSError:
            return ""

    def root_pid(self):
        return self.proc.pid if self.proc and self.proc.poll() is None \
            else None

    def pids(self):
        r = self.root_pid()
        return [r] if r else []

    def maildir_new(self, user):
        return os.path.join(self.data, "mail", DOMAIN, user, "new")

    def maildirs(self):
        return [os.path.join(self.data, "mail", DOMAIN, u, s) for u in USERS
                for s in ("new", "cur", "tmp")]

    def stop(self):
        if self.proc is not None:
            reap(self.proc, grace=10)
        self.started = False


class TernSubmit(Tern):
    """Workloads 7 and 8: a second tern with a submission listener that
    relays for 127.0.0.1 (relay_networks) and an RSA 2048 key for DOMAIN.

    A separate instance, because relay_networks also exempts the mx
    listener's clients from the inbound checks and would change what
    workloads 1-6 measure.
    """

    def __init__(self, args, sink_port):
        super().__init__(args, sink_port)
        self.dir = os.path.join(WORK, "tern-dkim")
        self.conf = os.path.join(WORK, "tern-dkim.conf")
        self.data = os.path.join(self.dir, "data")
        self.logfile = os.path.join(self.dir, "tern.log")
        self.with_routes = False
        self.record = ""

    def conf_text(self):
        return """\
# Generated by bench/run.py: tern for workloads 7 and 8 (DKIM signing).
# Durability is tern's default (fsync before 250 and of delivered files).
hostname = tern.{domain}
data_dir = {data}
domains = {domain}
relay_networks = 127.0.0.1/32

[listener submission]
address = 127.0.0.1:{port}
mode = submission
tls = none

[limits]
max_connections = 20000
max_connections_per_ip = 20000
""".format(domain=DOMAIN, data=self.data, port=self.port)

    def setup(self):
        super().setup()
        p = run([self.bin, "-c", self.conf, "dkim", "keygen", DOMAIN,
                 "--selector", DKIM_SELECTOR, "--algorithm", "rsa",
                 "--bits", str(DKIM_BITS)], check=False, timeout=120)
        if p.returncode != 0:
            raise BenchError("tern dkim keygen failed (%d): %s" % (
                p.returncode, (p.stderr or p.stdout).strip()[-300:]))
        self.record = p.stdout.strip()
        p = run([self.bin, "-c", self.conf, "dkim", "keygen", ED_DOMAIN,
                 "--selector", DKIM_SELECTOR, "--algorithm", "ed25519"],
                check=False, timeout=120)
        if p.returncode != 0:
            raise BenchError("tern dkim keygen %s failed (%d): %s" % (
                ED_DOMAIN, p.returncode,
                (p.stderr or p.stdout).strip()[-300:]))
        self.ed_record = p.stdout.strip()


class TernObs(Tern):
    """Workload 9 (issue 17): one tern, restarted with observability off
    or on before every run.

    "off": [observability] journal = off, events_socket = off, no
    http_listen: obs_emit() only counts (the metrics cannot be turned
    off). "on": tern's defaults (the journal, the event socket with no
    client) and http_listen on a free loopback port, scraped once a
    second during the runs (Scraper). Everything else is the workload-1
    configuration.

    One data_dir for both modes, not an instance per mode: on ext4
    without a journal the cost of creating a file depends on the block
    group its directory is in (README, the last paragraph), and two
    instances' Maildirs can differ by more than the few percent measured
    here.
    """

    def __init__(self, args, sink_port):
        super().__init__(args, sink_port)
        self.mode = "off"
        self.dir = os.path.join(WORK, "tern-obs")
        self.conf = os.path.join(WORK, "tern-obs.conf")
        self.data = os.path.join(self.dir, "data")
        self.logfile = os.path.join(self.dir, "tern.log")
        self.journal = os.path.join(self.data, OBS_JOURNAL)
        self.events_sock = os.path.join(self.data, OBS_EVENTS_SOCKET)
        self.with_routes = False
        self.http_port = free_port()
        self.http_ok = None  # None: not probed yet (probe_http)
        self.http_note = ""
        # Each mode's [observability]; --obs-on changes "on" (to find
        # which part costs what).
        self.settings = {
            "off": {"journal": "off", "events_socket": "off",
                    "http_listen": "off"},
            "on": dict({"journal": "on", "events_socket": "on",
                        "http_listen": "on"}, **args.obs_on)}

    def has(self, key):
        """Is [observability] key on in the current mode?"""
        return self.settings[self.mode][key] == "on"

    def conf_text(self):
        text = super().conf_text()
        text += "\n# Workload 9: observability %s.\n[observability]\n" % \
            self.mode
        for key in ("journal", "events_socket"):
            text += "%s = %s\n" % (key, self.settings[self.mode][key])
        if self.has("http_listen"):
            text += "http_listen = 127.0.0.1:%d\n" % self.http_port
        return text

    def restart(self, mode):
        """Stop, write the mode's configuration, start; then, in "on",
        wait for the HTTP listener when this build has one."""
        self.stop()
        self.mode = mode
        self._write_conf()
        self.start()
        if self.has("http_listen") and self.http_ok is None:
            self.probe_http()
        elif self.has("http_listen") and self.http_ok and not wait_port(
                self.http_port, 10, alive=lambda: self.proc.poll() is None):
            raise BenchError("the HTTP listener did not come back")

    def probe_http(self):
        """Does this build serve /metrics and /api/status? The listener
        came after the journal (branch http): without it the "on" mode
        is the journal and the event socket, and the notes say so. A
        listener that answers but not 200 is an error, not a missing
        feature."""
        self.http_ok = False
        if not wait_port(self.http_port, 5,
                         alive=lambda: self.proc.poll() is None):
            self.http_note = "no HTTP listener on 127.0.0.1:%d (this " \
                "build has none yet): \"on\" ran without it, nothing " \
                "scraped" % self.http_port
            return
        for path in SCRAPE_PATHS:
            status, _ = http_get(self.http_port, path)
            if status != 200:
                raise BenchError("GET %s on the HTTP listener: %s" % (
                    path, status))
        self.http_ok = True


class TernMilter(Tern):
    """Workload 10 (issue 18): one tern with two mx listeners on the same
    data_dir: the workload-1 listener (no milter) and `[listener milter]`
    with `milters = accept`, the accept-all filter of bench/milter_accept.c
    as `[milter accept]` (default_action tempfail, as Postfix's side). One
    instance for both figures, so both write into the same Maildirs (the
    file system's history weighs on creates: README, last paragraph)."""

    def __init__(self, args, sink_port, milter_port):
        super().__init__(args, sink_port)
        self.dir = os.path.join(WORK, "tern-milter")
        self.conf = os.path.join(WORK, "tern-milter.conf")
        self.data = os.path.join(self.dir, "data")
        self.logfile = os.path.join(self.dir, "tern.log")
        self.with_routes = False
        self.milter_port = milter_port
        self.filtered_port = free_port()

    def conf_text(self):
        return super().conf_text() + """
# Workload 10: the same load through one milter that accepts everything
# (bench/milter_accept.c), on a second listener; the first has none.
[milter {name}]
address = inet:127.0.0.1:{mport}
default_action = tempfail

[listener milter]
address = 127.0.0.1:{port}
mode = mx
tls = none
milters = {name}
""".format(name=MILTER_NAME, mport=self.milter_port,
           port=self.filtered_port)

    def start(self):
        super().start()
        if not wait_port(self.filtered_port, 10,
                         alive=lambda: self.proc.poll() is None):
            raise BenchError("tern does not accept on its milter listener "
                             "127.0.0.1:%d" % self.filtered_port)


class Scraper:
    """What Prometheus and the dashboard do while mail flows: GET
    /metrics and /api/status once a second, one connection each."""

    def __init__(self, port):
        self.port = port
        self.stop_ev = threading.Event()
        self.ok = 0
        self.bytes = 0
        self.errors = []
        self.t = threading.Thread(target=self._main, daemon=True)
        self.t.start()

    def _main(self):
        due = time.monotonic()
        # Bounded: an hour of scrapes, far beyond any run's deadline.
        for _ in range(3600):
            for path in SCRAPE_PATHS:
                status, n = http_get(self.port, path)
                if status == 200:
                    self.ok += 1
                    self.bytes += n
                elif len(self.errors) < 10:
                    self.errors.append("GET %s: %s" % (path, status))
            due += 1.0
            if self.stop_ev.wait(max(0.0, due - time.monotonic())):
                return

    def stop(self):
        """Stop; return what was scraped, or raise if a scrape failed."""
        self.stop_ev.set()
        self.t.join(15)
        if self.errors:
            raise BenchError("scraper: " + "; ".join(self.errors[:3]))
        if self.ok == 0:
            raise BenchError("scraper: no scrape completed")
        return {"scrapes": self.ok, "scraped_bytes": self.bytes}


def http_get(port, path):
    """(status, body bytes) of one GET on 127.0.0.1:port, or (error
    text, 0). Connection: close, as a scraper that keeps nothing open."""
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        c.request("GET", path, headers={"Connection": "close"})
        r = c.getresponse()
        body = r.read(SCRAPE_MAX)
        return r.status, len(body)
    except (OSError, http.client.HTTPException) as e:
        return "%s (%s)" % (type(e).__name__, e), 0
    finally:
        c.close()


class JournalCursor:
    """Reads the lines tern appends to <data_dir>/journal from a mark on,
    across a rotation (journal -> journal.1, obs.c) between two reads."""

    def __init__(self, path):
        self.path = path
        self.ino = None
        self.off = 0
        self.part = b""
        self.mark()

    def mark(self):
        try:
            st = os.stat(self.path)
            self.ino, self.off = st.st_ino, st.st_size
        except FileNotFoundError:
            self.ino, self.off = None, 0
        self.part = b""

    def _read_from(self, path, off):
        try:
            with open(path, "rb") as f:
                f.seek(off)
                return f.read(JOURNAL_READ_MAX)
        except FileNotFoundError:
            return b""

    def read(self):
        """The complete lines appended since the last read (bytes)."""
        data = b""
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            return []
        if self.ino is not None and st.st_ino != self.ino:
            old = self.path + ".1"  # rotated: finish the old file first
            try:
                if os.stat(old).st_ino == self.ino:
                    data += self._read_from(old, self.off)
            except FileNotFoundError:
                pass
            self.off = 0
        self.ino = st.st_ino
        chunk = self._read_from(self.path, self.off)
        self.off += len(chunk)
        data = self.part + data + chunk
        lines = data.split(b"\n")
        self.part = lines.pop()
        return lines


def obs_files_check(tn, cursor):
    """tern runs the mode it was given: the event socket exists when it
    is on, and not when it is off; with the journal off, the journal
    (left by "on") has not grown since cursor's mark."""
    on = tn.has("events_socket")
    if os.path.exists(tn.events_sock) != on:
        raise BenchError("observability %s, yet %s %s" % (
            tn.mode, os.path.relpath(tn.events_sock, ROOT),
            "is missing" if on else "exists"))
    if not tn.has("journal") and cursor.read():
        raise BenchError("observability %s: journal = off, yet the "
                         "journal grew" % tn.mode)


def journal_check(cursor, messages, timeout=JOURNAL_WAIT_S):
    """After an "on" run: the journal must hold, for each of the run's
    messages, exactly its accepted, delivered and removed lines (3 a
    message), or the figure is not what it claims. "removed" is written
    after the delivered file is in new/, so wait for it (bounded)."""
    want = ("accepted", "delivered", "removed")
    ids = {k: set() for k in want}
    other = {}
    lines = 0
    end = time.monotonic() + timeout
    while True:
        for raw in cursor.read():
            lines += 1
            try:
                ev = json.loads(raw)
            except ValueError:
                raise BenchError("journal: a line is not JSON: %r" %
                                 raw[:120])
            kind = ev.get("event")
            if kind in ids:
                ids[kind].add(ev.get("id"))
            else:
                other[kind] = other.get(kind, 0) + 1
        if len(ids["removed"]) >= messages or time.monotonic() > end:
            break
        time.sleep(0.05)
    counts = {k: len(v) for k, v in ids.items()}
    if other or any(n != messages for n in counts.values()) or \
            lines != 3 * messages or \
            not ids["accepted"] == ids["delivered"] == ids["removed"]:
        raise BenchError("journal: %d lines for %d messages (%s; other "
                         "events %s): not 3 a message" % (
                             lines, messages, counts, other or "none"))
    return {"journal_lines": lines}


class OpenDkim:
    """Debian's opendkim as a private milter on a loopback inet socket,
    signing DOMAIN's mail from 127.0.0.1 with an RSA 2048 key."""

    def __init__(self, port):
        self.port = port
        self.dir = os.path.join(WORK, "opendkim")
        self.conf = os.path.join(self.dir, "opendkim.conf")
        self.logfile = os.path.join(self.dir, "opendkim.log")
        self.proc = None

    def setup(self):
        shutil.rmtree(self.dir, ignore_errors=True)
        os.makedirs(self.dir, 0o755)
        run(["opendkim-genkey", "-b", str(DKIM_BITS), "-h", "sha256",
             "-d", DOMAIN, "-s", DKIM_SELECTOR, "-D", self.dir], timeout=120)
        key = os.path.join(self.dir, DKIM_SELECTOR + ".private")
        pw = pwd.getpwnam("opendkim")
        os.chown(key, pw.pw_uid, pw.pw_gid)
        os.chmod(key, 0o600)
        with open(self.conf, "w") as f:
            # Signing as OpenDKIM's documentation sets it up, with the
            # header choices closest to tern's (relaxed/relaxed, From
            # oversigned).
            f.write("""\
# Generated by bench/run.py: private OpenDKIM for workload 7.
Syslog                  no
Background              no
Mode                    s
Domain                  {domain}
Selector                {sel}
KeyFile                 {key}
RequireSafeKeys         yes
Socket                  inet:{port}@127.0.0.1
InternalHosts           127.0.0.1
UserID                  opendkim
Canonicalization        relaxed/relaxed
SignatureAlgorithm      rsa-sha256
OversignHeaders         From
""".format(domain=DOMAIN, sel=DKIM_SELECTOR, key=key, port=self.port))

    def start(self):
        logf = open(self.logfile, "ab")
        try:
            self.proc = spawn(["opendkim", "-f", "-x", self.conf],
                              stdin=subprocess.DEVNULL, stdout=logf,
                              stderr=logf)
        finally:
            logf.close()
        if not wait_port(self.port, 20,
                         alive=lambda: self.proc.poll() is None):
            raise BenchError("opendkim does not listen on 127.0.0.1:%d: %s"
                             % (self.port, read_first(self.logfile)[-300:]))

    def root_pid(self):
        return self.proc.pid if self.proc and self.proc.poll() is None \
            else None

    def stop(self):
        reap(self.proc)


class MilterAccept:
    """bench/milter_accept.c: a milter that answers CONTINUE at every
    stage (connect, helo, mail, rcpt, header, eoh, body, eom) and changes
    nothing, on a loopback inet socket; built here with cc against
    Debian's libmilter (libmilter-dev), so tern's own build never needs
    it. One process serves both servers' milter listeners.

    It counts ends of message: counts() sends SIGUSR1 and reads the line
    it prints, so each run can check that the milter saw every message
    (or, through the listener without it, none). On SIGTERM it prints the
    totals before it exits (final)."""

    name = "milter_accept"
    LINE = re.compile(rb"milter_accept: (exit )?connect=(\d+) eom=(\d+) "
                      rb"abort=(\d+)")

    def __init__(self, port):
        self.port = port
        self.dir = os.path.join(WORK, "milter")
        self.bin = os.path.join(self.dir, "milter_accept")
        self.logfile = os.path.join(self.dir, "milter_accept.log")
        self.proc = None
        self.cond = threading.Condition()
        self.listening = False
        self.reports = 0
        self.last = None  # the last report: {"connect", "eom", "abort"}
        self.final = None  # the report printed on the way out
        self.expected = 0  # ends of message the bench sent through it
        self.t = None

    def setup(self):
        shutil.rmtree(self.dir, ignore_errors=True)
        os.makedirs(self.dir, 0o755)
        if not os.path.exists("/usr/include/libmilter/mfapi.h"):
            raise BenchError("libmilter-dev is not installed")
        run(["cc", "-std=c17", "-O2", "-Wall", "-Wextra", "-Werror",
             "-pthread", "-o", self.bin, MILTER_SRC, "-lmilter"],
            timeout=120)

    def start(self):
        logf = open(self.logfile, "ab")
        try:
            self.proc = spawn([self.bin, "inet:%d@127.0.0.1" % self.port],
                              stdin=subprocess.DEVNULL,
                              stdout=subprocess.PIPE, stderr=logf)
        finally:
            logf.close()
        self.t = threading.Thread(target=self._read, daemon=True)
        self.t.start()
        # Its "listening" line, not a test connection: the socket is open
        # and the signals are blocked (reporter thread) by then.
        with self.cond:
            self.cond.wait_for(lambda: self.listening or
                               self.proc.poll() is not None, 10)
        if not self.listening:
            raise BenchError("milter_accept does not listen on "
                             "127.0.0.1:%d: %s" % (
                                 self.port, read_first(self.logfile)[-300:]))

    def _read(self):
        # Bounded by the process: readline() ends at EOF when it exits.
        for line in iter(self.proc.stdout.readline, b""):
            m = self.LINE.match(line)
            with self.cond:
                if line.startswith(b"milter_accept: listening"):
                    self.listening = True
                elif m:
                    rep = {"connect": int(m.group(2)),
                           "eom": int(m.group(3)),
                           "abort": int(m.group(4))}
                    if m.group(1):
                        self.final = rep
                    else:
                        self.last = rep
                        self.reports += 1
                self.cond.notify_all()

    def counts(self):
        """The milter's counters now (SIGUSR1, bounded wait)."""
        if self.root_pid() is None:
            raise BenchError("milter_accept is not running")
        with self.cond:
            n = self.reports
            self.proc.send_signal(signal.SIGUSR1)
            if not self.cond.wait_for(lambda: self.reports > n,
                                      MILTER_REPORT_S):
                raise BenchError("milter_accept did not report its counts "
                                 "within %.0f s" % MILTER_REPORT_S)
            return dict(self.last)

    def root_pid(self):
        return self.proc.pid if self.proc and self.proc.poll() is None \
            else None

    def stop(self):
        reap(self.proc, grace=MILTER_STOP_S)
        if self.t is not None:
            self.t.join(5)


class SigningView:
    """One server as workloads 7 and 8 see it: its signing listener, its
    Maildirs, and the processes whose CPU counts (Postfix + OpenDKIM)."""

    def __init__(self, srv, port, extra=()):
        self.srv = srv
        self.name = srv.name
        self.port = port
        self.extra = list(extra)

    def root_pid(self):
        return self.srv.root_pid()

    def cpu_roots(self):
        return [r for r in [self.srv.root_pid()] +
                [e.root_pid() for e in self.extra] if r]

    def cpu_parts(self):
        """CPU seconds so far of each helper (OpenDKIM), by name."""
        return {type(e).__name__.lower(): cpu_seconds(e.root_pid())
                for e in self.extra if e.root_pid()}

    def pids(self):
        return self.srv.pids() + [p for e in self.extra
                                  for p in [e.root_pid()] if p]

    def maildir_new(self, user):
        return self.srv.maildir_new(user)

    def maildirs(self):
        return self.srv.maildirs()


class Sink:
    """smtp-sink on loopback, counting messages from its -c output."""

    def __init__(self, port):
        self.port = port
        self.count = 0
        self.proc = spawn(["smtp-sink", "-c", "-u", "nobody", "-m", "1000",
                           "-h", "sink.bench.test",
                           "127.0.0.1:%d" % port, "1024"],
                          stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                          stderr=subprocess.DEVNULL)
        self.t = threading.Thread(target=self._read, daemon=True)
        self.t.start()
        if not wait_port(port, 10, alive=lambda: self.proc.poll() is None):
            raise BenchError("smtp-sink did not start")

    def _read(self):
        # Output is "sess=N quit=N mesg=N\r" repeated.
        buf = b""
        while True:
            chunk = self.proc.stdout.read1(65536)
            if not chunk:
                return
            buf = (buf + chunk)[-4096:]
            m = None
            for m in re.finditer(rb"mesg=(\d+)", buf):
                pass
            if m:
                self.count = int(m.group(1))

    def stop(self):
        reap(self.proc)


# ---------------------------------------------------------------------------
# Load generators.

def source_lanes(sessions, messages):
    """Split the load across the 10 users for smtp-source.

    smtp-source sends every message to one -t address (-r/-N only prepend
    numbers to it), so we run one smtp-source per user, messages split
    evenly. With S >= 10 all ten run at once with S/10 sessions each
    (remainder spread); with S < 10 there are S lanes that each run their
    users' smtp-source one after another, so at most S sessions are open.
    Returns a list of lanes, each a list of (user, sessions, messages).
    """
    per_user = [messages // 10 + (1 if i < messages % 10 else 0)
                for i in range(10)]
    if sessions >= 10:
        return [[(USERS[i], sessions // 10 + (1 if i < sessions % 10 else 0),
                  per_user[i])] for i in range(10) if per_user[i] > 0]
    lanes = [[] for _ in range(sessions)]
    for i in range(10):
        if per_user[i] > 0:
            lanes[i % sessions].append((USERS[i], 1, per_user[i]))
    return [lane for lane in lanes if lane]


def run_source(port, sessions, messages, size, rcpt_for_user, deadline,
               sender=SENDER):
    """Drive smtp-source; raise BenchError if any run fails.

    sender is MAIL FROM and, as smtp-source writes it, the header From."""
    errors = []
    procs_lock = threading.Lock()

    def lane_main(lane):
        for user, s, m in lane:
            cmd = ["smtp-source", "-4", "-s", str(s), "-m", str(m),
                   "-l", str(size), "-M", CLIENT_HELO, "-f", sender,
                   "-t", rcpt_for_user(user), "127.0.0.1:%d" % port]
            if _reuse:
                cmd.insert(1, "-d")
            with procs_lock:
                if errors:
                    return
                p = spawn(cmd, stdin=subprocess.DEVNULL,
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            try:
                _, err = p.communicate(
                    timeout=max(1.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                reap(p)
                errors.append("smtp-source timed out")
                return
            if p.returncode != 0:
                errors.append("smtp-source exit %d: %s" % (
                    p.returncode, err.decode(errors="replace").strip()[-300:]))
                return

    threads = [threading.Thread(target=lane_main, args=(lane,), daemon=True)
               for lane in source_lanes(sessions, messages)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(max(0.1, deadline - time.monotonic() + 5))
    if errors:
        raise BenchError(errors[0])


class Reply:
    """Reads SMTP replies (RFC 5321 4.2: "XYZ-" continues, "XYZ " ends)."""

    def __init__(self, sock):
        self.sock = sock
        self.buf = b""

    def read(self):
        lines = 0
        while lines < 100:
            i = self.buf.find(b"\r\n")
            if i < 0:
                if len(self.buf) > 65536:
                    raise BenchError("reply line too long")
                chunk = self.sock.recv(65536)
                if not chunk:
                    raise BenchError("server closed the connection")
                self.buf += chunk
                continue
            line, self.buf = self.buf[:i], self.buf[i + 2:]
            lines += 1
            if len(line) < 3 or not line[:3].isdigit():
                raise BenchError("bad reply %r" % line[:80])
            if len(line) == 3 or line[3:4] == b" ":
                return int(line[:3])
        raise BenchError("reply has too many lines")


def message_body(size, user):
    """A message of about `size` bytes of body, dot-stuffing not needed."""
    head = ("From: <%s>\r\nTo: <%s@%s>\r\nSubject: bench\r\n"
            "Message-ID: <bench-%s@client.bench.test>\r\n\r\n" %
            (SENDER, user, DOMAIN, user)).encode()
    line = b"x" * 76 + b"\r\n"
    body = line * (size // len(line) + 1)
    return head + body[:size - size % len(line)] + b".\r\n"


def latency_run(port, sessions, messages, size, deadline):
    """S threads, one connection each, sending messages back to back.

    Records, per message, the time from the moment the last byte of
    "<CRLF>.<CRLF>" was handed to the kernel to the moment the final reply
    line arrived. Returns the sorted list of latencies in seconds.
    """
    lat = []
    errors = []
    lock = threading.Lock()
    per = [messages // sessions + (1 if i < messages % sessions else 0)
           for i in range(sessions)]
    bodies = {u: message_body(size, u) for u in USERS}

    def expect(r, code, what):
        c = r.read()
        if c != code:
            raise BenchError("%s: got %d, wanted %d" % (what, c, code))

    def worker(idx, count):
        mine = []
        try:
            timeout = max(1.0, deadline - time.monotonic())
            with socket.create_connection(("127.0.0.1", port),
                                          timeout=timeout) as s:
                s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                r = Reply(s)
                expect(r, 220, "greeting")
                s.sendall(b"EHLO " + CLIENT_HELO.encode() + b"\r\n")
                expect(r, 250, "EHLO")
                for k in range(count):
                    if time.monotonic() > deadline:
                        raise BenchError("latency run out of time")
                    user = USERS[(idx + k * sessions) % 10]
                    s.sendall(b"MAIL FROM:<" + SENDER.encode() + b">\r\n")
                    expect(r, 250, "MAIL")
                    s.sendall(b"RCPT TO:<%s@%s>\r\n" % (user.encode(),
                                                        DOMAIN.encode()))
                    expect(r, 250, "RCPT")
                    s.sendall(b"DATA\r\n")
                    expect(r, 354, "DATA")
                    s.sendall(bodies[user])
                    t0 = time.perf_counter()
                    expect(r, 250, "end of DATA")
                    mine.append(time.perf_counter() - t0)
                s.sendall(b"QUIT\r\n")
                r.read()
        except (OSError, BenchError) as e:
            with lock:
                errors.append(str(e))
        with lock:
            lat.extend(mine)

    threads = [threading.Thread(target=worker, args=(i, per[i]), daemon=True)
               for i in range(sessions) if per[i] > 0]
    for t in threads:
        t.start()
    for t in threads:
        t.join(max(0.1, deadline - time.monotonic() + 5))
    if errors:
        raise BenchError("latency client: " + errors[0])
    lat.sort()
    return lat


def percentile(sorted_vals, p):
    if not sorted_vals:
        return float("nan")
    k = min(len(sorted_vals) - 1, max(0, int(round(p / 100.0 *
                                                    len(sorted_vals) + 0.5)) - 1))
    return sorted_vals[k]


def hold_idle(port, n, timeout):
    """Open n SMTP sessions (greeting read, EHLO answered) and keep them.

    Connects with at most 256 handshakes in flight so the listen queue is
    never flooded. Stops at n sessions, at the deadline, or after 30 s
    without progress. Returns (open sockets, sessions held, failures).
    """
    sel = selectors.DefaultSelector()
    held, failures = [], 0
    inflight = {}
    started = 0
    end = time.monotonic() + timeout
    last_progress = time.monotonic()
    ehlo = b"EHLO " + CLIENT_HELO.encode() + b"\r\n"
    try:
        while len(held) < n and time.monotonic() < end:
            while started < n and len(inflight) < 256 and \
                    failures <= n // 10 + 10:
                s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                s.setblocking(False)
                s.connect_ex(("127.0.0.1", port))
                inflight[s.fileno()] = [s, 0, b""]
                sel.register(s, selectors.EVENT_READ)
                started += 1
            if not inflight:
                break
            for key, _ in sel.select(timeout=0.5):
                st = inflight[key.fd]
                s = st[0]
                try:
                    data = s.recv(4096)
                except (BlockingIOError, InterruptedError):
                    continue
                except OSError:
                    data = b""
                if not data:
                    sel.unregister(s)
                    del inflight[key.fd]
                    s.close()
                    failures += 1
                    started -= 1  # try that slot again
                    continue
                st[2] += data
                # Each state waits for the final line of one reply.
                if not re.search(rb"(^|\r\n)\d{3} [^\r\n]*\r\n$", st[2]):
                    continue
                st[2] = b""
                if st[1] == 0:
                    s.send(ehlo)
                    st[1] = 1
                else:
                    sel.unregister(s)
                    del inflight[key.fd]
                    held.append(s)
                    last_progress = time.monotonic()
            if time.monotonic() - last_progress > 30:
                break
            if failures > n // 10 + 10:
                break
    finally:
        for st in inflight.values():
            st[0].close()
        sel.close()
    return held, len(held), failures


def raise_nofile(n):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = n * 2 + 4096
    if soft >= want:
        return
    try:
        with open("/proc/sys/fs/nr_open") as f:
            nr_open = int(f.read())
    except (OSError, ValueError):
        nr_open = 1048576
    want = min(want, nr_open)
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, max(hard, want)))
    except (ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


# ---------------------------------------------------------------------------
# Workloads. Each returns a dict of figure -> value for one run, or raises.

def run_deadline(messages, size, rate=None):
    # At least 20 msg/s (100 KiB) or 50 msg/s, plus start-up slack.
    if rate is None:
        rate = 20.0 if size > 16 * KIB else 50.0
    return time.monotonic() + 30 + messages / rate


def machine_busy_seconds():
    """CPU seconds all cores spent not idle since boot (/proc/stat)."""
    f = [int(x) for x in read_first("/proc/stat").splitlines()[0].split()[1:]]
    return (sum(f) - f[3] - f[4]) / os.sysconf("SC_CLK_TCK")


def children_cpu_seconds():
    """CPU seconds of this script's reaped children: the smtp-source runs."""
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def server_cpu(srv):
    """CPU seconds so far of the server's process trees (a SigningView
    adds OpenDKIM's to Postfix's)."""
    roots = srv.cpu_roots() if hasattr(srv, "cpu_roots") else \
        [srv.root_pid()]
    return sum(cpu_seconds(r) for r in roots if r)


def local_delivery(srv, sessions, messages, size, sync_counter=None,
                   sender=SENDER, check=None, min_rate=None):
    """msgs/s from the first connect until the last file is in new/.

    check(newdirs), if given, looks at the delivered files before they
    are removed and raises BenchError when they are not what was asked."""
    newdirs = [srv.maildir_new(u) for u in USERS]
    empty_dirs(srv.maildirs())
    root = srv.root_pid()
    if root is None:
        raise BenchError("server is not running")
    counter = None
    if sync_counter:
        counter = SyncCounter(srv.pids(),
                              os.path.join(WORK, srv.name + ".perf"))
    cpu0 = server_cpu(srv)
    parts0 = srv.cpu_parts() if hasattr(srv, "cpu_parts") else {}
    client0, busy0 = children_cpu_seconds(), machine_busy_seconds()
    deadline = run_deadline(messages, size, min_rate)
    t0 = time.monotonic()
    try:
        run_source(srv.port, sessions, messages, size,
                   lambda u: "%s@%s" % (u, DOMAIN), deadline, sender)
        t1 = wait_count(lambda: count_files(newdirs), messages, deadline,
                        "%s deliveries" % srv.name)
    finally:
        syncs = counter.stop() if counter else None
    cpu1 = server_cpu(srv)
    parts1 = srv.cpu_parts() if hasattr(srv, "cpu_parts") else {}
    client1, busy1 = children_cpu_seconds(), machine_busy_seconds()
    out = {"msgs_per_s": messages / (t1 - t0),
           "seconds": t1 - t0,
           "cpu_s_per_1000": (cpu1 - cpu0) * 1000.0 / messages,
           # The load generator's share and the whole machine's: on two
           # cores they bound what any server can reach (README).
           "client_cpu_s_per_1000": (client1 - client0) * 1000.0 / messages,
           "machine_cpu_s_per_1000": (busy1 - busy0) * 1000.0 / messages}
    for name in parts1:
        if name in parts0:  # the helper's share of cpu_s_per_1000
            out[name + "_cpu_s_per_1000"] = \
                (parts1[name] - parts0[name]) * 1000.0 / messages
    if syncs is not None:
        out["syncs"] = syncs
        out["fsync_per_msg"] = sum(syncs.values()) / messages
    if check is not None:
        out["checked"] = check(newdirs)
    empty_dirs(srv.maildirs())
    return out


def relay(srv, sink, sessions, messages, size):
    base = sink.count
    deadline = run_deadline(messages, size)
    t0 = time.monotonic()
    run_source(srv.port, sessions, messages, size,
               lambda u: "%s@%s" % (u, RELAY_DOMAIN), deadline)
    t1 = wait_count(lambda: sink.count - base, messages, deadline,
                    "%s relayed messages at smtp-sink" % srv.name)
    return {"msgs_per_s": messages / (t1 - t0), "seconds": t1 - t0}


def latency(srv, sessions, messages, size):
    newdirs = [srv.maildir_new(u) for u in USERS]
    empty_dirs(srv.maildirs())
    deadline = run_deadline(messages, size)
    lat = latency_run(srv.port, sessions, messages, size, deadline)
    # Let delivery finish so it does not load the next run.
    wait_count(lambda: count_files(newdirs), messages, deadline,
               "%s deliveries" % srv.name)
    empty_dirs(srv.maildirs())
    return {"p50_ms": percentile(lat, 50) * 1000,
            "p99_ms": percentile(lat, 99) * 1000,
            "samples": len(lat)}


def idle_sessions(srv, n, timeout):
    pids0 = srv.pids()
    pss0, rss0 = memory_kib(pids0)
    t0 = time.monotonic()
    socks, held, failures = hold_idle(srv.idle_port, n, timeout)
    ramp = time.monotonic() - t0
    try:
        time.sleep(2)  # let the server settle its per-session state
        pids = srv.pids()
        pss, rss = memory_kib(pids)
    finally:
        for s in socks:
            s.close()
    out = {"held": held, "wanted": n, "failures": failures,
           "ramp_s": ramp,
           "processes": len(pids),
           "pss_mib": pss / 1024.0, "rss_mib": rss / 1024.0,
           "pss_mib_before": pss0 / 1024.0,
           "pss_kib_per_session": (pss - pss0) / held if held else None}
    if held < n:
        out["note"] = "held %d of %d sessions" % (held, n)
    return out


def probe_delivery(srv, use_perf):
    """One message per user must arrive within 15 s, and must be synced."""
    newdirs = [srv.maildir_new(u) for u in USERS]
    empty_dirs(srv.maildirs())
    counter = None
    if use_perf:
        counter = SyncCounter(srv.pids(),
                              os.path.join(WORK, srv.name + "-probe.perf"))
    try:
        deadline = time.monotonic() + 15
        run_source(srv.port, 10, 10, 1 * KIB,
                   lambda u: "%s@%s" % (u, DOMAIN), deadline)
        wait_count(lambda: count_files(newdirs), 10, deadline,
                   "%s probe deliveries" % srv.name)
    finally:
        syncs = counter.stop() if counter else None
    empty_dirs(srv.maildirs())
    if syncs is not None and sum(syncs.values()) == 0:
        raise BenchError("refusing: %s made no fsync/fdatasync for 10 "
                         "messages (not durable)" % srv.name)
    return syncs


# ---------------------------------------------------------------------------
# DKIM checks of delivered files (workloads 7 and 8): the bench must not
# measure an unsigned run by mistake, nor a signed one as "signing off".

def header_of(path, limit=256 * KIB):
    with open(path, "rb") as f:
        data = f.read(limit)
    return re.split(rb"\r?\n\r?\n", data, maxsplit=1)[0]


def dkim_tags(header):
    """The tag lists of the DKIM-Signature fields in a header block, each
    a dict with whitespace removed (RFC 6376 3.2)."""
    out = []
    for m in re.finditer(rb"^DKIM-Signature:(.*(?:\r?\n[ \t].*)*)", header,
                         re.I | re.M):
        tags = {}
        for part in re.sub(rb"\s+", b"", m.group(1)).split(b";"):
            k, eq, v = part.partition(b"=")
            if eq:
                tags[k.decode(errors="replace")] = v.decode(errors="replace")
        out.append(tags)
    return out


def txt_record_value(text):
    """The value of a TXT record as `tern dkim keygen` or opendkim-genkey
    print it: the quoted strings joined."""
    return "".join(re.findall(r'"([^"]*)"', text))


def dkim_verifier(record, domain=DOMAIN):
    """A function that verifies one message with dkimpy against record
    (our DNS answer), or None when python3-dkim is not installed."""
    try:
        import dkim  # python3-dkim (dkimpy), Debian; optional
    except ImportError:
        return None
    name = "%s._domainkey.%s." % (DKIM_SELECTOR, domain)

    def dnsfunc(qname, timeout=5):
        q = qname.decode() if isinstance(qname, bytes) else qname
        return record.encode() if q.rstrip(".").lower() == \
            name.rstrip(".") else None

    def verify(data):
        return dkim.verify(data, dnsfunc=dnsfunc)
    return verify


def dkim_check(signed, verify=None, per_dir=2, domain=DOMAIN,
               alg="rsa-sha256"):
    """check() for local_delivery: up to per_dir files in each new/ must
    carry an `alg` signature by domain with DKIM_SELECTOR (signed) or
    none at all; with verify, the first file must verify. Returns the
    number of files looked at."""
    def check(newdirs):
        looked = 0
        verified = False
        for d in newdirs:
            for name in sorted(os.listdir(d))[:per_dir]:
                path = os.path.join(d, name)
                sigs = dkim_tags(header_of(path))
                looked += 1
                if not signed:
                    if sigs:
                        raise BenchError("%s: a DKIM-Signature in a run "
                                         "without signing" % path)
                    continue
                ok = [t for t in sigs if t.get("d", "").lower() == domain
                      and t.get("s") == DKIM_SELECTOR
                      and t.get("a") == alg]
                if not ok:
                    raise BenchError("%s: no %s DKIM-Signature by %s "
                                     "(found %r)" % (path, alg, domain, sigs))
                if verify is not None and not verified:
                    with open(path, "rb") as f:
                        if not verify(f.read()):
                            raise BenchError("%s: the DKIM signature does "
                                             "not verify (dkimpy)" % path)
                    verified = True
        if looked == 0:
            raise BenchError("no delivered file to check")
        return looked
    return check


def probe_signing(view, sender, signed, verify, **kw):
    """Ten messages through the signing listener; signed (or not) as
    asked, the first one verified by dkimpy when it is installed."""
    newdirs = [view.maildir_new(u) for u in USERS]
    empty_dirs(view.maildirs())
    deadline = time.monotonic() + 15
    run_source(view.port, 10, 10, 1 * KIB,
               lambda u: "%s@%s" % (u, DOMAIN), deadline, sender)
    wait_count(lambda: count_files(newdirs), 10, deadline,
               "%s signing probe deliveries" % view.name)
    dkim_check(signed, verify, **kw)(newdirs)
    empty_dirs(view.maildirs())


def probe_relay(srv, sink):
    base = sink.count
    try:
        deadline = time.monotonic() + 15
        run_source(srv.port, 1, 1, 1 * KIB,
                   lambda u: "%s@%s" % (u, RELAY_DOMAIN), deadline)
        wait_count(lambda: sink.count - base, 1, deadline, "relay probe")
        return True
    except BenchError as e:
        srv.relay_note = str(e)
        return False


# ---------------------------------------------------------------------------
# The figures, in table order: key, label, unit, higher_is_better.

def figure_list(args):
    figs = []
    for s in args.sessions:
        figs.append(("w1_s%d" % s, "1 local 4 KiB S=%d" % s, "msg/s", True))
    for s in args.sessions:
        figs.append(("w2_s%d" % s, "2 local 100 KiB S=%d" % s, "msg/s", True))
    figs.append(("w3", "3 relay 4 KiB S=%d" % args.relay_sessions, "msg/s",
                 True))
    for s in (1, args.relay_sessions):
        figs.append(("w4_s%d_p50" % s, "4 latency p50 S=%d" % s, "ms", False))
        figs.append(("w4_s%d_p99" % s, "4 latency p99 S=%d" % s, "ms", False))
    figs.append(("w5", "5 idle %d sessions, PSS" % args.idle, "MiB", False))
    figs.append(("w6_cpu", "6 CPU per 1000 msgs (S=%d)" % args.relay_sessions,
                 "s", False))
    figs.append(("w6_sync", "6 fsyncs per msg (S=%d)" % args.relay_sessions,
                 "1", False))
    figs.append(("w6_client", "6 smtp-source CPU per 1000 msgs",
                 "s", False))
    figs.append(("w6_machine", "6 machine CPU per 1000 msgs", "s", False))
    rs = args.relay_sessions
    figs.append(("w7", "7 submission+DKIM rsa-2048 4 KiB S=%d" % rs, "msg/s",
                 True))
    figs.append(("w7_cpu", "7 CPU per 1000 msgs, server+signer", "s",
                 False))
    figs.append(("w8_off", "8 tern signing off (no key) 4 KiB S=%d" % rs,
                 "msg/s", True))
    figs.append(("w8_on", "8 tern signing rsa-2048", "msg/s", True))
    figs.append(("w8_cost", "8 tern throughput lost to rsa-2048", "%",
                 False))
    figs.append(("w8_ed", "8 tern signing ed25519", "msg/s", True))
    figs.append(("w8_ed_cost", "8 tern throughput lost to ed25519", "%",
                 False))
    figs.append(("w8_off_cpu", "8 tern CPU per 1000 msgs, signing off", "s",
                 False))
    figs.append(("w8_on_cpu", "8 tern CPU per 1000 msgs, rsa-2048", "s",
                 False))
    figs.append(("w8_ed_cpu", "8 tern CPU per 1000 msgs, ed25519", "s",
                 False))
    figs.append(("w9_off", "9 tern observability off 4 KiB S=%d" % rs,
                 "msg/s", True))
    figs.append(("w9_on", "9 tern observability on (journal, events, HTTP)",
                 "msg/s", True))
    figs.append(("w9_cost", "9 tern throughput lost to observability", "%",
                 False))
    figs.append(("w9_off_cpu", "9 tern CPU per 1000 msgs, observability off",
                 "s", False))
    figs.append(("w9_on_cpu", "9 tern CPU per 1000 msgs, observability on",
                 "s", False))
    figs.append(("w9_cpu_cost", "9 tern CPU per message added by "
                 "observability", "%", False))
    figs.append(("w9_emit_us", "9 obs_emit: CPU per message added "
                 "(journal + event socket, no disk noise)", "us", False))
    figs.append(("w9_emit_cost", "9 obs_emit: that CPU against tern's "
                 "CPU per message (off runs)", "%", False))
    figs.append(("w10", "10 local 4 KiB S=%d, one accept-all milter" % rs,
                 "msg/s", True))
    figs.append(("w10_cpu", "10 CPU per 1000 msgs, server+milter", "s",
                 False))
    figs.append(("w10_mcpu", "10 CPU per 1000 msgs, the milter's own", "s",
                 False))
    figs.append(("w10_off", "10 tern without the milter", "msg/s", True))
    figs.append(("w10_cost", "10 tern throughput lost to the milter", "%",
                 False))
    figs.append(("w10_off_cpu", "10 tern CPU per 1000 msgs, no milter", "s",
                 False))
    figs.append(("w10_cpu_cost", "10 tern CPU per message added by the "
                 "milter (tern+milter)", "%", False))
    return figs


def workload_of(key):
    """The workload number of a figure key: "w10_cpu" -> 10."""
    return int(re.match(r"w(\d+)", key).group(1))


# Figures measured on tern alone (signing on against off): no Postfix cell.
W9_FIGURES = ("w9_off", "w9_on", "w9_cost", "w9_off_cpu", "w9_on_cpu",
              "w9_cpu_cost", "w9_emit_us", "w9_emit_cost")
W10_TERN_ONLY = ("w10_off", "w10_cost", "w10_off_cpu", "w10_cpu_cost")
TERN_ONLY = ("w8_off", "w8_on", "w8_cost", "w8_ed", "w8_ed_cost",
             "w8_off_cpu", "w8_on_cpu", "w8_ed_cpu") + W9_FIGURES + \
    W10_TERN_ONLY


class Results:
    def __init__(self):
        self.runs = {}   # (server, key) -> list of values
        self.extra = {}  # (server, key) -> list of dicts (raw run data)
        self.errors = {}  # (server, key) -> message
        self.na = {}  # (server, key) -> why the figure does not apply
        self.notes = []  # said under the table, as they are

    def add(self, server, key, value, raw=None):
        self.runs.setdefault((server, key), []).append(value)
        if raw is not None:
            self.extra.setdefault((server, key), []).append(raw)

    def fail(self, server, key, msg):
        self.errors.setdefault((server, key), msg)

    def summary(self, server, key):
        vals = self.runs.get((server, key))
        if not vals:
            return None
        return (statistics.median(vals), min(vals), max(vals), len(vals))


def fmt_num(v):
    if v is None:
        return "-"
    if v >= 100:
        return "%.0f" % v
    if v >= 10:
        return "%.1f" % v
    return "%.2f" % v


def cell(res, server, key, unavailable):
    if unavailable.get(server):
        return "n/a"
    s = res.summary(server, key)
    if s is None:
        return "error" if (server, key) in res.errors else "n/a"
    med, lo, hi, n = s
    text = fmt_num(med) if n == 1 else "%s [%s..%s]" % (
        fmt_num(med), fmt_num(lo), fmt_num(hi))
    # Idle sessions: say so when fewer than asked for were held.
    held = [r["held"] for r in res.extra.get((server, key), [])
            if "held" in r and r["held"] < r["wanted_total"]]
    if held:
        text += " (held %d)" % min(held)
    return text


def ratio(res, key, better_high, unavailable):
    if unavailable.get("tern") or unavailable.get("postfix"):
        return "-"
    p, t = res.summary("postfix", key), res.summary("tern", key)
    if not p or not t or p[0] <= 0 or t[0] <= 0:
        return "-"
    r = t[0] / p[0] if better_high else p[0] / t[0]
    return "%.2fx" % r


# ---------------------------------------------------------------------------
# Machine description.

def read_first(path, default=""):
    try:
        with open(path) as f:
            return f.read().strip()
    except OSError:
        return default


def cpu_busy_pct(seconds=2.0):
    """Share of all CPUs busy over `seconds` (/proc/stat), before we start
    anything: other work, even at idle priority, skews every figure."""
    def sample():
        f = read_first("/proc/stat").splitlines()[0].split()[1:]
        v = [int(x) for x in f]
        idle = v[3] + (v[4] if len(v) > 4 else 0)
        return sum(v[:8]), idle
    try:
        t0, i0 = sample()
        time.sleep(seconds)
        t1, i1 = sample()
    except (ValueError, IndexError):
        return None
    if t1 <= t0:
        return None
    return round(100.0 * (1 - (i1 - i0) / float(t1 - t0)), 1)


BUSY_WARN_PCT = 10.0


def create_cost_us(n=500):
    """Microseconds of one empty-file create in WORK, as the servers'
    spools and Maildirs pay it. On ext4 without a journal, creating a file
    scans past the inodes deleted in the last minutes (recently_deleted()
    in fs/ext4/ialloc.c), so this depends on the file churn before it."""
    d = os.path.join(WORK, "create-probe")
    os.makedirs(d, exist_ok=True)
    t0 = time.perf_counter()
    for i in range(n):
        os.close(os.open(os.path.join(d, "f%d" % i),
                         os.O_CREAT | os.O_WRONLY | os.O_EXCL, 0o600))
    us = (time.perf_counter() - t0) * 1e6 / n
    shutil.rmtree(d, ignore_errors=True)
    return round(us, 1)


def has_journal(dev):
    """Whether the ext4 file system on dev has a journal (a jbd2 thread
    per journaled device is listed in /proc/fs/jbd2 as NAME-N)."""
    base = os.path.basename(dev)
    try:
        return any(n.startswith(base + "-") for n in os.listdir("/proc/fs/jbd2"))
    except OSError:
        return None


def machine_info():
    mem_kib = 0
    for line in read_first("/proc/meminfo").splitlines():
        if line.startswith("MemTotal:"):
            mem_kib = int(line.split()[1])
    cpu = ""
    for line in read_first("/proc/cpuinfo").splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    disk = ""
    try:
        p = run(["df", "-hT", WORK], check=False, timeout=10)
        lines = p.stdout.strip().splitlines()
        if len(lines) >= 2:
            f = lines[1].split()
            dev = f[0]
            rot = read_first("/sys/block/%s/queue/rotational" %
                             os.path.basename(dev).rstrip("0123456789"), "?")
            disk = "%s %s, %s total, %s free, rotational=%s" % (
                dev, f[1], f[2], f[4], rot)
            j = has_journal(dev)
            if j is not None:
                disk += ", journal: %s" % ("yes" if j else "no")
    except (OSError, subprocess.TimeoutExpired):
        pass
    pf = ""
    try:
        pf = run(["postconf", "-h", "-d", "mail_version"], check=False,
                 timeout=10).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        pass
    rev = ""
    try:
        rev = run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"],
                  check=False, timeout=10).stdout.strip()
        if run(["git", "-C", ROOT, "diff", "--quiet", "HEAD", "--", "src"],
               check=False, timeout=30).returncode != 0:
            rev += " + uncommitted changes in src/"
    except (OSError, subprocess.TimeoutExpired):
        pass
    return {"host": platform.node(), "nproc": os.cpu_count(), "cpu": cpu,
            "memory_gib": round(mem_kib / 1048576.0, 1),
            "kernel": platform.release(), "disk": disk,
            "loadavg_at_start": read_first("/proc/loadavg"),
            "cpu_busy_at_start_pct": cpu_busy_pct(),
            "file_create_us": create_cost_us(),
            "postfix": pf, "tern_commit": rev,
            "python": platform.python_version()}


# ---------------------------------------------------------------------------
# Dependencies.

def have_pkg(pkg):
    p = subprocess.run(["dpkg-query", "-W", "-f=${Status}", pkg],
                       stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                       text=True)
    return "install ok installed" in p.stdout


def ensure_deps(args):
    want = ["postfix"]
    if 7 in args.workloads:  # Postfix's signer, opendkim-genkey
        want += ["opendkim", "opendkim-tools"]
    if 10 in args.workloads:  # bench/milter_accept.c, built with cc
        want += ["libmilter-dev", "gcc"]
    missing = [p for p in want if not have_pkg(p)]
    if shutil.which("perf") is None:
        missing.append("linux-perf")
    if not missing:
        return
    if args.no_install:
        raise BenchError("missing packages: " + " ".join(missing))
    log("installing: " + " ".join(missing))
    # "No configuration": the package must not set up (or start) a system
    # mail server on port 25; we run our own private instance.
    subprocess.run(["debconf-set-selections"], check=True, text=True,
                   input="postfix postfix/main_mailer_type select "
                         "No configuration\n", timeout=60)
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    subprocess.run(["apt-get", "update", "-qq"], check=False, env=env,
                   timeout=600)
    p = subprocess.run(["apt-get", "install", "-y", "-qq",
                        "--no-install-recommends"] + missing, env=env,
                       timeout=900)
    if p.returncode != 0 and "postfix" in missing:
        raise BenchError("apt-get install postfix failed")
    if "postfix" in missing and os.path.isdir("/run/systemd/system"):
        subprocess.run(["systemctl", "disable", "--now", "postfix.service"],
                       check=False, timeout=60, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
    stop_system_postfix()


def stop_system_postfix():
    """Make sure the distribution's own Postfix instance is not running."""
    pidfile = "/var/spool/postfix/pid/master.pid"
    pid = read_first(pidfile)
    if pid.isdigit() and os.path.exists("/proc/%s" % pid) and \
            os.path.exists("/etc/postfix/main.cf"):
        log("stopping the system postfix instance")
        subprocess.run(["postfix", "-c", "/etc/postfix", "stop"], check=False,
                       timeout=60, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)


# ---------------------------------------------------------------------------
# Main.

def parse_args(argv):
    ap = argparse.ArgumentParser(
        description="Benchmark tern against a tuned Postfix (issue 6).")
    ap.add_argument("--runs", type=int, default=3,
                    help="runs per figure (default 3)")
    ap.add_argument("--messages", type=int, default=10000,
                    help="messages per throughput run (default 10000)")
    ap.add_argument("--latency-messages", type=int, default=None,
                    help="messages per latency run (default: --messages/2)")
    ap.add_argument("--idle", type=int, default=10000,
                    help="idle sessions for workload 5 (default 10000)")
    ap.add_argument("--sessions", default="1,10,50,100",
                    help="session counts for workloads 1-2")
    ap.add_argument("--relay-sessions", type=int, default=50,
                    help="sessions for workloads 3, 4 (second), 6")
    ap.add_argument("--workloads", default="1,2,3,4,5,6,7,8,9,10",
                    help="which workloads to run (default all)")
    ap.add_argument("--servers", default="postfix,tern",
                    help="which servers to run (default postfix,tern)")
    ap.add_argument("--quick", action="store_true",
                    help="smoke run: 2000 messages, 1 run, 1000 idle")
    ap.add_argument("--tern-bin", default=os.path.join(ROOT, "build", "tern"))
    ap.add_argument("--no-install", action="store_true",
                    help="do not apt-get install missing packages")
    ap.add_argument("--no-results", action="store_true",
                    help="do not write bench/results/")
    ap.add_argument("--postfix-log", choices=("file", "syslog"),
                    default="file",
                    help="Postfix logs to bench/work/postfix/maillog via "
                         "postlogd (default) or to syslog(3)")
    ap.add_argument("--reuse", action="store_true",
                    help="smtp-source -d: many messages per connection "
                         "(default: one connection per message)")
    ap.add_argument("--obs-on", default="",
                    help="workload 9: change the \"on\" mode, e.g. "
                         "events_socket=off or journal=off,http_listen=off "
                         "(default: all on)")
    ap.add_argument("-v", "--verbose", action="store_true")
    args = ap.parse_args(argv)
    if args.quick:
        args.messages = min(args.messages, 2000)
        args.runs = 1
        args.idle = min(args.idle, 1000)
    if args.latency_messages is None:
        args.latency_messages = max(100, args.messages // 2)
    args.sessions = [int(x) for x in args.sessions.split(",") if x]
    args.workloads = {int(x) for x in args.workloads.split(",") if x}
    args.servers = [x for x in args.servers.split(",") if x]
    for name, v, lo, hi in (("--runs", args.runs, 1, 100),
                            ("--messages", args.messages, 10, 1000000),
                            ("--latency-messages", args.latency_messages,
                             10, 1000000),
                            ("--idle", args.idle, 1, 30000),
                            ("--relay-sessions", args.relay_sessions, 1,
                             1000)):
        if not lo <= v <= hi:
            ap.error("%s must be in %d..%d" % (name, lo, hi))
    if any(not 1 <= s <= 1000 for s in args.sessions):
        ap.error("--sessions must be in 1..1000")
    if not set(args.servers) <= {"postfix", "tern"}:
        ap.error("--servers takes postfix and/or tern")
    obs_on = {}
    for item in filter(None, args.obs_on.split(",")):
        k, _, v = item.partition("=")
        if k not in ("journal", "events_socket", "http_listen") or \
                v not in ("on", "off"):
            ap.error("--obs-on takes journal, events_socket, http_listen "
                     "= on or off")
        obs_on[k] = v
    args.obs_on = obs_on
    return args


def idle_limit(n):
    """Sessions Postfix can hold: one smtpd each (1.25 MiB PSS measured,
    1.5 MiB assumed), in at most 65% of the memory available now."""
    avail = 0
    for line in read_first("/proc/meminfo").splitlines():
        if line.startswith("MemAvailable:"):
            avail = int(line.split()[1])
    fit = int(avail * 0.65 / (1.5 * 1024))
    pid_max = int(read_first("/proc/sys/kernel/pid_max", "32768"))
    return max(1, min(n, fit, pid_max // 2))


def bench(args, res, servers, sink, unavailable, use_perf,
          signing=(None, None), obs=None, milter=(None, None, None, None)):
    live = [s for s in servers if not unavailable.get(s.name)]

    def each_run(key, fn):
        for i in range(args.runs):
            for srv in live:
                if unavailable.get(srv.name) or \
                        (srv.name, key) in res.errors:
                    continue
                try:
                    value, raw = fn(srv)
                    if value is None:
                        continue
                    res.add(srv.name, key, value, raw)
                    log("%-8s %-12s run %d: %s" % (srv.name, key, i + 1,
                                                    fmt_num(value)))
                except BenchError as e:
                    log("%-8s %-12s run %d failed: %s" % (srv.name, key,
                                                          i + 1, e))
                    res.fail(srv.name, key, str(e))
                    if srv.root_pid() is None:
                        unavailable[srv.name] = "died during %s: %s" % (
                            key, e)

    if 1 in args.workloads:
        for s in args.sessions:
            def w1(srv, s=s):
                r = local_delivery(srv, s, args.messages, 4 * KIB)
                return r["msgs_per_s"], r
            each_run("w1_s%d" % s, w1)
    if 2 in args.workloads:
        for s in args.sessions:
            def w2(srv, s=s):
                r = local_delivery(srv, s, args.messages, 100 * KIB)
                return r["msgs_per_s"], r
            each_run("w2_s%d" % s, w2)
    if 3 in args.workloads:
        def w3(srv):
            if not srv.relay_ok:
                res.na[(srv.name, "w3")] = "relay not available: " + \
                    getattr(srv, "relay_note", "")
                return None, None
            r = relay(srv, sink, args.relay_sessions, args.messages, 4 * KIB)
            return r["msgs_per_s"], r
        each_run("w3", w3)
    if 4 in args.workloads:
        for s in (1, args.relay_sessions):
            def w4(srv, s=s):
                r = latency(srv, s, args.latency_messages, 4 * KIB)
                res.add(srv.name, "w4_s%d_p99" % s, r["p99_ms"], r)
                return r["p50_ms"], r
            each_run("w4_s%d_p50" % s, w4)
    if 6 in args.workloads:
        def w6(srv):
            r = local_delivery(srv, args.relay_sessions, args.messages,
                               4 * KIB, sync_counter=use_perf)
            if "fsync_per_msg" in r:
                res.add(srv.name, "w6_sync", r["fsync_per_msg"], r)
            res.add(srv.name, "w6_client", r["client_cpu_s_per_1000"], r)
            res.add(srv.name, "w6_machine", r["machine_cpu_s_per_1000"], r)
            return r["cpu_s_per_1000"], r
        each_run("w6_cpu", w6)
        if not use_perf:
            for srv in live:
                res.fail(srv.name, "w6_sync", "perf not available")
    if 7 in args.workloads or 8 in args.workloads:
        bench_signing(args, res, *signing)
    if 9 in args.workloads and obs:
        bench_obs(args, res, obs)
    if 10 in args.workloads and milter[0]:
        bench_milter(args, res, *milter)
    if 5 in args.workloads:
        # Last: Postfix's idle smtpd processes linger for max_idle.
        raise_nofile(args.idle)

        def w5(srv):
            if srv.name == "postfix":
                srv.drop_idle_daemons()
            n = idle_limit(args.idle) if srv.name == "postfix" else args.idle
            # Postfix forks a smtpd per session: about 35/s here.
            r = idle_sessions(srv, n, timeout=60 + n / 20.0)
            r["wanted_total"] = args.idle
            if r["held"] < args.idle:
                log("%s held %d of %d idle sessions" % (srv.name, r["held"],
                                                         args.idle))
            return r["pss_mib"], r
        each_run("w5", w5)


def start_signing(args, res, servers, extras, sink_port):
    """Workloads 7 and 8: OpenDKIM for Postfix's signing listener, and
    the second tern; each probed (signed, verified). Returns the views
    (postfix, tern), None for a side that is not measured; a side that
    fails gets the reason in each of its figures."""
    pf_view = tn_view = None
    pf = next((s for s in servers if s.name == "postfix" and s.started),
              None)
    if 7 in args.workloads and "postfix" in args.servers:
        try:
            if pf is None:
                raise BenchError("postfix is not running")
            od = OpenDkim(pf.milter_port)
            extras.append(od)
            od.setup()
            od.start()
            view = SigningView(pf, pf.dkim_port, [od])
            view.verify = dkim_verifier(txt_record_value(read_first(
                os.path.join(od.dir, DKIM_SELECTOR + ".txt"))))
            probe_signing(view, SIGN_SENDER, True, view.verify)
            pf_view = view
        except (BenchError, OSError, subprocess.TimeoutExpired) as e:
            log("postfix+opendkim: not available (%s)" % e)
            for k in ("w7", "w7_cpu"):
                res.fail("postfix", k, "postfix+opendkim: %s" % e)
    if "tern" in args.servers:
        tn = TernSubmit(args, sink_port)
        extras.append(tn)
        try:
            tn.setup()
            tn.start()
            view = SigningView(tn, tn.port)
            view.verify = dkim_verifier(txt_record_value(tn.record))
            probe_signing(view, SIGN_SENDER, True, view.verify)
            if 8 in args.workloads:
                probe_signing(view, SENDER, False, None)
                view.ed_verify = dkim_verifier(
                    txt_record_value(tn.ed_record), ED_DOMAIN)
                probe_signing(view, ED_SENDER, True, view.ed_verify,
                              domain=ED_DOMAIN, alg="ed25519-sha256")
            tn_view = view
        except (BenchError, OSError, subprocess.TimeoutExpired) as e:
            log("tern (signing): not available (%s)" % e)
            for k in ("w7", "w7_cpu") + TERN_ONLY:
                res.fail("tern", k, "tern signing: %s" % e)
    return pf_view, tn_view


def bench_signing(args, res, pf_view, tn_view):
    """Workloads 7 and 8, interleaved per run: Postfix+OpenDKIM signed,
    then tern signed and tern unsigned (the order of these two alternates
    between runs). Every run's delivered files are checked (dkim_check)."""
    w7, w8 = 7 in args.workloads, 8 in args.workloads
    rs = args.relay_sessions

    def measure(view, key, i, sender, signed, domain=DOMAIN,
                alg="rsa-sha256"):
        if view is None or (view.name, key) in res.errors:
            return None
        verify = view.ed_verify if domain == ED_DOMAIN else view.verify
        try:
            if view.root_pid() is None:
                raise BenchError("%s is not running" % view.name)
            r = local_delivery(view, rs, args.messages, 4 * KIB,
                               sender=sender, min_rate=SIGN_MIN_RATE,
                               check=dkim_check(signed, verify,
                                                domain=domain, alg=alg))
        except BenchError as e:
            log("%-8s %-12s run %d failed: %s" % (view.name, key, i + 1, e))
            res.fail(view.name, key, str(e))
            return None
        log("%-8s %-12s run %d: %s (CPU %.2f s/1000)" % (
            view.name, key, i + 1, fmt_num(r["msgs_per_s"]),
            r["cpu_s_per_1000"]))
        return r

    for i in range(args.runs):
        if w7:
            r = measure(pf_view, "w7", i, SIGN_SENDER, True)
            if r:
                res.add("postfix", "w7", r["msgs_per_s"], r)
                res.add("postfix", "w7_cpu", r["cpu_s_per_1000"], r)
        # tern: RSA signed, unsigned, Ed25519 signed; the order rotates
        # between runs so that no mode always follows Postfix.
        modes = ["rsa", "off", "ed"] if w8 else ["rsa"]
        k = i % len(modes)
        got = {}
        for mode in modes[k:] + modes[:k]:
            r = measure(tn_view, TERN_MODES[mode][0] if mode != "rsa" or
                        not w7 else "w7", i, *TERN_MODES[mode][1:])
            if r is None:
                continue
            got[mode] = r["msgs_per_s"]
            if mode == "rsa" and w7:
                res.add("tern", "w7", r["msgs_per_s"], r)
                res.add("tern", "w7_cpu", r["cpu_s_per_1000"], r)
            if w8:
                res.add("tern", TERN_MODES[mode][0], r["msgs_per_s"], r)
                res.add("tern", TERN_MODES[mode][0] + "_cpu",
                        r["cpu_s_per_1000"], r)
        for mode, key in (("rsa", "w8_cost"), ("ed", "w8_ed_cost")):
            if w8 and mode in got and "off" in got:
                # Paired per run: measured back to back.
                cost = (got["off"] - got[mode]) * 100.0 / got["off"]
                res.add("tern", key, cost, {"on": got[mode],
                                            "off": got["off"]})
                log("tern     %-12s run %d: %.1f%%" % (key, i + 1, cost))


# tern's modes in workload 8: figure key, MAIL FROM (and header From),
# dkim_check arguments.
TERN_MODES = {
    "rsa": ("w8_on", SIGN_SENDER, True, DOMAIN, "rsa-sha256"),
    "off": ("w8_off", SENDER, False, DOMAIN, "rsa-sha256"),
    "ed": ("w8_ed", ED_SENDER, True, ED_DOMAIN, "ed25519-sha256"),
}


def start_obs(args, res, extras, sink_port):
    """Workload 9: tern for it, probed in both modes (ten messages
    delivered and synced; in "on" the journal has 3 lines a message,
    the event socket exists and HTTP answers if this build has the
    listener; in "off" neither file is there). Returns the instance, or
    None with the reason in each w9 figure."""
    tn = TernObs(args, sink_port)
    extras.append(tn)
    try:
        tn.setup()
        for mode in OBS_MODES:
            tn.restart(mode)
            if tn.has("http_listen") and not tn.http_ok:
                log("tern (observability on): " + tn.http_note)
                res.notes.append("workload 9: " + tn.http_note)
            cursor = JournalCursor(tn.journal)
            probe_delivery(tn, False)
            if tn.has("journal"):
                journal_check(cursor, 10)
            obs_files_check(tn, cursor)
    except (BenchError, OSError, subprocess.TimeoutExpired) as e:
        log("tern (observability): not available (%s)" % e)
        for k in W9_FIGURES:
            res.fail("tern", k, "tern observability: %s" % e)
        return None
    return tn


def obs_emit_cost(args, res):
    """Workload 9's quiet figure: bench/obs_emit.c (built next to tern
    as src/obs/obs_emit) emits the events of 200,000 messages with the
    counters only, then with the journal and the event socket, and says
    the CPU each costs per message. Throughput on a shared VM disk moves
    by tens of per cent between runs; this does not, and set against
    tern's own CPU per message (the off runs' median) it is the cost."""
    exe = os.path.join(os.path.dirname(args.tern_bin), "src", "obs",
                       "obs_emit")
    if not os.access(exe, os.X_OK):
        for k in ("w9_emit_us", "w9_emit_cost"):
            res.fail("tern", k, "%s not built" % exe)
        return
    for i in range(args.runs):
        d = tempfile.mkdtemp(prefix="obs-emit-", dir=WORK)
        try:
            out = run([exe, d, "200000"], timeout=300).stdout
        except (BenchError, subprocess.SubprocessError, OSError) as e:
            res.fail("tern", "w9_emit_us", str(e))
            return
        finally:
            shutil.rmtree(d, ignore_errors=True)
        kv = dict(x.split("=", 1) for x in out.split())
        added = float(kv["added_us"])
        res.add("tern", "w9_emit_us", added, kv)
        log("tern     %-12s run %d: %.2f us per message" % (
            "w9_emit_us", i + 1, added))


def obs_emit_share(res):
    """w9_emit_cost: the median added CPU against the off runs' median
    CPU per message."""
    adds = res.runs.get(("tern", "w9_emit_us"), [])
    offs = res.runs.get(("tern", "w9_off_cpu"), [])
    if not adds or not offs:
        return
    per_msg_us = statistics.median(offs) * 1000.0  # s/1000 -> us/msg
    share = statistics.median(adds) * 100.0 / per_msg_us
    res.add("tern", "w9_emit_cost", share, {"tern_us_per_msg": per_msg_us})
    log("tern     %-12s %.2f%% of %.0f us per message" % (
        "w9_emit_cost", share, per_msg_us))


def bench_obs(args, res, tn):
    """Workload 9, tern's observability off against on: per run, the two
    modes back to back, the order alternating between runs, the cost
    paired per run. Before each measurement tern restarts with the
    mode's configuration and gets a warm-up load, so both modes start
    alike. Every "on" run is checked against the journal and the
    scraper, every "off" run for the absence of both."""
    rs = args.relay_sessions

    def warm_up(mode):
        cursor = JournalCursor(tn.journal)
        local_delivery(tn, rs, W9_WARMUP, 4 * KIB)
        if tn.has("journal"):  # and its last "removed" lines are written
            journal_check(cursor, W9_WARMUP)

    def measure(mode, i):
        key = "w9_" + mode
        if ("tern", key) in res.errors:
            return None
        scraper = None
        try:
            tn.restart(mode)
            warm_up(mode)
            load = os.getloadavg()
            cursor = JournalCursor(tn.journal)
            if tn.has("http_listen") and tn.http_ok:
                scraper = Scraper(tn.http_port)
            try:
                r = local_delivery(tn, rs, args.messages, 4 * KIB)
            finally:
                scraped = scraper.stop() if scraper else None
            if scraped:
                r.update(scraped)
            if tn.has("journal"):
                r.update(journal_check(cursor, args.messages))
            obs_files_check(tn, cursor)
        except BenchError as e:
            log("tern     %-12s run %d failed: %s" % (key, i + 1, e))
            res.fail("tern", key, str(e))
            return None
        r["loadavg"] = load
        log("tern     %-12s run %d: %s (CPU %.2f s/1000, load %.2f)%s" % (
            key, i + 1, fmt_num(r["msgs_per_s"]), r["cpu_s_per_1000"],
            load[0], " journal %d lines, %d scrapes" % (
                r.get("journal_lines", 0), r.get("scrapes", 0))
            if mode == "on" else ""))
        res.add("tern", key, r["msgs_per_s"], r)
        res.add("tern", key + "_cpu", r["cpu_s_per_1000"], r)
        return r

    obs_emit_cost(args, res)
    for i in range(args.runs):
        order = OBS_MODES if i % 2 == 0 else OBS_MODES[::-1]
        got = {}
        for mode in order:
            r = measure(mode, i)
            if r is not None:
                got[mode] = r
        if len(got) == 2:
            # Paired per run: measured back to back. On a busy machine
            # throughput follows the neighbours' load; the CPU tern
            # spends per message follows it much less, so both are kept.
            off, on = got["off"]["msgs_per_s"], got["on"]["msgs_per_s"]
            cost = (off - on) * 100.0 / off
            off_cpu = got["off"]["cpu_s_per_1000"]
            cpu_cost = (got["on"]["cpu_s_per_1000"] - off_cpu) * 100.0 / \
                off_cpu
            raw = {"on": on, "off": off, "order": list(order),
                   "cpu_cost": cpu_cost, "loadavg": os.getloadavg()}
            res.add("tern", "w9_cost", cost, raw)
            res.add("tern", "w9_cpu_cost", cpu_cost, raw)
            log("tern     %-12s run %d: %.1f%%, CPU %+.1f%% (order %s)" % (
                "w9_cost", i + 1, cost, cpu_cost, ", ".join(order)))
    obs_emit_share(res)


def milter_check(milter, before, messages, through, size):
    """check() for local_delivery in workload 10: exactly `messages` files,
    none shorter than the body sent (a file cut short is not delivered),
    and the milter saw an end of message for each (through its listener)
    or none (through the plain one). before is milter.counts() taken just
    before the run; every server answers the final dot only after the
    milter's EOM reply, so the count is complete when the files are."""
    def check(newdirs):
        n = short = 0
        for d in newdirs:
            with os.scandir(d) as it:
                for e in it:
                    n += 1
                    if e.stat().st_size < size:
                        short += 1
        if n != messages:
            raise BenchError("%d files delivered for %d messages" % (
                n, messages))
        if short:
            raise BenchError("%d of %d delivered files are shorter than "
                             "the %d-byte body" % (short, n, size))
        seen = milter.counts()["eom"] - before["eom"]
        want = messages if through else 0
        if seen != want:
            raise BenchError("the milter saw %d ends of message in a run "
                             "of %d %s it" % (seen, messages, "through"
                                               if through else "without"))
        milter.expected += seen  # checked: the totals on exit must match
        return {"files": n, "milter_eom": seen}
    return check


def probe_milter(view, milter, through):
    """Ten messages through a workload-10 listener: all delivered, each
    seen by the milter (or none, on tern's listener without it)."""
    newdirs = [view.maildir_new(u) for u in USERS]
    empty_dirs(view.maildirs())
    before = milter.counts()
    deadline = time.monotonic() + 15
    run_source(view.port, 10, 10, 1 * KIB,
               lambda u: "%s@%s" % (u, DOMAIN), deadline)
    wait_count(lambda: count_files(newdirs), 10, deadline,
               "%s milter probe deliveries" % view.name)
    milter_check(milter, before, 10, through, 1 * KIB)(newdirs)
    empty_dirs(view.maildirs())


def start_milter_bench(args, res, servers, extras, sink_port, milter_port):
    """Workload 10: the milter (built and started), Postfix's milter
    listener and a tern with two listeners, each probed. Returns (milter,
    postfix view, tern view through the milter, tern view without); None
    for what is not measured, with the reason in its figures."""
    pf_view = tn_on = tn_off = None
    milter = MilterAccept(milter_port)
    extras.append(milter)
    try:
        milter.setup()
        milter.start()
    except (BenchError, OSError, subprocess.TimeoutExpired) as e:
        log("milter_accept: not available (%s)" % e)
        for srv in ("postfix", "tern"):
            for k in ("w10", "w10_cpu", "w10_mcpu") + W10_TERN_ONLY:
                res.fail(srv, k, "milter_accept: %s" % e)
        return None, None, None, None
    pf = next((s for s in servers if s.name == "postfix" and s.started),
              None)
    if "postfix" in args.servers:
        try:
            if pf is None:
                raise BenchError("postfix is not running")
            view = SigningView(pf, pf.accept_port, [milter])
            probe_milter(view, milter, True)
            pf_view = view
        except (BenchError, OSError, subprocess.TimeoutExpired) as e:
            log("postfix+milter: not available (%s)" % e)
            for k in ("w10", "w10_cpu", "w10_mcpu"):
                res.fail("postfix", k, "postfix+milter: %s" % e)
    if "tern" in args.servers:
        tn = TernMilter(args, sink_port, milter_port)
        extras.append(tn)
        try:
            tn.setup()
            tn.start()
            view = SigningView(tn, tn.port, [milter])
            probe_milter(view, milter, False)
            tn_off = view
        except (BenchError, OSError, subprocess.TimeoutExpired) as e:
            log("tern (milter bench): not available (%s)" % e)
            for k in ("w10", "w10_cpu", "w10_mcpu") + W10_TERN_ONLY:
                res.fail("tern", k, "tern: %s" % e)
        if tn_off is not None:
            try:
                view = SigningView(tn, tn.filtered_port, [milter])
                probe_milter(view, milter, True)
                tn_on = view
            except (BenchError, OSError, subprocess.TimeoutExpired) as e:
                log("tern+milter: not available (%s)" % e)
                for k in ("w10", "w10_cpu", "w10_mcpu", "w10_cost",
                          "w10_cpu_cost"):
                    res.fail("tern", k, "tern+milter: %s" % e)
    return milter, pf_view, tn_on, tn_off


def bench_milter(args, res, milter, pf_view, tn_on, tn_off):
    """Workload 10, per run: Postfix + milter, then tern through the milter
    and tern without it, back to back (their order alternates between
    runs). Every run's files are counted and the milter's ends of message
    checked (milter_check); tern's cost is paired per run."""
    rs = args.relay_sessions

    def measure(view, key, i, through):
        if view is None or (view.name, key) in res.errors:
            return None
        try:
            if view.root_pid() is None:
                raise BenchError("%s is not running" % view.name)
            before = milter.counts()
            load = os.getloadavg()
            r = local_delivery(view, rs, args.messages, 4 * KIB,
                               check=milter_check(milter, before,
                                                  args.messages, through,
                                                  4 * KIB))
        except BenchError as e:
            log("%-8s %-12s run %d failed: %s" % (view.name, key, i + 1, e))
            res.fail(view.name, key, str(e))
            return None
        r["loadavg"] = load
        log("%-8s %-12s run %d: %s (CPU %.2f s/1000, milter's %.2f)" % (
            view.name, key, i + 1, fmt_num(r["msgs_per_s"]),
            r["cpu_s_per_1000"], r.get("milteraccept_cpu_s_per_1000", 0)))
        return r

    def add(server, key, r):
        res.add(server, key, r["msgs_per_s"], r)
        res.add(server, key + "_cpu", r["cpu_s_per_1000"], r)

    for i in range(args.runs):
        r = measure(pf_view, "w10", i, True)
        if r:
            add("postfix", "w10", r)
            res.add("postfix", "w10_mcpu", r["milteraccept_cpu_s_per_1000"],
                    r)
        got = {}
        order = W10_MODES if i % 2 == 0 else W10_MODES[::-1]
        for mode in order:
            through = mode == "milter"
            key = "w10" if through else "w10_off"
            r = measure(tn_on if through else tn_off, key, i, through)
            if r is None:
                continue
            got[mode] = r
            add("tern", key, r)
            if through:
                res.add("tern", "w10_mcpu",
                        r["milteraccept_cpu_s_per_1000"], r)
        if len(got) == 2:
            on, off = got["milter"], got["plain"]
            cost = (off["msgs_per_s"] - on["msgs_per_s"]) * 100.0 / \
                off["msgs_per_s"]
            cpu_cost = (on["cpu_s_per_1000"] - off["cpu_s_per_1000"]) * \
                100.0 / off["cpu_s_per_1000"]
            raw = {"on": on["msgs_per_s"], "off": off["msgs_per_s"],
                   "order": list(order), "cpu_cost": cpu_cost,
                   "loadavg": os.getloadavg()}
            res.add("tern", "w10_cost", cost, raw)
            res.add("tern", "w10_cpu_cost", cpu_cost, raw)
            log("tern     %-12s run %d: %.1f%%, CPU %+.1f%% (order %s)" % (
                "w10_cost", i + 1, cost, cpu_cost, ", ".join(order)))


def milter_notes(res):
    """Workload 10: the issue's line, and every pair."""
    out = []
    s = res.summary("tern", "w10_cost")
    if s:
        c = res.summary("tern", "w10_cpu_cost")
        out.append("tern: milter cost = %.1f%% of throughput (median of %d "
                   "paired runs [%.1f..%.1f]); CPU per message %+.1f%% "
                   "(tern + milter against tern alone)" % (
                       s[0], s[3], s[1], s[2], c[0]))
    for i, c in enumerate(res.extra.get(("tern", "w10_cost"), [])):
        out.append("w10 run %d (%s first): tern+milter %s msg/s, without "
                   "%s msg/s, cost %.1f%%, CPU per message %+.1f%%, load "
                   "%s" % (i + 1, c["order"][0], fmt_num(c["on"]),
                           fmt_num(c["off"]), res.runs[("tern",
                                                        "w10_cost")][i],
                           c["cpu_cost"],
                           " ".join("%.2f" % x for x in c["loadavg"])))
    if res.extra.get(("postfix", "w10")) or res.extra.get(("tern", "w10")):
        out.append("workload 10: every run in the table delivered exactly "
                   "its messages "
                   "(no file shorter than the body) and the milter counted "
                   "an end of message for each message sent through it "
                   "and none for tern's listener without it")
    return out


def render(args, res, unavailable, info, cmdline, started, elapsed):
    figs = figure_list(args)
    rows = []
    for key, label, unit, hib in figs:
        if workload_of(key) not in args.workloads:
            continue
        # Workloads 7-10 run their own instances (tern's second to
        # fourth ones, OpenDKIM, the milter): their failures are in
        # res.errors.
        unav = {} if workload_of(key) in (7, 8, 9, 10) else unavailable
        if key in TERN_ONLY:
            rows.append(("%s (%s)" % (label, unit), "-",
                         cell(res, "tern", key, unav), "-"))
            continue
        rows.append(("%s (%s)" % (label, unit),
                     cell(res, "postfix", key, unav),
                     cell(res, "tern", key, unav),
                     ratio(res, key, hib, unav)))
    head = ("workload", "postfix", "tern", "ratio")
    widths = [max(len(r[i]) for r in rows + [head]) for i in range(4)]
    text = []

    def line(r):
        return "| " + " | ".join(r[i].ljust(widths[i]) for i in range(4)) + \
            " |"
    text.append(line(head))
    text.append("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for r in rows:
        text.append(line(r))
    notes = []
    busy = info.get("cpu_busy_at_start_pct")
    if busy is not None and busy > BUSY_WARN_PCT:
        notes.append("the machine was not quiet: %.0f%% of the CPUs were "
                     "busy before the benchmark started (other work, even "
                     "at idle priority, takes CPU and cache from both "
                     "servers); figures may be low" % busy)
    for srv in ("postfix", "tern"):
        if unavailable.get(srv):
            notes.append("%s: not available (%s)" % (srv, unavailable[srv]))
    for (srv, key), msg in sorted(res.na.items()):
        if not unavailable.get(srv):
            notes.append("%s %s n/a: %s" % (srv, key, msg))
    for (srv, key), msg in sorted(res.errors.items()):
        if not unavailable.get(srv):
            notes.append("%s %s error: %s" % (srv, key, msg))
    for srv in ("postfix", "tern"):
        for raw in res.extra.get((srv, "w5"), []):
            notes.append("%s idle: held %d/%d sessions (opened in %.0f s) "
                         "in %d processes, PSS %.1f MiB (%.1f before, "
                         "%.0f KiB per session), RSS sum %.1f MiB" % (
                             srv, raw["held"], args.idle, raw["ramp_s"],
                             raw["processes"], raw["pss_mib"],
                             raw["pss_mib_before"],
                             raw["pss_kib_per_session"] or 0,
                             raw["rss_mib"]))
        for raw in res.extra.get((srv, "w6_sync"), []):
            notes.append("%s syncs per run: %s" % (srv, raw.get("syncs")))
    od = [r["opendkim_cpu_s_per_1000"]
          for r in res.extra.get(("postfix", "w7_cpu"), [])
          if "opendkim_cpu_s_per_1000" in r]
    if od:
        notes.append("postfix w7 CPU per 1000 msgs: OpenDKIM's share "
                     "%s (median of %d runs); the rest is Postfix's" % (
                         fmt_num(statistics.median(od)), len(od)))
    if 7 in args.workloads or 8 in args.workloads:
        notes.append("workloads 7-8: every run's delivered files were "
                     "checked for the DKIM-Signature asked for (or its "
                     "absence), and one per run verified by dkimpy" +
                     ("" if dkim_verifier("") else
                      " (python3-dkim missing: not verified)"))
    if 9 in args.workloads:
        notes += obs_notes(args, res)
    if 10 in args.workloads:
        notes += milter_notes(res)
    notes += res.notes
    return "\n".join(text), notes


def obs_notes(args, res):
    """Workload 9, run by run: both figures, the cost, the load."""
    out = []
    offs = res.extra.get(("tern", "w9_off"), [])
    ons = res.extra.get(("tern", "w9_on"), [])
    for i, c in enumerate(res.extra.get(("tern", "w9_cost"), [])):
        out.append("w9 run %d (%s first): off %s msg/s, on %s msg/s, "
                   "cost %.1f%%, CPU per message %+.1f%%, load %s" % (
                       i + 1, c["order"][0], fmt_num(c["off"]),
                       fmt_num(c["on"]), res.runs[("tern", "w9_cost")][i],
                       c["cpu_cost"],
                       " ".join("%.2f" % x for x in c["loadavg"])))
    scrapes = [r["scrapes"] for r in ons if "scrapes" in r]
    if ons and args.obs_on.get("journal", "on") == "on":
        out.append("workload 9: every \"on\" run's journal held exactly "
                   "accepted, delivered and removed for each message "
                   "(3 lines a message)")
    if ons:
        out.append("workload 9: " + (
            "the HTTP listener was scraped %d-%d times a run (GET %s "
            "once a second each)" % (min(scrapes), max(scrapes),
                                     " and ".join(SCRAPE_PATHS))
            if scrapes else "no HTTP scraping"))
    if offs:
        out.append("workload 9: \"off\" is journal = off, "
                   "events_socket = off, no http_listen (only the "
                   "metrics counters, which cannot be turned off); "
                   "\"on\" is %s; no webhook in either" % (
                       "tern's defaults (journal, events_socket with no "
                       "client) plus http_listen" if not args.obs_on else
                       "--obs-on " + ",".join("%s=%s" % kv for kv in
                                              sorted(args.obs_on.items()))
                       + ", the rest on"))
    return out


def write_machine_notes(f, info, notes, keys=None):
    """The "## Machine" and "## Notes" sections of a results .md file
    (every bench/ driver's): info's keys in `keys` order, or sorted."""
    f.write("## Machine\n\n")
    for k in (keys if keys is not None else sorted(info)):
        f.write("- %s: %s\n" % (k, info[k]))
    if notes:
        f.write("\n## Notes\n\n")
        for n in notes:
            f.write("- %s\n" % n)


def write_results(args, res, unavailable, info, cmdline, table, notes,
                  started, elapsed):
    os.makedirs(RESULTS, exist_ok=True)
    stem = "%s-%s%s" % (started.strftime("%Y-%m-%d"), info["host"],
                        "-quick" if args.quick else "")
    # A second run the same day gets its own files: results are records.
    base = stem
    for n in range(2, 100):
        if not os.path.exists(os.path.join(RESULTS, stem + ".md")):
            break
        stem = "%s-%d" % (base, n)
    md = os.path.join(RESULTS, stem + ".md")
    js = os.path.join(RESULTS, stem + ".json")
    with open(md, "w") as f:
        f.write("# Benchmark %s on %s\n\n" % (
            started.strftime("%Y-%m-%d %H:%M"), info["host"]))
        f.write("Command: `%s`  \n" % cmdline)
        f.write("Runs per figure: %d; messages per throughput run: %d; "
                "per latency run: %d; idle sessions: %d; took %.0f s.\n\n" % (
                    args.runs, args.messages, args.latency_messages,
                    args.idle, elapsed))
        f.write("Cells: median [min..max] over the runs. Ratio: how many "
                "times better tern is (tern/postfix for msg/s, "
                "postfix/tern for the rest); > 1 means tern wins.\n\n")
        f.write(table + "\n\n")
        write_machine_notes(f, info, notes, (
            "host", "nproc", "cpu", "memory_gib", "kernel", "disk",
            "file_create_us", "loadavg_at_start", "cpu_busy_at_start_pct",
            "loadavg_at_end", "postfix", "postfix_log", "tern_commit",
            "tern_bin", "connections", "python"))
    data = {"started": started.isoformat(timespec="seconds"),
            "command": cmdline, "elapsed_s": round(elapsed, 1),
            "machine": info,
            "settings": {"runs": args.runs, "messages": args.messages,
                         "latency_messages": args.latency_messages,
                         "idle": args.idle, "sessions": args.sessions,
                         "relay_sessions": args.relay_sessions,
                         "workloads": sorted(args.workloads),
                         "quick": args.quick},
            "unavailable": unavailable,
            "figures": {}}
    for key, label, unit, hib in figure_list(args):
        for srv in ("postfix", "tern"):
            s = res.summary(srv, key)
            entry = {"label": label, "unit": unit,
                     "higher_is_better": hib}
            if s:
                entry.update(median=s[0], min=s[1], max=s[2],
                             runs=res.runs[(srv, key)],
                             raw=res.extra.get((srv, key), []))
            if (srv, key) in res.errors:
                entry["error"] = res.errors[(srv, key)]
            if (srv, key) in res.na:
                entry["na"] = res.na[(srv, key)]
            data["figures"].setdefault(key, {})[srv] = entry
    with open(js, "w") as f:
        json.dump(data, f, indent=1, sort_keys=True, default=str)
        f.write("\n")
    return md, js


def main(argv):
    global _verbose, _reuse
    args = parse_args(argv)
    _verbose = args.verbose
    _reuse = args.reuse
    if os.geteuid() != 0:
        raise BenchError("run as root (private Postfix instance, apt-get)")
    cmdline = " ".join(["/usr/bin/python3", "bench/run.py"] + argv)
    started = datetime.datetime.now()
    t_start = time.monotonic()

    def on_term(signum, frame):
        raise KeyboardInterrupt
    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGHUP, on_term)
    # Also when started in the background, where SIGINT comes ignored.
    signal.signal(signal.SIGINT, signal.default_int_handler)

    ensure_deps(args)
    stop_system_postfix()
    use_perf = perf_works()
    if not use_perf:
        log("perf stat with syscall tracepoints does not work here: "
            "no fsync counts")
    os.makedirs(WORK, exist_ok=True)
    info = machine_info()
    tb = os.path.abspath(args.tern_bin)
    info["tern_bin"] = os.path.relpath(tb, ROOT) if \
        tb.startswith(ROOT + os.sep) else tb
    info["postfix_log"] = args.postfix_log
    info["connections"] = "reused (-d)" if args.reuse else "one per message"
    res = Results()
    unavailable = {}
    servers = []
    extras = []  # workloads 7-10: OpenDKIM, the signing tern, tern-obs,
    # the milter and tern-milter
    signing = (None, None)
    obs = None
    milter = (None, None, None, None)
    milter_port = free_port() if 10 in args.workloads else None
    sink = None
    try:
        sink = Sink(free_port())
        if "postfix" in args.servers:
            pf = Postfix(args, sink.port, milter_port)
            servers.append(pf)
            try:
                pf.setup()
                pf.start()
                probe_delivery(pf, use_perf)
                pf.relay_ok = probe_relay(pf, sink)
            except BenchError as e:
                unavailable["postfix"] = str(e)
                log("postfix: not available (%s)" % e)
        else:
            unavailable["postfix"] = "not selected"
        if "tern" in args.servers:
            tn = Tern(args, sink.port)
            servers.append(tn)
            try:
                raise_nofile(args.idle)  # tern inherits it
                tn.setup()
                tn.start()
                probe_delivery(tn, use_perf)
                tn.relay_ok = tn.with_routes and probe_relay(tn, sink)
                if not tn.relay_ok:
                    tn.relay_note = getattr(tn, "relay_note", "") or \
                        "no [routes] support yet"
            except (BenchError, OSError, subprocess.TimeoutExpired) as e:
                unavailable["tern"] = str(e)
                log("tern: not available (%s)" % e)
        else:
            unavailable["tern"] = "not selected"

        if 7 in args.workloads or 8 in args.workloads:
            signing = start_signing(args, res, servers, extras, sink.port)
        if 9 in args.workloads and "tern" in args.servers:
            obs = start_obs(args, res, extras, sink.port)
        if 10 in args.workloads:
            milter = start_milter_bench(args, res, servers, extras,
                                        sink.port, milter_port)
        bench(args, res, servers, sink, unavailable, use_perf, signing, obs,
              milter)
    finally:
        for srv in servers + extras:
            try:
                srv.stop()
            except Exception as e:  # keep stopping the others
                log("stopping %s: %s" % (srv.name, e))
        if sink:
            sink.stop()
        for p in _children:
            reap(p, grace=2)

    if milter[0] is not None:
        m = milter[0]
        if m.final is None:
            res.notes.append("milter_accept printed no totals on SIGTERM")
        else:
            res.notes.append("milter_accept's totals on SIGTERM: %d ends "
                             "of message; %d counted in the runs and probes "
                             "that passed their checks%s"
                             % (m.final["eom"], m.expected,
                                "" if m.final["eom"] == m.expected else
                                " (MISMATCH)"))
    elapsed = time.monotonic() - t_start
    info["loadavg_at_end"] = read_first("/proc/loadavg")
    table, notes = render(args, res, unavailable, info, cmdline, started,
                          elapsed)
    print()
    print(table)
    for n in notes:
        print("  " + n)
    if not args.no_results:
        md, js = write_results(args, res, unavailable, info, cmdline, table,
                               notes, started, elapsed)
        print("\nwritten: %s, %s" % (os.path.relpath(md, ROOT),
                                     os.path.relpath(js, ROOT)))
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except KeyboardInterrupt:
        log("interrupted; servers stopped")
        sys.exit(130)
    except BenchError as e:
        log("error: %s" % e)
        sys.exit(1)
