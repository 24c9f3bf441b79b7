# SPDX-License-Identifier: ISC
"""`tern queue flush|retry|hold|release|delete` (issue 4): requests to the
running server over its control socket, <data_dir>/control.sock (issue
15). Each command prints what the server did and exits non-zero when it
did not happen: no server (69), refused (77), no such message (1)."""

import os
import pwd
import shutil
import subprocess
import time

import pytest

from conftest import TERN_BIN, child_env, make_message, wait_log
from test_remote import relay_server, sinks, submit, wait_log  # noqa: F401

SLOW = {"retry_initial": "1h", "retry_max": "2h"}


def deferred_once(make_server, sinks, n=1):
    """A server whose remote said 451 to the first n messages, so each
    waits an hour for its next attempt."""
    sink = sinks()
    state = {"n": 0}

    def rcpt(a):
        state["n"] += 1
        return "451 4.3.0 busy" if state["n"] <= n else "250 2.1.5 Ok"

    sink.rcpt_reply = rcpt
    srv = relay_server(make_server,
                       f"relay.test = 127.0.0.1:{sink.port} tls=none\n",
                       queue=SLOW)
    ids = []
    for i in range(n):
        ids.append(submit(srv, "alice@example.test", [f"x{i}@relay.test"],
                          make_message(to=f"x{i}@relay.test")))
    deadline = time.monotonic() + 20
    while srv.log().count("event=deferred") < n:
        assert time.monotonic() < deadline, srv.log()[-2000:]
        time.sleep(0.05)
    return srv, sink, ids


def test_retry_delivers_now(make_server, sinks):
    srv, sink, ids = deferred_once(make_server, sinks)
    item = srv.queue_json()[0]
    assert item["state"] == "deferred"
    assert item["next_attempt"] > time.time() + 1000
    assert "busy" in item["errors"]["x0@relay.test"]
    srv.cli("queue", "retry", ids[0])
    sink.wait_messages(1, timeout=10)
    srv.wait_queue_empty()
    assert "event=queue_retry id=" + ids[0] in srv.log()


def test_flush_delivers_all(make_server, sinks):
    srv, sink, ids = deferred_once(make_server, sinks, n=2)
    srv.cli("queue", "flush")
    sink.wait_messages(2, timeout=10)
    srv.wait_queue_empty()


def test_hold_and_release(make_server, sinks):
    srv, sink, ids = deferred_once(make_server, sinks)
    r = srv.cli("queue", "hold", ids[0])
    assert f"{ids[0]} held" in r.out
    assert srv.queue_json()[0]["state"] == "held"
    r = srv.cli("queue", "hold", ids[0])
    assert "already held" in r.out
    # A flush does not touch a held message: it waits for its expiry.
    r = srv.cli("queue", "flush")
    assert "0 messages scheduled" in r.out
    wait_log(srv, "event=queue_flush messages=0")
    r = srv.cli("queue", "retry", ids[0], check=False)
    assert r.returncode == 1 and "is held" in r.err
    assert not sink.messages
    r = srv.cli("queue", "release", ids[0])
    assert "released" in r.out
    sink.wait_messages(1, timeout=10)
    srv.wait_queue_empty()


def test_delete_without_bounce(make_server, sinks):
    srv, sink, ids = deferred_once(make_server, sinks)
    srv.cli("queue", "delete", ids[0])
    srv.wait_queue_empty(timeout=5)
    # The log line may trail the removal the CLI saw.
    wait_log(srv, "event=queue_delete id=" + ids[0])
    assert srv.mail("alice@example.test") == []


def test_no_server_nothing_done(make_server, sinks):
    """Fails on the old main, which acted on the spool itself."""
    srv, sink, ids = deferred_once(make_server, sinks)
    srv.stop()
    for args in (("hold", ids[0]), ("flush",), ("delete", ids[0])):
        r = srv.cli("queue", *args, check=False)
        assert r.returncode == 69, (args, r.err)
        assert "no server is running" in r.err
        assert "nothing was done" in r.err
        assert r.out == ""
    srv.start()
    assert srv.queue_json()[0]["state"] != "held"
    srv.cli("queue", "retry", ids[0])
    sink.wait_messages(1, timeout=10)


def test_bad_arguments(make_server):
    srv = make_server()
    r = srv.cli("queue", "hold", "nonsense", check=False)
    assert r.returncode == 1 and "not a queue id" in r.err
    r = srv.cli("queue", "retry", "0" * 20, check=False)
    assert r.returncode == 1 and "no message" in r.err
    assert "not a queue id" not in r.err  # the server's answer
    r = srv.cli("queue", "flush", "extra", check=False)
    assert r.returncode == 64
    r = srv.cli("queue", "flush")
    assert r.returncode == 0


def test_flush_reports_count(make_server, sinks):
    srv, sink, ids = deferred_once(make_server, sinks, n=2)
    r = srv.cli("queue", "flush")
    assert r.out.strip() == "2 messages scheduled for delivery now"
    sink.wait_messages(2, timeout=10)


def run_as(user, argv):
    """argv as `user` (runuser from util-linux: a full switch, PAM and
    all), stdin closed."""
    return subprocess.run(["runuser", "-u", user, "--"] + argv,
                          capture_output=True, text=True, timeout=30,
                          env=child_env(), stdin=subprocess.DEVNULL)


@pytest.mark.skipif(os.geteuid() != 0,
                    reason="needs root: the server drops to user = nobody")
def test_control_as_root_and_service_user(make_server, sinks):
    """Issue 15: with `user =` set, root's `tern queue hold` used to write
    a request file the server could not read, and exit 0. Now root and
    the service user are answered; another user is refused."""
    sink = sinks()
    state = {"n": 0}

    def rcpt(a):
        state["n"] += 1
        return "451 4.3.0 busy" if state["n"] == 1 else "250 2.1.5 Ok"

    sink.rcpt_reply = rcpt
    srv = relay_server(make_server,
                       f"relay.test = 127.0.0.1:{sink.port} tls=none\n",
                       queue=SLOW, top={"user": "nobody"}, public=True)
    os.chmod(srv.conf_path, 0o644)
    # The build may sit in a directory only root can enter (a fresh
    # clone in a private temporary directory): the others run a copy.
    tern = srv.dir / "tern"
    shutil.copy2(TERN_BIN, tern)
    [qid] = [submit(srv, "alice@example.test", ["x@relay.test"],
                    make_message(to="x@relay.test"))]
    wait_log(srv, "event=deferred")
    # root, with the server running as nobody
    r = srv.cli("queue", "hold", qid, check=False)
    assert srv.queue_json()[0]["state"] == "held", (r.returncode, r.err)
    assert r.returncode == 0 and f"{qid} held" in r.out
    sock = srv.data_dir / "control.sock"
    st = os.stat(sock)
    assert st.st_uid == pwd.getpwnam("nobody").pw_uid
    assert st.st_mode & 0o777 == 0o600
    # the service user itself
    r = run_as("nobody", [str(tern), "-c", str(srv.conf_path), "queue",
                          "release", qid])
    assert r.returncode == 0, r.stderr
    assert "released" in r.stdout
    sink.wait_messages(1, timeout=10)
    # anyone else: the socket is not theirs
    other = "daemon"
    r = run_as(other, [str(tern), "-c", str(srv.conf_path), "queue",
                       "flush"])
    assert r.returncode == 77, (r.returncode, r.stderr)
    assert "permission denied" in r.stderr
    assert "nothing was done" in r.stderr


def held_server(make_server, sinks, queue):
    """A deferred message, then held: (srv, sink, id)."""
    sink = sinks()
    sink.rcpt_reply = lambda a: "451 4.3.0 busy"
    q = dict(SLOW)
    q.update(queue)
    srv = relay_server(make_server,
                       f"relay.test = 127.0.0.1:{sink.port} tls=none\n",
                       queue=q)
    qid = submit(srv, "alice@example.test", ["x@relay.test"],
                 make_message(to="x@relay.test", subject="to be held"))
    srv.cli("queue", "hold", qid)
    return srv, sink, qid


def test_held_message_expires_and_bounces(make_server, sinks):
    """Issue 15: held messages used to stay in the queue for ever. Now
    one expires with the queue lifetime: bounced to its sender."""
    srv, sink, qid = held_server(make_server, sinks, {"lifetime": "8s"})
    r = srv.cli("queue", "list", "--held")
    assert qid in r.out and "held" in r.out
    assert "unless released" in r.out  # when it leaves the queue
    [item] = srv.queue_json()
    assert 0 <= item["held_expires_in"] <= 8
    wait_log(srv, f"event=failed id={qid}", timeout=30)
    assert "reason=held_expired" in srv.log()
    srv.wait_queue_empty(timeout=15)
    bounce = srv.wait_for_mail("alice@example.test", 1)[0]
    assert b"held in the queue by its operator" in bounce
    assert b"to be held" in bounce  # the original, returned
    assert not sink.messages


def test_held_action_keep(make_server, sinks):
    srv, sink, qid = held_server(make_server, sinks,
                                 {"lifetime": "3s", "held_action": "keep"})
    r = srv.cli("queue", "list", "--held")
    assert "kept until released" in r.out
    arrival = srv.queue_json()[0]["arrival"]
    srv.stop()
    # Past its lifetime while stopped: the restart looks at it again.
    deadline = time.monotonic() + 10
    while time.time() <= arrival + 4:
        assert time.monotonic() < deadline
        time.sleep(0.1)
    srv.start()
    wait_log(srv, f"event=held id={qid} expires=never")
    [item] = srv.queue_json()
    assert item["state"] == "held"
    assert "event=failed" not in srv.log()
    srv.cli("queue", "delete", qid)
    srv.wait_queue_empty(timeout=5)
