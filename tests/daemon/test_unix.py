"""daemon_unix: --unix PATH serves the same protocol on a Unix stream socket,
next to TCP."""

import os
import socket
import stat
import subprocess

import eligtest as et


class UnixCtx(et.Ctx):
    def __init__(self):
        super().__init__(snap_id="unix-snap")
        self.path = os.path.join(self.dir, "eligd.sock")
        self.d = self.daemon(unix=self.path).start()


def setup():
    return UnixCtx()


def t_socket_file(ctx):
    et.wait_until(lambda: os.path.exists(ctx.path), 5, "unix socket %s exists" % ctx.path)
    assert stat.S_ISSOCK(os.stat(ctx.path).st_mode), "%s is not a socket" % ctx.path


def t_methods_over_unix(ctx):
    with et.Conn(path=ctx.path) as c:
        assert c.ok("ping", []) == "pong"
        for case in et.CASES:
            et.check_answer(c.ok("check", et.case_params(case)), case, ctx.snap_id, where="unix")
        res = c.ok("check_batch", [[et.case_params(k) for k in et.CASES]])
        for i, (a, case) in enumerate(zip(res, et.CASES)):
            et.check_answer(a, case, ctx.snap_id, where="unix batch item %d" % i)
        h = c.ok("household", ["kk", et.KK1])
        assert h["kk"] == et.KK1 and h["members"] == 3, "household over unix: %r" % (h,)
        info = c.ok("info", [])
        assert info["snapshot"] == ctx.snap_id
        c.error("Ping", [], et.UNKNOWN_METHOD)
        c.error("check", ["NIK", et.N1, "PKH", "2024-01"], et.BAD_REQUEST)


def t_pipeline_over_unix(ctx):
    n = 500
    with et.Conn(path=ctx.path) as c:
        c.send(b"".join(et.req(i, "check", et.case_params(et.CASES[i % len(et.CASES)]))
                        for i in range(n)))
        for i in range(n):
            err, res = c.response(i)
            et.check_answer(res, et.CASES[i % len(et.CASES)], ctx.snap_id, where="unix #%d" % i)


def t_tcp_and_unix_together(ctx):
    with et.Conn(path=ctx.path) as u, ctx.d.conn() as t:
        assert u.ok("ping", []) == "pong" and t.ok("ping", []) == "pong"
        et.wait_until(lambda: t.ok("info", [])["connections"] == 2, 5,
                      "info.connections == 2 with one TCP and one Unix connection open")


def t_garbage_over_unix(ctx):
    with et.Conn(path=ctx.path) as other, et.Conn(path=ctx.path) as bad:
        bad.send(b"\xc1")
        got = bad.expect_closed(5.0, "0xc1 over unix")
        assert got == [], "answered %r" % (got,)
        assert other.ok("ping", []) == "pong"


def t_stop(ctx):
    ctx.d.stop()
    assert not os.path.exists(ctx.path), "socket file %s left behind after a clean exit" % ctx.path


def t_stale_socket_file_replaced(ctx):
    # A socket file left by a crashed run does not stop the next start.
    path = os.path.join(ctx.dir, "stale.sock")
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(path)
    s.close()  # the file stays, nobody listens
    assert os.path.exists(path)
    with ctx.daemon(unix=path, name="stale") as d:
        with et.Conn(path=path) as c:
            assert c.ok("ping", []) == "pong", "serving on a path that held a stale socket"
        d.stop()


def t_regular_file_not_clobbered(ctx):
    # Anything but a socket at --unix PATH is an error, and is left alone.
    path = os.path.join(ctx.dir, "precious.txt")
    with open(path, "w") as f:
        f.write("keep me\n")
    p = subprocess.run([et.ELIGD, "--snapshot", ctx.snapshot, "--listen", "127.0.0.1:0",
                        "--unix", path], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=10)
    assert p.returncode == 1, "--unix on a regular file: exit %d, want 1; stderr %r" % (
        p.returncode, p.stderr)
    assert p.stderr.strip(), "--unix on a regular file: nothing on stderr"
    with open(path) as f:
        assert f.read() == "keep me\n", "--unix clobbered the regular file at its path"


if __name__ == "__main__":
    et.main([t_socket_file, t_methods_over_unix, t_pipeline_over_unix, t_tcp_and_unix_together,
             t_garbage_over_unix, t_stop, t_stale_socket_file_replaced,
             t_regular_file_not_clobbered], setup=setup)
