"""daemon_auth: access control of SPEC 6 over plain TCP.

Channels, tokens and grants are made here; what a restricted channel may
see is compared with what an unrestricted Unix-socket connection (no
--unix-auth) is answered for the same query, and with the answer map
SPEC 3 gives for not_found, written out by hand."""

import hashlib
import os
import signal
import socket
import subprocess
import threading
import time

import msgpack

import eligtest as et

UNAUTHORIZED, RATE_LIMITED = 4, 6  # SPEC 3

# Tokens: random, 128+ bits (hex of 16+ bytes), as elig-token makes them.
T_FULL = os.urandom(32).hex()
T_JABAR = os.urandom(32).hex()
T_SLOW = os.urandom(32).hex()
T_LATE = os.urandom(16).hex()
T_OPS = os.urandom(32).hex()


def sha(token):
    return hashlib.sha256(token.encode()).hexdigest()


def channels(jabar_token=T_JABAR, late=False):
    text = """# channels of the auth tests
[channel full]
token_sha256 = %s
methods      = check, check_batch, household, info
programs     = *
regions      = *

[channel ewarong-jabar]
token_sha256 = %s
methods      = check, household
programs     = PKH
regions      = 32, 9999

[channel slow]
token_sha256 = %s
methods      = check, check_batch
programs     = *
regions      = *
rate         = 20
burst        = 20

[channel ops]
token_sha256 = %s
methods      = reload, info
programs     = *
regions      = *
""" % (sha(T_FULL), sha(jabar_token), sha(T_SLOW), sha(T_OPS))
    if late:
        text += "\n[channel late]\ntoken_sha256 = %s\nmethods = check\nprograms = *\nregions = *\n" % sha(T_LATE)
    return text


class AuthCtx(et.Ctx):
    def __init__(self):
        super().__init__(snap_id="auth-snap")
        self.auth_file = os.path.join(self.dir, "channels.conf")
        self.write(channels())
        self.sock = os.path.join(self.dir, "eligd.sock")
        self.d = self.daemon("--auth-file", self.auth_file, unix=self.sock, log_level="debug").start()

    def write(self, text):
        tmp = self.auth_file + ".tmp"
        with open(tmp, "w") as f:
            f.write(text)
        os.rename(tmp, self.auth_file)

    def unix(self):
        return et.Conn(path=self.sock)

    def info(self):
        with self.unix() as u:
            return u.ok("info", [])

    def authed(self, channel, token):
        c = self.d.conn()
        assert c.ok("auth", [channel, token]) is True, "auth as %s" % channel
        return c


def setup():
    return AuthCtx()


ALL_CALLS = [
    ("check", ["nik", et.N1, "PKH", "2024-01"]),
    ("check_batch", [[["nik", et.N1, "PKH", "2024-01"]]]),
    ("household", ["nik", et.N1]),
    ("info", []),
    ("reload", []),
    # malformed params must not tell an unauthenticated client anything either
    ("check", ["NIK", "12", "pkh", "x"]),
    ("check_batch", [[1, 2, 3]]),
]


def t_every_method_refused_before_auth(ctx):
    with ctx.d.conn() as c:
        for method, params in ALL_CALLS:
            msg = c.error(method, params, UNAUTHORIZED, what="before auth: %s %r" % (method, params))
            assert "auth" in msg, "message %r does not say to authenticate" % msg
        assert c.ok("ping", []) == "pong"
        assert c.ok("auth", ["full", T_FULL]) is True
        assert c.ok("check", ["nik", et.N1, "PKH", "2024-01"])["reason"] == "eligible"


def t_wrong_token_unknown_channel_third_failure_closes(ctx):
    with ctx.d.conn() as c:
        c.error("auth", ["full", T_JABAR], UNAUTHORIZED, what="another channel's token")
        c.error("auth", ["nobody", T_FULL], UNAUTHORIZED, what="unknown channel")
        # A third failure is answered, then the connection closes; a request
        # pipelined behind it is never answered.
        c.send(et.req(50, "auth", ["full", T_FULL + "0"]) + et.req(51, "ping", []))
        got = c.expect_closed(what="after the third failed auth")
        assert len(got) == 1 and got[0][1] == 50 and got[0][2][0] == UNAUTHORIZED, \
            "want only the error to msgid 50 before the close, got %r" % (got,)
    # Two failures, then the right token: authenticated (failures are per connection).
    with ctx.d.conn() as c:
        c.error("auth", ["full", "x"], UNAUTHORIZED)
        c.error("auth", ["full", T_FULL.upper()], UNAUTHORIZED, what="token compared exactly")
        assert c.ok("auth", ["full", T_FULL]) is True
        assert c.ok("info", [])["snapshot"] == ctx.snap_id
    # Other connections are unharmed, and params of the wrong shape are bad_request.
    with ctx.authed("full", T_FULL) as c:
        c.error("auth", ["full"], et.BAD_REQUEST)
        c.error("auth", ["full", 5], et.BAD_REQUEST)
        assert c.ok("ping", []) == "pong"
    assert "auth failed for channel 'nobody' (unknown channel)" in ctx.d.log()


def t_grant_methods(ctx):
    with ctx.unix() as u:  # `reload` comes with SPEC 9; granted only when named
        has_reload = u.call("reload", [])[0] != [et.UNKNOWN_METHOD, "unknown method 'reload'"]
    with ctx.authed("ewarong-jabar", T_JABAR) as c:
        for method, params in (("info", []), ("check_batch", [[]])) + ((("reload", []),) if has_reload else ()):
            msg = c.error(method, params, UNAUTHORIZED, what="jabar %s" % method)
            assert method in msg, "message %r does not name the method" % msg
        assert c.ok("household", ["kk", et.KK1])["kk"] == et.KK1
        c.error("Check", [], et.UNKNOWN_METHOD)
    with ctx.authed("slow", T_SLOW) as c:
        c.error("household", ["kk", et.KK1], UNAUTHORIZED)


def t_reload_only_when_granted(ctx):
    """`reload` over TCP: only for a channel that names it (SPEC 6, 9)."""
    with ctx.unix() as u:
        if u.call("reload", [])[0] == [et.UNKNOWN_METHOD, "unknown method 'reload'"]:
            return  # no reload method in this build (SPEC 9 not merged)
    with ctx.authed("full", T_FULL) as c:
        assert "reload" in c.error("reload", [], UNAUTHORIZED)
    with ctx.authed("ops", T_OPS) as c:
        res = c.ok("reload", [])
        assert isinstance(res, dict) and res.get("snapshot") == ctx.snap_id, res
        assert c.ok("info", [])["reload_error"] is None
        c.error("check", ["kk", et.KK1, "PKH", "2024-01"], UNAUTHORIZED)


def t_grant_programs(ctx):
    with ctx.authed("ewarong-jabar", T_JABAR) as c:
        assert c.ok("check", ["kk", et.KK1, "PKH", "2024-01"])["reason"] == "eligible"
        msg = c.error("check", ["kk", et.KK1, "BPNT", "2025-05"], UNAUTHORIZED)
        assert "BPNT" in msg, msg
    with ctx.authed("full", T_FULL) as c:
        assert c.ok("check", ["kk", et.KK1, "BPNT", "2025-05"])["reason"] == "eligible"
    with ctx.authed("slow", T_SLOW) as c:
        assert len(c.ok("check_batch", [[["kk", et.KK1, "BPNT", "2025-05"]]])) == 1


NOT_FOUND = {"eligible": False, "reason": "not_found", "kk": None, "region": None, "amount": 0}


def raw_response(conn_factory, msgid, method, params):
    """The exact bytes of the response to one request on a fresh connection."""
    with conn_factory() as c:
        c.send(et.req(msgid, method, params))
        buf = b""
        deadline = time.monotonic() + 5
        while True:
            u = msgpack.Unpacker(raw=False)
            u.feed(buf)
            try:
                next(u)
                return buf
            except StopIteration:
                pass
            assert time.monotonic() < deadline, "no response"
            c.sock.settimeout(5)
            data = c.sock.recv(65536)
            assert data, "closed"
            buf += data


def t_grant_regions(ctx):
    # ewarong-jabar sees regions 32* (and 9999*, where nobody lives): KK1-KK5
    # are in 3201..., KK6 in 7371..., KK7 in 1101... (eligtest.REGION).
    with ctx.authed("ewarong-jabar", T_JABAR) as c, ctx.unix() as u:
        n_hidden = n_shown = 0
        for case in et.CASES:
            if case[2] != "PKH":
                continue
            params = et.case_params(case)
            mine, full = c.ok("check", params), u.ok("check", params)
            kk = case[5]
            if kk is not None and et.REGION[kk].startswith("32"):
                assert mine == full, "%r: %r, unrestricted %r" % (params, mine, full)
                n_shown += 1
            else:
                want = dict(NOT_FOUND, snapshot=ctx.snap_id)
                assert mine == want, "%r outside the grant: %r, want %r" % (params, mine, want)
                n_hidden += kk is not None
        assert n_hidden >= 3 and n_shown >= 10, (n_hidden, n_shown)
        # household: nil outside, the same map inside
        assert c.ok("household", ["nik", et.N8]) is None
        assert c.ok("household", ["kks", et.KKS7]) is None
        assert u.ok("household", ["nik", et.N8])["kk"] == et.KK6
        assert c.ok("household", ["nik", et.N1]) == u.ok("household", ["nik", et.N1])
    # Byte for byte: a family elsewhere reads exactly as an id that names
    # nothing (same msgid, so the responses must be identical).
    def jabar():
        return ctx.authed("ewarong-jabar", T_JABAR)
    elsewhere = raw_response(jabar, 9, "check", ["nik", et.N8, "PKH", "2024-01"])
    nothing = raw_response(jabar, 9, "check", ["nik", "3201011501909999", "PKH", "2024-01"])
    assert elsewhere == nothing, "%r != %r" % (elsewhere, nothing)
    assert raw_response(jabar, 9, "household", ["kk", et.KK6]) == \
        raw_response(jabar, 9, "household", ["kk", "3201010000000099"])


def t_rate_limit_across_threads_and_connections(ctx):
    """slow: rate 20/s, burst 20, shared by 4 connections on 2 client
    threads (and the daemon's 2 worker threads); a batch item counts one."""
    time.sleep(1.1)  # whatever earlier tests took from the bucket is back
    with ctx.authed("slow", T_SLOW) as c:
        res = c.ok("check_batch", [[["kk", et.KK1, "PKH", "2024-01"]] * 20])  # the whole burst
        assert len(res) == 20
        msg = c.error("check", ["kk", et.KK1, "PKH", "2024-01"], RATE_LIMITED)
        ms = int(msg.split("retry after ")[1].split(" ms")[0])
        assert 1 <= ms <= 50, "retry after %d ms, want 1-50 (one request every 50 ms)" % ms
        msg = c.error("check_batch", [[["kk", et.KK1, "PKH", "2024-01"]] * 21], RATE_LIMITED)
        assert "burst" in msg, msg
    time.sleep(1.1)  # the bucket refills: 20 more
    duration = 1.5
    ok = [0] * 2
    limited = [0] * 2
    other_errors = []
    start = time.monotonic()

    def hammer(i):
        conns = [ctx.authed("slow", T_SLOW) for _ in range(2)]
        try:
            while time.monotonic() - start < duration:
                for c in conns:
                    err, res = c.call("check", ["kk", et.KK1, "PKH", "2024-01"])
                    if err is None:
                        ok[i] += 1
                    elif err[0] == RATE_LIMITED:
                        limited[i] += 1
                    else:
                        other_errors.append(err)
        finally:
            for c in conns:
                c.close()

    # Meanwhile another channel is not limited at all.
    full_ok = [0]

    def other():
        with ctx.authed("full", T_FULL) as c:
            while time.monotonic() - start < duration:
                assert c.ok("check", ["kk", et.KK1, "PKH", "2024-01"])["reason"] == "eligible"
                full_ok[0] += 1

    threads = [threading.Thread(target=hammer, args=(i,)) for i in range(2)]
    threads.append(threading.Thread(target=other))
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    elapsed = time.monotonic() - start
    total = sum(ok)
    allowed = 20 + 20 * elapsed  # burst + rate x time
    assert not other_errors, other_errors[:3]
    assert sum(limited) > 0, "never rate limited"
    assert total <= allowed + 2, "%d answered in %.2fs, more than burst + rate x time = %.0f" % (
        total, elapsed, allowed)
    assert total >= 20 + 20 * duration * 0.5, "only %d answered in %.2fs" % (total, elapsed)
    assert ok[0] > 0 and ok[1] > 0, "one thread starved: %r" % ok
    assert full_ok[0] > sum(ok), "channel full answered %d, not more than the limited %d" % (full_ok[0], total)


def wait_reload(ctx, pred, what):
    def done():
        info = ctx.info()
        return info if pred(info) else None
    return et.wait_until(done, 10, what)


def t_auth_file_reload(ctx):
    new_jabar = os.urandom(32).hex()
    old_jabar = ctx.authed("ewarong-jabar", T_JABAR)
    with ctx.d.conn() as c:
        c.error("auth", ["late", T_LATE], UNAUTHORIZED)
    # A good file: a new channel, and jabar's token rotated.
    ctx.write(channels(jabar_token=new_jabar, late=True))
    ctx.d.send_signal(signal.SIGHUP)
    et.wait_until(lambda: is_late_ok(ctx), 10, "the new channel authenticates after SIGHUP")
    assert ctx.info()["reload_error"] is None
    # The rotated token no longer works, on new connections nor on the one
    # that authenticated with it.
    with ctx.d.conn() as c:
        c.error("auth", ["ewarong-jabar", T_JABAR], UNAUTHORIZED)
        assert c.ok("auth", ["ewarong-jabar", new_jabar]) is True
    et.wait_until(lambda: old_jabar.call("check", ["kk", et.KK1, "PKH", "2024-01"])[0] is not None, 5,
                  "the connection authenticated with the rotated token is refused")
    assert old_jabar.call("household", ["kk", et.KK1])[0][0] == UNAUTHORIZED
    old_jabar.close()
    full = ctx.authed("full", T_FULL)
    # A bad file: the old channels stay, reload_error and the log say why.
    bad = channels(jabar_token=new_jabar, late=True) + "\n[channel full]\ntoken_sha256 = 00\n"
    ctx.write(bad)
    bad_line = bad.count("\n") - 1  # the duplicate [channel full] header
    ctx.d.send_signal(signal.SIGHUP)
    info = wait_reload(ctx, lambda i: i["reload_error"] is not None, "reload_error after a bad auth file")
    err = info["reload_error"]
    assert "auth file" in err and "%s:%d:" % (ctx.auth_file, bad_line) in err and "duplicate" in err, err
    assert "auth file reload failed" in ctx.d.log()
    assert full.ok("check", ["kk", et.KK1, "PKH", "2024-01"])["reason"] == "eligible"
    with ctx.d.conn() as c:
        assert c.ok("auth", ["late", T_LATE]) is True
    assert info["snapshot"] == ctx.snap_id  # the snapshot reloaded fine
    # Fixed again: the error clears.
    ctx.write(channels())
    ctx.d.send_signal(signal.SIGHUP)
    wait_reload(ctx, lambda i: i["reload_error"] is None, "reload_error cleared by a good auth file")
    full.close()


def is_late_ok(ctx):
    with ctx.d.conn() as c:
        err, res = c.call("auth", ["late", T_LATE])
        return err is None and res is True


def t_unix_socket_and_unix_auth(ctx):
    with ctx.unix() as u:
        assert u.ok("household", ["kk", et.KK6])["kk"] == et.KK6  # no auth, every region
    sock = os.path.join(ctx.dir, "strict.sock")
    with ctx.daemon("--auth-file", ctx.auth_file, "--unix-auth", unix=sock, name="strict") as d:
        with et.Conn(path=sock) as u:
            u.error("info", [], UNAUTHORIZED)
            assert u.ok("auth", ["full", T_FULL]) is True
            assert u.ok("info", [])["snapshot"] == ctx.snap_id


def run_eligd(*args, timeout=15):
    return subprocess.run([et.ELIGD, *args], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, timeout=timeout)


def t_protected_mode(ctx):
    for listen in ("0.0.0.0:7420", "[::]:7420"):
        p = run_eligd("--snapshot", ctx.snapshot, "--listen", listen)
        err = p.stderr.decode()
        assert p.returncode == 2, "--listen %s without --auth-file: exit %d, want 2\n%s" % (
            listen, p.returncode, err)
        assert "--auth-file" in err and "protected mode" in err and len(err.strip().splitlines()) <= 2, err
    p = run_eligd("--snapshot", ctx.snapshot, "--listen", "127.0.0.1:0", "--tls-listen", "0.0.0.0:0",
                  "--tls-cert", "x", "--tls-key", "y")
    assert p.returncode == 2 and "--tls-listen" in p.stderr.decode(), p.stderr.decode()
    # Allowed: loopback, an auth file, or --insecure-open (checked without
    # binding, with --check-config).
    for args in (["--listen", "127.0.0.5:0"], ["--listen", "localhost:0"],
                 ["--listen", "0.0.0.0:0", "--auth-file", ctx.auth_file],
                 ["--listen", "0.0.0.0:0", "--insecure-open"]):
        p = run_eligd("--snapshot", ctx.snapshot, "--check-config", *args)
        assert p.returncode == 0, "%r: exit %d\n%s" % (args, p.returncode, p.stderr.decode())
    # The start-up line says which mode is on.
    assert "access: channels from %s" % ctx.auth_file in ctx.d.log(tail=10 ** 7)
    with ctx.daemon(name="protected") as d:
        assert "protected mode" in d.log(), d.log()
    # A bad auth file at start-up: exit 1 naming the file and line.
    bad = os.path.join(ctx.dir, "bad.conf")
    with open(bad, "w") as f:
        f.write("[channel a]\nflavour = x\n")
    p = run_eligd("--snapshot", ctx.snapshot, "--listen", "127.0.0.1:0", "--auth-file", bad)
    assert p.returncode == 1 and "%s:2: unknown key 'flavour'" % bad in p.stderr.decode(), p.stderr.decode()


def t_token_never_shown(ctx):
    """Not in the log (debug level), not in info, not in the process list."""
    with ctx.authed("full", T_FULL) as c:
        info = c.ok("info", [])
        c.error("auth", ["slow", T_FULL], UNAUTHORIZED)
    with ctx.d.conn() as c:
        c.error("auth", ["nobody", T_SLOW], UNAUTHORIZED)
    time.sleep(0.1)
    log = ctx.d.log(tail=10 ** 7)
    assert "debug" in log and "authenticated as channel full" in log
    blob = repr(info) + log
    with open("/proc/%d/cmdline" % ctx.d.pid, "rb") as f:
        blob += f.read().decode(errors="replace")
    ps = subprocess.run(["ps", "-eo", "args"], stdout=subprocess.PIPE, timeout=10).stdout.decode()
    for name, t in (("T_FULL", T_FULL), ("T_SLOW", T_SLOW), ("T_JABAR", T_JABAR)):
        assert t not in blob, "token %s shows in the log, info or cmdline" % name
        assert t not in ps, "token %s shows in ps" % name
        assert t[:16] not in blob, "part of token %s shows" % name


if __name__ == "__main__":
    et.main([t_every_method_refused_before_auth,
              t_wrong_token_unknown_channel_third_failure_closes,
              t_grant_methods,
              t_reload_only_when_granted,
              t_grant_programs,
              t_grant_regions,
              t_rate_limit_across_threads_and_connections,
              t_auth_file_reload,
              t_unix_socket_and_unix_auth,
              t_protected_mode,
              t_token_never_shown], setup=setup, budget=150)
