# SPDX-License-Identifier: ISC
"""DNSSEC for the tests (issue 19): zones signed with ldns-signzone
(ldnsutils), served by a real nsd on loopback, and the trust anchor file
tern is given as [outbound_tls] trust_anchor.

    ns = Nsd(tmp_path)
    z = ns.zone("example.test", ["@ MX 10 mx", "mx A 127.0.0.9"],
                sign=True)
    z.tamper("_25._tcp.mx", "TLSA", "3 1 1 00..")  # bogus after signing
    ns.start()       # returns "127.0.0.1:PORT" for dns_server
    z.anchor         # the zone's DS record in a file, or None (unsigned)

Keys are ECDSA P-256 (algorithm 13: one fast key signs all). nsd runs
in the foreground, without chroot or user change, with every file in the
test's directory; it is ready when it answers the SOA of every zone
(a bounded wait on real answers, never a sleep).

LoopAddr: a 127.0.0.N (N in 20..250) of the test's own, held with a
lock file for the test's life and checked free for port 25 by binding:
parallel tests never share port 25.
"""

import fcntl
import os
import random
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

import dns.message
import dns.query
import dns.rdatatype

NSD = shutil.which("nsd") or "/usr/sbin/nsd"
KEYGEN = shutil.which("ldns-keygen") or "/usr/bin/ldns-keygen"
SIGNZONE = shutil.which("ldns-signzone") or "/usr/bin/ldns-signzone"
TOOL_TIMEOUT = 20
READY_SECS = 10
LOCK_DIR = Path("/tmp/tern-loopaddr")


def tools_missing():
    """The reason to skip when nsd or ldnsutils is not installed."""
    for t in (NSD, KEYGEN, SIGNZONE):
        if not os.access(t, os.X_OK):
            return f"{t} not installed (make deps-test: nsd, ldnsutils)"
    return None


class LoopAddr:
    """A free 127.0.0.N of this test's own (close() gives it back)."""

    def __init__(self, port=25):
        LOCK_DIR.mkdir(mode=0o755, exist_ok=True)
        cands = list(range(20, 251))
        random.shuffle(cands)
        for n in cands:  # bounded: 231 candidates
            fd = os.open(LOCK_DIR / f"127.0.0.{n}",
                         os.O_CREAT | os.O_RDWR, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                os.close(fd)
                continue
            if self._free(f"127.0.0.{n}", port):
                self.fd, self.addr = fd, f"127.0.0.{n}"
                return
            os.close(fd)
        raise RuntimeError("no free 127.0.0.N for port %d" % port)

    @staticmethod
    def _free(addr, port):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((addr, port))
            return True
        except OSError:
            return False
        finally:
            s.close()

    def close(self):
        if self.fd is not None:
            os.close(self.fd)  # the lock goes with it
            self.fd = None


def free_udp_tcp_port(addr):
    """A port free for both UDP and TCP on addr (bounded tries)."""
    for _ in range(50):
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            u.bind((addr, 0))
            port = u.getsockname()[1]
            t.bind((addr, port))
            return port
        except OSError:
            continue
        finally:
            u.close()
            t.close()
    raise RuntimeError("no free port for nsd")


def _run(argv, cwd):
    r = subprocess.run(argv, cwd=cwd, capture_output=True,
                       timeout=TOOL_TIMEOUT)
    if r.returncode != 0:
        raise RuntimeError(f"{argv[0]} failed: {r.stderr.decode()}")
    return r


class Zone:
    """One zone file; signed (and its DS written as the anchor) or not."""

    def __init__(self, directory, origin, records, sign):
        self.dir = Path(directory)
        self.origin = origin.rstrip(".")
        self.sign = sign
        self.path = self.dir / f"{self.origin}.zone"
        head = [f"$ORIGIN {self.origin}.", "$TTL 60",
                "@ SOA ns hostmaster 1 60 60 600 60",
                "@ NS ns", "ns A 127.0.0.1"]
        self.path.write_text("\n".join(head + list(records)) + "\n")
        self.anchor = None
        self.served = self.path
        if sign:
            self._sign()

    def _sign(self):
        out = _run([KEYGEN, "-a", "ECDSAP256SHA256", "-k", self.origin],
                   self.dir)
        base = out.stdout.decode().strip().splitlines()[-1]
        # Inception an hour back: the signatures hold whatever the clock.
        now = time.gmtime(time.time() - 3600)
        _run([SIGNZONE, "-i", time.strftime("%Y%m%d%H%M%S", now),
              "-f", str(self.path) + ".signed", str(self.path), base],
             self.dir)
        self.served = Path(str(self.path) + ".signed")
        self.anchor = self.dir / f"{self.origin}.anchor"
        shutil.copy(self.dir / f"{base}.ds", self.anchor)

    def tamper(self, owner, rtype, rdata):
        """Change the rdata of owner's rtype record after signing: its
        RRSIG no longer matches, so the answer is bogus."""
        fq = f"{owner}.{self.origin}." if owner != "@" else f"{self.origin}."
        lines = self.served.read_text().splitlines()
        hit = False
        for i, line in enumerate(lines):
            f = line.split()
            # owner TTL CLASS TYPE RDATA... as ldns-signzone writes it
            if len(f) >= 4 and f[0].lower() == fq.lower() and \
                    f[3] == rtype:
                lines[i] = "\t".join(f[:4] + [rdata])
                hit = True
        assert hit, f"no {rtype} at {fq} in {self.served}"
        self.served.write_text("\n".join(lines) + "\n")


class Nsd:
    """nsd on 127.0.0.1 and a port of its own, serving the zones made
    with zone(); stop() (or the fixture) ends it."""

    def __init__(self, directory, addr="127.0.0.1"):
        self.dir = Path(directory)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.addr = addr
        self.zones = []
        self.proc = None
        self.port = None

    def zone(self, origin, records, sign=True):
        z = Zone(self.dir, origin, records, sign)
        self.zones.append(z)
        return z

    def _conf(self):
        d = self.dir
        out = ["server:",
               f"  ip-address: {self.addr}@{self.port}",
               "  do-ip6: no",
               "  username: \"\"",
               "  chroot: \"\"",
               f"  zonesdir: \"{d}\"",
               f"  pidfile: \"{d}/nsd.pid\"",
               "  database: \"\"",
               f"  xfrdfile: \"{d}/xfrd.state\"",
               f"  zonelistfile: \"{d}/zone.list\"",
               f"  xfrdir: \"{d}\"",
               f"  logfile: \"{d}/nsd.log\"",
               "  server-count: 1",
               "  verbosity: 1",
               "  hide-version: yes",
               "remote-control:",
               "  control-enable: no"]
        for z in self.zones:
            out += ["zone:", f"  name: \"{z.origin}.\"",
                    f"  zonefile: \"{z.served}\""]
        path = d / "nsd.conf"
        path.write_text("\n".join(out) + "\n")
        return path

    def _answers(self):
        for z in self.zones:
            q = dns.message.make_query(z.origin + ".", dns.rdatatype.SOA)
            try:
                r = dns.query.udp(q, self.addr, timeout=0.3, port=self.port)
            except Exception:  # not up yet: timeout, refused
                return False
            if not r.answer:
                return False
        return True

    def start(self):
        """Start nsd; "ADDR:PORT" for dns_server once it answers."""
        self.port = free_udp_tcp_port(self.addr)
        conf = self._conf()
        self.proc = subprocess.Popen([NSD, "-d", "-c", str(conf)],
                                     stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE)
        deadline = time.monotonic() + READY_SECS
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("nsd exited: %s %s" % (
                    self.proc.stderr.read().decode(), self.log()))
            if self._answers():
                return f"{self.addr}:{self.port}"
            time.sleep(0.02)
        raise RuntimeError("nsd did not answer within %ds: %s"
                           % (READY_SECS, self.log()))

    def log(self):
        p = self.dir / "nsd.log"
        return p.read_text() if p.exists() else ""

    def stop(self):
        if self.proc is None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)
        self.proc = None
