"""The elig command, black-box, against the fake server (eligc_fake_eligd).

The fake answers every check eligible, amount = the id's last six digits,
kk = the id, region 3171010001, snapshot = the fake's name, so every
expected line below follows from the query alone.

usage: test_elig_cli.py ELIG FAKE_ELIGD
"""
import json
import os
import subprocess
import sys
import tempfile
import time
import unittest

ELIG = FAKE = None


class Fake:
    """A fake server process; stops when its stdin pipe closes."""

    def __init__(self, tmp, name, mode="answer", die_after=0):
        ready = os.path.join(tmp, "ready-%s-%d" % (name, time.monotonic_ns()))
        self.proc = subprocess.Popen([FAKE, name, mode, ready, str(die_after)],
                                     stdin=subprocess.PIPE)
        deadline = time.monotonic() + 10
        while not os.path.exists(ready):
            if time.monotonic() > deadline or self.proc.poll() is not None:
                raise RuntimeError("fake server did not start")
            time.sleep(0.01)
        with open(ready) as f:
            self.addr = f.read().strip()

    def stop(self):
        self.proc.stdin.close()
        self.proc.wait(timeout=10)


def refused_addr():
    import socket
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return "127.0.0.1:%d" % port


def elig(*args, stdin=None):
    return subprocess.run([ELIG, *args], input=stdin, capture_output=True, text=True,
                          timeout=60)


class CliTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmpdir = tempfile.TemporaryDirectory()
        cls.tmp = cls.tmpdir.name
        cls.a = Fake(cls.tmp, "A")

    @classmethod
    def tearDownClass(cls):
        cls.a.stop()
        cls.tmpdir.cleanup()

    def srv(self):
        return "--server=" + self.a.addr

    # ---- check ------------------------------------------------------------

    def test_check_human_line(self):
        r = elig(self.srv(), "check", "nik", "3171000000110000", "PKH", "2026-11")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout, "eligible: Rp 110.000 a month; family 3171000000110000, "
                                   "region 3171010001; snapshot A\n")
        self.assertEqual(r.stderr, "")

    def test_check_json(self):
        r = elig("check", "kks", "6013010001234567", "BPNT", "2026-01", "--json", self.srv())
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(json.loads(r.stdout), {
            "eligible": True, "reason": "eligible", "amount": 234567,
            "kk": "6013010001234567", "region": "3171010001", "snapshot": "A"})

    def test_check_exit_status_eligible(self):
        r = elig(self.srv(), "--exit-status", "check", "kk", "3171000000000005", "PKH", "2026-11")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertTrue(r.stdout.startswith("eligible: Rp 5 a month"))

    def test_check_bad_usage(self):
        cases = [
            ["check", "nip", "3171000000110000", "PKH", "2026-11"],
            ["check", "nik", "317100000011000", "PKH", "2026-11"],
            ["check", "nik", "3171000000110000", "pkh", "2026-11"],
            ["check", "nik", "3171000000110000", "PKH", "2026-13"],
            ["check", "nik", "3171000000110000", "PKH"],
            ["frobnicate"],
            [],
            ["--nope", "ping"],
            ["--timeout", "abc", "ping"],
            ["--timeout", "0", "ping"],
            ["--server", "localhost", "ping"],
            ["--pipeline", "0", "batch"],
            ["--batch-size", "10001", "batch"],
            ["--batch-size", "10000", "--pipeline", "401", "batch"],
            ["household", "kk"],
            ["household", "kk", "12"],
            ["--format", "xml", "batch"],
            ["--retries", "-1", "batch"],
            ["--retry-max-wait", "x", "batch"],
            ["--snapshot-id", "", "batch"],
            ["--output", "a.csv", "--resume", "b.csv", "batch"],
        ]
        for args in cases:
            r = elig(self.srv(), *args)
            self.assertEqual(r.returncode, 2, args)
            self.assertEqual(r.stdout, "", args)
            self.assertEqual(len(r.stderr.splitlines()), 1, (args, r.stderr))
            self.assertTrue(r.stderr.startswith("elig: "), (args, r.stderr))

    def test_help_lists_every_flag(self):
        r = elig("--help")
        self.assertEqual(r.returncode, 0)
        for flag in ["--server", "--unix", "--timeout", "--json", "--exit-status",
                     "--pipeline", "--batch-size", "--quiet", "--help", "--version",
                     "check", "batch", "household", "info", "ping", "(default 5)",
                     "(default 127.0.0.1:7420)", "--format csv|jsonl", "--keep-columns",
                     "--no-keep-columns", "--output FILE", "--resume FILE", "--retries N",
                     "(default 8)", "--retry-max-wait", "--snapshot-id ID", "--snapshot-wait"]:
            self.assertIn(flag, r.stdout)
        r = elig("--version")
        self.assertEqual(r.returncode, 0)
        self.assertRegex(r.stdout, r"^elig \d+\.\d+\.\d+")

    # ---- servers ----------------------------------------------------------

    def test_refused_is_exit_1(self):
        r = elig("--server", refused_addr(), "ping")
        self.assertEqual(r.returncode, 1)
        self.assertIn("cannot connect", r.stderr)
        self.assertEqual(len(r.stderr.splitlines()), 1)

    def test_fallback_servers(self):
        bad = refused_addr()
        for args in (["--server", bad + "," + self.a.addr],
                     ["--server", bad, "--server", self.a.addr]):
            r = elig(*args, "check", "nik", "3171000000000042", "PKH", "2026-11")
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertIn("Rp 42 a month", r.stdout)

    def test_server_error_answer(self):
        e = Fake(self.tmp, "E", "error")
        try:
            r = elig("--server", e.addr, "check", "nik", "3171000000000042", "PKH", "2026-11")
        finally:
            e.stop()
        self.assertEqual(r.returncode, 1)
        self.assertEqual(r.stderr, "elig: check: server error code 1: item 0: bad id\n")

    def test_timeout(self):
        s = Fake(self.tmp, "S", "silent")
        try:
            t0 = time.monotonic()
            r = elig("--server", s.addr, "--timeout", "0.3", "ping")
            took = time.monotonic() - t0
        finally:
            s.stop()
        self.assertEqual(r.returncode, 1)
        self.assertIn("timeout", r.stderr)
        self.assertLess(took, 30)  # a hang would be caught by the ctest timeout anyway

    def test_ping_household(self):
        r = elig(self.srv(), "ping")
        self.assertEqual((r.returncode, r.stdout), (0, "pong\n"))
        r = elig(self.srv(), "--json", "ping")
        self.assertEqual(json.loads(r.stdout), "pong")
        # The fake answers household with nil: no such family.
        r = elig(self.srv(), "household", "kk", "3171000000000042")
        self.assertEqual((r.returncode, r.stdout), (0, "no such family\n"))
        r = elig(self.srv(), "--json", "household", "kk", "3171000000000042")
        self.assertIsNone(json.loads(r.stdout))
        # ... and info with nil, which is not an info map.
        r = elig(self.srv(), "info")
        self.assertEqual(r.returncode, 1)
        self.assertIn("protocol error", r.stderr)

    # ---- batch ------------------------------------------------------------

    def expected_row(self, kind, id_, program, period, snap="A"):
        return "%s,%s,%s,%s,true,eligible,%d,%s,3171010001,%s," % (
            kind, id_, program, period, int(id_[-6:]), id_, snap)

    def test_batch_order_and_bad_rows(self):
        rows = [
            "period,extra,kind,id,program",           # header: any order, extra column
            "2026-11,x,nik,3171000000000001,PKH",
            "2026-11,x,nik,31710000000000,PKH",       # 3: bad id
            "",                                       # empty line, skipped
            '2026-12,"a, ""quoted"" one",kk,3171000000000004,BPNT',
            "2026-11,x,nik",                          # 6: too few fields
            '2026-11,"multi\nline",kks,3171000000000007,PKH',  # spans lines 7-8
            '2026-11,x,n"ik,3171000000000009,PKH',    # 9: quote in unquoted field
            "2026-13,x,kk,3171000000000010,PKH",      # 10: bad period
            "2026-11,x,kk,3171000000000011,PKH",
        ]
        src = "\r\n".join(rows) + "\r\n"
        r = elig(self.srv(), "batch", "--batch-size", "2", "--pipeline", "2", stdin=src)
        self.assertEqual(r.returncode, 1, r.stderr)
        # The unused column `extra` is passed through last, its bytes as read
        # (quotes and the embedded line break included).
        out = r.stdout.split("\n")
        self.assertEqual(out[0], "kind,id,program,period,eligible,reason,amount,kk,region,"
                                 "snapshot,error,extra")
        self.assertEqual(out[1], self.expected_row("nik", "3171000000000001", "PKH", "2026-11") + ",x")
        self.assertEqual(out[2], "nik,31710000000000,PKH,2026-11,,,,,,,line 3: bad id,x")
        self.assertEqual(out[3], self.expected_row("kk", "3171000000000004", "BPNT", "2026-12") +
                         ',"a, ""quoted"" one"')
        self.assertEqual(out[4], 'nik,,,2026-11,,,,,,,"line 6: malformed row: 3 fields, expected 5",x')
        self.assertEqual(out[5] + "\n" + out[6], self.expected_row(
            "kks", "3171000000000007", "PKH", "2026-11") + ',"multi\nline"')
        self.assertEqual(out[7], '"n""ik",3171000000000009,PKH,2026-11,,,,,,,'
                                 'line 9: malformed row: quote inside an unquoted field,x')
        self.assertEqual(out[8], "kk,3171000000000010,PKH,2026-13,,,,,,,line 10: bad period,x")
        self.assertEqual(out[9], self.expected_row("kk", "3171000000000011", "PKH", "2026-11") + ",x")
        self.assertEqual(out[10:], [""])
        err = r.stderr.splitlines()
        self.assertIn("elig: batch: stdin:3: bad id", err)
        self.assertIn("elig: batch: stdin:6: malformed row: 3 fields, expected 5", err)
        self.assertIn("elig: batch: stdin:10: bad period", err)
        self.assertIn("elig: batch: 8 rows in", err[-2])
        self.assertIn("4 answered, 4 failed", err[-2])
        # every answer of the fake is eligible: amount = the id's last 6 digits
        self.assertEqual(err[-1], "elig: batch: eligible 4, Rp 23 in total")
        # --no-keep-columns: the fixed columns only
        r = elig(self.srv(), "batch", "--no-keep-columns", stdin=src)
        out = r.stdout.split("\n")
        self.assertEqual(out[0], "kind,id,program,period,eligible,reason,amount,kk,region,"
                                 "snapshot,error")
        self.assertEqual(out[5], self.expected_row("kks", "3171000000000007", "PKH", "2026-11"))
        self.assertEqual(len(out), 10)

    def test_batch_no_header_many_rows(self):
        n = 20000
        ids = ["%016d" % (3171000000000000 + i * 7919) for i in range(n)]
        src = "".join("kk,%s,PKH,2026-11\n" % i for i in ids)
        path = os.path.join(self.tmp, "q.csv")
        with open(path, "w") as f:
            f.write("\ufeff" + src)  # a BOM is skipped
        for extra in ([], ["--batch-size", "1", "--pipeline", "500"], ["--batch-size", "997"]):
            r = elig(self.srv(), "batch", path, "--quiet", *extra)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertEqual(r.stderr, "")
            out = r.stdout.splitlines()
            self.assertEqual(len(out), n + 1)
            for i in (0, 1, 4999, 12345, n - 1):
                self.assertEqual(out[i + 1], self.expected_row("kk", ids[i], "PKH", "2026-11"))
            self.assertEqual([line.split(",")[1] for line in out[1:]], ids)

    def test_batch_progress_only_on_a_terminal(self):
        import pty
        src = "".join("kk,%016d,PKH,2026-11\n" % (3171000000000000 + i) for i in range(40000))
        path = os.path.join(self.tmp, "p.csv")
        with open(path, "w") as f:
            f.write(src)
        master, slave = pty.openpty()
        try:
            p = subprocess.run([ELIG, self.srv(), "batch", path, "--pipeline", "2",
                                "--batch-size", "1"], stdout=subprocess.DEVNULL,
                               stderr=slave, timeout=60)
            os.close(slave)
            slave = -1
            err = b""
            while True:
                try:
                    chunk = os.read(master, 65536)
                except OSError:  # EIO: the other side is closed
                    break
                if not chunk:
                    break
                err += chunk
        finally:
            os.close(master)
            if slave >= 0:
                os.close(slave)
        self.assertEqual(p.returncode, 0)
        self.assertIn(b"\r\x1b[K", err)  # the progress line is cleared at the end
        self.assertIn(b"elig: batch: 40000 rows in", err)
        self.assertRegex(err, rb"\d+%  \d+ rows, \d+ rows/s, \d+:\d\d left")
        r = elig(self.srv(), "batch", path, "--pipeline", "2", "--batch-size", "1")
        self.assertNotIn("\r", r.stderr)
        self.assertEqual(len(r.stderr.splitlines()), 2)  # the summary, and the reasons

    def test_batch_missing_header_column(self):
        r = elig(self.srv(), "batch", stdin="kind,id,program\nnik,3171000000000001,PKH\n")
        self.assertEqual(r.returncode, 1)
        self.assertIn("stdin:1: header has no column 'period'", r.stderr)
        r = elig(self.srv(), "batch", stdin="KIND,Id,Program,kind\n")
        self.assertEqual(r.returncode, 1)
        self.assertIn("stdin:1: header names column 'kind' twice (columns 1 and 4)", r.stderr)

    def test_batch_missing_file(self):
        r = elig(self.srv(), "batch", os.path.join(self.tmp, "nope.csv"))
        self.assertEqual(r.returncode, 1)
        self.assertIn("nope.csv", r.stderr)

    def test_batch_server_dies_stops_with_errors(self):
        d = Fake(self.tmp, "D", "answer", die_after=4)  # the info elig batch asks first, 3 rows
        try:
            src = "".join("nik,%016d,PKH,2026-11\n" % (3171000000000000 + i) for i in range(50))
            r = elig("--server", d.addr, "batch", "--batch-size", "1", "--pipeline", "1",
                     "--retries", "2", "--retry-max-wait", "0.1", stdin=src)
        finally:
            d.stop()
        self.assertEqual(r.returncode, 1)
        # The answered rows, and nothing after the first unanswered one, so
        # that --resume can continue the run.
        out = r.stdout.splitlines()[1:]
        self.assertEqual(out, [self.expected_row("nik", "%016d" % (3171000000000000 + i),
                                                 "PKH", "2026-11", "D") for i in range(3)])
        self.assertIn("elig: batch: stdin:4: stopped at this line (1 row read and not "
                      "answered): cannot connect to", r.stderr)
        self.assertIn("connection lost: %s: " % d.addr, r.stderr)
        self.assertIn("(2 retries)", r.stderr)
        self.assertIn("retry 1 of 2 in 0.1 s", r.stderr)


if __name__ == "__main__":
    ELIG, FAKE = sys.argv[1], sys.argv[2]
    del sys.argv[1:3]
    unittest.main(verbosity=2)
