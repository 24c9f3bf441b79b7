# SPDX-License-Identifier: ISC
"""Issue 14, item 3: no root walk of data_dir; what root opens refuses links.

Until issue 14, tern started as root with `user =` walked all of data_dir
and chowned what it found to the user, going down into the maildrop that
every local user can write: a local user swapping one of its directories
there for a link had root-owned files anywhere handed to the service user.
Now root checks and hands over only the fixed entries tern makes below
data_dir, never following a link, and refuses to start (naming the path)
when one of them, or data_dir, is a link or someone else's. log_file is
opened the same careful way.

The accounts (a service user and a local "attacker") are made with
useradd for this module and removed at its end; every test here needs
root and skips with a message otherwise.
"""

import os
import pwd
import secrets
import select
import signal
import stat
import subprocess
import sys
import time

import pytest

from conftest import (CLI_TIMEOUT, READY_TIMEOUT, TERN_BIN, child_env,
                      free_port, make_message, sanitizer_clean, server_argv,
                      tls_client, wait_log)

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0,
    reason="needs root: tern's start-up as root, and test accounts "
           "made with useradd")

STARTS = 50            # the figure
ATTACK_SECONDS = 600   # the attacker's own bound, should the test die
VICTIMS = [f"f{i:04d}" for i in range(1000)]


# -- accounts and directories ------------------------------------------

def useradd(role):
    name = f"tern-{role}-{secrets.token_hex(3)}"
    for _ in range(20):  # other tests may hold /etc/passwd's lock
        r = subprocess.run(
            ["useradd", "--system", "--no-create-home", "--user-group",
             "--shell", "/usr/sbin/nologin", name],
            capture_output=True, timeout=CLI_TIMEOUT)
        if r.returncode == 0:
            return pwd.getpwnam(name)
        time.sleep(0.2)
    pytest.fail(f"useradd {name}: {r.stderr.decode(errors='replace')}")


@pytest.fixture(scope="module")
def svc():
    """The service account tern runs as (`user =`)."""
    pw = useradd("svc")
    yield pw
    subprocess.run(["userdel", pw.pw_name], capture_output=True,
                   timeout=CLI_TIMEOUT)


@pytest.fixture(scope="module")
def local_user():
    """An ordinary local account: the attacker, a sendmail user."""
    pw = useradd("usr")
    yield pw
    subprocess.run(["userdel", pw.pw_name], capture_output=True,
                   timeout=CLI_TIMEOUT)


@pytest.fixture
def base(public_dir):
    """A directory every account may enter (pytest's tmp_path is 0700)."""
    return public_dir


def as_user(pw):
    return ["setpriv", f"--reuid={pw.pw_uid}", f"--regid={pw.pw_gid}",
            "--clear-groups"]


def owner_and_mode(p):
    st = os.lstat(p)
    return (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode))


def make_victims(base):
    """Root's files outside data_dir, named as the attacker's are."""
    victim = base / "victim"
    victim.mkdir(mode=0o755)
    for n in VICTIMS:
        (victim / n).write_text("root's\n")
        (victim / n).chmod(0o600)
    return victim


def snapshot(victim):
    return {p: owner_and_mode(p) for p in [victim, *victim.iterdir()]}


def refused(srv):
    """Run `tern serve`, which must exit 1 before it is ready; stderr.
    A server that gets ready instead is killed and fails the test."""
    srv.write_config()
    proc = subprocess.Popen(server_argv(srv), stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, env=child_env())
    err = b""
    deadline = time.monotonic() + READY_TIMEOUT
    try:
        while b"event=ready" not in err and time.monotonic() < deadline:
            ready, _, _ = select.select([proc.stderr], [], [], 0.1)
            if ready:
                chunk = os.read(proc.stderr.fileno(), 65536)
                if not chunk:
                    break  # it exited
                err += chunk
    finally:
        if proc.poll() is None and b"event=ready" in err:
            proc.kill()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
        err += proc.stderr.read()
        proc.stderr.close()
    text = err.decode("utf-8", "replace")
    assert sanitizer_clean(text) is None, text
    assert "event=ready" not in text, "started:\n" + text
    assert proc.returncode == 1, text
    return text


# -- the attack ----------------------------------------------------------

# Runs as the local user. In each of SWAPS directories of its own inside
# maildrop/ (mode 0777, so that it keeps writing there if root chowns
# it), it swaps a directory `d` holding files named as the victims with a
# link `l` to the victims' directory, atomically (renameat2
# RENAME_EXCHANGE). A walk that lstat()s `d` and then works on d/... by
# path goes through the link about half of the time. It swaps all along,
# once every 10 ms, and flat out for 0.3 s whenever someone opens one
# of its directories (inotify): the walk opens them one after the other,
# so the first one wakes it up for the others. A patient attacker that
# leaves the two shared cores to tern's start-up.
ATTACKER = r"""
import ctypes, os, select, sys, time
tops, victim, limit = sys.argv[1].split(","), sys.argv[2], float(sys.argv[3])
names = sys.argv[4:]
libc = ctypes.CDLL(None, use_errno=True)
ifd = libc.inotify_init1(os.O_NONBLOCK)
pairs = []
for top in tops:
    os.mkdir(top)
    os.chmod(top, 0o777)
    d, l = os.path.join(top, "d"), os.path.join(top, "l")
    os.mkdir(d)
    for n in names:
        open(os.path.join(d, n), "w").close()
    os.symlink(victim, l)
    assert libc.inotify_add_watch(ifd, top.encode(), 0x20) >= 0  # IN_OPEN
    pairs.append((d.encode(), l.encode()))
print("ready", flush=True)
deadline = time.monotonic() + limit
while time.monotonic() < deadline:
    opened = select.select([ifd], [], [], 0.01)[0]
    if opened:
        os.read(ifd, 65536)
    until = time.monotonic() + (0.3 if opened else 0)
    while True:
        for _ in range(50 if opened else 1):
            for d, l in pairs:
                libc.renameat2(-100, d, -100, l, 2)  # AT_FDCWD, EXCHANGE
        if time.monotonic() >= until:
            break
"""
SWAPS = 6


@pytest.mark.serial  # 50 starts next to a busy attacker: it loads the machine
def test_maildrop_link_swaps_change_nothing_outside(base, svc, local_user,
                                                    make_server):
    """The issue's attack: a local user swaps links into maildrop/ while
    tern starts and stops 50 times; no file outside data_dir changes
    owner or mode (the walk gave them to the service user)."""
    victim = make_victims(base)
    before = snapshot(victim)
    srv = make_server(subdir=str(base / "srv"), users=(),
                      top={"user": svc.pw_name})
    srv.data_dir.chmod(0o711)  # local users reach maildrop/
    tops = [srv.data_dir / "maildrop" / f".swap{i}" for i in range(SWAPS)]
    attacker = subprocess.Popen(
        as_user(local_user) + [
            sys.executable, "-c", ATTACKER, ",".join(map(str, tops)),
            str(victim), str(ATTACK_SECONDS)] + VICTIMS,
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE)
    try:
        line = attacker.stdout.readline()  # EOF if it died
        assert line == b"ready\n", attacker.stderr.read()
        changed = {}
        for i in range(STARTS):
            srv.stop()
            srv.start()
            changed = {str(p): (was, owner_and_mode(p))
                       for p, was in before.items()
                       if owner_and_mode(p) != was}
            if changed:
                break
        # The attack ran all along: it could have won.
        assert attacker.poll() is None, attacker.stderr.read()
        assert not changed, \
            f"start {i + 1} of {STARTS} changed {len(changed)} files " \
            f"outside data_dir, e.g. (path: (before, after)): " \
            f"{dict(sorted(changed.items())[:3])}"
    finally:
        attacker.kill()
        attacker.wait(10)
    # Root never looked inside: the attacker's directories are its own.
    for top in tops:
        assert os.lstat(top).st_uid == local_user.pw_uid, top


# -- data_dir and its fixed entries ----------------------------------------

def fresh(make_server, base, svc, **kw):
    """A configured, not started server with `user =` and a data_dir
    that root made (0750) as an older tern would have."""
    srv = make_server(subdir=str(base / "srv"), users=(), start=False,
                      top={"user": svc.pw_name}, **kw)
    srv.data_dir.mkdir(mode=0o750)
    return srv


def test_data_dir_link_refused(base, svc, make_server):
    srv = fresh(make_server, base, svc)
    real = base / "real"
    srv.data_dir.rename(real)
    srv.data_dir.symlink_to(real)
    err = refused(srv)
    assert f"data_dir {srv.data_dir} is a symbolic link" in err
    assert owner_and_mode(real)[0] == 0, "handed over through the link"
    # The admin commands run the same check before they drop to the user.
    r = srv.cli("user", "add", "x@example.test", "--password-stdin",
                input="a long secret\n", check=False)
    assert r.returncode == 1 and "is a symbolic link" in r.err, r.err
    assert list(real.iterdir()) == []
    r = srv.cli("check-config", check=False)
    assert r.returncode == 78, r.err
    assert f"error: data_dir {srv.data_dir} is a symbolic link" in r.err


def test_data_dir_of_another_user_refused(base, svc, local_user,
                                          make_server):
    srv = fresh(make_server, base, svc)
    os.chown(srv.data_dir, local_user.pw_uid, local_user.pw_gid)
    err = refused(srv)
    assert f"{srv.data_dir} is owned by uid {local_user.pw_uid}" in err
    assert owner_and_mode(srv.data_dir)[0] == local_user.pw_uid


@pytest.mark.parametrize("mode", [0o770, 0o777, 0o1777],
                         ids=["0770", "0777", "1777"])
def test_data_dir_writable_by_others_refused(base, svc, make_server, mode):
    srv = fresh(make_server, base, svc)
    srv.data_dir.chmod(mode)
    err = refused(srv)
    assert f"{srv.data_dir} is writable by others (mode {mode:04o})" in err


# (entry, its parent directories to make, link target kind)
ENTRIES = [
    ("queue", [], "dir"),
    ("queue/active", ["queue"], "dir"),
    ("queue/free", ["queue"], "dir"),
    ("queue/lock", ["queue"], "file"),
    ("mail", [], "dir"),
    ("maildrop", [], "dir"),
    ("maildrop-refused", [], "dir"),
    ("tls", [], "dir"),
    ("tls/self-signed.key", ["tls"], "file"),
    ("tern.db", [], "file"),
    ("tern.db-wal", [], "file"),
    ("tern.pid", [], "file"),
]


@pytest.mark.parametrize("entry,parents,kind", ENTRIES,
                         ids=[e[0] for e in ENTRIES])
def test_entry_link_refused(base, svc, make_server, entry, parents, kind):
    """A fixed entry that is a link stops start-up; its target (root's)
    is left alone."""
    srv = fresh(make_server, base, svc)
    for p in parents:
        (srv.data_dir / p).mkdir(mode=0o700)
    target = base / "target"
    if kind == "dir":
        target.mkdir(mode=0o700)
    else:
        target.write_text("root's\n")
        target.chmod(0o600)
    before = owner_and_mode(target)
    (srv.data_dir / entry).symlink_to(target)
    err = refused(srv)
    assert f"{srv.data_dir}/{entry} is a symbolic link" in err, err
    assert owner_and_mode(target) == before
    # check-config says so before a start does.
    r = srv.cli("check-config", check=False)
    assert r.returncode == 78, r.err
    assert f"error: {srv.data_dir}/{entry} is a symbolic link" in r.err
    assert owner_and_mode(target) == before


@pytest.mark.parametrize("entry,kind", [("maildrop", "dir"),
                                        ("queue", "dir"),
                                        ("tern.db", "file")])
def test_entry_of_another_user_refused(base, svc, local_user, make_server,
                                       entry, kind):
    srv = fresh(make_server, base, svc)
    p = srv.data_dir / entry
    if kind == "dir":
        p.mkdir(mode=0o700)
    else:
        p.write_text("")
    os.chown(p, local_user.pw_uid, local_user.pw_gid)
    err = refused(srv)
    assert f"{p} is owned by uid {local_user.pw_uid}, not by root or " \
           f"{svc.pw_name}" in err, err
    assert owner_and_mode(p)[0] == local_user.pw_uid


def test_entry_wrong_type_or_hard_link_refused(base, svc, make_server):
    srv = fresh(make_server, base, svc)
    (srv.data_dir / "queue").write_text("not a directory\n")
    err = refused(srv)
    assert f"{srv.data_dir}/queue is not a directory" in err, err
    (srv.data_dir / "queue").unlink()
    # A second name for the database: it could be any file of root's.
    other = base / "other"
    other.write_text("root's\n")
    os.link(other, srv.data_dir / "tern.db")
    err = refused(srv)
    assert f"{srv.data_dir}/tern.db has 2 hard links" in err, err
    assert owner_and_mode(other)[0] == 0


# -- log_file --------------------------------------------------------------

def test_log_file_link_refused(base, make_server):
    logs = base / "logs"
    logs.mkdir(mode=0o755)
    target = logs / "target"
    target.write_text("")
    (logs / "tern.log").symlink_to(target)
    srv = make_server(subdir=str(base / "srv"), users=(), start=False,
                      top={"log_file": str(logs / "tern.log")})
    err = refused(srv)
    assert f"log_file: {logs}/tern.log is a symbolic link" in err, err
    assert target.read_text() == ""
    # The same with a link to nothing: nothing is created through it.
    target.unlink()
    err = refused(srv)
    assert "is a symbolic link" in err
    assert not target.exists()


@pytest.mark.parametrize("mode", [0o777, 0o1777, 0o775],
                         ids=["0777", "1777", "0775"])
def test_log_file_in_writable_dir_refused(base, make_server, mode):
    logs = base / "logs"
    logs.mkdir()
    logs.chmod(mode)
    srv = make_server(subdir=str(base / "srv"), users=(), start=False,
                      top={"log_file": str(logs / "tern.log")})
    err = refused(srv)
    assert f"log_file: {logs} is writable by others (mode {mode:04o})" \
        in err, err
    assert not (logs / "tern.log").exists()


def test_log_file_dir_of_another_user_refused(base, local_user,
                                              make_server):
    logs = base / "logs"
    logs.mkdir(mode=0o755)
    os.chown(logs, local_user.pw_uid, local_user.pw_gid)
    srv = make_server(subdir=str(base / "srv"), users=(), start=False,
                      top={"log_file": str(logs / "tern.log")})
    err = refused(srv)
    assert f"log_file: {logs} is owned by uid {local_user.pw_uid}" in err


def test_log_file_regular_in_private_dir(base, make_server):
    logs = base / "logs"
    logs.mkdir(mode=0o755)
    log = logs / "tern.log"
    srv = make_server(subdir=str(base / "srv"), users=(), start=False,
                      top={"log_file": str(log)})
    srv.write_config()
    proc = subprocess.Popen(server_argv(srv), stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, env=child_env())
    try:
        deadline = time.monotonic() + READY_TIMEOUT
        while time.monotonic() < deadline and proc.poll() is None:
            if log.exists() and "event=ready" in log.read_text():
                break
            time.sleep(0.05)
        assert "event=ready" in log.read_text(), proc.stderr.read()
        assert stat.S_ISREG(log.lstat().st_mode)
        assert stat.S_IMODE(log.lstat().st_mode) == 0o640
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)
    assert proc.returncode == 0
    assert "event=stopped" in log.read_text()


# -- a fresh install works --------------------------------------------------

def test_fresh_data_dir_with_user(base, svc, local_user, make_server):
    """`user =` on an empty data_dir: root's `tern user add` before and
    during the run, logins, `tern sendmail` from a local user and `tern
    queue` from root all work, and the service user owns all of it."""
    closed = free_port()
    srv = make_server(
        subdir=str(base / "srv"), users=(), start=False,
        listeners=[("mx", "127.0.0.1", "mx"),
                   ("sub", "127.0.0.1", "submission"),
                   ("tls", "127.0.0.1", "submission", "starttls")],
        top={"user": svc.pw_name, "relay_networks": "127.0.0.0/8"},
        queue={"retry_initial": "1h", "retry_max": "2h"},
        extra=f"\n[routes]\nremote.test = 127.0.0.1:{closed} tls=none\n")
    # Before the first start: the database is made by the user, not root.
    srv.add_user("alice@example.test")
    assert os.lstat(srv.data_dir / "tern.db").st_uid == svc.pw_uid
    srv.data_dir.chmod(0o711)  # local users may use tern sendmail
    srv.start()
    with open(f"/proc/{srv.proc.pid}/status") as f:
        assert f"Uid:\t{svc.pw_uid}\t" in f.read()
    # Root adds a user to the running server; that user can log in.
    srv.add_user("carol@example.test", password="carol's secret")
    with srv.smtp(port=srv.ports["tls"]) as s:
        s.ehlo()
        s.starttls(context=tls_client())
        s.ehlo()
        assert s.login("carol@example.test", "carol's secret")[0] == 235
    # A local user's tern sendmail.
    env = child_env()
    env["TERN_CONFIG"] = str(srv.conf_path)
    r = subprocess.run(
        as_user(local_user) + [TERN_BIN, "sendmail", "-t"],
        input=b"To: alice@example.test\nSubject: from a local user\n\nhi\n",
        capture_output=True, timeout=CLI_TIMEOUT, env=env)
    assert r.returncode == 0, r.stderr
    data = srv.wait_for_mail("alice@example.test")[0]
    assert f"from userid {local_user.pw_uid}".encode() in data
    # Root's tern queue, run as the service user, reaches the server.
    qid = srv.send("alice@example.test", ["x@remote.test"],
                   make_message(to="x@remote.test"), port=srv.ports["sub"])
    wait_log(srv, "event=deferred id=" + qid)
    srv.cli("queue", "hold", qid)
    [item] = srv.queue_json()
    assert item["state"] == "held", (item, srv.log()[-2000:])
    # Everything below data_dir is the service user's: root made nothing.
    for p in [srv.data_dir, *srv.data_dir.rglob("*")]:
        if p.parent.name == "maildrop" or p.parent.name == "maildrop-refused":
            continue  # drops are their writers'
        assert os.lstat(p).st_uid == svc.pw_uid, p
    assert stat.S_IMODE(os.lstat(srv.data_dir / "maildrop").st_mode) == \
        0o1733
    assert stat.S_IMODE(
        os.lstat(srv.data_dir / "tls" / "self-signed.key").st_mode) == 0o600
    # check-config as root reads the database as the user, and is happy.
    r = srv.cli("check-config")
    assert "no user database" not in r.err
