# SPDX-License-Identifier: ISC
"""Issue 22: `tern capture`'s page in a real browser (Debian's chromium,
driven by chromedriver through python3-selenium, headless).

One capture server and one browser for the file (module fixtures). Mail
goes in with smtplib; the page must list it, show new mail without a
reload, and open a message: summary, problems, the HTML part in a
sandboxed frame, the text part, the parts as download links, the
headers and the raw source.

A hostile message carries a <script> (it would fetch, load an image,
and rewrite its own page and title) and remote references (an <img>, a
stylesheet, an @import, a web font, a CSS background, a prefetch, a
frame, a video poster, a meta refresh), all pointing at a
loopback HTTP server run by the test that counts requests: after the
frame has shown the message, that server must have had no request, and
the frame must show the text the script would have replaced. The same
HTML opened outright from that server does make those requests (the
control: the probe can see them), and by the time the control's
requests have arrived, any the frame made would have too.

A screenshot goes to the test's tmp dir, and to $TERN_SCREENSHOT_DIR
when set (docs/capture-page.png is one of these:
TERN_SCREENSHOT_DIR=docs ... pytest tests/integration/test_capture_page.py).
"""

import os
import queue
import re
import shutil
import signal
import smtplib
import subprocess
import threading
import time
import urllib.request
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

import chromium
from chromium import PAGE_TIMEOUT

from conftest import TERN_BIN, child_env, sanitizer_clean

# One browser for the file: under `pytest -n N --dist loadgroup` the
# file's tests stay on one worker (plain -n N may spread them, each
# worker then starting its own browser and server).
pytestmark = pytest.mark.xdist_group("capture_page")

READY_TIMEOUT = 30.0
READY_RE = re.compile(
    r"^capture: smtp=127\.0\.0\.1:(\d+) http=127\.0\.0\.1:(\d+)$")
CSV = b"day,sent\r\nmonday,3\r\ntuesday,5\r\n"


# -- the server ------------------------------------------------------------

class Capture:
    """`tern capture` on ports it picks (port 0); ready when it prints
    its addresses on stdout."""

    def __init__(self, workdir):
        self.lines = []
        self.proc = subprocess.Popen(
            [TERN_BIN, "capture", "--smtp", "127.0.0.1:0",
             "--http", "127.0.0.1:0", "--hostname", "capture.test"],
            cwd=workdir, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, env=child_env())
        self._err = threading.Thread(target=self._drain, daemon=True)
        self._err.start()
        ready = queue.Queue()
        threading.Thread(target=self._stdout, args=(ready,),
                         daemon=True).start()
        try:
            line = ready.get(timeout=READY_TIMEOUT)
        except queue.Empty:
            line = None
        m = READY_RE.match(line or "")
        if not m:
            self.proc.kill()
            self.proc.wait(10)
            pytest.fail(f"tern capture not ready: {line!r}; stderr:\n"
                        + self.log())
        self.smtp_port, self.http_port = int(m[1]), int(m[2])
        self.url = f"http://127.0.0.1:{self.http_port}"

    def _stdout(self, ready):
        line = self.proc.stdout.readline().decode("utf-8", "replace")
        ready.put(line.rstrip("\n"))
        for _ in self.proc.stdout:  # keep the pipe from filling
            pass

    def _drain(self):
        for raw in self.proc.stderr:
            self.lines.append(raw.decode("utf-8", "replace"))

    def log(self):
        return "".join(self.lines)

    def send(self, msg, rcpts=("dev@example.test",),
             sender="app@example.org"):
        with smtplib.SMTP("127.0.0.1", self.smtp_port, timeout=15) as s:
            s.send_message(msg, sender, list(rcpts))

    def api(self, path):
        with urllib.request.urlopen(self.url + path, timeout=15) as r:
            return r.read()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
                pytest.fail("tern capture ignored SIGTERM:\n" + self.log())
        self._err.join(10)
        mark = sanitizer_clean(self.log())
        assert mark is None, f"sanitizer report ({mark}):\n{self.log()}"
        assert self.proc.returncode == 0, self.log()


# -- the probe: a loopback HTTP server that counts what is asked of it ------

PNG = bytes.fromhex(  # a 1x1 transparent PNG
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c63000100000500010d0a2db40000000049454e"
    "44ae426082")


def hostile_html(base, tag):
    """HTML that, if its script ran or its references loaded, would make
    requests to base/tag/... and replace its own text and title."""
    return f"""<!DOCTYPE html>
<html><head><title>original title</title>
<meta http-equiv="refresh" content="0; url={base}/{tag}/refresh">
<link rel="stylesheet" href="{base}/{tag}/style.css">
<link rel="prefetch" href="{base}/{tag}/prefetch">
<style>
@import url("{base}/{tag}/import.css");
@font-face {{ font-family: probe; src: url("{base}/{tag}/font.woff"); }}
p {{ font-family: probe, sans-serif; }}
</style>
</head><body>
<p>Quarterly report CAPTURE-MARK-7Q: nothing to see here.</p>
<img src="{base}/{tag}/x.png" alt="a remote image">
<div style="background-image: url('{base}/{tag}/bg.png')">background</div>
<iframe src="{base}/{tag}/frame" title="a remote frame"></iframe>
<video poster="{base}/{tag}/poster.png"></video>
<script>
fetch("{base}/{tag}/fetch");
new Image().src = "{base}/{tag}/img-js";
document.title = "SCRIPT RAN";
document.body.textContent = "SCRIPT RAN";
</script>
</body></html>
"""


class Probe:
    def __init__(self):
        hits = self.hits = []
        pages = self.pages = {}

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                hits.append(self.path)
                body, ctype = pages.get(self.path, (PNG, "image/png"))
                self.send_response(200)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Cache-Control", "no-store")
                self.end_headers()
                self.wfile.write(body)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.base = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever,
                         daemon=True).start()

    def under(self, tag):
        return [h for h in list(self.hits) if h.startswith(f"/{tag}/")]

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


# -- the browser -----------------------------------------------------------

def browser(tmp):
    return chromium.headless(tmp)


@pytest.fixture(scope="module")
def cap(tmp_path_factory):
    c = Capture(tmp_path_factory.mktemp("capture"))
    yield c
    c.stop()


@pytest.fixture(scope="module")
def probe():
    p = Probe()
    yield p
    p.close()


@pytest.fixture(scope="module")
def drv(tmp_path_factory):
    d = browser(tmp_path_factory.mktemp("browser"))
    yield d
    d.quit()


def until(drv, script, what, *args):
    """Run script in the page until it returns something true; return
    that (bounded by PAGE_TIMEOUT)."""
    deadline = time.monotonic() + PAGE_TIMEOUT
    got = None
    while time.monotonic() < deadline:
        got = drv.execute_script(script, *args)
        if got:
            return got
        time.sleep(0.05)
    st = drv.execute_script(
        "const s = document.getElementById('status');"
        "return s ? s.textContent : document.title")
    pytest.fail(f"the page never showed {what} (status: {st}; got {got!r})")


SUBJECTS = "return Array.from(document.querySelectorAll(" \
    "'#message-list .subject')).map((e) => e.textContent)"


def subjects(drv):
    return drv.execute_script(SUBJECTS)


def wait_subject(drv, subject):
    until(drv, SUBJECTS + ".includes(arguments[0])",
          f"the message {subject!r} in the list", subject)


def open_message(drv, subject):
    """Click a message's row in the list; wait for its detail."""
    row = drv.find_element("xpath", "//tbody[@id='message-list']/tr[td"
                           f"[@class='subject']/a[.='{subject}']]")
    row.find_element("css selector", "td.from").click()
    until(drv, "return !document.getElementById('detail').hidden &&"
          " document.getElementById('subject').textContent === arguments[0]",
          f"{subject!r} opened", subject)
    return row.get_attribute("data-id")


def frame_text(drv, mark):
    """The text of the HTML part's frame, once it shows mark."""
    frame = drv.find_element("id", "html-frame")
    drv.switch_to.frame(frame)
    try:
        deadline = time.monotonic() + PAGE_TIMEOUT
        text = ""
        while time.monotonic() < deadline and mark not in text:
            text = drv.find_element("tag name", "body").text
            time.sleep(0.05)
        return text
    finally:
        drv.switch_to.default_content()


def severe_logs(drv):
    return [e for e in drv.get_log("browser") if e.get("level") == "SEVERE"]


# -- the messages ------------------------------------------------------------

def plain(subject, text="hello\n", to="dev@example.test",
          frm="App <app@example.org>"):
    m = EmailMessage()
    m["From"] = frm
    m["To"] = to
    m["Subject"] = subject
    m.set_content(text)
    return m


def welcome(subject):
    """A sign-up mail as applications send it, with a text alternative;
    no Date nor Message-ID: two problems to show."""
    m = plain(subject, "Hello Ada,\n\nconfirm your address: "
              "https://app.example.org/confirm/7f3a\n",
              frm="Example <hello@example.org>")
    m.add_alternative("""<!DOCTYPE html><html><body style="font-family:
sans-serif; color:#222; margin:24px">
<h1 style="color:#1f5f9e">Welcome to Example, Ada</h1>
<p>Thanks for signing up. Confirm your address to start:</p>
<p><a href="https://app.example.org/confirm/7f3a" style="background:#1f5f9e;
color:#fff; padding:8px 14px; text-decoration:none; border-radius:4px">
Confirm my address</a></p>
<p style="color:#666">If you did not sign up, ignore this mail.</p>
</body></html>""", subtype="html")
    return m


def hostile(subject, base):
    m = plain(subject, "The text part: CAPTURE-TEXT-3K.\n")
    m.add_alternative(hostile_html(base, "mail"), subtype="html")
    m.add_attachment(CSV, maintype="text", subtype="csv",
                     filename="report.csv")
    return m


# -- the tests -----------------------------------------------------------

def test_list_live_and_html(cap, drv, tmp_path):
    from selenium.webdriver.common.keys import Keys
    cap.send(plain("First CAPTURE-A1", "one\n"))
    cap.send(plain("Your password reset code", "code: 481 516\n",
                   frm="Security <security@example.org>"),
             rcpts=("grace@example.test",))
    cap.send(plain("Weekly report: 12 new sign-ups", "see attached\n",
                   frm="Reports <reports@example.org>"),
             rcpts=("ops@example.test", "ceo@example.test"))
    drv.get(cap.url + "/")
    wait_subject(drv, "First CAPTURE-A1")
    # A mark that a reload would wipe: new mail must come without one,
    # and without taking the keyboard focus away from the list.
    drv.execute_script("window.captureNoReload = 'still here'")
    first = drv.find_element("link text", "First CAPTURE-A1")
    drv.execute_script("arguments[0].focus()", first)
    cap.send(welcome("Welcome to Example, Ada"),
             rcpts=("ada@example.test",))
    wait_subject(drv, "Welcome to Example, Ada")
    assert drv.execute_script("return window.captureNoReload") == \
        "still here"
    assert drv.execute_script("return document.activeElement"
                              ".textContent") == "First CAPTURE-A1"
    # The keyboard: up the list opens the message above.
    drv.switch_to.active_element.send_keys(Keys.ARROW_UP)
    until(drv, "return document.getElementById('subject').textContent"
          " === 'Your password reset code'", "the message above opened")
    got = subjects(drv)
    assert got.index("Welcome to Example, Ada") < \
        got.index("First CAPTURE-A1"), got  # newest first
    row = drv.find_element("xpath", "//tbody[@id='message-list']/tr[1]")
    assert "ada@example.test" in row.text, row.text
    frm = row.find_element("css selector", "td.from")
    assert frm.text == "Example", frm.text  # the name; all in the title
    assert frm.get_attribute("title") == "Example <hello@example.org>"
    assert re.search(r"\d+(\.\d)? (B|KiB)", row.text), row.text
    badge = row.find_element("css selector", ".badge")
    assert int(badge.text.split()[0]) >= 1  # no Date, no Message-ID

    open_message(drv, "Welcome to Example, Ada")
    frame = drv.find_element("id", "html-frame")
    assert frame.get_attribute("sandbox") == ""
    assert re.fullmatch(r".*/api/messages/[^/]+/html",
                        frame.get_attribute("src"))
    text = frame_text(drv, "Thanks for signing up")
    assert "Welcome to Example, Ada" in text and \
        "Thanks for signing up" in text, text
    problems = drv.find_element("id", "problems").text
    assert "no-date" in problems and "RFC 5322 3.6" in problems, problems
    shot = tmp_path / "capture-page.png"
    assert drv.save_screenshot(str(shot))
    assert shot.stat().st_size > 10000
    out = os.environ.get("TERN_SCREENSHOT_DIR")
    if out:
        os.makedirs(out, exist_ok=True)
        shutil.copy(shot, os.path.join(out, "capture-page.png"))
    # Nothing went wrong in the page's own script.
    assert not severe_logs(drv)


def test_hostile_html_runs_nothing_loads_nothing(cap, drv, probe):
    subject = "Report CAPTURE-H2"
    cap.send(hostile(subject, probe.base))
    drv.get(cap.url + "/")
    wait_subject(drv, subject)
    mid = open_message(drv, subject)
    text = frame_text(drv, "CAPTURE-MARK-7Q")
    assert "CAPTURE-MARK-7Q" in text and "SCRIPT RAN" not in text, \
        f"the frame shows {text!r}; the probe saw {probe.hits}"
    assert drv.title.startswith("tern capture"), drv.title
    assert drv.current_url.startswith(cap.url), drv.current_url
    severe = severe_logs(drv)  # the frame's refusals, not the page's
    assert not [e for e in severe if "app.js" in e.get("message", "")], \
        severe

    # The views: text, parts (the attachment downloads as sent),
    # headers, raw source.
    drv.find_element("id", "tab-text").click()
    assert "CAPTURE-TEXT-3K" in drv.find_element("id", "text").text
    drv.find_element("id", "tab-parts").click()
    link = drv.find_element("xpath", "//tbody[@id='parts']/tr"
                            "[td[.='report.csv']]//a")
    href = link.get_attribute("href")
    assert re.fullmatch(re.escape(cap.url) + r"/api/messages/[^/]+/parts/\d+",
                        href), href
    assert urllib.request.urlopen(href, timeout=15).read() == CSV
    drv.find_element("id", "tab-headers").click()
    heads = drv.find_element("id", "headers").text
    assert "Subject" in heads and subject in heads, heads
    drv.find_element("id", "tab-raw").click()
    raw = until(drv, "const t = document.getElementById('raw').textContent;"
                " return t.includes('CAPTURE-MARK-7Q') ? t : ''",
                "the raw source")
    assert f"Subject: {subject}" in raw
    assert drv.find_element("id", "raw-link").get_attribute("href") == \
        f"{cap.url}/api/messages/{mid}/raw"

    # The control: the same HTML outside the sandbox makes its requests.
    # Once they have arrived, any the frame had made would have too.
    probe.pages["/control.html"] = (
        hostile_html(probe.base, "control").encode(), "text/html")
    drv.get(probe.base + "/control.html")
    deadline = time.monotonic() + PAGE_TIMEOUT
    # (Those the script's rewrite of the page may cut short are not
    # waited for: the background, the font, the inner frame.)
    want = {"/control/x.png", "/control/fetch", "/control/img-js",
            "/control/style.css", "/control/import.css", "/control/refresh"}
    while time.monotonic() < deadline and \
            not want <= set(probe.under("control")):
        time.sleep(0.05)
    assert want <= set(probe.under("control")), probe.hits
    assert probe.under("mail") == [], probe.hits


def test_search_delete_all_then_new_mail(cap, drv):
    cap.send(plain("Before delete CAPTURE-D1"))
    cap.send(plain("Find me CAPTURE-S1"), rcpts=("searcher@example.test",))
    drv.get(cap.url + "/")
    wait_subject(drv, "Before delete CAPTURE-D1")
    wait_subject(drv, "Find me CAPTURE-S1")
    # The search box: a subject's words, or to:ADDR (the API filters).
    box = drv.find_element("id", "q")
    for query in ("capture-s1", "to:SEARCHER@example.test"):
        box.clear()
        box.send_keys(query)
        until(drv, SUBJECTS + ".join('|') === arguments[0]",
              f"only the match of {query!r}", "Find me CAPTURE-S1")
    box.clear()
    box.send_keys("no such subject CAPTURE-S0")
    until(drv, "const e = document.getElementById('empty');"
          " return !e.hidden && e.textContent.includes('matches')",
          "no match")
    drv.get(cap.url + "/")
    wait_subject(drv, "Before delete CAPTURE-D1")
    drv.find_element("id", "delete-all").click()
    drv.switch_to.alert.accept()
    until(drv, "return document.querySelectorAll('#message-list tr')"
          ".length === 0 && !document.getElementById('empty').hidden",
          "an empty list")
    assert b'"total":0' in cap.api("/api/messages").replace(b" ", b"")
    cap.send(plain("After delete CAPTURE-D2"))
    wait_subject(drv, "After delete CAPTURE-D2")
    assert subjects(drv) == ["After delete CAPTURE-D2"]
