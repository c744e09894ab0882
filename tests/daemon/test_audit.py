"""daemon_audit: the audit trail (SPEC 7) as eligd writes it and
elig-audit reads it.

Every expectation is computed by the test from what it sent and what eligd
answered (the client side), and the segments are read by the test's own
parser (audittest.py, written from docs/AUDIT.md), never by the code under
test alone:

- one record per answered check, check_batch item and household, under a
  pipelined multi-connection load across SIGUSR1 rotations and SIGHUP
  swaps: nothing lost, nothing doubled, each record naming its connection's
  peer, the snapshot that answered and the answer;
- channel `-` on TCP without an auth file and `unix` on the Unix socket, as
  session.channel says (so the same test holds once `auth` names channels);
- reloads recorded, good and bad; no token or secret in any byte;
- segment files 0600 and the directory 0700 whatever the umask;
- `elig-audit trail` finds a person's lookups whichever kind was used (a
  check by KKS shows up for every member of that family) and nothing else;
  `stats` counts by channel, method and result; --since/--until bound both;
- `elig-audit verify` passes on a live directory and a closed one.
"""

import collections
import json
import os
import signal
import socket
import stat
import subprocess
import threading
import time

import audittest as at
import eligtest as et

ELIG_AUDIT = os.environ.get("ELIG_AUDIT", "")
MEMBER_KK = {m[0]: m[1] for m in et.MEMBERS}
KK_KKS = {h[0]: h[3] for h in et.HOUSEHOLDS if h[3]}
SECRET = "tok3n-must-never-be-recorded-5e884898da28047151d0e56f"


class AuditCtx(et.Ctx):
    def __init__(self):
        super().__init__(snap_id="audit-A", variant="A")
        self.snap_b = et.build_snapshot(self.dir, "audit-B", variant="B")
        self.current = os.path.join(self.dir, "current")
        os.symlink(self.snapshot, self.current)


def setup():
    assert ELIG_AUDIT, "ELIG_AUDIT is not set (run through ctest)"
    return AuditCtx()


def run_audit(*args, check=True):
    p = subprocess.run([ELIG_AUDIT] + [str(a) for a in args], capture_output=True, text=True, timeout=60)
    if check:
        assert p.returncode == 0, "elig-audit %s: exit %d\n%s%s" % (" ".join(map(str, args)), p.returncode,
                                                                    p.stdout, p.stderr)
    return p


def start(ctx, name, *extra, unix=None):
    adir = os.path.join(ctx.dir, name)
    d = et.Daemon(ctx.current, "--audit-dir", adir, "--audit-sync-ms", "100", *extra,
                  workdir=ctx.dir, name=name, unix=unix)
    return d.start(), adir


def stop(d):
    d.stop()


def rec_key(r):
    return (r["peer"], r["method"], r["item"], r["kind"], r["id"], r["program"], r["period"],
            r["result"], r["amount"], r["kk"], r["snapshot"])


def local_peer(conn):
    host, port = conn.sock.getsockname()[:2]
    return "%s:%d" % (host, port)


# ---------------------------------------------------------------------------

def t_records_equal_answers_under_load(ctx):
    """Pipelined load on 4 TCP connections and one Unix one, 6 rotations and
    6 snapshot swaps meanwhile: the records are exactly the answers."""
    sock = os.path.join(ctx.dir, "load.sock")
    d, adir = start(ctx, "load", "--threads", "2", unix=sock)
    expected = collections.Counter()
    errors = []
    lock = threading.Lock()
    stop_at = time.monotonic() + 2.5

    def client(idx, path=None):
        try:
            c = et.Conn(path=path, timeout=20) if path else d.conn(timeout=20)
            peer = "unix" if path else local_peer(c)
            channel = "unix" if path else "-"
            sent = {}
            i = 0
            local = collections.Counter()
            while time.monotonic() < stop_at:
                chunk = []
                for _ in range(32):
                    i += 1
                    case = et.CASES[(i * 7 + idx) % len(et.CASES)]
                    if i % 5 == 0:
                        items = [et.case_params(case), et.case_params(et.CASES[(i + 3) % len(et.CASES)])]
                        sent[i] = ("check_batch", items)
                        chunk.append(et.req(i, "check_batch", [items]))
                    elif i % 7 == 0:
                        sent[i] = ("household", case[:2])
                        chunk.append(et.req(i, "household", list(case[:2])))
                    else:
                        sent[i] = ("check", [et.case_params(case)])
                        chunk.append(et.req(i, "check", et.case_params(case)))
                c.send(b"".join(chunk))
                for k in range(i - 31, i + 1):
                    err, res = c.response(k, timeout=20)
                    assert err is None, "#%d: error %r" % (k, err)
                    method, params = sent.pop(k)
                    if method == "household":
                        kind, ident = params
                        found = res is not None
                        local[(peer, method, 0, kind, ident, None, None, "found" if found else "nil", 0,
                               res["kk"] if found else None, None)] += 1
                        continue
                    answers = res if method == "check_batch" else [res]
                    for item, (q, a) in enumerate(zip(params, answers)):
                        local[(peer, method, item, q[0], q[1], q[2], q[3], a["reason"], a["amount"], a["kk"],
                               a["snapshot"])] += 1
            c.close()
            with lock:
                expected.update(local)
        except Exception as e:
            errors.append("client %d: %r" % (idx, e))

    threads = [threading.Thread(target=client, args=(k,)) for k in range(4)]
    threads.append(threading.Thread(target=client, args=(9, sock)))
    for t in threads:
        t.start()
    for k in range(6):
        time.sleep(0.3)
        os.kill(d.pid, signal.SIGUSR1)
        target = ctx.snap_b if k % 2 == 0 else ctx.snapshot
        tmp = ctx.current + ".tmp"
        os.symlink(target, tmp)
        os.replace(tmp, ctx.current)
        os.kill(d.pid, signal.SIGHUP)
    for t in threads:
        t.join(60)
    assert not errors, "; ".join(errors)
    assert sum(expected.values()) > 300, "only %d answers under load" % sum(expected.values())
    live = run_audit("verify", adir)
    assert "verify: ok" in live.stdout, live.stdout
    stop(d)

    segs, recs = at.read_dir(adir)
    assert len(segs) >= 7, "%d segments after 6 SIGUSR1, want at least 7" % len(segs)
    assert all(s.closed for s in segs), "a segment left unclosed after a clean stop"
    got = collections.Counter()
    snaps_seen = set()
    for r in recs:
        if r["method"] == "reload":
            continue
        want_channel = "unix" if r["peer"] == "unix" else "-"
        assert r["channel"] == want_channel, "record %r: channel %r, want %r" % (r, r["channel"], want_channel)
        snap = None if r["method"] == "household" else r["snapshot"]
        if r["method"] != "household":
            snaps_seen.add(snap)
        got[(r["peer"], r["method"], r["item"], r["kind"], r["id"], r["program"], r["period"], r["result"],
             r["amount"], r["kk"], snap)] += 1
    missing = expected - got
    extra = got - expected
    assert not missing and not extra, "records differ from answers: %d missing (e.g. %r), %d extra (e.g. %r)" % (
        sum(missing.values()), list(missing)[:2], sum(extra.values()), list(extra)[:2])
    assert snaps_seen == {"audit-A", "audit-B"}, "records name snapshots %r, want both" % snaps_seen
    reloads = [r for r in recs if r["method"] == "reload"]
    assert len(reloads) == 6, "%d reload records for 6 SIGHUP" % len(reloads)
    assert all(r["result"] == "ok" and r["peer"] == "signal" and r["channel"] == "-" for r in reloads), reloads
    assert run_audit("verify", adir).stdout.endswith("verify: ok\n")


def t_reload_records_and_modes(ctx):
    """A failed reload is recorded with its reason; files 0600 and the
    directory 0700 even under umask 0; no secret in any byte."""
    old = os.umask(0)
    try:
        d, adir = start(ctx, "modes")
    finally:
        os.umask(old)
    assert stat.S_IMODE(os.stat(adir).st_mode) == 0o700, "audit dir mode %o" % os.stat(adir).st_mode
    bad = os.path.join(ctx.dir, "not-a-snapshot")
    with open(bad, "wb") as f:
        f.write(b"garbage" * 100)
    tmp = ctx.current + ".tmp"
    os.symlink(bad, tmp)
    os.replace(tmp, ctx.current)
    os.kill(d.pid, signal.SIGHUP)
    et.wait_until(lambda: d.info()["reload_error"], 10, "reload_error after a bad reload")
    os.symlink(ctx.snapshot, tmp)
    os.replace(tmp, ctx.current)
    with d.conn() as c:
        # A token in every place a client could put one: none may reach a record.
        c.call("auth", ["bank-x", SECRET])
        c.call("check", ["nik", et.N1, "PKH", SECRET[:10]])
        c.call("check", ["nik", SECRET[:16], "PKH", "2024-01"])
        c.ok("check", ["nik", et.N1, "PKH", "2024-01"])
    stop(d)
    for p in at.segment_paths(adir):
        assert stat.S_IMODE(os.stat(p).st_mode) == 0o600, "%s mode %o" % (p, os.stat(p).st_mode)
    segs, recs = at.read_dir(adir)
    reloads = [r for r in recs if r["method"] == "reload"]
    assert len(reloads) == 1 and reloads[0]["result"] == "unavailable" and reloads[0]["detail"], reloads
    assert reloads[0]["snapshot"] == "audit-A", "failed reload record names %r" % reloads[0]["snapshot"]
    for s in segs:
        assert SECRET.encode() not in s.data and SECRET[:10].encode() not in s.data, "secret in %s" % s.path
        for b in s.blocks:
            assert SECRET[:10].encode() not in b["raw"], "secret in a record of %s" % s.path
    auths = [r for r in recs if r["method"] == "auth"]
    for r in auths:  # once `auth` exists: the claimed channel, never the token
        assert r["detail"] == "bank-x", "auth record detail %r" % r["detail"]
    checks = [r for r in recs if r["method"] == "check"]
    assert len(checks) == 1 and checks[0]["id"] == et.N1, "malformed checks must not be recorded: %r" % checks


def t_trail_and_stats(ctx):
    """Each kind of lookup lands in the trail of exactly the people it is
    about; stats count what was sent."""
    d, adir = start(ctx, "trail")
    sent = []  # (method, kind, id, program, period, result, kk)
    with d.conn() as c:
        for case in et.CASES:
            a = c.ok("check", et.case_params(case))
            sent.append(("check", case[0], case[1], case[2], case[3], a["reason"], a["kk"]))
        batch = [et.case_params(x) for x in et.CASES[:12]]
        for q, a in zip(batch, c.ok("check_batch", [batch])):
            sent.append(("check_batch", q[0], q[1], q[2], q[3], a["reason"], a["kk"]))
        for kind, ident in [("nik", et.N4), ("kk", et.KK6), ("kks", et.KKS1), ("kk", "3201010000000099")]:
            h = c.ok("household", [kind, ident])
            sent.append(("household", kind, ident, None, None, "found" if h else "nil", h["kk"] if h else None))
        t_mark = time.time()
    os.kill(d.pid, signal.SIGUSR1)  # seal and write what is queued
    et.wait_until(lambda: len(at.read_dir(adir)[1]) >= len(sent), 10, "all records written")

    def expect(kind, ident):
        if kind == "nik":
            kk = MEMBER_KK.get(ident)
            keys = {("nik", ident)}
            if kk:
                keys |= {("kk", kk)} | ({("kks", KK_KKS[kk])} if kk in KK_KKS else set())
            return [s for s in sent if (s[1], s[2]) in keys]
        kk = ident if kind == "kk" else next((k for k, v in KK_KKS.items() if v == ident), None)
        keys = {(kind, ident)}
        members = set()
        if kk:
            keys |= {("kk", kk)} | ({("kks", KK_KKS[kk])} if kk in KK_KKS else set())
            members = {n for n, k in MEMBER_KK.items() if k == kk}
        return [s for s in sent if (s[1], s[2]) in keys or (s[1] == "nik" and s[2] in members)]

    people = [("nik", n) for n in MEMBER_KK] + [("nik", "3201011501909999"), ("kk", et.KK1), ("kks", et.KKS6),
                                                 ("kk", et.KK5), ("kks", et.KKS7)]
    kks_hits = 0
    for kind, ident in people:
        p = run_audit("trail", adir, "--snapshot", ctx.snapshot, kind, ident, "--json")
        doc = json.loads(p.stdout)
        got = collections.Counter((r["method"], r["kind"], r["id"], r["program"], r["period"], r["result"], r["kk"])
                                  for r in doc["records"])
        want = collections.Counter(expect(kind, ident))
        assert got == want, "trail %s %s: got %d records, want %d; missing %r, extra %r" % (
            kind, ident, sum(got.values()), sum(want.values()), list(want - got)[:3], list(got - want)[:3])
        assert doc["count"] == len(doc["records"])
        assert all(r["channel"] == "-" and r["peer"].startswith("127.0.0.1:") for r in doc["records"])
        if kind == "nik" and MEMBER_KK.get(ident) == et.KK1:
            kks_hits += sum(1 for r in doc["records"] if r["kind"] == "kks")
        text = run_audit("trail", adir, "--snapshot", ctx.snapshot, kind, ident).stdout
        assert text.strip().endswith("%d record%s" % (len(doc["records"]), "" if len(doc["records"]) == 1 else "s")), text
    # KK1 has three members: each sees every check by KKS1.
    by_kks1 = sum(1 for s in sent if s[1] == "kks" and s[2] == et.KKS1)
    assert by_kks1 >= 2 and kks_hits == 3 * by_kks1, "checks by KKS1: %d, seen in members' trails %d times" % (
        by_kks1, kks_hits)

    st = json.loads(run_audit("stats", adir, "--json").stdout)
    assert st["records"] == len(sent), "stats records %r, sent %d" % (st["records"], len(sent))
    assert st["by_method"] == dict(collections.Counter(s[0] for s in sent)), st["by_method"]
    assert st["by_result"] == dict(collections.Counter(s[5] for s in sent)), st["by_result"]
    assert st["by_channel"] == {"-": len(sent)}, st["by_channel"]
    cells = sum(c["count"] for c in st["by_channel_method_result"])
    assert cells == len(sent)

    day = time.strftime("%Y-%m-%d", time.gmtime(t_mark))
    later = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t_mark + 3600))
    earlier = time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(t_mark - 3600))
    assert json.loads(run_audit("stats", adir, "--since", later, "--json").stdout)["records"] == 0
    assert json.loads(run_audit("stats", adir, "--until", earlier, "--json").stdout)["records"] == 0
    assert json.loads(run_audit("stats", adir, "--since", day, "--until", day, "--json").stdout)[
        "records"] == len(sent)
    p = run_audit("trail", adir, "--snapshot", ctx.snapshot, "nik", et.N1, "--since", later, "--json")
    assert json.loads(p.stdout)["count"] == 0
    stop(d)
    assert "verify: ok" in run_audit("verify", adir).stdout


def t_uncompressed(ctx):
    """--audit-compress none: raw blocks, read alike by verify and trail."""
    d, adir = start(ctx, "raw", "--audit-compress", "none")
    with d.conn() as c:
        c.ok("check_batch", [[et.case_params(x) for x in et.CASES[:20]]])
        c.ok("check", ["kks", et.KKS1, "PKH", "2024-03"])
    stop(d)
    segs, recs = at.read_dir(adir)
    assert len(recs) == 21, "%d records, want 21" % len(recs)
    assert all(b["codec"] == 0 for s in segs for b in s.blocks), "a compressed block with --audit-compress none"
    assert "verify: ok" in run_audit("verify", adir).stdout
    doc = json.loads(run_audit("trail", adir, "--snapshot", ctx.snapshot, "nik", et.N3, "--json").stdout)
    assert any(r["kind"] == "kks" and r["id"] == et.KKS1 for r in doc["records"]), doc


def t_reload_method_recorded(ctx):
    """The `reload` method is recorded in the name of the session that
    asked (the Unix socket's), once per request."""
    sock = os.path.join(ctx.dir, "reload.sock")
    d, adir = start(ctx, "reloadm", unix=sock)
    with et.Conn(path=sock) as c:
        res = c.ok("reload", [])
    assert isinstance(res, dict) and res.get("snapshot") == "audit-A", res
    stop(d)
    _, recs = at.read_dir(adir)
    rel = [r for r in recs if r["method"] == "reload"]
    assert len(rel) == 1, "%d reload records for one reload request" % len(rel)
    r = rel[0]
    assert r["peer"] == "unix" and r["channel"] == "unix" and r["conn"] > 0 and r["result"] == "ok" and \
        r["snapshot"] == "audit-A", r


def t_usage_errors(ctx):
    """Bad usage is exit 2 with a one-line reason; eligd refuses a second
    writer on one directory and a buffer that cannot hold a batch."""
    adir = os.path.join(ctx.dir, "usage")
    for args, what in [([], "command"), (["trail", adir, "nik", et.N1], "--snapshot"),
                       (["stats", adir, "--since", "yesterday"], "--since"),
                       (["trail", adir, "--snapshot", ctx.snapshot, "nikk", et.N1], "KIND"),
                       (["trail", adir, "--snapshot", ctx.snapshot, "nik", "123"], "ID"),
                       (["stats", adir, "--until", "2026-02-30"], "--until")]:
        p = run_audit(*args, check=False)
        assert p.returncode == 2 and what in p.stderr, "%r: exit %d, %r" % (args, p.returncode, p.stderr)
    d, adir = start(ctx, "one")
    second = et.Daemon(ctx.current, "--audit-dir", adir, workdir=ctx.dir, name="two")
    try:
        second.start(timeout=5)
        raise AssertionError("a second eligd started on the same --audit-dir")
    except AssertionError as e:
        assert "another eligd" in str(e), str(e)
    small = et.Daemon(ctx.current, "--audit-dir", adir + "-small", "--audit-buffer", "65536",
                      workdir=ctx.dir, name="small")
    try:
        small.start(timeout=5)
        raise AssertionError("eligd started with a buffer smaller than one batch")
    except AssertionError as e:
        assert "too small" in str(e), str(e)
    stop(d)


if __name__ == "__main__":
    et.main([t_records_equal_answers_under_load, t_reload_records_and_modes, t_trail_and_stats, t_uncompressed,
             t_reload_method_recorded, t_usage_errors],
            setup=setup, budget=150)
