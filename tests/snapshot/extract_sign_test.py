#!/usr/bin/python3
"""Black-box tests of `elig-snapshot extract`, `sign` and `verify --pubkey`
(SPEC 10). The extract's contents are compared with a filter of the CSV
rows done here (counts and the content hash, by the independent
implementation in cli_test.py); keys come from the openssl command line,
as an operator makes them.

usage: extract_sign_test.py ELIG_SNAPSHOT_BINARY
"""
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cli_test  # noqa: E402  (content_sha256 from the CSV files)
from guard_diff_test import Registry, nik  # noqa: E402

BIN = None


def run(*args):
    return subprocess.run([BIN, *args], capture_output=True, text=True, timeout=120)


def registry():
    """Families in provinces 32, 33 and 35, several regencies each."""
    r = Registry()
    n = 0
    regions = ["3201010001", "3273020002", "3273990003", "3301010004", "3302010005", "3501010006", "3201990007"]
    for i in range(700):
        kk = 3201010000000001 + i * 11
        r.hh[kk] = {"region": regions[i % len(regions)], "status": ["active", "suspended"][i % 9 == 0],
                    "kks": str(6100000000000000 + i) if i % 3 else ""}
        for j in range(1 + i % 4):
            r.mem[nik(n)] = {"kk": kk, "status": "deceased" if n % 17 == 0 else "alive"}
            n += 1
        r.enr[(kk, "PKH", "2025-01")] = {"end": "", "amount": 300000 + i, "status": "active"}
        if i % 5 == 0:
            r.enr[(kk, "BPNT", "2024-01")] = {"end": "2024-12", "amount": 200000, "status": "suspended"}
    return r


def keypair(d, name):
    key, pub = os.path.join(d, name + ".pem"), os.path.join(d, name + ".pub")
    subprocess.run(["openssl", "genpkey", "-algorithm", "ed25519", "-out", key], check=True, capture_output=True)
    subprocess.run(["openssl", "pkey", "-in", key, "-pubout", "-out", pub], check=True, capture_output=True)
    return key, pub


class ExtractAndSign(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="elig-extract-")
        cls.reg = registry()
        cls.paths = cls.reg.write(os.path.join(cls.dir, "csv"))
        cls.full = os.path.join(cls.dir, "full.mdb")
        r = run("build", "--households", cls.paths["households.csv"], "--members", cls.paths["members.csv"],
                "--enrollments", cls.paths["enrollments.csv"], "--out", cls.full, "--id", "national-1",
                "--rejects", os.path.join(cls.dir, "rej.csv"))
        assert r.returncode == 0, r.stderr

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.dir)

    def info(self, path):
        r = run("info", path)
        self.assertEqual(r.returncode, 0, r.stderr)
        return dict(line.split(": ", 1) for line in r.stdout.splitlines())

    def test_extract_holds_exactly_the_filtered_rows(self):
        out = os.path.join(self.dir, "jabar.mdb")
        r = run("extract", self.full, "--region", "32", "--region", "3301", "--out", out, "--id", "jabar-1")
        self.assertEqual(r.returncode, 0, r.stderr)
        sub = Registry()
        sub.hh = {k: h for k, h in self.reg.hh.items() if h["region"].startswith(("32", "3301"))}
        sub.mem = {k: m for k, m in self.reg.mem.items() if m["kk"] in sub.hh}
        sub.enr = {k: e for k, e in self.reg.enr.items() if k[0] in sub.hh}
        self.assertGreater(len(sub.hh), 0)
        self.assertLess(len(sub.hh), len(self.reg.hh))
        p = sub.write(os.path.join(self.dir, "sub"))
        meta = self.info(out)
        self.assertEqual((meta["households"], meta["members"], meta["enrollments"]),
                         (str(len(sub.hh)), str(len(sub.mem)), str(len(sub.enr))))
        self.assertEqual(meta["content_sha256"],
                         cli_test.content_sha256(p["households.csv"], p["members.csv"], p["enrollments.csv"]))
        self.assertEqual(meta["snapshot_id"], "jabar-1")
        self.assertEqual(meta["extract_of"], "national-1")
        self.assertEqual(meta["extract_regions"], "32,3301")
        self.assertIn(f"{sum(1 for h in sub.hh.values() if h['kks'])} kks cards", r.stdout)
        self.assertEqual(oct(os.stat(out).st_mode & 0o777), "0o640")
        v = run("verify", out)
        self.assertEqual(v.returncode, 0, v.stderr)
        # a whole province by a prefix of 2, a regency by 4, a village by 10
        for prefixes in (["35"], ["3273"], ["3201990007"], ["99"]):
            o = os.path.join(self.dir, "x.mdb")
            args = []
            for pfx in prefixes:
                args += ["--region", pfx]
            r = run("extract", self.full, *args, "--out", o)
            self.assertEqual(r.returncode, 0, r.stderr)
            want = sum(1 for h in self.reg.hh.values() if h["region"].startswith(tuple(prefixes)))
            self.assertEqual(self.info(o)["households"], str(want), prefixes)
            self.assertEqual(run("verify", o).returncode, 0)

    def test_extract_usage(self):
        out = os.path.join(self.dir, "u.mdb")
        for args in (["extract", self.full, "--out", out], ["extract", "--region", "32", "--out", out],
                     ["extract", self.full, "--region", "32"], ["extract", self.full, "--region", "3a", "--out", out],
                     ["extract", self.full, "--region", "12345678901", "--out", out],
                     ["extract", self.full, "--region", "32", "--out", out, "--id", "a b"],
                     ["sign", out], ["sign", "--key", "k"], ["verify", out, "--pubkey"]):
            r = run(*args)
            self.assertEqual(r.returncode, 2, f"{args}: {r.stderr}")
            self.assertFalse(os.path.exists(out))
        r = run("extract", os.path.join(self.dir, "none.mdb"), "--region", "32", "--out", out)
        self.assertEqual(r.returncode, 1)
        self.assertIn("none.mdb", r.stderr)

    def test_signature_accepted_and_refused(self):
        key, pub = keypair(self.dir, "terminal")
        _, other_pub = keypair(self.dir, "other")
        ext = os.path.join(self.dir, "signed.mdb")
        self.assertEqual(run("extract", self.full, "--region", "33", "--out", ext, "--id", "jateng-1").returncode, 0)
        r = run("verify", ext, "--pubkey", pub)
        self.assertEqual(r.returncode, 1)
        self.assertIn("unsigned", r.stderr)
        self.assertEqual(len(r.stderr.splitlines()), 1)
        r = run("sign", ext, "--key", key)
        self.assertEqual(r.returncode, 0, r.stderr)
        r = run("verify", ext, "--pubkey", pub)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("signed by the given key", r.stdout)
        self.assertEqual(run("verify", ext).returncode, 0)  # the checksum still works
        r = run("verify", ext, "--pubkey", other_pub)
        self.assertEqual(r.returncode, 1)
        self.assertIn("another key", r.stderr)
        self.assertEqual(run("sign", ext, "--key", pub).returncode, 1)  # a public key cannot sign
        # signing again replaces the block: still one block, still valid
        size = os.path.getsize(ext)
        self.assertEqual(run("sign", ext, "--key", key).returncode, 0)
        self.assertEqual(os.path.getsize(ext), size)
        with open(ext, "rb") as f:
            good = f.read()
        # one flipped byte anywhere (tables, trailer, signature block): refused
        for where in (100, len(good) // 2, len(good) - 256 - 1, len(good) - 200, len(good) - 100, len(good) - 1):
            bad = bytearray(good)
            bad[where] ^= 0x01
            p = os.path.join(self.dir, "flipped.mdb")
            with open(p, "wb") as f:
                f.write(bad)
            r = run("verify", p, "--pubkey", pub)
            self.assertEqual(r.returncode, 1, f"byte {where} of {len(good)}: {r.stdout}")
        # the signature of one extract does not carry over to another
        ext2 = os.path.join(self.dir, "other.mdb")
        self.assertEqual(run("extract", self.full, "--region", "35", "--out", ext2).returncode, 0)
        with open(ext2, "ab") as f:
            f.write(good[-128:])
        r = run("verify", ext2, "--pubkey", pub)
        self.assertEqual(r.returncode, 1)


if __name__ == "__main__":
    BIN = sys.argv.pop(1)
    cli_test.BIN = BIN
    unittest.main(verbosity=2)
