# SPDX-License-Identifier: ISC
"""Issue 17: the metrics listener ([observability] http_listen).

/metrics in the Prometheus text format (promtool accepts it), counters
that move with mail and survive a reload, the bearer token, 404/405 and
the safety headers, non-loopback addresses refused, the held messages in
/api/status, and a real Prometheus scraping tern every second.
"""

import http.client
import json
import os
import re
import signal
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

import pytest

from conftest import TERN_BIN, child_env, free_port, make_message, wait_log
from test_remote import relay_server, submit

HTTP_TIMEOUT = 10
TOKEN = "tok-3f9a1c_e2.b7~X"
SLOW = {"retry_initial": "1h", "retry_max": "2h"}
SAMPLE_RE = re.compile(
    r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+)$')


def get(url, method="GET", headers=None, data=None):
    """(status, headers, body bytes) of one request; errors included."""
    req = urllib.request.Request(url, method=method, data=data,
                                 headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=HTTP_TIMEOUT) as r:
            return r.status, r.headers, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read()


def samples(text):
    """{'name{labels}': float} of a Prometheus text exposition."""
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = SAMPLE_RE.match(line)
        assert m, f"not a sample line: {line!r}"
        out[m.group(1) + (m.group(2) or "")] = float(m.group(3))
    return out


def scrape(srv, token=None):
    h = {"Authorization": f"Bearer {token}"} if token else {}
    st, hd, body = get(srv.http_url + "/metrics", headers=h)
    assert st == 200, (st, body[:500])
    return samples(body.decode("utf-8"))


def wait_metric(srv, key, want, timeout=15.0):
    """Scrape until key == want (deliveries finish after the 250)."""
    deadline = time.monotonic() + timeout
    got = None
    while time.monotonic() < deadline:
        got = scrape(srv).get(key)
        if got == want:
            return
        time.sleep(0.05)
    pytest.fail(f"{key} = {got}, want {want} after {timeout}s\n"
                f"{srv.log()[-3000:]}")


def refused_rcpt(srv):
    """One RCPT refused: nobody@ is not a user (reason unknown_user)."""
    with srv.smtp() as s:
        s.ehlo()
        s.mail("x@remote.example")
        code, _ = s.rcpt("nobody@example.test")
        assert code == 550, code


@pytest.fixture
def http_server(make_server):
    return make_server(obs={"http_listen": "auto"})


def test_metrics_format_and_counters(http_server):
    srv = http_server
    before = scrape(srv)
    assert before['tern_messages_accepted_total{listener="mx"}'] == 0
    srv.send("x@remote.example", ["alice@example.test"], make_message())
    srv.wait_for_mail("alice@example.test")
    refused_rcpt(srv)
    wait_metric(srv, 'tern_deliveries_total{route="local",'
                'result="delivered"}', 1)
    st, hd, body = get(srv.http_url + "/metrics")
    assert st == 200
    assert hd["Content-Type"].startswith("text/plain; version=0.0.4")
    assert hd["Cache-Control"] == "no-store"
    assert hd["X-Content-Type-Options"] == "nosniff"
    r = subprocess.run(["promtool", "check", "metrics"], input=body,
                       capture_output=True, timeout=30)
    assert r.returncode == 0, (r.stdout, r.stderr, body[:2000])
    m = samples(body.decode("utf-8"))
    assert m['tern_messages_accepted_total{listener="mx"}'] == 1
    assert m['tern_rejections_total{reason="unknown_user"}'] == 1
    assert m['tern_connections_total{listener="mx"}'] >= 2
    assert m["tern_start_time_seconds"] > time.time() - 600
    assert m['tern_build_info{version="0.1.0"}'] == 1
    assert m["tern_queue_messages"] == 0


def test_status_json_and_page(http_server):
    srv = http_server
    srv.send("x@remote.example", ["alice@example.test"], make_message())
    srv.wait_for_mail("alice@example.test")
    st, hd, body = get(srv.http_url + "/api/status")
    assert st == 200 and hd["Content-Type"] == "application/json"
    doc = json.loads(body)
    assert doc["counters"]["accepted"] == 1
    assert doc["held_messages"] == []
    assert len(doc["minutes"]) == 60
    st, hd, body = get(srv.http_url + "/")
    assert st == 200 and hd["Content-Type"].startswith("text/html")
    csp = hd["Content-Security-Policy"]
    assert "default-src 'none'" in csp and "script-src 'self'" in csp
    assert "unsafe-inline" not in csp
    assert b'src="dashboard.js"' in body and b"<script>" not in body
    for path, ctype in (("/dashboard.js", "text/javascript"),
                        ("/dashboard.css", "text/css")):
        st, hd, body = get(srv.http_url + path)
        assert st == 200 and hd["Content-Type"].startswith(ctype)
        assert hd["Cache-Control"] == "no-store" and len(body) > 100


def test_methods_paths_and_limits(http_server):
    srv = http_server
    st, hd, body = get(srv.http_url + "/metrics", method="HEAD")
    assert st == 200 and body == b""
    for method in ("POST", "PUT", "DELETE", "OPTIONS", "PATCH"):
        st, hd, _ = get(srv.http_url + "/metrics", method=method,
                        data=b"" if method in ("POST", "PUT") else None)
        assert st == 405, method
        assert hd["Allow"] == "GET, HEAD"
    for path in ("/nope", "/metrics/", "/index.html", "/%6detrics",
                 "/../etc/passwd"):
        st, hd, _ = get(srv.http_url + path)
        assert st == 404, path
        assert hd["X-Content-Type-Options"] == "nosniff"
    # A header block over the limit is refused, not buffered.
    st, _, _ = get(srv.http_url + "/metrics",
                   headers={"X-Big": "a" * 20000})
    assert st in (400, 413, 431), st
    # Still serving.
    assert get(srv.http_url + "/metrics")[0] == 200


def test_stop_with_connections_open(http_server):
    """SIGTERM with a keep-alive connection, a half-sent request and an
    idle one open: exit 0, nothing leaked (Server.stop checks ASan)."""
    srv = http_server
    keep = http.client.HTTPConnection("127.0.0.1", srv.http_port,
                                      timeout=HTTP_TIMEOUT)
    keep.request("GET", "/api/status")
    assert keep.getresponse().read()
    half = socket.create_connection(("127.0.0.1", srv.http_port),
                                    timeout=HTTP_TIMEOUT)
    half.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n")
    idle = socket.create_connection(("127.0.0.1", srv.http_port),
                                    timeout=HTTP_TIMEOUT)
    try:
        srv.stop()
    finally:
        keep.close()
        half.close()
        idle.close()


def test_connection_cap_and_idle_timeout(http_server):
    """With the cap's worth of idle connections open, a new request
    waits in the backlog until one closes; idle ones are closed at the
    timeout (10 s)."""
    srv = http_server
    idle = []
    result = {}

    def fetch():
        result["st"] = get(srv.http_url + "/metrics")[0]

    try:
        for _ in range(64):
            idle.append(socket.create_connection(
                ("127.0.0.1", srv.http_port), timeout=HTTP_TIMEOUT))
        wait_log(srv, "event=http_busy", timeout=10)
        t = threading.Thread(target=fetch, daemon=True)
        t.start()
        t.join(1.0)
        assert t.is_alive(), "served past the connection cap"
        for s in idle[:4]:
            s.close()
        t.join(5.0)
        assert not t.is_alive() and result["st"] == 200
        # The rest send nothing: the server closes them at the timeout.
        idle[-1].settimeout(20)
        assert idle[-1].recv(1) == b""
    finally:
        for s in idle:
            s.close()


def write_token(path, text=TOKEN + "\n", mode=0o600):
    path.write_text(text)
    os.chmod(path, mode)
    return path


def test_token_required(make_server, tmp_path):
    tok = write_token(tmp_path / "token")
    srv = make_server(obs={"http_listen": "auto",
                           "http_token_file": str(tok)})
    for path in ("/metrics", "/api/status", "/nope"):
        st, hd, _ = get(srv.http_url + path)
        assert st == 401, path
        assert hd["WWW-Authenticate"].startswith("Bearer")
    for bad in ("Bearer wrong", "Bearer " + TOKEN + "x", "Basic " + TOKEN,
                TOKEN):
        st, _, _ = get(srv.http_url + "/metrics",
                       headers={"Authorization": bad})
        assert st == 401, bad
    ok = {"Authorization": "Bearer " + TOKEN}
    assert get(srv.http_url + "/metrics", headers=ok)[0] == 200
    assert get(srv.http_url + "/api/status", headers=ok)[0] == 200
    # The page and its files hold no data: the browser loads them, then
    # its script sends the token from the URL fragment (/#token=...).
    assert get(srv.http_url + "/")[0] == 200
    assert get(srv.http_url + "/dashboard.js")[0] == 200
    assert "event=listening listener=http" in srv.log()
    assert TOKEN not in srv.log()


@pytest.mark.parametrize("case", ["other-readable", "symlink", "empty",
                                  "space"])
def test_bad_token_file_refused(make_server, tmp_path, case):
    """The secrets file's rules (conf_token_load, as for the webhook)."""
    tok = tmp_path / "token"
    if case == "other-readable":
        write_token(tok, mode=0o604)
        want = "readable by others"
    elif case == "symlink":
        write_token(tmp_path / "real")
        tok.symlink_to(tmp_path / "real")
        want = "symbolic link"
    elif case == "empty":
        write_token(tok, text="\n")
        want = "expected one line"
    else:
        write_token(tok, text="two words\n")
        want = "expected one line"
    srv = make_server(obs={"http_listen": "auto",
                           "http_token_file": str(tok)}, start=False)
    r = subprocess.run([TERN_BIN, "serve", "-c", str(srv.conf_path)],
                       capture_output=True, timeout=30, env=child_env())
    err = r.stderr.decode("utf-8", "replace")
    assert r.returncode != 0, err
    assert "http_token_file" in err and want in err, err
    assert "event=ready" not in err
    # check-config reads it as the server will, and says the same.
    c = srv.cli("check-config", check=False)
    assert c.returncode != 0, c.out
    assert "http_token_file" in c.out + c.err and want in c.out + c.err, \
        c.out + c.err
    assert TOKEN not in c.out + c.err


def test_port_in_use_refused(make_server):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        srv = make_server(obs={"http_listen": f"127.0.0.1:{port}"},
                          start=False)
        r = subprocess.run([TERN_BIN, "serve", "-c", str(srv.conf_path)],
                           capture_output=True, timeout=30, env=child_env())
    err = r.stderr.decode("utf-8", "replace")
    assert r.returncode != 0, err
    assert f"http_listen 127.0.0.1:{port}: bind" in err, err
    assert "event=ready" not in err


@pytest.mark.parametrize("addr", ["0.0.0.0:9425", "192.0.2.1:9425",
                                  "[::]:9425", "localhost:9425"])
def test_non_loopback_refused(make_server, addr):
    srv = make_server(obs={"http_listen": addr}, start=False)
    r = srv.cli("check-config", check=False)
    assert r.returncode != 0, r.out
    assert "http_listen" in r.out + r.err


def test_counters_survive_reload(http_server):
    srv = http_server
    srv.send("x@remote.example", ["alice@example.test"], make_message())
    key = 'tern_messages_accepted_total{listener="mx"}'
    wait_metric(srv, key, 1)
    started = scrape(srv)["tern_start_time_seconds"]
    srv.proc.send_signal(signal.SIGHUP)
    wait_log(srv, "event=reload what=config")
    after = scrape(srv)
    assert after[key] == 1
    assert after["tern_start_time_seconds"] == started
    srv.send("x@remote.example", ["alice@example.test"], make_message())
    wait_metric(srv, key, 2)


def test_held_messages_listed(make_server):
    dead = free_port()  # nothing listens: every attempt is deferred
    srv = relay_server(make_server, f"relay.test = 127.0.0.1:{dead} "
                       "tls=none\n", queue=SLOW,
                       obs={"http_listen": "auto"})
    qid = submit(srv, "alice@example.test", ["x@relay.test"],
                 make_message(to="x@relay.test"))
    wait_log(srv, "event=deferred")
    srv.cli("queue", "hold", qid)
    deadline = time.monotonic() + 15  # the list is refreshed every 2 s
    held = []
    while time.monotonic() < deadline:
        held = json.loads(get(srv.http_url + "/api/status")[2])[
            "held_messages"]
        if held:
            break
        time.sleep(0.2)
    assert [m["id"] for m in held] == [qid], held
    assert held[0]["from"] == "alice@example.test"
    assert abs(held[0]["arrival"] - time.time()) < 120
    m = scrape(srv)
    assert m["tern_queue_held"] == 1 and m["tern_queue_messages"] == 1


# -- a real Prometheus --------------------------------------------------

def prometheus(tmp_path, target, token_file=None):
    """Start Debian's prometheus scraping target every second; return
    (process, base URL). Loopback only, its own port and storage."""
    port = free_port()
    auth = ""
    if token_file:
        auth = ("    authorization:\n"
                f"      credentials_file: {token_file}\n")
    conf = tmp_path / "prometheus.yml"
    conf.write_text(
        "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n"
        "scrape_configs:\n  - job_name: tern\n" + auth +
        f"    static_configs:\n      - targets: ['{target}']\n")
    proc = subprocess.Popen(
        ["prometheus", f"--config.file={conf}",
         f"--storage.tsdb.path={tmp_path / 'tsdb'}",
         f"--web.listen-address=127.0.0.1:{port}"],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
        stderr=open(tmp_path / "prometheus.log", "wb"))
    return proc, f"http://127.0.0.1:{port}"


def prom_value(base, query):
    url = base + "/api/v1/query?" + urllib.parse.urlencode(
        {"query": query})
    try:
        st, _, body = get(url)
    except (urllib.error.URLError, ConnectionError):
        return None  # not listening yet
    if st != 200:
        return None
    res = json.loads(body)["data"]["result"]
    return float(res[0]["value"][1]) if res else None


def test_prometheus_scrapes(make_server, tmp_path):
    tok = write_token(tmp_path / "token")
    srv = make_server(obs={"http_listen": "auto",
                           "http_token_file": str(tok)})
    for i in range(3):
        srv.send("x@remote.example", ["alice@example.test"],
                 make_message(subject=f"m{i}"))
    proc, base = prometheus(tmp_path, f"127.0.0.1:{srv.http_port}", tok)
    try:
        deadline = time.monotonic() + 20
        got = None
        while time.monotonic() < deadline and proc.poll() is None:
            got = prom_value(base, "sum(tern_messages_accepted_total)")
            if got == 3:
                break
            time.sleep(0.2)
        log = (tmp_path / "prometheus.log").read_text(errors="replace")
        assert got == 3, f"prometheus says {got}\n{log[-3000:]}"
        assert prom_value(base, 'up{job="tern"}') == 1
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
