"""The Python client (clients/python, package eligclient) against a real
eligd on livetest's purpose-built snapshot, and against a scripted fake
server for what eligd cannot be made to send on demand: `unavailable` on a
query (a damaged snapshot, a full audit trail), an error code from the
future, malformed answers. Access control, rate limits and reload against
the real eligd are in test_pyclient_auth.py, TLS in test_pyclient_tls.py.

Expected answers come from livetest.CASES, worked out by hand from SPEC 2;
the answer keys and error codes are written here from SPEC 3."""
import asyncio
import os
import re
import time
import unittest

import livetest as lt
from pyfake import FakeServer

import eligclient
from eligclient import _wire

KEYS = {"eligible", "reason", "kk", "region", "amount", "snapshot"}  # SPEC 3
QUERIES = [q for q, _ in lt.CASES]


def expected(case_index):
    reason, amount, kk = lt.CASES[case_index][1]
    return {"eligible": reason == "eligible", "reason": reason, "kk": kk,
            "region": lt.REGION.get(kk), "amount": amount, "snapshot": lt.SNAPSHOT_ID}


def refused_addr():
    import socket
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return "127.0.0.1:%d" % port


class Live(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = lt.tmpdir()
        cls.d = lt.Daemon(lt.build_snapshot(cls.tmp.name), cls.tmp.name)

    @classmethod
    def tearDownClass(cls):
        cls.d.stop()
        cls.tmp.cleanup()

    def client(self, **kw):
        kw.setdefault("timeout", 10)
        return eligclient.Client(self.d.addr, **kw)

    # ---- sync --------------------------------------------------------------

    def test_check_every_case(self):
        with self.client() as c:
            for i, q in enumerate(QUERIES):
                a = c.check(*q)
                self.assertEqual(set(a), KEYS, q)
                self.assertEqual(dict(a), expected(i), q)
                self.assertIsInstance(a, dict)
                self.assertIs(a["eligible"], a.eligible)
                self.assertEqual((a.reason, a.amount, a.kk, a.region, a.snapshot),
                                 (a["reason"], a["amount"], a["kk"], a["region"], a["snapshot"]))

    def test_ping_household_info(self):
        with self.client() as c:
            self.assertEqual(c.ping(), "pong")
            h = c.household("kks", lt.KKS_A)
            self.assertEqual(dict(h), {
                "kk": lt.KK_A, "region": lt.REGION[lt.KK_A], "status": "active",
                "kks": lt.KKS_A, "members": 2, "enrollments": [
                    {"program": "PKH", "start": "2026-01", "end": "2026-12", "amount": 110000,
                     "status": "active"},
                    {"program": "BPNT", "start": "2025-01", "end": None, "amount": 200000,
                     "status": "active"}]})
            self.assertEqual(h.kk, lt.KK_A)
            self.assertEqual(c.household("kk", lt.KK_C)["kks"], None)
            self.assertIsNone(c.household("kk", lt.UNKNOWN))
            i = c.info()
            self.assertTrue({"version", "snapshot", "created", "households", "members",
                             "enrollments", "uptime_s", "connections", "requests",
                             "reload_error"} <= set(i))
            self.assertEqual((i["snapshot"], i["households"], i["members"], i["enrollments"]),
                             (lt.SNAPSHOT_ID, 5, 4, 6))
            self.assertIsNone(i["reload_error"])

    def test_10000_pipelined_checks(self):
        n = 10000
        idx = [i % len(QUERIES) for i in range(n)]
        with self.client() as c:
            pend = [c.send_check(*QUERIES[i]) for i in idx]
            self.assertEqual(c.pending(), n)
            got = [p.result() for p in pend]
            self.assertEqual(c.pending(), 0)
            self.assertEqual([dict(a) for a in got], [expected(i) for i in idx])
            got = list(c.check_many((QUERIES[i] for i in idx), depth=700))
            self.assertEqual(len(got), n)
            self.assertEqual([dict(a) for a in got], [expected(i) for i in idx])
            before = self.d_requests(c)
            list(c.check_many(QUERIES * 10))
            # one request per check (and this info), nothing sent twice
            self.assertEqual(self.d_requests(c) - before, len(QUERIES) * 10 + 1)

    def d_requests(self, c):
        return c.info()["requests"]

    def test_check_batch_chunks_25000(self):
        n = 25000
        idx = [(i * 7) % len(QUERIES) for i in range(n)]
        with self.client() as c:
            before = c.info()["requests"]
            got = c.check_batch([QUERIES[i] for i in idx])
            after = c.info()["requests"]
            self.assertEqual(len(got), n)
            self.assertEqual([dict(a) for a in got], [expected(i) for i in idx])
            # SPEC 3: at most 10,000 items a request, so 3 requests (+ one info)
            self.assertEqual(after - before, 3 + 1)
            self.assertEqual(c.check_batch([]), [])
        with self.client(batch_max=1000) as c:
            got = c.check_batch([QUERIES[i] for i in idx[:2500]])
            self.assertEqual([dict(a) for a in got], [expected(i) for i in idx[:2500]])
            # dicts are accepted as items too
            d = dict(zip(("kind", "id", "program", "period"), QUERIES[0]))
            self.assertEqual(dict(c.check_batch([d])[0]), expected(0))

    def test_invalid_queries_never_sent(self):
        bad = [
            (("nip", lt.N1, "PKH", "2026-11"), "kind"),
            (("NIK", lt.N1, "PKH", "2026-11"), "kind"),
            (("nik", lt.N1[:15], "PKH", "2026-11"), "id"),
            (("nik", "317101150190000\u0661", "PKH", "2026-11"), "id"),  # Arabic-Indic digit
            (("nik", lt.N1, "pkh", "2026-11"), "program"),
            (("nik", lt.N1, "A" * 17, "2026-11"), "program"),
            (("nik", lt.N1, "PKH", "2026-13"), "period"),
            (("nik", lt.N1, "PKH", "0000-01"), "period"),
            (("nik", lt.N1, "PKH", "2026-1"), "period"),
            (("nik", lt.N1, "PKH", b"2026-11"), "period"),
        ]
        with self.client() as c:
            before = c.info()["requests"]
            for q, field in bad:
                with self.assertRaises(eligclient.InvalidQuery) as cm:
                    c.check(*q)
                self.assertEqual(cm.exception.field, field, q)
                self.assertIsInstance(cm.exception, ValueError)
            with self.assertRaises(eligclient.InvalidQuery) as cm:
                c.check_batch([QUERIES[0], QUERIES[1], bad[2][0]])
            self.assertEqual((cm.exception.index, cm.exception.field), (2, "id"))
            self.assertIn("item 2: bad id", str(cm.exception))
            with self.assertRaises(eligclient.InvalidQuery):
                c.check_batch([QUERIES[0], ("nik", lt.N1)])
            with self.assertRaises(eligclient.InvalidQuery):
                c.household("kk", "12")
            self.assertEqual(c.info()["requests"], before + 1)  # only the info

    def test_server_errors_map_to_classes(self):
        with self.client() as c:
            with self.assertRaises(eligclient.UnknownMethod) as cm:
                c.call("nope", [])
            self.assertEqual(cm.exception.code, 2)
            self.assertIsInstance(cm.exception, eligclient.ServerError)
            with self.assertRaises(eligclient.UnknownMethod):
                c.call("Ping", [])
            with self.assertRaises(eligclient.BadRequest) as cm:
                c.call("check", ["nik", "123", "PKH", "2026-11"])
            self.assertEqual(cm.exception.code, 1)
            with self.assertRaises(eligclient.BadRequest) as cm:
                c.call("check_batch", [[list(QUERIES[0]), ["kk", lt.KK_A, "PKH", "2026-13"]]])
            self.assertIn("item 1", cm.exception.message)
            with self.assertRaises(eligclient.TooLarge) as cm:
                c.call("check_batch", [[list(QUERIES[0])] * 10001])
            self.assertEqual(cm.exception.code, 3)
            with self.assertRaises(eligclient.BadRequest):
                c.call("ping", [1])
            self.assertEqual(c.ping(), "pong")  # the connection stayed open

    def test_unix_socket_and_refused_first_server(self):
        with lt.tmpdir() as t:
            sock = os.path.join(t, "s")
            d = lt.Daemon(lt.build_snapshot(t), t, name="u", extra=("--unix", sock))
            try:
                with eligclient.Client([refused_addr(), "unix:" + sock]) as c:
                    self.assertEqual(dict(c.check(*QUERIES[0])), expected(0))
                    self.assertEqual(c.server, "unix:" + sock)
            finally:
                d.stop()

    def test_no_server(self):
        c = eligclient.Client(refused_addr(), retries=1, backoff=0.01)
        t0 = time.monotonic()
        with self.assertRaises(eligclient.ConnectError) as cm:
            c.ping()
        self.assertIn("cannot connect to 127.0.0.1:", str(cm.exception))
        self.assertLess(time.monotonic() - t0, 5)
        p = [c.send_check(*QUERIES[0]) for _ in range(3)]
        for x in p:  # each waiting request reports the failure once
            with self.assertRaises(eligclient.ConnectError):
                x.result()
        c.close()

    def test_benchmark_examples_run(self):
        # clients/python/examples, as docs/BENCHMARKS.md runs them, on a small scale
        import subprocess
        import sys
        ex = os.path.join(os.path.dirname(eligclient.__file__), "..", "examples")
        q = os.path.join(self.tmp.name, "q.csv")
        r = subprocess.run([sys.executable, os.path.join(ex, "make_queries.py"), self.tmp.name, q,
                            "3000"], capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        with open(q) as f:
            rows = [line.rstrip("\n").split(",") for line in f]
        self.assertEqual(len(rows), 3000)
        for kind, ident, program, period in rows:
            _wire.check_query(kind, ident, program, period)
        r = subprocess.run([sys.executable, os.path.join(ex, "bench_batch.py"), self.d.addr, q,
                            "--asyncio", "--depth", "100"], capture_output=True, text=True,
                           timeout=120)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(len(re.findall(r": 3000 rows in [0-9.]+ s, \d+ rows/s", r.stdout)), 3,
                         r.stdout)

    # ---- asyncio -------------------------------------------------------------

    def test_asyncio(self):
        async def run():
            async with eligclient.AsyncClient(self.d.addr, timeout=10) as c:
                self.assertEqual(await c.ping(), "pong")
                a = await c.check(*QUERIES[0])
                self.assertEqual(dict(a), expected(0))
                self.assertTrue(a["eligible"])
                n = 10000
                idx = [i % len(QUERIES) for i in range(n)]
                before = (await c.info())["requests"]
                got = await asyncio.gather(*(c.check(*QUERIES[i]) for i in idx))
                self.assertEqual([dict(x) for x in got], [expected(i) for i in idx])
                self.assertEqual((await c.info())["requests"] - before, n + 1)
                got = await c.check_batch([QUERIES[i] for i in idx * 2])
                self.assertEqual([dict(x) for x in got], [expected(i) for i in idx * 2])
                h = await c.household("kk", lt.KK_A)
                self.assertEqual(h["members"], 2)
                self.assertIsNone(await c.household("kk", lt.UNKNOWN))
                with self.assertRaises(eligclient.UnknownMethod):
                    await c.call("nope", [])
                with self.assertRaises(eligclient.TooLarge):
                    await c.call("check_batch", [[list(QUERIES[0])] * 10001])
                with self.assertRaises(eligclient.InvalidQuery):
                    await c.check("nik", "1", "PKH", "2026-11")
                # errors do not disturb the answers pipelined around them
                r = await asyncio.gather(c.check(*QUERIES[1]), c.call("nope", []),
                                         c.check(*QUERIES[2]), return_exceptions=True)
                self.assertEqual(dict(r[0]), expected(1))
                self.assertIsInstance(r[1], eligclient.UnknownMethod)
                self.assertEqual(dict(r[2]), expected(2))
        asyncio.run(asyncio.wait_for(run(), 60))

    def test_asyncio_reconnects_after_idle_close(self):
        async def run():
            with lt.tmpdir() as t:
                d = lt.Daemon(lt.build_snapshot(t), t, name="idle", extra=("--idle-timeout", "1"))
                try:
                    async with eligclient.AsyncClient(d.addr) as c:
                        self.assertEqual(await c.ping(), "pong")
                        await asyncio.sleep(1.6)  # the server closes the idle connection
                        self.assertEqual(dict(await c.check(*QUERIES[0])), expected(0))
                finally:
                    d.stop()
        asyncio.run(asyncio.wait_for(run(), 60))


class Fake(unittest.TestCase):
    """What eligd cannot send on demand, from a scripted server."""

    ANSWER = {"eligible": True, "reason": "eligible", "kk": lt.KK_A,
              "region": lt.REGION[lt.KK_A], "amount": 1, "snapshot": "fake"}

    def serve(self, script):
        s = FakeServer(script)
        self.addCleanup(s.stop)
        return s

    def test_unavailable_is_retried_with_backoff(self):
        times = []

        def script(method, params, n):
            times.append(time.monotonic())
            return ([5, "audit trail unavailable: its records cannot be queued, so the "
                     "request is not answered"], None) if n < 3 else (None, self.ANSWER)
        s = self.serve(script)
        with eligclient.Client(s.addr, backoff=0.05, retries=5) as c:
            self.assertEqual(dict(c.check(*QUERIES[0])), self.ANSWER)
        self.assertEqual(len(s.requests), 4)
        gaps = [b - a for a, b in zip(times, times[1:])]
        # 0.05, 0.1, 0.2 s: each wait at least the backoff, and growing
        for g, want in zip(gaps, (0.05, 0.1, 0.2)):
            self.assertGreaterEqual(g, want * 0.9, gaps)

    def test_unavailable_gives_up_after_retries(self):
        s = self.serve(lambda m, p, n: ([5, "snapshot damaged"], None))
        with eligclient.Client(s.addr, backoff=0.01, retries=2) as c:
            with self.assertRaises(eligclient.Unavailable) as cm:
                c.check(*QUERIES[0])
            self.assertEqual((cm.exception.code, cm.exception.message), (5, "snapshot damaged"))
        self.assertEqual(len(s.requests), 3)

    def test_unknown_error_code(self):
        # a code this client does not know (a later eligd's): ServerError, not retried
        s = self.serve(lambda m, p, n: ([99, "something new"], None))
        with eligclient.Client(s.addr) as c:
            with self.assertRaises(eligclient.ServerError) as cm:
                c.ping()
            self.assertEqual((type(cm.exception), cm.exception.code), (eligclient.ServerError, 99))
        self.assertEqual(len(s.requests), 1)

    def test_rate_limited_message(self):
        # eligd's two wordings (daemon/auth.c): a wait, or a batch no wait can pass
        e = eligclient.errors.server_error(6, "rate_limited: retry after 250 ms")
        self.assertEqual((type(e), e.retry_after), (eligclient.RateLimited, 0.25))
        e = eligclient.errors.server_error(
            6, "rate_limited: a batch of 20000 items is over channel bank's burst of 400; split it")
        self.assertIsNone(e.retry_after)

    def test_malformed_answers_are_protocol_errors(self):
        bad = dict(self.ANSWER)
        del bad["snapshot"]
        replies = [(None, bad), (None, "not a map"), (None, [self.ANSWER])]
        s = self.serve(lambda m, p, n: replies[n] if n < len(replies) else (None, self.ANSWER))
        with eligclient.Client(s.addr) as c:
            with self.assertRaises(eligclient.ProtocolError) as cm:
                c.check(*QUERIES[0])
            self.assertIn("snapshot", str(cm.exception))
            with self.assertRaises(eligclient.ProtocolError):
                c.check(*QUERIES[0])
            with self.assertRaises(eligclient.ProtocolError):  # a batch of 2 answered with 1
                c.check_batch(QUERIES[:2])
            self.assertEqual(dict(c.check(*QUERIES[0])), self.ANSWER)

    def test_credentials_and_tls_options(self):
        with self.assertRaises(ValueError):
            _wire.credentials("bank-x", env={})  # a channel without a token
        with self.assertRaises(ValueError) as cm:
            _wire.credentials(env={"ELIG_CHANNEL": "c", "ELIG_TOKEN_FILE": "/nonexistent/t"})
        self.assertIn("/nonexistent/t", str(cm.exception))
        self.assertIsNone(_wire.credentials(env={}))
        import ssl
        ctx = _wire.tls_context(True)
        self.assertTrue(ctx.check_hostname)  # SPEC 6: name verified by default
        self.assertEqual(ctx.verify_mode, ssl.CERT_REQUIRED)
        self.assertGreaterEqual(ctx.minimum_version, ssl.TLSVersion.TLSv1_2)
        self.assertIsNone(_wire.tls_context(False))
        off = _wire.tls_context(True, verify=False)
        self.assertEqual(off.verify_mode, ssl.CERT_NONE)

    def test_server_syntax(self):
        self.assertEqual(_wire.parse_servers("a:1, [::1]:2,unix:/x"),
                         [("tcp", "a", 1), ("tcp", "::1", 2), ("unix", "/x", None)])
        for bad in ("localhost", "a:0", "a:70000", ":5", "unix:"):
            with self.assertRaises(ValueError, msg=bad):
                _wire.parse_servers(bad)


if __name__ == "__main__":
    unittest.main(verbosity=2)
