"""daemon_fd_limit: issue 13, defect 3 (--max-connections vs the file
descriptor limit).

Under `ulimit -n 48` with the default --max-connections (10000), 29 of 60
clients used to hang unanswered with nothing logged: accept failed for
want of descriptors while the kernel kept completing handshakes. eligd now
raises its soft RLIMIT_NOFILE as far as the hard limit allows, and when
that is not enough lowers the effective maximum and says so; past it, a
connection is closed at once.

Here eligd runs with soft = hard = 48 (so it cannot raise it), 60 clients
connect at once and each sends a ping: every one is either answered or
closed within a bounded wait, none hangs, at least one is answered, and
the log names the lowered maximum."""

import re
import select
import signal
import resource
import socket
import time

import eligtest as et

LIMIT = 48
N_CLIENTS = 60


def setup():
    return et.Ctx(snap_id="fdlimit-snap")


def nofile(soft, hard):
    """A preexec: RLIMIT_NOFILE as `ulimit -n` would leave it."""
    return lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def fates(socks, seconds):
    """For clients that each sent a ping: 'answered', 'closed' or 'hung'
    (neither within `seconds`), all watched at once."""
    out = ["hung"] * len(socks)
    unpackers = [et.msgpack.Unpacker(raw=False) for _ in socks]
    waiting = {s.fileno(): k for k, s in enumerate(socks)}
    deadline = time.monotonic() + seconds
    while waiting and time.monotonic() < deadline:
        ready, _, _ = select.select(list(waiting), [], [], max(0.0, deadline - time.monotonic()))
        for fd in ready:
            k = waiting[fd]
            try:
                data = socks[k].recv(4096)
            except OSError:
                data = b""
            if not data:
                out[k] = "closed"
                del waiting[fd]
                continue
            unpackers[k].feed(data)
            for m in unpackers[k]:
                et.check_response(m, "ping under ulimit -n %d" % LIMIT)
                assert m[2] is None and m[3] == "pong", "ping answered %r" % (m,)
                out[k] = "answered"
                del waiting[fd]
                break
    return out


def t_defect3_fd_limit_every_client_answered_or_closed(ctx):
    for threads in (2, 4):
        fd_limited(ctx, threads)


def fd_limited(ctx, threads):
    d = ctx.daemon("--threads", str(threads), name="fdlimit", preexec=nofile(LIMIT, LIMIT))
    with d:
        with open("/proc/%d/limits" % d.pid) as f:
            limits = f.read()
        assert re.search(r"Max open files\s+%d\s+%d" % (LIMIT, LIMIT), limits), \
            "eligd does not run under ulimit -n %d:\n%s" % (LIMIT, limits)
        socks = []
        for _ in range(N_CLIENTS):
            try:
                s = socket.create_connection(("127.0.0.1", d.port), timeout=5)
            except OSError:
                continue  # refused at connect: clean
            socks.append(s)
        ping = et.req(1, "ping", [])
        for s in socks:
            try:
                s.sendall(ping)
            except OSError:
                pass  # closed already: fate() sees it
        got = fates(socks, 8)
        # With every connection slot taken, a reload still finds the
        # descriptor it needs to open the snapshot.
        if "answered" in got:
            d.send_signal(signal.SIGHUP)
            et.wait_until(lambda: re.search("reloaded snapshot|reload failed", d.log()), 5,
                          "the reload done (logged)")
            c = et.Conn.__new__(et.Conn)
            c.timeout, c.sock, c.next_id, c.eof = 5.0, socks[got.index("answered")], 10, False
            c.unpacker = et.msgpack.Unpacker(raw=False)
            info = c.ok("info", [])
            assert info["reload_error"] is None, "reload with every connection slot taken: %r" % (
                info["reload_error"],)
        for s in socks:
            s.close()
        counts = {k: got.count(k) for k in ("answered", "closed", "hung")}
        print("  --threads %d, %d clients: %r" % (threads, N_CLIENTS, counts), flush=True)
        assert counts["hung"] == 0, "%d of %d clients hung unanswered under ulimit -n %d: %r" % (
            counts["hung"], N_CLIENTS, LIMIT, counts)
        assert counts["answered"] > 0, "no client answered: %r" % counts
        log = d.log()
        m = re.search(r"open-file limit is (\d+): serving at most (\d+) connections instead of "
                      r"--max-connections 10000", log)
        assert m, "the log does not say the maximum was lowered:\n%s" % log
        assert int(m.group(1)) == LIMIT and 0 < int(m.group(2)) < LIMIT, m.group(0)
        # Refused by the count, never by a failing accept(): exactly the
        # maximum the log gave is served.
        assert counts["answered"] == int(m.group(2)), \
            "--threads %d: %d answered, want the %s connections the log announced" % (
                threads, counts["answered"], m.group(2))
        assert "accept failed" not in log, "accept() ran out of descriptors:\n%s" % log
        # Within the lowered maximum the server keeps serving, once it has
        # seen the closes above (its workers take them asynchronously: a
        # connection made at once may still find every slot taken).
        def pong():
            try:
                with d.conn() as c:
                    return c.ok("ping", []) == "pong"
            except (AssertionError, OSError):
                return False
        et.wait_until(pong, 5, "a ping answered after the clients closed")
        d.stop()


def t_soft_limit_raised_to_fit(ctx):
    # Soft 48, hard high enough: eligd raises its soft limit to what
    # --max-connections needs and does not lower the maximum.
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    need = 1000 + 64
    if hard != resource.RLIM_INFINITY and hard < need:
        raise AssertionError("hard RLIMIT_NOFILE %d is below %d: cannot run this test" % (hard, need))

    d = ctx.daemon("--max-connections", "1000", name="fdsoft", preexec=nofile(LIMIT, hard))
    with d:
        with open("/proc/%d/limits" % d.pid) as f:
            m = re.search(r"Max open files\s+(\d+)", f.read())
        assert m and int(m.group(1)) >= need, "soft limit %s, want raised to >= %d" % (
            m and m.group(1), need)
        assert "serving at most" not in d.log(), "maximum lowered although the hard limit allowed it"
        d.stop()


if __name__ == "__main__":
    et.main([t_defect3_fd_limit_every_client_answered_or_closed, t_soft_limit_raised_to_fit],
            setup=setup, budget=60)
