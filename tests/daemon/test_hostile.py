"""daemon_hostile: msgpack headers that claim billions of elements or 4 GiB
strings, and nesting deeper than the protocol needs, get that connection
closed at once (within a bounded wait, without sending the claimed bytes);
the daemon's memory stays flat and other connections keep working."""

import socket
import time

import eligtest as et

GOOD = ["nik", et.N1, "PKH", "2024-01"]
MiB = 1024 * 1024

HDR_ARRAY32 = b"\xdd\xff\xff\xff\xff"
HDR_MAP32 = b"\xdf\xff\xff\xff\xff"
HDR_STR32 = b"\xdb\xff\xff\xff\xff"
HDR_BIN32 = b"\xc6\xff\xff\xff\xff"
CHECK = b"\xa5check"
BATCH = b"\xabcheck_batch"
REQ1 = b"\x94\x00\x01"  # [0, 1, ...

HOSTILE = [
    ("top-level array32 of 2^32-1", HDR_ARRAY32),
    ("top-level array32 of 2^31-1", b"\xdd\x7f\xff\xff\xff"),
    ("top-level map32 of 2^32-1", HDR_MAP32),
    ("top-level str32 of 4 GiB", HDR_STR32),
    ("top-level bin32 of 4 GiB", HDR_BIN32),
    ("top-level ext32 of 4 GiB", b"\xc9\xff\xff\xff\xff\x01"),
    ("method str32 of 4 GiB", REQ1 + HDR_STR32),
    ("method bin32 of 4 GiB", REQ1 + HDR_BIN32),
    ("params array32 of 2^32-1", REQ1 + CHECK + HDR_ARRAY32),
    ("params map32 of 2^32-1", REQ1 + CHECK + HDR_MAP32),
    ("check kind str32 of 4 GiB", REQ1 + CHECK + b"\x94" + HDR_STR32),
    ("check id str32 of 4 GiB", REQ1 + CHECK + b"\x94\xa3nik" + HDR_STR32),
    ("check id bin32 of 4 GiB", REQ1 + CHECK + b"\x94\xa3nik" + HDR_BIN32),
    ("check param array32", REQ1 + CHECK + b"\x94\xa3nik" + HDR_ARRAY32),
    ("batch item array32 of 2^32-1", REQ1 + BATCH + b"\x91\x91" + HDR_ARRAY32),
    ("batch item map32", REQ1 + BATCH + b"\x91\x91" + HDR_MAP32),
    ("batch item field str32 of 4 GiB", REQ1 + BATCH + b"\x91\x91\x94" + HDR_STR32),
    ("notification params array32", b"\x93\x02\xa4ping" + HDR_ARRAY32),
    ("msgid position str32", b"\x94\x00" + HDR_STR32),
    ("deep nesting, 100000 open arrays", REQ1 + CHECK + b"\x91" * 100000),
    ("deep nesting at top level", b"\x91" * 200000),
    ("deep nesting of maps", REQ1 + CHECK + b"\x91" + b"\x81\xa1k" * 50000),
    ("deep nesting inside a batch item", REQ1 + BATCH + b"\x91\x91\x94" + b"\x91" * 100000),
]

# Headers whose claim is beyond any limit but could be answered before the
# items arrive (too_large is checked before the items): an answer of
# too_large before the close is tolerated, nothing else.
TOLERATE_TOO_LARGE = {"batch items array32 of 2^32-1": REQ1 + BATCH + b"\x91" + HDR_ARRAY32}


def setup():
    return et.Ctx(snap_id="hostile-snap", daemon_args=())


def warm_up(d):
    # Bring the daemon to its steady state (threads, arenas, buffers) so
    # that a later growth means something.
    conns = [d.conn(timeout=20) for _ in range(4)]
    try:
        for c in conns:
            c.send(b"".join(et.req(i, "check", GOOD) for i in range(500)))
        for c in conns:
            for i in range(500):
                c.response(i)
        for c in conns:
            res = c.ok("check_batch", [[GOOD] * 10000])
            assert len(res) == 10000
    finally:
        for c in conns:
            c.close()


def memory(d):
    return et.proc_status_kb(d.pid, "VmRSS"), et.proc_status_kb(d.pid, "VmSize")


def assert_flat(before, after, what):
    rss0, vsz0 = before
    rss1, vsz1 = after
    assert rss1 - rss0 < 20 * 1024, "%s: VmRSS grew from %d kB to %d kB" % (what, rss0, rss1)
    assert vsz1 - vsz0 < 1024 * 1024, "%s: VmSize grew from %d kB to %d kB (a huge reservation kept?)" % (
        what, vsz0, vsz1)


def send_and_expect_close(d, what, data, tolerate=()):
    with d.conn() as c:
        try:
            c.send(data)
        except (BrokenPipeError, ConnectionResetError):
            return  # closed while we were still writing: closed indeed
        got = c.expect_closed(5.0, what)
        for m in got:
            et.check_response(m, what)
            assert m[2] is not None and m[2][0] in tolerate, \
                "%s: answered %r, want the connection closed" % (what, m)


def t_hostile_headers_close(ctx):
    d = ctx.d
    warm_up(d)
    before = memory(d)
    with d.conn() as other:
        for what, data in HOSTILE:
            send_and_expect_close(d, what, data)
            err, res = other.call("ping", [])
            assert res == "pong", "after %s: the other connection got %r %r" % (what, err, res)
        for what, data in TOLERATE_TOO_LARGE.items():
            send_and_expect_close(d, what, data, tolerate=(et.TOO_LARGE,))
        et.check_answer(other.ok("check", GOOD), et.CASES[0], ctx.snap_id)
    time.sleep(0.3)
    assert_flat(before, memory(d), "after the hostile headers")


def t_many_hostile_at_once(ctx):
    # 60 connections at once, each holding a different hostile header open.
    d = ctx.d
    before = memory(d)
    socks = []
    try:
        for k in range(60):
            s = socket.create_connection(("127.0.0.1", d.port), timeout=5)
            socks.append(s)
            s.sendall(HOSTILE[k % len(HOSTILE)][1])
        deadline = time.monotonic() + 10
        for k, s in enumerate(socks):
            s.settimeout(max(0.1, deadline - time.monotonic()))
            try:
                while s.recv(65536):
                    pass  # anything sent before the close is ignored here
            except (ConnectionResetError, BrokenPipeError):
                pass
            except socket.timeout:
                raise AssertionError("connection %d (%s) still open after 10 s" % (
                    k, HOSTILE[k % len(HOSTILE)][0]))
    finally:
        for s in socks:
            s.close()
    with d.conn() as c:
        assert c.ok("ping", []) == "pong"
    time.sleep(0.3)
    assert_flat(before, memory(d), "after 60 hostile connections")


def t_flood_past_the_limit(ctx):
    # A message whose headers are all plausible (params: an array of 1000
    # elements) but whose strings keep coming: the daemon stops at its
    # message limit (1 MiB by default) and closes, never buffering more.
    d = ctx.d
    before = memory(d)
    peak = before
    piece = b"\xda\xff\xff" + b"7" * 65535  # a str16 of 65535 bytes
    sent = 0
    closed = False
    with d.conn() as c:
        try:
            c.send(REQ1 + CHECK + b"\xdd\x00\x00\x03\xe8")
            while sent < 24 * MiB:
                c.send(piece)
                sent += len(piece)
                if sent % (16 * len(piece)) == 0:
                    now = memory(d)
                    peak = (max(peak[0], now[0]), max(peak[1], now[1]))
        except (BrokenPipeError, ConnectionResetError):
            closed = True
        except socket.timeout:
            closed = False  # the daemon stopped reading but kept the socket
        if not closed:
            c.expect_closed(5.0, "a 24 MiB message (%d bytes sent)" % sent)
    print("  closed after %d bytes sent" % sent)
    assert sent < 24 * MiB, "daemon took 24 MiB of a message over its 1 MiB limit"
    assert_flat(before, peak, "while flooding a message past the limit")
    with d.conn() as c:
        assert c.ok("ping", []) == "pong"


def t_complete_deep_nesting(ctx):
    # A complete message nested far deeper than any request: either it is
    # closed as unsynchronisable or answered bad_request; nothing else, and
    # the daemon lives.
    d = ctx.d
    for depth in (64, 1000, 100000):
        data = REQ1 + b"\xa4ping" + b"\x91" * depth + b"\xc0"
        with d.conn() as c:
            c.send(data)
            try:
                m = c.recv_msg(5.0)
            except et.Closed:
                continue
            except et.Timeout:
                raise AssertionError("depth %d: neither answered nor closed in 5 s" % depth)
            et.check_response(m, "depth %d" % depth)
            assert m[1] == 1 and m[2] is not None and m[2][0] == et.BAD_REQUEST, \
                "depth %d: %r, want bad_request or a close" % (depth, m)
    with d.conn() as c:
        assert c.ok("ping", []) == "pong"


def t_moderately_deep_params_are_bad_request(ctx):
    # Params nested a few levels past what any method takes are params of
    # the wrong shape (SPEC 3): answered bad_request, the connection kept.
    d = ctx.d
    with d.conn() as c:
        for depth in (2, 8, 12, 20):
            nested = b"\x91" * depth + b"\x01"
            c.send(b"\x94\x00" + bytes([depth]) + b"\xa4ping\x91" + nested)
            m = c.recv_msg(5.0)
            et.check_response(m, "depth %d" % depth)
            assert m[1] == depth and m[2] is not None and m[2][0] == et.BAD_REQUEST, \
                "depth %d: %r, want bad_request" % (depth, m)
        assert c.ok("ping", []) == "pong"


if __name__ == "__main__":
    et.main([t_hostile_headers_close, t_many_hostile_at_once, t_flood_past_the_limit,
             t_complete_deep_nesting, t_moderately_deep_params_are_bad_request], setup=setup)
