# SPDX-License-Identifier: ISC
"""Issue 15: one configuration path for every command, `tern init`,
`--demo`, `--help`/`help`/`--version` and usage errors (exit 64).

The path is -c FILE, else $TERN_CONFIG, else /etc/tern/tern.conf; a
missing file is exit 78 (EX_CONFIG) with where tern looked and how to
make one, never a silent fall back to the demo.
"""

import os
import re
import stat
import subprocess
import time
from pathlib import Path

import pytest

from conftest import (CLI_TIMEOUT, READY_TIMEOUT, TERN_BIN, child_env,
                      free_port, sanitizer_clean)

DEFAULT_CONF = "/etc/tern/tern.conf"
EX_USAGE, EX_DATAERR, EX_CANTCREAT, EX_CONFIG = 64, 65, 73, 78


def tern(*args, env=None, cwd=None, input=None, argv0=None):
    """Run tern with env (child_env() without TERN_CONFIG by default)."""
    if env is None:
        env = child_env()
        env.pop("TERN_CONFIG", None)
    argv = [argv0 or TERN_BIN] + [str(a) for a in args]
    if isinstance(input, str):
        input = input.encode()
    r = subprocess.run(argv, capture_output=True, timeout=CLI_TIMEOUT,
                       env=env, cwd=cwd,
                       input=input if input is not None else b"")
    r.out = r.stdout.decode("utf-8", "replace")
    r.err = r.stderr.decode("utf-8", "replace")
    mark = sanitizer_clean(r.err)
    assert mark is None, f"sanitizer report in tern {args}:\n{r.err}"
    return r


def env_with(**kw):
    env = child_env()
    env.pop("TERN_CONFIG", None)
    env.update({k: str(v) for k, v in kw.items()})
    return env


def write_conf(dirpath, port=None, domain="example.test"):
    """A minimal valid config whose data_dir is dirpath/data."""
    dirpath = Path(dirpath)
    dirpath.mkdir(parents=True, exist_ok=True)
    conf = dirpath / "tern.conf"
    conf.write_text(
        f"hostname = mx.{domain}\n"
        f"data_dir = {dirpath / 'data'}\n"
        f"domains = {domain}\n"
        f"postmaster = admin@{domain}\n"
        "\n[listener mx]\n"
        f"address = 127.0.0.1:{port or free_port()}\n"
        "mode = mx\ntls = none\n"
        "\n[queue]\nretry_initial = 1s\nretry_max = 2s\n")
    return conf


def need_no_default_conf():
    if os.path.exists(DEFAULT_CONF):
        pytest.skip(f"{DEFAULT_CONF} exists on this machine: the test "
                    "needs the default path to be missing")


def assert_missing_message(r, path, why):
    assert r.returncode == EX_CONFIG, (r.returncode, r.out, r.err)
    assert f"no configuration file at {path} ({why})" in r.err, r.err
    assert "tern init" in r.err and "--demo serve" in r.err, r.err
    assert "-c FILE" in r.err and "TERN_CONFIG" in r.err, r.err


# -- a missing file: where tern looked, how to make one -----------------

CONF_COMMANDS = [["serve"], ["check-config"], ["user", "list"],
                 ["alias", "list"], ["queue", "list"]]


@pytest.mark.parametrize("cmd", CONF_COMMANDS,
                         ids=[" ".join(c) for c in CONF_COMMANDS])
def test_missing_default_config(tmp_path, cmd):
    """No -c, no TERN_CONFIG, no /etc/tern/tern.conf: exit 78 with the
    path and the way out, and no demo data_dir made in the cwd."""
    need_no_default_conf()
    r = tern(*cmd, cwd=tmp_path)
    assert_missing_message(r, DEFAULT_CONF, "the default")
    assert "event=ready" not in r.err
    assert list(tmp_path.iterdir()) == [], "something was created"


def test_missing_config_sendmail(tmp_path):
    need_no_default_conf()
    r = tern("sendmail", "root", cwd=tmp_path, input="Subject: x\n\nhi\n")
    assert r.returncode == EX_CONFIG, r.err
    assert f"sendmail: no configuration file at {DEFAULT_CONF}" in r.err
    missing = tmp_path / "nope.conf"
    r = tern("sendmail", "root", cwd=tmp_path, input="x\n",
             env=env_with(TERN_CONFIG=missing))
    assert r.returncode == EX_CONFIG, r.err
    assert f"at {missing} (from TERN_CONFIG)" in r.err, r.err
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("cmd", CONF_COMMANDS,
                         ids=[" ".join(c) for c in CONF_COMMANDS])
def test_missing_named_config(tmp_path, cmd):
    """The same for a file named by TERN_CONFIG and by -c, each named as
    the source; init is offered for that path."""
    missing = tmp_path / "etc" / "nope.conf"
    r = tern(*cmd, env=env_with(TERN_CONFIG=missing), cwd=tmp_path)
    assert_missing_message(r, missing, "from TERN_CONFIG")
    assert f"tern init {missing}" in r.err, r.err
    r = tern("-c", missing, *cmd, cwd=tmp_path)
    assert_missing_message(r, missing, "named on the command line")


def test_unreadable_config_is_a_config_error(tmp_path):
    """A file that exists but does not load: 78 and FILE:LINE."""
    conf = tmp_path / "bad.conf"
    conf.write_text("hostname = mx.example.test\nbogus_key = 1\n")
    r = tern("-c", conf, "check-config")
    assert r.returncode == EX_CONFIG, r.err
    assert f"{conf}:2" in r.err, r.err


# -- TERN_CONFIG and -c, in every command --------------------------------

def test_tern_config_used_by_every_command(make_server, tmp_path):
    """With only TERN_CONFIG set, user/alias/queue/check-config/sendmail
    all use that file's data_dir; the message dropped by sendmail
    reaches the server that runs on it."""
    srv = make_server()
    env = env_with(TERN_CONFIG=srv.conf_path)
    r = tern("check-config", env=env, cwd=tmp_path)
    assert r.returncode == 0, r.err
    assert str(srv.data_dir) in r.out, r.out
    assert str(srv.conf_path) in r.err, r.err
    r = tern("user", "add", "carol@example.test", "--password-stdin",
             input="a long enough secret\n", env=env, cwd=tmp_path)
    assert r.returncode == 0, r.err
    assert "carol@example.test" in srv.cli("user", "list").out
    r = tern("alias", "add", "info@example.test", "carol@example.test",
             env=env, cwd=tmp_path)
    assert r.returncode == 0, r.err
    assert "info@example.test -> carol@example.test" in \
        srv.cli("alias", "list").out
    r = tern("queue", "list", "--json", env=env, cwd=tmp_path)
    assert r.returncode == 0 and r.out == "", (r.out, r.err)
    r = tern("sendmail", "-f", "alice@example.test", "info",
             input="Subject: via TERN_CONFIG\n\nhello\n", env=env,
             cwd=tmp_path)
    assert r.returncode == 0, r.err
    [msg] = srv.wait_for_mail("carol@example.test", 1)
    assert b"Subject: via TERN_CONFIG" in msg
    assert list(tmp_path.iterdir()) == [p for p in tmp_path.iterdir()
                                        if p.name.startswith("srv")]


def wait_ready(proc, timeout=READY_TIMEOUT):
    """Read proc's stderr until event=ready; the lines read so far."""
    lines = []
    deadline = time.monotonic() + timeout
    os.set_blocking(proc.stderr.fileno(), False)
    buf = b""
    while time.monotonic() < deadline:
        chunk = proc.stderr.read()
        if chunk:
            buf += chunk
            if b"event=ready" in buf:
                return buf.decode("utf-8", "replace")
        elif proc.poll() is not None:
            break
        time.sleep(0.02)
    return None if b"event=ready" not in buf else buf.decode()


def test_serve_uses_tern_config_and_c_wins(tmp_path):
    """`tern serve` with TERN_CONFIG=A serves A; with -c B as well it
    serves B (its data_dir, its port)."""
    a = write_conf(tmp_path / "a")
    b = write_conf(tmp_path / "b")
    for args, want in ((["serve"], a), (["-c", b, "serve"], b)):
        proc = subprocess.Popen([TERN_BIN] + [str(x) for x in args],
                                stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE,
                                env=env_with(TERN_CONFIG=a))
        try:
            log = wait_ready(proc)
            assert log is not None, "no event=ready"
            assert f"data_dir={want.parent / 'data'}" in log, log
        finally:
            proc.terminate()
            proc.wait(30)
        assert proc.returncode == 0
    assert (tmp_path / "a" / "data" / "queue").is_dir()
    assert (tmp_path / "b" / "data" / "queue").is_dir()


def test_c_wins_over_tern_config(tmp_path):
    a = write_conf(tmp_path / "a")
    b = write_conf(tmp_path / "b")
    env = env_with(TERN_CONFIG=a)
    for pos in ("before", "after"):
        user = f"u{pos}@example.test"
        args = (["-c", b, "user", "add", user, "--password-stdin"]
                if pos == "before" else
                ["user", "add", user, "--password-stdin", "-c", b])
        r = tern(*args, env=env, input="a long enough secret\n")
        assert r.returncode == 0, r.err
    assert (tmp_path / "b" / "data" / "tern.db").exists()
    assert not (tmp_path / "a" / "data" / "tern.db").exists()
    r = tern("-c", b, "check-config", env=env)
    assert str(tmp_path / "b" / "data") in r.out
    assert str(tmp_path / "a" / "data") not in r.out


def test_sendmail_c_and_C_win_over_tern_config(make_server, tmp_path):
    """TERN_CONFIG names a file whose data_dir has no maildrop; -c (tern's)
    and -C (sendmail's) name the running server's, and win."""
    srv = make_server()
    other = write_conf(tmp_path / "other")
    env = env_with(TERN_CONFIG=other)
    r = tern("sendmail", "alice", input="Subject: x\n\nx\n", env=env)
    assert r.returncode == 69, (r.returncode, r.err)  # no maildrop there
    assert str(tmp_path / "other" / "data") in r.err, r.err
    r = tern("-c", srv.conf_path, "sendmail", "-f", "bob@example.test",
             "alice", input="Subject: by -c\n\nx\n", env=env)
    assert r.returncode == 0, r.err
    r = tern("sendmail", "-C", srv.conf_path, "-f", "bob@example.test",
             "alice", input="Subject: by -C\n\nx\n", env=env)
    assert r.returncode == 0, r.err
    got = srv.wait_for_mail("alice@example.test", 2)
    assert any(b"Subject: by -c" in m for m in got)
    assert any(b"Subject: by -C" in m for m in got)


# -- --demo ---------------------------------------------------------------

def test_demo_only_on_request(tmp_path):
    r = tern("--demo", "check-config", cwd=tmp_path)
    assert r.returncode == 0, r.err
    for want in ("data_dir = ./var", "domains = localhost",
                 "127.0.0.1:2525", "postmaster = admin@localhost"):
        assert want in r.out, (want, r.out)
    assert "(embedded default)" in r.err, r.err
    # TERN_CONFIG does not override an explicit --demo
    r = tern("check-config", "--demo", cwd=tmp_path,
             env=env_with(TERN_CONFIG=tmp_path / "nope.conf"))
    assert r.returncode == 0 and "127.0.0.1:2525" in r.out, r.err
    r = tern("--demo", "-c", tmp_path / "x.conf", "check-config")
    assert r.returncode == EX_USAGE, r.err
    assert "exclude" in r.err and "usage:" in r.err


# -- tern init ----------------------------------------------------------

def test_init_writes_a_file_that_loads_and_never_overwrites(tmp_path):
    path = tmp_path / "etc" / "tern" / "tern.conf"
    data = tmp_path / "lib"
    r = tern("init", path, "--hostname", "mx.example.org", "--data-dir",
             data)
    assert r.returncode == 0, r.err
    assert f"wrote {path}" in r.out, r.out
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o755
    text = path.read_text()
    assert "hostname = mx.example.org" in text
    assert "domains = example.org" in text
    assert "postmaster = postmaster@example.org" in text
    assert f"data_dir = {data}" in text
    assert text.count("\n#") > 10, "not a commented file"
    r = tern("-c", path, "check-config")
    assert r.returncode == 0, r.out + r.err
    assert "mx.example.org" in r.out
    before = path.read_bytes()
    r = tern("init", path, "--domain", "other.example")
    assert r.returncode == EX_CANTCREAT, r.err
    assert "exists" in r.err and "never overwrites" in r.err, r.err
    assert path.read_bytes() == before


def test_init_options_and_path_sources(tmp_path):
    a = tmp_path / "a.conf"
    r = tern("init", "--domain", "example.net", "--postmaster",
             "hostmaster@example.net", "--hostname", "smtp.example.net",
             env=env_with(TERN_CONFIG=a))
    assert r.returncode == 0, r.err
    text = a.read_text()
    assert "domains = example.net" in text
    assert "postmaster = hostmaster@example.net" in text
    assert "hostname = smtp.example.net" in text
    b = tmp_path / "b.conf"
    r = tern("-c", b, "init", env=env_with(TERN_CONFIG=a))
    assert r.returncode == 0, r.err
    assert b.exists()
    # umask does not change the mode
    c = tmp_path / "c.conf"
    r = subprocess.run(["sh", "-c", 'umask 077; exec "$0" init "$1"',
                        TERN_BIN, str(c)], capture_output=True,
                       env=env_with(), timeout=CLI_TIMEOUT)
    assert r.returncode == 0, r.stderr
    assert stat.S_IMODE(c.stat().st_mode) == 0o644


@pytest.mark.parametrize("args", [
    ["--domain", "not a domain"],
    ["--postmaster", "no-at-sign"],
    ["--hostname", "bad..name"],
    ["--domain", "x.example; injected"],
    ["--data-dir", "line\nbreak"],
], ids=["domain", "postmaster", "hostname", "comment", "newline"])
def test_init_refuses_bad_values(tmp_path, args):
    path = tmp_path / "t.conf"
    r = tern("init", path, *args)
    assert r.returncode == EX_DATAERR, (r.returncode, r.err)
    assert not path.exists()


def test_init_default_path_refused_when_present_or_made(tmp_path):
    """`tern init` without a path targets /etc/tern/tern.conf; only
    check it does not clobber an existing one (never write /etc here)."""
    if not os.path.exists(DEFAULT_CONF):
        pytest.skip(f"{DEFAULT_CONF} does not exist; not creating it in "
                    "a test")
    before = Path(DEFAULT_CONF).read_bytes()
    r = tern("init")
    assert r.returncode == EX_CANTCREAT
    assert Path(DEFAULT_CONF).read_bytes() == before


# -- --help, help COMMAND, --version, usage errors ---------------------

COMMANDS = ["serve", "check-config", "init", "user", "alias", "queue",
            "send", "capture", "sendmail", "version", "help"]


@pytest.mark.parametrize("cmd", COMMANDS)
def test_help_every_command(tmp_path, cmd):
    """`tern CMD --help` and `tern help CMD`: usage on stdout, exit 0,
    nothing on stderr, without any configuration file."""
    r = tern(cmd, "--help", cwd=tmp_path)
    assert r.returncode == 0, (r.out, r.err)
    assert r.out.startswith("usage:"), r.out
    assert cmd.split()[0] in r.out.splitlines()[0], r.out
    assert r.err == ""
    r2 = tern("help", cmd, cwd=tmp_path)
    assert r2.returncode == 0 and r2.out == r.out and r2.err == ""
    assert list(tmp_path.iterdir()) == []


SUBCOMMANDS = [["user", "add"], ["user", "del"], ["user", "list"],
               ["user", "passwd"], ["alias", "add"], ["alias", "del"],
               ["alias", "list"], ["queue", "list"], ["queue", "show"],
               ["queue", "flush"], ["queue", "retry"], ["queue", "hold"],
               ["queue", "release"], ["queue", "delete"]]


@pytest.mark.parametrize("cmd", SUBCOMMANDS,
                         ids=[" ".join(c) for c in SUBCOMMANDS])
def test_help_every_subcommand(tmp_path, cmd):
    r = tern(*cmd, "--help", cwd=tmp_path)
    assert r.returncode == 0, (r.out, r.err)
    assert r.out.startswith(f"usage: tern {cmd[0]} "), r.out
    assert cmd[1] in r.out, r.out
    assert r.err == ""


def test_help_top_level_and_version(tmp_path):
    for args in (["--help"], ["-h"], ["help"]):
        r = tern(*args, cwd=tmp_path)
        assert r.returncode == 0 and r.err == ""
        assert r.out.startswith("usage: tern ")
        for cmd in COMMANDS:
            assert f"  {cmd}" in r.out, (cmd, r.out)
    for args in (["--version"], ["version"]):
        r = tern(*args, cwd=tmp_path)
        assert r.returncode == 0, r.err
        assert re.fullmatch(r"tern \d+\.\d+\.\d+\n", r.out), r.out


def test_sendmail_link_help(tmp_path):
    link = tmp_path / "sendmail"
    link.symlink_to(TERN_BIN)
    r = tern("--help", argv0=str(link))
    assert r.returncode == 0 and r.err == "", r.err
    assert r.out.startswith("usage: sendmail "), r.out
    r = tern("--bogus", argv0=str(link), input="x\n")
    assert r.returncode == EX_USAGE
    assert "usage: sendmail" in r.err and r.out == ""


# Each must exit 64 with the usage on stderr and nothing on stdout. A
# valid config is given (-c CONF), so that commands that load it first
# reach their argument checks.
USAGE_ERRORS = [
    [], ["bogus"], ["serve", "extra"], ["check-config", "extra"],
    ["user"], ["user", "frob"], ["user", "add"], ["user", "list", "x"],
    ["alias"], ["alias", "frob"], ["alias", "add", "x@example.test"],
    ["queue"], ["queue", "frob"], ["queue", "show"],
    ["send"], ["send", "--bogus"], ["sendmail", "--bogus"],
    ["init", "--bogus"], ["init", "a", "b"], ["init", "--domain"],
    ["help", "bogus"], ["version", "x"], ["check-config", "-c"],
]


@pytest.mark.parametrize("args", USAGE_ERRORS,
                         ids=[" ".join(a) or "none" for a in USAGE_ERRORS])
def test_usage_errors_exit_64(tmp_path, args):
    conf = write_conf(tmp_path)
    full = (["-c", conf] + args) if args[-1:] != ["-c"] else args
    r = tern(*full, cwd=tmp_path, input="")
    assert r.returncode == EX_USAGE, (r.returncode, r.out, r.err)
    assert "usage:" in r.err, r.err
    assert r.out == "", r.out
