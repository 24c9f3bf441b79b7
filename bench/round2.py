#!/usr/bin/python3
# SPDX-License-Identifier: ISC
"""bench/round2.py - issue 20's one run: ceiling, tuned Postfix and tern.

`make bench`. One run measures, interleaved (ceiling, Postfix, tern, then
the next cell, then the next run), at S = --sessions (50):

- the protocol ceiling: smtp-source to Postfix's smtp-sink, which stores
  nothing;
- tuned Postfix and tern, configured as bench/run.py configures them;

for connection reuse (smtp-source -d) and one message per connection,
4 KiB and 100 KiB, local Maildir delivery and relay to a second smtp-sink.
It prints one table (msg/s of each, tern/postfix and tern/ceiling), the
device flushes per message of each server (from /proc/diskstats) and the
fsync-type syscalls per message (perf), then issue 20's targets as
PASS/FAIL lines. Results go to bench/results/<date>-<host>-round2.md/.json.

The servers, smtp-source driving, sinks, probes, machine description and
clean-up are bench/run.py's (imported as rb); this file only adds the
ceiling, the relay set-up for tern, the flush counter and the table.

Trust: runs as root on a developer machine; servers on 127.0.0.1 only;
writes only under bench/work/ and bench/results/. Python 3 stdlib only.
Every wait is bounded; servers, sinks and perf are stopped on every way
out (normal end, error, Ctrl-C, SIGTERM).
"""

import argparse
import datetime
import json
import os
import signal
import statistics
import subprocess
import sys
import time

import run as rb

KIB = rb.KIB
SIZES = {"4k": 4 * KIB, "100k": 100 * KIB}
MODES = ("reuse", "single")  # smtp-source -d, or one message per connection
DESTS = ("local", "relay")
MODE_LABEL = {"reuse": "reuse", "single": "1 msg/conn"}
SETTLE_S = 20.0  # for a server's queue to empty after a run
FLUSH_QUIET_S = 0.5  # flush counter unchanged this long: the run is over
FLUSH_QUIET_MAX_S = 3.0


# ---------------------------------------------------------------------------
# Device flushes: /proc/diskstats field 16, "flush requests completed
# successfully" (Documentation/admin-guide/iostats.rst, Linux 5.5+), of the
# whole disk that holds bench/work/. A flush is what makes the disk's
# volatile cache durable: fsync on ext4 costs one (the journal commit's
# REQ_PREFLUSH), several fsyncs that share a commit cost one together.

def _mount_source_dev(path):
    """st_rdev of the block device mounted at path's mount point, for
    file systems whose st_dev is not a block device (btrfs)."""
    best, source = "", None
    path = os.path.realpath(path)
    try:
        with open("/proc/self/mountinfo") as f:
            for line in f:
                left, _, right = line.partition(" - ")
                mnt = left.split()[4]
                src = right.split()[1] if len(right.split()) > 1 else ""
                if (path == mnt or path.startswith(mnt.rstrip("/") + "/")) \
                        and len(mnt) >= len(best):
                    best, source = mnt, src
    except OSError:
        return None
    if not source or not source.startswith("/dev/"):
        return None
    try:
        return os.stat(source).st_rdev
    except OSError:
        return None


def block_device(path):
    """Name in /proc/diskstats of the disk holding path (a partition maps
    to its disk), or None (tmpfs, overlay, network)."""
    dev = os.stat(path).st_dev
    sysdir = "/sys/dev/block/%d:%d" % (os.major(dev), os.minor(dev))
    if not os.path.exists(sysdir):
        rdev = _mount_source_dev(path)
        if rdev is None:
            return None
        sysdir = "/sys/dev/block/%d:%d" % (os.major(rdev), os.minor(rdev))
        if not os.path.exists(sysdir):
            return None
    real = os.path.realpath(sysdir)
    if os.path.exists(os.path.join(real, "partition")):
        real = os.path.dirname(real)
    return os.path.basename(real)


def device_flushes(dev):
    """Flush requests completed on dev so far, or None."""
    if dev is None:
        return None
    with open("/proc/diskstats") as f:
        for line in f:
            f_ = line.split()
            if len(f_) >= 20 and f_[2] == dev:
                return int(f_[2 + 16])
    return None


def wait_flush_quiet(dev, quiet=FLUSH_QUIET_S, limit=FLUSH_QUIET_MAX_S):
    """Let the last journal commit of a run land before reading: return
    when the counter has not moved for `quiet` s, or after `limit` s."""
    end = time.monotonic() + limit
    last, since = device_flushes(dev), time.monotonic()
    while time.monotonic() < end:
        time.sleep(0.1)
        now = device_flushes(dev)
        if now != last:
            last, since = now, time.monotonic()
        elif time.monotonic() - since >= quiet:
            break
    return last


# ---------------------------------------------------------------------------
# The three targets.

class Ceiling:
    """smtp-sink alone: the protocol's cost on this machine, nothing
    stored."""
    name = "ceiling"

    def __init__(self):
        self.sink = rb.Sink(rb.free_port())
        self.port = self.sink.port

    def root_pid(self):
        p = self.sink.proc
        return p.pid if p.poll() is None else None

    def pids(self):
        r = self.root_pid()
        return [r] if r else []

    def idle(self):
        return True

    def stop(self):
        self.sink.stop()


def postfix_idle(pf):
    """No message left in the Postfix instance's queue directories."""
    for q in ("maildrop", "incoming", "active", "deferred", "hold"):
        for _, _, files in os.walk(os.path.join(pf.spool, q)):
            if files:
                return False
    return True


class Postfix(rb.Postfix):
    """run.py's tuned Postfix; `process_limit` and `size_limit` for the
    sweep (S up to 500 needs an smtpd per session; 10 MiB messages are
    above Postfix's 10,240,000-byte default)."""
    process_limit = 300
    size_limit = None

    def main_cf(self, uid, gid):
        text = super().main_cf(uid, gid)
        text = text.replace("default_process_limit = 300",
                            "default_process_limit = %d" %
                            self.process_limit)
        if self.size_limit:
            text += "message_size_limit = %d\nvirtual_mailbox_limit = 0\n" \
                % self.size_limit
        return text

    def idle(self):
        return postfix_idle(self)


class Tern(rb.Tern):
    """run.py's tern (which relays relay.test to the relay sink: [routes]
    and [relay_domains] in its conf_text), with a queue-empty check."""

    def idle(self):
        """tern queue list says the queue is empty."""
        try:
            p = rb.run([self.bin, "-c", self.conf, "queue", "list",
                        "--json"], check=False, timeout=10)
        except subprocess.TimeoutExpired:
            return False
        # One JSON object per queued message; nothing (or an empty list)
        # when the queue is empty.
        return p.returncode == 0 and p.stdout.strip() in ("", "[]")


# ---------------------------------------------------------------------------
# One measurement.

def run_deadline(messages, size):
    """30 s, plus 1 s per 50 messages, plus 1 s per 10 MiB."""
    return time.monotonic() + 30 + messages / 50.0 + \
        messages * size / (10.0 * 1024 * KIB)


def settle(target, dev, deadline):
    """After the clock stopped: wait (bounded) until the server has done
    the run's work (queue empty, last flush landed), so its flushes and
    fsyncs are counted in this run and not the next."""
    end = min(deadline, time.monotonic() + SETTLE_S)
    while not target.idle():
        if time.monotonic() > end:
            rb.log("%s: queue not empty %.0f s after the run" % (
                target.name, SETTLE_S))
            break
        time.sleep(0.1)
    return wait_flush_quiet(dev)


def measure(target, dest, mode, size, messages, sessions, dev, relay_sink,
            use_perf):
    """One run: msg/s from the first smtp-source until the last message
    is in new/ (local) or at the sink (relay, ceiling); flushes and
    fsyncs counted until the server is idle again."""
    local = dest == "local" and target.name != "ceiling"
    if target.root_pid() is None:
        raise rb.BenchError("%s is not running" % target.name)
    if local:
        newdirs = [target.maildir_new(u) for u in rb.USERS]
        rb.empty_dirs(target.maildirs())
        count = lambda: rb.count_files(newdirs)  # noqa: E731
        rcpt = lambda u: "%s@%s" % (u, rb.DOMAIN)  # noqa: E731
    else:
        sink = target.sink if target.name == "ceiling" else relay_sink
        base = sink.count
        count = lambda: sink.count - base  # noqa: E731
        rcpt = lambda u: "%s@%s" % (u, rb.RELAY_DOMAIN)  # noqa: E731
    counter = None
    if use_perf and target.name != "ceiling":
        counter = rb.SyncCounter(target.pids(), os.path.join(
            rb.WORK, target.name + "-round2.perf"))
    rb._reuse = mode == "reuse"
    deadline = run_deadline(messages, size)
    # Start from a clean journal: what the last run left dirty (its
    # unlinks, Postfix's queue file removals) is committed now, not
    # during this run, where it would be counted against this server.
    os.sync()
    fl0 = wait_flush_quiet(dev, quiet=0.3, limit=2.0)
    cpu0, busy0 = rb.cpu_seconds(target.root_pid()), \
        rb.machine_busy_seconds()
    syncs = None
    try:
        t0 = time.monotonic()
        rb.run_source(target.port, sessions, messages, size, rcpt, deadline)
        t1 = rb.wait_count(count, messages, deadline, "%s %s messages" % (
            target.name, dest))
        cpu1, busy1 = rb.cpu_seconds(target.root_pid()), \
            rb.machine_busy_seconds()
        fl1 = settle(target, dev, deadline + 30)
    finally:
        if counter:
            syncs = counter.stop()
    out = {"msgs_per_s": messages / (t1 - t0), "seconds": t1 - t0,
           "messages": messages,
           "cpu_s_per_1000": (cpu1 - cpu0) * 1000.0 / messages,
           "machine_cpu_s_per_1000": (busy1 - busy0) * 1000.0 / messages}
    if fl0 is not None and fl1 is not None:
        out["flushes"] = fl1 - fl0
        out["flushes_per_msg"] = (fl1 - fl0) / messages
        out["settled_s"] = time.monotonic() - t1
    if syncs is not None:
        out["syncs"] = syncs
        out["fsync_per_msg"] = sum(syncs.values()) / messages
    if local:
        rb.empty_dirs(target.maildirs())
    return out


# ---------------------------------------------------------------------------
# Set-up shared with bench/sweep.py.

def rb_args(args):
    """The attributes bench/run.py's server classes read."""
    return argparse.Namespace(
        workloads=set(), idle=10, postfix_log="file",
        tern_bin=args.tern_bin, no_install=args.no_install,
        messages=args.messages)


def probe_ceiling(ceiling):
    base = ceiling.sink.count
    deadline = time.monotonic() + 15
    rb.run_source(ceiling.port, 10, 10, KIB,
                  lambda u: "%s@%s" % (u, rb.RELAY_DOMAIN), deadline)
    rb.wait_count(lambda: ceiling.sink.count - base, 10, deadline,
                  "ceiling probe")


def start_servers(args, relay_sink, unavailable, use_perf, pf_tweak=None):
    """Postfix and tern, probed (delivery, durability, relay). A server
    that fails gets its reason in unavailable; the other one still runs."""
    servers = []
    ra = rb_args(args)
    pf = Postfix(ra, relay_sink.port)
    if pf_tweak:
        pf_tweak(pf)
    servers.append(pf)
    try:
        pf.setup()
        pf.start()
        rb.probe_delivery(pf, use_perf)
        pf.relay_ok = rb.probe_relay(pf, relay_sink)
    except (rb.BenchError, OSError, subprocess.TimeoutExpired) as e:
        unavailable["postfix"] = str(e)
        rb.log("postfix: not available (%s)" % e)
    tn = Tern(ra, relay_sink.port)
    servers.append(tn)
    try:
        rb.raise_nofile(4096)  # tern inherits it
        tn.setup()
        tn.start()
        rb.probe_delivery(tn, use_perf)
        tn.relay_ok = tn.with_routes and rb.probe_relay(tn, relay_sink)
        if not tn.relay_ok:
            tn.relay_note = getattr(tn, "relay_note", "") or \
                "the config parser refused [routes]/[relay_domains]"
    except (rb.BenchError, OSError, subprocess.TimeoutExpired) as e:
        unavailable["tern"] = str(e)
        rb.log("tern: not available (%s)" % e)
    return servers


def stop_all(things):
    for t in things:
        if t is None:
            continue
        try:
            t.stop()
        except Exception as e:  # keep stopping the others
            rb.log("stopping %s: %s" % (getattr(t, "name", "?"), e))
    for p in rb._children:
        rb.reap(p, grace=2)


def install_signal_handlers():
    def on_term(signum, frame):
        raise KeyboardInterrupt
    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGHUP, on_term)
    # Also when started in the background, where SIGINT comes ignored.
    signal.signal(signal.SIGINT, signal.default_int_handler)


def results_paths(started, host, suffix):
    """bench/results/<date>-<host>-<suffix>[-N].md/.json, never an
    existing name: results are records."""
    os.makedirs(rb.RESULTS, exist_ok=True)
    stem = "%s-%s-%s" % (started.strftime("%Y-%m-%d"), host, suffix)
    base = stem
    for n in range(2, 1000):
        if not os.path.exists(os.path.join(rb.RESULTS, stem + ".md")):
            break
        stem = "%s-%d" % (base, n)
    return os.path.join(rb.RESULTS, stem)


def uptime():
    return rb.read_first("/proc/loadavg")


# ---------------------------------------------------------------------------
# The run.

def cells(args):
    """(mode, size key, dest) in table order."""
    return [(m, s, d) for m in args.modes for s in args.sizes
            for d in args.dests]


def key_of(mode, size, dest):
    return "%s_%s_%s" % (dest, mode, size)


def ceiling_key(mode, size):
    return "ceiling_%s_%s" % (mode, size)


def messages_for(args, size):
    return args.messages if SIZES[size] <= 16 * KIB else args.big_messages


def record(res, who, key, i, fn):
    try:
        r = fn()
    except rb.BenchError as e:
        rb.log("%-8s %-22s run %d failed: %s" % (who, key, i + 1, e))
        res.fail(who, key, str(e))
        return
    res.add(who, key, r["msgs_per_s"], r)
    extra = ""
    if "flushes_per_msg" in r:
        extra += ", %.2f flushes/msg" % r["flushes_per_msg"]
    if "fsync_per_msg" in r:
        extra += ", %.2f fsyncs/msg" % r["fsync_per_msg"]
    rb.log("%-8s %-22s run %d: %s msg/s in %.1f s%s" % (
        who, key, i + 1, rb.fmt_num(r["msgs_per_s"]), r["seconds"], extra))


def bench(args, res, ceiling, servers, relay_sink, unavailable, dev,
          use_perf):
    live = {s.name: s for s in servers if not unavailable.get(s.name)}
    for i in range(args.runs):
        for mode in args.modes:
            for size in args.sizes:
                n = messages_for(args, size)
                ck = ceiling_key(mode, size)
                if ceiling is not None:
                    record(res, "ceiling", ck, i, lambda: measure(
                        ceiling, "relay", mode, SIZES[size], n,
                        args.sessions, dev, relay_sink, False))
                for dest in args.dests:
                    key = key_of(mode, size, dest)
                    for name in ("postfix", "tern"):
                        srv = live.get(name)
                        if srv is None or unavailable.get(name):
                            continue
                        if dest == "relay" and not srv.relay_ok:
                            res.na[(name, key)] = "relay not available: " \
                                + getattr(srv, "relay_note", "")
                            continue
                        record(res, name, key, i, lambda: measure(
                            srv, dest, mode, SIZES[size], n, args.sessions,
                            dev, relay_sink, use_perf))
                        if srv.root_pid() is None:
                            unavailable[name] = "died during %s" % key


def per_run_ratios(res, a, ka, b, kb):
    """a/b of the runs measured side by side (same run index)."""
    va, vb = res.runs.get((a, ka), []), res.runs.get((b, kb), [])
    # Failed runs leave gaps; pair by index only when none failed.
    if len(va) != len(vb):
        return []
    return [x / y for x, y in zip(va, vb) if y > 0]


def ratio_text(res, a, ka, b, kb, unit="x"):
    sa, sb = res.summary(a, ka), res.summary(b, kb)
    if not sa or not sb or sb[0] <= 0:
        return "-", None
    r = sa[0] / sb[0]
    pr = per_run_ratios(res, a, ka, b, kb)
    if len(pr) > 1:
        return "%.2f%s [%.2f..%.2f]" % (r, unit, min(pr), max(pr)), r
    return "%.2f%s" % (r, unit), r


def msgs_cell(res, who, key, unavailable):
    return rb.cell(res, who, key, unavailable)


def extra_median(res, who, key, field):
    vals = [r[field] for r in res.extra.get((who, key), []) if field in r]
    return statistics.median(vals) if vals else None


def fmt_opt(v):
    return "-" if v is None else "%.2f" % v


def render(args, res, unavailable):
    head = ("workload (S=%d)" % args.sessions, "ceiling", "postfix", "tern",
            "tern/postfix", "tern/ceiling", "flushes/msg pf", "tern",
            "fsyncs/msg pf", "tern")
    rows, ratios = [], {}
    for mode, size, dest in cells(args):
        key, ck = key_of(mode, size, dest), ceiling_key(mode, size)
        label = "%s %s %s" % (dest, MODE_LABEL[mode], size.upper().replace(
            "K", " KiB"))
        tp, rtp = ratio_text(res, "tern", key, "postfix", key)
        tc, rtc = ratio_text(res, "tern", key, "ceiling", ck, unit="")
        ratios[key] = (rtp, rtc)
        rows.append((label, msgs_cell(res, "ceiling", ck, {}),
                     msgs_cell(res, "postfix", key, unavailable),
                     msgs_cell(res, "tern", key, unavailable), tp, tc,
                     fmt_opt(extra_median(res, "postfix", key,
                                          "flushes_per_msg")),
                     fmt_opt(extra_median(res, "tern", key,
                                          "flushes_per_msg")),
                     fmt_opt(extra_median(res, "postfix", key,
                                          "fsync_per_msg")),
                     fmt_opt(extra_median(res, "tern", key,
                                          "fsync_per_msg"))))
    widths = [max(len(r[i]) for r in rows + [head]) for i in range(len(head))]

    def line(r):
        return "| " + " | ".join(r[i].ljust(widths[i])
                                 for i in range(len(head))) + " |"
    text = [line(head), "|" + "|".join("-" * (w + 2) for w in widths) + "|"]
    text += [line(r) for r in rows]
    return "\n".join(text), ratios


def target_lines(args, res, ratios):
    """Issue 20's targets, PASS/FAIL (or "not measured")."""
    out = []

    def check(what, key, idx, want):
        r = ratios.get(key, (None, None))[idx]
        if r is None:
            out.append("NOT MEASURED  %s" % what)
        else:
            out.append("%s  %s: %.2f" % ("PASS" if r >= want else "FAIL",
                                         what, r))
    check("local reuse 4 KiB: tern >= 5x tuned Postfix",
          "local_reuse_4k", 0, 5.0)
    check("local reuse 4 KiB: tern >= 0.5 of the protocol ceiling",
          "local_reuse_4k", 1, 0.5)
    check("local one message per connection 4 KiB: tern >= 4x Postfix",
          "local_single_4k", 0, 4.0)
    check("local reuse 100 KiB: tern >= 5x Postfix",
          "local_reuse_100k", 0, 5.0)
    pf = extra_median(res, "postfix", "local_reuse_4k", "flushes_per_msg")
    tn = extra_median(res, "tern", "local_reuse_4k", "flushes_per_msg")
    if pf is None or tn is None:
        out.append("NOT MEASURED  local reuse 4 KiB: device flushes per "
                   "message")
    else:
        out.append("%s  local reuse 4 KiB: device flushes per message, "
                   "tern %.2f well below Postfix %.2f (read as: under "
                   "half)" % ("PASS" if tn < pf / 2 else "FAIL", tn, pf))
    return out


def notes_for(args, res, unavailable, dev, info):
    notes = []
    busy = info.get("cpu_busy_at_start_pct")
    if busy is not None and busy > rb.BUSY_WARN_PCT:
        notes.append("the machine was not quiet: %.0f%% of the CPUs were "
                     "busy before the benchmark started; figures may be "
                     "low and noisy" % busy)
    if dev is None:
        notes.append("device flushes: the data directory is not on a "
                     "block device this script can find (/proc/diskstats)")
    else:
        bg = [r["flushes"] / r["seconds"] for k in
              [ceiling_key(m, s) for m in args.modes for s in args.sizes]
              for r in res.extra.get(("ceiling", k), []) if "flushes" in r]
        if bg:
            notes.append("device flushes counted on %s (whole disk); during "
                         "the ceiling runs, which store nothing, it saw %.1f "
                         "flushes/s [%.1f..%.1f] from the rest of the "
                         "machine: that background is in every figure" % (
                             dev, statistics.median(bg), min(bg), max(bg)))
    for srv in ("postfix", "tern"):
        if unavailable.get(srv):
            notes.append("%s: not available (%s)" % (srv, unavailable[srv]))
    for (srv, key), msg in sorted(res.na.items()):
        notes.append("%s %s n/a: %s" % (srv, key, msg))
    for (srv, key), msg in sorted(res.errors.items()):
        notes.append("%s %s error: %s" % (srv, key, msg))
    for srv in ("postfix", "tern"):
        key = "local_reuse_4k"
        cpu = extra_median(res, srv, key, "cpu_s_per_1000")
        mach = extra_median(res, srv, key, "machine_cpu_s_per_1000")
        if cpu is not None:
            notes.append("%s local reuse 4 KiB: %.2f s of server CPU and "
                         "%.2f s of machine CPU per 1,000 messages" % (
                             srv, cpu, mach))
    return notes


def write_results(args, res, info, cmdline, table, targets, notes, started,
                  elapsed, unavailable):
    stem = results_paths(started, info["host"],
                         "round2-quick" if args.quick else "round2")
    with open(stem + ".md", "w") as f:
        f.write("# Round-two benchmark %s on %s\n\n" % (
            started.strftime("%Y-%m-%d %H:%M"), info["host"]))
        f.write("Command: `%s`  \n" % cmdline)
        f.write("Runs: %d; messages per run: %d (4 KiB), %d (100 KiB); "
                "S=%d; took %.0f s.\n\n" % (
                    args.runs, args.messages, args.big_messages,
                    args.sessions, elapsed))
        f.write("Cells: median [min..max] over the runs, msg/s. Ratios: "
                "of the medians, [min..max] of the runs measured side by "
                "side. Flushes and fsyncs: median per message.\n\n")
        f.write(table + "\n\n## Targets (issue 20)\n\n")
        for t in targets:
            f.write("- %s\n" % t)
        f.write("\n")
        rb.write_machine_notes(f, info, notes)
    data = {"started": started.isoformat(timespec="seconds"),
            "command": cmdline, "elapsed_s": round(elapsed, 1),
            "machine": info, "unavailable": unavailable,
            "settings": {"runs": args.runs, "messages": args.messages,
                         "big_messages": args.big_messages,
                         "sessions": args.sessions, "modes": args.modes,
                         "sizes": args.sizes, "dests": args.dests,
                         "quick": args.quick},
            "targets": targets, "figures": {}}
    for (who, key), vals in sorted(res.runs.items()):
        s = res.summary(who, key)
        data["figures"].setdefault(key, {})[who] = {
            "median": s[0], "min": s[1], "max": s[2], "runs": vals,
            "raw": res.extra.get((who, key), [])}
    for (who, key), msg in res.errors.items():
        data["figures"].setdefault(key, {}).setdefault(who, {})["error"] = \
            msg
    with open(stem + ".json", "w") as f:
        json.dump(data, f, indent=1, sort_keys=True, default=str)
        f.write("\n")
    return stem + ".md", stem + ".json"


def parse_args(argv):
    ap = argparse.ArgumentParser(
        description="Issue 20: protocol ceiling, tuned Postfix and tern in "
                    "one run (make bench).")
    ap.add_argument("--runs", type=int, default=3,
                    help="runs per figure (default 3)")
    ap.add_argument("--messages", type=int, default=6000,
                    help="messages per 4 KiB run (default 6000)")
    ap.add_argument("--big-messages", type=int, default=1500,
                    help="messages per 100 KiB run (default 1500)")
    ap.add_argument("--sessions", type=int, default=50,
                    help="smtp-source sessions S (default 50)")
    ap.add_argument("--modes", default="reuse,single",
                    help="reuse (smtp-source -d) and/or single (one "
                         "message per connection)")
    ap.add_argument("--sizes", default="4k,100k", help="4k and/or 100k")
    ap.add_argument("--dests", default="local,relay",
                    help="local (Maildir) and/or relay (to smtp-sink)")
    ap.add_argument("--quick", action="store_true",
                    help="smoke: 1 run, 1000 + 300 messages")
    ap.add_argument("--tern-bin", default=os.path.join(rb.ROOT, "build",
                                                       "tern"))
    ap.add_argument("--no-perf", action="store_true",
                    help="do not count fsync syscalls with perf")
    ap.add_argument("--no-install", action="store_true")
    ap.add_argument("--no-results", action="store_true")
    ap.add_argument("-v", "--verbose", action="store_true")
    args = ap.parse_args(argv)
    if args.quick:
        args.runs = 1
        args.messages = min(args.messages, 1000)
        args.big_messages = min(args.big_messages, 300)
    args.modes = [m for m in args.modes.split(",") if m]
    args.sizes = [s for s in args.sizes.split(",") if s]
    args.dests = [d for d in args.dests.split(",") if d]
    if not set(args.modes) <= set(MODES) or not args.modes:
        ap.error("--modes takes reuse and/or single")
    if not set(args.sizes) <= set(SIZES) or not args.sizes:
        ap.error("--sizes takes 4k and/or 100k")
    if not set(args.dests) <= set(DESTS) or not args.dests:
        ap.error("--dests takes local and/or relay")
    for name, v, lo, hi in (("--runs", args.runs, 1, 50),
                            ("--messages", args.messages, 10, 1000000),
                            ("--big-messages", args.big_messages, 10,
                             1000000),
                            ("--sessions", args.sessions, 1, 1000)):
        if not lo <= v <= hi:
            ap.error("%s must be in %d..%d" % (name, lo, hi))
    return args


def main(argv):
    args = parse_args(argv)
    rb._verbose = args.verbose
    if os.geteuid() != 0:
        raise rb.BenchError("run as root (private Postfix instance, "
                            "apt-get)")
    cmdline = " ".join(["/usr/bin/python3", "bench/round2.py"] + argv)
    started = datetime.datetime.now()
    t_start = time.monotonic()
    install_signal_handlers()
    rb.ensure_deps(rb_args(args))
    rb.stop_system_postfix()
    use_perf = not args.no_perf and rb.perf_works()
    os.makedirs(rb.WORK, exist_ok=True)
    dev = block_device(rb.WORK)
    info = rb.machine_info()
    info["flush_device"] = dev or "none found"
    info["tern_bin"] = args.tern_bin
    res = rb.Results()
    unavailable = {}
    ceiling = relay_sink = None
    servers = []
    try:
        ceiling = Ceiling()
        probe_ceiling(ceiling)
        relay_sink = rb.Sink(rb.free_port())
        servers = start_servers(args, relay_sink, unavailable, use_perf)
        bench(args, res, ceiling, servers, relay_sink, unavailable, dev,
              use_perf)
    finally:
        stop_all(servers + [ceiling, relay_sink])
    elapsed = time.monotonic() - t_start
    info["loadavg_at_end"] = uptime()
    table, ratios = render(args, res, unavailable)
    targets = target_lines(args, res, ratios)
    notes = notes_for(args, res, unavailable, dev, info)
    print()
    print(table)
    print()
    for t in targets:
        print(t)
    for n in notes:
        print("  " + n)
    if not args.no_results:
        md, js = write_results(args, res, info, cmdline, table, targets,
                               notes, started, elapsed, unavailable)
        print("\nwritten: %s, %s" % (os.path.relpath(md, rb.ROOT),
                                     os.path.relpath(js, rb.ROOT)))
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except KeyboardInterrupt:
        rb.log("interrupted; servers stopped")
        sys.exit(130)
    except rb.BenchError as e:
        rb.log("error: %s" % e)
        sys.exit(1)
