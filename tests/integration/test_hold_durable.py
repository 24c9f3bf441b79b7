# SPDX-License-Identifier: ISC
"""A message held by a user's hourly limit stays held across a crash
(issue 7). The hold is in the message's envelope, synced with the
message before the 250, so it does not depend on anything written after
the reply. The test kills the server right after the 250 and removes
what a power cut could lose (the unsynced notes file) before restarting.
"""

from conftest import wait_log
from test_ratelimit import login, submit

RCPT = "bob@example.test"


def test_hold_survives_crash(submission_server):
    srv = submission_server(limits={"user_messages_per_hour": "1"})
    with login(srv) as s:
        code, text, _ = submit(s, "alice@example.test",
                               ["admin@example.test"], "within the limit")
        assert code == 250, text
        code, text, held = submit(s, "alice@example.test", [RCPT],
                                  "over the limit")
        assert code == 250 and held, text
        srv.kill9()  # right after the 250
    notes = srv.data_dir / "queue" / "notes" / held
    if notes.exists():  # not synced: a power cut may lose it
        notes.unlink()
    srv.start()
    # The scheduler has looked at it, and left it alone.
    wait_log(srv, f"event=held id={held}")
    items = {i["id"]: i for i in srv.queue_json()}
    assert items[held]["state"] == "held", items
    assert srv.mail_files(RCPT) == []
    # Released by hand, it goes; and a release outlives a restart.
    srv.cli("queue", "release", held)
    srv.wait_for_mail(RCPT, 1)
    srv.wait_queue_empty()
    srv.stop()
    srv.start()
    assert held not in srv.cli("queue", "list").out
    assert len(srv.mail_files(RCPT)) == 1
