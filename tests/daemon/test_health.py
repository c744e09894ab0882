"""daemon_health: GET /health (SPEC 9) goes 503 `starting` -> 200 `ok` ->
503 `draining` across a daemon's life, and 503 `degraded` after a snapshot
read fails while answering (a household record damaged on disk), with the
failure counted, logged at error level (rate-limited) and answered
`unavailable`; a reload of a good snapshot makes it healthy again."""

import json
import os
import shutil
import signal
import socket
import struct
import time

import eligtest as et
from eligtest import sample, scrape

GOOD = ["nik", et.N1, "PKH", "2024-01"]


def setup():
    return et.Ctx(snap_id="health-snap")


def health(d):
    return d.http("/health")


def expect_503(d, status, what):
    code, ctype, body = health(d)
    assert code == 503, "%s: /health HTTP %d %r, want 503" % (what, code, body)
    assert ctype.startswith("application/json"), "%s: Content-Type %r, want JSON" % (what, ctype)
    doc = json.loads(body)
    assert doc.get("status") == status, "%s: /health says %r, want status %r" % (what, doc, status)
    assert isinstance(doc.get("reason"), str) and doc["reason"], "%s: no reason in %r" % (what, doc)
    return doc


def expect_ok(d, what):
    code, _, body = health(d)
    assert code == 200 and body.strip() == "ok", "%s: /health HTTP %d %r, want 200 ok" % (what, code, body)


def stuck_client(port):
    """A client that sends big batches and never reads: paused, it keeps a
    drain from ending before --drain-timeout."""
    s = et.Conn(port=port, timeout=1.0, rcvbuf=4096)
    try:
        for i in range(200):
            s.sock.sendall(et.req(i, "check_batch", [[GOOD] * 2000]))
    except (socket.timeout, BrokenPipeError, ConnectionResetError):
        pass
    return s


def t_starting_ok_draining(ctx):
    d = ctx.daemon("--drain-timeout", "3", metrics=True, name="life",
                   env={"ELIGD_TEST_START_DELAY_MS": "2500"})
    d.spawn()
    try:
        d.metrics_url()  # listening before the snapshot is opened
        assert d._read_ready() is None, "ready before the start delay ended"
        doc = expect_503(d, "starting", "while starting")
        samples, _ = scrape(d.metrics_url())
        assert sample(samples, "eligd_health", state="starting") == 1
        d.wait_ready(15)
        expect_ok(d, "once every worker listens")
        stuck = stuck_client(d.port)
        d.send_signal(signal.SIGTERM)
        et.wait_until(lambda: health(d)[0] == 503, 5, "/health 503 after SIGTERM")
        expect_503(d, "draining", "after SIGTERM")
        samples, _ = scrape(d.metrics_url())
        assert sample(samples, "eligd_health", state="draining") == 1
        assert sample(samples, "eligd_health", state="ok") == 0
        stuck.close()
        assert d.wait(10) == 0, "exit status after the drain"
        assert doc["reason"]
    finally:
        d.kill()


def damaged_copy(src, dst):
    """src with family KK5's household record damaged: its status byte set
    to 9, no status at all. Relies on the record layout of lib/record.h
    (schema 1): u64 region, u64 kks, u32 members, u32 n_enrollments, u8
    status, u8 flags; KK5 has one member, no card, no enrollments."""
    with open(src, "rb") as f:
        data = f.read()
    rec = struct.pack("<QQIIBB", int(et.REGION[et.KK5]), 0, 1, 0, 0, 0)
    # LMDB leaves older copies of a page in the file (copy on write while
    # building): every copy is damaged, the live one among them.
    assert data.count(rec) >= 1, "cannot find KK5's household record in %s (layout changed?)" % src
    with open(dst, "wb") as f:
        f.write(data.replace(rec, rec[:24] + b"\x09" + rec[25:]))
    return dst


def t_degraded_on_read_error(ctx):
    live = os.path.join(ctx.dir, "live.mdb")
    damaged_copy(ctx.snapshot, live)
    d = et.Daemon(live, "--threads", "1", metrics=True, workdir=ctx.dir, name="damaged").start()
    try:
        expect_ok(d, "before any read of the damaged record")
        with d.conn() as c:
            # The damaged family cannot be read: unavailable, not a crash.
            for kind, ident in (("kk", et.KK5), ("nik", et.N9)):
                msg = c.error("check", [kind, ident, "PKH", "2024-01"], 5)
                assert "snapshot" in msg, "unavailable message %r does not say why" % msg
            msg = c.error("household", ["kk", et.KK5], 5)
            # A batch holding it is refused whole, naming the item.
            msg = c.error("check_batch", [[GOOD, ["kk", et.KK5, "PKH", "2024-01"]]], 5)
            assert "item 1" in msg, "batch message %r does not name item 1" % msg
            # The rest of the snapshot still answers.
            et.check_answer(c.ok("check", GOOD), et.CASES[0], ctx.snap_id)
            for _ in range(100):  # many failures, few log lines
                c.error("check", ["kk", et.KK5, "PKH", "2024-01"], 5)
            info = c.ok("info", [])
        assert info["health"] == "degraded", "info.health %r, want degraded" % info["health"]
        assert info["read_errors"] == 104, "info.read_errors %r, want 104" % info["read_errors"]
        doc = expect_503(d, "degraded", "after read errors")
        assert "104" in doc["reason"], "the reason %r does not count the errors" % doc["reason"]
        samples, _ = scrape(d.metrics_url())
        assert sample(samples, "eligd_read_errors_total") == 104
        assert sample(samples, "eligd_errors_total", code="unavailable") == 104
        # Logged at error level, at most once a second.
        et.wait_until(lambda: "snapshot read errors" in d.log(), 5, "a read-error log line")
        lines = [ln for ln in d.log(tail=1 << 20).splitlines() if "snapshot read errors" in ln]
        assert all(" error " in ln for ln in lines), "read errors not logged at error level: %r" % lines
        assert len(lines) <= 3, "%d log lines for 104 read errors in a second or two, want rate-limited" % (
            len(lines))
        # A good snapshot reloaded: healthy again.
        good = os.path.join(ctx.dir, "good.mdb")
        shutil.copyfile(ctx.snapshot, good)
        os.replace(good, live)
        d.send_signal(signal.SIGHUP)
        et.wait_until(lambda: health(d)[0] == 200, 10, "/health 200 after reloading a good snapshot")
        with d.conn() as c:
            assert c.ok("check", ["kk", et.KK5, "PKH", "2024-01"])["reason"] == "not_enrolled"
            info = c.ok("info", [])
        assert info["health"] == "ok" and info["generation"] == 2, info
        d.stop()
    finally:
        d.kill()


def t_sd_notify(ctx):
    # systemd's notification protocol, played by this test: a datagram
    # socket named in $NOTIFY_SOCKET receives READY=1 once serving,
    # RELOADING=1 then READY=1 around a reload, STOPPING=1 on SIGTERM, each
    # with a STATUS= naming the snapshot.
    path = os.path.join(ctx.dir, "notify.sock")
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.bind(path)
    s.settimeout(10)

    def expect(state):
        while True:
            msg = s.recv(4096).decode()
            fields = dict(ln.split("=", 1) for ln in msg.splitlines() if "=" in ln)
            if fields.get(state) == "1":
                return fields

    try:
        d = ctx.daemon(name="notify", env={"NOTIFY_SOCKET": path}).start()
        f = expect("READY")
        assert ctx.snap_id in f.get("STATUS", ""), "READY=1 without the snapshot in STATUS: %r" % f
        d.send_signal(signal.SIGHUP)
        f = expect("RELOADING")
        f = expect("READY")
        assert "generation 2" in f.get("STATUS", ""), "READY after the reload: STATUS %r" % f
        d.send_signal(signal.SIGTERM)
        f = expect("STOPPING")
        assert "draining" in f.get("STATUS", ""), "STOPPING=1 with STATUS %r" % f
        assert d.wait(10) == 0
    finally:
        s.close()


if __name__ == "__main__":
    et.main([t_starting_ok_draining, t_degraded_on_read_error, t_sd_notify], setup, budget=120)
