"""The Python client against eligd's real access control (SPEC 6) and the
reload method (SPEC 9): eligd started here with --auth-file and a Unix
socket, channels and tokens made here.

- `auth`: success; a wrong token raises Unauthorized (the token never in
  the message); the third failure closes the connection; the client then
  reconnects by itself;
- grants: a method or programme outside the channel's is Unauthorized
  naming it; a family outside the channel's regions is answered exactly as
  the not_found map of SPEC 3 (written out here), while an unrestricted
  channel sees it;
- rate limits: a channel with a small rate and a burst of 1: the client
  waits the time eligd names ("retry after N ms") and then succeeds, and a
  pipelined run is paced to the rate without failing a query;
- credentials from ELIG_CHANNEL / ELIG_TOKEN_FILE, and a wrong one saying
  which channel was refused;
- re-authentication on the connection that takes over when the first of two
  eligd is killed mid-run;
- `reload` over the Unix socket and to a channel granted it (and refused to
  one that is not), its failure raised once, not retried.

Expected answers come from livetest.CASES (worked out by hand from SPEC 2);
error codes from SPEC 3; the message wording from docs/PROTOCOL.md."""
import asyncio
import os
import re
import shutil
import signal
import time
import unittest

import livetest as lt

import eligclient
from eligclient import errors as E

QUERIES = [q for q, _ in lt.CASES]
T_BANK = os.urandom(32).hex()
T_SHOP = os.urandom(32).hex()
T_SLOW = os.urandom(32).hex()
T_OPS = os.urandom(32).hex()
SLOW_RATE = 5  # requests a second, burst 1: 200 ms apart

# SPEC 3's answer for a family that is not found, with this snapshot's id.
NOT_FOUND = {"eligible": False, "reason": "not_found", "kk": None, "region": None, "amount": 0,
             "snapshot": lt.SNAPSHOT_ID}


def expected(i):
    reason, amount, kk = lt.CASES[i][1]
    return {"eligible": reason == "eligible", "reason": reason, "kk": kk,
            "region": lt.REGION.get(kk), "amount": amount, "snapshot": lt.SNAPSHOT_ID}


CHANNELS = [
    ("bank", {"token": T_BANK, "methods": "check, check_batch, household, info",
              "programs": "*", "regions": "*"}),
    # an e-warong network: check only, PKH only, one village (KK_A's, 3171010001)
    ("ewarong", {"token": T_SHOP, "methods": "check", "programs": "PKH",
                 "regions": lt.REGION[lt.KK_A]}),
    ("slow", {"token": T_SLOW, "methods": "check, check_batch", "programs": "*", "regions": "*",
              "rate": str(SLOW_RATE), "burst": "1"}),
    ("ops", {"token": T_OPS, "methods": "reload, info", "programs": "*", "regions": "*"}),
]


class ServerErrors:
    """Records every error object the client receives (code, message,
    monotonic time), by wrapping eligclient.errors.server_error."""

    def __enter__(self):
        self.seen = []
        self.orig = E.server_error

        def record(code, message):
            self.seen.append((code, message, time.monotonic()))
            return self.orig(code, message)
        E.server_error = record
        return self

    def __exit__(self, *exc):
        E.server_error = self.orig
        return False

    def codes(self):
        return [c for c, _, _ in self.seen]


class AuthTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = lt.tmpdir()
        d = cls.dir = cls.tmp.name
        cls.snap = lt.build_snapshot(d)
        cls.auth_file = lt.write_channels(os.path.join(d, "channels.conf"), CHANNELS)
        cls.sock = os.path.join(d, "eligd.sock")
        cls.d = lt.Daemon(cls.snap, d, name="auth",
                          extra=("--auth-file", cls.auth_file, "--unix", cls.sock))

    @classmethod
    def tearDownClass(cls):
        cls.d.stop()
        cls.tmp.cleanup()

    def client(self, channel=None, token=None, **kw):
        kw.setdefault("timeout", 10)
        return eligclient.Client(self.d.addr, channel=channel, token=token, **kw)

    # ---- auth ------------------------------------------------------------

    def test_auth_then_every_case(self):
        with self.client() as c:
            self.assertEqual(c.ping(), "pong")  # allowed before auth
            with self.assertRaises(eligclient.Unauthorized) as cm:
                c.check(*QUERIES[0])
            self.assertEqual(cm.exception.code, 4)
            self.assertEqual(cm.exception.message, "unauthorized: call auth [channel, token] first")
            self.assertIs(c.auth("bank", T_BANK), True)
            for i, q in enumerate(QUERIES):
                self.assertEqual(dict(c.check(*q)), expected(i), q)
            self.assertEqual([dict(a) for a in c.check_batch(QUERIES)],
                             [expected(i) for i in range(len(QUERIES))])
            self.assertEqual(c.household("kks", lt.KKS_A)["kk"], lt.KK_A)
            self.assertEqual(c.info()["snapshot"], lt.SNAPSHOT_ID)

    def test_wrong_token_and_the_third_failure_closes(self):
        wrong = os.urandom(32).hex()
        with self.client() as c:
            for n in (1, 2, 3):
                with self.assertRaises(eligclient.Unauthorized) as cm:
                    c.auth("bank", wrong if n != 2 else T_SHOP)  # another channel's token: wrong too
                self.assertEqual(cm.exception.code, 4)
                self.assertNotIn(wrong, str(cm.exception))
                self.assertNotIn(T_SHOP, str(cm.exception))
                self.assertTrue(cm.exception.message.startswith(
                    "unauthorized: unknown channel or wrong token"), cm.exception.message)
            self.assertIn("closing after 3 failures", cm.exception.message)
            # eligd closed that connection: its socket reads end of file
            s = c._sock
            s.setblocking(True)
            s.settimeout(5)
            self.assertEqual(s.recv(1), b"")
            # the client connects again by itself; the right token is taken
            self.assertEqual(c.ping(), "pong")
            self.assertIsNot(c._sock, s)
            self.assertIs(c.auth("bank", T_BANK), True)
            self.assertEqual(dict(c.check(*QUERIES[0])), expected(0))

    def test_credentials_from_the_environment(self):
        tok = lt.write_token(os.path.join(self.dir, "bank.token"), T_BANK)
        bad = lt.write_token(os.path.join(self.dir, "bad.token"), os.urandom(32).hex())
        old = {k: os.environ.get(k) for k in ("ELIG_CHANNEL", "ELIG_TOKEN_FILE")}
        try:
            os.environ.update(ELIG_CHANNEL="bank", ELIG_TOKEN_FILE=tok)
            with self.client() as c:  # auth sent first, by the client
                self.assertEqual(dict(c.check(*QUERIES[3])), expected(3))
                self.assertNotIn(T_BANK, repr(c._eng.creds))

            async def run():
                async with eligclient.AsyncClient(self.d.addr, timeout=10) as c:
                    return await asyncio.gather(*(c.check(*q) for q in QUERIES))
            got = asyncio.run(asyncio.wait_for(run(), 60))
            self.assertEqual([dict(a) for a in got], [expected(i) for i in range(len(QUERIES))])
            os.environ["ELIG_TOKEN_FILE"] = bad
            with self.client() as c:
                with self.assertRaises(eligclient.Unauthorized) as cm:
                    c.check(*QUERIES[0])
                # the auth's refusal, not "call auth first"
                self.assertEqual(cm.exception.message, "auth as channel bank refused: "
                                 "unauthorized: unknown channel or wrong token")
        finally:
            for k, v in old.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v
        with self.client() as c:  # no credentials at all
            with self.assertRaises(eligclient.Unauthorized):
                c.check(*QUERIES[0])

    # ---- grants ------------------------------------------------------------

    def test_method_and_programme_outside_the_grant(self):
        with self.client("ewarong", T_SHOP) as c:
            self.assertEqual(dict(c.check(*QUERIES[0])), expected(0))  # PKH, KK_A's village
            with self.assertRaises(eligclient.Unauthorized) as cm:
                c.household("kk", lt.KK_A)
            self.assertEqual(cm.exception.message,
                             "unauthorized: method household is not granted to channel ewarong")
            with self.assertRaises(eligclient.Unauthorized) as cm:
                c.check("kks", lt.KKS_A, "BPNT", "2030-05")
            self.assertEqual(cm.exception.message,
                             "unauthorized: programme BPNT is not granted to channel ewarong")
            with self.assertRaises(eligclient.Unauthorized) as cm:
                c.check_batch(QUERIES[:2])
            self.assertIn("method check_batch is not granted", cm.exception.message)
            with self.assertRaises(eligclient.Unauthorized):
                c.reload()
            self.assertEqual(c.ping(), "pong")  # none of these closed the connection

    def test_outside_the_regions_is_exactly_not_found(self):
        # every family but KK_A lies outside ewarong's one village
        with self.client("ewarong", T_SHOP) as shop, self.client("bank", T_BANK) as bank:
            for i, q in enumerate(QUERIES):
                if q[2] != "PKH":
                    continue
                want = expected(i)
                if want["kk"] not in (None, lt.KK_A):
                    self.assertEqual(dict(bank.check(*q)), want, q)  # it exists ...
                    want = NOT_FOUND                                  # ... but not for the shop
                self.assertEqual(dict(shop.check(*q)), want, q)

    # ---- rate limits -------------------------------------------------------

    def test_rate_limited_waits_the_time_eligd_names(self):
        with ServerErrors() as errs, self.client("slow", T_SLOW) as c:
            c.ping()
            time.sleep(1.0 / SLOW_RATE)  # a full bucket (a burst of 1): the first goes through
            self.assertEqual(dict(c.check(*QUERIES[0])), expected(0))
            t0 = time.monotonic()
            self.assertEqual(dict(c.check(*QUERIES[1])), expected(1))
            t1 = time.monotonic()
        self.assertEqual(errs.codes(), [6], errs.seen)  # the second was refused once
        code, message, when = errs.seen[0]
        m = re.fullmatch(r"rate_limited: retry after (\d+) ms", message)
        self.assertTrue(m, message)
        wait = int(m.group(1)) / 1000.0
        self.assertLessEqual(wait, 1.0 / SLOW_RATE + 0.001)
        self.assertGreater(wait, 0)
        # answered only after the wait named, counted from the refusal
        self.assertGreaterEqual(t1 - when, wait - 0.002)
        self.assertGreaterEqual(t1 - t0, wait - 0.002)

    def test_pipelined_run_is_paced_to_the_rate(self):
        n = 11
        idx = [i % len(QUERIES) for i in range(n)]
        with ServerErrors() as errs, self.client("slow", T_SLOW) as c:
            time.sleep(1.0 / SLOW_RATE)  # a full bucket (a burst of 1)
            t0 = time.monotonic()
            got = list(c.check_many((QUERIES[i] for i in idx), depth=100))
            took = time.monotonic() - t0
        self.assertEqual([dict(a) for a in got], [expected(i) for i in idx])
        # n requests at 5/s with a burst of 1 cannot take less than (n-1)/5 s
        self.assertGreaterEqual(took, (n - 1) / SLOW_RATE - 0.05)
        self.assertEqual(set(errs.codes()), {6})
        # all n written at once, so n-1 refused at first; then the client
        # sends one at a time, doubling: a few refusals per query, not n each
        self.assertLess(len(errs.seen), 4 * n, len(errs.seen))

    def test_batch_over_the_burst_is_not_retried(self):
        with ServerErrors() as errs, self.client("slow", T_SLOW) as c:
            with self.assertRaises(eligclient.RateLimited) as cm:
                c.check_batch(QUERIES[:2])  # 2 items, burst 1: waiting does not help
            self.assertIsNone(cm.exception.retry_after)
            self.assertIn("over channel slow's burst of 1", cm.exception.message)
        self.assertEqual(errs.codes(), [6])

    def test_asyncio_rate_limited(self):
        async def run():
            async with eligclient.AsyncClient(self.d.addr, channel="slow", token=T_SLOW,
                                              timeout=10) as c:
                await asyncio.sleep(1.0 / SLOW_RATE)
                t0 = time.monotonic()
                got = await asyncio.gather(*(c.check(*q) for q in QUERIES[:6]))
                return got, time.monotonic() - t0
        with ServerErrors() as errs:
            got, took = asyncio.run(asyncio.wait_for(run(), 60))
        self.assertEqual([dict(a) for a in got], [expected(i) for i in range(6)])
        self.assertGreaterEqual(took, 5 / SLOW_RATE - 0.05)
        self.assertIn(6, errs.codes())

    # ---- reload --------------------------------------------------------------

    def swap_snapshot(self, snap_id):
        """Builds the same rows as snapshot snap_id and renames it onto the
        path eligd serves, as a deploy would."""
        with lt.tmpdir() as t:
            new = lt.build_snapshot(t, snap_id)
            os.replace(new, self.snap + ".new")
        os.replace(self.snap + ".new", self.snap)

    def test_reload_on_the_unix_socket(self):
        with eligclient.Client("unix:" + self.sock, timeout=10) as u:
            before = u.info()
            self.swap_snapshot("client-test-2")
            try:
                r = u.reload()
                self.assertEqual(r["snapshot"], "client-test-2")
                # same rows, so the same content hash (SPEC 8)
                self.assertEqual(r["content_sha256"], before["content_sha256"])
                self.assertEqual(u.check(*QUERIES[0])["snapshot"], "client-test-2")
                self.assertEqual(u.info()["generation"], before["generation"] + 1)
            finally:
                self.swap_snapshot(lt.SNAPSHOT_ID)
                self.assertEqual(u.reload()["snapshot"], lt.SNAPSHOT_ID)

    def test_reload_failure_is_raised_once(self):
        with eligclient.Client("unix:" + self.sock, timeout=10) as u:
            gen = u.info()["generation"]
            shutil.copyfile(self.snap, self.snap + ".good")
            with open(self.snap, "wb"):
                pass  # an empty file where the snapshot was
            try:
                with ServerErrors() as errs:
                    with self.assertRaises(eligclient.Unavailable) as cm:
                        u.reload()
                self.assertEqual(errs.codes(), [5])  # one reload asked, not retried
                self.assertTrue(cm.exception.message.startswith("reload failed: "),
                                cm.exception.message)
                self.assertIn(self.snap, cm.exception.message)
                i = u.info()
                self.assertEqual(i["generation"], gen)  # the old one keeps serving
                self.assertIsNotNone(i["reload_error"])
                self.assertEqual(dict(u.check(*QUERIES[0])), expected(0))
            finally:
                os.replace(self.snap + ".good", self.snap)
            u.reload()
            self.assertIsNone(u.info()["reload_error"])

    def test_reload_to_a_channel_granted_it(self):
        with self.client("ops", T_OPS) as c:
            self.assertEqual(c.reload()["snapshot"], lt.SNAPSHOT_ID)
            with self.assertRaises(eligclient.Unauthorized):
                c.check(*QUERIES[0])  # ops may reload, not check
        with self.client("bank", T_BANK) as c:
            with self.assertRaises(eligclient.Unauthorized) as cm:
                c.reload()
            self.assertEqual(cm.exception.message,
                             "unauthorized: method reload is not granted to channel bank")

        async def run():
            async with eligclient.AsyncClient(self.d.addr, channel="ops", token=T_OPS) as c:
                return await c.reload()
        self.assertEqual(asyncio.run(asyncio.wait_for(run(), 60))["snapshot"], lt.SNAPSHOT_ID)


class FailoverAuthTest(unittest.TestCase):
    """Two eligd with the same channels; the first is killed mid-run. The
    second answers only if the client authenticates on its connection."""

    def test_reauth_after_failover(self):
        with lt.tmpdir() as d:
            snap = lt.build_snapshot(d)
            auth = lt.write_channels(os.path.join(d, "channels.conf"), CHANNELS)
            a = lt.Daemon(snap, d, name="a", extra=("--auth-file", auth))
            b = lt.Daemon(snap, d, name="b", extra=("--auth-file", auth))
            try:
                total = 30000
                idx = [i % len(QUERIES) for i in range(total)]
                with eligclient.Client([a.addr, b.addr], channel="bank", token=T_BANK,
                                       timeout=10) as c:
                    got = []
                    for ans in c.check_many((QUERIES[i] for i in idx), depth=500):
                        got.append(ans)
                        if len(got) == total // 3:
                            self.assertEqual(c.server, a.addr)
                            a.proc.send_signal(signal.SIGKILL)
                    self.assertEqual(c.server, b.addr)
                bad = [k for k, (g, i) in enumerate(zip(got, idx)) if dict(g) != expected(i)]
                self.assertEqual(bad[:5], [])
                self.assertEqual(len(got), total)
                # B does ask for auth: without it, the same query is refused
                with eligclient.Client(b.addr) as anon:
                    with self.assertRaises(eligclient.Unauthorized):
                        anon.check(*QUERIES[0])
            finally:
                a.stop()
                b.stop()


if __name__ == "__main__":
    unittest.main(verbosity=2)
