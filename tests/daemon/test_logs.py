"""daemon_logs: --log-format json writes one JSON object per line with ts,
level and msg, connection events carrying conn and peer (the client's own
address, as the client sees it); text lines name the peer too; and no NIK,
KK or KKS number of the fixture appears in the log at info level after a
workload that sends every one of them, well-formed or not."""

import json
import re
import socket
import time

import eligtest as et

GOOD = ["nik", et.N1, "PKH", "2024-01"]
TS = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")


def setup():
    return et.Ctx(snap_id="logs-snap")


def t_json_lines(ctx):
    with ctx.daemon("--log-format", "json", "--request-timeout", "0.5", log_level="debug",
                    name="json") as d:
        with d.conn() as c:
            c.ok("ping", [])
            local = "127.0.0.1:%d" % c.sock.getsockname()[1]
        # A partial request timed out: an info-level connection event.
        with d.conn() as c:
            c.send(et.req(1, "ping", [])[:2])
            timed_out = "127.0.0.1:%d" % c.sock.getsockname()[1]
            c.expect_closed(timeout=5)
        d.stop()
        lines = d.log(tail=1 << 20).splitlines()
        assert lines, "no log lines"
        docs = []
        for ln in lines:
            try:
                doc = json.loads(ln)
            except ValueError:
                raise AssertionError("not a JSON line: %r" % ln)
            assert isinstance(doc, dict), ln
            assert TS.fullmatch(doc.get("ts", "")), "ts %r in %r" % (doc.get("ts"), ln)
            assert doc.get("level") in ("debug", "info", "warn", "error"), ln
            assert isinstance(doc.get("msg"), str) and doc["msg"], ln
            docs.append(doc)
        accepted = [x for x in docs if x["msg"] == "accepted" and x.get("peer") == local]
        assert accepted and isinstance(accepted[0].get("conn"), int), \
            "no `accepted` event with peer %s: %r" % (local, docs)
        closed = [x for x in docs if x.get("peer") == timed_out and x["level"] == "info"
                  and "request-timeout" in x["msg"]]
        assert closed, "no info event for the timed-out request from %s: %r" % (timed_out, docs)


def t_text_lines_name_the_peer(ctx):
    with ctx.daemon("--request-timeout", "0.5", name="text") as d:
        with d.conn() as c:
            c.send(et.req(1, "ping", [])[:2])
            peer = "127.0.0.1:%d" % c.sock.getsockname()[1]
            c.expect_closed(timeout=5)
        d.stop()
        hits = [ln for ln in d.log().splitlines() if peer + ":" in ln and "request-timeout" in ln]
        assert hits and re.match(TS.pattern + r" info conn \d+ " + re.escape(peer) + ": ", hits[0]), \
            "no text line naming peer %s: %s" % (peer, d.log())


def t_no_ids_at_info(ctx):
    ids = ([et.N1, et.N2, et.N3, et.N4, et.N5, et.N6, et.N7, et.N8, et.N9] + list(et.REGION) +
           [et.KKS1, et.KKS2, et.KKS4, et.KKS6, et.KKS7])
    with ctx.daemon("--request-timeout", "0.5", "--max-message", "4096", name="ids") as d:
        with d.conn() as c:
            for case in et.CASES:
                c.ok("check", et.case_params(case))
            c.ok("check_batch", [[et.case_params(x) for x in et.CASES]])
            for kk in et.REGION:
                c.ok("household", ["kk", kk])
            for i in ids:  # malformed requests carrying the ids
                c.error("check", ["nik", i + "0", "PKH", "2024-01"], 1)
                c.error("check", ["person", i, "PKH", "2024-01"], 1)
                c.error(i, [i], 2)
                c.error("household", ["kk", i, i], 1)
        for i in ids[:3]:  # streams closed for a protocol error, with ids in them
            with d.conn() as c:
                c.send(et.pack([0, 1, "check", ["nik", i * 300, "PKH", "2024-01"]]))
                c.expect_closed()
            with d.conn() as c:
                c.send(b"\xc1" + i.encode())
                c.expect_closed()
        with d.conn() as c:  # and a timed-out partial request holding one
            c.send(et.req(1, "check", ["nik", et.N1, "PKH", "2024-01"])[:-3])
            c.expect_closed(timeout=5)
        d.stop()
        log = d.log(tail=1 << 20)
        for i in ids:
            assert i not in log, "the id %s is in the info-level log:\n%s" % (i, log)
        assert not re.search(r"\d{16}", log), "a 16-digit number is in the info-level log:\n%s" % log


if __name__ == "__main__":
    et.main([t_json_lines, t_text_lines_name_the_peer, t_no_ids_at_info], setup, budget=90)
