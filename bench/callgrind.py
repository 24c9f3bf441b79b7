#!/usr/bin/python3
# SPDX-License-Identifier: ISC
"""Instructions per message for tern (issue 6: "report instructions per
message"), counted by valgrind's callgrind, since this VM exposes no
hardware counters to perf.

Starts tern (the bench configuration of bench/run.py) under callgrind,
warms it up, zeroes the counters, sends --messages messages of --size
bytes over --sessions smtp-source sessions into the Maildirs, waits until
every file is in new/, dumps the counters and prints user-space
instructions (Ir) per message and the functions that spend them.
Kernel work (the file system, TCP) is not counted: perf stat in
bench/run.py covers CPU time as a whole.

    /usr/bin/python3 bench/callgrind.py [--messages 500] [--size 4096]
"""
import argparse
import os
import re
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run as B  # noqa: E402


def wrapper(tern_bin, out):
    """A script that runs tern under callgrind (Tern.start runs a path)."""
    path = os.path.join(B.WORK, "tern-callgrind.sh")
    with open(path, "w") as f:
        f.write("#!/bin/sh\nexec valgrind --tool=callgrind --quiet "
                "--callgrind-out-file=%s %s \"$@\"\n" % (out, tern_bin))
    os.chmod(path, 0o755)
    return path


def totals(path):
    """The Ir total of a callgrind dump."""
    with open(path) as f:
        for line in f:
            m = re.match(r"(?:totals|summary): (\d+)", line)
            if m:
                return int(m.group(1))
    raise B.BenchError("no totals in %s" % path)


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--messages", type=int, default=500)
    ap.add_argument("--size", type=int, default=4096)
    ap.add_argument("--sessions", type=int, default=10)
    ap.add_argument("--tern-bin", default=os.path.join(B.ROOT, "build",
                                                       "tern"))
    ap.add_argument("--top", type=int, default=15)
    a = ap.parse_args(argv)
    if not 10 <= a.messages <= 20000 or not 1 <= a.sessions <= 100:
        ap.error("--messages 10..20000, --sessions 1..100")
    args = B.parse_args(["--servers", "tern", "--no-install",
                         "--no-results", "--tern-bin", a.tern_bin])
    os.makedirs(B.WORK, exist_ok=True)
    out = os.path.join(B.WORK, "callgrind.out")
    for f in os.listdir(B.WORK):
        if f.startswith("callgrind.out"):
            os.unlink(os.path.join(B.WORK, f))
    tn = B.Tern(args, B.free_port())
    tn.setup()  # users are added with the plain binary
    tn.bin = wrapper(os.path.abspath(a.tern_bin), out)
    tn.start()
    try:
        B.probe_delivery(tn, False)  # warm: every Maildir exists
        pid = tn.root_pid()
        subprocess.run(["callgrind_control", "-z", str(pid)], check=True,
                       stdout=subprocess.DEVNULL)
        newdirs = [tn.maildir_new(u) for u in B.USERS]
        B.empty_dirs(tn.maildirs())
        deadline = time.monotonic() + 60 + a.messages * 0.2
        t0 = time.monotonic()
        B.run_source(tn.port, a.sessions, a.messages, a.size,
                     lambda u: "%s@%s" % (u, B.DOMAIN), deadline)
        B.wait_count(lambda: B.count_files(newdirs), a.messages, deadline,
                     "deliveries under callgrind")
        secs = time.monotonic() - t0
        subprocess.run(["callgrind_control", "-d", str(pid)], check=True,
                       stdout=subprocess.DEVNULL)
    finally:
        tn.stop()
    dumps = sorted(f for f in os.listdir(B.WORK)
                   if re.match(r"callgrind\.out\.\d+$", f) or
                   re.match(r"callgrind\.out.*\.\d+$", f))
    if not dumps:
        raise B.BenchError("callgrind wrote no dump")
    dump = os.path.join(B.WORK, dumps[0])
    ir = totals(dump)
    print("tern under callgrind: %d messages of %d bytes, %d sessions, "
          "%.1f s" % (a.messages, a.size, a.sessions, secs))
    print("user-space instructions per message: %.0f (Ir %d)" %
          (ir / a.messages, ir))
    ann = subprocess.run(["callgrind_annotate", "--inclusive=no",
                          "--threshold=100", dump],
                         capture_output=True, text=True)
    # A mid-run dump charges the threads' entry points (clone,
    # start_thread, the event loops) with what runs below them: skip
    # those and the program total.
    roots = ("PROGRAM TOTALS", ":clone ", ":start_thread ", ":loop_main ",
             ":worker_main ", ":sync_main ", ":thread_main ")
    lines = [ln.strip() for ln in ann.stdout.splitlines()
             if re.match(r"\s*[\d,]+ ", ln) and
             not any(r in ln + " " for r in roots)]
    print("top functions (self Ir):")
    for ln in lines[:a.top]:
        print("  " + re.sub(r" \[[^]]*\]$", "", ln))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
