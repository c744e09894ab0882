"""daemon_pipeline: responses come in request order on each connection, with
hundreds of requests in flight; a request split across many tiny writes;
many requests in one write; several pipelining connections at once."""

import socket
import threading
import time

import eligtest as et
from eligtest import BAD_REQUEST, UNKNOWN_METHOD

N_CASES = len(et.CASES)


def setup():
    return et.Ctx(snap_id="pipeline-snap", daemon_args=())


def mixed(i):
    """Request number i of a mixed stream: (method, params, checker)."""
    sel = i % 10
    case = et.CASES[(i * 3) % N_CASES]
    if sel < 6:
        def chk(err, res, snap):
            assert err is None, "check #%d: error %r" % (i, err)
            et.check_answer(res, case, snap, where="#%d" % i)
        return "check", et.case_params(case), chk
    if sel == 6:
        def chk(err, res, snap):
            assert err is None and res == "pong", "ping #%d: %r %r" % (i, err, res)
        return "ping", [], chk
    if sel == 7:
        batch = [et.CASES[(i + k) % N_CASES] for k in range(5)]

        def chk(err, res, snap):
            assert err is None and isinstance(res, list) and len(res) == 5, \
                "check_batch #%d: %r %.200r" % (i, err, res)
            for k, (a, c) in enumerate(zip(res, batch)):
                et.check_answer(a, c, snap, where="#%d item %d" % (i, k))
        return "check_batch", [[et.case_params(c) for c in batch]], chk
    if sel == 8:
        kk = (et.KK1, et.KK3, et.KK5)[i % 3]
        members = {et.KK1: 3, et.KK3: 1, et.KK5: 1}[kk]

        def chk(err, res, snap):
            assert err is None and isinstance(res, dict), "household #%d: %r %r" % (i, err, res)
            assert res.get("kk") == kk and res.get("members") == members, \
                "household #%d: %r, want kk %s with %d members" % (i, res, kk, members)
        return "household", ["kk", kk], chk
    if i % 20 == 9:
        def chk(err, res, snap):
            et.check_error(err, res, BAD_REQUEST, "bad #%d" % i)
        return "check", ["nik", et.N1, "PKH", "2024-00"], chk

    def chk(err, res, snap):
        et.check_error(err, res, UNKNOWN_METHOD, "unknown #%d" % i)
    return "Check", [], chk


def stream(n, first_id=0):
    data = bytearray()
    checks = []
    for i in range(n):
        method, params, chk = mixed(i)
        data += et.req(first_id + i, method, params)
        checks.append(chk)
    return bytes(data), checks


def read_all(c, checks, first_id, snap, timeout=20.0):
    for i, chk in enumerate(checks):
        err, res = c.response(first_id + i, timeout=timeout, what="request #%d" % i)
        chk(err, res, snap)


def t_many_in_one_write(ctx):
    data, checks = stream(1000)
    with ctx.d.conn() as c:
        c.send(data)
        read_all(c, checks, 0, ctx.snap_id)
        c.expect_silence(0.2, "after 1000 answers")


def t_hundreds_in_flight_streaming(ctx):
    # A writer thread keeps sending while the reader checks: up to all 5000
    # in flight at once; msgids wrap near the top of uint32.
    n = 5000
    first = 0xFFFFFFFF - n + 1
    data, checks = stream(n, first)
    errors = []
    with ctx.d.conn(timeout=20) as c:
        def writer():
            try:
                step = 4096
                for off in range(0, len(data), step):
                    c.sock.sendall(data[off:off + step])
            except OSError as e:
                errors.append(e)

        th = threading.Thread(target=writer, daemon=True)
        th.start()
        try:
            read_all(c, checks, first, ctx.snap_id)
        finally:
            th.join(20)
        assert not errors, "writer failed: %r" % errors


def t_request_in_tiny_writes(ctx):
    with ctx.d.conn(nodelay=True) as c:
        # One request, one byte per write.
        data = et.req(42, "check", et.case_params(et.CASES[2]))
        for b in data:
            c.send(bytes([b]))
            time.sleep(0.002)
        err, res = c.response(42)
        assert err is None, "byte-by-byte check: %r" % (err,)
        et.check_answer(res, et.CASES[2], ctx.snap_id, where="byte by byte")
        # Nothing may be answered before the request is complete.
        data = et.req(43, "ping", [])
        c.send(data[:-1])
        c.expect_silence(0.3, "after all but the last byte of a request")
        c.send(data[-1:])
        err, res = c.response(43)
        assert res == "pong", "ping completed late: %r %r" % (err, res)


def t_stream_in_tiny_chunks(ctx):
    # 60 mixed requests cut in 3-byte and 7-byte pieces, so that cuts fall
    # inside headers, inside strings and between messages.
    for piece in (3, 7):
        data, checks = stream(60)
        with ctx.d.conn(nodelay=True) as c:
            for off in range(0, len(data), piece):
                c.send(data[off:off + piece])
                if off % (piece * 16) == 0:
                    time.sleep(0.001)
            read_all(c, checks, 0, ctx.snap_id)


def t_cut_at_every_offset(ctx):
    # A request cut in two at every possible offset, each on a fresh write,
    # all on one connection.
    data = et.req(7, "check_batch", [[et.case_params(et.CASES[0]), et.case_params(et.CASES[-1])]])
    with ctx.d.conn(nodelay=True) as c:
        for cut in range(1, len(data)):
            c.send(data[:cut])
            time.sleep(0.002)
            c.send(data[cut:])
            err, res = c.response(7, what="cut at %d" % cut)
            assert err is None and len(res) == 2, "cut at %d: %r %r" % (cut, err, res)
            et.check_answer(res[0], et.CASES[0], ctx.snap_id)
            et.check_answer(res[1], et.CASES[-1], ctx.snap_id)


def t_parallel_pipelines(ctx):
    # Eight connections each pipelining 300 requests at once: every
    # connection gets its own answers, in its own order.
    conns = [ctx.d.conn(timeout=20) for _ in range(8)]
    try:
        streams = []
        for k, c in enumerate(conns):
            data, checks = stream(300, k * 100000)
            streams.append(checks)
            c.send(data)
        for k, c in enumerate(conns):
            read_all(c, streams[k], k * 100000, ctx.snap_id)
    finally:
        for c in conns:
            c.close()


def t_half_request_then_close(ctx):
    # A client that leaves in the middle of a request harms nobody.
    for _ in range(20):
        s = socket.create_connection(("127.0.0.1", ctx.d.port), timeout=5)
        s.sendall(et.req(1, "check", et.case_params(et.CASES[0]))[:9])
        s.close()
    with ctx.d.conn() as c:
        assert c.ok("ping", []) == "pong"


def t_half_close_gets_every_answer(ctx):
    # `printf ... | nc`: the client sends, shuts its side down, then reads.
    data, checks = stream(400)
    with ctx.d.conn() as c:
        c.send(data)
        c.sock.shutdown(socket.SHUT_WR)
        read_all(c, checks, 0, ctx.snap_id)
        got = c.expect_closed(5.0, "after the answers to a half-closed connection")
        assert got == [], "extra messages after the last answer: %r" % (got,)


def t_msgids_are_echoed(ctx):
    # The server echoes msgids, it does not interpret them: repeated and
    # descending ids come back as sent, in request order.
    ids = [7, 7, 7, 0, 0xFFFFFFFF, 3, 2, 1, 7]
    with ctx.d.conn() as c:
        c.send(b"".join(et.req(i, "ping", []) for i in ids))
        for i in ids:
            err, res = c.response(i)
            assert res == "pong", "msgid %d: %r %r" % (i, err, res)


if __name__ == "__main__":
    et.main([t_many_in_one_write, t_hundreds_in_flight_streaming, t_request_in_tiny_writes,
             t_stream_in_tiny_chunks, t_cut_at_every_offset, t_parallel_pipelines,
             t_half_request_then_close, t_half_close_gets_every_answer, t_msgids_are_echoed],
            setup=setup)
