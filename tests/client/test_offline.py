"""Offline terminals end to end (SPEC 10, issue 15), against real programs:
elig-snapshot extract and sign, eligd, elig, libeligclient (the example
program of docs/CLIENT.md and a driver), elig-audit.

- elig check --offline-extract answers every case of livetest.CASES from a
  signed extract when no server answers, as worked out by hand (a family
  outside the extract's regions: not_found), marked offline;
- an unsigned extract, one with a flipped byte, one signed by another key
  are refused, each with its reason;
- the example terminal switches to the extract when its server is killed
  and back when the server returns, and uploads its journal once;
- 100,000 queries (hits and misses, every kind and reason) over an
  extract's regions of an elig-gen registry: each offline answer equals the
  server's on the full snapshot field by field, snapshot id apart;
- the journal: uploaded once (a second upload, and a stale copy of the
  journal, add nothing, across a restart of eligd too), its records in
  elig-audit trail with the terminal's time; a torn last record is dropped
  and the next answer takes its place; a terminal killed while answering
  leaves a journal that reads whole.

Environment (tests/client/CMakeLists.txt): ELIGD, ELIG_SNAPSHOT, ELIG,
ELIG_GEN, ELIG_AUDIT, OFFLINE_DRIVER, OFFLINE_TERMINAL."""
import csv
import datetime
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import threading
import time
import unittest

import livetest as lt

ELIG_GEN = os.environ.get("ELIG_GEN", "")
ELIG_AUDIT = os.environ.get("ELIG_AUDIT", "")
DRIVER = os.environ.get("OFFLINE_DRIVER", "")
TERMINAL = os.environ.get("OFFLINE_TERMINAL", "")

EXTRACT_ID = "kec-1"
# The extract holds KK_A, KK_B and KK_C (by their regions); KK_D and KK_E
# are outside it.
EXTRACT_REGIONS = ["3171010001", "3171010002", "3171010003"]
INSIDE = {lt.KK_A, lt.KK_B, lt.KK_C}
# SPEC section 2's reason codes.
REASONS = {"eligible", "not_found", "member_deceased", "household_suspended", "household_graduated",
           "household_terminated", "not_enrolled", "outside_period", "enrollment_suspended"}


def refused_addr():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return "127.0.0.1:%d" % port


def run(*args, timeout=120, stdin=None):
    return subprocess.run(list(args), input=stdin, capture_output=True, text=True, timeout=timeout)


def keypair(d, name):
    key, pub = os.path.join(d, name + ".pem"), os.path.join(d, name + ".pub")
    subprocess.run(["openssl", "genpkey", "-algorithm", "ed25519", "-out", key], check=True,
                   capture_output=True, timeout=30)
    subprocess.run(["openssl", "pkey", "-in", key, "-pubout", "-out", pub], check=True,
                   capture_output=True, timeout=30)
    return key, pub


def extract(full, out, regions, ext_id, key=None):
    args = [lt.ELIG_SNAPSHOT, "extract", full, "--out", out, "--id", ext_id]
    for r in regions:
        args += ["--region", r]
    r = run(*args)
    assert r.returncode == 0, r.stderr
    if key:
        r = run(lt.ELIG_SNAPSHOT, "sign", out, "--key", key)
        assert r.returncode == 0, r.stderr


class Eligd:
    """eligd at a given address (a restart keeps the port), or an ephemeral
    port; stopped by SIGTERM, or killed."""

    def __init__(self, snapshot, d, name, port=0, extra=()):
        self.ready = os.path.join(d, "ready-" + name)
        if os.path.exists(self.ready):
            os.unlink(self.ready)
        self.log = open(os.path.join(d, "eligd-%s.log" % name), "a")
        self.proc = subprocess.Popen(
            [lt.ELIGD, "--snapshot", snapshot, "--listen", "127.0.0.1:%d" % port, "--ready-file", self.ready,
             "--threads", "1", "--log-level", "warn", *extra],
            stdout=self.log, stderr=self.log, preexec_fn=lt._die_with_parent)
        lt._children.append(self.proc)
        deadline = time.monotonic() + 20
        while True:
            if os.path.exists(self.ready):
                with open(self.ready) as f:
                    text = f.read()
                if text.endswith("\n"):
                    break
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("eligd did not start; see " + self.log.name)
            time.sleep(0.01)
        self.port = int(text)
        self.addr = "127.0.0.1:%d" % self.port

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()

    def kill(self):
        self.proc.kill()
        self.proc.wait()
        self.log.close()


class Offline(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = lt.tmpdir()
        d = cls.dir = cls.tmp.name
        cls.full = lt.build_snapshot(d)
        cls.key, cls.pub = keypair(d, "ministry")
        cls.other_key, cls.other_pub = keypair(d, "other")
        cls.ext = os.path.join(d, "kec.mdb")
        extract(cls.full, cls.ext, EXTRACT_REGIONS, EXTRACT_ID, cls.key)
        cls.audit = os.path.join(d, "audit")
        cls.d = Eligd(cls.full, d, "main", extra=("--audit-dir", cls.audit, "--audit-sync-ms", "20"))

    @classmethod
    def tearDownClass(cls):
        cls.d.stop()
        cls.tmp.cleanup()

    def offline_check(self, q, *extra, ext=None, pub=None, server=None):
        return lt.elig("--server", server or refused_addr(), "--json", "check", "--offline-extract",
                       ext or self.ext, "--offline-pubkey", pub or self.pub, *extra, *q)

    # ---- elig check --offline-extract --------------------------------------

    def test_cli_answers_every_case_offline(self):
        for q, (reason, amount, kk) in lt.CASES:
            if kk is not None and kk not in INSIDE:  # outside the extract's regions
                reason, amount, kk = "not_found", 0, None
            r = self.offline_check(q)
            self.assertEqual(r.returncode, 0, (q, r.stderr))
            a = json.loads(r.stdout)
            self.assertEqual(a, {"eligible": reason == "eligible", "reason": reason, "amount": amount, "kk": kk,
                                 "region": lt.REGION.get(kk), "snapshot": EXTRACT_ID, "offline": True,
                                 "extract": EXTRACT_ID}, q)
        # a family the extract does not hold, found by the server
        self.assertIn(("kk", lt.KK_D, "PKH", "2026-03"), [c[0] for c in lt.CASES])
        # in words too
        r = lt.elig("--server", refused_addr(), "check", "--offline-extract", self.ext, "--offline-pubkey",
                    self.pub, "nik", lt.N1, "PKH", "2026-11")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("OFFLINE, extract %s" % EXTRACT_ID, r.stdout)

    def test_cli_online_when_the_server_answers(self):
        r = self.offline_check(("nik", lt.N1, "PKH", "2026-11"), server=self.d.addr)
        self.assertEqual(r.returncode, 0, r.stderr)
        a = json.loads(r.stdout)
        self.assertEqual(a["snapshot"], lt.SNAPSHOT_ID)
        self.assertNotIn("offline", a)
        # the server holds KK_D: online it is found
        r = self.offline_check(("kk", lt.KK_D, "PKH", "2026-03"), server=self.d.addr)
        self.assertEqual(json.loads(r.stdout)["reason"], "household_graduated")

    def test_refused_extracts(self):
        d = self.dir
        unsigned = os.path.join(d, "unsigned.mdb")
        extract(self.full, unsigned, EXTRACT_REGIONS, "kec-unsigned")
        other = os.path.join(d, "other.mdb")
        extract(self.full, other, EXTRACT_REGIONS, "kec-other", self.other_key)
        flipped = os.path.join(d, "flipped.mdb")
        shutil.copy(self.ext, flipped)
        with open(flipped, "r+b") as f:
            size = os.path.getsize(flipped)
            for where in (size // 2,):
                f.seek(where)
                b = f.read(1)
                f.seek(where)
                f.write(bytes([b[0] ^ 1]))
        for path, pub, why in ((unsigned, self.pub, "unsigned"), (other, self.pub, "another key"),
                               (other, self.other_pub, None), (flipped, self.pub, flipped)):
            r = self.offline_check(("nik", lt.N1, "PKH", "2026-11"), ext=path, pub=pub)
            if why is None:  # signed by the key given: fine
                self.assertEqual(r.returncode, 0, r.stderr)
                self.assertEqual(json.loads(r.stdout)["extract"], "kec-other")
                continue
            self.assertEqual(r.returncode, 1, (path, r.stdout))
            self.assertEqual(r.stdout, "")
            self.assertEqual(len(r.stderr.strip().splitlines()), 1, r.stderr)
            self.assertIn("refused", r.stderr)
            self.assertIn(why, r.stderr)
        # usage: the key is required; the flags belong to check
        r = lt.elig("--server", refused_addr(), "check", "--offline-extract", self.ext, "nik", lt.N1, "PKH",
                    "2026-11")
        self.assertEqual(r.returncode, 2)
        self.assertIn("--offline-pubkey", r.stderr)
        r = lt.elig("--server", refused_addr(), "--offline-extract", self.ext, "--offline-pubkey", self.pub, "ping")
        self.assertEqual(r.returncode, 2)
        r = self.offline_check(("nik", lt.N1, "PKH", "2026-11"), pub=os.path.join(d, "none.pub"))
        self.assertEqual(r.returncode, 2)
        self.assertIn("none.pub", r.stderr)

    # ---- the example terminal: offline and back --------------------------------

    def test_terminal_switches_offline_and_back(self):
        d = os.path.join(self.dir, "switch")
        os.mkdir(d)
        journal = os.path.join(d, "journal")
        audit = os.path.join(d, "audit")
        extra = ("--audit-dir", audit, "--audit-sync-ms", "20")
        srv = Eligd(self.full, d, "sw", extra=extra)
        port = srv.port
        term = subprocess.Popen([TERMINAL, srv.addr, self.ext, self.pub, journal, "300"], stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                preexec_fn=lt._die_with_parent)
        lt._children.append(term)

        def ask(line):
            term.stdin.write(line + "\n")
            term.stdin.flush()
            return term.stdout.readline().split()

        try:
            q = "nik %s PKH 2026-11" % lt.N1
            online = ["eligible", "110000", lt.KK_A, lt.REGION[lt.KK_A], "snapshot", lt.SNAPSHOT_ID]
            offline = ["eligible", "110000", lt.KK_A, lt.REGION[lt.KK_A], "offline", EXTRACT_ID]
            self.assertEqual(ask(q), online)
            time.sleep(0.2)  # its audit record synced (--audit-sync-ms 20) before the kill
            srv.kill()  # the network is gone
            t0 = time.monotonic()
            self.assertEqual(ask(q), offline)
            self.assertLess(time.monotonic() - t0, 10)
            self.assertEqual(ask("kk %s PKH 2026-11" % lt.KK_B),
                             ["household_suspended", "0", lt.KK_B, lt.REGION[lt.KK_B], "offline", EXTRACT_ID])
            # outside the extract's regions: not_found, offline
            self.assertEqual(ask("kk %s PKH 2026-03" % lt.KK_D), ["not_found", "0", "-", "-", "offline", EXTRACT_ID])
            srv = Eligd(self.full, d, "sw", port=port, extra=extra)  # it is back
            time.sleep(0.4)  # past RETRY_MS (300)
            self.assertEqual(ask(q), online)
            self.assertEqual(ask("kk %s PKH 2026-03" % lt.KK_D)[0], "household_graduated")
            # the three offline answers reach the trail, once
            self.assertEqual(ask("upload"), ["uploaded", "3", "3", "0"])
            self.assertEqual(ask("upload"), ["uploaded", "0", "0", "0"])
            term.stdin.close()
            self.assertEqual(term.wait(timeout=20), 0)
            self.assertIn("extract %s of %s" % (EXTRACT_ID, lt.SNAPSHOT_ID), term.stderr.read())
        finally:
            if term.poll() is None:
                term.kill()
                term.wait()
            term.stdout.close()
            term.stderr.close()
            srv.stop()
        r = run(ELIG_AUDIT, "trail", audit, "--snapshot", self.full, "--json", "kk", lt.KK_A)
        self.assertEqual(r.returncode, 0, r.stderr)
        recs = json.loads(r.stdout)["records"]
        self.assertEqual(sorted((x["method"], x["snapshot"]) for x in recs),
                         [("check", lt.SNAPSHOT_ID), ("check", lt.SNAPSHOT_ID), ("offline_check", EXTRACT_ID)])

    def test_terminal_refuses_a_bad_extract_at_start(self):
        unsigned = os.path.join(self.dir, "unsigned-start.mdb")
        extract(self.full, unsigned, EXTRACT_REGIONS, "kec-u")
        r = run(TERMINAL, refused_addr(), unsigned, self.pub, os.path.join(self.dir, "j-unused"), stdin="")
        self.assertEqual(r.returncode, 1)
        self.assertIn("unsigned", r.stderr)

    # ---- the journal ---------------------------------------------------------

    def trail(self, kind, ident, audit=None):
        r = run(ELIG_AUDIT, "trail", audit or self.audit, "--snapshot", self.full, "--json", kind, ident)
        self.assertEqual(r.returncode, 0, r.stderr)
        return [x for x in json.loads(r.stdout)["records"] if x["method"] == "offline_check"]

    def upload(self, journal, server=None):
        r = lt.elig("--server", server or self.d.addr, "--json", "journal", "upload", journal)
        self.assertEqual(r.returncode, 0, r.stderr)
        return json.loads(r.stdout)

    def test_journal_uploaded_once_into_the_trail(self):
        journal = os.path.join(self.dir, "once.jnl")
        t0 = datetime.datetime.now(datetime.timezone.utc)
        qs = [("nik", lt.N4, "PKH", "2026-06"), ("kk", lt.KK_C, "BPNT", "2026-03"), ("kk", lt.KK_E, "PKH", "2026-03")]
        for q in qs:
            r = self.offline_check(q, "--offline-journal", journal)
            self.assertEqual(r.returncode, 0, r.stderr)
        t1 = datetime.datetime.now(datetime.timezone.utc)
        self.assertEqual(os.stat(journal).st_mode & 0o777, 0o600)
        stale = journal + ".copy"  # as it was before any upload
        shutil.copy(journal, stale)
        time.sleep(0.2)  # the upload's time is visibly later than the answers'
        u = self.upload(journal)
        self.assertEqual({k: u[k] for k in ("records", "last", "sent", "accepted", "duplicates", "acknowledged")},
                         {"records": 3, "last": 3, "sent": 3, "accepted": 3, "duplicates": 0, "acknowledged": 3})
        u = self.upload(journal)
        self.assertEqual((u["sent"], u["accepted"], u["acknowledged"]), (0, 0, 3))
        # the stale copy has no acknowledgement: sent again, recorded never
        u = self.upload(stale)
        self.assertEqual((u["sent"], u["accepted"], u["duplicates"]), (3, 0, 3))
        # eligd restarted: it still knows
        self.__class__.d.stop()
        self.__class__.d = Eligd(self.full, self.dir, "main2",
                                 extra=("--audit-dir", self.audit, "--audit-sync-ms", "20"))
        # a copy from before the first upload, once more, after the restart
        u = self.upload(self.make_unacked_copy(journal, journal + ".copy2"))
        self.assertEqual((u["sent"], u["accepted"], u["duplicates"]), (3, 0, 3))
        # in the trail, once each, with the terminal's time and the extract
        recs = self.trail("nik", lt.N4)
        self.assertEqual(len(recs), 2, recs)  # by NIK and by the family's KK
        by_id = {x["id"]: x for x in recs}
        self.assertEqual(set(by_id), {lt.N4, lt.KK_C})
        a = by_id[lt.N4]
        self.assertEqual((a["kind"], a["program"], a["period"], a["result"], a["amount"], a["kk"], a["snapshot"],
                          a["offline"]), ("nik", "PKH", "2026-06", "eligible", 750000, lt.KK_C, EXTRACT_ID, True))
        b = by_id[lt.KK_C]
        self.assertEqual((b["result"], b["amount"], b["program"]), ("enrollment_suspended", 0, "BPNT"))
        for x in recs:
            when = datetime.datetime.strptime(x["time"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(
                tzinfo=datetime.timezone.utc)
            self.assertTrue(t0 <= when <= t1, (x["time"], t0, t1))
            self.assertRegex(x["detail"], r"^terminal=[0-9a-f]{32} seq=[12]$")
        e = self.trail("kk", lt.KK_E)
        self.assertEqual([(x["result"], x["kk"]) for x in e], [("not_found", None)])
        r = run(ELIG_AUDIT, "verify", self.audit)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)

    def make_unacked_copy(self, journal, out):
        """The journal's header and answer records, without its
        acknowledgements (as a backup taken before any upload would be)."""
        with open(journal, "rb") as f:
            data = f.read()
        keep, off = data[:64], 64
        while off < len(data):
            n = int.from_bytes(data[off:off + 4], "little")
            if data[off + 8] == 1:  # an answer (journal.h)
                keep += data[off:off + 8 + n]
            off += 8 + n
        with open(out, "wb") as f:
            f.write(keep)
        return out

    def test_torn_journal_record_is_dropped(self):
        journal = os.path.join(self.dir, "torn.jnl")
        for q in (("nik", lt.N1, "PKH", "2026-11"), ("nik", lt.N3, "PKH", "2026-11")):
            self.assertEqual(self.offline_check(q, "--offline-journal", journal).returncode, 0)
        size = os.path.getsize(journal)
        os.truncate(journal, size - 7)  # the terminal died writing the second
        r = self.offline_check(("kk", lt.KK_D, "PKH", "2026-03"), "--offline-journal", journal)
        self.assertEqual(r.returncode, 0, r.stderr)
        u = self.upload(journal)
        self.assertEqual((u["records"], u["last"], u["accepted"]), (2, 2, 2))
        recs = self.trail("kk", lt.KK_A)
        mine = [x for x in recs if x["id"] == lt.N1 and x["detail"].endswith(" seq=1")]
        self.assertTrue(mine)
        self.assertEqual(self.trail("nik", lt.N3), [])  # the torn answer was never given
        self.assertEqual([x["result"] for x in self.trail("kk", lt.KK_D)], ["not_found"])

    def test_terminal_killed_mid_write_leaves_a_whole_journal(self):
        journal = os.path.join(self.dir, "killed.jnl")
        term = subprocess.Popen([TERMINAL, refused_addr(), self.ext, self.pub, journal], stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, preexec_fn=lt._die_with_parent)
        lt._children.append(term)
        lines = ("nik %s PKH 2026-11\n" % lt.N1).encode() * 20000

        def feed():
            try:
                term.stdin.write(lines)
                term.stdin.close()
            except (BrokenPipeError, ValueError):
                pass  # killed first

        feeder = threading.Thread(target=feed, daemon=True)
        feeder.start()
        got = b""
        deadline = time.monotonic() + 30
        while got.count(b"\n") < 50 and time.monotonic() < deadline:
            got += os.read(term.stdout.fileno(), 65536)
        term.send_signal(signal.SIGKILL)
        term.wait()
        got += term.stdout.read()
        term.stdout.close()
        printed = got.count(b"\n")
        self.assertGreaterEqual(printed, 50)
        r = lt.elig("--server", self.d.addr, "--json", "journal", "upload", journal)
        self.assertEqual(r.returncode, 0, r.stderr)
        u = json.loads(r.stdout)
        # every answer printed is in the journal; at most one more was
        # journalled and not yet printed; none torn
        self.assertTrue(printed <= u["records"] <= printed + 1, (printed, u))
        self.assertEqual((u["accepted"], u["acknowledged"]), (u["records"], u["records"]))

    # ---- equal answers -------------------------------------------------------

    def test_equal_answers_100000(self):
        d = os.path.join(self.dir, "equal")
        os.mkdir(d)
        gen = os.path.join(d, "csv")
        r = run(ELIG_GEN, "--households", "20000", "--seed", "15", "--out", gen, "--quiet")
        self.assertEqual(r.returncode, 0, r.stderr)
        full = os.path.join(d, "full.mdb")
        r = run(lt.ELIG_SNAPSHOT, "build", "--households", gen + "/households.csv", "--members",
                gen + "/members.csv", "--enrollments", gen + "/enrollments.csv", "--out", full, "--id", "national-15",
                "--rejects", os.path.join(d, "rejects.csv"))
        self.assertEqual(r.returncode, 0, r.stderr)
        prefixes = ("32", "3471")
        ext = os.path.join(d, "ext.mdb")
        extract(full, ext, prefixes, "jabar-diy-15", self.key)

        # the registry as the CSV files say, filtered here
        hh, kks, members, programs = {}, {}, {}, set()
        with open(gen + "/households.csv", newline="") as f:
            for row in csv.DictReader(f):
                hh[row["kk"]] = row["region"]
                if row["kks"]:
                    kks[row["kks"]] = row["kk"]
        with open(gen + "/members.csv", newline="") as f:
            for row in csv.DictReader(f):
                members[row["nik"]] = row["kk"]
        with open(gen + "/enrollments.csv", newline="") as f:
            for row in csv.DictReader(f):
                programs.add(row["program"])
        inside = {kk for kk, region in hh.items() if region.startswith(prefixes)}
        self.assertTrue(1000 < len(inside) < len(hh) // 2, len(inside))
        ids = {"kk": sorted(inside), "nik": sorted(n for n, kk in members.items() if kk in inside),
               "kks": sorted(c for c, kk in kks.items() if kk in inside)}
        known = set(hh) | set(members) | set(kks)
        rnd = random.Random(15)
        programs = sorted(programs) + ["PBI", "XYZ"]
        periods = ["%04d-%02d" % (y, m) for y in range(2018, 2028) for m in range(1, 13)]
        queries = []
        for i in range(100000):
            kind = ("nik", "kk", "kks")[i % 3]
            if i % 10 == 0:  # a miss: an id of the region's shape that names no one
                while True:
                    ident = rnd.choice(("32", "3471")) + "%014d" % rnd.randrange(10 ** 14)
                    if ident[:4] == "3471":
                        ident = ident[:16]
                    if kind == "kks":
                        ident = "6" + ident[1:]
                    if ident not in known:
                        break
            else:
                ident = rnd.choice(ids[kind])
            queries.append((kind, ident, rnd.choice(programs), rnd.choice(periods)))
        text = "".join(",".join(q) + "\n" for q in queries)

        srv = Eligd(full, d, "equal")
        try:
            r = run(lt.ELIG, "--server", srv.addr, "batch", "--format", "jsonl", "--no-keep-columns", "--quiet",
                    "-", stdin=text, timeout=300)
        finally:
            srv.stop()
        self.assertEqual(r.returncode, 0, r.stderr[-2000:])
        online = [json.loads(x) for x in r.stdout.splitlines()]
        t = time.monotonic()
        r = run(DRIVER, refused_addr(), ext, self.pub, stdin=text, timeout=300)
        offline_s = time.monotonic() - t
        self.assertEqual(r.returncode, 0, r.stderr[-2000:])
        offline = [json.loads(x) for x in r.stdout.splitlines()]
        self.assertEqual((len(online), len(offline)), (100000, 100000))
        differ = []
        for q, a, b in zip(queries, online, offline):
            self.assertEqual(a["snapshot"], "national-15")
            self.assertEqual((b["snapshot"], b["offline"], b["extract"]), ("jabar-diy-15", True, "jabar-diy-15"))
            fields = ("eligible", "reason", "amount", "kk", "region")
            if any(a[k] != b[k] for k in fields):
                differ.append((q, a, b))
        self.assertEqual(differ[:5], [], "%d of 100000 differ" % len(differ))
        # the sample covers every reason and kind, hits and misses
        self.assertEqual({a["reason"] for a in online}, REASONS)
        hits = sum(1 for a in online if a["reason"] != "not_found")
        self.assertTrue(50000 < hits < 95000, hits)
        for kind in ("nik", "kk", "kks"):
            self.assertTrue(any(q[0] == kind and a["reason"] != "not_found" for q, a in zip(queries, online)))
        print("equal answers: 100000 offline checks through libeligclient in %.1f s" % offline_s)

        # outside the extract's regions: found by the server, not_found offline
        outside = sorted(kk for kk in hh if kk not in inside)[:200]
        text = "".join("kk,%s,PKH,2024-01\n" % kk for kk in outside)
        r = run(DRIVER, refused_addr(), ext, self.pub, stdin=text)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual({json.loads(x)["reason"] for x in r.stdout.splitlines()}, {"not_found"})
        self.assertEqual(len(r.stdout.splitlines()), 200)


if __name__ == "__main__":
    unittest.main(verbosity=2)
