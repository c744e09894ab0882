#!/usr/bin/python3
"""Black-box tests of the publishing guard (`build --previous/--max-change`)
and `elig-snapshot diff` (SPEC 8), on purpose-built registries. Every
expected figure is computed here from the CSV rows, independently of the
code under test.

usage: guard_diff_test.py ELIG_SNAPSHOT_BINARY
"""
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import unittest

BIN = None
PERIOD = "2026-03"

HH = "kk,region,status,kks,head_name\n"
MEM = "nik,kk,status,birth_date\n"
ENR = "kk,program,start,end,amount,status\n"


def run(*args):
    return subprocess.run([BIN, *args], capture_output=True, text=True, timeout=120)


def month(s):
    return int(s[:4]) * 12 + int(s[5:7]) - 1


class Registry:
    """Rows as dicts keyed like the snapshot: households by kk, members by
    nik, enrollments by (kk, program, start)."""

    def __init__(self):
        self.hh, self.mem, self.enr = {}, {}, {}

    def copy(self):
        r = Registry()
        r.hh = {k: dict(v) for k, v in self.hh.items()}
        r.mem = {k: dict(v) for k, v in self.mem.items()}
        r.enr = {k: dict(v) for k, v in self.enr.items()}
        return r

    def write(self, d):
        os.makedirs(d, exist_ok=True)
        paths = {n: os.path.join(d, n) for n in ("households.csv", "members.csv", "enrollments.csv")}
        with open(paths["households.csv"], "w") as f:
            f.write(HH + "".join(f"{k},{h['region']},{h['status']},{h['kks']},\n" for k, h in self.hh.items()))
        with open(paths["members.csv"], "w") as f:
            f.write(MEM + "".join(f"{n},{m['kk']},{m['status']},\n" for n, m in self.mem.items()))
        with open(paths["enrollments.csv"], "w") as f:
            f.write(ENR + "".join(f"{k[0]},{k[1]},{k[2]},{e['end']},{e['amount']},{e['status']}\n"
                                  for k, e in self.enr.items()))
        return paths

    def eligible(self, period):
        """{kk: {program: amount}} for the month, by SPEC 2's rule for a kk."""
        m, out = month(period), {}
        for (kk, prog, start), e in self.enr.items():
            if self.hh[kk]["status"] != "active" or e["status"] != "active":
                continue
            if month(start) <= m and (not e["end"] or m <= month(e["end"])):
                out.setdefault(kk, {})[prog] = e["amount"]
        return out


def nik(n):
    return f"3201011501{n // 9000:02d}{n % 9000 + 1000:04d}"


def base_registry(families=600, seed=5):
    rnd = random.Random(seed)
    r = Registry()
    n = 0
    for i in range(families):
        kk = 3201010000000001 + i * 17
        prov = "32" if i % 3 else "33"
        r.hh[kk] = {"region": f"{prov}0101{i % 10:03d}1", "status": "active",
                    "kks": str(6000000000000000 + i) if i % 2 else ""}
        for _ in range(3):
            r.mem[nik(n)] = {"kk": kk, "status": "alive"}
            n += 1
        r.enr[(kk, "PKH", "2025-01")] = {"end": "", "amount": 300000 + 1000 * (i % 7), "status": "active"}
        if i % 4 == 0:
            r.enr[(kk, "BPNT", "2026-01")] = {"end": "2026-12", "amount": 200000, "status": "active"}
        if rnd.random() < 0.1:
            r.enr[(kk, "PBI", "2024-01")] = {"end": "2024-12", "amount": 42000, "status": "active"}
    return r


def expected_diff(old, new, period):
    """The diff's figures computed from the rows."""
    def table(a, b, same):
        return {"rows_old": len(a), "rows_new": len(b), "added": len(b.keys() - a.keys()),
                "removed": len(a.keys() - b.keys()),
                "changed": sum(1 for k in a.keys() & b.keys() if not same(a[k], b[k]))}

    tables = {
        "households": table(old.hh, new.hh, lambda x, y: x == y),
        "members": table(old.mem, new.mem, lambda x, y: x == y),
        "enrollments": table(old.enr, new.enr, lambda x, y: x == y),
    }
    eo, en = old.eligible(period), new.eligible(period)
    progs, provs = {}, {}

    def row(d, key):
        return d.setdefault(key, {"eligible_old": 0, "eligible_new": 0, "gained": 0, "lost": 0,
                                  "amount_old": 0, "amount_new": 0})

    for kk in set(eo) | set(en):
        a, b = eo.get(kk, {}), en.get(kk, {})
        pa = old.hh[kk]["region"][:2] if kk in old.hh else None
        pb = new.hh[kk]["region"][:2] if kk in new.hh else None
        for prog in set(a) | set(b):
            g = row(progs, prog)
            if prog in a:
                g["eligible_old"] += 1
                g["amount_old"] += a[prog]
                p = row(provs, (pa, prog))
                p["eligible_old"] += 1
                p["amount_old"] += a[prog]
            if prog in b:
                g["eligible_new"] += 1
                g["amount_new"] += b[prog]
                p = row(provs, (pb, prog))
                p["eligible_new"] += 1
                p["amount_new"] += b[prog]
            g["gained"] += prog in b and prog not in a
            g["lost"] += prog in a and prog not in b
            if prog in b and not (prog in a and pa == pb):
                row(provs, (pb, prog))["gained"] += 1
            if prog in a and not (prog in b and pa == pb):
                row(provs, (pa, prog))["lost"] += 1
    for d in list(progs.values()) + list(provs.values()):
        d["amount_change"] = d["amount_new"] - d["amount_old"]
    return tables, progs, provs


class GuardAndDiff(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="elig-guard-")
        self.out = os.path.join(self.dir, "live.mdb")

    def tearDown(self):
        shutil.rmtree(self.dir)

    def build(self, paths, *extra, out=None):
        return run("build", "--households", paths["households.csv"], "--members", paths["members.csv"],
                   "--enrollments", paths["enrollments.csv"], "--out", out or self.out,
                   "--rejects", os.path.join(self.dir, "rejects.csv"), "--guard-period", PERIOD, *extra)

    def snapshot_bytes(self):
        with open(self.out, "rb") as f:
            return f.read()

    def test_guard_refuses_a_cut_export_and_publishes_nothing(self):
        reg = base_registry()
        full = reg.write(os.path.join(self.dir, "full"))
        r = self.build(full, "--id", "month-1")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("guard skipped: no previous snapshot", r.stdout)
        before = self.snapshot_bytes()

        # a members file truncated mid-copy (60 % of its bytes, the last row cut)
        cut = dict(full)
        cut["members.csv"] = os.path.join(self.dir, "members-cut.csv")
        with open(full["members.csv"], "rb") as f:
            data = f.read()
        with open(cut["members.csv"], "wb") as f:
            f.write(data[:len(data) * 6 // 10])
        # and a `head -n 1000` of the same file
        head = dict(full)
        head["members.csv"] = os.path.join(self.dir, "members-head.csv")
        with open(full["members.csv"]) as f, open(head["members.csv"], "w") as g:
            g.writelines(f.readlines()[:1000])
        for what, paths in (("truncated", cut), ("head -n 1000", head)):
            r = self.build(paths, "--id", "month-2")
            self.assertEqual(r.returncode, 1, f"{what}: {r.stdout}{r.stderr}")
            self.assertIn("moved more than --max-change 0.05", r.stderr)
            self.assertEqual(len(r.stderr.splitlines()), 1, r.stderr)
            # the table names what moved, with the counts computed here
            line = [l for l in r.stdout.splitlines() if l.strip().startswith("members ")]
            self.assertEqual(len(line), 1, r.stdout)
            self.assertIn(str(len(reg.mem)), line[0])
            self.assertIn("over", line[0])
            self.assertEqual(self.snapshot_bytes(), before, f"{what}: --out changed")
            self.assertEqual([n for n in os.listdir(self.dir) if ".tmp." in n], [])
        # --previous names the comparison explicitly; --max-change 1 accepts
        other = os.path.join(self.dir, "elsewhere.mdb")
        r = self.build(head, "--id", "month-2", "--previous", self.out, "--max-change", "1", out=other)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("guard passed", r.stdout)
        r = self.build(cut, "--id", "month-2", "--max-change", "1")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("month-2", run("info", self.out).stdout)

    def test_guard_counts_eligible_families_per_programme(self):
        reg = base_registry()
        r = self.build(reg.write(os.path.join(self.dir, "a")), "--id", "a")
        self.assertEqual(r.returncode, 0, r.stderr)
        # same rows, but every BPNT enrollment suspended: households, members
        # and enrollments unchanged, BPNT's eligible families gone
        nxt = reg.copy()
        for k, e in nxt.enr.items():
            if k[1] == "BPNT":
                e["status"] = "suspended"
        want_before = sum(1 for v in reg.eligible(PERIOD).values() if "BPNT" in v)
        self.assertGreater(want_before, 0)
        r = self.build(nxt.write(os.path.join(self.dir, "b")), "--id", "b")
        self.assertEqual(r.returncode, 1, r.stdout)
        line = [l for l in r.stdout.splitlines() if "eligible for BPNT" in l]
        self.assertEqual(len(line), 1, r.stdout)
        self.assertEqual(line[0].split()[3:5], [str(want_before), "0"])
        self.assertIn("over", line[0])
        for l in r.stdout.splitlines():
            if l.strip().startswith(("households", "members", "enrollments")):
                self.assertNotIn("over", l)

    def test_diff_equals_an_independent_count(self):
        old = base_registry()
        new = old.copy()
        rnd = random.Random(9)
        kks = sorted(new.hh)
        for kk in kks[:20]:  # families leave: household, members, enrollments
            del new.hh[kk]
            for n in [n for n, m in new.mem.items() if m["kk"] == kk]:
                del new.mem[n]
            for k in [k for k in new.enr if k[0] == kk]:
                del new.enr[k]
        for kk in kks[20:40]:  # PKH amounts change
            new.enr[(kk, "PKH", "2025-01")]["amount"] += 5000
        for kk in kks[40:50]:  # PKH ends before the period: out of the programme
            new.enr[(kk, "PKH", "2025-01")]["end"] = "2025-12"
        for kk in kks[50:55]:  # households suspended
            new.hh[kk]["status"] = "suspended"
        for kk in [k for k in kks[55:90] if not any(e[0] == k and e[1] == "BPNT" for e in new.enr)][:10]:
            new.enr[(kk, "BPNT", "2026-02")] = {"end": "", "amount": 210000, "status": "active"}  # into BPNT
        for kk in kks[65:70]:  # moved to another province
            new.hh[kk]["region"] = "34" + new.hh[kk]["region"][2:]
        n = 90000
        for i in range(30):  # a province added: 35, new families
            kk = 3501010000000001 + i * 13
            new.hh[kk] = {"region": "3501010001", "status": "active", "kks": ""}
            new.mem[nik(n)] = {"kk": kk, "status": "alive"}
            n += 1
            new.enr[(kk, "PKH", "2026-01")] = {"end": "", "amount": 400000, "status": "active"}
        for nk in rnd.sample(sorted(new.mem), 15):  # members deceased
            new.mem[nk]["status"] = "deceased"
        old_path, new_path = os.path.join(self.dir, "old.mdb"), os.path.join(self.dir, "new.mdb")
        self.assertEqual(self.build(old.write(os.path.join(self.dir, "o")), "--id", "old", out=old_path).returncode, 0)
        r = self.build(new.write(os.path.join(self.dir, "n")), "--id", "new", out=new_path)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("rejected 0", r.stdout.splitlines()[2])  # the rows above are the rows loaded

        r = run("diff", old_path, new_path, "--period", PERIOD, "--json")
        self.assertEqual(r.returncode, 0, r.stderr)
        got = json.loads(r.stdout)
        tables, progs, provs = expected_diff(old, new, PERIOD)
        self.assertEqual(got["tables"], tables)
        self.assertEqual({p["program"]: {k: v for k, v in p.items() if k != "program"} for p in got["programs"]},
                         progs)
        self.assertEqual({(p["province"], p["program"]): {k: v for k, v in p.items() if k not in ("province", "program")}
                          for p in got["provinces"]}, provs)
        self.assertIn(("35", "PKH"), provs)
        self.assertEqual(got["period"], PERIOD)
        self.assertEqual((got["old"]["snapshot"], got["new"]["snapshot"]), ("old", "new"))

        # the human tables: Rupiah as people read them
        h = run("diff", old_path, new_path, "--period", PERIOD)
        self.assertEqual(h.returncode, 0, h.stderr)
        pkh = progs["PKH"]
        def rp(v):
            s = f"{abs(v):,}".replace(",", ".")
            return ("-" if v < 0 else "+" if v > 0 else "") + "Rp " + s
        line = [l for l in h.stdout.splitlines() if l.strip().startswith("PKH ")][0]
        self.assertIn(rp(pkh["amount_old"]).lstrip("+"), line)
        self.assertIn(f"({rp(pkh['amount_change'])})", line)
        self.assertIn("Rp ", line)

        # a snapshot against itself: nothing moved
        same = json.loads(run("diff", old_path, old_path, "--period", PERIOD, "--json").stdout)
        for t in same["tables"].values():
            self.assertEqual((t["added"], t["removed"], t["changed"]), (0, 0, 0))
        for p in same["programs"]:
            self.assertEqual((p["gained"], p["lost"], p["amount_change"]), (0, 0, 0))

    def test_diff_usage(self):
        for args in (["diff"], ["diff", "a"], ["diff", "a", "b", "c"], ["diff", "a", "b", "--period", "2026-13"],
                     ["diff", "a", "b", "--bogus"]):
            r = run(*args)
            self.assertEqual(r.returncode, 2, f"{args}: {r.stderr}")
        r = run("diff", os.path.join(self.dir, "nope.mdb"), os.path.join(self.dir, "nope2.mdb"))
        self.assertEqual(r.returncode, 1)
        self.assertIn("nope.mdb", r.stderr)
        for bad in ("-1", "x", ""):
            r = run("build", "--households", "h", "--members", "m", "--enrollments", "e", "--out", self.out,
                    "--max-change", bad)
            self.assertEqual(r.returncode, 2, r.stderr)


if __name__ == "__main__":
    BIN = sys.argv.pop(1)
    unittest.main(verbosity=2)
