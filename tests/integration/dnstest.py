# SPDX-License-Identifier: ISC
"""A DNS server for the tests, on 127.0.0.1 (UDP and TCP, one thread),
serving a table of records built with python3-dnspython: the answers
that SPF, DKIM and DMARC ask for (issue 16). tern reaches it through
`dns_server = 127.0.0.1:PORT`; libunbound forwards to it as to a
recursive server, so answers carry AA and RA.

Zone(zonedata): the RFC 7208 suite's zonedata form, {name: [{TYPE:
value}, "TIMEOUT", ...]}; zone.add(name, TYPE, value) adds a record.
A name marked TIMEOUT is never answered for the types it lacks.
"""

import select
import socket
import threading

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.rdtypes.ANY.TXT
import dns.rrset

CNAME_MAX = 8


def to_bytes(s):
    try:
        return s.encode("latin-1")  # "\xEF\xBB\xBF" in YAML is bytes
    except UnicodeEncodeError:
        return s.encode("utf-8")


def txt_rdata(value):
    parts = value if isinstance(value, list) else [value]
    # A TXT of no strings (null-text) is not a valid record (RFC 1035
    # 3.3.14: one or more); libunbound drops the whole answer as
    # malformed before tern sees it, so it is served as one empty string.
    parts = parts or [""]
    strings = []
    for p in parts:
        b = to_bytes(str(p))
        strings += [b[i:i + 255] for i in range(0, len(b), 255)] or [b""]
    return dns.rdtypes.ANY.TXT.TXT(dns.rdataclass.IN, dns.rdatatype.TXT,
                                   strings)


class Zone:
    """name (lower case) -> {type: [rdata]}, and the TIMEOUT names."""

    def add(self, name, typ, val):
        key = str(name).lower().rstrip(".")
        rd = txt_rdata(val) if typ == "TXT" else self.rdata(typ, val)
        self.names.setdefault(key, {}).setdefault(typ, []).append(rd)

    def txt(self, name):
        """The first TXT value at name, joined, as bytes (dkimpy's
        dnsfunc), or None."""
        types = self.names.get(str(name).lower().rstrip("."), {})
        if "TXT" not in types:
            return None
        return b"".join(types["TXT"][0].strings)

    def __init__(self, zonedata):
        self.names = {}
        self.timeout = set()
        for name, recs in (zonedata or {}).items():
            key = str(name).lower().rstrip(".")
            types = self.names.setdefault(key, {})
            spf = []
            has_txt = False
            for rec in recs:
                if rec == "TIMEOUT":
                    self.timeout.add(key)
                    continue
                (typ, val), = rec.items()
                if typ == "TXT":
                    has_txt = True
                    if val != "NONE":
                        types.setdefault("TXT", []).append(txt_rdata(val))
                elif typ == "SPF":
                    spf.append(txt_rdata(val))
                else:
                    types.setdefault(typ, []).append(self.rdata(typ, val))
            if not has_txt and spf:
                types["TXT"] = spf

    @staticmethod
    def rdata(typ, val):
        if typ == "MX":
            pref, host = val
            host = str(host) + "." if host else "."
            return dns.rdata.from_text("IN", "MX", f"{pref} {host}")
        if typ in ("PTR", "CNAME"):
            v = str(val)
            return dns.rdata.from_text("IN", typ,
                                       v if v.endswith(".") else v + ".")
        return dns.rdata.from_text("IN", typ, str(val))

    def answer(self, qname_key, qname, qtype):
        """(rcode, answer rrsets) or None for no answer (TIMEOUT)."""
        rrsets = []
        key, owner = qname_key, qname
        for _ in range(CNAME_MAX):
            types = self.names.get(key)
            tname = dns.rdatatype.to_text(qtype)
            if types is None:
                return dns.rcode.NXDOMAIN, rrsets
            if tname in types:
                rrsets.append(dns.rrset.from_rdata_list(owner, 60,
                                                        types[tname]))
                return dns.rcode.NOERROR, rrsets
            if "CNAME" in types and qtype != dns.rdatatype.CNAME:
                target = types["CNAME"][0].target
                rrsets.append(dns.rrset.from_rdata_list(owner, 60,
                                                        types["CNAME"]))
                owner = target
                key = target.to_text(omit_final_dot=True).lower()
                continue
            if key in self.timeout:
                return None
            return dns.rcode.NOERROR, rrsets
        return dns.rcode.NOERROR, rrsets


def name_key(name):
    return ".".join(lab.decode("latin-1") for lab in name.labels
                    if lab).lower()


SOA = dns.rrset.from_text(".", 60, "IN", "SOA",
                          "ns.test. hostmaster.test. 1 60 60 60 60")


class DnsServer:
    """Serves one Zone on 127.0.0.1, UDP and TCP, from one thread."""

    def __init__(self, zone):
        self.zone = zone
        self.udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        for _ in range(20):
            self.udp.bind(("127.0.0.1", 0))
            self.port = self.udp.getsockname()[1]
            try:
                self.tcp.bind(("127.0.0.1", self.port))
                break
            except OSError:
                self.udp.close()
                self.udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        else:
            raise RuntimeError("no free port for UDP and TCP")
        self.tcp.listen(16)
        self.queries = []  # the names asked, lower case, in order
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def respond(self, wire, max_size):
        try:
            q = dns.message.from_wire(wire)
        except dns.exception.DNSException:
            return None
        if not q.question:
            return None
        qq = q.question[0]
        self.queries.append(name_key(qq.name))
        got = self.zone.answer(name_key(qq.name), qq.name, qq.rdtype)
        if got is None:
            return None  # TIMEOUT: never answer
        rcode, rrsets = got
        r = dns.message.make_response(q)
        r.flags |= dns.flags.AA | dns.flags.RA
        r.set_rcode(rcode)
        r.answer = rrsets
        if not any(rs.rdtype == qq.rdtype for rs in rrsets):
            r.authority = [SOA]
        try:
            return r.to_wire(max_size=max_size)
        except dns.exception.TooBig:
            r.answer, r.authority = [], []
            r.flags |= dns.flags.TC
            return r.to_wire()

    def run(self):
        while not self.stop.is_set():
            ready, _, _ = select.select([self.udp, self.tcp], [], [], 0.2)
            if self.udp in ready:
                wire, peer = self.udp.recvfrom(65535)
                try:
                    size = dns.message.from_wire(wire).payload
                except dns.exception.DNSException:
                    size = 512
                out = self.respond(wire, max(512, size))
                if out is not None:
                    self.udp.sendto(out, peer)
            if self.tcp in ready:
                conn, _ = self.tcp.accept()
                threading.Thread(target=self.serve_tcp, args=(conn,),
                                 daemon=True).start()

    def serve_tcp(self, conn):
        conn.settimeout(5)
        try:
            with conn:
                while True:
                    head = conn.recv(2)
                    if len(head) < 2:
                        return
                    n = int.from_bytes(head, "big")
                    wire = b""
                    while len(wire) < n:
                        chunk = conn.recv(n - len(wire))
                        if not chunk:
                            return
                        wire += chunk
                    out = self.respond(wire, 65535)
                    if out is None:
                        continue  # TIMEOUT: hold the line silent
                    conn.sendall(len(out).to_bytes(2, "big") + out)
        except OSError:
            return

    def close(self):
        self.stop.set()
        self.thread.join(5)
        self.udp.close()
        self.tcp.close()
