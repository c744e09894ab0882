"""daemon_reasons: every reason code of SPEC section 2 on purpose-built data
(eligtest.CASES, worked out by hand), through check and check_batch."""

import time

import msgpack

import eligtest as et


def setup():
    return et.Ctx(snap_id="reasons-2024", daemon_args=())


def t_cases_cover_every_reason(ctx):
    # A guard on the fixture itself: if a reason has no case, this suite
    # would silently stop testing it.
    seen = {c[4] for c in et.CASES}
    assert seen == et.REASONS, "reasons without a case: %r" % sorted(et.REASONS - seen)
    for kind in ("nik", "kk", "kks"):
        for reason in ("eligible", "not_found", "household_suspended", "enrollment_suspended"):
            assert any(c[0] == kind and c[4] == reason for c in et.CASES), \
                "no case of kind %s with reason %s" % (kind, reason)


def t_check_each_case(ctx):
    with ctx.d.conn() as c:
        for case in et.CASES:
            ans = c.ok("check", et.case_params(case))
            et.check_answer(ans, case, ctx.snap_id, where="check")


def t_batch_all_cases(ctx):
    with ctx.d.conn() as c:
        res = c.ok("check_batch", [[et.case_params(k) for k in et.CASES]])
        assert isinstance(res, list) and len(res) == len(et.CASES), \
            "batch of %d items: %d answers" % (len(et.CASES), len(res) if isinstance(res, list) else -1)
        for i, (ans, case) in enumerate(zip(res, et.CASES)):
            et.check_answer(ans, case, ctx.snap_id, where="check_batch item %d" % i)


def t_batch_repeats_and_mixes(ctx):
    # The same query many times in one batch, interleaved with others: the
    # answers stay in item order and do not leak into each other.
    items = []
    for i in range(300):
        items.append(et.CASES[(i * 7) % len(et.CASES)])
    with ctx.d.conn() as c:
        res = c.ok("check_batch", [[et.case_params(k) for k in items]])
        assert len(res) == len(items), "%d answers for %d items" % (len(res), len(items))
        for i, (ans, case) in enumerate(zip(res, items)):
            et.check_answer(ans, case, ctx.snap_id, where="item %d" % i)


def t_deceased_only_for_nik(ctx):
    # The deceased member N2's family is answered eligible by kk and kks
    # and member_deceased by nik, for every month PKH covers.
    with ctx.d.conn() as c:
        for period, amount in (("2024-01", et.AMOUNT_A), ("2024-09", 900000), ("2031-04", 1000000)):
            a = c.ok("check", ["nik", et.N2, "PKH", period])
            assert a["reason"] == "member_deceased" and a["amount"] == 0 and a["eligible"] is False, \
                "nik of deceased member, %s: %r" % (period, a)
            assert a["kk"] == et.KK1 and a["region"] == et.REGION[et.KK1], \
                "member_deceased must still name the family: %r" % (a,)
            for kind, ident in (("kk", et.KK1), ("kks", et.KKS1), ("nik", et.N1)):
                a = c.ok("check", [kind, ident, "PKH", period])
                assert a["reason"] == "eligible" and a["amount"] == amount, \
                    "%s %s PKH %s: %r, want eligible %d" % (kind, ident, period, a, amount)


def t_amount_follows_covering_enrollment(ctx):
    # Walk every month from 2023-11 to 2025-05: PKH of KK1 is 750000 in
    # 2024-01..06, 900000 in 2024-07..12, nothing in 2025-01..02, and
    # 1000000 from 2025-03 on.
    def want(y, m):
        ym = (y, m)
        if (2024, 1) <= ym <= (2024, 6):
            return "eligible", et.AMOUNT_A
        if (2024, 7) <= ym <= (2024, 12):
            return "eligible", 900000
        if ym >= (2025, 3):
            return "eligible", 1000000
        return "outside_period", 0

    with ctx.d.conn() as c:
        y, m = 2023, 11
        while (y, m) <= (2025, 5):
            period = "%04d-%02d" % (y, m)
            a = c.ok("check", ["kk", et.KK1, "PKH", period])
            reason, amount = want(y, m)
            assert (a["reason"], a["amount"]) == (reason, amount), \
                "kk PKH %s: %s %r, want %s %d" % (period, a["reason"], a["amount"], reason, amount)
            m += 1
            if m == 13:
                y, m = y + 1, 1


def raw_response(d, params):
    """The bytes of the response to one check, and the decoded message."""
    with d.conn() as c:
        c.send(et.req(1, "check", params))
        raw = b""
        unpacker = msgpack.Unpacker(raw=False)
        deadline = time.monotonic() + 5
        while True:
            c.sock.settimeout(max(0.1, deadline - time.monotonic()))
            chunk = c.sock.recv(65536)
            assert chunk, "connection closed before the answer"
            raw += chunk
            unpacker.feed(chunk)
            for m in unpacker:
                return raw, m


def t_amount_is_encoded_uint(ctx):
    # SPEC 3: amount is a uint. msgpack-python decodes signed and unsigned
    # formats alike, so look at the bytes: `amount` then a uint (positive
    # fixint, 0xcc-0xcf), never a signed format (0xd0-0xd3).
    for params, value in ((["kk", et.KK6, "ABCDEFGHIJ_12345", "2024-01"], 4294967295),
                          (["kk", et.KK1, "PKH", "2024-01"], et.AMOUNT_A),
                          (["kk", et.KK1, "PBI", "2024-01"], 0)):
        raw, m = raw_response(ctx.d, params)
        assert m[3]["amount"] == value, "amount %r, want %d" % (m[3]["amount"], value)
        key = b"\xa6amount"
        i = raw.find(key)
        assert i >= 0, "no str key 'amount' in %r" % raw
        tag = raw[i + len(key)]
        assert tag <= 0x7F or 0xCC <= tag <= 0xCF, \
            "amount %d encoded with format byte 0x%02x, want a msgpack uint" % (value, tag)


if __name__ == "__main__":
    et.main([t_cases_cover_every_reason, t_check_each_case, t_batch_all_cases,
             t_batch_repeats_and_mixes, t_deceased_only_for_nik,
             t_amount_follows_covering_enrollment, t_amount_is_encoded_uint], setup=setup)
