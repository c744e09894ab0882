#!/usr/bin/python3
"""Black-box tests of the elig-snapshot command line: exit codes, messages,
the printed counts, and that a build killed at any instant leaves the old
snapshot or the new one at --out, never a partial file.

usage: cli_test.py ELIG_SNAPSHOT_BINARY
"""
import os
import random
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest

BIN = None

HH = "kk,region,status,kks,head_name\n"
MEM = "nik,kk,status,birth_date\n"
ENR = "kk,program,start,end,amount,status\n"


def run(*args, **kw):
    return subprocess.run([BIN, *args], capture_output=True, text=True, timeout=120, **kw)


def write(path, text):
    with open(path, "w", newline="") as f:
        f.write(text)


def big_inputs(d, families):
    """A valid registry of `families` families, 3 members and 2 enrollments
    each: enough rows that a build takes a noticeable time."""
    rnd = random.Random(7)
    hh, mem, enr = [HH], [MEM], [ENR]
    kks = rnd.sample(range(10**15, 10**16), families)
    for i in range(families):
        kk = 3201010000000000 + i * 7 + 1
        hh.append(f"{kk},3201010001,active,{kks[i]},Keluarga {i}\n")
        for j in range(3):
            n = i * 3 + j  # a distinct (year, serial) per member
            nik = f"3201011501{n // 9000:02d}{n % 9000 + 1000:04d}"
            mem.append(f"{nik},{kk},alive,1990-01-15\n")
        enr.append(f"{kk},PKH,2020-01,2020-12,300000,active\n")
        enr.append(f"{kk},BPNT,2020-03,,200000,active\n")
    paths = {}
    for name, rows in (("households.csv", hh), ("members.csv", mem), ("enrollments.csv", enr)):
        paths[name] = os.path.join(d, name)
        write(paths[name], "".join(rows))
    return paths


def month(s):
    """YYYY-MM as the number docs/SNAPSHOT.md uses: year * 12 + month - 1."""
    return int(s[:4]) * 12 + int(s[5:7]) - 1


def content_sha256(hh_csv, mem_csv, enr_csv):
    """content_sha256 computed from the CSV files (all rows valid) exactly
    as docs/SNAPSHOT.md writes it down: an independent implementation."""
    import csv as csvmod
    import hashlib
    import struct

    def rows(path):
        with open(path, newline="") as f:
            return list(csvmod.DictReader(f))

    hh_status = {"active": 0, "suspended": 1, "graduated": 2, "terminated": 3}
    enr = {}
    for r in rows(enr_csv):
        end = month(r["end"]) if r["end"] else 0xFFFFFFFF
        enr.setdefault(int(r["kk"]), []).append(
            (r["program"].encode(), month(r["start"]), end, int(r["amount"]), 0 if r["status"] == "active" else 1))
    out = bytearray(b"eligd-content-v1\n")
    for r in sorted(rows(hh_csv), key=lambda r: int(r["kk"])):
        kk, kks = int(r["kk"]), r.get("kks") or ""
        out += b"H" + struct.pack("<QQBBQ", kk, int(r["region"]), hh_status[r["status"]], 1 if kks else 0,
                                  int(kks) if kks else 0)
        for prog, start, end, amount, st in sorted(enr.get(kk, [])):
            out += b"E" + bytes([len(prog)]) + prog + struct.pack("<IIIB", start, end, amount, st)
    for r in sorted(rows(mem_csv), key=lambda r: int(r["nik"])):
        out += b"M" + struct.pack("<QQB", int(r["nik"]), int(r["kk"]), 1 if r["status"] == "deceased" else 0)
    return hashlib.sha256(bytes(out)).hexdigest()


class Cli(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="elig-snapshot-cli-")
        self.hh = os.path.join(self.dir, "households.csv")
        self.mem = os.path.join(self.dir, "members.csv")
        self.enr = os.path.join(self.dir, "enrollments.csv")
        self.out = os.path.join(self.dir, "snap.mdb")
        write(self.hh, HH + "3201010101010001,3201010001,active,6000000000000001,Budi\n"
                            "3201010101010002,3201010001,suspended,,\n")
        write(self.mem, MEM + "3201011501900001,3201010101010001,,\n")
        write(self.enr, ENR + "3201010101010001,PKH,2020-01,,300000,active\n")

    def tearDown(self):
        shutil.rmtree(self.dir)

    def build(self, *extra, hh=None, mem=None, enr=None, out=None):
        return run("build", "--households", hh or self.hh, "--members", mem or self.mem,
                   "--enrollments", enr or self.enr, "--out", out or self.out, *extra)

    def info(self, path=None):
        r = run("info", path or self.out)
        self.assertEqual(r.returncode, 0, r.stderr)
        return dict(line.split(": ", 1) for line in r.stdout.splitlines())

    def test_help_lists_every_flag_and_default(self):
        r = run("--help")
        self.assertEqual(r.returncode, 0)
        for flag in ("--households", "--members", "--enrollments", "--out", "--rejects",
                     "--max-reject-ratio", "--id", "--mode", "--help", "--version", "info", "verify"):
            self.assertIn(flag, r.stdout)
        self.assertIn("PATH.rejects.csv", r.stdout)
        self.assertIn("default 0.01", r.stdout)
        self.assertEqual(run("--version").returncode, 0)

    def test_build_prints_counts_id_and_path(self):
        r = self.build("--id", "snap-1")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout.splitlines(), [
            "households.csv: read 2, accepted 2, rejected 0",
            "members.csv: read 1, accepted 1, rejected 0",
            "enrollments.csv: read 1, accepted 1, rejected 0",
            f"guard skipped: no previous snapshot (no --previous, nothing at {self.out})",
            f"snapshot snap-1 published at {self.out}",
            f"rejects written to {self.out}.rejects.csv",
        ])
        self.assertEqual(r.stderr, "")  # no progress line: stderr is not a tty
        meta = self.info()
        self.assertEqual(meta["snapshot_id"], "snap-1")
        self.assertEqual(meta["households"], "2")
        self.assertEqual(meta["schema_version"], "2")
        with open(self.out + ".rejects.csv") as f:
            self.assertEqual(f.read(), "file,line,reason,raw\n")
        v = run("verify", self.out)
        self.assertEqual(v.returncode, 0, v.stderr)
        self.assertTrue(v.stdout.startswith("OK: snapshot snap-1, 2 households"))

    def test_content_sha256_matches_an_independent_computation(self):
        big = big_inputs(self.dir, 300)
        with open(big["enrollments.csv"], "a") as f:  # a suspended one, a second family's
            f.write("3201010000000008,PBI,2021-02,2021-05,7,suspended\n")
        r = self.build("--id", "c1", hh=big["households.csv"], mem=big["members.csv"], enr=big["enrollments.csv"])
        self.assertEqual(r.returncode, 0, r.stderr)
        want = content_sha256(big["households.csv"], big["members.csv"], big["enrollments.csv"])
        self.assertEqual(self.info()["content_sha256"], want)
        v = run("verify", self.out)
        self.assertEqual(v.returncode, 0, v.stderr)

    def test_usage_errors_exit_2(self):
        cases = [
            [],
            ["frobnicate"],
            ["info"],
            ["verify", "a", "b"],
            ["build", "--households", self.hh, "--members", self.mem, "--enrollments", self.enr],
            ["build", "--members", self.mem, "--enrollments", self.enr, "--out", self.out],
        ]
        for ratio in ("1.5", "-0.1", "abc", "nan", "", "0.5x", "inf"):
            cases.append(["build", "--households", self.hh, "--members", self.mem,
                          "--enrollments", self.enr, "--out", self.out, "--max-reject-ratio", ratio])
        for bad_mode in ("0800", "abc", "", "0400", "-1", "07777"):
            cases.append(["build", "--households", self.hh, "--members", self.mem,
                          "--enrollments", self.enr, "--out", self.out, "--mode", bad_mode])
        for bad_id in ("", "a b", "x" * 65, "a/b"):
            cases.append(["build", "--households", self.hh, "--members", self.mem,
                          "--enrollments", self.enr, "--out", self.out, "--id", bad_id])
        cases.append(["build", "--households", self.hh, "--bogus", "1"])
        cases.append(["build", "--households"])
        for args in cases:
            r = run(*args)
            self.assertEqual(r.returncode, 2, f"{args}: {r.stderr}")
            self.assertTrue(r.stderr.startswith("elig-snapshot: "), r.stderr)
            self.assertEqual(len(r.stderr.splitlines()), 1, r.stderr)
        self.assertFalse(os.path.exists(self.out))

    def test_mode_flag_sets_permissions_whatever_the_umask(self):
        old = os.umask(0)
        try:
            r = self.build("--rejects", os.path.join(self.dir, "rej.csv"))
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertEqual(os.stat(self.out).st_mode & 0o7777, 0o640)
            self.assertEqual(os.stat(os.path.join(self.dir, "rej.csv")).st_mode & 0o7777, 0o640)
            r = self.build("--mode", "0660", "--rejects", os.path.join(self.dir, "rej.csv"))
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertEqual(os.stat(self.out).st_mode & 0o7777, 0o660)
            self.assertEqual(os.stat(os.path.join(self.dir, "rej.csv")).st_mode & 0o7777, 0o660)
        finally:
            os.umask(old)

    def test_ratio_bounds_are_usage_not_errors(self):
        for ratio in ("0", "1", "0.0", "1.0", "1e-3"):
            r = self.build("--max-reject-ratio", ratio)
            self.assertEqual(r.returncode, 0, f"{ratio}: {r.stderr}")

    def test_missing_file_names_it(self):
        missing = os.path.join(self.dir, "nope.csv")
        r = self.build(mem=missing)
        self.assertEqual(r.returncode, 1)
        self.assertEqual(r.stderr, f"elig-snapshot: {missing}: cannot open: No such file or directory\n")
        self.assertFalse(os.path.exists(self.out))

    def test_missing_column_names_file_and_column(self):
        write(self.enr, "kk,program,start,end,status\n")
        r = self.build()
        self.assertEqual(r.returncode, 1)
        self.assertEqual(r.stderr, f"elig-snapshot: {self.enr}: missing required column amount\n")
        self.assertFalse(os.path.exists(self.out))

    def test_unreadable_input(self):
        r = self.build(hh=self.dir)  # a directory
        self.assertEqual(r.returncode, 1)
        self.assertIn(f"{self.dir}: cannot read", r.stderr)

    def test_over_ratio_exit_1_publishes_nothing(self):
        write(self.mem, MEM + "3201011501900001,3201010101010001,,\n" * 2)
        r = self.build("--rejects", os.path.join(self.dir, "rej.csv"))
        self.assertEqual(r.returncode, 1)
        self.assertIn("2 of 5 rows rejected", r.stderr)
        self.assertIn("members.csv: read 2, accepted 0, rejected 2", r.stdout)
        self.assertFalse(os.path.exists(self.out))
        with open(os.path.join(self.dir, "rej.csv")) as f:
            self.assertEqual(f.read().count("duplicate_nik"), 2)
        # exactly at the ratio (2/5 = 0.4) it succeeds
        r = self.build("--max-reject-ratio", "0.4")
        self.assertEqual(r.returncode, 0, r.stderr)

    def test_write_failure_cleans_up(self):
        """A write error (here a file size limit, like a full disk) fails the
        build with a message, removes the temp file, keeps the old snapshot."""
        self.assertEqual(self.build("--id", "old").returncode, 0)
        with open(self.out, "rb") as f:
            before = f.read()
        big = big_inputs(self.dir, 2000)

        def limit():
            resource.setrlimit(resource.RLIMIT_FSIZE, (64 * 1024, 64 * 1024))

        r = subprocess.run([BIN, "build", "--households", big["households.csv"], "--members",
                            big["members.csv"], "--enrollments", big["enrollments.csv"], "--out",
                            self.out, "--rejects", "/dev/null", "--id", "new"],
                           capture_output=True, text=True, timeout=120, preexec_fn=limit)
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertIn(f"{self.out}.tmp.", r.stderr)
        self.assertIn("File too large", r.stderr)
        self.assertEqual(len(r.stderr.splitlines()), 1, r.stderr)
        with open(self.out, "rb") as f:
            self.assertEqual(f.read(), before)
        self.assertEqual([n for n in os.listdir(self.dir) if ".tmp." in n], [])

    def test_killed_build_leaves_old_or_new_snapshot(self):
        self.assertEqual(self.build("--id", "old").returncode, 0)
        big = big_inputs(self.dir, 60000)
        args = [BIN, "build", "--households", big["households.csv"], "--members", big["members.csv"],
                "--enrollments", big["enrollments.csv"], "--out", self.out, "--id", "new", "--max-change", "1e9"]
        seen, mid_write = set(), 0
        # One kill while parsing, then kills at growing delays after the temp
        # file appears: while LMDB writes it, syncs it, just before the rename.
        for delay in (None, 0.0, 0.005, 0.02, 0.05, 0.1, 0.2):
            p = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            tmp = f"{self.out}.tmp.{p.pid}"
            if delay is None:
                time.sleep(0.02)
            else:
                deadline = time.monotonic() + 60
                while not os.path.exists(tmp) and p.poll() is None and time.monotonic() < deadline:
                    time.sleep(0.0005)
                time.sleep(delay)
            p.send_signal(signal.SIGKILL)
            p.wait()
            if os.path.exists(tmp):  # killed while the new file was being written
                mid_write += 1
                os.unlink(tmp)  # SIGKILL leaves it; the next build has another pid
            v = run("verify", self.out)
            self.assertEqual(v.returncode, 0, f"after a kill (delay {delay}): {v.stderr}")
            snap_id = self.info()["snapshot_id"]
            self.assertIn(snap_id, ("old", "new"))
            seen.add(snap_id)
            if snap_id == "new":
                break
        self.assertIn("old", seen)  # a kill did land mid-build
        self.assertGreater(mid_write, 0, "no kill landed while the snapshot was being written")
        # a build allowed to finish replaces it
        self.assertEqual(subprocess.run(args, capture_output=True, timeout=120).returncode, 0)
        self.assertEqual(self.info()["snapshot_id"], "new")
        self.assertEqual(self.info()["members"], str(60000 * 3))

    def test_sigterm_removes_temp_file(self):
        self.assertEqual(self.build("--id", "old").returncode, 0)
        big = big_inputs(self.dir, 60000)
        args = [BIN, "build", "--households", big["households.csv"], "--members", big["members.csv"],
                "--enrollments", big["enrollments.csv"], "--out", self.out, "--id", "new", "--max-change", "1e9"]
        for delay in (0.1, 0.3, 0.6):
            p = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(delay)
            p.send_signal(signal.SIGTERM)
            p.wait()
            self.assertEqual([n for n in os.listdir(self.dir) if ".tmp." in n], [])
            self.assertEqual(run("verify", self.out).returncode, 0)


if __name__ == "__main__":
    BIN = sys.argv.pop(1)
    unittest.main(verbosity=2)
