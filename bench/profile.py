#!/usr/bin/python3
# SPDX-License-Identifier: ISC
"""Where tern's time goes under the bench load (issue 20): a flame graph,
a text summary and the thread hand-offs per message.

Starts tern with bench/run.py's configuration (local Maildir delivery,
ten users), warms it up, then loads it twice with smtp-source (-d: many
messages a connection, S sessions, --size bytes), each time until every
file is in new/:

1. under `perf record -F FREQ --call-graph dwarf -p PID` (or -g with
   --call-graph fp; or, with --switches, one sample per context switch
   instead of per CPU tick): the stacks go through bench/flamegraph.py
   into an SVG and a summary (top symbols, share per system call
   family);
2. under `perf stat --per-thread` (context switches, CPU migrations,
   sched_wakeup, futex, epoll_wait, write, read, fsync-family calls):
   the counts per message, per thread and in all. A wake-up is one
   thread making another runnable, a hand-off; a context switch is a
   thread giving up its CPU.

Both runs print CPU seconds per 1,000 messages (utime+stime of tern, as
bench/run.py's workload 6). Files go to bench/results/<date>-<host>-
profile[-N].{svg,txt,folded} unless --svg/--out say otherwise.
Wrap it in `flock /tmp/bench.lock` on a shared machine.

    /usr/bin/python3 bench/profile.py [--tern-bin build/tern]
        [--messages 5000] [--sessions 50] [--size 4096] [--svg FILE]
"""
import argparse
import datetime
import os
import re
import signal
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import flamegraph as F  # noqa: E402
import run as B  # noqa: E402

# (column, perf stat arguments): in this order in perf's output.
# futex-wake is FUTEX_WAKE(_PRIVATE): a thread waking another through a
# condition variable or a contended mutex; futex counts every call.
STAT_EVENTS = (
    ("cswitch", ["-e", "context-switches"]),
    ("migrate", ["-e", "cpu-migrations"]),
    ("wakeup", ["-e", "sched:sched_wakeup"]),
    ("futex-wake", ["-e", "syscalls:sys_enter_futex",
                    "--filter", "op == 129 || op == 1"]),
    ("futex", ["-e", "syscalls:sys_enter_futex"]),
    ("epoll_wait", ["-e", "syscalls:sys_enter_epoll_wait"]),
    ("write", ["-e", "syscalls:sys_enter_write"]),
    ("writev", ["-e", "syscalls:sys_enter_writev"]),
    ("read", ["-e", "syscalls:sys_enter_read"]),
    ("fsync", ["-e", "syscalls:sys_enter_fsync"]),
    ("fdatasync", ["-e", "syscalls:sys_enter_fdatasync"]),
    ("syncfs", ["-e", "syscalls:sys_enter_syncfs"]),
)
COLUMNS = [c for c, _ in STAT_EVENTS]
PERF_ATTACH_S = 0.5  # perf has no "attached" signal; run.py waits as long
PERF_STOP_S = 60  # perf record writes its file on SIGINT


def perf_start(cmd):
    p = B.spawn(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE, text=True)
    time.sleep(PERF_ATTACH_S)
    if p.poll() is not None:
        raise B.BenchError("%s failed: %s" % (
            " ".join(cmd[:3]), p.stderr.read().strip()[-300:]))
    return p


def perf_stop(p):
    p.send_signal(signal.SIGINT)
    try:
        _, err = p.communicate(timeout=PERF_STOP_S)
    except subprocess.TimeoutExpired:
        B.reap(p)
        raise B.BenchError("perf did not stop in %d s" % PERF_STOP_S)
    return err


def load(tn, a):
    """One load run; {msgs_per_s, cpu_s_per_1000, seconds}."""
    newdirs = [tn.maildir_new(u) for u in B.USERS]
    B.empty_dirs(tn.maildirs())
    pid = tn.root_pid()
    cpu0 = B.cpu_seconds(pid)
    deadline = B.run_deadline(a.messages, a.size)
    t0 = time.monotonic()
    B.run_source(tn.port, a.sessions, a.messages, a.size,
                 lambda u: "%s@%s" % (u, B.DOMAIN), deadline)
    t1 = B.wait_count(lambda: B.count_files(newdirs), a.messages, deadline,
                      "tern deliveries")
    cpu1 = B.cpu_seconds(pid)
    B.empty_dirs(tn.maildirs())
    return {"msgs_per_s": a.messages / (t1 - t0), "seconds": t1 - t0,
            "cpu_s_per_1000": (cpu1 - cpu0) * 1000.0 / a.messages}


def thread_names(pid):
    """{tid: comm} of the process's threads now."""
    out = {}
    base = "/proc/%d/task" % pid
    for tid in os.listdir(base):
        try:
            with open(os.path.join(base, tid, "comm")) as f:
                out[int(tid)] = f.read().strip()
        except OSError:
            pass
    return out


def parse_stat(path, names):
    """perf stat -x, --per-thread output -> {thread: {column: count}}.

    perf prints each event's threads together, events in the order
    asked, so the n-th run of lines with one event name is column n
    (the two futex counts share a name: a thread seen again starts the
    next). perf names a thread "comm-tid";
    threads of one name are summed (the delivery threads), the tid
    dropped."""
    per = {}
    col, prev, seen = -1, None, set()
    with open(path) as f:
        for line in f:
            parts = line.strip().split(",")
            if len(parts) < 4 or line.startswith("#"):
                continue
            thread, value, event = parts[0], parts[1].strip(), parts[3]
            if event != prev or thread in seen:
                col, prev, seen = col + 1, event, set()
            seen.add(thread)
            if not value.isdigit() or col >= len(COLUMNS):
                continue
            m = re.match(r"^(.*)-(\d+)$", thread)
            name = names.get(int(m.group(2)), m.group(1)) if m else thread
            row = per.setdefault(name, {})
            row[COLUMNS[col]] = row.get(COLUMNS[col], 0) + int(value)
            row.setdefault("threads", set()).add(thread)
    return per


def stat_text(per, messages):
    """A table: per thread, each event per message; then the total."""
    total = {e: sum(t.get(e, 0) for t in per.values()) for e in COLUMNS}
    head = "%-12s %3s" % ("thread", "n") + "".join("%11s" % e[:10]
                                                   for e in COLUMNS)
    lines = ["per message (count / %d messages; n: threads of that "
             "name):" % messages, head]
    order = sorted(per, key=lambda t: -per[t].get("cswitch", 0))
    for t in order + ["all"]:
        row = total if t == "all" else per[t]
        if t != "all" and not any(row.get(e, 0) for e in COLUMNS):
            continue
        n = "" if t == "all" else str(len(row["threads"]))
        lines.append("%-12s %3s" % (t[:12], n) + "".join(
            "%11.3f" % (row.get(e, 0) / messages) for e in COLUMNS))
    return "\n".join(lines) + "\n", total


def switch_reason(stack):
    """Why a thread left its CPU, from a sched_switch stack (root
    first): the system call it was in and, for futex, what glibc was
    doing; plus the innermost caller that is not libc's (names with a
    leading underscore) to say where."""
    user = [f for f in stack[1:] if not f.endswith(F.KERNEL_SUFFIX) and
            not f.startswith("[")]
    where = next((f for f in reversed(user) if not f.startswith("_") and
                  not f.startswith(("pthread_", "lll_")) and
                  "futex" not in f), "?")
    call = F.syscall_of(stack)
    text = " ".join(user)
    if call is None:
        return "preempted (interrupt or return to user)", where
    fam = F.family_of(call)
    if fam == "futex":
        if "lock_wait" in text:
            return "waits for a mutex", where
        if "cond_wait" in text or "cond_timedwait" in text:
            return "waits on a condition variable", where
        return "preempted after a futex wake", where
    if fam == "fsync":
        return "I/O wait in fsync/fdatasync/syncfs", where
    if fam in ("openat", "rename", "unlink", "close") or \
            call in ("faccessat", "faccessat2", "newfstatat"):
        return "file system wait (%s)" % fam, where
    if fam == "epoll" and "epoll_wait" in call:
        return "idle in epoll_wait", where
    if fam == "write/writev":
        return "preempted after %s (wakes the reader)" % call, where
    return "in %s" % call, where


def switches_text(folded, messages, top=25):
    """Context switches per message by thread, reason and place."""
    c = {}
    for stack, n in folded.items():
        reason, where = switch_reason(stack)
        key = (stack[0], reason, where)
        c[key] = c.get(key, 0) + n
    total = sum(c.values())
    lines = ["context switches: %.2f per message (%d); by thread, reason "
             "and the innermost non-libc caller:" % (total / messages,
                                                      total)]
    for (th, reason, where), n in sorted(c.items(), key=lambda kv:
                                          -kv[1])[:top]:
        lines.append("  %6.2f  %-10s %-45s %s" % (n / messages, th[:10],
                                                  reason, where))
    return "\n".join(lines) + "\n"


def out_paths(a, info_host):
    if a.out:
        stem = a.out
    else:
        os.makedirs(B.RESULTS, exist_ok=True)
        day = datetime.date.today().isoformat()
        base = os.path.join(B.RESULTS, "%s-%s-profile" % (day, info_host))
        stem = base
        for n in range(2, 100):
            if not os.path.exists(stem + ".txt"):
                break
            stem = "%s-%d" % (base, n)
    svg = a.svg or stem + ".svg"
    return svg, stem + ".txt", stem + ".folded"


def git_rev():
    try:
        p = subprocess.run(["git", "-C", B.ROOT, "describe", "--always",
                            "--dirty"], capture_output=True, text=True,
                           timeout=10)
        return p.stdout.strip() or "?"
    except (OSError, subprocess.TimeoutExpired):
        return "?"


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--tern-bin", default=os.path.join(B.ROOT, "build",
                                                       "tern"))
    ap.add_argument("--messages", type=int, default=5000)
    ap.add_argument("--warmup", type=int, default=500)
    ap.add_argument("--sessions", type=int, default=50)
    ap.add_argument("--size", type=int, default=4096)
    ap.add_argument("--frequency", type=int, default=999)
    ap.add_argument("--call-graph", choices=("fp", "dwarf"), default="dwarf",
                    help="dwarf (default): perf unwinds libc and libevent, "
                    "which have no frame pointers; fp: perf record -g, "
                    "smaller files but most user stacks cut short")
    ap.add_argument("--switches", action="store_true",
                    help="record sched:sched_switch (every time a thread "
                    "leaves its CPU, and the stack that made it) instead "
                    "of CPU samples: an off-CPU graph, counts not time")
    ap.add_argument("--no-reuse", action="store_true",
                    help="one connection per message (default: -d)")
    ap.add_argument("--no-record", action="store_true",
                    help="only the perf stat run")
    ap.add_argument("--no-stat", action="store_true",
                    help="only the perf record run")
    ap.add_argument("--svg", help="the flame graph (default: results/)")
    ap.add_argument("--out", help="stem of the .txt and .folded files")
    ap.add_argument("--title", help="the flame graph's title")
    a = ap.parse_args(argv)
    if not 100 <= a.messages <= 100000 or not 1 <= a.sessions <= 500:
        ap.error("--messages 100..100000, --sessions 1..500")
    if not 1 <= a.frequency <= 20000:
        ap.error("--frequency 1..20000")
    if os.geteuid() != 0:
        ap.error("perf -p needs root here")
    a.tern_bin = os.path.abspath(a.tern_bin)
    B._reuse = not a.no_reuse
    args = B.parse_args(["--servers", "tern", "--no-install",
                         "--no-results", "--tern-bin", a.tern_bin])
    os.makedirs(B.WORK, exist_ok=True)
    host = socket.gethostname().split(".")[0] or "host"
    svg_path, txt_path, folded_path = out_paths(a, host)
    data = os.path.join(B.WORK, "profile.data")
    statf = os.path.join(B.WORK, "profile.stat")
    load_before = os.getloadavg()
    cmdline = "bench/profile.py " + " ".join(argv)
    tn = B.Tern(args, B.free_port())
    tn.setup()
    tn.start()
    report = []
    rec = st = None
    try:
        B.probe_delivery(tn, False)
        if a.warmup:
            warm = argparse.Namespace(**vars(a))
            warm.messages = a.warmup
            load(tn, warm)
        pid = tn.root_pid()
        names = thread_names(pid)
        if not a.no_record:
            cg = ["-g"] if a.call_graph == "fp" else \
                ["--call-graph", "dwarf,16384"]
            what = ["-e", "sched:sched_switch"] if a.switches else \
                ["-F", str(a.frequency)]
            p = perf_start(["perf", "record"] + what + cg +
                           ["-p", str(pid), "-o", data])
            try:
                rec = load(tn, a)
            finally:
                perf_stop(p)
        if not a.no_stat:
            ev = [x for _, args in STAT_EVENTS for x in args]
            p = perf_start(["perf", "stat", "--per-thread", "-x", ",",
                            "-o", statf] + ev + ["-p", str(pid)])
            try:
                st = load(tn, a)
            finally:
                perf_stop(p)
    finally:
        tn.stop()
    load_after = os.getloadavg()
    report.append("tern profile: %s (bench scripts at git %s), %d messages "
                  "of %d bytes, S=%d, %s" % (a.tern_bin, git_rev(),
                                             a.messages, a.size, a.sessions,
                                "one connection a message" if a.no_reuse
                                else "smtp-source -d (reuse)"))
    report.append("command: %s" % cmdline)
    report.append("load average before %.2f %.2f %.2f, after %.2f %.2f "
                  "%.2f (2 cores shared: figures are noisy when busy)" %
                  (load_before + load_after))
    for what, r in (("perf record run", rec), ("perf stat run", st)):
        if r:
            report.append("%s: %.0f msg/s, %.3f s CPU per 1,000 messages "
                          "(tern's utime+stime)" % (
                              what, r["msgs_per_s"], r["cpu_s_per_1000"]))
    report.append("")
    if st:
        per = parse_stat(statf, names)
        text, total = stat_text(per, a.messages)
        report.append(text)
        report.append("per message: %.3f context switches, %.3f wake-ups "
                      "(sched_wakeup), %.3f futex wakes" % (
                          total["cswitch"] / a.messages,
                          total["wakeup"] / a.messages,
                          total["futex-wake"] / a.messages))
        report.append("")
    if rec:
        p = subprocess.run(["perf", "script", "-i", data],
                           capture_output=True, text=True, errors="replace",
                           timeout=600)
        folded = F.parse_perf_script(p.stdout.splitlines(True))
        if not folded:
            raise B.BenchError("perf recorded no samples: " +
                               p.stderr.strip()[-300:])
        with open(folded_path, "w") as f:
            f.write(F.folded_text(folded))
        title = a.title or "%s: %d msgs, S=%d, %d B, %s" % (
            os.path.relpath(a.tern_bin, B.ROOT), a.messages, a.sessions, a.size,
            "reuse" if not a.no_reuse else "1 msg/conn")
        sub = "perf record %s %s, %.0f msg/s, %.2f s CPU / 1,000 msgs" % (
            "-e sched:sched_switch (off-CPU: one sample a switch)"
            if a.switches else "-F %d" % a.frequency,
            "-g" if a.call_graph == "fp" else "--call-graph dwarf",
            rec["msgs_per_s"], rec["cpu_s_per_1000"])
        with open(svg_path, "w") as f:
            f.write(F.svg(folded, title, sub))
        if a.switches:
            report.append(switches_text(folded, a.messages))
        report.append(F.summary_text(F.summary(folded)))
        report.append("flame graph: %s" % os.path.relpath(svg_path))
    text = "\n".join(report) + "\n"
    with open(txt_path, "w") as f:
        f.write(text)
    sys.stdout.write(text)
    print("summary: %s" % os.path.relpath(txt_path))
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except B.BenchError as e:
        print("profile: %s" % e, file=sys.stderr)
        sys.exit(1)
