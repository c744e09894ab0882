"""The example programs of docs/CLIENT.md, run against a real eligd: the
terminal (single check, timeout, fallback server) and the bank batch
(pipelined). A silent fake server stands in for a hung replica.

usage: test_examples.py TERMINAL BANK_BATCH FAKE_ELIGD"""
import os
import socket
import subprocess
import sys
import time
import unittest

import livetest as lt

TERMINAL = BANK = FAKE = None


def refused_addr():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return "127.0.0.1:%d" % port


class ExamplesTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = lt.tmpdir()
        cls.d = lt.Daemon(lt.build_snapshot(cls.tmp.name), cls.tmp.name)

    @classmethod
    def tearDownClass(cls):
        cls.d.stop()
        cls.tmp.cleanup()

    def terminal(self, servers, *q):
        return subprocess.run([TERMINAL, servers, *q], capture_output=True, text=True,
                              timeout=60)

    def test_terminal_eligible_and_not(self):
        r = self.terminal(self.d.addr, "nik", lt.N1, "PKH", "2026-11")
        self.assertEqual((r.returncode, r.stdout),
                         (0, "ELIGIBLE %s for PKH 2026-11: Rp 110000 (family %s, snapshot %s)\n"
                          % (lt.N1, lt.KK_A, lt.SNAPSHOT_ID)))
        r = self.terminal(self.d.addr, "kk", lt.KK_B, "PKH", "2026-11")
        self.assertEqual((r.returncode, r.stdout),
                         (3, "NOT ELIGIBLE %s for PKH 2026-11: household is suspended "
                          "(snapshot %s)\n" % (lt.KK_B, lt.SNAPSHOT_ID)))
        r = self.terminal(self.d.addr, "nik", "123", "PKH", "2026-11")
        self.assertEqual((r.returncode, r.stderr), (2, "terminal: bad id\n"))

    def test_terminal_fallback_on_refused(self):
        r = self.terminal(refused_addr() + "," + self.d.addr, "nik", lt.N1, "PKH", "2026-11")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertTrue(r.stdout.startswith("ELIGIBLE"))

    def test_terminal_retry_after_timeout(self):
        ready = os.path.join(self.tmp.name, "silent.ready")
        fake = subprocess.Popen([FAKE, "S", "silent", ready], stdin=subprocess.PIPE)
        try:
            deadline = time.monotonic() + 10
            while not os.path.exists(ready) and time.monotonic() < deadline:
                time.sleep(0.01)
            with open(ready) as f:
                silent = f.read().strip()
            r = self.terminal(silent + "," + self.d.addr, "nik", lt.N1, "PKH", "2026-11")
        finally:
            fake.stdin.close()
            fake.wait(timeout=10)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertTrue(r.stdout.startswith("ELIGIBLE"))

    def test_bank_batch(self):
        rows = [q for q, _ in lt.CASES] * 100
        src = "".join(",".join(q) + "\n" for q in rows)
        src += "nik,3171011501900001,PKH\n"  # malformed: reported, the rest go on
        src += ",".join(lt.CASES[0][0]) + "\n"
        r = subprocess.run([BANK, self.d.addr], input=src, capture_output=True, text=True,
                           timeout=60)
        self.assertEqual(r.returncode, 1)
        self.assertIn("line %d: expected kind,id,program,period" % (len(rows) + 1), r.stderr)
        out = r.stdout.splitlines()
        expect = []
        for q in rows + [lt.CASES[0][0]]:
            reason, amount, _ = dict(lt.CASES)[q]
            expect.append("%s,%s,%s,%s,%s,%d" % (q[1], q[2], q[3],
                                                 "yes" if reason == "eligible" else "no",
                                                 reason, amount))
        self.assertEqual(out, expect)


if __name__ == "__main__":
    TERMINAL, BANK, FAKE = sys.argv[1:4]
    del sys.argv[1:4]
    unittest.main(verbosity=2)
