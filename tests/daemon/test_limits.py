"""daemon_limits: --max-message, --max-batch, --max-connections,
--idle-timeout, and --max-output/--output-timeout (a client that writes but
never reads is paused, then closed, while the others go on; memory stays
bounded)."""

import select
import socket
import threading
import time

import eligtest as et
from eligtest import BAD_REQUEST, TOO_LARGE

GOOD = ["nik", et.N1, "PKH", "2024-01"]
MiB = 1024 * 1024


def setup():
    return et.Ctx(snap_id="limits-snap", daemon_args=())


def check_with_id_of_size(msgid, size):
    """A check request of exactly `size` bytes whose id is a long string of
    digits (so a bad_request when it is within the limit)."""
    lo, hi = 1, size
    while lo <= hi:
        mid = (lo + hi) // 2
        data = et.req(msgid, "check", ["nik", "1" * mid, "PKH", "2024-01"])
        if len(data) == size:
            return data
        if len(data) < size:
            lo = mid + 1
        else:
            hi = mid - 1
    # A str8/str16/str32 boundary can skip a size; pad with the period.
    for extra in range(1, 8):
        for n in range(max(1, lo - 8), lo + 8):
            data = et.req(msgid, "check", ["nik", "1" * n, "PKH", "2024-01" + "x" * extra])
            if len(data) == size:
                return data
    raise AssertionError("cannot build a check of exactly %d bytes" % size)


def batch_of_size(msgid, size):
    """A valid check_batch request of exactly `size` bytes (programmes of
    varying length, all answered not_enrolled or better)."""
    def build(progs):
        return et.req(msgid, "check_batch", [[["kk", et.KK1, p, "2024-01"] for p in progs]])
    progs = []
    while len(build(progs + ["P"])) <= size:
        progs.append("P")
    k = 0
    while len(build(progs)) < size:
        if len(progs[k]) >= 16:
            k += 1
            assert k < len(progs), "cannot pad a batch to %d bytes" % size
            continue
        progs[k] += "X"
    data = build(progs)
    assert len(data) == size, "batch of %d bytes, want %d" % (len(data), size)
    return data, len(progs)


def t_max_message(ctx):
    limit = 4096
    with ctx.daemon("--max-message", str(limit), name="maxmsg") as d, d.conn() as other:
        assert other.ok("ping", []) == "pong"
        with d.conn() as c:
            data, n = batch_of_size(1, limit)
            c.send(data)
            err, res = c.response(1, what="batch of exactly %d bytes" % limit)
            assert err is None and isinstance(res, list) and len(res) == n, \
                "batch of exactly the limit (%d bytes): %r %.200r" % (limit, err, res)
            c.send(check_with_id_of_size(2, limit))
            err, res = c.response(2, what="check of exactly %d bytes" % limit)
            et.check_error(err, res, BAD_REQUEST, "check of exactly the limit")
            # Many small messages in one write, far over the limit together:
            # the limit is per message.
            c.send(b"".join(et.req(100 + i, "check", GOOD) for i in range(500)))
            for i in range(500):
                err, res = c.response(100 + i)
                et.check_answer(res, et.CASES[0], ctx.snap_id, where="small #%d" % i)
        for what, data in (("batch of limit+1 bytes", batch_of_size(3, limit + 1)[0]),
                           ("check of limit+1 bytes", check_with_id_of_size(4, limit + 1)),
                           ("check of 3x the limit", check_with_id_of_size(5, 3 * limit))):
            with d.conn() as c:
                try:
                    c.send(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass
                got = c.expect_closed(5.0, what)
                assert got == [], "%s: answered %r, want closed" % (what, got)
            assert other.ok("ping", []) == "pong", "other connection after %s" % what
        d.stop()


def t_default_max_message(ctx):
    # Default 1 MiB: a message of exactly 1 MiB is read (and is a bad
    # request here), one byte more closes the connection.
    with ctx.d.conn(timeout=10) as c:
        c.send(check_with_id_of_size(1, MiB))
        err, res = c.response(1, what="1 MiB message")
        et.check_error(err, res, BAD_REQUEST, "check of exactly 1 MiB")
        assert c.ok("ping", []) == "pong"
    with ctx.d.conn(timeout=10) as c:
        try:
            c.send(check_with_id_of_size(1, MiB + 1))
        except (BrokenPipeError, ConnectionResetError):
            pass
        got = c.expect_closed(5.0, "1 MiB + 1 message")
        assert got == [], "1 MiB + 1: answered %r, want closed" % (got,)


def t_max_batch(ctx):
    with ctx.daemon("--max-batch", "5", name="maxbatch") as d, d.conn() as c:
        res = c.ok("check_batch", [[GOOD] * 5])
        assert len(res) == 5
        for a in res:
            et.check_answer(a, et.CASES[0], ctx.snap_id)
        c.error("check_batch", [[GOOD] * 6], TOO_LARGE)
        c.error("check_batch", [[None] * 6], TOO_LARGE)
        assert c.ok("check_batch", [[]]) == []
        msg = c.error("check_batch", [[GOOD, GOOD, None]], BAD_REQUEST)
        assert "item 2" in msg, "bad item message %r does not name item 2" % msg
        d.stop()


def refused(d, what):
    """Asserts that a new connection is refused: connect fails, or the
    connection is closed without answering a ping."""
    try:
        c = d.conn(timeout=5)
    except OSError:
        return
    with c:
        try:
            c.send(et.req(1, "ping", []))
        except (BrokenPipeError, ConnectionResetError):
            return
        got = c.expect_closed(5.0, what)
        assert got == [], "%s: answered %r, want it refused" % (what, got)


def t_max_connections(ctx):
    n = 3
    with ctx.daemon("--max-connections", str(n), "--threads", "2", name="maxconn") as d:
        first = [d.conn() for _ in range(n)]
        try:
            for k, c in enumerate(first):
                assert c.ok("ping", []) == "pong", "connection %d of %d" % (k + 1, n)
            refused(d, "connection %d with --max-connections %d" % (n + 1, n))
            extra = []
            for _ in range(10):
                try:
                    extra.append(socket.create_connection(("127.0.0.1", d.port), timeout=5))
                except OSError:
                    pass
            for k, c in enumerate(first):
                et.check_answer(c.ok("check", GOOD), et.CASES[0], ctx.snap_id,
                                where="connection %d after refusals" % (k + 1))
            for s in extra:
                s.settimeout(5)
                try:
                    s.sendall(et.req(1, "ping", []))
                    data = s.recv(100)
                except (ConnectionResetError, BrokenPipeError):
                    data = b""
                except socket.timeout:
                    raise AssertionError("an extra connection neither refused nor closed in 5 s")
                assert data == b"", "an extra connection over the limit was answered: %r" % data
                s.close()
            et.wait_until(lambda: first[0].ok("info", [])["connections"] == n, 5,
                          "info.connections == %d" % n)
            # A freed slot can be taken again.
            first.pop().close()

            def new_conn_works():
                try:
                    c = d.conn(timeout=2)
                except OSError:
                    return None
                try:
                    if c.ok("ping", []) == "pong":
                        return c
                except (AssertionError, OSError):
                    pass
                c.close()
                return None
            c = et.wait_until(new_conn_works, 5, "a new connection after one closed")
            first.append(c)
            refused(d, "a connection over the limit again")
            for c in first:
                assert c.ok("ping", []) == "pong"
        finally:
            for c in first:
                c.close()
        d.stop()


def t_idle_timeout(ctx):
    with ctx.daemon("--idle-timeout", "1", name="idle") as d:
        idle = d.conn()
        half = d.conn()
        half.send(et.req(1, "ping", [])[:3])  # a request never completed
        busy = d.conn()
        # The busy connection keeps talking for 3 s, a request every 0.2 s.
        end = time.monotonic() + 3
        while time.monotonic() < end:
            err, res = busy.call("ping", [])
            assert res == "pong", "a busy connection was cut by the idle timeout: %r %r" % (err, res)
            time.sleep(0.2)
        idle.expect_closed(8.0, "idle connection with --idle-timeout 1")
        half.expect_closed(8.0, "connection idle with half a request")
        assert busy.ok("ping", []) == "pong"
        for c in (idle, half, busy):
            c.close()
        d.stop()


def t_slow_reader(ctx):
    # A client that sends big batches and never reads: its reading is
    # paused past --max-output and it is closed --output-timeout later;
    # the daemon's memory stays bounded and another client is served.
    with ctx.daemon("--max-output", "65536", "--output-timeout", "1", name="slow") as d:
        with d.conn() as warm:
            warm.ok("check_batch", [[GOOD] * 1000])
        rss0 = d.rss_kb()
        n_req = 400
        batch = [et.case_params(et.CASES[i % len(et.CASES)]) for i in range(1000)]
        slow = et.Conn(port=d.port, timeout=2.0, rcvbuf=4096)
        sent = 0
        closed_early = False
        try:
            for i in range(n_req):
                slow.sock.sendall(et.req(i, "check_batch", [batch]))
                sent += 1
        except socket.timeout:
            pass  # reading paused: our writes no longer go through
        except (BrokenPipeError, ConnectionResetError):
            closed_early = True
        rss1 = d.rss_kb()
        with d.conn() as other:
            assert other.ok("ping", []) == "pong", "another client while one is stuck"
            et.check_answer(other.ok("check", GOOD), et.CASES[0], ctx.snap_id)
        time.sleep(4)  # output-timeout is 1 s
        rss2 = d.rss_kb()
        answered = 0
        if not closed_early:
            deadline = time.monotonic() + 20
            while True:
                try:
                    m = slow.recv_msg(max(0.1, deadline - time.monotonic()))
                except et.Closed:
                    break
                except et.Timeout:
                    raise AssertionError("stuck client still connected (%d answers read, %d requests "
                                         "sent), want it closed" % (answered, sent))
                et.check_response(m)
                answered += 1
        slow.close()
        assert answered < sent or sent < n_req, \
            "all %d requests were answered: the client was never cut off" % sent
        grew = max(rss1, rss2) - rss0
        assert grew < 24 * 1024, "VmRSS grew by %d kB for one stuck client (max-output 64 KiB)" % grew
        with d.conn() as c:
            assert c.ok("ping", []) == "pong"
        d.stop()


def t_paused_client_resumes(ctx):
    # Past --max-output the daemon stops reading from a client, but loses
    # nothing: when the client reads again every answer arrives, in order
    # (--output-timeout is long here, so the client is not closed).
    with ctx.daemon("--max-output", "65536", "--output-timeout", "60", name="paused") as d:
        batch = [et.case_params(et.CASES[i % len(et.CASES)]) for i in range(1000)]
        reqs = [et.req(i, "check_batch", [batch]) for i in range(400)]
        ends = []
        total = 0
        for r in reqs:
            total += len(r)
            ends.append(total)
        data = b"".join(reqs)
        with d.conn() as warm:
            warm.ok("check_batch", [batch])
        rss0 = d.rss_kb()
        c = et.Conn(port=d.port, timeout=20, rcvbuf=4096)
        c.sock.setblocking(False)
        off = 0
        while off < len(data):
            _, w, _ = select.select([], [c.sock], [], 1.5)
            if not w:
                break  # the daemon stopped reading
            try:
                off += c.sock.send(data[off:off + 65536])
            except BlockingIOError:
                pass
        assert off < len(data), "the daemon read all %d bytes without the client reading" % len(data)
        rss_paused = d.rss_kb()
        with d.conn() as other:
            assert other.ok("ping", []) == "pong", "another client while one is paused"
        # Finish the request cut in the middle, then read everything.
        full = sum(1 for e in ends if e <= off)
        want = full if off in ends or full == len(reqs) else full + 1
        c.sock.setblocking(True)
        c.sock.settimeout(20)
        rest = data[off:ends[want - 1]] if want > full else b""
        errors = []
        th = threading.Thread(target=lambda: rest and _sendall(c.sock, rest, errors), daemon=True)
        th.start()
        try:
            for i in range(want):
                err, res = c.response(i, timeout=20, what="answer %d of %d after resuming" % (i, want))
                assert err is None and len(res) == len(batch), "answer %d: %r" % (i, err)
                for k in (0, 999):
                    et.check_answer(res[k], et.CASES[k % len(et.CASES)], ctx.snap_id,
                                    where="request %d item %d" % (i, k))
            c.expect_silence(0.3, "after the last answer")
        finally:
            th.join(20)
            c.close()
        assert not errors, "writer: %r" % errors
        assert rss_paused - rss0 < 24 * 1024, "VmRSS grew by %d kB for one paused client" % (
            rss_paused - rss0)
        d.stop()


def _sendall(sock, data, errors):
    try:
        sock.sendall(data)
    except OSError as e:
        errors.append(e)


def t_slow_steady_reader_is_served(ctx):
    # A client that reads slowly but keeps reading is never cut off, even
    # with a small --max-output and --output-timeout: it is not stuck.
    with ctx.daemon("--max-output", "65536", "--output-timeout", "1", name="steady") as d:
        n = 150
        batch = [et.case_params(et.CASES[i % len(et.CASES)]) for i in range(100)]
        c = et.Conn(port=d.port, timeout=20, rcvbuf=8192)
        errors = []

        def writer():
            try:
                for i in range(n):
                    c.sock.sendall(et.req(i, "check_batch", [batch]))
            except OSError as e:
                errors.append(e)
        th = threading.Thread(target=writer, daemon=True)
        th.start()
        try:
            for i in range(n):
                while True:
                    try:
                        m = next(c.unpacker)
                        break
                    except StopIteration:
                        pass
                    time.sleep(0.002)  # a slow reader: 4 KiB at a time
                    c.sock.settimeout(20)
                    try:
                        chunk = c.sock.recv(4096)
                    except (ConnectionResetError, BrokenPipeError):
                        chunk = b""
                    assert chunk, "a slow but steady reader was cut off after %d of %d answers" % (i, n)
                    c.unpacker.feed(chunk)
                et.check_response(m)
                assert m[1] == i and m[2] is None and len(m[3]) == len(batch), \
                    "answer %d: %.200r" % (i, m)
        finally:
            th.join(20)
            c.close()
        assert not errors, "writer: %r" % errors
        d.stop()


if __name__ == "__main__":
    et.main([t_max_message, t_default_max_message, t_max_batch, t_max_connections,
             t_idle_timeout, t_slow_reader, t_paused_client_resumes,
             t_slow_steady_reader_is_served], setup=setup,
            budget=150)
