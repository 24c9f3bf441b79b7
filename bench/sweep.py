#!/usr/bin/python3
# SPDX-License-Identifier: ISC
"""bench/sweep.py - tern and tuned Postfix as the work grows (issue 20).

`make bench-sweep`. Local Maildir delivery with connection reuse
(smtp-source -d), both servers, runs interleaved (Postfix, tern, next
point, next run):

- S = 1, 10, 50, 100, 200, 500 sessions at 4 KiB;
- sizes 1 KiB, 4 KiB, 16 KiB, 100 KiB, 1 MiB, 10 MiB at S = 50 (the
  S = 50 4 KiB point is measured once and used in both).

Messages per run: --messages, scaled down below S = 50 (S/50 of it, at
least 300) and bounded by --bytes per run for big sizes (at least S
messages, so every session sends). Writes a table (.md), the figures
(.json) and a plot (.svg, python3-matplotlib) to bench/results/
<date>-<host>-sweep*, and copies the plot to bench/sweep.svg.

Servers, probes, flush counting and clean-up are bench/round2.py's and
bench/run.py's. Postfix gets default_process_limit = max(300, S + 100)
(one smtpd per session) and message_size_limit above the largest size
(its default, 10,240,000 bytes, refuses 10 MiB); nothing else changes.

Trust: as bench/run.py (root, loopback, writes under bench/ only).
"""

import argparse
import datetime
import json
import os
import shutil
import subprocess
import sys
import time

import round2
import run as rb

KIB = rb.KIB
MIB = 1024 * KIB
SIZE_NAMES = {"1k": KIB, "4k": 4 * KIB, "16k": 16 * KIB, "100k": 100 * KIB,
              "1m": MIB, "10m": 10 * MIB}
BASE_S = 50
BASE_SIZE = "4k"
PLOT = os.path.join(rb.HERE, "sweep.svg")


def size_label(name):
    return name.upper().replace("K", " KiB").replace("M", " MiB")


def points(args):
    """(S, size name) in measuring order, S = 50 at 4 KiB once."""
    out = [(s, BASE_SIZE) for s in args.sessions_list]
    out += [(BASE_S, z) for z in args.sizes if (BASE_S, z) not in out]
    return out


def messages_for(args, s, size):
    n = args.messages if s >= BASE_S else \
        max(args.min_messages, args.messages * s // BASE_S)
    return max(s, min(n, args.bytes // size))


def key_of(s, size):
    return "s%d_%s" % (s, size)


def bench(args, res, servers, relay_sink, unavailable, dev):
    live = [s for s in servers if not unavailable.get(s.name)]
    for i in range(args.runs):
        for s, z in points(args):
            n = messages_for(args, s, SIZE_NAMES[z])
            key = key_of(s, z)
            for srv in live:
                if unavailable.get(srv.name):
                    continue
                round2.record(res, srv.name, key, i, lambda: round2.measure(
                    srv, "local", "reuse", SIZE_NAMES[z], n, s, dev,
                    relay_sink, False))
                if srv.root_pid() is None:
                    unavailable[srv.name] = "died during %s" % key


def median_of(res, who, key, field=None):
    if field is None:
        s = res.summary(who, key)
        return s[0] if s else None
    return round2.extra_median(res, who, key, field)


def table(args, res, rows, first, unavailable, mbps=False):
    head = [first, "messages", "postfix msg/s", "tern msg/s", "tern/postfix",
            "flushes/msg pf", "tern"]
    if mbps:
        head[5:5] = ["postfix MB/s", "tern MB/s"]
    out = []
    for label, s, z in rows:
        key = key_of(s, z)
        pf, tn = median_of(res, "postfix", key), median_of(res, "tern", key)
        r = [label, str(messages_for(args, s, SIZE_NAMES[z])),
             rb.cell(res, "postfix", key, unavailable),
             rb.cell(res, "tern", key, unavailable),
             "%.2fx" % (tn / pf) if pf and tn else "-"]
        if mbps:
            r += [rb.fmt_num(v * SIZE_NAMES[z] / 1e6) if v else "-"
                  for v in (pf, tn)]
        r += [round2.fmt_opt(median_of(res, w, key, "flushes_per_msg"))
              for w in ("postfix", "tern")]
        out.append(r)
    widths = [max(len(r[i]) for r in out + [head]) for i in range(len(head))]

    def line(r):
        return "| " + " | ".join(r[i].ljust(widths[i])
                                 for i in range(len(head))) + " |"
    return "\n".join([line(head), "|" + "|".join("-" * (w + 2)
                                                 for w in widths) + "|"] +
                     [line(r) for r in out])


def render(args, res, unavailable):
    s_rows = [("S=%d" % s, s, BASE_SIZE) for s in args.sessions_list]
    z_rows = [(size_label(z), BASE_S, z) for z in args.sizes]
    return ("Local delivery, connection reuse, 4 KiB, by sessions S:\n\n" +
            table(args, res, s_rows, "S", unavailable) +
            "\n\nLocal delivery, connection reuse, S=%d, by size:\n\n" %
            BASE_S + table(args, res, z_rows, "size", unavailable,
                           mbps=True))


def plot(args, res, path, title):
    """Two panels, msg/s against S and against size; None if
    matplotlib is missing."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    fig, (a, b) = plt.subplots(1, 2, figsize=(11, 4.5))
    for who, style in (("postfix", "o-"), ("tern", "s-")):
        xs = [s for s in args.sessions_list
              if median_of(res, who, key_of(s, BASE_SIZE))]
        a.plot(xs, [median_of(res, who, key_of(s, BASE_SIZE)) for s in xs],
               style, label=who)
        zs = [z for z in args.sizes if median_of(res, who, key_of(BASE_S, z))]
        b.plot([SIZE_NAMES[z] for z in zs],
               [median_of(res, who, key_of(BASE_S, z)) for z in zs],
               style, label=who)
    a.set_xscale("log")
    a.set_xlabel("sessions S (4 KiB, reuse)")
    a.set_ylabel("msg/s (median of %d)" % args.runs)
    a.set_xticks(args.sessions_list)
    a.set_xticklabels([str(s) for s in args.sessions_list])
    b.set_xscale("log")
    b.set_yscale("log")
    b.set_xlabel("message size (S=%d, reuse)" % BASE_S)
    b.set_xticks([SIZE_NAMES[z] for z in args.sizes])
    b.set_xticklabels([size_label(z) for z in args.sizes])
    for ax in (a, b):
        ax.minorticks_off()  # the log axes' unlabelled ticks: noise
        ax.grid(True, alpha=0.3)
        ax.legend()
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, format="svg")
    plt.close(fig)
    return path


def ensure_matplotlib(args):
    if rb.have_pkg("python3-matplotlib") or args.no_install:
        return
    rb.log("installing: python3-matplotlib")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    subprocess.run(["apt-get", "install", "-y", "-qq",
                    "--no-install-recommends", "python3-matplotlib"],
                   env=env, timeout=900, check=False)


def parse_args(argv):
    ap = argparse.ArgumentParser(
        description="tern and tuned Postfix over sessions and sizes "
                    "(make bench-sweep).")
    ap.add_argument("--runs", type=int, default=3,
                    help="runs per point (default 3)")
    ap.add_argument("--messages", type=int, default=3000,
                    help="messages per run at S >= 50 (default 3000)")
    ap.add_argument("--min-messages", type=int, default=300,
                    help="floor of the S/50 scaling (default 300)")
    ap.add_argument("--bytes", type=int, default=400 * MIB,
                    help="message bytes per run at most, for big sizes "
                         "(default 400 MiB)")
    ap.add_argument("--sessions-list", default="1,10,50,100,200,500")
    ap.add_argument("--sizes", default="1k,4k,16k,100k,1m,10m")
    ap.add_argument("--quick", action="store_true",
                    help="1 run, 500 messages, 50 MiB per run")
    ap.add_argument("--tern-bin", default=os.path.join(rb.ROOT, "build",
                                                       "tern"))
    ap.add_argument("--no-install", action="store_true")
    ap.add_argument("--no-results", action="store_true")
    ap.add_argument("-v", "--verbose", action="store_true")
    args = ap.parse_args(argv)
    if args.quick:
        args.runs = 1
        args.messages = min(args.messages, 500)
        args.min_messages = min(args.min_messages, 100)
        args.bytes = min(args.bytes, 50 * MIB)
    try:
        args.sessions_list = [int(x) for x in args.sessions_list.split(",")
                              if x]
    except ValueError:
        ap.error("--sessions-list takes numbers")
    args.sizes = [z for z in args.sizes.split(",") if z]
    if not args.sessions_list or \
            any(not 1 <= s <= 1000 for s in args.sessions_list):
        ap.error("--sessions-list: 1..1000 each")
    if not args.sizes or not set(args.sizes) <= set(SIZE_NAMES):
        ap.error("--sizes takes " + ",".join(SIZE_NAMES))
    for name, v, lo, hi in (("--runs", args.runs, 1, 50),
                            ("--messages", args.messages, 10, 1000000),
                            ("--min-messages", args.min_messages, 1, 100000),
                            ("--bytes", args.bytes, MIB, 64 << 30)):
        if not lo <= v <= hi:
            ap.error("%s must be in %d..%d" % (name, lo, hi))
    return args


def write_results(args, res, info, cmdline, text, notes, started, elapsed,
                  unavailable):
    stem = round2.results_paths(started, info["host"],
                                "sweep-quick" if args.quick else "sweep")
    svg = plot(args, res, stem + ".svg", "tern vs tuned Postfix, local "
               "Maildir delivery, %s, %s, load average %s at start" % (
                   info["host"], started.strftime("%Y-%m-%d"),
                   info["loadavg_at_start"].split()[0]))
    if svg:
        shutil.copyfile(svg, PLOT)
    else:
        notes.append("no plot: python3-matplotlib is not installed")
    with open(stem + ".md", "w") as f:
        f.write("# Sweep %s on %s\n\n" % (started.strftime("%Y-%m-%d %H:%M"),
                                          info["host"]))
        f.write("Command: `%s`  \nRuns per point: %d; took %.0f s. Cells: "
                "median [min..max] msg/s; flushes: median per message.\n\n"
                % (cmdline, args.runs, elapsed))
        f.write(text + "\n\n")
        if svg:
            f.write("![sweep](%s)\n\n" % os.path.basename(svg))
        rb.write_machine_notes(f, info, notes)
    data = {"started": started.isoformat(timespec="seconds"),
            "command": cmdline, "elapsed_s": round(elapsed, 1),
            "machine": info, "unavailable": unavailable,
            "settings": {"runs": args.runs, "messages": args.messages,
                         "min_messages": args.min_messages,
                         "bytes": args.bytes,
                         "sessions_list": args.sessions_list,
                         "sizes": args.sizes, "quick": args.quick},
            "figures": {}}
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
    return stem + ".md", svg


def main(argv):
    args = parse_args(argv)
    rb._verbose = args.verbose
    if os.geteuid() != 0:
        raise rb.BenchError("run as root (private Postfix instance, "
                            "apt-get)")
    cmdline = " ".join(["/usr/bin/python3", "bench/sweep.py"] + argv)
    started = datetime.datetime.now()
    t_start = time.monotonic()
    round2.install_signal_handlers()
    rb.ensure_deps(round2.rb_args(args))
    ensure_matplotlib(args)
    rb.stop_system_postfix()
    os.makedirs(rb.WORK, exist_ok=True)
    dev = round2.block_device(rb.WORK)
    info = rb.machine_info()
    info["flush_device"] = dev or "none found"
    info["tern_bin"] = args.tern_bin
    res = rb.Results()
    unavailable = {}
    relay_sink = None
    servers = []
    max_s = max(args.sessions_list + [BASE_S])
    max_size = max(SIZE_NAMES[z] for z in args.sizes)

    def tweak(pf):
        pf.process_limit = max(300, max_s + 100)
        pf.size_limit = 2 * max_size + MIB
    try:
        relay_sink = rb.Sink(rb.free_port())
        rb.raise_nofile(max(4096, 4 * max_s))
        servers = round2.start_servers(args, relay_sink, unavailable, False,
                                       tweak)
        bench(args, res, servers, relay_sink, unavailable, dev)
    finally:
        round2.stop_all(servers + [relay_sink])
    elapsed = time.monotonic() - t_start
    info["loadavg_at_end"] = round2.uptime()
    text = render(args, res, unavailable)
    notes = []
    for srv in ("postfix", "tern"):
        if unavailable.get(srv):
            notes.append("%s: not available (%s)" % (srv, unavailable[srv]))
    for (srv, key), msg in sorted(res.errors.items()):
        notes.append("%s %s error: %s" % (srv, key, msg))
    busy = info.get("cpu_busy_at_start_pct")
    if busy is not None and busy > rb.BUSY_WARN_PCT:
        notes.append("the machine was not quiet: %.0f%% of the CPUs were "
                     "busy before the sweep started" % busy)
    print()
    print(text)
    for n in notes:
        print("  " + n)
    if not args.no_results:
        md, svg = write_results(args, res, info, cmdline, text, notes,
                                started, elapsed, unavailable)
        print("\nwritten: %s%s" % (os.path.relpath(md, rb.ROOT),
                                   ", %s and %s" % (
                                       os.path.relpath(svg, rb.ROOT),
                                       os.path.relpath(PLOT, rb.ROOT))
                                   if svg else ""))
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
