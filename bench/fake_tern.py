#!/usr/bin/python3
# SPDX-License-Identifier: ISC
"""bench/fake_tern.py - a stand-in for build/tern, to test the harness.

NOT a benchmark subject: it exists so that bench/run.py's tern side (user
add, check-config, serve, event=ready, Maildir layout, latency, idle
sessions, fsync counting) can be exercised before the real server runs:

    /usr/bin/python3 bench/run.py --quick --tern-bin bench/fake_tern.py

It speaks just enough SMTP for smtp-source and the harness's own client,
accepts only local users, syncs each message to a spool file before the
250 and syncs the Maildir file before the rename into new/ (so the
durability probe passes). Results are labelled with the binary used.

Trust: loopback test tool; input from the harness only. Stdlib only.
"""

import asyncio
import configparser
import os
import sys
import uuid


def load_conf(path):
    cp = configparser.ConfigParser()
    with open(path) as f:
        cp.read_string("[top]\n" + f.read())
    return cp


def users_file(cp):
    return os.path.join(cp["top"]["data_dir"], "fake-users")


def cmd_user_add(cp, addr):
    sys.stdin.readline()  # the password: unused
    os.makedirs(cp["top"]["data_dir"], exist_ok=True)
    with open(users_file(cp), "a") as f:
        f.write(addr.lower() + "\n")
    return 0


def write_synced(path, data):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)


def store_and_deliver(data_dir, rcpts, data):
    """Spool (synced) and then deliver into each Maildir (synced)."""
    qid = uuid.uuid4().hex
    spool = os.path.join(data_dir, "spool")
    os.makedirs(spool, exist_ok=True)
    write_synced(os.path.join(spool, qid), data)
    for rcpt in rcpts:
        user, domain = rcpt.split("@", 1)
        md = os.path.join(data_dir, "mail", domain, user)
        for sub in ("tmp", "new", "cur"):
            os.makedirs(os.path.join(md, sub), exist_ok=True)
        tmp = os.path.join(md, "tmp", qid)
        write_synced(tmp, data)
        os.rename(tmp, os.path.join(md, "new", qid))
    os.unlink(os.path.join(spool, qid))


async def session(reader, writer, cp, users):
    data_dir = cp["top"]["data_dir"]
    host = cp["top"].get("hostname", "fake")

    def reply(text):
        writer.write(text.encode() + b"\r\n")

    reply("220 %s ESMTP fake-tern" % host)
    rcpts = []
    try:
        while True:
            line = await reader.readline()
            if not line:
                break
            cmd = line.decode(errors="replace").strip()
            verb = cmd[:4].upper()
            if verb in ("EHLO", "HELO"):
                reply("250 %s" % host)
            elif verb == "MAIL":
                rcpts = []
                reply("250 2.1.0 ok")
            elif verb == "RCPT":
                addr = cmd.split(":", 1)[1].strip().strip("<>").lower()
                if addr in users:
                    rcpts.append(addr)
                    reply("250 2.1.5 ok")
                else:
                    reply("550 5.7.1 relay denied")
            elif verb == "DATA":
                if not rcpts:
                    reply("503 5.5.1 no recipients")
                    continue
                reply("354 go on")
                await writer.drain()
                data = await reader.readuntil(b"\r\n.\r\n")
                await asyncio.to_thread(store_and_deliver, data_dir, rcpts,
                                        data)
                rcpts = []
                reply("250 2.0.0 ok")
            elif verb == "RSET" or verb == "NOOP":
                reply("250 2.0.0 ok")
            elif verb == "QUIT":
                reply("221 2.0.0 bye")
                await writer.drain()
                break
            else:
                reply("502 5.5.2 not implemented")
            await writer.drain()
    except (ConnectionError, asyncio.IncompleteReadError,
            asyncio.LimitOverrunError):
        pass
    finally:
        writer.close()


async def serve(cp):
    host, port = cp["listener mx"]["address"].rsplit(":", 1)
    with open(users_file(cp)) as f:
        users = {line.strip() for line in f if line.strip()}
    srv = await asyncio.start_server(
        lambda r, w: session(r, w, cp, users), host, int(port),
        backlog=4096, limit=1 << 20)
    print("event=ready address=%s:%s" % (host, port), file=sys.stderr,
          flush=True)
    async with srv:
        await srv.serve_forever()


def main(argv):
    conf, rest = None, []
    i = 0
    while i < len(argv):
        if argv[i] == "-c" and i + 1 < len(argv):
            conf = argv[i + 1]
            i += 2
        else:
            rest.append(argv[i])
            i += 1
    if conf is None:
        print("fake_tern: -c FILE is required", file=sys.stderr)
        return 2
    cp = load_conf(conf)
    if rest[:2] == ["user", "add"] and len(rest) >= 3:
        return cmd_user_add(cp, rest[2])
    if rest == ["check-config"]:
        with open(conf) as f:
            sys.stdout.write(f.read())
        return 0
    if rest[:2] == ["queue", "list"]:
        return 0  # delivered before the 250: the queue is always empty
    if rest == ["serve"]:
        try:
            asyncio.run(serve(cp))
        except KeyboardInterrupt:
            pass
        return 0
    print("fake_tern: unknown command %r" % rest, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
