"""daemon_metrics: --metrics-listen (SPEC 9). /metrics is parsed by
prometheus_client's parser (an independent reader of the text format); every
family SPEC 9 lists is there with the right type; after a scripted run the
counters moved by exactly what the script did (requests by method, answers
by reason, errors by code, the latency histogram's count); each cause of a
server-side close is provoked once and counted once."""

import json
import os
import re
import socket
import struct
import time

import eligtest as et
from eligtest import sample, scrape

GOOD = ["nik", et.N1, "PKH", "2024-01"]

# Every family SPEC 9 names, with its Prometheus type (prometheus_client
# reports a counter family under its name without _total).
FAMILIES = {
    "eligd_requests": "counter",
    "eligd_answers": "counter",
    "eligd_errors": "counter",
    "eligd_request_duration_seconds": "histogram",
    "eligd_connections": "gauge",
    "eligd_connections_closed": "counter",
    "eligd_snapshot_info": "gauge",
    "eligd_snapshot_age_seconds": "gauge",
    "eligd_reloads": "counter",
    "eligd_read_errors": "counter",
    "eligd_auth_failures": "counter",
    "eligd_rate_limited": "counter",
    "eligd_audit_backlog": "gauge",
    "eligd_audit_lost": "counter",
    "eligd_health": "gauge",
}
# Written from SPEC 3 and docs/DESIGN.md, not from the code.
METHODS = ["ping", "check", "check_batch", "household", "info", "reload"]
ERROR_CODES = {1: "bad_request", 2: "unknown_method", 3: "too_large", 4: "unauthorized",
               5: "unavailable", 6: "rate_limited"}
CLOSE_CAUSES = ["protocol", "idle", "request_timeout", "output_timeout", "memory",
                "max_connections", "drain", "error"]


def setup():
    return et.Ctx(snap_id="metrics-snap")


def t_families_and_types(ctx):
    with ctx.daemon(metrics=True, name="fam") as d:
        samples, fams = scrape(d.metrics_url())
        for name, typ in FAMILIES.items():
            assert name in fams, "/metrics lacks the family %s (has %s)" % (name, sorted(fams))
            assert fams[name].type == typ, "%s is a %s, want %s" % (name, fams[name].type, typ)
        for m in METHODS:
            assert sample(samples, "eligd_requests_total", method=m) == 0
        for r in et.REASONS:
            assert sample(samples, "eligd_answers_total", reason=r) == 0
        for code in ERROR_CODES.values():
            assert sample(samples, "eligd_errors_total", code=code) == 0
        for cause in CLOSE_CAUSES:
            assert sample(samples, "eligd_connections_closed_total", cause=cause) == 0
        assert sample(samples, "eligd_snapshot_info", id=ctx.snap_id, content_sha256="",
                      created=d.info()["created"]) == 1
        # Age: now minus the build time, measured here independently.
        age = sample(samples, "eligd_snapshot_age_seconds")
        t0, t1 = ctx.built_at
        assert time.time() - t1 - 3 <= age <= time.time() - t0 + 3, \
            "snapshot age %r s, but it was built %.1f s ago" % (age, time.time() - t0)
        assert sample(samples, "eligd_reloads_total", result="ok") == 0
        assert sample(samples, "eligd_reloads_total", result="failed") == 0
        assert sample(samples, "eligd_read_errors_total") == 0
        assert sample(samples, "eligd_health", state="ok") == 1
        assert sample(samples, "eligd_snapshot_generation") == 1
        for t, n in (("households", et.N_HOUSEHOLDS), ("members", et.N_MEMBERS),
                     ("enrollments", et.N_ENROLLMENTS)):
            assert sample(samples, "eligd_snapshot_rows", table=t) == n
        # No auth file: no channel samples; no audit: nothing queued or lost.
        assert not [k for k in samples if k[0] in ("eligd_auth_failures_total",
                                                    "eligd_rate_limited_total")]
        assert sample(samples, "eligd_audit_backlog") == 0
        assert sample(samples, "eligd_audit_lost_total") == 0
        # Other paths and methods.
        st, _, _ = d.http("/nope")
        assert st == 404, "GET /nope: %d, want 404" % st
        st, _, _ = d.http("/metrics", method="POST")
        assert st == 405, "POST /metrics: %d, want 405" % st
        d.stop()


def delta(before, after, name, **labels):
    return sample(after, name, **labels) - sample(before, name, **labels)


def t_counters_move(ctx):
    with ctx.daemon("--threads", "2", metrics=True, name="move") as d:
        url = d.metrics_url()
        before, _ = scrape(url)
        want_req = dict.fromkeys(METHODS + ["unknown"], 0)
        want_ans = dict.fromkeys(et.REASONS, 0)
        want_err = dict.fromkeys(ERROR_CODES.values(), 0)
        # Spread over several connections, so that both workers count.
        for k in range(4):
            with d.conn() as c:
                for _ in range(3):
                    c.ok("ping", [])
                    want_req["ping"] += 1
                for case in et.CASES:
                    c.ok("check", et.case_params(case))
                    want_req["check"] += 1
                    want_ans[case[4]] += 1
                items = [et.case_params(case) for case in et.CASES[:20]]
                c.ok("check_batch", [items])
                want_req["check_batch"] += 1
                for case in et.CASES[:20]:
                    want_ans[case[4]] += 1
                c.ok("household", ["kk", et.KK1])
                want_req["household"] += 1
                c.ok("info", [])
                want_req["info"] += 1
                c.error("check", ["nik"], 1)
                want_req["check"] += 1
                want_err["bad_request"] += 1
                c.error("nope", [], 2)
                want_req["unknown"] += 1
                want_err["unknown_method"] += 1
                c.error("check_batch", [[GOOD] * 10001], 3)
                want_req["check_batch"] += 1
                want_err["too_large"] += 1
                c.error("reload", [], 4)  # TCP: only the Unix socket may reload
                want_req["reload"] += 1
                want_err["unauthorized"] += 1
                c.send(et.notify("ping", []))  # never answered, never counted
        after, _ = scrape(url)
        for m, n in want_req.items():
            got = delta(before, after, "eligd_requests_total", method=m)
            assert got == n, "requests_total{method=%s} moved by %r, want %d" % (m, got, n)
        for r, n in want_ans.items():
            got = delta(before, after, "eligd_answers_total", reason=r)
            assert got == n, "answers_total{reason=%s} moved by %r, want %d" % (r, got, n)
        for code, n in want_err.items():
            got = delta(before, after, "eligd_errors_total", code=code)
            assert got == n, "errors_total{code=%s} moved by %r, want %d" % (code, got, n)
        # Every request answered is in the histogram once.
        total = sum(want_req.values())
        got = delta(before, after, "eligd_request_duration_seconds_count")
        assert got == total, "latency histogram count moved by %r, want %d" % (got, total)
        inf = delta(before, after, "eligd_request_duration_seconds_bucket", le="+Inf")
        assert inf == total, "le=+Inf bucket moved by %r, want %d" % (inf, total)
        # Cumulative buckets never go down as le grows.
        buckets = sorted(((float(dict(k[1])["le"]), v) for k, v in after.items()
                          if k[0] == "eligd_request_duration_seconds_bucket"))
        assert [v for _, v in buckets] == sorted(v for _, v in buckets), "buckets not cumulative"
        s = delta(before, after, "eligd_request_duration_seconds_sum")
        assert 0 < s < 60, "latency sum moved by %r s for %d requests" % (s, total)
        # info's requests counter agrees with the families (info counts itself).
        info = d.info()
        summed = sum(sample(after, "eligd_requests_total", method=m) for m in want_req)
        assert info["requests"] == summed + 1, "info.requests %r, /metrics says %r (+1 for this info)" % (
            info["requests"], summed)
        assert delta(before, after, "eligd_connections_accepted_total") == 4
        d.stop()


def wait_closed(url, cause, want, what):
    def ok():
        s, _ = scrape(url)
        return sample(s, "eligd_connections_closed_total", cause=cause) == want
    et.wait_until(ok, 10, "%s: closed_total{cause=%s} == %d" % (what, cause, want))


def t_every_close_cause_counted_once(ctx):
    args = ("--idle-timeout", "1", "--request-timeout", "1", "--max-connections", "2",
            "--max-output", "65536", "--output-timeout", "1", "--max-buffer-memory", "1048576",
            "--max-message", "4194304", "--drain-timeout", "3", "--threads", "1")
    d = ctx.daemon(*args, metrics=True, name="causes").start()
    try:
        url = d.metrics_url()
        # protocol: bytes that are not msgpack-RPC.
        with d.conn() as c:
            c.send(b"\xc1garbage")
            c.expect_closed(what="protocol")
        wait_closed(url, "protocol", 1, "garbage")
        # idle: a connection that asks nothing for --idle-timeout.
        with d.conn() as c:
            c.expect_closed(timeout=5, what="idle")
        wait_closed(url, "idle", 1, "idle")
        # request_timeout: half a request, never finished.
        with d.conn() as c:
            c.send(et.req(1, "ping", [])[:3])
            c.expect_closed(timeout=5, what="request timeout")
        wait_closed(url, "request_timeout", 1, "partial request")
        # max_connections: a third connection while two are open (once the
        # connections closed above have left the count: a close is counted
        # when it is decided, the slot freed a loop turn later).
        et.wait_until(lambda: sample(scrape(url)[0], "eligd_connections") == 0, 5, "no connection open")
        with d.conn() as a, d.conn() as b:
            a.ok("ping", [])
            b.ok("ping", [])
            with d.conn() as c:
                c.expect_closed(what="max_connections")
        wait_closed(url, "max_connections", 1, "third connection")
        # error: the client resets the connection (SO_LINGER 0).
        s = socket.create_connection(("127.0.0.1", d.port), timeout=5)
        s.sendall(et.req(1, "ping", []))
        s.recv(100)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        s.close()
        wait_closed(url, "error", 1, "reset by the client")
        # memory: a partial request bigger than --max-buffer-memory.
        with d.conn() as c:
            big = et.req(1, "check", ["nik", "1" * (1536 * 1024), "PKH", "2024-01"])
            try:
                c.send(big[:len(big) - 10])
            except (BrokenPipeError, ConnectionResetError):
                pass
            c.expect_closed(timeout=5, what="memory")
        wait_closed(url, "memory", 1, "1.5 MiB partial request over a 1 MiB cap")
        # output_timeout: a client that sends and never reads.
        slow = et.Conn(port=d.port, timeout=1.0, rcvbuf=4096)
        try:
            for i in range(200):
                slow.sock.sendall(et.req(i, "check_batch", [[GOOD] * 2000]))
        except (socket.timeout, BrokenPipeError, ConnectionResetError):
            pass
        wait_closed(url, "output_timeout", 1, "a client that never reads")
        slow.close()
        # drain: an open connection when SIGTERM comes, while a client that
        # never reads keeps the drain going (until --drain-timeout) so that
        # the counters can still be read.
        stuck = et.Conn(port=d.port, timeout=1.0, rcvbuf=4096)
        try:
            for i in range(200):
                stuck.sock.sendall(et.req(i, "check_batch", [[GOOD] * 2000]))
        except (socket.timeout, BrokenPipeError, ConnectionResetError):
            pass
        c = d.conn()
        c.ok("ping", [])
        d.send_signal(15)
        c.expect_closed(timeout=5, what="drain")
        c.close()
        wait_closed(url, "drain", 1, "drain")
        final, _ = scrape(url)
        stuck.close()
        assert d.wait(10) == 0
        for cause in CLOSE_CAUSES:
            got = sample(final, "eligd_connections_closed_total", cause=cause)
            assert got == 1, "closed_total{cause=%s} = %r, want 1" % (cause, got)
    finally:
        d.kill()


def t_dashboard_reads_real_metrics(ctx):
    # deploy/grafana's dashboard: valid JSON, and every eligd_* series its
    # queries name is one that /metrics serves.
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "deploy", "grafana",
                        "eligd-dashboard.json")
    with open(path) as f:
        dash = json.load(f)
    exprs = [t["expr"] for p in dash["panels"] for t in p.get("targets", [])]
    assert len(exprs) >= 10, "dashboard has %d queries" % len(exprs)
    with ctx.daemon(metrics=True, name="dash") as d:
        _, body = et.http_request(d.metrics_url() + "/metrics")[1:]
        served = set(re.findall(r"^(?:# TYPE )?(eligd_[a-z_]+)", body, re.M))  # families without samples too
        d.stop()
    named = set(re.findall(r"\b(eligd_[a-z_]+)", " ".join(exprs)))
    assert named, "no eligd metric in the dashboard"
    unknown = sorted(named - served)
    assert not unknown, "the dashboard queries series /metrics does not serve: %s" % unknown
    for want in ("eligd_requests_total", "eligd_answers_total", "eligd_request_duration_seconds_bucket",
                 "eligd_connections", "eligd_snapshot_age_seconds", "eligd_reloads_total", "eligd_errors_total"):
        assert want in named, "the dashboard does not show %s" % want


if __name__ == "__main__":
    et.main([t_families_and_types, t_counters_move, t_every_close_cause_counted_once,
             t_dashboard_reads_real_metrics], setup, budget=150)
