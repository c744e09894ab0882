"""daemon_methods: every method of SPEC section 3 and the shape of its result
(ping, check, check_batch, household, info)."""

import calendar
import re
import subprocess
import time

import eligtest as et
from eligtest import (KK1, KK2, KK3, KK5, KK6, KKS1, KKS2, KKS6, N1, N2, N5, N8,
                      N9, REGION)


def setup():
    return et.Ctx(snap_id="methods-snap-1", daemon_args=())


def t_ping(ctx):
    with ctx.d.conn() as c:
        res = c.ok("ping", [])
        assert type(res) is str and res == "pong", "ping result %r, want str 'pong'" % (res,)


def t_check(ctx):
    with ctx.d.conn() as c:
        for case in (et.CASES[0], et.CASES[11], et.CASES[-1]):
            ans = c.ok("check", et.case_params(case))
            et.check_answer(ans, case, ctx.snap_id)


def t_check_batch(ctx):
    with ctx.d.conn() as c:
        res = c.ok("check_batch", [[]])
        assert res == [], "empty batch: result %r, want []" % (res,)
        cases = et.CASES[:7]
        res = c.ok("check_batch", [[et.case_params(k) for k in cases]])
        assert isinstance(res, list) and len(res) == len(cases), "batch of %d: result %.300r" % (
            len(cases), res)
        for i, (ans, case) in enumerate(zip(res, cases)):
            et.check_answer(ans, case, ctx.snap_id, where="item %d" % i)
        # Order is the order of the items: the same query reversed.
        res = c.ok("check_batch", [[et.case_params(k) for k in reversed(cases)]])
        for i, (ans, case) in enumerate(zip(res, list(reversed(cases)))):
            et.check_answer(ans, case, ctx.snap_id, where="reversed item %d" % i)
        # One item.
        res = c.ok("check_batch", [[et.case_params(et.CASES[11])]])
        assert isinstance(res, list) and len(res) == 1, "batch of 1: %r" % (res,)
        et.check_answer(res[0], et.CASES[11], ctx.snap_id)


def enr(program, start, end, amount, status):
    return {"program": program, "start": start, "end": end, "amount": amount, "status": status}


HOUSEHOLD_KK1 = {
    "kk": KK1, "region": REGION[KK1], "status": "active", "kks": KKS1, "members": 3,
    "enrollments": [
        enr("PKH", "2024-01", "2024-06", et.AMOUNT_A, "active"),
        enr("PKH", "2024-07", "2024-12", 900000, "active"),
        enr("PKH", "2025-03", None, 1000000, "active"),
        enr("BPNT", "2024-01", "2024-12", 200000, "suspended"),
        enr("BPNT", "2025-01", "2025-12", 250000, "active"),
    ],
}
HOUSEHOLD_KK2 = {
    "kk": KK2, "region": REGION[KK2], "status": "suspended", "kks": KKS2, "members": 2,
    "enrollments": [enr("PKH", "2024-01", None, 500000, "active")],
}
HOUSEHOLD_KK3 = {
    "kk": KK3, "region": REGION[KK3], "status": "graduated", "kks": None, "members": 1,
    "enrollments": [enr("PKH", "2024-01", None, 500000, "active")],
}
HOUSEHOLD_KK4 = {
    "kk": et.KK4, "region": REGION[et.KK4], "status": "terminated", "kks": et.KKS4, "members": 1,
    "enrollments": [enr("PKH", "2024-01", None, 500000, "active")],
}
HOUSEHOLD_KK5 = {
    "kk": KK5, "region": REGION[KK5], "status": "active", "kks": None, "members": 1,
    "enrollments": [],
}
HOUSEHOLD_KK6 = {
    "kk": KK6, "region": REGION[KK6], "status": "active", "kks": KKS6, "members": 1,
    "enrollments": [
        enr("ZERO_1", "2024-01", "2024-01", 0, "active"),
        enr("ABCDEFGHIJ_12345", "2000-01", None, 4294967295, "active"),
        enr("PKH", "0001-01", "9999-12", 1, "suspended"),
    ],
}


HOUSEHOLD_KK7 = {
    "kk": et.KK7, "region": REGION[et.KK7], "status": "active", "kks": et.KKS7, "members": 0,
    "enrollments": [enr("PKH", "2024-01", None, 123456, "active")],
}


def check_household(res, want, what):
    assert isinstance(res, dict), "%s: result %r, want a map" % (what, res)
    assert set(res) == et.HOUSEHOLD_KEYS, "%s: keys %r, want exactly %r" % (
        what, sorted(map(repr, res)), sorted(et.HOUSEHOLD_KEYS))
    for k in ("kk", "region", "status"):
        assert type(res[k]) is str, "%s: %s %r not a str" % (what, k, res[k])
    assert res["kks"] is None or type(res["kks"]) is str, "%s: kks %r" % (what, res["kks"])
    assert type(res["members"]) is int, "%s: members %r not an int" % (what, res["members"])
    assert isinstance(res["enrollments"], list), "%s: enrollments %r not an array" % (
        what, res["enrollments"])
    for e in res["enrollments"]:
        assert isinstance(e, dict) and set(e) == et.ENROLLMENT_KEYS, \
            "%s: enrollment %r, want exactly keys %r" % (what, e, sorted(et.ENROLLMENT_KEYS))
        for k in ("program", "start", "status"):
            assert type(e[k]) is str, "%s: enrollment %s %r not a str" % (what, k, e[k])
        assert e["end"] is None or type(e["end"]) is str, "%s: end %r" % (what, e["end"])
        assert type(e["amount"]) is int, "%s: amount %r not an int" % (what, e["amount"])
    for k in ("kk", "region", "status", "kks", "members"):
        assert res[k] == want[k], "%s: %s %r, want %r" % (what, k, res[k], want[k])

    def key(e):
        return (e["program"], e["start"])

    got = sorted(res["enrollments"], key=key)
    exp = sorted(want["enrollments"], key=key)
    assert got == exp, "%s: enrollments\n  got  %r\n  want %r" % (what, got, exp)


def t_household(ctx):
    with ctx.d.conn() as c:
        for kind, ident, want in (
                ("kk", KK1, HOUSEHOLD_KK1), ("kks", KKS1, HOUSEHOLD_KK1),
                ("nik", N1, HOUSEHOLD_KK1), ("nik", N2, HOUSEHOLD_KK1),  # a deceased member's family
                ("kk", KK2, HOUSEHOLD_KK2), ("nik", N5, HOUSEHOLD_KK2), ("kks", KKS2, HOUSEHOLD_KK2),
                ("kk", KK3, HOUSEHOLD_KK3), ("kk", et.KK4, HOUSEHOLD_KK4),
                ("kk", KK5, HOUSEHOLD_KK5), ("nik", N9, HOUSEHOLD_KK5),
                ("kk", KK6, HOUSEHOLD_KK6), ("nik", N8, HOUSEHOLD_KK6), ("kks", KKS6, HOUSEHOLD_KK6),
                ("kk", et.KK7, HOUSEHOLD_KK7), ("kks", et.KKS7, HOUSEHOLD_KK7)):
            res = c.ok("household", [kind, ident])
            check_household(res, want, "household %s %s" % (kind, ident))


def t_household_unknown(ctx):
    with ctx.d.conn() as c:
        for kind, ident in (("kk", "3201010000000099"), ("nik", "3201011501909999"),
                            ("kks", "5000000000000099"), ("kk", N1), ("kks", KK1),
                            ("nik", KK1), ("nik", "0000000000000000"),
                            ("kks", "9999999999999999")):
            err, res = c.call("household", [kind, ident])
            assert err is None, "household %s %s: error %r, want result nil" % (kind, ident, err)
            assert res is None, "household %s %s: result %r, want nil" % (kind, ident, res)


RFC3339_UTC = re.compile(r"(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(\.\d+)?Z")


def check_info_types(info):
    assert isinstance(info, dict), "info result %r, want a map" % (info,)
    assert set(info) == et.INFO_KEYS, "info keys %r, want exactly %r" % (
        sorted(map(repr, info)), sorted(et.INFO_KEYS))
    for k in ("version", "snapshot", "created"):
        assert type(info[k]) is str and info[k], "info.%s %r not a non-empty str" % (k, info[k])
    for k in ("households", "members", "enrollments", "connections", "requests"):
        assert type(info[k]) is int and info[k] >= 0, "info.%s %r not a uint" % (k, info[k])
    up = info["uptime_s"]
    assert type(up) in (int, float) and up >= 0, "info.uptime_s %r not a non-negative number" % (up,)
    assert info["reload_error"] is None or type(info["reload_error"]) is str, \
        "info.reload_error %r, want nil or str" % (info["reload_error"],)
    # SPEC 9
    assert info["health"] in et.HEALTH_STATES, "info.health %r, want one of %r" % (
        info["health"], sorted(et.HEALTH_STATES))
    for k in ("generation", "read_errors"):
        assert type(info[k]) is int and info[k] >= 0, "info.%s %r not a uint" % (k, info[k])
    sha = info["content_sha256"]
    assert sha is None or (type(sha) is str and re.fullmatch(r"[0-9a-f]{64}", sha)), \
        "info.content_sha256 %r, want nil or 64 lower-case hex digits" % (sha,)
    progs = info["programs"]
    assert progs is None or (type(progs) is list and all(type(p) is str for p in progs)), \
        "info.programs %r, want nil or a list of str" % (progs,)


def t_info(ctx):
    with ctx.d.conn() as c:
        info = c.ok("info", [])
        check_info_types(info)
        assert info["snapshot"] == ctx.snap_id, "info.snapshot %r, want --id %r" % (
            info["snapshot"], ctx.snap_id)
        assert info["households"] == et.N_HOUSEHOLDS, "info.households %r, want %d" % (
            info["households"], et.N_HOUSEHOLDS)
        assert info["members"] == et.N_MEMBERS, "info.members %r, want %d" % (
            info["members"], et.N_MEMBERS)
        assert info["enrollments"] == et.N_ENROLLMENTS, "info.enrollments %r, want %d" % (
            info["enrollments"], et.N_ENROLLMENTS)
        assert info["reload_error"] is None, "info.reload_error %r, want nil" % (info["reload_error"],)
        # SPEC 9 on a fresh daemon: healthy, first generation, no read errors.
        assert info["health"] == "ok", "info.health %r, want ok" % (info["health"],)
        assert info["generation"] == 1, "info.generation %r, want 1 before any reload" % (info["generation"],)
        assert info["read_errors"] == 0, "info.read_errors %r, want 0" % (info["read_errors"],)
        # programs is nil until the snapshot can tell (docs/OPERATIONS.md);
        # when it can, it is the fixture's programme names exactly.
        if info["programs"] is not None:
            want = {row[1] for row in et.ENROLLMENTS}
            assert set(info["programs"]) == want and len(info["programs"]) == len(want), \
                "info.programs %r, want %r" % (info["programs"], sorted(want))
        m = RFC3339_UTC.fullmatch(info["created"])
        assert m, "info.created %r is not RFC 3339 UTC (YYYY-MM-DDTHH:MM:SS[.frac]Z)" % info["created"]
        created = calendar.timegm(tuple(int(g) for g in m.groups()[:6]))
        t0, t1 = ctx.built_at
        assert t0 - 2 <= created <= t1 + 2, "info.created %s is not the time the snapshot was built" % (
            info["created"],)
        # version is eligd's own, the one --version prints.
        p = subprocess.run([et.ELIGD, "--version"], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=10)
        assert info["version"] in p.stdout.decode(errors="replace"), \
            "info.version %r not in `eligd --version` output %r" % (info["version"], p.stdout)


def t_info_counters(ctx):
    with ctx.d.conn() as a:
        first = a.ok("info", [])
        assert first["connections"] >= 1, "info.connections %r with this one open" % first["connections"]
        # Only this test talks to the daemon now: exactly one connection,
        # once the closes of the tests before have been seen.
        first = et.wait_until(lambda: (lambda i: i if i["connections"] == 1 else None)(a.ok("info", [])),
                              5, "info.connections == 1 with one connection open")
        for _ in range(5):
            a.ok("ping", [])
        second = a.ok("info", [])
        grew = second["requests"] - first["requests"]
        assert 5 <= grew <= 6, "info.requests grew by %d over 5 pings and an info, want 5 or 6" % grew
        assert second["uptime_s"] >= first["uptime_s"], "uptime_s went back: %r then %r" % (
            first["uptime_s"], second["uptime_s"])
        with ctx.d.conn() as b:
            assert b.ok("ping", []) == "pong"
            n = a.ok("info", [])["connections"]
            assert n == 2, "info.connections %r with two open, want 2" % n
        et.wait_until(lambda: a.ok("info", [])["connections"] == 1, 5,
                      "info.connections back to 1 after a close")


def t_uptime(ctx):
    with ctx.d.conn() as c:
        u1 = c.ok("info", [])["uptime_s"]
        time.sleep(1.2)
        u2 = c.ok("info", [])["uptime_s"]
        assert u2 > u1, "uptime_s %r then %r 1.2 s later, want it to grow" % (u1, u2)


def t_methods_share_connection(ctx):
    # Every method, one after the other on one connection.
    with ctx.d.conn() as c:
        assert c.ok("ping", []) == "pong"
        et.check_answer(c.ok("check", et.case_params(et.CASES[0])), et.CASES[0], ctx.snap_id)
        check_household(c.ok("household", ["kk", KK3]), HOUSEHOLD_KK3, "household kk3")
        check_info_types(c.ok("info", []))
        res = c.ok("check_batch", [[et.case_params(et.CASES[1])]])
        et.check_answer(res[0], et.CASES[1], ctx.snap_id)
        assert c.ok("ping", []) == "pong"


if __name__ == "__main__":
    et.main([t_ping, t_check, t_check_batch, t_household, t_household_unknown, t_info,
             t_info_counters, t_uptime, t_methods_share_connection], setup=setup)
