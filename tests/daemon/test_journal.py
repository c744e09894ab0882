"""daemon_journal: the `journal` method (SPEC 10, docs/PROTOCOL.md), raw on
the wire, its records read back by the test's own segment parser
(audittest.py), never by the code under test:

- each uploaded answer is one offline_check record holding exactly what
  the terminal sent (its time, query, reason, amount, family, extract as
  snapshot, terminal and seq as detail), in the uploading session's name;
- once per (channel, terminal): a repeated or overlapping upload records
  only what is new, and says so (accepted, duplicates); `durable` reaches
  the last seq once synced; another terminal has its own numbering;
- across restarts: with the marks file, with it deleted (the segments are
  scanned), and after a SIGKILL (the unclosed segment is read back),
  nothing is recorded twice;
- malformed uploads are bad_request naming the item and what is wrong,
  record nothing, and leave the connection open; over --max-batch is
  too_large; without --audit-dir it is unavailable;
- with an auth file the method must be granted.
"""
import hashlib
import os
import time

import audittest as at
import eligtest as et

BAD_REQUEST, TOO_LARGE, UNAUTHORIZED, UNAVAILABLE = 1, 3, 4, 5
T0 = 1764760000000000  # 2025-12-03T11:06:40Z, in microseconds


def answer(seq, kind="nik", ident="3171011501900001", program="PKH", period="2026-11", reason="eligible",
           kk="3171010101010001", amount=110000, extract="kec-1"):
    return [seq, T0 + seq * 1000003, kind, ident, program, period, reason, kk, amount, extract]


def offline_records(adir):
    _, recs = at.read_dir(adir)
    return [r for r in recs if r["method"] == "offline_check"]


def wait_durable(c, terminal, want):
    deadline = time.monotonic() + 10
    while True:
        res = c.ok("journal", [terminal, []])
        assert res["accepted"] == 0 and res["duplicates"] == 0, res
        if res["durable"] == want:
            return
        assert res["durable"] < want, res
        assert time.monotonic() < deadline, "durable stuck at %d, want %d" % (res["durable"], want)
        time.sleep(0.02)


def start(ctx, adir, *extra, name="j"):
    return ctx.daemon("--audit-dir", adir, "--audit-sync-ms", "20", *extra, name=name).start()


def t_records_once_and_exact(ctx):
    adir = os.path.join(ctx.dir, "audit-once")
    d = start(ctx, adir)
    a = [answer(1), answer(2, kind="kk", ident="3171010101010002", reason="household_suspended",
                            kk="3171010101010002", amount=0),
         answer(3, kind="kks", ident="6013010000000001", program="BPNT", period="2030-05", amount=200000),
         answer(4, ident="3171010101019999", reason="not_found", kk=None, amount=0)]
    with et.Conn(d.port) as c:
        res = c.ok("journal", ["term-A", a[:3]])
        assert (res["accepted"], res["duplicates"]) == (3, 0) and res["durable"] <= 3, res
        wait_durable(c, "term-A", 3)
        res = c.ok("journal", ["term-A", a[1:]])  # 2 and 3 again, 4 new
        assert (res["accepted"], res["duplicates"]) == (1, 2), res
        res = c.ok("journal", ["term-A", a])
        assert (res["accepted"], res["duplicates"]) == (0, 4), res
        res = c.ok("journal", ["term-B", [answer(1, extract="kec-2")]])  # its own numbering
        assert (res["accepted"], res["duplicates"]) == (1, 0), res
        wait_durable(c, "term-A", 4)
        wait_durable(c, "term-B", 1)
        assert c.ok("ping", []) == "pong"
    d.stop()
    recs = offline_records(adir)
    assert len(recs) == 5, recs
    want = [(x, "term-A") for x in a] + [(answer(1, extract="kec-2"), "term-B")]
    for r, (x, term) in zip(sorted(recs, key=lambda r: (r["detail"].split()[0], r["time_us"])), want):
        got = (r["time_us"], r["kind"], r["id"], r["program"], r["period"], r["result"], r["kk"], r["amount"],
               r["snapshot"], r["detail"], r["channel"], r["outcome"])
        assert got == (x[1], x[2], x[3], x[4], x[5], x[6], x[7], x[8], x[9], "terminal=%s seq=%d" % (term, x[0]),
                       "-", 0), (got, x)
        assert r["peer"].startswith("127.0.0.1:"), r
    # restarted: the marks file remembers; deleted: the segments do
    for drop_marks in (False, True):
        if drop_marks:
            os.unlink(os.path.join(adir, ".journal-marks"))
        d = start(ctx, adir, name="j2")
        with et.Conn(d.port) as c:
            res = c.ok("journal", ["term-A", a])
            assert (res["accepted"], res["duplicates"], res["durable"]) == (0, 4, 4), (drop_marks, res)
            res = c.ok("journal", ["term-B", [answer(1, extract="kec-2"), answer(2, extract="kec-2")]])
            # seq 2 is new the first time only
            assert (res["accepted"], res["duplicates"]) == ((0, 2) if drop_marks else (1, 1)), (drop_marks, res)
            wait_durable(c, "term-B", 2)
        d.stop()
    # eligd SIGKILLed once an upload is durable: its segment was never
    # closed, so no marks file covers it; the restart reads it back
    d = start(ctx, adir, name="j3")
    with et.Conn(d.port) as c:
        res = c.ok("journal", ["term-C", [answer(1), answer(2)]])
        assert res["accepted"] == 2, res
        wait_durable(c, "term-C", 2)
    d.kill()
    d = start(ctx, adir, name="j4")
    with et.Conn(d.port) as c:
        res = c.ok("journal", ["term-C", [answer(1), answer(2), answer(3)]])
        assert (res["accepted"], res["duplicates"]) == (1, 2), res
        wait_durable(c, "term-C", 3)
    d.stop()
    recs = offline_records(adir)
    assert sorted(r["detail"] for r in recs) == ["terminal=term-A seq=%d" % i for i in (1, 2, 3, 4)] + \
        ["terminal=term-B seq=1", "terminal=term-B seq=2"] + ["terminal=term-C seq=%d" % i for i in (1, 2, 3)], \
        [r["detail"] for r in recs]


def t_bad_uploads(ctx):
    adir = os.path.join(ctx.dir, "audit-bad")
    d = start(ctx, adir, "--max-batch", "5")
    cases = [
        (["term"], "params must be"),
        (["bad terminal!", [answer(1)]], "terminal"),
        (["t" * 65, [answer(1)]], "terminal"),
        (["term", [answer(0)]], "item 0: seq"),
        (["term", [answer(2), answer(1)]], "item 1: seq must increase"),
        (["term", [answer(1), answer(2, kk=None)]], "item 1: kk must be nil exactly when"),
        (["term", [answer(1, reason="not_found")]], "item 0: kk must be nil exactly when"),
        (["term", [answer(1, reason="not_enrolled", amount=5)]], "item 0: amount"),
        (["term", [answer(1, kind="nikk")]], "item 0: bad kind"),
        (["term", [answer(1, ident="123")]], "item 0: bad id"),
        (["term", [answer(1, period="2026-13")]], "item 0: bad period"),
        (["term", [answer(1, reason="maybe")]], "item 0: bad reason"),
        (["term", [answer(1, extract="a b")]], "item 0: extract"),
        (["term", [answer(1)[:9]]], "item 0: must be [seq"),
    ]
    with et.Conn(d.port) as c:
        for params, words in cases:
            msg = c.error("journal", params, BAD_REQUEST)
            assert words in msg, (params, msg)
        msg = c.error("journal", ["term", [answer(i) for i in range(1, 7)]], TOO_LARGE)
        assert "6" in msg and "5" in msg, msg
        # nothing of those was recorded: seq 1 is new
        res = c.ok("journal", ["term", [answer(1)]])
        assert (res["accepted"], res["duplicates"]) == (1, 0), res
        wait_durable(c, "term", 1)
    d.stop()
    assert len(offline_records(adir)) == 1
    d = ctx.daemon(name="noaudit").start()
    with et.Conn(d.port) as c:
        msg = c.error("journal", ["term", [answer(1)]], UNAVAILABLE)
        assert "--audit-dir" in msg, msg
        assert c.ok("ping", []) == "pong"
    d.stop()


def t_granted_only(ctx):
    tok_check, tok_term = os.urandom(32).hex(), os.urandom(32).hex()
    auth = os.path.join(ctx.dir, "channels.conf")
    with open(auth, "w") as f:
        f.write("""[channel checker]
token_sha256 = %s
methods      = check
programs     = *
regions      = *

[channel terminal-net]
token_sha256 = %s
methods      = check, journal
programs     = *
regions      = *
""" % (hashlib.sha256(tok_check.encode()).hexdigest(), hashlib.sha256(tok_term.encode()).hexdigest()))
    adir = os.path.join(ctx.dir, "audit-auth")
    d = start(ctx, adir, "--auth-file", auth, name="jauth")
    with et.Conn(d.port) as c:
        c.error("journal", ["term", [answer(1)]], UNAUTHORIZED)  # before auth
        assert c.ok("auth", ["checker", tok_check]) is True
        msg = c.error("journal", ["term", [answer(1)]], UNAUTHORIZED)
        assert "journal" in msg, msg
    with et.Conn(d.port) as c:
        assert c.ok("auth", ["terminal-net", tok_term]) is True
        res = c.ok("journal", ["term", [answer(1)]])
        assert res["accepted"] == 1, res
        wait_durable(c, "term", 1)
    d.stop()
    recs = offline_records(adir)
    assert [(r["channel"], r["detail"]) for r in recs] == [("terminal-net", "terminal=term seq=1")], recs


def setup():
    return et.Ctx(snap_id="journal-snap")


if __name__ == "__main__":
    et.main([t_records_once_and_exact, t_bad_uploads, t_granted_only], setup=setup, budget=150)
