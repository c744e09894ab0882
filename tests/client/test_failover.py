"""Failover against real daemons: two eligd serve one snapshot; a pipelined
run through libeligclient (failover_driver) kills the first mid-run, with
SIGKILL (a crash: connection reset, answers in flight lost) or SIGTERM (a
drain). Every query must be answered exactly once with the expected answer,
none failed, and the client must end on the second server.

usage: test_failover.py FAILOVER_DRIVER"""
import os
import signal
import subprocess
import sys
import unittest

import livetest as lt

DRIVER = None


class FailoverTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = lt.tmpdir()
        cls.snap = lt.build_snapshot(cls.tmp.name)
        cls.cases = os.path.join(cls.tmp.name, "cases.csv")
        with open(cls.cases, "w") as f:
            for q, (reason, amount, kk) in lt.CASES:
                f.write("%s,%s,%d,%s\n" % (",".join(q), reason, amount, kk or ""))
        cls.b = lt.Daemon(cls.snap, cls.tmp.name, name="b")

    @classmethod
    def tearDownClass(cls):
        cls.b.stop()
        cls.tmp.cleanup()

    def run_killed(self, mode, sig, total, depth):
        a = lt.Daemon(self.snap, self.tmp.name, name="a-%s-%d" % (mode, sig))
        try:
            r = subprocess.run([DRIVER, a.addr + "," + self.b.addr, mode, str(total),
                                str(depth), str(total // 3), str(a.pid), str(int(sig)),
                                self.cases], capture_output=True, text=True, timeout=240)
            a.proc.wait(timeout=30)  # it did go away
        finally:
            a.stop()
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("answered %d, mismatches 0, errors 0, pending 0, on %s"
                      % (total, self.b.addr), r.stdout)

    def test_sigkill_pipelined_checks(self):
        self.run_killed("check", signal.SIGKILL, 300000, 2000)

    def test_sigkill_pipelined_batches(self):
        self.run_killed("batch", signal.SIGKILL, 300000, 40)

    def test_sigterm_drain_pipelined_checks(self):
        self.run_killed("check", signal.SIGTERM, 300000, 2000)


if __name__ == "__main__":
    DRIVER = sys.argv.pop(1)
    unittest.main(verbosity=2)
