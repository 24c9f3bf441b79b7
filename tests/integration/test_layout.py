# SPDX-License-Identifier: ISC
"""On-disk layout choices that matter for speed (issue 6).

<data_dir>/mail and each domain directory below it carry ext4's "top of
unrelated hierarchies" flag (chattr +T), so that mailboxes are spread over
block groups the way /home is; see util/fsutil.h. File systems without the
flag skip the test.
"""
import subprocess

import pytest

from conftest import make_message


def lsattr_flags(path):
    p = subprocess.run(["lsattr", "-d", str(path)], capture_output=True,
                       text=True)
    if p.returncode != 0:
        return None
    return p.stdout.split()[0]


def topdir_supported(tmp_path):
    d = tmp_path / "probe-topdir"
    d.mkdir()
    ok = subprocess.run(["chattr", "+T", str(d)],
                        capture_output=True).returncode == 0
    return ok and "T" in (lsattr_flags(d) or "")


def test_mailbox_parents_spread_over_the_file_system(server, tmp_path):
    if not topdir_supported(tmp_path):
        pytest.skip("this file system has no TOPDIR flag (chattr +T)")
    server.send("carol@remote.example", ["alice@example.test"],
                make_message(subject="layout"))
    server.wait_for_mail("alice@example.test", 1)
    mail = server.data_dir / "mail"
    assert "T" in lsattr_flags(mail)
    assert "T" in lsattr_flags(mail / "example.test")
    # The mailbox itself holds related directories (cur, new, tmp).
    assert "T" not in lsattr_flags(mail / "example.test" / "alice")
