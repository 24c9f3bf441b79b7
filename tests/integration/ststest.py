# SPDX-License-Identifier: ISC
"""Test infrastructure for outbound TLS policies (issue 19), loopback
only:

claim_addr(): a 127.0.0.N of this test alone (N in 20..250), so that
    servers on the fixed ports MX delivery and MTA-STS need (25, 443)
    never collide between parallel tests: a lock file per address
    (/tmp/tern-loopaddr/127.0.0.N, flock held while the claim lives: the
    same files as dnssec.LoopAddr, so the two never hand out one
    address twice) and a bind check on each port asked for. release()
    (or process exit) gives it back.
TestCA: a certificate authority made with python3-cryptography (P-256
    keys: fast), issuing leaf certificates for given DNS names.
PolicyServer: an HTTPS server on ADDR:443 with a TestCA certificate,
    answering each Host (mta-sts.DOMAIN) as the test says: a policy, a
    status, a redirect, any Content-Type; every request is recorded.
PortCounter: a TCP listener that only counts connections (a host
    that must never be reached).

Trust: every socket has a timeout, every wait is bounded; nothing
listens beyond 127.0.0.0/8.
"""

import datetime
import errno
import fcntl
import http.server
import os
import random
import socket
import ssl
import threading
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

LOCK_DIR = Path("/tmp/tern-loopaddr")  # shared with dnssec.LoopAddr
ADDR_LOW, ADDR_HIGH = 20, 250


class Claim:
    def __init__(self, addr, fd):
        self.addr = addr
        self._fd = fd

    def release(self):
        if self._fd is not None:
            os.close(self._fd)  # drops the flock
            self._fd = None


def _bind_ok(addr, port):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((addr, port))
        except OSError as e:
            if e.errno in (errno.EADDRINUSE, errno.EADDRNOTAVAIL):
                return False
            raise
    return True


def claim_addr(ports=(25, 443)):
    """A Claim on a 127.0.0.N whose `ports` are free; bounded tries."""
    LOCK_DIR.mkdir(mode=0o755, exist_ok=True)
    cands = list(range(ADDR_LOW, ADDR_HIGH + 1))
    random.shuffle(cands)
    for n in cands:
        addr = f"127.0.0.{n}"
        fd = os.open(LOCK_DIR / addr, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            continue
        if all(_bind_ok(addr, p) for p in ports):
            return Claim(addr, fd)
        os.close(fd)
    raise RuntimeError("no free 127.0.0.N address for ports %r" % (ports,))


class TestCA:
    """A CA whose certificate file tern is told to trust (ca_file)."""

    __test__ = False  # not a pytest class

    def __init__(self, dirpath, name="tern test CA"):
        self.dir = Path(dirpath)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.key = ec.generate_private_key(ec.SECP256R1())
        subj = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
        now = datetime.datetime.now(datetime.timezone.utc)
        self.cert = (
            x509.CertificateBuilder().subject_name(subj).issuer_name(subj)
            .public_key(self.key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + datetime.timedelta(days=2))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None),
                           critical=True)
            .add_extension(x509.KeyUsage(
                digital_signature=True, content_commitment=False,
                key_encipherment=False, data_encipherment=False,
                key_agreement=False, key_cert_sign=True, crl_sign=True,
                encipher_only=False, decipher_only=False), critical=True)
            .sign(self.key, hashes.SHA256()))
        self.path = self.dir / "ca.pem"
        self.path.write_bytes(self.cert.public_bytes(
            serialization.Encoding.PEM))

    def issue(self, names, stem):
        """(cert_path, key_path) of a leaf for DNS names `names`."""
        key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.datetime.now(datetime.timezone.utc)
        cert = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([
                x509.NameAttribute(NameOID.COMMON_NAME, names[0])]))
            .issuer_name(self.cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + datetime.timedelta(days=2))
            .add_extension(x509.SubjectAlternativeName(
                [x509.DNSName(n) for n in names]), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None),
                           critical=True)
            .sign(self.key, hashes.SHA256()))
        cp, kp = self.dir / f"{stem}.pem", self.dir / f"{stem}.key"
        cp.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        kp.write_bytes(key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption()))
        os.chmod(kp, 0o600)
        return cp, kp


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 10

    def log_message(self, *a):
        pass

    def do_GET(self):
        srv = self.server.owner
        host = (self.headers.get("Host") or "").split(":")[0].lower()
        with srv.lock:
            srv.requests.append((host, self.path))
            route = srv.routes.get(host)
        if route is None or self.path != "/.well-known/mta-sts.txt":
            status, headers, body = 404, {"Content-Type": "text/plain"}, b""
        else:
            status, headers, body = route
        self.send_response(status)
        for k, v in headers.items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class _TLSServer(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def get_request(self):
        sock, addr = super().get_request()
        sock.settimeout(10)
        return self.ctx.wrap_socket(sock, server_side=True), addr

    def handle_error(self, request, client_address):
        pass  # a client that gave up on the handshake is not our failure


class PolicyServer:
    """HTTPS on addr:443 for the mta-sts.DOMAIN hosts of `cert`."""

    def __init__(self, addr, cert, key, port=443):
        self.routes = {}
        self.requests = []
        self.lock = threading.Lock()
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(str(cert), str(key))
        self.httpd = _TLSServer((addr, port), _Handler)
        self.httpd.ctx = ctx
        self.httpd.owner = self
        self.thread = threading.Thread(target=self.httpd.serve_forever,
                                       kwargs={"poll_interval": 0.1},
                                       daemon=True)
        self.thread.start()

    def policy(self, domain, text, status=200, ctype="text/plain",
               headers=None):
        """Serve `text` (str or bytes) for https://mta-sts.DOMAIN/..."""
        body = text.encode() if isinstance(text, str) else text
        h = {"Content-Type": ctype} if ctype else {}
        h.update(headers or {})
        with self.lock:
            self.routes[f"mta-sts.{domain}"] = (status, h, body)

    def hits(self, domain):
        with self.lock:
            return sum(1 for h, _ in self.requests
                       if h == f"mta-sts.{domain}")

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(5)


class PortCounter:
    """Accepts and closes TCP connections on addr:port, counting them."""

    def __init__(self, addr, port=25):
        self.count = 0
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((addr, port))
        self.sock.listen(16)
        self.sock.settimeout(0.2)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        while not self.stop.is_set():
            try:
                c, _ = self.sock.accept()
            except (socket.timeout, OSError):
                continue
            self.count += 1
            c.close()

    def close(self):
        self.stop.set()
        self.thread.join(5)
        self.sock.close()


def policy_text(mode, mxs, max_age=86400):
    lines = ["version: STSv1", f"mode: {mode}"]
    lines += [f"mx: {m}" for m in mxs]
    lines.append(f"max_age: {max_age}")
    return "\r\n".join(lines) + "\r\n"


def cache_file(domain, id_, fetched, body):
    """A cache entry as tern writes it (deliver/mtasts_cache.h)."""
    return (f"tern-mta-sts 1\nid: {id_}\nfetched: {int(fetched)}\n\n"
            .encode() + body.encode())
