#!/usr/bin/python3
# SPDX-License-Identifier: ISC
"""Flame graphs from `perf script` output (issue 20), Python stdlib only.

Debian has no flamegraph package, so this folds the stacks of
`perf record -g` (or `--call-graph dwarf`) as `perf script` prints them
and draws a self-contained SVG: one rectangle per frame, its width the
samples under it, a label where it fits, a <title> per frame (the
browser shows it on hover), colours fixed by the frame's name. No
JavaScript.

    perf script -i perf.data | bench/flamegraph.py -o out.svg
    bench/flamegraph.py --folded out.folded perf.txt   # the folded stacks
    bench/flamegraph.py --summary perf.txt             # top symbols, syscalls
    bench/flamegraph.py --self-test                    # what make test runs

The root of every stack is the thread's name (perf's comm), so each
thread of a process gets its own tower. Kernel frames end in `_[k]` (as
in Brendan Gregg's stackcollapse-perf.pl); a frame perf could not name
is `[dso]` (the library it was in) and runs of them are merged, since
an unwinder without frame pointers produces several per stack.

Trust: perf's output is local and ours, but symbol names come from
binaries and are XML-escaped before they reach the SVG.
"""
import argparse
import collections
import hashlib
import os
import re
import sys
import xml.sax.saxutils

# "comm  pid/tid [cpu] time: period event:" with tid, cpu and period
# optional (perf script -F changes them); comm may contain spaces.
HEADER_RE = re.compile(
    r"^(?P<comm>\S.*?)\s+(?P<pid>\d+)(?:/(?P<tid>\d+))?\s+"
    r"(?:\[\d+\]\s+)?(?P<time>\d+\.\d+):\s*"
    r"(?:(?P<period>\d+)\s+)?(?P<event>\S+?):?\s*(?:$|\S)")
# "\t addr sym+0xoff (dso)"; sym may contain spaces and parentheses
# (C++ or Rust), the dso is the last parenthesised group.
FRAME_RE = re.compile(r"^\s*(?P<addr>[0-9a-f]+)\s+(?P<sym>.*?)"
                      r"(?:\+0x[0-9a-f]+)?\s+\((?P<dso>[^()]*)\)\s*$")

KERNEL_SUFFIX = "_[k]"

# System call families of the text summary (issue 20's list first).
SYSCALL_FAMILIES = collections.OrderedDict([
    ("fsync", ("fsync", "fdatasync", "sync_file_range", "syncfs")),
    ("openat", ("openat", "open", "openat2", "creat")),
    ("rename", ("rename", "renameat", "renameat2")),
    ("write/writev", ("write", "writev", "pwrite64", "pwritev",
                      "pwritev2", "sendto", "sendmsg")),
    ("read/readv", ("read", "readv", "pread64", "preadv", "recvfrom",
                    "recvmsg")),
    ("futex", ("futex",)),
    ("epoll", ("epoll_wait", "epoll_pwait", "epoll_pwait2", "epoll_ctl")),
    ("close", ("close",)),
    ("unlink", ("unlink", "unlinkat")),
    ("accept", ("accept", "accept4")),
])
SYSCALL_RE = re.compile(r"^(?:__x64_sys|__ia32_sys|__se_sys|__do_sys|"
                        r"__arm64_sys)_(\w+?)" + re.escape(KERNEL_SUFFIX) +
                        "$")


# ---------------------------------------------------------------------------
# Folding.

def frame_name(sym, dso):
    """One frame's folded name: kernel frames get _[k], unknown ones the
    basename of their dso in brackets."""
    dso_base = os.path.basename(dso) if dso else ""
    if sym in ("", "[unknown]"):
        if dso_base in ("", "[unknown]"):
            return "[unknown]"
        return "[%s]" % dso_base.strip("[]")
    if dso_base == "[kernel.kallsyms]" or dso.startswith("[kernel"):
        return sym + KERNEL_SUFFIX
    # Folded stacks use ';' between frames and ' ' before the count.
    return sym.replace(";", ":").replace(" ", "_")


def fold_frames(frames):
    """Leaf-first perf frames -> root-first list, unknown runs merged."""
    out = []
    for name in reversed(frames):
        if name.startswith("[") and out and out[-1] == name:
            continue
        if name == "[unknown]" and out and out[-1].startswith("["):
            continue
        out.append(name)
    return out


def parse_perf_script(lines, use_period=False, with_tid=False):
    """perf script text -> Counter {(comm, frame, ..., leaf): weight}.

    weight is 1 per sample, or the sample's period with use_period.
    with_tid names the root "comm/tid" (threads that share a name)."""
    folded = collections.Counter()
    head = None
    frames = []

    def flush():
        if head is None:
            return
        root = head["comm"].replace(";", ":").replace(" ", "_")
        if with_tid and head["tid"]:
            root += "/" + head["tid"]
        stack = [root] + fold_frames(frames)
        w = int(head["period"]) if use_period and head["period"] else 1
        folded[tuple(stack)] += w

    for raw in lines:
        line = raw.rstrip("\n")
        if not line.strip():
            flush()
            head, frames = None, []
            continue
        if line[0] not in " \t":
            flush()
            frames = []
            m = HEADER_RE.match(line)
            if m:
                head = m.groupdict()
                if head["tid"] is None:
                    head["tid"] = head["pid"]
            else:
                head = None  # a comment or a format we do not know
            continue
        if head is None:
            continue
        m = FRAME_RE.match(line)
        if m:
            frames.append(frame_name(m.group("sym"), m.group("dso")))
    flush()
    return folded


def folded_text(folded):
    """The folded stacks as text, one 'a;b;c N' a line, sorted."""
    return "".join("%s %d\n" % (";".join(k), v)
                   for k, v in sorted(folded.items()))


def parse_folded(lines):
    folded = collections.Counter()
    for line in lines:
        stack, _, n = line.rstrip("\n").rpartition(" ")
        if stack and n.isdigit():
            folded[tuple(stack.split(";"))] += int(n)
    return folded


# ---------------------------------------------------------------------------
# Summary.

def wrapper_call(name):
    """libc's wrapper name -> the system call (__GI___writev -> writev,
    __libc_openat64 -> openat, fsync -> fsync)."""
    call = re.sub(r"^(?:__GI_)?_*(?:libc_)?", "", name)
    call = re.sub(r"_nocancel$", "", call)
    if "futex" in call or call.startswith("lll_lock"):
        return "futex"  # glibc's futex_wake, lll_lock_wait and kin
    known = {c for calls in SYSCALL_FAMILIES.values() for c in calls}
    if call not in known and call.endswith("64") and call[:-2] in known:
        call = call[:-2]
    return call


def syscall_of(stack):
    """The system call a root-first stack is in, or None: the outermost
    __x64_sys_ frame, else (the kernel inlined it) the user frame that
    entered the kernel, libc's wrapper."""
    entry = None
    for i, name in enumerate(stack):
        m = SYSCALL_RE.match(name)
        if m:
            return m.group(1)
        if entry is None and name.startswith("entry_SYSCALL") and \
                name.endswith(KERNEL_SUFFIX):
            entry = i
    if entry is not None and entry > 1 and \
            not stack[entry - 1].startswith("[") and \
            not stack[entry - 1].endswith(KERNEL_SUFFIX):
        return wrapper_call(stack[entry - 1])
    return None


def family_of(call):
    for fam, calls in SYSCALL_FAMILIES.items():
        if call in calls:
            return fam
    return "other"


def summary(folded, top=20):
    """{total, self: [(sym, n)], inclusive: [(sym, n)], threads,
    syscalls: {family: n}, in_kernel, calls: {syscall: n}}."""
    total = sum(folded.values())
    self_c = collections.Counter()
    incl = collections.Counter()
    threads = collections.Counter()
    fams = collections.Counter()
    calls = collections.Counter()
    kernel = 0
    for stack, n in folded.items():
        threads[stack[0]] += n
        if len(stack) > 1:
            self_c[stack[-1]] += n
            if stack[-1].endswith(KERNEL_SUFFIX):
                kernel += n
        for name in set(stack[1:]):
            incl[name] += n
        call = syscall_of(stack)
        if call is not None:
            calls[call] += n
            fams[family_of(call)] += n
    return {"total": total, "self": self_c.most_common(top),
            "inclusive": incl.most_common(top),
            "threads": threads.most_common(),
            "syscalls": fams, "calls": calls.most_common(top),
            "in_kernel": kernel}


def pct(n, total):
    return 100.0 * n / total if total else 0.0


def summary_text(s, title=""):
    t = s["total"]
    out = []
    if title:
        out.append(title)
    out.append("samples: %d, in the kernel (self): %.1f%%, in system "
               "calls: %.1f%%" % (t, pct(s["in_kernel"], t),
                                  pct(sum(s["syscalls"].values()), t)))
    out.append("")
    out.append("share per system call family (samples under the call):")
    for fam in list(SYSCALL_FAMILIES) + ["other"]:
        n = s["syscalls"].get(fam, 0)
        out.append("  %-14s %6.1f%%  %d" % (fam, pct(n, t), n))
    out.append("")
    out.append("system calls (samples under the call):")
    for name, n in s["calls"]:
        out.append("  %-20s %6.1f%%  %d" % (name, pct(n, t), n))
    out.append("")
    out.append("threads (root frame = thread name):")
    for name, n in s["threads"]:
        out.append("  %-20s %6.1f%%  %d" % (name, pct(n, t), n))
    out.append("")
    out.append("top symbols, self:")
    for name, n in s["self"]:
        out.append("  %6.1f%%  %6d  %s" % (pct(n, t), n, name))
    out.append("")
    out.append("top symbols, inclusive:")
    for name, n in s["inclusive"]:
        out.append("  %6.1f%%  %6d  %s" % (pct(n, t), n, name))
    return "\n".join(out) + "\n"


# ---------------------------------------------------------------------------
# SVG.

class Node:
    __slots__ = ("name", "count", "children")

    def __init__(self, name):
        self.name = name
        self.count = 0
        self.children = {}


def build_tree(folded):
    root = Node("all")
    for stack, n in folded.items():
        node = root
        node.count += n
        for name in stack:
            child = node.children.get(name)
            if child is None:
                child = node.children[name] = Node(name)
            child.count += n
            node = child
    return root


def colour(name):
    """A fixed colour per name: the kind picks the hue range (kernel
    orange, unknown grey, the rest red to yellow; threads are blue),
    a hash of the name the shade, so two graphs colour alike."""
    h = hashlib.md5(name.encode("utf-8", "replace")).digest()
    a, b, c = h[0] / 255.0, h[1] / 255.0, h[2] / 255.0
    if name.endswith(KERNEL_SUFFIX):
        return "rgb(%d,%d,%d)" % (230 + 25 * a, 120 + 60 * b, 40 + 30 * c)
    if name.startswith("["):
        v = int(180 + 40 * a)
        return "rgb(%d,%d,%d)" % (v, v, v)
    return "rgb(%d,%d,%d)" % (205 + 50 * a, 80 + 150 * b, 50 + 20 * c)


def fill_of(name, depth):
    if depth == 0:
        return "rgb(220,220,210)"
    if depth == 1:  # a thread
        h = hashlib.md5(name.encode("utf-8", "replace")).digest()
        return "rgb(%d,%d,%d)" % (110 + h[0] % 40, 150 + h[1] % 40, 230)
    return colour(name)


def depth_of(node):
    best = 0
    stack = [(node, 0)]
    while stack:
        n, d = stack.pop()
        best = max(best, d)
        stack.extend((c, d + 1) for c in n.children.values())
    return best


def svg(folded, title="Flame graph", subtitle="", width=1200,
        frame_h=16, font_size=11, min_width=0.1):
    """The SVG text of a flame graph of folded stacks (root at the
    bottom, children sorted by name as in flamegraph.pl)."""
    esc = xml.sax.saxutils.escape
    root = build_tree(folded)
    total = root.count
    pad_top, pad_bottom, pad_side = 48, 24, 10
    depth = depth_of(root)
    height = pad_top + (depth + 1) * frame_h + pad_bottom
    scale = (width - 2 * pad_side) / total if total else 0.0
    char_w = font_size * 0.59
    out = ['<?xml version="1.0" standalone="no"?>',
           '<svg version="1.1" width="%d" height="%d" viewBox="0 0 %d %d" '
           'xmlns="http://www.w3.org/2000/svg">' % (width, height, width,
                                                     height),
           '<style>text { font-family: monospace; font-size: %dpx; '
           'fill: #000; } .t { font-size: %dpx; }</style>' % (font_size,
                                                              font_size + 5),
           '<rect x="0" y="0" width="%d" height="%d" fill="#f8f8f0"/>' % (
               width, height),
           '<text class="t" x="%d" y="22" text-anchor="middle">%s</text>' % (
               width // 2, esc(title))]
    if subtitle:
        out.append('<text x="%d" y="40" text-anchor="middle">%s</text>' % (
            width // 2, esc(subtitle)))
    # Iterative walk: (node, depth, x); root at the bottom.
    work = [(root, 0, float(pad_side))]
    while work:
        node, d, x = work.pop()
        w = node.count * scale
        if w < min_width:
            continue
        y = height - pad_bottom - (d + 1) * frame_h
        label = node.name if d else "all"
        tip = "%s (%d samples, %.2f%%)" % (label, node.count,
                                            pct(node.count, total))
        out.append('<g><title>%s</title><rect x="%.2f" y="%d" width="%.2f" '
                   'height="%d" fill="%s" rx="2" ry="2"/>' % (
                       esc(tip), x, y, w, frame_h - 1,
                       fill_of(label, d)))
        fit = int((w - 6) / char_w)
        if fit >= 3:
            text = label if len(label) <= fit else label[:fit - 2] + ".."
            out.append('<text x="%.2f" y="%d">%s</text>' % (
                x + 3, y + frame_h - 4, esc(text)))
        out.append('</g>')
        cx = x
        for name in sorted(node.children):
            child = node.children[name]
            work.append((child, d + 1, cx))
            cx += child.count * scale
    out.append('</svg>')
    return "\n".join(out) + "\n"


# ---------------------------------------------------------------------------
# Self-test (make test: meson's unit suite runs it; well under a second).

SAMPLE = """\
tern 100/101 [000] 10.000001:    1001001 cpu-clock:ppp: 
\tffffffff81000001 ext4_sync_file+0x10 ([kernel.kallsyms])
\tffffffff81000002 __x64_sys_fsync+0x20 ([kernel.kallsyms])
\tffffffff81000003 do_syscall_64+0x71 ([kernel.kallsyms])
\t          10e0c3 fsync+0x13 (/usr/lib/x86_64-linux-gnu/libc.so.6)
\t            5000 sync_main+0x40 (/opt/tern/build/tern)
\t            6000 start_thread+0x2 (/usr/lib/x86_64-linux-gnu/libc.so.6)

tern 100/101 [001] 10.001001:    1001001 cpu-clock:ppp: 
\tffffffff81000001 ext4_sync_file+0x10 ([kernel.kallsyms])
\tffffffff81000002 __x64_sys_fsync+0x20 ([kernel.kallsyms])
\tffffffff81000003 do_syscall_64+0x71 ([kernel.kallsyms])
\t          10e0c3 fsync+0x13 (/usr/lib/x86_64-linux-gnu/libc.so.6)
\t            5000 sync_main+0x40 (/opt/tern/build/tern)
\t            6000 start_thread+0x2 (/usr/lib/x86_64-linux-gnu/libc.so.6)

loop 0 100/102 [000] 10.002001:    1001001 cpu-clock:ppp: 
\t          109c1a epoll_ctl+0xa (/usr/lib/x86_64-linux-gnu/libc.so.6)
\t       400000020 [unknown] ([unknown])
\t       100000000 [unknown] ([unknown])

tern 100/103 10.003001: cpu-clock:ppp: 
\t            7000 a<b>&c+0x1 (/opt/tern/build/tern)
\t            7100 [unknown] (/usr/lib/x86_64-linux-gnu/libevent-2.1.so.7)
\t            7200 [unknown] (/usr/lib/x86_64-linux-gnu/libevent-2.1.so.7)
\t            7300 main+0x3 (/opt/tern/build/tern)

tern 100/103 [001] 10.003501:    1001001 cpu-clock:ppp: 
\tffffffff81000011 do_iter_write+0x10 ([kernel.kallsyms])
\tffffffff81000003 do_syscall_64+0x71 ([kernel.kallsyms])
\tffffffff81000004 entry_SYSCALL_64_after_hwframe+0x76 ([kernel.kallsyms])
\t          10e0d3 __GI___writev+0x13 (/usr/lib/x86_64-linux-gnu/libc.so.6)

# a comment line perf does not print, but a file might hold
tern 100/104 [001] 10.004001:    1001001 cpu-clock:ppp: 
"""

SAMPLE_FOLDED = """\
loop_0;[unknown];epoll_ctl 1
tern 1
tern;__GI___writev;entry_SYSCALL_64_after_hwframe_[k];do_syscall_64_[k];\
do_iter_write_[k] 1
tern;main;[libevent-2.1.so.7];a<b>&c 1
tern;start_thread;sync_main;fsync;do_syscall_64_[k];__x64_sys_fsync_[k];\
ext4_sync_file_[k] 2
"""


def self_test():
    folded = parse_perf_script(SAMPLE.splitlines(True))
    got = folded_text(folded)
    assert got == SAMPLE_FOLDED, "folded:\n" + got
    assert parse_folded(got.splitlines(True)) == folded
    s = summary(folded)
    assert s["total"] == 6, s
    assert s["syscalls"]["fsync"] == 2 and s["syscalls"]["write/writev"] == 1
    assert s["calls"] == [("fsync", 2), ("writev", 1)], s
    assert s["in_kernel"] == 3, s
    assert s["self"][0] == ("ext4_sync_file_[k]", 2), s
    assert dict(s["threads"]) == {"tern": 5, "loop_0": 1}, s
    tid = parse_perf_script(SAMPLE.splitlines(True), with_tid=True)
    assert ("tern/101",) == next(k for k in tid if k[0] == "tern/101")[:1]
    text = svg(folded, title="t<1>", width=600)
    assert text.count("<rect") == 1 + 1 + 17, text  # background, all, frames
    assert text.count("<title>") == 18
    assert "a&lt;b&gt;&amp;c" in text and "a<b>" not in text
    assert "<title>all (6 samples, 100.00%)</title>" in text
    assert svg(folded, width=600) == svg(folded, width=600)  # deterministic
    assert "<script" not in text
    assert [wrapper_call(n) for n in ("__libc_openat64", "__GI___writev",
                                      "fsync", "__pread64_nocancel",
                                      "__GI___lll_lock_wake")] == \
        ["openat", "writev", "fsync", "pread64", "futex"]
    print("flamegraph self-test: ok")
    return 0


# ---------------------------------------------------------------------------

def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("input", nargs="?", default="-",
                    help="perf script output (default stdin)")
    ap.add_argument("-o", "--output", help="write the SVG here")
    ap.add_argument("--folded", help="also write the folded stacks here")
    ap.add_argument("--from-folded", action="store_true",
                    help="the input is folded stacks, not perf script")
    ap.add_argument("--summary", action="store_true",
                    help="print top symbols and system call shares")
    ap.add_argument("--title", default="Flame graph")
    ap.add_argument("--subtitle", default="")
    ap.add_argument("--width", type=int, default=1200)
    ap.add_argument("--period", action="store_true",
                    help="weigh samples by their period, not 1 each")
    ap.add_argument("--tid", action="store_true",
                    help="root frames are comm/tid, not comm")
    ap.add_argument("--self-test", action="store_true")
    a = ap.parse_args(argv)
    if a.self_test:
        return self_test()
    f = sys.stdin if a.input == "-" else open(a.input, errors="replace")
    with f:
        folded = parse_folded(f) if a.from_folded else \
            parse_perf_script(f, a.period, a.tid)
    if not folded:
        print("flamegraph: no samples in the input", file=sys.stderr)
        return 1
    if a.folded:
        with open(a.folded, "w") as out:
            out.write(folded_text(folded))
    if a.output:
        with open(a.output, "w") as out:
            out.write(svg(folded, a.title, a.subtitle, a.width))
    if a.summary or not (a.output or a.folded):
        sys.stdout.write(summary_text(summary(folded)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
