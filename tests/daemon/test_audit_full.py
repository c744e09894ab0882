"""daemon_audit_full: no answer without a record (SPEC 7) when the audit
trail cannot be written.

The test makes the conditions itself, in a mount namespace of its own (it
re-executes itself under `unshare --mount`, so nothing it mounts outlives
it): a small tmpfs filled to the last byte (disk full), and the audit
directory made immutable with chattr (unwritable: even root cannot create
the next segment in it). If it cannot make a condition it fails; it never
passes without having tested.

- fail closed (default): once the records cannot be queued, requests are
  answered error 5 `unavailable` (counted in info.audit.refused), eligd keeps
  running, info.audit_error says why, and when space returns it writes the
  backlog and answers again by itself; every answered item has its record;
- --audit-full drop: every request is answered, the records that could not
  be queued are counted as lost, and records + lost = answered items;
- eligd starts on a full disk (and refuses, exit 1, a directory it cannot
  create).
"""

import os
import subprocess
import sys
import time

def all_mounts_private():
    """True when no mount of this namespace propagates to a peer group
    (no `shared:N` among mountinfo's optional fields)."""
    with open("/proc/self/mountinfo") as f:
        return not any(" shared:" in line.split(" - ")[0] for line in f)


if os.environ.get("ELIG_AUDIT_NS") != "1":
    # Re-run in a private mount namespace: the tmpfs dies with us.
    # `--propagation private` makes / private first, which fails where / is
    # not a mount point (a chroot, as ../shared/tools/fresh-check runs the
    # suite in); there, if every mount is private already, a new namespace
    # with propagation unchanged isolates our mounts just as well.
    env = dict(os.environ, ELIG_AUDIT_NS="1")
    propagation = "private"
    probe = subprocess.run(["unshare", "--mount", "--propagation", "private", "true"], capture_output=True)
    if probe.returncode != 0 and all_mounts_private():
        propagation = "unchanged"
    argv = ["unshare", "--mount", "--propagation", propagation, sys.executable] + sys.argv
    try:
        os.execvpe("unshare", argv, env)
    except OSError as e:
        print("FAIL setup: cannot run unshare --mount (needed to mount a tmpfs): %s" % e, flush=True)
        sys.exit(1)

import audittest as at  # noqa: E402
import eligtest as et  # noqa: E402

ELIG_AUDIT = os.environ.get("ELIG_AUDIT", "")
BATCH = 100
QUERY = ["nik", et.N1, "PKH", "2024-01"]


def sh(*argv):
    p = subprocess.run(argv, capture_output=True, text=True, timeout=30)
    assert p.returncode == 0, "%s: exit %d: %s" % (" ".join(argv), p.returncode, p.stderr.strip())


def mount_tmpfs(path, size):
    os.makedirs(path, exist_ok=True)
    sh("mount", "-t", "tmpfs", "-o", "size=%s,mode=0700" % size, "tmpfs", path)


def fill(path):
    """Fills the file system of path to the last byte; returns the filler."""
    filler = os.path.join(path, "filler")
    with open(filler, "wb", buffering=0) as f:
        chunk = b"\0" * 65536
        while True:
            try:
                f.write(chunk)
            except OSError:
                break
        for n in (4096, 512, 64, 1):
            while True:
                try:
                    f.write(b"\0" * n)
                except OSError:
                    break
    st = os.statvfs(path)
    assert st.f_bavail == 0, "could not fill %s: %d blocks still free" % (path, st.f_bavail)
    return filler


class FullCtx(et.Ctx):
    def __init__(self):
        super().__init__(snap_id="full-A")
        self.n = 0

    def fs(self, size="1m"):
        self.n += 1
        mnt = os.path.join(self.dir, "fs%d" % self.n)
        mount_tmpfs(mnt, size)
        return mnt

    def close(self):
        et._kill_all()
        for k in range(1, self.n + 1):
            mnt = os.path.join(self.dir, "fs%d" % k)
            subprocess.run(["chattr", "-R", "-i", mnt], capture_output=True)
            subprocess.run(["umount", "-l", mnt], capture_output=True)
        super().close()


def setup():
    assert ELIG_AUDIT, "ELIG_AUDIT is not set (run through ctest)"
    assert os.geteuid() == 0, "this test mounts a tmpfs: it must run as root (CI does)"
    return FullCtx()


def daemon(ctx, adir, *extra, name):
    return ctx.daemon("--threads", "1", "--max-batch", str(BATCH), "--audit-dir", adir,
                      "--audit-buffer", "131072", "--audit-sync-ms", "50", *extra, name=name).start()


def audit_info(d):
    info = d.info()
    assert isinstance(info["audit"], dict), "info.audit %r, want a map with --audit-dir" % (info["audit"],)
    return info


def load(d, until, limit=4000, window=16):
    """check_batch of BATCH items, `window` in flight, until until(info-less
    state) says stop or `limit` batches went. Returns (answered items,
    refused batches, first refusal message)."""
    answered = refused = 0
    msg = None
    with d.conn(timeout=20) as c:
        sent = 0
        inflight = []
        while sent < limit and not until(refused):
            while len(inflight) < window and sent < limit:
                i = c.msgid()
                c.send(et.req(i, "check_batch", [[QUERY] * BATCH]))
                inflight.append(i)
                sent += 1
            err, res = c.response(inflight.pop(0), timeout=20)
            if err is None:
                assert len(res) == BATCH and res[0]["reason"] == "eligible", res[:1]
                answered += BATCH
            else:
                assert err[0] == 5, "error %r, want 5 unavailable" % (err,)
                refused += 1
                msg = msg or err[1]
        for i in inflight:
            err, res = c.response(i, timeout=20)
            if err is None:
                answered += BATCH
            else:
                assert err[0] == 5, "error %r, want 5 unavailable" % (err,)
                refused += 1
    return answered, refused, msg


def one_check(d):
    with d.conn() as c:
        return c.call("check", QUERY)


def recovered(d):
    info = audit_info(d)
    return info["audit_error"] is None and info["audit"]["backlog"] == 0


def check_records(adir, answered, what):
    segs, recs = at.read_dir(adir)
    n = sum(1 for r in recs if r["method"] in ("check", "check_batch"))
    assert n == answered, "%s: %d check records for %d answered items" % (what, n, answered)
    p = subprocess.run([ELIG_AUDIT, "verify", adir], capture_output=True, text=True, timeout=60)
    assert p.returncode == 0 and p.stdout.endswith("verify: ok\n"), p.stdout + p.stderr
    return recs


# ---------------------------------------------------------------------------

def t_disk_full_fails_closed_and_recovers(ctx):
    mnt = ctx.fs()
    adir = os.path.join(mnt, "audit")
    d = daemon(ctx, adir, name="closed")
    filler = fill(mnt)
    answered, refused, msg = load(d, lambda r: r >= 3)
    assert refused >= 3, "no request refused with the disk full (%d items answered)" % answered
    # The writer keeps taking records while its own bounded backlog has
    # room; load again after it has settled so that everything is full.
    for _ in range(2):
        time.sleep(0.3)
        a, r, _ = load(d, lambda r: r >= 3)
        answered += a
        refused += r
    assert "audit" in msg, "the refusal says %r, want it to name the audit trail" % msg
    info = audit_info(d)
    assert info["audit_error"] and "No space left" in info["audit_error"], info["audit_error"]
    assert info["audit"]["refused"] >= refused, info["audit"]
    assert info["audit"]["lost"] == 0, info["audit"]
    with d.conn() as c:
        err, _ = c.call("check_batch", [[QUERY] * BATCH])
    assert err and err[0] == 5, "a batch with the trail stuck: %r, want unavailable" % (err,)
    assert d.alive()
    os.unlink(filler)
    et.wait_until(lambda: recovered(d), 15, "audit_error cleared and backlog written once space returned")
    err, res = one_check(d)
    assert err is None and res["reason"] == "eligible", (err, res)
    d.stop()
    check_records(adir, answered + 1, "fail closed")
    log = d.log(200000)
    assert "No space left" in log, "the condition is not logged"
    assert log.count("cannot write") <= 3, "the condition is logged %d times: not rate-limited" % log.count(
        "cannot write")


def t_drop_mode_answers_and_counts(ctx):
    mnt = ctx.fs()
    adir = os.path.join(mnt, "audit")
    d = daemon(ctx, adir, "--audit-full", "drop", name="drop")
    filler = fill(mnt)
    answered, refused, _ = load(d, lambda r: False, limit=600)
    assert refused == 0, "%d requests refused with --audit-full drop" % refused
    lost = audit_info(d)["audit"]["lost"]
    assert lost > 0, "nothing counted lost after %d items on a full disk" % answered
    os.unlink(filler)
    et.wait_until(lambda: recovered(d), 15, "recovered after space returned")
    d.stop()
    segs, recs = at.read_dir(adir)
    n = sum(1 for r in recs if r["method"] == "check_batch")
    assert n + lost == answered, "records %d + lost %d != answered items %d" % (n, lost, answered)


def t_unwritable_dir_fails_closed_and_recovers(ctx):
    mnt = ctx.fs("8m")
    adir = os.path.join(mnt, "audit")
    d = daemon(ctx, adir, name="immutable")
    a1, _, _ = load(d, lambda r: False, limit=5)
    sh("chattr", "+i", adir)
    try:
        try:
            open(os.path.join(adir, "probe"), "w").close()
            raise AssertionError("chattr +i did not make %s unwritable" % adir)
        except PermissionError:
            pass
        os.kill(d.pid, 10)  # SIGUSR1: the next segment cannot be created
        et.wait_until(lambda: audit_info(d)["audit_error"], 10, "audit_error set")
        answered, refused, _ = load(d, lambda r: r >= 3)
        assert refused >= 3, "no request refused with the directory unwritable"
        info = audit_info(d)
        assert "cannot create" in info["audit_error"] and "not permitted" in info["audit_error"], info
    finally:
        sh("chattr", "-i", adir)
    et.wait_until(lambda: recovered(d), 15, "recovered once the directory is writable")
    d.stop()
    check_records(adir, a1 + answered, "unwritable directory")


def t_start_on_full_disk_and_bad_dir(ctx):
    mnt = ctx.fs()
    adir = os.path.join(mnt, "audit")
    os.mkdir(adir)
    filler = fill(mnt)
    d = daemon(ctx, adir, name="startfull")  # must start: a full disk is a condition, not a misconfiguration
    err, _ = one_check(d)
    assert err is None, "a first check with a fresh buffer: %r" % (err,)
    assert audit_info(d)["audit_error"], "audit_error nil on a full disk"
    os.unlink(filler)
    et.wait_until(lambda: recovered(d), 15, "recovered")
    d.stop()
    check_records(adir, 1, "started full")
    locked = os.path.join(ctx.fs(), "locked")
    os.mkdir(locked)
    sh("chattr", "+i", locked)
    bad = ctx.daemon("--audit-dir", os.path.join(locked, "audit"), name="baddir")
    try:
        bad.start(timeout=10)
        raise AssertionError("eligd started with an --audit-dir it cannot create")
    except AssertionError as e:
        assert "exited 1" in str(e) and "--audit-dir" in str(e), str(e)
    finally:
        sh("chattr", "-i", locked)


if __name__ == "__main__":
    et.main([t_disk_full_fails_closed_and_recovers, t_drop_mode_answers_and_counts,
             t_unwritable_dir_fails_closed_and_recovers, t_start_on_full_disk_and_bad_dir],
            setup=setup, budget=150)
