"""daemon_framing: the msgpack-RPC envelope of SPEC section 3.

Notifications are never answered; str may come as bin (answers are str);
any valid msgpack encoding of a request is accepted; a message that is not
msgpack or not a well-formed request/notification closes that connection
alone, with no answer, while the other connections go on."""

import struct

import msgpack

import eligtest as et
from eligtest import BAD_REQUEST, N1, UNKNOWN_METHOD

GOOD = ["nik", N1, "PKH", "2024-01"]
GOOD_CASE = et.CASES[0]


def setup():
    return et.Ctx(snap_id="framing-snap", daemon_args=())


# Hand encoders, for encodings msgpack-python never picks by itself.
def str8(b):
    return b"\xd9" + struct.pack(">B", len(b)) + b


def str16(b):
    return b"\xda" + struct.pack(">H", len(b)) + b


def str32(b):
    return b"\xdb" + struct.pack(">I", len(b)) + b


def bin8(b):
    return b"\xc4" + struct.pack(">B", len(b)) + b


def bin16(b):
    return b"\xc5" + struct.pack(">H", len(b)) + b


def bin32(b):
    return b"\xc6" + struct.pack(">I", len(b)) + b


def fixstr(b):
    assert len(b) < 32
    return bytes([0xA0 | len(b)]) + b


def arr16(n):
    return b"\xdc" + struct.pack(">H", n)


def arr32(n):
    return b"\xdd" + struct.pack(">I", n)


def u8(v):
    return b"\xcc" + struct.pack(">B", v)


def u16(v):
    return b"\xcd" + struct.pack(">H", v)


def u32(v):
    return b"\xce" + struct.pack(">I", v)


def t_notifications_never_answered(ctx):
    with ctx.d.conn() as c:
        for method, params in (("ping", []), ("check", GOOD), ("check", ["NIK"]),
                               ("check_batch", [[GOOD] * 3]), ("check_batch", [[0] * 10001]),
                               ("household", ["kk", et.KK1]), ("info", []), ("info", [1]),
                               ("nope", []), ("Ping", [1, 2])):
            c.send(et.notify(method, params))
        c.send(et.req(77, "ping", []))
        err, res = c.response(77, what="request after 10 notifications")
        assert err is None and res == "pong", "ping after notifications: %r %r" % (err, res)
        c.expect_silence(0.5, "after notifications and one request")


def t_notifications_between_requests(ctx):
    with ctx.d.conn() as c:
        data = (et.notify("ping", []) + et.req(1, "check", GOOD) + et.notify("check", GOOD)
                + et.notify("bogus", []) + et.req(2, "ping", []) + et.notify("info", []))
        c.send(data)
        err, res = c.response(1)
        et.check_answer(res, GOOD_CASE, ctx.snap_id)
        err, res = c.response(2)
        assert res == "pong", "second request: %r %r" % (err, res)
        c.expect_silence(0.5, "after interleaved notifications")
        # A notification in bin is not answered either.
        c.send(et.pack([2, b"ping", []]) + et.req(3, "ping", []))
        err, res = c.response(3)
        assert res == "pong"
        c.expect_silence(0.3, "after a bin notification")


def t_bin_strings(ctx):
    b = [x.encode() for x in GOOD]
    with ctx.d.conn() as c:
        # method as bin
        err, res = c.call(b"ping", [])
        assert err is None and type(res) is str and res == "pong", \
            "bin method ping: %r %r (want str 'pong')" % (err, res)
        # every string param as bin, method str and bin
        for method in ("check", b"check"):
            err, res = c.call(method, b)
            assert err is None, "check with bin params (method %r): %r" % (method, err)
            et.check_answer(res, GOOD_CASE, ctx.snap_id, where="bin params")
        # a mix of str and bin
        for mask in range(16):
            params = [b[k] if mask & (1 << k) else GOOD[k] for k in range(4)]
            et.check_answer(c.ok("check", params), GOOD_CASE, ctx.snap_id, where="mix %d" % mask)
        # check_batch with bin items; household with bin params: answers str
        res = c.ok(b"check_batch", [[b, GOOD, b]])
        assert len(res) == 3
        for a in res:
            et.check_answer(a, GOOD_CASE, ctx.snap_id, where="bin batch")
        h = c.ok(b"household", [b"kk", et.KK1.encode()])
        assert isinstance(h, dict) and type(h.get("kk")) is str and h["kk"] == et.KK1, \
            "household with bin params: %r" % (h,)
        for k in ("region", "status", "kks"):
            assert type(h[k]) is str, "household.%s %r not str" % (k, h[k])
        for e in h["enrollments"]:
            for k in ("program", "start", "status"):
                assert type(e[k]) is str, "household enrollment %s %r not str" % (k, e[k])
        info = c.ok(b"info", [])
        assert type(info["snapshot"]) is str and info["snapshot"] == ctx.snap_id
        # Errors stay errors when the bytes come as bin.
        c.error(b"Ping", [], UNKNOWN_METHOD)
        c.error("check", [b"NIK", b[1], b[2], b[3]], BAD_REQUEST)
        c.error("check", [b[0], b"\xff" * 16, b[2], b[3]], BAD_REQUEST)
        c.error("check", [b[0], b[1], b[2], b"2024-13"], BAD_REQUEST)
        err, res = c.call("household", [b"kk", b"3201010000000099"])
        assert err is None and res is None, "unknown household via bin: %r %r" % (err, res)


def t_other_encodings(ctx):
    # Valid msgpack, non-minimal encodings of the same request.
    p = [x.encode() for x in GOOD]
    variants = [
        (b"\x94\x00" + u8(5) + str8(b"check") + b"\x94" + b"".join(str8(x) for x in p), 5),
        (b"\x94\x00" + u16(6) + str16(b"check") + b"\x94" + b"".join(str16(x) for x in p), 6),
        (b"\x94\x00" + u32(7) + str32(b"check") + b"\x94" + b"".join(str32(x) for x in p), 7),
        (arr16(4) + b"\x00" + b"\x08" + fixstr(b"check") + arr16(4) + b"".join(bin16(x) for x in p), 8),
        (arr32(4) + b"\x00" + u32(9) + bin32(b"check") + arr32(4) + b"".join(bin8(x) for x in p), 9),
        (b"\x94\x00\x00" + fixstr(b"check") + b"\x94" + b"".join(fixstr(x) for x in p), 0),
        (b"\x94\x00" + u32(0xFFFFFFFF) + str8(b"check") + b"\x94" + b"".join(str32(x) for x in p),
         0xFFFFFFFF),
    ]
    with ctx.d.conn() as c:
        for data, msgid in variants:
            c.send(data)
            err, res = c.response(msgid, what="encoding %r" % data)
            assert err is None, "encoding %r: %r" % (data, err)
            et.check_answer(res, GOOD_CASE, ctx.snap_id, where="encoding msgid %d" % msgid)
        # ping with params as array16 / array32 of zero elements
        for empty, msgid in ((arr16(0), 11), (arr32(0), 12)):
            c.send(b"\x94\x00" + bytes([msgid]) + str8(b"ping") + empty)
            err, res = c.response(msgid)
            assert res == "pong", "ping with params %r: %r %r" % (empty, err, res)
        # check_batch with items in an array16
        c.send(b"\x94\x00\x0d" + fixstr(b"check_batch") + b"\x91" + arr16(2)
               + et.pack(GOOD) + et.pack(GOOD))
        err, res = c.response(13)
        assert err is None and len(res) == 2, "array16 batch: %r %r" % (err, res)
        # A str that is not UTF-8 where a kind is expected: a bad value.
        c.send(b"\x94\x00\x0e" + fixstr(b"check") + b"\x94" + fixstr(b"\xff\xfe\xfd")
               + b"".join(fixstr(x) for x in p[1:]))
        err, res = c.response(14)
        et.check_error(err, res, BAD_REQUEST, "kind of invalid UTF-8")


def t_odd_param_values_are_bad_requests(ctx):
    # Well-formed msgpack-RPC whose params hold values of the wrong type:
    # params of the wrong shape are bad_request and the connection stays.
    ext = msgpack.ExtType(1, b"x")
    with ctx.d.conn() as c:
        for params in ([ext, N1, "PKH", "2024-01"], ["nik", ext, "PKH", "2024-01"],
                       ["nik", N1, "PKH", -202401], ["nik", N1, 1.5, "2024-01"],
                       ["nik", N1, "PKH", {"a": [1, {"b": None}]}], [-1, -2, -3, -4]):
            c.error("check", params, BAD_REQUEST)
        c.error("check_batch", [[ext]], BAD_REQUEST)
        c.error("ping", [ext], BAD_REQUEST)
        assert c.ok("ping", []) == "pong"


MALFORMED = [
    ("byte 0xc1 (never used)", b"\xc1"),
    ("HTTP request", b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n"),
    ("TLS client hello", b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03" + b"\x00" * 32),
    ("an int", et.pack(5)),
    ("nil", et.pack(None)),
    ("a map", et.pack({"type": 0, "msgid": 1})),
    ("a str", et.pack("ping")),
    ("an ext", b"\xd4\x01\x00"),
    ("empty array", et.pack([])),
    ("[0]", et.pack([0])),
    ("[0, 1]", et.pack([0, 1])),
    ("request of 3 elements", et.pack([0, 1, "ping"])),
    ("request of 5 elements", et.pack([0, 1, "ping", [], None])),
    ("a response", et.pack([1, 1, None, "pong"])),
    ("type 3", et.pack([3, 1, "ping", []])),
    ("type -1", et.pack([-1, 1, "ping", []])),
    ("type as str", et.pack(["0", 1, "ping", []])),
    ("type nil", et.pack([None, 1, "ping", []])),
    ("type true", et.pack([True, 1, "ping", []])),
    ("msgid -1", et.pack([0, -1, "ping", []])),
    ("msgid 2^32", et.pack([0, 2 ** 32, "ping", []])),
    ("msgid 2^64-1", et.pack([0, 2 ** 64 - 1, "ping", []])),
    ("msgid str", et.pack([0, "1", "ping", []])),
    ("msgid float", et.pack([0, 1.0, "ping", []])),
    ("msgid nil", et.pack([0, None, "ping", []])),
    ("msgid array", et.pack([0, [1], "ping", []])),
    ("method int", et.pack([0, 1, 5, []])),
    ("method nil", et.pack([0, 1, None, []])),
    ("method array", et.pack([0, 1, ["ping"], []])),
    ("method map", et.pack([0, 1, {"ping": 1}, []])),
    ("params map", et.pack([0, 1, "ping", {}])),
    ("params nil", et.pack([0, 1, "ping", None])),
    ("params str", et.pack([0, 1, "ping", "x"])),
    ("params int", et.pack([0, 1, "check", 5])),
    ("params bin", et.pack([0, 1, "check", b"\x94"])),
    ("notification of 2 elements", et.pack([2, "ping"])),
    ("notification of 4 elements", et.pack([2, "ping", [], 1])),
    ("notification, method int", et.pack([2, 5, []])),
    ("notification, params map", et.pack([2, "ping", {}])),
    ("notification, params nil", et.pack([2, "ping", None])),
    ("garbage before a request", b"\xc1" + et.req(1, "ping", [])),
    ("an array of 65535 nils", b"\xdc\xff\xff" + b"\xc0" * 65535),
    ("a request array of 65535 elements", b"\xdc\xff\xff\x00\x01\xa4ping\x90" + b"\xc0" * 65531),
]


def t_malformed_closes_connection(ctx):
    with ctx.d.conn() as other:
        assert other.ok("ping", []) == "pong"
        for what, data in MALFORMED:
            with ctx.d.conn() as c:
                c.send(data)
                got = c.expect_closed(5.0, what)
                assert got == [], "%s: answered %r, want the connection closed without answer" % (
                    what, got)
            # The other connection, open all along, is unharmed.
            err, res = other.call("ping", [])
            assert res == "pong", "after %s: the other connection got %r %r" % (what, err, res)
        et.check_answer(other.ok("check", GOOD), GOOD_CASE, ctx.snap_id)
    assert ctx.d.alive(), "eligd died"


def t_malformed_after_good_requests(ctx):
    # Requests before the bad message on the same connection: any answers
    # that come are the right ones, in order, then the connection closes.
    with ctx.d.conn() as c:
        c.send(et.req(1, "ping", []) + et.req(2, "check", GOOD))
        assert c.response(1)[1] == "pong"
        et.check_answer(c.response(2)[1], GOOD_CASE, ctx.snap_id)
        c.send(et.pack([0, 3, "ping", {}]))
        got = c.expect_closed(5.0, "params map after good requests")
        assert got == [], "answered %r after a malformed request" % (got,)
    with ctx.d.conn() as c:
        c.send(et.req(1, "ping", []) + et.req(2, "ping", []) + b"\xc1")
        got = c.expect_closed(5.0, "two pings then 0xc1 in one write")
        for k, m in enumerate(got):
            et.check_response(m)
            assert m[1] == k + 1 and m[3] == "pong", "answer %d before the close: %r" % (k, m)


def t_garbage_with_others_in_flight(ctx):
    # While B has 300 requests in flight, A sends garbage: B gets all its
    # answers, A is closed.
    data = b"".join(et.req(i, "check", et.case_params(et.CASES[i % len(et.CASES)]))
                    for i in range(300))
    with ctx.d.conn() as b, ctx.d.conn() as a:
        b.send(data)
        a.send(b"\xc1\xc1\xc1\xc1 this is not msgpack")
        a.expect_closed(5.0, "garbage")
        for i in range(300):
            err, res = b.response(i)
            et.check_answer(res, et.CASES[i % len(et.CASES)], ctx.snap_id, where="B #%d" % i)
    with ctx.d.conn() as c:
        assert c.ok("ping", []) == "pong", "new connection after garbage"


if __name__ == "__main__":
    et.main([t_notifications_never_answered, t_notifications_between_requests, t_bin_strings,
             t_other_encodings, t_odd_param_values_are_bad_requests,
             t_malformed_closes_connection, t_malformed_after_good_requests,
             t_garbage_with_others_in_flight], setup=setup)
