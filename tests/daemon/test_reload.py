"""daemon_reload: the `reload` method (SPEC 9) and `elig reload`. Allowed on
the Unix socket, refused (unauthorized) over TCP; synchronous: the answer
names the snapshot now serving, and a request pipelined after it is
answered from that snapshot, in order; a failed reload is error 5 with the
reason, the old snapshot still serving; `elig reload` exits 0 or 1
accordingly; SIGHUP still reloads; reloads are counted by result."""

import json
import os
import signal
import subprocess

import eligtest as et
from eligtest import sample, scrape

UNAUTHORIZED, UNAVAILABLE = 4, 5
Q = ["kk", et.KK1, "PKH", "2024-01"]  # amount AMOUNT_A in variant A, AMOUNT_B in B


class Setup(et.Ctx):
    def __init__(self):
        super().__init__(snap_id="snap-A")
        self.snap_b = et.build_snapshot(self.dir, "snap-B", variant="B")
        self.live = os.path.join(self.dir, "live.mdb")
        self.sock = os.path.join(self.dir, "eligd.sock")
        self.flip(self.snapshot)
        self.d = et.Daemon(self.live, "--threads", "2", unix=self.sock, metrics=True,
                           workdir=self.dir, name="reload").start()

    def flip(self, target):
        """Points live.mdb at target, atomically (a deploy's symlink flip)."""
        tmp = self.live + ".new"
        if os.path.lexists(tmp):
            os.unlink(tmp)
        os.symlink(target, tmp)
        os.replace(tmp, self.live)


def elig(ctx, *args, timeout=30):
    assert et.ELIG and os.access(et.ELIG, os.X_OK), "ELIG is not set to the elig command"
    return subprocess.run([et.ELIG] + list(args), stdin=subprocess.DEVNULL, capture_output=True,
                          text=True, timeout=timeout)


def unix_conn(ctx):
    return et.Conn(path=ctx.sock, timeout=10)


def t_pipelined_reload_is_in_order(ctx):
    ctx.flip(ctx.snap_b)
    with unix_conn(ctx) as c:
        # check, reload, check, ping in one write: the first check is
        # answered from A, the reload names B, what follows is from B.
        c.send(et.req(1, "check", Q) + et.req(2, "reload", []) + et.req(3, "check", Q) +
               et.req(4, "ping", []))
        err, a = c.response(1, what="check before the reload")
        assert err is None and a["amount"] == et.AMOUNT_A and a["snapshot"] == "snap-A", a
        err, r = c.response(2, what="reload")
        assert err is None, "reload failed: %r" % (err,)
        assert r == {"snapshot": "snap-B", "content_sha256": None} or (
            set(r) == {"snapshot", "content_sha256"} and r["snapshot"] == "snap-B"), \
            "reload result %r, want {snapshot: snap-B, content_sha256}" % (r,)
        err, b = c.response(3, what="check after the reload")
        assert err is None and b["amount"] == et.AMOUNT_B and b["snapshot"] == "snap-B", b
        err, p = c.response(4, what="ping after the reload")
        assert err is None and p == "pong"
        info = c.ok("info", [])
        assert info["generation"] == 2 and info["reload_error"] is None, info
    # Other connections (over TCP too) see B now.
    with ctx.d.conn() as t:
        assert t.ok("check", Q)["snapshot"] == "snap-B"


def t_two_connections_reload_at_once(ctx):
    ctx.flip(ctx.snapshot)
    with unix_conn(ctx) as a, unix_conn(ctx) as b:
        a.send(et.req(7, "reload", []))
        b.send(et.req(8, "reload", []))
        ra = a.response(7, what="first reload")
        rb = b.response(8, what="second reload")
        assert ra[0] is None and ra[1]["snapshot"] == "snap-A", ra
        assert rb[0] is None and rb[1]["snapshot"] == "snap-A", rb
        assert a.ok("check", Q)["amount"] == et.AMOUNT_A


def t_elig_reload_succeeds(ctx):
    ctx.flip(ctx.snap_b)
    p = elig(ctx, "--unix", ctx.sock, "reload")
    assert p.returncode == 0, "elig reload: exit %d, want 0: %s" % (p.returncode, p.stderr)
    assert p.stdout.strip() == "reloaded: snapshot snap-B", "elig reload printed %r" % p.stdout
    ctx.flip(ctx.snapshot)
    p = elig(ctx, "--unix", ctx.sock, "--json", "reload")
    assert p.returncode == 0, p.stderr
    doc = json.loads(p.stdout)
    assert doc["snapshot"] == "snap-A" and "content_sha256" in doc, doc


def t_elig_reload_fails(ctx):
    samples, _ = scrape(ctx.d.metrics_url())
    failed0 = sample(samples, "eligd_reloads_total", result="failed")
    ok0 = sample(samples, "eligd_reloads_total", result="ok")
    garbage = os.path.join(ctx.dir, "garbage.mdb")
    with open(garbage, "wb") as f:
        f.write(b"not a snapshot\n" * 100)
    ctx.flip(garbage)
    p = elig(ctx, "--unix", ctx.sock, "reload")
    assert p.returncode == 1, "elig reload of garbage: exit %d, want 1: %s %s" % (
        p.returncode, p.stdout, p.stderr)
    err = p.stderr.strip()
    assert len(err.splitlines()) == 1 and err.startswith("elig: reload: "), "stderr %r" % err
    assert "live.mdb" in err and "LMDB" in err, "the reason %r does not name the file and why" % err
    # The old snapshot keeps serving; info says why the reload failed.
    with ctx.d.conn() as c:
        assert c.ok("check", Q)["snapshot"] == "snap-A"
        info = c.ok("info", [])
    assert info["reload_error"] and "live.mdb" in info["reload_error"], info
    with unix_conn(ctx) as c:
        msg = c.error("reload", [], UNAVAILABLE)
        assert "live.mdb" in msg, "reload error %r does not name the file" % msg
    samples, _ = scrape(ctx.d.metrics_url())
    assert sample(samples, "eligd_reloads_total", result="failed") == failed0 + 2
    assert sample(samples, "eligd_reloads_total", result="ok") == ok0
    ctx.flip(ctx.snapshot)


def t_reload_refused_over_tcp(ctx):
    p = elig(ctx, "--server", "127.0.0.1:%d" % ctx.d.port, "reload")
    assert p.returncode == 1, "elig reload over TCP: exit %d, want 1" % p.returncode
    assert "unix" in p.stderr.lower() and "code 4" in p.stderr, "stderr %r" % p.stderr
    with ctx.d.conn() as c:
        c.error("reload", [], UNAUTHORIZED)
        c.ok("ping", [])


def t_reload_params(ctx):
    with unix_conn(ctx) as c:
        c.error("reload", [1], 1)
        c.error("reload", ["now"], 1)
        # A notification is never executed.
        c.send(et.notify("reload", []))
        assert c.ok("ping", []) == "pong"
    with ctx.d.conn() as c:
        assert c.ok("info", [])["generation"] >= 2


def t_sighup_still_reloads(ctx):
    gen = ctx.d.info()["generation"]
    ctx.flip(ctx.snap_b)
    ctx.d.send_signal(signal.SIGHUP)
    et.wait_until(lambda: ctx.d.info()["generation"] == gen + 1, 10, "generation +1 after SIGHUP")
    with ctx.d.conn() as c:
        assert c.ok("check", Q)["amount"] == et.AMOUNT_B
    ctx.d.stop()


if __name__ == "__main__":
    et.main([t_pipelined_reload_is_in_order, t_two_connections_reload_at_once, t_elig_reload_succeeds,
             t_elig_reload_fails, t_reload_refused_over_tcp, t_reload_params, t_sighup_still_reloads],
            Setup, budget=120)
