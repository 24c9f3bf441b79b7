# SPDX-License-Identifier: ISC
"""Issue 15: install and run like a Debian daemon.

- `meson install --destdir` of the build that made TERN_BIN (what `make
  install DESTDIR=...` runs): the binary, sbin/sendmail -> ../bin/tern,
  tern(8) and tern.conf(5) that man renders without warnings, the
  systemd unit that `systemd-analyze verify` accepts, and libtern.
- The unit's CapabilityBoundingSet= and NoNewPrivileges= are enough for
  start-up as root with `user =` (checked with setpriv, as root).
- sd_notify: READY=1 after event=ready, STOPPING=1 at SIGTERM, to a
  NOTIFY_SOCKET of the test's own.
"""

import os
import re
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from conftest import (CLI_TIMEOUT, READY_TIMEOUT, TERN_BIN, child_env,
                      free_port)

BUILD_DIR = Path(TERN_BIN).resolve().parent
REPO = Path(__file__).resolve().parents[2]
MAN_PAGES = [("man8", "tern.8"), ("man5", "tern.conf.5")]


@pytest.fixture(scope="module")
def destdir(tmp_path_factory):
    if not (BUILD_DIR / "build.ninja").exists():
        pytest.skip(f"{BUILD_DIR} is not a meson build directory "
                    "(TERN_BIN must be the binary of a build tree)")
    d = tmp_path_factory.mktemp("destdir")
    r = subprocess.run(["meson", "install", "-C", str(BUILD_DIR),
                        "--no-rebuild", "--destdir", str(d)],
                       capture_output=True, timeout=300)
    assert r.returncode == 0, r.stdout.decode() + r.stderr.decode()
    return d


def prefix_of(destdir):
    """DESTDIR/PREFIX: the directory that holds bin/tern."""
    [tern] = [p for p in destdir.rglob("bin/tern")]
    return tern.parent.parent


def test_layout(destdir):
    pre = prefix_of(destdir)
    tern = pre / "bin" / "tern"
    assert os.access(tern, os.X_OK)
    link = pre / "sbin" / "sendmail"
    assert link.is_symlink(), "sbin/sendmail is not a symlink"
    assert os.readlink(link) == "../bin/tern", os.readlink(link)
    assert link.resolve() == tern.resolve()
    for sect, page in MAN_PAGES:
        assert (pre / "share" / "man" / sect / page).is_file(), page
    unit = pre / "lib" / "systemd" / "system" / "tern.service"
    assert unit.is_file()
    # ExecStart names the installed binary, not the staging tree
    text = unit.read_text()
    want = "/" + (pre / "bin" / "tern").relative_to(destdir).as_posix()
    assert f"ExecStart={want} " in text, text
    assert str(destdir) not in text
    # libtern (issue 5) still installed
    assert list(pre.rglob("include/tern/tern.h"))
    assert list(pre.rglob("libtern.so*"))
    assert list(pre.rglob("pkgconfig/tern.pc"))
    # nothing outside the prefix
    outside = [p for p in destdir.rglob("*")
               if p.is_file() and pre not in p.parents]
    assert outside == [], outside


def test_sendmail_link_runs_as_sendmail(destdir):
    link = prefix_of(destdir) / "sbin" / "sendmail"
    r = subprocess.run([str(link), "--help"], capture_output=True,
                       timeout=CLI_TIMEOUT, env=child_env())
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith(b"usage: sendmail "), r.stdout


@pytest.mark.parametrize("sect,page", MAN_PAGES, ids=["tern.8",
                                                      "tern.conf.5"])
def test_man_page_renders_without_warnings(destdir, sect, page):
    if shutil.which("man") is None:
        pytest.skip("man (man-db) not installed")
    path = prefix_of(destdir) / "share" / "man" / sect / page
    env = dict(os.environ, MANWIDTH="80", MAN_KEEP_FORMATTING="0")
    r = subprocess.run(["man", "--warnings", "-l", str(path)],
                       capture_output=True, timeout=60, env=env)
    err = r.stderr.decode()
    assert r.returncode == 0, err
    assert err == "", f"warnings from man:\n{err}"
    out = re.sub(r".\x08", "", r.stdout.decode())  # no overstrike
    assert "NAME" in out and "SEE ALSO" in out
    # every command and every section of the configuration is there
    words = (["serve", "check-config", "init", "user", "alias", "queue",
              "send", "sendmail", "adduser --system --group --home "
              "/var/lib/tern tern", "TERN_CONFIG", "/etc/tern/tern.conf"]
             if page == "tern.8" else
             ["hostname", "data_dir", "domains", "postmaster",
              "[listener NAME]", "[limits]", "[tls]", "[queue]",
              "[routes]", "[relay_domains]"])
    flat = re.sub(r"\s+", " ", out.replace("\u2010", "-")
                  .replace("\u2011", "-"))
    for w in words:
        assert w in flat, (w, out)


def unit_text():
    return (BUILD_DIR / "tern.service").read_text()


def unit_values(key):
    return [ln.split("=", 1)[1] for ln in unit_text().splitlines()
            if ln.startswith(key + "=")]


def test_unit_hardening():
    u = unit_text()
    for want in ("Type=notify", "NoNewPrivileges=yes",
                 "ProtectSystem=strict", "ReadWritePaths=/var/lib/tern",
                 "PrivateTmp=yes", "ProtectHome=yes",
                 "RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX",
                 "ExecReload=/bin/kill -HUP $MAINPID"):
        assert want in u.splitlines(), want
    [caps] = unit_values("CapabilityBoundingSet")
    assert "CAP_NET_BIND_SERVICE" in caps.split()
    assert "CAP_SYS_ADMIN" not in caps


def test_unit_verifies(destdir, tmp_path):
    """systemd-analyze verify accepts the installed unit: no error and
    no complaint (an unknown key is only a warning, so the output must
    not name the unit). Its ExecStart names the binary's final place,
    which does not exist outside DESTDIR: the copy verified points at
    the staged binary instead, and nothing else changes."""
    exe = shutil.which("systemd-analyze")
    if exe is None:
        pytest.skip("systemd-analyze not installed (package systemd)")
    pre = prefix_of(destdir)
    unit = pre / "lib" / "systemd" / "system" / "tern.service"
    final = "/" + (pre / "bin" / "tern").relative_to(destdir).as_posix()
    text = unit.read_text()
    assert text.count(final) == 1
    (tmp_path / "tern.service").write_text(
        text.replace(final, str(pre / "bin" / "tern")))
    r = subprocess.run([exe, "verify", "--man=no",
                        str(tmp_path / "tern.service")],
                       capture_output=True, timeout=120)
    out = (r.stdout + r.stderr).decode()
    if r.returncode != 0 and "tern.service" not in out:
        pytest.skip("systemd-analyze cannot run here: " + out[:300])
    assert r.returncode == 0, out
    assert "tern.service" not in out, f"complaints about the unit:\n{out}"


def low_port():
    for port in range(990, 600, -11):
        with socket.socket() as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                s.bind(("127.0.0.1", port))
                return port
            except OSError:
                continue
    pytest.skip("no free port below 1024 on 127.0.0.1")


def read_until(proc, marks, timeout=READY_TIMEOUT):
    """proc's stderr until one of marks shows; the text read."""
    os.set_blocking(proc.stderr.fileno(), False)
    buf = b""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        chunk = proc.stderr.read()
        if chunk:
            buf += chunk
            if any(m in buf for m in marks):
                break
        elif proc.poll() is not None:
            break
        else:
            time.sleep(0.02)
    return buf.decode("utf-8", "replace")


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root: starts tern "
                    "as root with only the unit's capabilities")
def test_unit_capabilities_suffice_for_start_as_root():
    """Start as root under the unit's CapabilityBoundingSet= and
    NoNewPrivileges=, with `user = nobody` and STARTTLS (a generated key)
    on a port below 1024: ready and dropped, the first time and again
    once data_dir belongs to that user."""
    if shutil.which("setpriv") is None:
        pytest.skip("setpriv (util-linux) not installed")
    [caps] = unit_values("CapabilityBoundingSet")
    bounding = "-all," + ",".join(
        "+" + c.lower().removeprefix("cap_") for c in caps.split())
    base = Path(tempfile.mkdtemp(prefix="tern-caps-", dir="/tmp"))
    try:
        base.chmod(0o755)
        port = low_port()
        conf = base / "tern.conf"
        conf.write_text("hostname = mx.example.test\n"
                        f"data_dir = {base / 'data'}\n"
                        "domains = example.test\nuser = nobody\n"
                        "\n[listener mx]\n"
                        f"address = 127.0.0.1:{port}\nmode = mx\n"
                        "tls = starttls\n")
        # a user database made by root, as `tern user add` would
        r = subprocess.run([TERN_BIN, "-c", str(conf), "user", "add",
                            "a@example.test", "--password-stdin"],
                           input=b"a long enough secret\n",
                           capture_output=True, timeout=CLI_TIMEOUT,
                           env=child_env())
        assert r.returncode == 0, r.stderr
        for attempt in ("fresh", "again"):
            proc = subprocess.Popen(
                ["setpriv", f"--bounding-set={bounding}",
                 "--inh-caps=-all", "--no-new-privs",
                 TERN_BIN, "-c", str(conf), "serve"],
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE, env=child_env())
            try:
                log = read_until(proc, [b"event=ready"])
                assert "event=ready" in log, f"{attempt}:\n{log}"
                assert "event=privileges_dropped user=nobody" in log, log
            finally:
                proc.terminate()
                proc.wait(30)
            assert proc.returncode == 0, (attempt, log)
            assert (base / "data").stat().st_uid == 65534
    finally:
        shutil.rmtree(base, ignore_errors=True)


def test_sd_notify_ready_and_stopping(make_server, monkeypatch, tmp_path):
    """READY=1 comes after event=ready, STOPPING=1 after SIGTERM."""
    path = tmp_path / "notify.sock"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(path))
    sock.settimeout(READY_TIMEOUT)
    monkeypatch.setenv("NOTIFY_SOCKET", str(path))
    try:
        srv = make_server()  # returns once event=ready is logged
        msgs = sock.recv(4096).decode()
        assert "READY=1" in msgs.splitlines(), msgs
        assert f"MAINPID={srv.proc.pid}" in msgs.splitlines(), msgs
        assert "STATUS=accepting mail for" in msgs, msgs
        # nothing else before the stop
        sock.settimeout(0.3)
        with pytest.raises(socket.timeout):
            sock.recv(4096)
        sock.settimeout(READY_TIMEOUT)
        srv.stop()
        msgs = sock.recv(4096).decode()
        assert "STOPPING=1" in msgs.splitlines(), msgs
    finally:
        sock.close()


def test_no_notify_socket_no_trouble(make_server, monkeypatch):
    """Without NOTIFY_SOCKET (not under systemd) nothing changes."""
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    srv = make_server()
    with srv.raw() as r:
        assert r.cmd("NOOP").code == 250
