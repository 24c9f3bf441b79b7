# SPDX-License-Identifier: ISC
"""Issue 15: one server per address and per data_dir.

tern's listeners share each port between its loop threads
(SO_REUSEPORT), which used to let a second `tern serve`, started by
mistake on the same address, take half the connections into its own
data_dir. Now it refuses to start and names the process that has the
address; and a second server on the same data_dir (a lock on
<data_dir>/tern.pid) is refused, naming the first one's pid.
"""

import subprocess

from conftest import TERN_BIN, child_env, make_message


def start_second(srv2, timeout=30):
    """Run a server that must refuse to start: its exit and stderr."""
    srv2.write_config()
    p = subprocess.run([TERN_BIN, "serve", "-c", str(srv2.conf_path)],
                       capture_output=True, text=True, timeout=timeout,
                       env=child_env(), stdin=subprocess.DEVNULL)
    return p.returncode, p.stderr


def test_second_server_on_same_address(make_server):
    first = make_server()
    second = make_server(start=False)
    second.ports = dict(first.ports)  # the same 127.0.0.1:PORT
    second._pick_ports = lambda: None
    rc, err = start_second(second)
    assert rc != 0
    assert f"127.0.0.1:{first.ports['mx']} is already in use" in err
    assert f"pid {first.proc.pid} (tern)" in err
    assert "stop it first" in err
    # The first one still gets all the mail.
    first.send("x@remote.example", ["alice@example.test"],
               make_message(subject="still mine"))
    first.wait_for_mail("alice@example.test", 1)
    assert not (second.data_dir / "queue" / "active").exists() or \
        not any((second.data_dir / "queue" / "active").iterdir())


def test_second_server_on_same_data_dir(make_server):
    first = make_server()
    second = make_server(start=False, users=())
    second.data_dir = first.data_dir  # another port, same data
    rc, err = start_second(second)
    assert rc != 0
    assert f"data_dir {first.data_dir} is in use by another tern server " \
        f"(pid {first.proc.pid})" in err
    pidfile = (first.data_dir / "tern.pid").read_text()
    assert pidfile.strip() == str(first.proc.pid)


def test_restart_after_stop_and_kill(make_server):
    """The lock is the process's: gone with it, even after kill -9."""
    srv = make_server()
    srv.stop()
    srv.start()
    srv.kill9()
    srv.start()
    srv.send("x@remote.example", ["alice@example.test"],
             make_message(subject="after kill"))
    srv.wait_for_mail("alice@example.test", 1)
