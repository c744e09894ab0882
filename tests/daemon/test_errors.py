"""daemon_errors: every error code eligd can produce (SPEC section 3):
bad_request for each bad field and each wrong params shape, unknown_method
(case-sensitive), too_large for a batch over 10,000 items (checked before
the items); each leaves the connection usable."""

import re

import eligtest as et
from eligtest import BAD_REQUEST, MAX_BATCH, N1, TOO_LARGE, UNKNOWN_METHOD

GOOD = ["nik", N1, "PKH", "2024-01"]
GOOD_CASE = et.CASES[0]

BAD_KINDS = ["NIK", "Nik", "KK", "KKS", "", "nik ", " nik", "nikk", "ni", "k",
             "kks\x00", "member", "id", "n\u0131k"]
BAD_IDS = [
    "320101150190000",  # 15 digits
    "32010115019000011",  # 17 digits
    "",
    "320101150190000a",
    "3201 11501900001",
    "+201011501900001",
    "-201011501900001",
    " 320101150190000",
    "320101150190000 ",
    "0x01011501900001",
    "320101150190000\x00",
    "\uff13\uff12\uff10\uff11\uff10\uff11\uff11\uff15\uff10\uff11\uff19\uff10\uff10\uff10\uff10\uff11",  # fullwidth
    "\u0663\u0662\u0660\u0661\u0660\u0661\u0661\u0665\u0660\u0661\u0669\u0660\u0660\u0660\u0660\u0661",  # Arabic-Indic
    "3.20101150190000",
    "1" * 64,
]
BAD_PROGRAMS = ["", "pkh", "Pkh", "PKH-1", "PKH ", " PKH", "PK H", "ABCDEFGHIJ_123456",
                "PKH.", "PK\u00c9", "PKH\x00", "A" * 100, "BPNT\n"]
BAD_PERIODS = ["", "2024-1", "2024-001", "2024-00", "2024-13", "2024-99", "0000-01", "0000-00",
               "0000-13", "2024/01", "202401", "2024-01-01", "24-01", " 2024-01", "2024-01 ",
               "10000-01", "99999-01", "2024-1a", "+024-01", "2024-\uff11", "2024_01",
               "2024-0\x001", "abcd-ef"]


def setup():
    return et.Ctx(snap_id="errors-snap", daemon_args=())


def still_usable(c, what):
    err, res = c.call("ping", [])
    assert err is None and res == "pong", "%s: connection no longer answers ping (%r, %r)" % (
        what, err, res)


def t_bad_fields(ctx):
    with ctx.d.conn() as c:
        # A good query first, to show that what follows fails for the field.
        et.check_answer(c.ok("check", GOOD), GOOD_CASE, ctx.snap_id)
        for field, values in ((0, BAD_KINDS), (1, BAD_IDS), (2, BAD_PROGRAMS), (3, BAD_PERIODS)):
            for v in values:
                params = list(GOOD)
                params[field] = v
                c.error("check", params, BAD_REQUEST)
        still_usable(c, "after bad fields")


def t_bad_fields_household(ctx):
    with ctx.d.conn() as c:
        for v in BAD_KINDS:
            c.error("household", [v, et.KK1], BAD_REQUEST)
        for v in BAD_IDS:
            c.error("household", ["kk", v], BAD_REQUEST)
        still_usable(c, "after bad household fields")


def t_valid_edges_are_not_errors(ctx):
    # The edges of the field rules that are valid must not be rejected.
    with ctx.d.conn() as c:
        for params in (["nik", N1, "PKH", "0001-01"], ["nik", N1, "PKH", "9999-12"],
                       ["kk", et.KK1, "A", "2024-01"], ["kk", et.KK1, "_", "2024-01"],
                       ["kk", et.KK1, "0123456789_ABCDE", "2024-01"],
                       ["kk", "0000000000000000", "PKH", "2024-01"],
                       ["kks", "9999999999999999", "Z9", "2024-12"]):
            err, res = c.call("check", params)
            assert err is None, "check %r: error %r, want an answer" % (params, err)
            assert isinstance(res, dict) and res.get("reason") in et.REASONS, "check %r: %r" % (params, res)


def t_wrong_types(ctx):
    with ctx.d.conn() as c:
        for field, values in ((0, [None, 1, True, ["nik"], {"nik": 1}, 1.5]),
                              (1, [int(N1), None, [N1], 3.2e15, True, {}]),
                              (2, [None, 1, ["PKH"], False]),
                              (3, [202401, None, [2024, 1], 2024.01, {"y": 2024}])):
            for v in values:
                params = list(GOOD)
                params[field] = v
                c.error("check", params, BAD_REQUEST)
        still_usable(c, "after wrong types")


def t_wrong_arity(ctx):
    with ctx.d.conn() as c:
        for params in ([], ["nik"], ["nik", N1], ["nik", N1, "PKH"], GOOD + ["2024-02"],
                       GOOD + [None], [GOOD], [[GOOD]]):
            c.error("check", params, BAD_REQUEST)
        for params in ([], ["kk"], ["kk", et.KK1, "PKH"], [["kk", et.KK1]], ["kk", et.KK1, None]):
            c.error("household", params, BAD_REQUEST)
        for params in ([1], [None], [[]], [{}], ["x"], ["", ""]):
            c.error("ping", params, BAD_REQUEST)
            c.error("info", params, BAD_REQUEST)
        still_usable(c, "after wrong arity")


def t_batch_shape(ctx):
    with ctx.d.conn() as c:
        for params in ([], [[], []], ["x"], [5], [None], [{}], [[[]], 1], [GOOD],
                       [{"0": GOOD}]):
            c.error("check_batch", params, BAD_REQUEST)
        still_usable(c, "after bad batch shapes")


def item_message_names(msg, n):
    return re.search(r"\bitem %d\b" % n, msg) is not None


def t_batch_bad_item(ctx):
    good = GOOD
    bad_items = [
        ["NIK", N1, "PKH", "2024-01"],  # kind
        ["nik", N1[:15], "PKH", "2024-01"],  # id
        ["nik", N1, "pkh", "2024-01"],  # program
        ["nik", N1, "PKH", "2024-13"],  # period
        ["nik", N1, "PKH"],  # arity
        GOOD + ["x"],
        "nik",  # not an array
        None,
        5,
        {"kind": "nik"},
        ["nik", int(N1), "PKH", "2024-01"],  # type
    ]
    with ctx.d.conn() as c:
        for pos, n in ((0, 1), (5, 6), (2, 3), (7, 20)):
            for bad in bad_items:
                items = [list(good) for _ in range(n)]
                items[pos] = bad
                msg = c.error("check_batch", [items], BAD_REQUEST,
                              what="batch of %d, item %d = %r" % (n, pos, bad))
                assert item_message_names(msg, pos), \
                    "batch of %d with item %d = %r: message %r does not name 'item %d'" % (
                        n, pos, bad, msg, pos)
        # The last item of a full batch.
        items = [list(good) for _ in range(MAX_BATCH)]
        items[MAX_BATCH - 1] = ["kk", "12", "PKH", "2024-01"]
        msg = c.error("check_batch", [items], BAD_REQUEST)
        assert item_message_names(msg, MAX_BATCH - 1), \
            "bad last item of %d: message %r does not name 'item %d'" % (MAX_BATCH, msg, MAX_BATCH - 1)
        still_usable(c, "after bad batch items")


def t_too_large(ctx):
    with ctx.d.conn() as c:
        # Exactly at the limit is served.
        items = [et.case_params(et.CASES[i % len(et.CASES)]) for i in range(MAX_BATCH)]
        res = c.ok("check_batch", [items], what="batch of %d" % MAX_BATCH)
        assert isinstance(res, list) and len(res) == MAX_BATCH, "batch of %d: %d answers" % (
            MAX_BATCH, len(res) if isinstance(res, list) else -1)
        for i in (0, 1, 4999, MAX_BATCH - 1):
            et.check_answer(res[i], et.CASES[i % len(et.CASES)], ctx.snap_id, where="item %d" % i)
        # One over is too_large, whatever the items hold: the count is
        # checked before the items.
        c.error("check_batch", [items + [GOOD]], TOO_LARGE, what="batch of %d" % (MAX_BATCH + 1))
        c.error("check_batch", [[5] * (MAX_BATCH + 1)], TOO_LARGE, what="%d int items" % (MAX_BATCH + 1))
        c.error("check_batch", [[None] * (MAX_BATCH + 1)], TOO_LARGE, what="%d nil items" % (MAX_BATCH + 1))
        c.error("check_batch", [[["NIK"]] * (MAX_BATCH + 1)], TOO_LARGE,
                what="%d bad items" % (MAX_BATCH + 1))
        c.error("check_batch", [[0] * 40000], TOO_LARGE, what="40000 items")
        still_usable(c, "after too_large")
        et.check_answer(c.ok("check", GOOD), GOOD_CASE, ctx.snap_id)


def t_unknown_method(ctx):
    with ctx.d.conn() as c:
        for m in ("Ping", "PING", "pinG", "CHECK", "Check", "check_Batch", "checkBatch",
                  "check-batch", "Household", "INFO", "nope", "", "ping ", " ping",
                  "ping\x00", "check_batch2", "househol", "Reload", "reload_", "\u00fcnknown"):
            c.error(m, [], UNKNOWN_METHOD, what="method %r" % m)
        # Params that would be fine for a known method do not change it.
        c.error("Check", list(GOOD), UNKNOWN_METHOD)
        c.error("PING", [1, 2, 3], UNKNOWN_METHOD)
        still_usable(c, "after unknown methods")


def t_errors_in_a_pipeline(ctx):
    # Errors and answers interleaved in one write keep their order and
    # their msgids.
    kinds = []
    data = b""
    for i in range(200):
        sel = i % 4
        if sel == 0:
            data += et.req(i, "check", GOOD)
        elif sel == 1:
            data += et.req(i, "check", ["nik", N1, "PKH", "2024-13"])
        elif sel == 2:
            data += et.req(i, "Ping", [])
        else:
            data += et.req(i, "check_batch", [[0] * (MAX_BATCH + 1)])
        kinds.append(sel)
    with ctx.d.conn() as c:
        c.send(data)
        for i, sel in enumerate(kinds):
            err, res = c.response(i, what="pipelined #%d" % i)
            if sel == 0:
                assert err is None, "#%d: %r" % (i, err)
                et.check_answer(res, GOOD_CASE, ctx.snap_id)
            else:
                want = {1: BAD_REQUEST, 2: UNKNOWN_METHOD, 3: TOO_LARGE}[sel]
                et.check_error(err, res, want, "pipelined #%d" % i)
        still_usable(c, "after pipelined errors")


if __name__ == "__main__":
    et.main([t_bad_fields, t_bad_fields_household, t_valid_edges_are_not_errors, t_wrong_types,
             t_wrong_arity, t_batch_shape, t_batch_bad_item, t_too_large, t_unknown_method,
             t_errors_in_a_pipeline], setup=setup)
