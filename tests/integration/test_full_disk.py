# SPDX-License-Identifier: ISC
"""Full disk and unwritable Maildirs (issue 7, "Fault injection").

The spool on a full filesystem: the server answers 452 4.3.1 when it
cannot store a message, keeps serving, queues nothing half-written, and
takes mail again once there is space. A Maildir that cannot be written
(ENOSPC, EACCES) is a temporary failure: the message stays queued, is
retried, and is delivered exactly once when the operator fixes the disk.

The filesystems are size-limited tmpfs mounts the test creates (as root)
under its own tmp_path and removes afterwards; without permission to
mount, the tests skip and say why. EACCES needs a root server without
CAP_DAC_OVERRIDE: that server runs under setpriv(1).
"""

import re
import errno
import os
import shutil
import subprocess
import time

import pytest

from conftest import TERN_WRAPPER, expect, make_message, message_id_of

FILL_CHUNK = 64 * 1024


@pytest.fixture
def mounts():
    """mount(path, size) -> path: a tmpfs of `size` at path, unmounted at
    the end (after make_server has stopped the servers: this fixture is
    requested first)."""
    done = []

    def mount(path, size):
        path.mkdir(parents=True, exist_ok=True)
        r = subprocess.run(["mount", "-t", "tmpfs", "-o",
                            f"size={size},mode=0755", "tmpfs", str(path)],
                           capture_output=True, text=True, timeout=30)
        if r.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs (needs root and "
                        f"CAP_SYS_ADMIN): {r.stderr.strip()}")
        done.append(path)
        return path

    yield mount
    for p in reversed(done):
        subprocess.run(["umount", "-l", str(p)], capture_output=True,
                       timeout=30)


def fill(fs_path, leave=0):
    """Fill the filesystem at fs_path up to ENOSPC, then free `leave`
    bytes; return the filler's path."""
    filler = fs_path / "filler"
    chunk = b"\0" * FILL_CHUNK
    with open(filler, "wb") as f:
        for _ in range(1 << 16):  # bounded: 4 GiB
            try:
                f.write(chunk)
                f.flush()
            except OSError as e:
                assert e.errno == errno.ENOSPC, e
                break
        else:
            raise AssertionError("filesystem never filled up")
    size = filler.stat().st_size
    if leave:
        os.truncate(filler, max(0, size - leave))
    return filler


def free_bytes(path):
    st = os.statvfs(path)
    return st.f_bavail * st.f_frsize


def wait_log(srv, needle, count=1, timeout=30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if srv.log().count(needle) >= count:
            return
        time.sleep(0.05)
    pytest.fail(f"{count} x {needle!r} not logged within {timeout}s:\n"
                f"{srv.log()[-4000:]}")


def try_send(srv, rcpt, msg):
    """One transaction on a raw session; the reply to the end of data (or
    to DATA when that already fails), and the session for more."""
    r = srv.raw()
    expect(r.cmd("MAIL FROM:<full@remote.example>"), 250)
    expect(r.cmd(f"RCPT TO:<{rcpt}>"), 250)
    rep = r.cmd("DATA")
    if rep.code == 354:
        r.send(msg + b".\r\n")
        rep = r.reply()
    return rep, r


def test_spool_full_452_keeps_serving(mounts, make_server, tmp_path):
    disk = mounts(tmp_path / "disk", "8m")
    srv = make_server(subdir="disk")
    filler = fill(disk)
    big = make_message(subject="no room", body=b"y" * 200_000 + b"\r\n")

    rep, r = try_send(srv, "alice@example.test", big)
    with r:
        expect(rep, 452, "4.3.1")
        # The session goes on: a second try gets the same clear answer.
        expect(r.cmd("NOOP"), 250, "2.0.0")
        expect(r.cmd("MAIL FROM:<full@remote.example>"), 250)
        expect(r.cmd("RSET"), 250)
    assert srv.queue_json() == [], "a message was queued on a full disk"
    assert srv.all_mail() == []
    # The log says why: at the write (a message that went to a file) or
    # at the commit (a small one, held in memory and appended to the
    # segment log: issue 20).
    assert re.search(r"event=(spool_error|commit_failed) .*"
                     r"No space left on device", srv.log()), srv.log()
    # Nothing half-written is left behind to fill the disk further.
    leftovers = list((srv.data_dir / "queue" / "incoming").iterdir())
    assert leftovers == [], leftovers

    filler.unlink()
    for i in range(5):
        srv.send("full@remote.example", ["alice@example.test"],
                 make_message(subject=f"after {i}", msgid=f"after-{i}@t"))
    got = srv.wait_for_mail("alice@example.test", 5)
    assert sorted(message_id_of(d) for d in got) == \
        [f"after-{i}@t" for i in range(5)]
    srv.wait_queue_empty()


def test_spool_full_small_message_452(mounts, make_server, tmp_path):
    disk = mounts(tmp_path / "disk", "8m")
    srv = make_server(subdir="disk")
    filler = fill(disk)
    rep, r = try_send(srv, "bob@example.test",
                      make_message(subject="small"))
    with r:
        # The session goes on whatever the code.
        expect(r.cmd("NOOP"), 250, "2.0.0")
    assert srv.queue_json() == []
    filler.unlink()
    expect(rep, 452, "4.3.1")


def test_spool_fills_mid_data(mounts, make_server, tmp_path):
    """Space runs out in the middle of a message: 452 4.3.1 after the end
    of data, no partial file, and the session stays usable."""
    disk = mounts(tmp_path / "disk", "8m")
    srv = make_server(subdir="disk")
    filler = fill(disk, leave=256 * 1024)
    body = b"".join(b"line %06d " % i + b"z" * 88 + b"\r\n"
                    for i in range(10_000))  # ~1 MB
    rep, r = try_send(srv, "alice@example.test",
                      make_message(subject="too big for the disk",
                                   body=body))
    with r:
        expect(rep, 452, "4.3.1")
        expect(r.cmd("NOOP"), 250)
    assert srv.queue_json() == []
    assert list((srv.data_dir / "queue" / "incoming").iterdir()) == []
    assert free_bytes(disk) >= 200 * 1024, "partial message not removed"
    filler.unlink()
    srv.send("full@remote.example", ["alice@example.test"],
             make_message(subject="fits now", body=body, msgid="fits@t"))
    [data] = srv.wait_for_mail("alice@example.test", 1)
    assert message_id_of(data) == "fits@t"
    assert data.endswith(b"z" * 88 + b"\n")


def test_maildir_enospc_retried_not_lost(mounts, make_server, tmp_path):
    srv = make_server(start=False)
    mail = mounts(srv.data_dir / "mail" / "example.test", "1m")
    srv.start()
    filler = fill(mail)
    ids = []
    for i in range(5):
        ids.append(srv.send("f@remote.example", ["alice@example.test"],
                            make_message(subject=f"enospc {i}",
                                         msgid=f"enospc-{i}@t",
                                         body=b"w" * 20_000 + b"\r\n")))
    # Each message fails at least once with ENOSPC and stays queued.
    wait_log(srv, "event=deferred", count=5)
    assert "No space left on device" in srv.log()
    assert sorted(it["id"] for it in srv.queue_json()) == sorted(ids)
    assert srv.mail_files("alice@example.test") == []
    filler.unlink()
    got = srv.wait_for_mail("alice@example.test", 5)
    srv.wait_queue_empty()
    assert sorted(message_id_of(d) for d in got) == \
        [f"enospc-{i}@t" for i in range(5)]
    assert all(d.endswith(b"w" * 20_000 + b"\n") for d in got)
    # No half-written file stays behind in tmp/.
    assert list((srv.maildir("alice@example.test") / "tmp").iterdir()) == []


def test_maildir_eacces_retried_not_lost(make_server):
    if shutil.which("setpriv") is None or os.geteuid() != 0:
        pytest.skip("needs root and setpriv(1) to drop CAP_DAC_OVERRIDE")
    srv = make_server(start=False)
    # Root without CAP_DAC_OVERRIDE/CAP_DAC_READ_SEARCH obeys file modes.
    srv.wrapper = ["setpriv", "--bounding-set",
                              "-dac_override,-dac_read_search", "--"] + TERN_WRAPPER
    md = srv.maildir("bob@example.test")
    for sub in ("tmp", "new", "cur"):
        (md / sub).mkdir(parents=True)
    os.chmod(md / "tmp", 0o500)
    srv.start()
    qid = srv.send("p@remote.example", ["bob@example.test"],
                   make_message(subject="eacces", msgid="eacces@t"))
    wait_log(srv, "event=deferred", count=2)
    assert "Permission denied" in srv.log()
    assert [it["id"] for it in srv.queue_json()] == [qid]
    assert srv.mail_files("bob@example.test") == []
    os.chmod(md / "tmp", 0o700)
    [data] = srv.wait_for_mail("bob@example.test", 1)
    assert message_id_of(data) == "eacces@t"
    srv.wait_queue_empty()
