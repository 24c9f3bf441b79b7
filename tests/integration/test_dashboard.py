# SPDX-License-Identifier: ISC
"""Issue 17: the dashboard in a real browser (Debian's chromium, driven
by chromedriver through python3-selenium, headless).

While mail flows, the page is loaded with the bearer token in its URL
fragment (/#token=...), its numbers are read from the DOM and checked
against /metrics (between the reads before and after); then the mail
stops and they must match exactly; without the token the page says it
needs one and shows no number. A screenshot goes to the test's
tmp_path, and to $TERN_SCREENSHOT_DIR when set (docs/dashboard.png is
one of these).
"""

import os
import shutil
import threading
import time
import urllib.request

import pytest

import chromium
from chromium import PAGE_TIMEOUT

from conftest import free_port, make_message, wait_log
from test_metrics import SLOW, TOKEN, samples, write_token
from test_remote import relay_server, submit

# The page's element ids and the /metrics sample each must equal.
ACCEPTED = 'sum:tern_messages_accepted_total'
IDS = {
    "accepted": ACCEPTED,
    "delivered": 'sum:tern_deliveries_total{result="delivered"}',
    "rejected": "sum:tern_rejections_total",
    "queue-messages": "tern_queue_messages",
    "queue-held": "tern_queue_held",
}


def metric(m, key):
    """A sample, or with "sum:" the sum of every series of that name
    whose labels include the given ones."""
    if not key.startswith("sum:"):
        return m[key]
    name, _, want = key[4:].partition("{")
    want = want.rstrip("}")
    total = 0.0
    for k, v in m.items():
        if k == name or (k.startswith(name + "{") and want in k):
            total += v
    return total


def scrape(srv):
    req = urllib.request.Request(srv.http_url + "/metrics", headers={
        "Authorization": "Bearer " + TOKEN})
    with urllib.request.urlopen(req, timeout=10) as r:
        return samples(r.read().decode("utf-8"))


def browser(tmp_path):
    return chromium.headless(tmp_path, window="1280,1000")


def page_numbers(drv):
    """{id: text} of the page's numbers, read in one script run."""
    return drv.execute_script(
        "const o = {}; for (const id of arguments[0])"
        " o[id] = document.getElementById(id).textContent; return o;",
        list(IDS))


def wait_page(drv, cond, what):
    deadline = time.monotonic() + PAGE_TIMEOUT
    got = None
    while time.monotonic() < deadline:
        got = page_numbers(drv)
        if cond(got):
            return got
        time.sleep(0.2)
    status = drv.execute_script(
        "return document.getElementById('status').textContent")
    pytest.fail(f"page never showed {what}: {got} (status: {status})")


class MailFlow:
    """Mail to alice on a thread until stop(): bounded, loopback."""

    def __init__(self, srv, limit=200):
        self.srv, self.limit, self.sent = srv, limit, 0
        self.error = None
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        try:
            while not self._stop.is_set() and self.sent < self.limit:
                self.srv.send("x@remote.example", ["alice@example.test"],
                              make_message(subject=f"flow {self.sent}"))
                self.sent += 1
                self._stop.wait(0.05)
        except Exception as e:  # reported by stop()
            self.error = e

    def start(self):
        self._t.start()
        return self

    def stop(self):
        self._stop.set()
        self._t.join(30)
        assert not self._t.is_alive(), "mail thread did not stop"
        assert self.error is None, self.error
        return self.sent


def test_dashboard_matches_metrics(make_server, tmp_path):
    tok = write_token(tmp_path / "token")
    dead = free_port()  # one held message, deferred first
    srv = relay_server(make_server, f"relay.test = 127.0.0.1:{dead} "
                       "tls=none\n", queue=SLOW,
                       obs={"http_listen": "auto",
                            "http_token_file": str(tok)})
    held = submit(srv, "alice@example.test", ["x@relay.test"],
                  make_message(to="x@relay.test"))
    wait_log(srv, "event=deferred")
    srv.cli("queue", "hold", held)
    with srv.smtp() as s:  # one refusal, for the causes
        s.ehlo()
        s.mail("x@remote.example")
        assert s.rcpt("nobody@example.test")[0] == 550

    drv = browser(tmp_path)
    flow = MailFlow(srv).start()
    try:
        before = scrape(srv)
        drv.get(f"{srv.http_url}/#token={TOKEN}")
        wait_page(drv, lambda p: p["accepted"].isdigit() and
                  int(p["accepted"]) > 1, "mail flowing")
        during = page_numbers(drv)
        after = scrape(srv)
        # Counters only grow: the page's value lies between the reads.
        for id_ in ("accepted", "delivered", "rejected"):
            lo, hi = metric(before, IDS[id_]), metric(after, IDS[id_])
            assert lo <= int(during[id_]) <= hi, (id_, lo, during, hi)
        sent = flow.stop()
        assert sent > 0
        srv.wait_for_mail("alice@example.test", count=sent)
        # Quiet now: wait for the last deliveries to count, then the
        # page's next poll must show exactly what /metrics says.
        deadline = time.monotonic() + 15
        while metric(scrape(srv), IDS["delivered"]) < sent:
            assert time.monotonic() < deadline, srv.log()[-2000:]
            time.sleep(0.05)
        final = scrape(srv)
        want = {id_: str(int(metric(final, key)))
                for id_, key in IDS.items()}
        assert want["accepted"] == str(sent + 1)  # and the held one
        assert want["queue-held"] == "1"
        got = wait_page(drv, lambda p: p == want, f"exactly {want}")
        assert got == want
        assert int(metric(scrape(srv), ACCEPTED)) == sent + 1  # still
        # The words and the held message are on the page too.
        text = drv.find_element("id", "rejections").text
        assert "unknown" in text, text
        rows = drv.find_element("id", "held-list").text
        assert held in rows and "alice@example.test" in rows, rows
        assert drv.find_elements("css selector", "#chart polyline")
        shot = tmp_path / "dashboard.png"
        assert drv.save_screenshot(str(shot))
        assert shot.stat().st_size > 10000
        out = os.environ.get("TERN_SCREENSHOT_DIR")
        if out:
            os.makedirs(out, exist_ok=True)
            shutil.copy(shot, os.path.join(out, "dashboard.png"))
        # The browser's console: no CSP violation, no script error.
        logs = drv.get_log("browser")
        bad = [e for e in logs if e.get("level") == "SEVERE" and
               "favicon" not in e.get("message", "")]
        assert not bad, bad
        # Without the token, the page says what it needs, shows nothing.
        drv.get(srv.http_url + "/")
        deadline = time.monotonic() + PAGE_TIMEOUT
        status = ""
        while time.monotonic() < deadline and "token" not in status:
            time.sleep(0.2)
            status = drv.execute_script(
                "return document.getElementById('status').textContent")
        assert "wants a token" in status, status
        assert page_numbers(drv)["accepted"] == "\u2013"  # "-": none
    finally:
        flow._stop.set()
        drv.quit()
