# SPDX-License-Identifier: ISC
"""Issue 15: binding a port below 1024 without the right says how to get
it (root with `user =`, or CAP_NET_BIND_SERVICE), and the advice works.

Root only: the server is run as uid 65534 with setpriv, on a free port
below 1024 of 127.0.0.1.
"""

import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from conftest import READY_TIMEOUT, TERN_BIN, child_env, sanitizer_clean

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0,
    reason="needs root: runs tern as uid 65534 with setpriv")

NOBODY = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
WITH_CAP = NOBODY + ["--inh-caps=+net_bind_service",
                     "--ambient-caps=+net_bind_service"]


def low_port():
    """A port below 1024 free on 127.0.0.1 a moment ago."""
    for port in range(1000, 600, -7):
        with socket.socket() as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                s.bind(("127.0.0.1", port))
                return port
            except OSError:
                continue
    pytest.skip("no free port below 1024 on 127.0.0.1")


@pytest.fixture
def base():
    """A directory uid 65534 can reach, with a data_dir it owns."""
    d = Path(tempfile.mkdtemp(prefix="tern-lowport-", dir="/tmp"))
    d.chmod(0o755)
    (d / "data").mkdir()
    os.chown(d / "data", 65534, 65534)
    yield d
    shutil.rmtree(d, ignore_errors=True)


def write_conf(base, port):
    conf = base / "tern.conf"
    conf.write_text("hostname = mx.example.test\n"
                    f"data_dir = {base / 'data'}\n"
                    "domains = example.test\n"
                    "\n[listener mx]\n"
                    f"address = 127.0.0.1:{port}\nmode = mx\ntls = none\n")
    conf.chmod(0o644)
    return conf


def test_low_port_without_right_says_how(base):
    if shutil.which("setpriv") is None:
        pytest.skip("setpriv (util-linux) not installed")
    port = low_port()
    conf = write_conf(base, port)
    r = subprocess.run(NOBODY + [TERN_BIN, "-c", str(conf), "serve"],
                       capture_output=True, timeout=60, env=child_env(),
                       stdin=subprocess.DEVNULL)
    err = r.stderr.decode("utf-8", "replace")
    assert r.returncode != 0, err
    assert "event=ready" not in err
    assert f"127.0.0.1:{port}" in err, err
    assert "below 1024" in err, err
    assert "user = tern" in err and "root" in err, err
    assert "CAP_NET_BIND_SERVICE" in err, err
    assert "AmbientCapabilities" in err, err
    assert sanitizer_clean(err) is None, err


def test_low_port_with_cap_net_bind_service(base):
    """The advice works: the same user with CAP_NET_BIND_SERVICE binds
    the port and is ready."""
    if shutil.which("setpriv") is None:
        pytest.skip("setpriv (util-linux) not installed")
    port = low_port()
    conf = write_conf(base, port)
    proc = subprocess.Popen(WITH_CAP + [TERN_BIN, "-c", str(conf), "serve"],
                            stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, env=child_env())
    buf = b""
    try:
        os.set_blocking(proc.stderr.fileno(), False)
        deadline = time.monotonic() + READY_TIMEOUT
        while b"event=ready" not in buf and time.monotonic() < deadline:
            chunk = proc.stderr.read()
            if chunk:
                buf += chunk
            elif proc.poll() is not None:
                break
            else:
                time.sleep(0.02)
        assert b"event=ready" in buf, buf.decode("utf-8", "replace")
        with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
            assert s.recv(512).startswith(b"220 "), "no greeting"
    finally:
        proc.terminate()
        proc.wait(30)
    assert proc.returncode == 0
