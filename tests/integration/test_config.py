# SPDX-License-Identifier: ISC
"""The config file contract: bad input refused with FILE:LINE, the
effective config printed by check-config, -c anywhere, bind failures."""

import re
import socket
import subprocess
import threading

import pytest

from conftest import (TERN_BIN, child_env, expect, free_port,
                      sanitizer_clean)


def run(args, timeout=30):
    try:
        r = subprocess.run([TERN_BIN] + args, capture_output=True,
                           timeout=timeout, env=child_env(),
                           stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        pytest.fail(f"`tern {' '.join(args)}` still running after "
                    f"{timeout}s (config accepted?)")
    r.out = r.stdout.decode("utf-8", "replace")
    r.err = r.stderr.decode("utf-8", "replace")
    mark = sanitizer_clean(r.err)
    assert mark is None, r.err
    return r


def base_sections(tmp_path, port):
    return {
        "": ["hostname = mx.example.test",
             f"data_dir = {tmp_path / 'data'}",
             "domains = example.test, example.org"],
        "[listener mx]": [f"address = 127.0.0.1:{port}", "mode = mx",
                          "tls = none"],
        "[limits]": ["max_message_size = 35M", "max_recipients = 100"],
        "[queue]": ["retry_initial = 1s"],
    }


def render(sections, add_to=None, add_lines=()):
    """Config text; returns (text, 1-based numbers of the added lines)."""
    out, added = [], []
    for sect, lines in sections.items():
        if sect:
            out.append("")
            out.append(sect)
        if sect == add_to:
            # an added key replaces the base line of the same name
            # (a repeated key is itself an error)
            keys = {ln.split("=")[0].strip() for ln in add_lines
                    if "=" in ln}
            lines = [ln for ln in lines
                     if ln.split("=")[0].strip() not in keys]
        out.extend(lines)
        if sect == add_to:
            for ln in add_lines:
                out.append(ln)
                added.append(len(out))
    if add_to not in sections and add_lines:
        out.append("")
        for ln in add_lines:
            out.append(ln)
            added.append(len(out))
    return "\n".join(out) + "\n", added


BAD = [
    ("unknown-top-key", "", ["frobnicate = 1"]),
    ("no-equals", "", ["hostname"]),
    ("empty-domains", "", ["domains ="]),
    ("unknown-listener-key", "[listener mx]", ["colour = blue"]),
    ("bad-mode", "[listener mx]", ["mode = relay"]),
    ("bad-tls", "[listener mx]", ["tls = maybe"]),
    ("port-too-big", "[listener mx]", ["address = 127.0.0.1:99999"]),
    ("bad-address", "[listener mx]", ["address = not an address"]),
    ("unknown-limit", "[limits]", ["max_frobs = 3"]),
    ("bad-size-suffix", "[limits]", ["max_message_size = 35X"]),
    ("negative-size", "[limits]", ["max_message_size = -1"]),
    ("zero-recipients", "[limits]", ["max_recipients = 0"]),
    ("alpha-recipients", "[limits]", ["max_recipients = many"]),
    ("overflow", "[limits]", ["max_recipients = 99999999999999999999999"]),
    ("bad-duration", "[limits]", ["timeout_command = 5 parsecs"]),
    ("bad-retry", "[queue]", ["retry_initial = soon"]),
    ("unknown-queue-key", "[queue]", ["retry_forever = yes"]),
    ("duplicate-key", "[limits]", ["max_errors = 5", "max_errors = 6"]),
    ("unknown-section", "[bogus]", ["[bogus]", "key = 1"]),
]

GOOD = [
    ("size-k", "[limits]", ["max_message_size = 10k"]),
    ("size-G", "[limits]", ["max_message_size = 1G"]),
    ("duration-m", "[limits]", ["timeout_command = 5m"]),
    ("duration-h", "[queue]", ["retry_max = 1h"]),
    ("duration-d", "[queue]", ["retry_max = 1d"]),
    ("errors", "[limits]", ["max_errors = 5",
                            "max_connections_per_ip = 10"]),
    ("comment", "", ["; a comment", "# another"]),
]


@pytest.mark.parametrize("verb", ["check-config", "serve"])
@pytest.mark.parametrize("name,sect,lines", BAD, ids=[b[0] for b in BAD])
def test_bad_config_refused_with_file_line(tmp_path, verb, name, sect,
                                           lines):
    secs = base_sections(tmp_path, free_port())
    if name == "unknown-section":
        sect = None
    text, added = render(secs, sect, lines)
    conf = tmp_path / "bad.conf"
    conf.write_text(text)
    r = run([verb, "-c", str(conf)], timeout=10)
    assert r.returncode != 0, f"accepted:\n{text}\n{r.out}{r.err}"
    msg = r.out + r.err
    # FILE:LINE of the offending line (for a section: header or key)
    assert any(re.search(re.escape(f"{conf}:{n}") + r"(?!\d)", msg)
               for n in added), f"no {conf}:{added} in: {msg!r}"


@pytest.mark.parametrize("name,sect,lines", GOOD, ids=[g[0] for g in GOOD])
def test_good_config_accepted(tmp_path, name, sect, lines):
    text, _ = render(base_sections(tmp_path, free_port()), sect, lines)
    conf = tmp_path / "good.conf"
    conf.write_text(text)
    r = run(["check-config", "-c", str(conf)])
    assert r.returncode == 0, f"{text}\n{r.out}{r.err}"


def test_missing_config_file(tmp_path):
    missing = tmp_path / "nope.conf"
    for args in (["check-config", "-c", str(missing)],
                 ["serve", "-c", str(missing)]):
        r = run(args)
        assert r.returncode != 0
        assert str(missing) in r.out + r.err, r.out + r.err


def test_check_config_prints_effective_config(tmp_path):
    port = free_port()
    text, _ = render(base_sections(tmp_path, port))
    conf = tmp_path / "tern.conf"
    conf.write_text(text)
    r = run(["-c", str(conf), "check-config", "--all"])
    assert r.returncode == 0, r.err
    out = r.out
    for want in ("mx.example.test", str(tmp_path / "data"), "example.test",
                 "example.org", f"127.0.0.1:{port}", "[listener mx]",
                 "[limits]", "max_recipients", "[queue]"):
        assert want in out, f"{want!r} missing from:\n{out}"
    # effective = defaults included, for keys the file did not set
    for key in ("max_errors", "max_connections", "timeout_command",
                "retry_max"):
        assert key in out, f"default {key} not shown:\n{out}"
    # the same with -c after the subcommand
    r2 = run(["check-config", "--all", "-c", str(conf)])
    assert r2.returncode == 0 and r2.out == out
    # what it prints is itself a valid config with the same meaning
    again = tmp_path / "again.conf"
    again.write_text(out)
    r3 = run(["check-config", "--all", "-c", str(again)])
    assert r3.returncode == 0, r3.out + r3.err
    assert r3.out.replace(str(again), str(conf)) == out


def test_check_config_warns_missing_postmaster(tmp_path):
    secs = base_sections(tmp_path, free_port())
    secs[""].append("postmaster = nobody@example.test")
    text, _ = render(secs)
    conf = tmp_path / "tern.conf"
    conf.write_text(text)
    r = run(["check-config", "-c", str(conf)])
    assert r.returncode == 0, r.err
    msg = r.out + r.err
    assert "warn" in msg.lower() and "nobody@example.test" in msg, msg


def test_port_in_use(tmp_path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        text, _ = render(base_sections(tmp_path, port))
        conf = tmp_path / "tern.conf"
        conf.write_text(text)
        r = run(["serve", "-c", str(conf)])
        assert r.returncode != 0
        msg = r.out + r.err
        assert str(port) in msg, msg
        assert "event=ready" not in msg, msg


def test_serve_with_c_before_subcommand(make_server):
    srv = make_server(start=False)
    # Server.start() uses `serve -c F`; here `-c F serve` must work too.
    proc = subprocess.Popen([TERN_BIN, "-c", str(srv.conf_path), "serve"],
                            stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, env=child_env())
    srv.proc = proc
    srv._reader = threading.Thread(target=srv._drain, args=(proc,),
                                   daemon=True)
    srv._reader.start()
    assert srv._ready.wait(30), srv.log()
    with srv.raw() as r:
        expect(r.cmd("NOOP"), 250, "2.0.0")
    # stop() at teardown checks exit 0 and a clean stderr


def test_check_config_demo_shows_demo_defaults(tmp_path):
    """--demo: the embedded demo config (data_dir ./var, domain
    localhost, mx listener on 127.0.0.1:2525); nothing is bound. Without
    --demo there is no fall back to it (test_cli_config.py)."""
    r = subprocess.run([TERN_BIN, "--demo", "check-config"],
                       capture_output=True,
                       timeout=30, env=child_env(), cwd=tmp_path,
                       stdin=subprocess.DEVNULL)
    out = r.stdout.decode()
    assert r.returncode == 0, r.stderr.decode()
    assert "127.0.0.1:2525" in out and "localhost" in out, out
    assert "var" in out, out
