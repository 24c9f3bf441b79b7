# SPDX-License-Identifier: ISC
"""Issue 3: started as root with `user = NAME`, the server binds, then runs
as that user (uid, gid and supplementary groups), and still reads the
user database that root's `tern user add` wrote and writes mailboxes."""

import os
import pwd

import pytest

from conftest import make_message


def ids(status, key):
    for line in status.splitlines():
        if line.startswith(key + ":"):
            return [int(x) for x in line.split()[1:]]
    raise AssertionError(f"no {key} in /proc status")


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to drop from")
def test_privilege_drop_to_user(make_server):
    nobody = pwd.getpwnam("nobody")
    # The dropped server must be able to reach its data_dir.
    srv = make_server(top={"user": "nobody"}, public=True)
    with open(f"/proc/{srv.proc.pid}/status") as f:
        status = f.read()
    assert ids(status, "Uid") == [nobody.pw_uid] * 4, status
    assert ids(status, "Gid") == [nobody.pw_gid] * 4, status
    assert ids(status, "Groups") in ([nobody.pw_gid], []), status
    assert "event=privileges_dropped user=nobody" in srv.log()
    srv.send("x@remote.example", ["alice@example.test"],
             make_message(subject="as nobody"))
    srv.wait_for_mail("alice@example.test", 1)
    [f] = srv.mail_files("alice@example.test")
    assert os.stat(f).st_uid == nobody.pw_uid
    # root's CLI writes the database the dropped server reads.
    srv.add_user("carol@example.test")
    srv.send("x@remote.example", ["carol@example.test"],
             make_message(subject="new user", to="carol@example.test"))
    srv.wait_for_mail("carol@example.test", 1)
