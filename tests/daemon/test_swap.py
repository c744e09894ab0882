"""daemon_swap: SIGHUP reloads the snapshot at --snapshot PATH.

Under a pipelined stream, hundreds of swaps (a symlink flipped atomically,
then the file itself renamed over) lose, fail or duplicate no answer, and
every answer comes from one of the two snapshots, consistently with its
data. A reload that fails keeps the old snapshot serving and shows in
info.reload_error until a later good reload clears it."""

import os
import shutil
import signal
import threading
import time

import eligtest as et

ID_A, ID_B = "swap-A", "swap-B"
VARIANT = {ID_A: "A", ID_B: "B"}

# Queries whose answers differ between A and B first, then a spread.
STREAM_CASES = [c for c in et.CASES if c[6] == "A"] + et.CASES[::5]


class SwapCtx(et.Ctx):
    def __init__(self):
        super().__init__(snap_id=ID_A, variant="A")
        self.snap_a = self.snapshot
        self.snap_b = et.build_snapshot(self.dir, ID_B, variant="B")
        self.current = os.path.join(self.dir, "current")
        point(self.current, self.snap_a)
        self.d = et.Daemon(self.current, workdir=self.dir).start()


def point(link, target):
    """Flips the symlink `link` to target atomically (rename over it)."""
    tmp = link + ".tmp"
    if os.path.lexists(tmp):
        os.unlink(tmp)
    os.symlink(target, tmp)
    os.replace(tmp, link)


def reload_to(ctx, target, want_id):
    point(ctx.current, target)
    ctx.d.send_signal(signal.SIGHUP)

    def done():
        info = ctx.d.info()
        return info["snapshot"] == want_id and info["reload_error"] is None
    et.wait_until(done, 10, "info.snapshot == %s with reload_error nil after SIGHUP" % want_id)


def setup():
    return SwapCtx()


def check_stream_answer(i, err, res, seen):
    case = STREAM_CASES[i % len(STREAM_CASES)]
    if i % 7 == 3:  # a batch of two
        assert err is None and isinstance(res, list) and len(res) == 2, \
            "#%d batch: %r %.200r" % (i, err, res)
        answers = res
    else:
        assert err is None, "#%d: failed during swaps: %r" % (i, err)
        answers = [res]
    for a in answers:
        snap = a.get("snapshot") if isinstance(a, dict) else None
        assert snap in VARIANT, "#%d: snapshot %r, want %s or %s" % (i, snap, ID_A, ID_B)
        et.check_answer(a, case, snap, VARIANT[snap], where="#%d" % i)
        seen[snap] = seen.get(snap, 0) + 1


def stream_request(i):
    case = STREAM_CASES[i % len(STREAM_CASES)]
    if i % 7 == 3:
        return et.req(i, "check_batch", [[et.case_params(case), et.case_params(case)]])
    return et.req(i, "check", et.case_params(case))


def t_swap_under_load(ctx):
    d = ctx.d
    window = threading.Semaphore(400)  # requests in flight at most
    state = {"sent": 0, "swaps": 0, "renames": 0, "writer_error": None, "swapper_error": None}
    swapping_done = threading.Event()
    writer_done = threading.Event()
    conn = d.conn(timeout=20)

    def writer():
        try:
            i = 0
            tail = None
            while True:
                if swapping_done.is_set():
                    tail = i + 500 if tail is None else tail
                    if i >= tail:
                        break
                if i >= 400000:
                    break
                chunk = []
                for _ in range(20):
                    if not window.acquire(timeout=30):
                        raise RuntimeError("no answers for 30 s")
                    chunk.append(stream_request(i))
                    i += 1
                conn.sock.sendall(b"".join(chunk))
                state["sent"] = i
        except Exception as e:  # reported by the main thread
            state["writer_error"] = e
        finally:
            writer_done.set()

    def swapper():
        try:
            time.sleep(0.2)  # let the stream start
            for k in range(150):
                point(ctx.current, ctx.snap_b if k % 2 == 0 else ctx.snap_a)
                os.kill(d.pid, signal.SIGHUP)
                state["swaps"] += 1
                time.sleep(0.01)
            # The file itself renamed over the path, as a deploy without
            # symlinks does.
            for k in range(20):
                src = ctx.snap_b if k % 2 == 0 else ctx.snap_a
                tmp = ctx.current + ".copy"
                shutil.copyfile(src, tmp)
                os.replace(tmp, ctx.current)
                os.kill(d.pid, signal.SIGHUP)
                state["renames"] += 1
                time.sleep(0.03)
        except Exception as e:
            state["swapper_error"] = e
        finally:
            swapping_done.set()

    seen = {}
    wt = threading.Thread(target=writer, daemon=True)
    st = threading.Thread(target=swapper, daemon=True)
    wt.start()
    st.start()
    answered = 0
    try:
        while not (writer_done.is_set() and answered >= state["sent"]):
            if answered >= state["sent"]:
                time.sleep(0.001)
                continue
            try:
                m = conn.recv_msg(20)
            except et.Closed as e:
                raise AssertionError("connection closed (%s) after %d answers during swaps\n%s" % (
                    e, answered, d.log()))
            et.check_response(m, "#%d" % answered)
            assert m[1] == answered, "answer msgid %r, want %d (lost, duplicated or reordered)" % (
                m[1], answered)
            check_stream_answer(answered, m[2], m[3], seen)
            answered += 1
            window.release()
    finally:
        swapping_done.set()
        wt.join(30)
        st.join(30)
    assert state["writer_error"] is None, "writer: %r" % state["writer_error"]
    assert state["swapper_error"] is None, "swapper: %r" % state["swapper_error"]
    assert state["swaps"] == 150 and state["renames"] == 20, "swaps done: %r" % state
    assert answered == state["sent"], "%d answers for %d requests" % (answered, state["sent"])
    conn.expect_silence(0.3, "after the last answer (a duplicate?)")
    conn.close()
    assert d.alive(), "eligd died during swaps\n%s" % d.log()
    assert seen.get(ID_A) and seen.get(ID_B), "answers per snapshot %r: both should have served" % seen
    print("  %d requests, %d answers by snapshot: %r" % (answered, sum(seen.values()), seen))
    # Settle on B and check that it serves, with no error left behind.
    reload_to(ctx, ctx.snap_b, ID_B)
    with d.conn() as c:
        for case in STREAM_CASES:
            et.check_answer(c.ok("check", et.case_params(case)), case, ID_B, "B")
    reload_to(ctx, ctx.snap_a, ID_A)


def log_lines(d):
    return d.log(tail=1 << 20).splitlines()


def t_failed_reload_keeps_old(ctx):
    d = ctx.d
    reload_to(ctx, ctx.snap_a, ID_A)
    garbage = os.path.join(ctx.dir, "garbage.mdb")
    with open(garbage, "wb") as f:
        f.write(os.urandom(16384))
    empty = os.path.join(ctx.dir, "empty.mdb")
    open(empty, "wb").close()
    adir = os.path.join(ctx.dir, "a-directory")
    os.makedirs(adir, exist_ok=True)
    missing = os.path.join(ctx.dir, "missing.mdb")
    schema7 = et.copy_with_schema(ctx.snap_b, os.path.join(ctx.dir, "schema7.mdb"))
    held = d.conn()  # open across the failed reloads
    try:
        for what, bad, good, good_id in (("garbage file", garbage, ctx.snap_b, ID_B),
                                         ("missing file", missing, ctx.snap_a, ID_A),
                                         ("empty file", empty, ctx.snap_b, ID_B),
                                         ("directory", adir, ctx.snap_a, ID_A),
                                         ("unknown schema version", schema7, ctx.snap_b, ID_B)):
            old_id = d.info()["snapshot"]
            nlog = len(log_lines(d))
            point(ctx.current, bad)
            d.send_signal(signal.SIGHUP)

            def failed():
                info = d.info()
                return info if info["reload_error"] is not None else None
            info = et.wait_until(failed, 10, "info.reload_error set after a reload of a %s" % what)
            assert type(info["reload_error"]) is str and info["reload_error"], \
                "%s: reload_error %r, want a non-empty str" % (what, info["reload_error"])
            if what == "unknown schema version":
                assert "schema" in info["reload_error"].lower(), \
                    "reload_error %r does not say the schema is unknown" % info["reload_error"]
            assert info["snapshot"] == old_id, "%s: info.snapshot %r after a failed reload, want %r" % (
                what, info["snapshot"], old_id)
            for c in (held, d.conn()):
                for case in STREAM_CASES[:6]:
                    et.check_answer(c.ok("check", et.case_params(case)), case, old_id,
                                    VARIANT[old_id], where="after a failed reload (%s)" % what)
            new = log_lines(d)[nlog:]
            assert any((" warn " in ln or " error " in ln) for ln in new), \
                "%s: no warn/error line logged for the failed reload; new lines: %r" % (what, new)
            # A second SIGHUP on the same bad path fails again, still serving.
            d.send_signal(signal.SIGHUP)
            time.sleep(0.2)
            assert d.info()["snapshot"] == old_id
            # A good reload clears the error.
            reload_to(ctx, good, good_id)
            et.check_answer(held.ok("check", et.case_params(STREAM_CASES[0])), STREAM_CASES[0],
                            good_id, VARIANT[good_id], where="after recovery from %s" % what)
    finally:
        held.close()


def t_reload_same_path(ctx):
    # SIGHUP with nothing changed reloads the same snapshot, no error.
    d = ctx.d
    current = d.info()["snapshot"]
    for _ in range(20):
        d.send_signal(signal.SIGHUP)
    time.sleep(0.3)
    info = d.info()
    assert info["reload_error"] is None, "reload_error %r after reloading the same file" % (
        info["reload_error"],)
    assert info["snapshot"] == current, "snapshot %r, want %s" % (info["snapshot"], current)


def t_truncated_reload_keeps_old(ctx):
    # A deploy that copies the file over the path non-atomically leaves it
    # short for a while; a SIGHUP then must fail the reload, not kill the
    # daemon (pages past the end of the file are SIGBUS when touched).
    # Last: if the daemon dies here, the tests above have already run.
    d = ctx.d
    for what, path in et.truncated_copies(ctx.snap_b, ctx.dir):
        old_id = d.info()["snapshot"]
        point(ctx.current, path)
        d.send_signal(signal.SIGHUP)
        time.sleep(0.3)
        assert d.alive(), "%s: eligd died on SIGHUP (exit %r)\n%s" % (what, d.proc.returncode, d.log())

        def failed():
            info = d.info()
            return info if info["reload_error"] is not None or info["snapshot"] != old_id else None
        info = et.wait_until(failed, 10, "reload of a %s settles" % what)
        assert info["reload_error"] is not None and info["snapshot"] == old_id, \
            "%s: reload accepted (snapshot %r, reload_error %r), want it refused" % (
                what, info["snapshot"], info["reload_error"])
        with d.conn() as c:
            for case in et.CASES:
                et.check_answer(c.ok("check", et.case_params(case)), case, old_id, VARIANT[old_id],
                                where="after reload of a %s" % what)
        reload_to(ctx, ctx.snap_a, ID_A)
    d.stop()


if __name__ == "__main__":
    et.main([t_swap_under_load, t_failed_reload_keeps_old, t_reload_same_path,
             t_truncated_reload_keeps_old], setup=setup,
            budget=150)
