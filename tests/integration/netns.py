# SPDX-License-Identifier: ISC
"""netns.py - a private network of Linux network namespaces for one test.

One namespace holds a bridge (br0); every host is a namespace of its own
with one veth (eth0) plugged into that bridge and an address of a private
/24 that exists nowhere but in these namespaces. Names carry the test
process id and a random tag, so two runs (or a run that crashed and left
its namespaces behind) never meet; close() kills the processes started in
the hosts and deletes every namespace, and a later run deletes what a dead
run left.

Processes run in a host with `ip netns exec`; sockets are opened in a
host by a short-lived thread that joins the host's network namespace
(setns(2) changes only the calling thread, and a socket stays in the
namespace it was made in), so smtplib, imaplib and poplib work from the
test process itself (connect()).

Trust: the test's own tools only; needs root (CAP_SYS_ADMIN).
"""

import ctypes
import os
import secrets
import signal
import socket
import subprocess
import threading

CLONE_NEWNET = 0x40000000
IP_TIMEOUT = 10.0
PREFIX = "t21-"

_libc = ctypes.CDLL(None, use_errno=True)


def _ip(*args, check=True):
    return subprocess.run(["ip", *args], capture_output=True, text=True,
                          timeout=IP_TIMEOUT, check=check)


def netns_unavailable():
    """None when this process may make network namespaces, else why not."""
    if os.geteuid() != 0:
        return "network namespaces need root (ip netns add)"
    name = f"{PREFIX}{os.getpid()}-probe-{secrets.token_hex(3)}"
    try:
        r = _ip("netns", "add", name, check=False)
    except (OSError, subprocess.SubprocessError) as e:
        return f"ip netns add failed: {e}"
    if r.returncode != 0:
        return f"ip netns add is not allowed here: {r.stderr.strip()}"
    _ip("netns", "del", name, check=False)
    return None


def _pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _kill_inside(ns):
    """SIGKILL what still runs in namespace ns (made by this module):
    a daemon's child, or the servers of a run that died with pytest."""
    r = _ip("netns", "pids", ns, check=False)
    for pid in r.stdout.split():
        try:
            os.kill(int(pid), signal.SIGKILL)
        except (ProcessLookupError, ValueError):
            pass


def remove_stale():
    """Delete the namespaces of runs whose process is gone (a crash, a
    kill -9 of pytest): only names this module makes, only dead owners."""
    r = _ip("netns", "list", check=False)
    for line in r.stdout.splitlines():
        name = line.split()[0] if line.split() else ""
        parts = name[len(PREFIX):].split("-")
        if not name.startswith(PREFIX) or not parts[0].isdigit():
            continue
        if not _pid_alive(int(parts[0])):
            _kill_inside(name)
            _ip("netns", "del", name, check=False)


class Net:
    """A bridge namespace and hosts on prefix.0/24."""

    def __init__(self, prefix="10.21.0"):
        self.prefix = prefix
        self.tag = f"{PREFIX}{os.getpid()}-{secrets.token_hex(3)}"
        self.bridge = f"{self.tag}-br"
        self.hosts = {}  # name -> (namespace, address)
        self.procs = []
        self.made = []  # namespaces, in order of creation

    def _add_ns(self, ns):
        _ip("netns", "add", ns)
        self.made.append(ns)

    def up(self):
        self._add_ns(self.bridge)
        _ip("-n", self.bridge, "link", "add", "br0", "type", "bridge")
        _ip("-n", self.bridge, "link", "set", "br0", "up")
        return self

    def add_host(self, name, octet):
        """Host `name` at prefix.octet; returns its address."""
        ns = f"{self.tag}-{name}"
        addr = f"{self.prefix}.{octet}"
        self._add_ns(ns)
        port = f"v{octet}"
        _ip("-n", self.bridge, "link", "add", port, "type", "veth",
            "peer", "name", "eth0", "netns", ns)
        _ip("-n", self.bridge, "link", "set", port, "master", "br0", "up")
        _ip("-n", ns, "addr", "add", f"{addr}/24", "dev", "eth0")
        _ip("-n", ns, "link", "set", "eth0", "up")
        _ip("-n", ns, "link", "set", "lo", "up")
        self.hosts[name] = (ns, addr)
        return addr

    def addr(self, name):
        return self.hosts[name][1]

    def exec_argv(self, name):
        """The argv prefix that runs a command in host `name`."""
        return ["ip", "netns", "exec", self.hosts[name][0]]

    def popen(self, name, argv, **kw):
        """Start argv in host `name`; killed by close() if still running."""
        p = subprocess.Popen(self.exec_argv(name) + list(argv), **kw)
        self.procs.append(p)
        return p

    def in_host(self, name, fn, timeout=30.0):
        """fn() run by a thread inside host `name`'s network namespace."""
        path = f"/run/netns/{self.hosts[name][0]}"
        out = {}

        def run():
            try:
                with open(path, "rb") as f:
                    if _libc.setns(f.fileno(), CLONE_NEWNET) != 0:
                        e = ctypes.get_errno()
                        raise OSError(e, f"setns {path}: {os.strerror(e)}")
                # This thread ends here: it never goes back to the
                # test's namespace, so nothing else runs in this one.
                out["value"] = fn()
            except BaseException as e:  # handed to the caller
                out["error"] = e

        t = threading.Thread(target=run, daemon=True)
        t.start()
        t.join(timeout)
        if t.is_alive():
            raise TimeoutError(f"{fn} in {name} took over {timeout}s")
        if "error" in out:
            raise out["error"]
        return out["value"]

    def connect(self, name, host, port, timeout=15.0):
        """A TCP socket from host `name` connected to (host, port)."""
        return self.in_host(name, lambda: socket.create_connection(
            (host, port), timeout=timeout), timeout=timeout + 5)

    def udp(self, name, timeout=2.0):
        """An unbound UDP socket in host `name`."""
        def make():
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.settimeout(timeout)
            return s
        return self.in_host(name, make)

    def close(self):
        """Kill what was started in the hosts, delete every namespace.
        Safe to call twice, and after a partial up()."""
        for p in self.procs:
            if p.poll() is None:
                p.send_signal(signal.SIGKILL)
        for p in self.procs:
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                pass
        self.procs = []
        for ns in reversed(self.made):
            # A process this module did not start (a daemon's child)
            # would keep the namespace alive unnamed.
            _kill_inside(ns)
            _ip("netns", "del", ns, check=False)
        self.made = []
