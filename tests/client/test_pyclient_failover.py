"""The Python client's failover against real daemons: two eligd serve one
snapshot; a third of the way through a pipelined run the first is killed
(SIGKILL: a crash, answers in flight lost; or SIGTERM: a drain). Every
query must be answered exactly once with its expected answer (from
livetest.CASES, worked out from SPEC 2), none failed, and the run must end
on the second server."""
import asyncio
import collections
import signal
import unittest

import livetest as lt

import eligclient
from eligclient import _wire

QUERIES = [q for q, _ in lt.CASES]


def expected(i):
    reason, amount, kk = lt.CASES[i][1]
    return {"eligible": reason == "eligible", "reason": reason, "kk": kk,
            "region": lt.REGION.get(kk), "amount": amount, "snapshot": lt.SNAPSHOT_ID}


class Finishes:
    """Counts how often each request is finished (answered or failed)."""

    def __enter__(self):
        self.count = collections.Counter()
        self.orig = _wire.Request.finish
        count, orig = self.count, self.orig

        def finish(req, value=None, error=None):
            count[req.msgid] += 1
            return orig(req, value, error)
        _wire.Request.finish = finish
        return self

    def __exit__(self, *exc):
        _wire.Request.finish = self.orig
        return False


class FailoverTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = lt.tmpdir()
        cls.snap = lt.build_snapshot(cls.tmp.name)
        cls.b = lt.Daemon(cls.snap, cls.tmp.name, name="b")
        cls.n = 0

    @classmethod
    def tearDownClass(cls):
        cls.b.stop()
        cls.tmp.cleanup()

    def daemon_a(self):
        FailoverTest.n += 1
        a = lt.Daemon(self.snap, self.tmp.name, name="a%d" % self.n)
        self.addCleanup(a.stop)
        return a

    def check_all(self, got, idx, fin, a):
        self.assertEqual(len(got), len(idx))
        bad = [k for k, (g, i) in enumerate(zip(got, idx)) if dict(g) != expected(i)]
        self.assertEqual(bad[:5], [], "wrong answers at %s" % bad[:5])
        self.assertTrue(fin.count, "no request finished")
        twice = [m for m, c in fin.count.items() if c != 1]
        self.assertEqual(twice, [], "requests finished more than once")
        a.proc.wait(timeout=30)  # it did go away

    def run_sync(self, sig, total=100000, depth=1000):
        a = self.daemon_a()
        idx = [i % len(QUERIES) for i in range(total)]
        with Finishes() as fin, eligclient.Client([a.addr, self.b.addr], timeout=10) as c:
            got = []
            for ans in c.check_many((QUERIES[i] for i in idx), depth=depth):
                got.append(ans)
                if len(got) == total // 3:
                    self.assertEqual(c.server, a.addr)
                    a.proc.send_signal(sig)
            self.assertEqual(c.server, self.b.addr)
            self.assertEqual(len(fin.count), total)
        self.check_all(got, idx, fin, a)

    def test_sigkill_pipelined_checks(self):
        self.run_sync(signal.SIGKILL)

    def test_sigterm_drain_pipelined_checks(self):
        self.run_sync(signal.SIGTERM)

    def test_sigkill_check_batches(self):
        a = self.daemon_a()
        total = 200000
        idx = [(i * 3) % len(QUERIES) for i in range(total)]
        with Finishes() as fin, eligclient.Client([a.addr, self.b.addr], timeout=10,
                                                  batch_max=2000) as c:
            first = c.check_batch([QUERIES[i] for i in idx[:total // 3]])
            mid = 2 * total // 3
            pend = [c.send_check_batch([QUERIES[i] for i in idx[k:min(k + 2000, mid)]])
                    for k in range(total // 3, mid, 2000)]
            c.flush()  # these batches written: A may be answering them when it dies
            a.proc.send_signal(signal.SIGKILL)
            a.proc.wait(10)
            # Sent after A is gone, so they can only be answered by B, whether
            # or not A had answered everything before it died.
            pend += [c.send_check_batch([QUERIES[i] for i in idx[k:k + 2000]])
                     for k in range(mid, total, 2000)]
            got = first + [ans for p in pend for ans in p.result()]
            self.assertEqual(c.server, self.b.addr)
        self.check_all(got, idx, fin, a)

    def test_sigkill_asyncio(self):
        a = self.daemon_a()
        total = 60000
        idx = [i % len(QUERIES) for i in range(total)]

        async def run():
            async with eligclient.AsyncClient([a.addr, self.b.addr], timeout=10) as c:
                answered = 0

                async def one(i):
                    nonlocal answered
                    r = await c.check(*QUERIES[i])
                    answered += 1
                    if answered == total // 3:
                        a.proc.send_signal(signal.SIGKILL)
                    return r
                got = []
                for k in range(0, total, 5000):  # 5,000 in flight at a time
                    got += await asyncio.gather(*(one(i) for i in idx[k:k + 5000]))
                self.assertEqual(c.server, self.b.addr)
                return got
        with Finishes() as fin:
            got = asyncio.run(asyncio.wait_for(run(), 120))
        self.check_all(got, idx, fin, a)


if __name__ == "__main__":
    unittest.main(verbosity=2)
