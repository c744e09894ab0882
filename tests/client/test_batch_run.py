"""`elig batch` for a disbursement run, against real eligd daemons on
livetest's purpose-built snapshot: pass-through columns byte for byte on
100,000 rows, a header in capitals, JSON lines, an eligd killed and
restarted mid-run, --resume after a SIGKILL of elig (and a torn last
line), and --snapshot-id across a SIGHUP reload onto another snapshot.

Every expected output is built here from livetest.CASES (answers worked
out by hand from SPEC 2) and the input rows the test wrote, never taken
from elig itself; "identical to a clean run" is checked against that too."""
import json
import os
import signal
import socket
import subprocess
import time
import unittest

import livetest as lt
from pyfake import FakeServer

ELIG = lt.ELIG
HEADER = "kind,id,program,period,eligible,reason,amount,kk,region,snapshot,error"
# Pass-through cells as written in the input (raw CSV bytes): quotes,
# commas, UTF-8, an embedded line break, an empty cell.
EXTRAS = ['REF-%06d', '"Siti, ""Ani"" Aminah"', 'Ñandú 例子 ✓', '"line one\nline two"', '',
          '"1,234.50"']


def input_rows(n):
    """n rows cycling through CASES, each with bank columns around the query."""
    rows = []
    for i in range(n):
        q = lt.CASES[i % len(lt.CASES)][0]
        ref = EXTRAS[0] % i
        extra = EXTRAS[1 + i % (len(EXTRAS) - 1)]
        rows.append((i % len(lt.CASES), ref, extra, q))
    return rows


def write_input(path, rows, header="ref,kind,id,note,program,period"):
    with open(path, "w", encoding="utf-8", newline="") as f:
        f.write(header + "\r\n")
        for _, ref, extra, (kind, ident, program, period) in rows:
            f.write("%s,%s,%s,%s,%s,%s\r\n" % (ref, kind, ident, extra, program, period))


def answer_cells(case, snap=lt.SNAPSHOT_ID):
    reason, amount, kk = lt.CASES[case][1]
    return "%s,%s,%d,%s,%s,%s," % ("true" if reason == "eligible" else "false", reason, amount,
                                   kk or "", lt.REGION.get(kk, ""), snap)


def expected_csv(rows, snap=lt.SNAPSHOT_ID, keep=True):
    out = [HEADER + (",ref,note" if keep else "") + "\n"]
    for case, ref, extra, q in rows:
        out.append(",".join(q) + "," + answer_cells(case, snap) +
                   ("," + ref + "," + extra if keep else "") + "\n")
    return "".join(out)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Eligd:
    """An eligd on a fixed port (so that it can be restarted there)."""

    def __init__(self, snapshot, tmp, port, name):
        self.snapshot, self.tmp, self.port, self.name = snapshot, tmp, port, name
        self.addr = "127.0.0.1:%d" % port
        self.proc = None
        self.start()

    def start(self):
        ready = os.path.join(self.tmp, "ready-%s-%d" % (self.name, time.monotonic_ns()))
        log = open(os.path.join(self.tmp, "eligd-%s.log" % self.name), "a")
        self.proc = subprocess.Popen([lt.ELIGD, "--snapshot", self.snapshot, "--listen", self.addr,
                                      "--ready-file", ready, "--threads", "1", "--log-level", "warn"],
                                     stdout=log, stderr=log, preexec_fn=lt._die_with_parent)
        log.close()
        lt._children.append(self.proc)
        deadline = time.monotonic() + 20
        while not (os.path.exists(ready) and self._read(ready).endswith("\n")):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("eligd did not start on %s" % self.addr)
            time.sleep(0.01)

    @staticmethod
    def _read(path):
        with open(path) as f:
            return f.read()

    def kill(self):
        self.proc.kill()
        self.proc.wait(timeout=10)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()


def wait_for_size(path, size, proc, timeout=60):
    """Waits until path holds at least size bytes while proc still runs."""
    deadline = time.monotonic() + timeout
    while True:
        if os.path.exists(path) and os.path.getsize(path) >= size:
            return
        if proc.poll() is not None:
            raise AssertionError("elig finished (exit %r) before %s reached %d bytes: the run "
                                 "was too short to be interrupted" % (proc.returncode, path, size))
        if time.monotonic() > deadline:
            raise AssertionError("%s did not reach %d bytes in %ds" % (path, size, timeout))
        time.sleep(0.005)


class BatchRunTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmpdir = lt.tmpdir()
        cls.tmp = cls.tmpdir.name
        cls.snap = lt.build_snapshot(cls.tmp)
        cls.d = lt.Daemon(cls.snap, cls.tmp)
        cls.rows = input_rows(100000)
        cls.input = os.path.join(cls.tmp, "in.csv")
        write_input(cls.input, cls.rows)
        cls.clean = expected_csv(cls.rows)

    @classmethod
    def tearDownClass(cls):
        cls.d.stop()
        cls.tmpdir.cleanup()

    def path(self, name):
        return os.path.join(self.tmp, name)

    def read(self, path):
        with open(path, encoding="utf-8", newline="") as f:
            return f.read()

    def assert_same_output(self, got, want):
        if got != want:  # say where, not two 14 MB strings
            n = next((i for i, (a, b) in enumerate(zip(got, want)) if a != b), min(len(got), len(want)))
            self.fail("output differs at byte %d of %d/%d: got %r, want %r" % (
                n, len(got), len(want), got[max(0, n - 80):n + 80], want[max(0, n - 80):n + 80]))

    # ---- pass-through, headers, formats ------------------------------------------

    def test_pass_through_byte_for_byte_100000_rows(self):
        r = lt.elig("--server", self.d.addr, "batch", self.input, "--quiet")
        self.assertEqual(r.returncode, 0, r.stderr)
        # --quiet leaves only the warning that CASES ask about PBI, a
        # programme the snapshot does not hold (its rows are BPNT and PKH)
        pbi = sum(1 for _, _, _, q in self.rows if q[2] == "PBI")
        self.assertEqual(r.stderr, "elig: batch: warning: snapshot %s holds no programme 'PBI' "
                         "(%d rows); it holds BPNT, PKH: not_enrolled for these rows means the "
                         "programme is unknown\n" % (lt.SNAPSHOT_ID, pbi))
        self.assert_same_output(r.stdout, self.clean)
        r = lt.elig("--server", self.d.addr, "batch", "--no-keep-columns", "--batch-size", "1",
                    "--quiet", self.input)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assert_same_output(r.stdout, expected_csv(self.rows, keep=False))

    def test_header_in_capitals(self):
        rows = input_rows(40)
        path = self.path("caps.csv")
        write_input(path, rows, header="Ref,KIND,ID,Note,PROGRAM,Period")
        r = lt.elig("--server", self.d.addr, "batch", path)
        self.assertEqual(r.returncode, 0, r.stderr)
        want = expected_csv(rows).replace(",ref,note\n", ",Ref,Note\n", 1)
        self.assertEqual(r.stdout, want)
        write_input(path, rows, header="Ref,KIND,IDENT,Note,PROGRAM,Period")
        r = lt.elig("--server", self.d.addr, "batch", path)
        self.assertEqual(r.returncode, 1)
        self.assertEqual(r.stdout, "")
        self.assertIn("elig: batch: %s:1: header has no column 'id'" % path, r.stderr)

    def test_jsonl(self):
        rows = input_rows(300)
        path = self.path("j.csv")
        with open(path, "w", encoding="utf-8", newline="") as f:
            f.write("ref,kind,id,note,program,period\r\n")
            for i, (_, ref, extra, q) in enumerate(rows):
                if i == 5:  # line 8 (row 3 spans two lines): a bad period
                    q = q[:3] + ("2026-13",)
                f.write("%s,%s,%s,%s\r\n" % (ref, ",".join(q[:2]), extra, ",".join(q[2:])))
        r = lt.elig("--server", self.d.addr, "batch", "--format", "jsonl", path)
        self.assertEqual(r.returncode, 1, r.stderr)
        lines = r.stdout.split("\n")
        self.assertEqual(lines[-1], "")
        objs = [json.loads(x) for x in lines[:-1]]
        self.assertEqual(len(objs), len(rows))
        line = 2
        for i, (o, (case, ref, extra, q)) in enumerate(zip(objs, rows)):
            note = extra[1:-1].replace('""', '"') if extra.startswith('"') else extra
            self.assertEqual(o["columns"], {"ref": ref, "note": note})
            self.assertEqual(o["line"], line)
            line += 2 if "\n" in extra else 1
            if i == 5:
                self.assertEqual((o["kind"], o["id"], o["period"]), (q[0], q[1], "2026-13"))
                self.assertIsNone(o["eligible"])
                self.assertEqual(o["error"], "line 8: bad period")
                continue
            reason, amount, kk = lt.CASES[case][1]
            self.assertEqual({k: o[k] for k in o if k not in ("line", "columns")}, {
                "kind": q[0], "id": q[1], "program": q[2], "period": q[3],
                "eligible": reason == "eligible", "reason": reason, "amount": amount, "kk": kk,
                "region": lt.REGION.get(kk), "snapshot": lt.SNAPSHOT_ID, "error": None})
        # errors and the summary are JSON on stderr too
        err = [json.loads(x) for x in r.stderr.splitlines()]
        self.assertEqual(err[0], {"error": "bad period", "command": "batch", "file": path, "line": 8})
        s = err[-1]["summary"]
        self.assertEqual((s["rows"], s["answered"], s["failed"]), (300, 299, 1))
        want = {}
        for i, (case, _, _, _) in enumerate(rows):
            if i != 5:
                want[lt.CASES[case][1][0]] = want.get(lt.CASES[case][1][0], 0) + 1
        self.assertEqual({k: v for k, v in s["reasons"].items() if v}, want)
        self.assertEqual(s["total_amount"], sum(lt.CASES[c][1][1] for i, (c, _, _, _) in
                                                enumerate(rows) if i != 5))
        # --json makes a plain usage error JSON as well
        r = lt.elig("--json", "--retries", "x", "batch")
        self.assertEqual(r.returncode, 2)
        self.assertIn("--retries", json.loads(r.stderr)["error"])

    # ---- interruptions -------------------------------------------------------------

    def test_eligd_killed_and_restarted_mid_run(self):
        d = Eligd(self.snap, self.tmp, free_port(), "restart")
        out = self.path("restart.csv")
        try:
            p = subprocess.Popen([ELIG, "--server", d.addr, "batch", self.input, "--output", out,
                                  "--pipeline", "1", "--batch-size", "1", "--retry-max-wait", "0.5"],
                                 stderr=subprocess.PIPE, text=True)
            try:
                wait_for_size(out, 2 << 20, p)
                d.kill()                     # answers in flight are lost
                # down longer than libeligclient's own rounds of retries
                # (3.1 s), so that elig batch's retry is the one that counts
                time.sleep(4.0)
                d.start()                    # the same port again
                err = p.communicate(timeout=240)[1]
            finally:
                if p.poll() is None:
                    p.kill()
        finally:
            d.stop()
        self.assertEqual(p.returncode, 0, err)
        self.assertIn("retry 1 of 8", err)
        self.assert_same_output(self.read(out), self.clean)

    def test_resume_after_sigkill_of_elig(self):
        out = self.path("resume.csv")
        p = subprocess.Popen([ELIG, "--server", self.d.addr, "batch", self.input, "--output", out,
                              "--pipeline", "1", "--batch-size", "1"], stderr=subprocess.DEVNULL)
        try:
            wait_for_size(out, 3 << 20, p)
            p.send_signal(signal.SIGKILL)
        finally:
            p.kill()
            p.wait(timeout=10)
        part = os.path.getsize(out)
        self.assertLess(part, len(self.clean.encode()))
        r = lt.elig("--server", self.d.addr, "batch", self.input, "--resume", out)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("resuming after ", r.stderr)
        self.assert_same_output(self.read(out), self.clean)
        # the summary counts the whole file, resumed rows included
        self.assertIn("eligible %d, " % sum(1 for c, _, _, _ in self.rows
                                            if lt.CASES[c][1][0] == "eligible"), r.stderr)

    def test_resume_cuts_a_torn_last_line(self):
        data = self.clean.encode()
        out = self.path("torn.csv")
        # cut in the middle of a row whose pass-through cell holds a line break
        cut = data.index(b'"line one\nline two"', len(data) // 2) + 12
        for end in (cut, data.index(b"\n", len(data) // 3) + 1, 30, 0):
            with open(out, "wb") as f:
                f.write(data[:end])
            r = lt.elig("--server", self.d.addr, "batch", self.input, "--resume", out, "--quiet")
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assert_same_output(self.read(out), self.clean)
        # jsonl too
        out = self.path("torn.jsonl")
        r = lt.elig("--server", self.d.addr, "batch", self.input, "--format", "jsonl",
                    "--output", out, "--quiet")
        self.assertEqual(r.returncode, 0, r.stderr)
        with open(out, "rb") as f:
            full = f.read()
        with open(out, "wb") as f:
            f.write(full[:len(full) // 2 + 7])
        r = lt.elig("--server", self.d.addr, "batch", self.input, "--format", "jsonl",
                    "--resume", out, "--quiet")
        self.assertEqual(r.returncode, 0, r.stderr)
        with open(out, "rb") as f:
            self.assertEqual(f.read(), full)

    def test_resume_refuses_another_inputs_output(self):
        out = self.path("other.csv")
        with open(out, "w", newline="") as f:
            f.write(self.clean[:self.clean.index("\n", 5000) + 1])
        other = self.path("other-in.csv")
        write_input(other, input_rows(100)[1:])  # the same columns, rows shifted by one
        r = lt.elig("--server", self.d.addr, "batch", other, "--resume", out)
        self.assertEqual(r.returncode, 1)
        self.assertIn("does not match %s line 2" % other, r.stderr)
        r = lt.elig("--server", self.d.addr, "batch", self.input, "--no-keep-columns", "--resume", out)
        self.assertEqual(r.returncode, 1)
        self.assertIn("its header is not the one this run writes", r.stderr)
        size = os.path.getsize(other)
        for opt in ("--output", "--resume"):
            r = lt.elig("--server", self.d.addr, "batch", other, opt, other)
            self.assertEqual(r.returncode, 2)
            self.assertIn("is the input", r.stderr)
            self.assertEqual(os.path.getsize(other), size)

    def test_unavailable_and_rate_limited_are_retried(self):
        times = []

        def script(method, params, n):
            if method != "check_batch":  # the info elig batch asks first: as an eligd 0.1 would
                return [2, "unknown method '%s'" % method], None
            times.append(time.monotonic())
            n = len(times) - 1
            if n == 1:  # eligd's wording of both (daemon/audit.c, daemon/auth.c)
                return [5, "audit trail unavailable: its records cannot be queued, so the "
                        "request is not answered"], None
            if n == 2:
                return [6, "rate_limited: retry after 400 ms"], None
            return None, [{"eligible": True, "reason": "eligible", "kk": q[1], "region": "3171010001",
                           "amount": int(q[1][-4:]), "snapshot": "fake"} for q in params[0]]
        s = FakeServer(script)
        try:
            ids = ["%016d" % (3171000000000000 + i) for i in range(30)]
            src = "".join("kk,%s,PKH,2026-11\n" % i for i in ids)
            r = lt.elig("--server", s.addr, "batch", "--batch-size", "10", "--pipeline", "1",
                        "--retry-max-wait", "0.1", stdin=src)
        finally:
            s.stop()
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout.splitlines()[1:], [
            "kk,%s,PKH,2026-11,true,eligible,%d,%s,3171010001,fake," % (i, int(i[-4:]), i)
            for i in ids])
        # rows 0-9 answered; 10-19 refused twice and sent again, alone:
        # `unavailable` by libeligclient itself, on a new connection, and
        # silently (nothing failed); `rate_limited` by elig batch, after the
        # wait the server asked for. Before them, `info` (the programme list)
        batches = [p for m, p in s.requests if m == "check_batch"]
        self.assertEqual([m for m, _ in s.requests], ["info"] + ["check_batch"] * 5)
        self.assertEqual([len(p[0]) for p in batches], [10, 10, 10, 10, 10])
        self.assertEqual([p[0][0][1] for p in batches], [ids[0], ids[10], ids[10], ids[10], ids[20]])
        self.assertEqual(s.accepted, 2)
        self.assertGreaterEqual(times[3] - times[2], 0.4)  # the wait the server asked for
        self.assertNotIn("audit trail unavailable", r.stderr)
        self.assertIn("rate_limited: retry after 400 ms; retry 1 of 8", r.stderr)

    # ---- --snapshot-id across a reload ---------------------------------------------

    def snapshots(self):
        links = []
        for sid in ("pin-A", "pin-B"):
            d = os.path.join(self.tmp, sid)
            os.makedirs(d, exist_ok=True)
            links.append(lt.build_snapshot(d, sid))
        live = self.path("live.mdb")
        if os.path.lexists(live):
            os.unlink(live)
        os.symlink(links[0], live)
        return live, links

    def flip(self, live, target, d):
        tmp = live + ".new"
        os.symlink(target, tmp)
        os.replace(tmp, live)
        d.proc.send_signal(signal.SIGHUP)

    def test_snapshot_id_waits_for_the_reload(self):
        live, (a, b) = self.snapshots()
        d = Eligd(live, self.tmp, free_port(), "pin-wait")
        rows = input_rows(3000)
        path = self.path("pin.csv")
        write_input(path, rows)
        try:
            p = subprocess.Popen([ELIG, "--server", d.addr, "batch", path, "--snapshot-id", "pin-B",
                                  "--snapshot-wait", "60", "--retry-max-wait", "0.2"],
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            time.sleep(1.0)  # every answer so far comes from pin-A
            self.assertIsNone(p.poll(), "elig did not wait for snapshot pin-B")
            self.flip(live, b, d)
            out, err = p.communicate(timeout=120)
        finally:
            d.stop()
        self.assertEqual(p.returncode, 0, err)
        self.assertIn("answers from another snapshot than pin-B", err)
        self.assertEqual(out, expected_csv(rows, snap="pin-B"))

    def test_snapshot_id_reload_away_mid_run(self):
        live, (a, b) = self.snapshots()
        d = Eligd(live, self.tmp, free_port(), "pin-away")
        out = self.path("pin-away.csv")
        try:
            p = subprocess.Popen([ELIG, "--server", d.addr, "batch", self.input, "--output", out,
                                  "--snapshot-id", "pin-A", "--snapshot-wait", "1",
                                  "--pipeline", "1", "--batch-size", "1"],
                                 stderr=subprocess.PIPE, text=True)
            try:
                wait_for_size(out, 2 << 20, p)
                self.flip(live, b, d)
                err = p.communicate(timeout=240)[1]
            finally:
                if p.poll() is None:
                    p.kill()
        finally:
            d.stop()
        self.assertEqual(p.returncode, 1, err)
        got = self.read(out).split("\n")
        want = self.clean.split("\n")
        self.assertEqual(len(got), len(want))  # every row once, none lost, none twice
        # a prefix answered by pin-A, then rows refused as answered by pin-B
        want_a = expected_csv(self.rows, snap="pin-A").split("\n")
        k = next(i for i, (g, w) in enumerate(zip(got, want_a)) if g != w)
        self.assertGreater(k, 1000)
        failed = 0
        for g, w in zip(got[k:], want_a[k:]):
            if g == w:
                continue  # a row answered by pin-A before the reload took effect
            failed += 1
            self.assertIn("answered by snapshot pin-B, not pin-A (waited 1 s)", g)
            self.assertNotIn(",pin-B,", g)
        self.assertGreater(failed, 0)
        self.assertIn("not from snapshot pin-A %d" % failed, err)


if __name__ == "__main__":
    unittest.main(verbosity=2)
