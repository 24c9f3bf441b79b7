# SPDX-License-Identifier: ISC
"""MTA-STS for outbound delivery (issue 19, RFC 8461), on loopback.

One world per test worker (module scope, for the 45 s budget): a test
DNS (dnstest.py), a loopback address 127.0.0.N of its own (ststest.py)
where a receiving tern listens on port 25 (STARTTLS, a certificate from
a test CA for mx.good.sts.test only) and an HTTPS server on port 443
serves the policies (mta-sts.DOMAIN, same CA), and a sending tern that
trusts the CA through [outbound_tls] ca_file and asks the test DNS.
Each test uses recipient domains of its own, so the tests share
nothing but the servers.

Names: mx.good.sts.test is the name on the receiving certificate;
mx.bad.sts.test reaches the same server, so its certificate is for the
wrong name; mx.rogue.sts.test is a second address where nothing but a
connection counter listens.
"""

import json
import time

import pytest

from conftest import Server, log_records, make_message
from dnstest import DnsServer, Zone
from ststest import (PolicyServer, PortCounter, TestCA, cache_file,
                     claim_addr, policy_text)

# One worker runs them all (make test: --dist loadgroup): the world
# (two terns, DNS, HTTPS) is made once, not once per worker.
pytestmark = pytest.mark.xdist_group("mta_sts")

GOOD, BAD, ROGUE = "mx.good.sts.test", "mx.bad.sts.test", "mx.rogue.sts.test"
DOMAINS = ["enf", "bad", "skip", "tst", "big", "max", "redir", "exp",
           "cached", "chg", "keep", "route", "ctype", "rpt", "rptok"]
SENDER = "alice@example.test"
POSTMASTER = "admin@example.test"  # the receiving tern's (conftest)
WAIT = 20.0


def dom(short):
    return f"{short}.sts"


class World:
    pass


def wait_for(pred, what, srv, timeout=WAIT):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return
        time.sleep(0.05)
    pytest.fail(f"{what} not within {timeout}s; sender log:\n"
                f"{srv.log()[-4000:]}")


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    w = World()
    base = tmp_path_factory.mktemp("sts")
    w.claims = [claim_addr(), claim_addr(ports=(25,))]
    w.addr, w.rogue_addr = w.claims[0].addr, w.claims[1].addr
    ca = TestCA(base / "pki")
    w.ca = ca
    mx_cert, mx_key = ca.issue([GOOD], "mx")
    web_cert, web_key = ca.issue(
        [f"mta-sts.{dom(d)}" for d in DOMAINS], "web")
    zone = Zone({})
    zone.add(GOOD, "A", w.addr)
    zone.add(BAD, "A", w.addr)
    zone.add(ROGUE, "A", w.rogue_addr)
    for d in DOMAINS:
        zone.add(f"mta-sts.{dom(d)}", "A", w.addr)
    w.zone = zone
    w.dns = DnsServer(zone)
    w.web = PolicyServer(w.addr, web_cert, web_key)
    w.rogue = PortCounter(w.rogue_addr)
    # The receiving tern: mail to postmaster@ any of its domains goes to
    # the postmaster's mailbox (docs/configuration.md, "Local
    # addresses"), no user needed: no CLI run per domain.
    (base / "rx").mkdir()
    rx = Server(base / "rx", listeners=[("mx", w.addr, "mx", "starttls")],
                domains=("example.test",) + tuple(dom(d) for d in DOMAINS),
                top={"hostname": GOOD},
                extra=f"\n[tls]\ncert = {mx_cert}\nkey = {mx_key}\n")
    rx.ports = {"mx": 25}
    rx.start()
    w.rx = rx
    w.base = base
    tx = make_tx(w, base / "tx")
    tx.start()
    w.tx = tx
    yield w
    errors = []
    for s in (tx, rx):
        try:
            s.stop()
        except BaseException as e:
            errors.append(e)
    w.web.close()
    w.rogue.close()
    w.dns.close()
    for c in w.claims:
        c.release()
    if errors:
        raise errors[0]


def make_tx(w, path):
    """The sending tern: the test DNS, the test CA in ca_file."""
    path.mkdir()
    tx = Server(path,
                listeners=[("sub", "127.0.0.1", "submission")],
                queue={"retry_initial": "1s", "retry_max": "1s",
                       "delivery_threads": "4", "remote_timeout": "5s",
                       "connect_timeout": "2s"},
                top={"relay_networks": "127.0.0.0/8",
                     "dns_server": f"127.0.0.1:{w.dns.port}",
                     "hostname": "tx.sts.test"},
                extra=("\n[outbound_tls]\ndane = off\ntrust_anchor = none\n"
                       f"ca_file = {w.ca.path}\n"
                       f"\n[routes]\n{dom('route')} = {GOOD}:25 "
                       "tls=require\n"))
    tx.write_config()
    return tx


def publish(w, short, mode, mxs, id_="1", mx_records=((10, GOOD),),
            max_age=86400):
    d = dom(short)
    for pref, host in mx_records:
        w.zone.add(d, "MX", (pref, host))
    w.zone.add(f"_mta-sts.{d}", "TXT", f"v=STSv1; id={id_};")
    if mode is not None:
        w.web.policy(d, policy_text(mode, mxs, max_age))


def send(w, short, subject):
    rcpt = f"postmaster@{dom(short)}"
    return w.tx.send(SENDER, [rcpt],
                     make_message(subject=subject, to=rcpt),
                     port=w.tx.ports["sub"])


def received(w, subject):
    needle = f"Subject: {subject}".encode()
    return any(needle in m for m in w.rx.mail(POSTMASTER))


def wait_delivered(w, qid, subject):
    wait_for(lambda: f"event=delivered id={qid}" in w.tx.log(),
             f"delivery of {qid}", w.tx)
    wait_for(lambda: received(w, subject), f"{subject} in the mailbox",
             w.tx)


def wait_deferred(w, qid):
    wait_for(lambda: f"event=deferred id={qid}" in w.tx.log(),
             f"deferral of {qid}", w.tx)


def log_lines(w, *needles):
    return [ln for ln in w.tx.log().splitlines()
            if all(n in ln for n in needles)]


def test_enforce_matching_certificate_delivers(world):
    w = world
    publish(w, "enf", "enforce", [GOOD])
    qid = send(w, "enf", "sts enforce good")
    wait_delivered(w, qid, "sts enforce good")
    assert w.web.hits(dom("enf")) == 1
    # Delivered under the policy: TLS, the certificate PKIX-verified.
    lines = log_lines(w, "event=remote_session", f"id={qid}")
    assert lines and "tls_policy=sts " in lines[0] and \
        "tls_auth=PKIX" in lines[0], lines
    assert log_lines(w, "event=mta_sts_fetch ", "domain=enf.sts",
                     "mode=enforce")
    # The policy was kept on disk for the next message.
    cached = (w.tx.data_dir / "mta-sts" / dom("enf")).read_text()
    assert cached.startswith("tern-mta-sts 1\nid: 1\n")


def test_enforce_wrong_name_defers(world):
    w = world
    publish(w, "bad", "enforce", [BAD], mx_records=((10, BAD),))
    qid = send(w, "bad", "sts enforce bad name")
    wait_deferred(w, qid)
    line = log_lines(w, "event=deferred", f"id={qid}")[0]
    assert "certificate" in line, line
    assert not received(w, "sts enforce bad name")
    assert [i for i in w.tx.queue_json() if i.get("id") == qid]


def test_mx_not_in_policy_is_skipped(world):
    w = world
    # The rogue host is preferred, but the policy does not list it.
    publish(w, "skip", "enforce", [GOOD],
            mx_records=((10, ROGUE), (20, GOOD)))
    before = w.rogue.count
    qid = send(w, "skip", "sts skip rogue")
    wait_delivered(w, qid, "sts skip rogue")
    assert w.rogue.count == before, "an MX outside the policy was contacted"
    assert log_lines(w, "event=tls_policy", f"host={ROGUE}", "policy=skip",
                     "does not list"), w.tx.log()[-3000:]


def test_testing_mode_delivers_and_reports(world):
    w = world
    publish(w, "tst", "testing", [BAD], mx_records=((10, BAD),))
    qid = send(w, "tst", "sts testing bad name")
    wait_delivered(w, qid, "sts testing bad name")
    lines = log_lines(w, "event=mta_sts_report", "domain=tst.sts")
    assert lines, w.tx.log()[-3000:]
    assert "result=certificate-host-mismatch" in lines[0]
    # Delivered as without a policy: encrypted, not authenticated.
    lines = log_lines(w, "event=remote_session", f"id={qid}")
    assert lines and "tls=yes" in lines[0] and \
        "tls_policy=sts-testing" in lines[0], lines
    # Every line so far keeps the log grammar (escaped reasons).
    assert log_records(w.tx)


def padded(text, size):
    """text and an unknown field (ignored, RFC 8461 3.2): size bytes."""
    pad = size - len(text) - len("x-pad: \r\n")
    out = text + "x-pad: " + "a" * pad + "\r\n"
    assert len(out) == size
    return out


def test_policy_size_limit(world):
    w = world
    # 65536 bytes: the limit, taken; one byte more: a fetch error, so no
    # policy (its mx would have refused the MX).
    publish(w, "max", None, [])
    w.web.policy(dom("max"), padded(policy_text("enforce", [GOOD]), 65536))
    qid = send(w, "max", "sts max size")
    wait_delivered(w, qid, "sts max size")
    assert log_lines(w, "event=mta_sts_fetch ", "domain=max.sts")
    publish(w, "big", None, [])
    w.web.policy(dom("big"),
                 padded(policy_text("enforce", ["nowhere.invalid"]), 65537))
    qid = send(w, "big", "sts over size")
    wait_delivered(w, qid, "sts over size")
    fails = log_lines(w, "event=mta_sts_fetch_failed", "domain=big.sts")
    assert fails and "larger than 65536" in fails[0], w.tx.log()[-3000:]


def test_redirect_is_refused(world):
    w = world
    # Were the redirect followed, this policy would refuse the MX.
    w.web.policy(dom("enf"), policy_text("enforce", ["nowhere.invalid"]))
    publish(w, "redir", None, [])
    w.web.policy(dom("redir"), "", status=301, headers={
        "Location": f"https://mta-sts.{dom('enf')}/.well-known/mta-sts.txt"})
    hits_enf = w.web.hits(dom("enf"))
    qid = send(w, "redir", "sts redirect")
    wait_delivered(w, qid, "sts redirect")
    fails = log_lines(w, "event=mta_sts_fetch_failed",
                      "domain=redir.sts")
    assert fails and "redirect refused" in fails[0], w.tx.log()[-3000:]
    assert w.web.hits(dom("redir")) == 1
    assert w.web.hits(dom("enf")) == hits_enf
    # Only text/plain is a policy (RFC 8461 3.2): text/html is a fetch
    # error, so this policy, which would refuse the MX, does not apply.
    publish(w, "ctype", None, [])
    w.web.policy(dom("ctype"), policy_text("enforce", ["nowhere.invalid"]),
                 ctype="text/html")
    qid = send(w, "ctype", "sts content type")
    wait_delivered(w, qid, "sts content type")
    fails = log_lines(w, "event=mta_sts_fetch_failed", "domain=ctype.sts")
    assert fails and "not text/plain" in fails[0], w.tx.log()[-3000:]


def seed_cache(w, short, id_, fetched, mode, mxs, max_age):
    d = w.tx.data_dir / "mta-sts"
    d.mkdir(mode=0o700, exist_ok=True)
    (d / dom(short)).write_bytes(cache_file(
        dom(short), id_, fetched, policy_text(mode, mxs, max_age)))


def test_cached_policy_used_expired_policy_refetched(world):
    w = world
    now = time.time()
    # Valid, same id: used as it is, nothing fetched.
    seed_cache(w, "cached", "7", now, "enforce", [GOOD], 86400)
    publish(w, "cached", None, [], id_="7")
    qid = send(w, "cached", "sts from cache")
    wait_delivered(w, qid, "sts from cache")
    assert w.web.hits(dom("cached")) == 0
    # Expired (fetched 1000 s ago, max_age 600), same id: fetched again;
    # the old policy would have refused the MX.
    seed_cache(w, "exp", "1", now - 1000, "enforce", ["nowhere.invalid"], 600)
    publish(w, "exp", "enforce", [GOOD], id_="1")
    qid = send(w, "exp", "sts expired cache")
    wait_delivered(w, qid, "sts expired cache")
    assert w.web.hits(dom("exp")) == 1
    text = (w.tx.data_dir / "mta-sts" / dom("exp")).read_text()
    assert f"mx: {GOOD}" in text
    fetched = int(text.split("fetched: ")[1].split("\n")[0])
    assert fetched >= int(now)


def test_changed_id_refetches_and_failure_keeps_valid_cache(world):
    w = world
    now = time.time()
    # A new id: fetched; the cached policy would have refused the MX.
    seed_cache(w, "chg", "old", now, "enforce", ["nowhere.invalid"], 86400)
    publish(w, "chg", "enforce", [GOOD], id_="new")
    qid = send(w, "chg", "sts changed id")
    wait_delivered(w, qid, "sts changed id")
    assert w.web.hits(dom("chg")) == 1
    assert "id: new\n" in (w.tx.data_dir / "mta-sts" / dom("chg")).read_text()
    # A new id whose policy cannot be fetched (404): the cached policy
    # is still valid and still applies (RFC 8461 5.1), here an enforce
    # policy for a host whose certificate is for another name: defer.
    seed_cache(w, "keep", "old", now, "enforce", [BAD], 86400)
    publish(w, "keep", None, [], id_="new", mx_records=((10, BAD),))
    w.web.policy(dom("keep"), "", status=404)
    qid = send(w, "keep", "sts keep cache")
    wait_deferred(w, qid)
    fails = log_lines(w, "event=mta_sts_fetch_failed",
                      "domain=keep.sts")
    assert fails and "cached=kept" in fails[0] and "status 404" in fails[0]
    # The retry does not fetch again (a failed fetch waits 5 minutes for
    # the same id), and the cached policy still applies.
    wait_for(lambda: w.tx.log().count(f"event=deferred id={qid}") >= 2,
             "a second attempt", w.tx)
    assert w.web.hits(dom("keep")) == 1
    assert not received(w, "sts keep cache")


def test_route_tls_require_trusts_ca_file(world):
    w = world
    # A route with tls = require verifies against the system's store and
    # [outbound_tls] ca_file: the test CA is in the latter only.
    qid = send(w, "route", "route tls require")
    wait_delivered(w, qid, "route tls require")
    lines = log_lines(w, "event=remote_session", f"id={qid}")
    assert lines and "tls=yes" in lines[0] and "tls_auth=PKIX" in lines[0]


def test_outcomes_counted_for_tlsrpt(world):
    w = world
    # A sender of its own, stopped to flush its TLS-RPT counts to disk.
    tx = make_tx(w, w.base / "tx-rpt")
    tx.start()
    try:
        publish(w, "rpt", "testing", [BAD], mx_records=((10, BAD),))
        publish(w, "rptok", "enforce", [GOOD])
        for short in ("rpt", "rptok"):
            rcpt = f"postmaster@{dom(short)}"
            qid = tx.send(SENDER, [rcpt], make_message(to=rcpt),
                          port=tx.ports["sub"])
            wait_for(lambda: f"event=delivered id={qid}" in tx.log(),
                     f"delivery of {qid}", tx)
    finally:
        tx.stop()
    pols = {}
    for f in sorted((tx.data_dir / "tlsrpt").glob("*.json")):
        for p in json.loads(f.read_text())["policies"]:
            pols[(p["domain"], p["type"])] = p
    bad = pols[(dom("rpt"), "sts")]
    assert "mode: testing" in bad["strings"] and bad["mx"] == [BAD]
    assert bad["failed"] >= 1 and bad["ok"] == 0
    assert [f["result"] for f in bad["failures"]] == \
        ["certificate-host-mismatch"]
    assert bad["failures"][0]["mx-host"] == BAD
    good = pols[(dom("rptok"), "sts")]
    assert good["ok"] >= 1 and good["failed"] == 0
    assert "mode: enforce" in good["strings"]
