#!/usr/bin/python3
# SPDX-License-Identifier: ISC
"""bench/queue_scale.py - cost as the queue grows (issue 20).

Builds a queue of N deferred messages (default 100,000) in a tern of its
own, the way a real one grows: mail accepted over SMTP for a domain whose
[routes] next hop refuses every connection, so each message is tried
once, deferred, and waits for its retry. Then it measures, against the
targets of issue 20:

  restart   tern restarted with the N messages queued: seconds from exec
            to event=ready, to the first 250 for a new message, and to
            that message in its Maildir (target: accepts within 5 s);
            the same for a tern with an empty queue, for comparison
  list      `tern queue list` over the N messages: wall time and line
            count (target: under 2 s, N lines)
  accept    local delivery, connection reuse, S=50, 4 KiB (the main
            bench's row) into the tern with the N queued and into one with
            an empty queue, interleaved run by run; ratio full/empty
            (target: at least 0.8)

The queue is filled through tern itself (never by writing spool files),
over a submission listener that relays for 127.0.0.1; the measured tern
runs the main bench's configuration (one mx listener) on the same
data_dir. Retry times come from [queue] retry_initial (--retry-initial,
default 1 h) so that no retry pass runs during the measurement unless
asked for (--retry-initial 300 is tern's default).

Results go to bench/results/<date>-<host>-queue.md and .json. Every wait
is bounded; both terns are stopped on the way out. Uses bench/run.py's
helpers (Tern, run_source, local_delivery). Python 3 stdlib only.
Trust: runs as root on a developer machine; loopback only; writes only
under bench/work/queue_scale/ and bench/results/.
"""

import argparse
import datetime
import json
import os
import re
import signal
import smtplib
import statistics
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run as B  # noqa: E402  bench/run.py

WORK = os.path.join(B.WORK, "queue_scale")
DEFERRED_DOMAIN = "deferred.test"
SIZE = 4 * B.KIB
ACCEPT_RATIO_MIN = 0.8   # issue 20: within 20% of an empty queue
LIST_MAX_S = 2.0         # issue 20: `tern queue list` under 2 s
RESTART_MAX_S = 5.0      # issue 20: a restart accepts mail within 5 s
IDLE_CPU_S = 0.05        # tern is idle when it used less in IDLE_WINDOW_S
IDLE_WINDOW_S = 1.0
RECOVERY_WAIT_S = 300.0  # bound on the wait for the post-restart pass
LIST_TIMEOUT_S = 120.0   # bound on one `tern queue list`
RE_DEFERRED = re.compile(rb"event=deferred id=([0-9a-f]{20}) ")


class QTern(B.Tern):
    """One tern of this bench: `name` picks its directory under WORK.

    Its configuration is the main bench's (bench/run.py Tern) plus a
    [routes] entry sending DEFERRED_DOMAIN to a port where nothing
    listens, and [queue] retry_initial. With fill=True it also has a
    submission listener that relays for 127.0.0.1 (relay_networks): how
    the queue is filled. The measured configuration has no such listener,
    so the accept runs see exactly the main bench's server.
    """

    def __init__(self, args, name, dead_port):
        super().__init__(args, dead_port)
        self.name = "tern-" + name
        self.dir = os.path.join(WORK, name)
        self.conf = os.path.join(WORK, name + ".conf")
        self.data = os.path.join(self.dir, "data")
        self.logfile = os.path.join(self.dir, "tern.log")
        self.sub_port = B.free_port()
        self.fill = False
        self.with_routes = False  # the base class's relay.test route

    def conf_text(self):
        text = super().conf_text()
        if self.fill:
            # Top-level keys go before the first section.
            text = text.replace("\n[listener mx]",
                                "relay_networks = 127.0.0.1/32\n\n"
                                "[listener mx]", 1)
            text += ("\n[listener fill]\naddress = 127.0.0.1:%d\n"
                     "mode = submission\ntls = none\n" % self.sub_port)
        text += ("\n[routes]\n# Nothing listens there: every attempt is "
                 "deferred.\n%s = 127.0.0.1:%d\n" %
                 (DEFERRED_DOMAIN, self.sink_port))
        text += "\n[queue]\nretry_initial = %ds\nretry_max = %ds\n" % (
            self.args.retry_initial, max(self.args.retry_initial, 4000))
        return text

    def set_mode(self, fill):
        self.fill = fill
        self._write_conf()

    def log_size(self):
        try:
            return os.path.getsize(self.logfile)
        except OSError:
            return 0


def wait_idle(srv, limit):
    """Seconds from srv's exec (timed_start) until its CPU use drops
    below IDLE_CPU_S per IDLE_WINDOW_S (its start-up pass over the queue
    is over), and the CPU seconds it used since exec. Bounded by limit."""
    t0 = time.monotonic()
    last = B.server_cpu(srv)
    while time.monotonic() - t0 < limit:
        time.sleep(IDLE_WINDOW_S)
        c = B.server_cpu(srv)
        if c - last < IDLE_CPU_S:
            return time.monotonic() - srv.exec_at - IDLE_WINDOW_S, c
        last = c
    raise B.BenchError("%s still busy after %.0f s" % (srv.name, limit))


class DeferredCounter:
    """Distinct queue ids logged as event=deferred, read incrementally."""

    def __init__(self, srv):
        self.srv = srv
        self.pos = srv.log_size()
        self.ids = set()
        self.tail = b""

    def __call__(self):
        with open(self.srv.logfile, "rb") as f:
            f.seek(self.pos)
            data = f.read(64 * 1024 * 1024)
        self.pos += len(data)
        data = self.tail + data
        cut = data.rfind(b"\n") + 1
        self.tail = data[cut:]
        for m in RE_DEFERRED.finditer(data, 0, cut):
            self.ids.add(m.group(1))
        return len(self.ids)


def queue_list(srv):
    """(seconds, lines) of one `tern queue list`, output read and counted
    as a person's pipe into wc -l would."""
    t0 = time.monotonic()
    p = subprocess.run([srv.bin, "-c", srv.conf, "queue", "list"],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=LIST_TIMEOUT_S)
    dt = time.monotonic() - t0
    if p.returncode != 0:
        raise B.BenchError("tern queue list exit %d: %s" % (
            p.returncode, p.stderr.decode(errors="replace")[-300:]))
    return dt, p.stdout.count(b"\n")


def fill(args, srv):
    """Queue args.deferred messages to DEFERRED_DOMAIN through srv's
    submission listener; return (seconds, msg/s) once every one of them
    has been tried and deferred."""
    srv.set_mode(True)
    srv.start()
    counter = DeferredCounter(srv)
    n = args.deferred
    # Accepting and the first (refused) attempt: at least 100 msg/s.
    deadline = time.monotonic() + 60 + n / 100.0
    t0 = time.monotonic()
    B.run_source(srv.sub_port, args.sessions, n, SIZE,
                 lambda u: "%s@%s" % (u, DEFERRED_DOMAIN), deadline)
    t_sent = time.monotonic()
    t1 = B.wait_count(counter, n, deadline, "%d deferrals" % n)
    srv.stop()
    B.log("filled: %d messages accepted in %.1f s, all deferred after "
          "%.1f s" % (n, t_sent - t0, t1 - t0))
    return t1 - t0, n / (t_sent - t0)


def first_accept(port, user, deadline):
    """Monotonic time of the first 250 to a whole transaction on port
    (connecting again until then), or raise at deadline."""
    msg = B.message_body(1 * B.KIB, user)[:-3]  # smtplib adds the dot
    last = ""
    while time.monotonic() < deadline:
        try:
            with smtplib.SMTP("127.0.0.1", port, timeout=10) as s:
                s.sendmail(B.SENDER, ["%s@%s" % (user, B.DOMAIN)], msg)
            return time.monotonic()
        except (OSError, smtplib.SMTPException) as e:
            last = str(e)
            time.sleep(0.01)
    raise B.BenchError("no 250 before the deadline: %s" % last)


def timed_start(srv):
    """Start srv and time it: {ready_s, first_250_s, delivered_s} from
    exec. event=ready is read from the log; the first message is sent
    over SMTP as soon as a connection is taken, in parallel."""
    base = srv.log_size()
    newdir = srv.maildir_new(B.USERS[0])
    before = B.count_files([newdir])
    logf = open(srv.logfile, "ab")
    t0 = srv.exec_at = time.monotonic()
    try:
        srv.proc = B.spawn([srv.bin, "serve", "-c", srv.conf],
                           stdin=subprocess.DEVNULL, stdout=logf,
                           stderr=logf)
    finally:
        logf.close()
    srv.started = True
    deadline = t0 + 60
    t_ready = None

    def watch_ready():
        nonlocal t_ready
        while time.monotonic() < deadline and srv.proc.poll() is None:
            with open(srv.logfile, "rb") as f:
                f.seek(base)
                if b"event=ready" in f.read():
                    t_ready = time.monotonic()
                    return
            time.sleep(0.005)
    w = threading.Thread(target=watch_ready, daemon=True)
    w.start()
    t_250 = first_accept(srv.port, B.USERS[0], deadline)
    t_dlv = B.wait_count(lambda: B.count_files([newdir]), before + 1,
                         deadline, "first message after restart")
    w.join(max(0.1, deadline - time.monotonic()))
    if t_ready is None:
        raise B.BenchError("%s: no event=ready within 60 s: %s" % (
            srv.name, srv.log_tail()))
    return {"ready_s": t_ready - t0, "first_250_s": t_250 - t0,
            "delivered_s": t_dlv - t0}


def med(vals):
    return statistics.median(vals) if vals else None


def parse_args(argv):
    ap = argparse.ArgumentParser(
        description="tern with N deferred messages queued (issue 20)")
    ap.add_argument("--deferred", type=int, default=100000,
                    help="messages in the deferred queue (default 100000)")
    ap.add_argument("--messages", type=int, default=5000,
                    help="messages per accept run (default 5000)")
    ap.add_argument("--runs", type=int, default=3,
                    help="accept runs per server, interleaved (default 3)")
    ap.add_argument("--sessions", type=int, default=50,
                    help="smtp-source sessions (default 50)")
    ap.add_argument("--list-runs", type=int, default=3,
                    help="times `tern queue list` is timed (default 3)")
    ap.add_argument("--retry-initial", type=int, default=3600,
                    help="[queue] retry_initial in seconds (default 3600)")
    ap.add_argument("--keep", action="store_true",
                    help="reuse the queue a previous run filled, when it "
                         "holds --deferred messages")
    ap.add_argument("--quick", action="store_true",
                    help="20,000 deferred, 2,000 per run, 1 run")
    ap.add_argument("--tern-bin",
                    default=os.path.join(B.ROOT, "build", "tern"))
    ap.add_argument("--no-results", action="store_true")
    ap.add_argument("-v", "--verbose", action="store_true")
    args = ap.parse_args(argv)
    if args.quick:
        args.deferred = min(args.deferred, 20000)
        args.messages = min(args.messages, 2000)
        args.runs = 1
    for name, v, lo, hi in (("--deferred", args.deferred, 10, 1000000),
                            ("--messages", args.messages, 10, 1000000),
                            ("--runs", args.runs, 1, 50),
                            ("--list-runs", args.list_runs, 1, 50),
                            ("--sessions", args.sessions, 1, 1000),
                            ("--retry-initial", args.retry_initial, 1,
                             86400)):
        if not lo <= v <= hi:
            ap.error("%s must be in %d..%d" % (name, lo, hi))
    return args


def verdict(ok):
    return "PASS" if ok else "FAIL"


def render(args, r):
    n = args.deferred
    lines = []
    acc_full, acc_empty = med(r["accept_full"]), med(r["accept_empty"])
    ratio = acc_full / acc_empty if acc_full and acc_empty else None
    r["accept_ratio"] = ratio
    lines.append("| figure | empty queue | %d deferred | target | verdict |"
                 % n)
    lines.append("| --- | --- | --- | --- | --- |")

    def span(v):
        return "%.0f [%.0f..%.0f]" % (med(v), min(v), max(v))
    lines.append("| accept msg/s (local, reuse, S=%d, 4 KiB) | %s | %s | "
                 "ratio %.2f >= %.2f | %s |" % (
                     args.sessions, span(r["accept_empty"]),
                     span(r["accept_full"]), ratio, ACCEPT_RATIO_MIN,
                     verdict(ratio >= ACCEPT_RATIO_MIN)))
    lm = med(r["list_s"])
    lines.append("| `tern queue list` s (lines) | - | %.2f [%.2f..%.2f] "
                 "(%d) | < %.1f s, %d lines | %s |" % (
                     lm, min(r["list_s"]), max(r["list_s"]),
                     r["list_lines"], LIST_MAX_S, n,
                     verdict(lm < LIST_MAX_S and r["list_lines"] == n)))
    re_, rf = r["restart_empty"], r["restart_full"]
    for key, label in (("ready_s", "restart: exec to event=ready, s"),
                       ("first_250_s", "restart: exec to first 250, s"),
                       ("delivered_s", "restart: exec to it delivered, s")):
        ok = rf[key] < RESTART_MAX_S
        lines.append("| %s | %.2f | %.2f | < %.0f s | %s |" % (
            label, re_[key], rf[key], RESTART_MAX_S,
            verdict(ok) if key != "ready_s" else "-"))
    lines.append("| restart: exec to idle, s (CPU s since exec) | "
                 "%.1f (%.2f) | %.1f (%.2f) | - | - |" % (
                     r["recovery_empty"][0], r["recovery_empty"][1],
                     r["recovery_full"][0], r["recovery_full"][1]))
    lines.append("| queue after the runs (`tern queue list` lines) | - | "
                 "%d | %d | %s |" % (r["list_after"], n,
                                     verdict(r["list_after"] == n)))
    r["pass"] = (ratio >= ACCEPT_RATIO_MIN and lm < LIST_MAX_S and
                 r["list_lines"] == n and
                 rf["first_250_s"] < RESTART_MAX_S and
                 rf["delivered_s"] < RESTART_MAX_S and
                 r["list_after"] == n)
    return "\n".join(lines)


def write_results(args, r, table, info, cmdline, started):
    os.makedirs(B.RESULTS, exist_ok=True)
    stem = base = "%s-%s-queue%s" % (started.strftime("%Y-%m-%d"),
                                     info["host"],
                                     "-quick" if args.quick else "")
    for k in range(2, 100):
        if not os.path.exists(os.path.join(B.RESULTS, stem + ".md")):
            break
        stem = "%s-%d" % (base, k)
    md = os.path.join(B.RESULTS, stem + ".md")
    with open(md, "w") as f:
        f.write("# Cost as the queue grows, %s on %s\n\n" % (
            started.strftime("%Y-%m-%d %H:%M"), info["host"]))
        f.write("Command: `%s`  \n" % cmdline)
        f.write("Deferred messages: %d (filled in %.0f s, %.0f msg/s); "
                "accept runs: %d x %d messages per server, interleaved; "
                "retry_initial %d s.\n\n" % (
                    args.deferred, r["fill_s"], r["fill_rate"], args.runs,
                    args.messages, args.retry_initial))
        f.write(table + "\n\n")
        B.write_machine_notes(f, info, [])
    js = os.path.join(B.RESULTS, stem + ".json")
    with open(js, "w") as f:
        json.dump({"command": cmdline, "machine": info,
                   "settings": vars(args), "results": r}, f, indent=1,
                  sort_keys=True, default=str)
        f.write("\n")
    return md, js


def main(argv):
    args = parse_args(argv)
    B._verbose = args.verbose
    B._reuse = True  # the main bench's reuse row: smtp-source -d
    if os.geteuid() != 0:
        raise B.BenchError("run as root (like bench/run.py)")
    cmdline = " ".join(["/usr/bin/python3", "bench/queue_scale.py"] + argv)
    started = datetime.datetime.now()

    def on_term(signum, frame):
        raise KeyboardInterrupt
    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    os.makedirs(WORK, exist_ok=True)
    B.raise_nofile(4096)
    info = {"host": os.uname().nodename, "nproc": os.cpu_count(),
            "loadavg_at_start": B.read_first("/proc/loadavg").strip(),
            "cpu_busy_at_start_pct": B.cpu_busy_pct()}
    try:
        info["tern_commit"] = B.run(["git", "-C", B.ROOT, "rev-parse",
                                     "--short", "HEAD"], check=False,
                                    timeout=10).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        pass
    if info["cpu_busy_at_start_pct"] and \
            info["cpu_busy_at_start_pct"] > B.BUSY_WARN_PCT:
        B.log("the machine is %.0f%% busy before we start: figures will "
              "be noisy" % info["cpu_busy_at_start_pct"])
    dead = B.free_port()  # nothing listens there: connection refused
    full = QTern(args, "full", dead)
    empty = QTern(args, "empty", dead)
    r = {"accept_full": [], "accept_empty": []}
    try:
        have = 0
        if args.keep and os.path.isdir(full.data):
            full.set_mode(False)
            have = queue_list(full)[1]
            B.log("kept queue: %d messages" % have)
        if have != args.deferred:
            full.setup()
            r["fill_s"], r["fill_rate"] = fill(args, full)
        else:
            r["fill_s"], r["fill_rate"] = 0.0, 0.0
        full.set_mode(False)
        empty.setup()
        empty.set_mode(False)
        # Restarts: the empty one first, then N queued.
        r["restart_empty"] = timed_start(empty)
        r["recovery_empty"] = wait_idle(empty, RECOVERY_WAIT_S)
        r["restart_full"] = timed_start(full)
        B.log("restart with %d queued: %s" % (args.deferred,
                                              r["restart_full"]))
        r["recovery_full"] = wait_idle(full, RECOVERY_WAIT_S)
        B.log("start-up pass over the queue: %.1f s, %.2f CPU s" %
              r["recovery_full"])
        r["list_s"] = []
        for _ in range(args.list_runs):
            dt, lines = queue_list(full)
            r["list_s"].append(dt)
            r["list_lines"] = lines
        B.log("queue list: %s s, %d lines" % (
            ", ".join("%.2f" % x for x in r["list_s"]), r["list_lines"]))
        for i in range(args.runs):
            for srv, key in ((empty, "accept_empty"), (full, "accept_full")):
                out = B.local_delivery(srv, args.sessions, args.messages,
                                       SIZE)
                r[key].append(out["msgs_per_s"])
                r.setdefault(key + "_cpu_s_per_1000", []).append(
                    out["cpu_s_per_1000"])
                B.log("run %d %s: %.0f msg/s, %.2f CPU s per 1000" % (
                    i + 1, srv.name, out["msgs_per_s"],
                    out["cpu_s_per_1000"]))
        r["list_after"] = queue_list(full)[1]
    finally:
        for srv in (full, empty):
            try:
                srv.stop()
            except Exception as e:  # keep stopping the other
                B.log("stopping %s: %s" % (srv.name, e))
        for p in B._children:
            B.reap(p, grace=2)
    info["loadavg_at_end"] = B.read_first("/proc/loadavg").strip()
    table = render(args, r)
    print()
    print(table)
    print("\n%s: issue 20's queue targets" % verdict(r["pass"]))
    if not args.no_results:
        md, js = write_results(args, r, table, info, cmdline, started)
        print("written: %s, %s" % (os.path.relpath(md, B.ROOT),
                                   os.path.relpath(js, B.ROOT)))
    return 0 if r["pass"] else 1


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except KeyboardInterrupt:
        B.log("interrupted; servers stopped")
        sys.exit(130)
    except B.BenchError as e:
        B.log("error: %s" % e)
        sys.exit(1)
