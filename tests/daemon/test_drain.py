"""daemon_drain: SIGTERM and SIGINT stop accepting, answer everything that
was received, flush, close and exit 0 within --drain-timeout, even with an
idle client or a client that never reads."""

import signal
import socket
import threading
import time

import eligtest as et

GOOD = ["nik", et.N1, "PKH", "2024-01"]
N_CASES = len(et.CASES)


def setup():
    return et.Ctx(snap_id="drain-snap")


def pipelined(n):
    data = bytearray()
    for i in range(n):
        case = et.CASES[i % N_CASES]
        if i % 10 == 5:
            data += et.req(i, "check_batch", [[et.case_params(case)] * 3])
        else:
            data += et.req(i, "check", et.case_params(case))
    return bytes(data)


def check_pipelined(c, n, snap, timeout=15):
    for i in range(n):
        err, res = c.response(i, timeout=timeout, what="request #%d of %d after the signal" % (i, n))
        assert err is None, "#%d: error %r during drain" % (i, err)
        case = et.CASES[i % N_CASES]
        for a in (res if i % 10 == 5 else [res]):
            et.check_answer(a, case, snap, where="#%d during drain" % i)


def not_served(port, what, timeout=15):
    """A connection made now is refused, or closed without an answer."""
    try:
        c = et.Conn(port=port, timeout=timeout)
    except OSError:
        return
    with c:
        try:
            c.send(et.req(1, "ping", []))
        except (BrokenPipeError, ConnectionResetError):
            return
        got = c.expect_closed(timeout, what)
        assert got == [], "%s: served %r" % (what, got)


def drain_with(ctx, sig, name):
    n = 3000
    with ctx.daemon("--drain-timeout", "5", name=name) as d:
        busy = d.conn(timeout=15)
        idle = d.conn(timeout=15)
        assert idle.ok("ping", []) == "pong"
        busy.send(pipelined(n))
        time.sleep(0.3)  # let the bytes reach the daemon's socket
        t_sig = time.monotonic()
        d.send_signal(sig)
        time.sleep(0.5)
        not_served(d.port, "a new connection after signal %d" % sig)
        check_pipelined(busy, n, ctx.snap_id)
        busy.expect_closed(10, "the busy connection after drain")
        idle.expect_closed(10, "the idle connection after drain")
        rc = d.wait(5 + 10 - (time.monotonic() - t_sig))
        assert rc == 0, "eligd exited %d after signal %d, want 0\n%s" % (rc, sig, d.log())
        busy.close()
        idle.close()


def t_sigterm_drains(ctx):
    drain_with(ctx, signal.SIGTERM, "term")


def t_sigint_drains(ctx):
    drain_with(ctx, signal.SIGINT, "int")


def t_drain_with_large_output(ctx):
    # Answers much larger than the socket buffers are still all delivered:
    # the reader reads while the daemon drains.
    with ctx.daemon("--drain-timeout", "8", name="large") as d:
        c = d.conn(timeout=20)
        items = [et.case_params(et.CASES[i % N_CASES]) for i in range(5000)]
        n = 8
        data = b"".join(et.req(i, "check_batch", [items]) for i in range(n))
        errors = []

        def writer():
            try:
                c.sock.sendall(data)
                time.sleep(0.3)
                d.send_signal(signal.SIGTERM)
            except Exception as e:
                errors.append(e)
        th = threading.Thread(target=writer, daemon=True)
        th.start()
        try:
            for i in range(n):
                err, res = c.response(i, timeout=20, what="batch #%d" % i)
                assert err is None and len(res) == len(items), "batch #%d: %r" % (i, err)
                for k in (0, 1, 2499, 4999):
                    et.check_answer(res[k], et.CASES[k % N_CASES], ctx.snap_id,
                                    where="batch #%d item %d" % (i, k))
        finally:
            th.join(20)
        assert not errors, "writer: %r" % errors
        c.expect_closed(10, "after the last large answer")
        c.close()
        rc = d.wait(20)
        assert rc == 0, "exit %d, want 0\n%s" % (rc, d.log())


def t_drain_timeout_bounds_a_stuck_client(ctx):
    # A client that never reads cannot hold the daemon past --drain-timeout.
    with ctx.daemon("--drain-timeout", "2", name="stuck") as d:
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        s.settimeout(2)
        s.connect(("127.0.0.1", d.port))
        items = [GOOD] * 2000
        try:
            for i in range(200):
                s.sendall(et.req(i, "check_batch", [items]))
        except (socket.timeout, BrokenPipeError, ConnectionResetError):
            pass
        d.send_signal(signal.SIGTERM)
        try:
            rc = d.wait(2 + 10)
        finally:
            s.close()
        assert rc == 0, "exit %d after a drain that timed out, want 0\n%s" % (rc, d.log())


def t_idle_daemon_exits(ctx):
    with ctx.daemon(name="quiet") as d:
        with d.conn() as c:
            assert c.ok("ping", []) == "pong"
        d.stop(signal.SIGTERM, timeout=10)


if __name__ == "__main__":
    et.main([t_sigterm_drains, t_sigint_drains, t_drain_with_large_output,
             t_drain_timeout_bounds_a_stuck_client, t_idle_daemon_exits], setup=setup, budget=150)
