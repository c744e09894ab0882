"""The elig command against a real eligd on a purpose-built snapshot:
check (human, JSON, --exit-status) for every reason of SPEC 2, household,
info, ping, Unix socket, and batch matching check answer for answer."""
import json
import os
import unittest

import livetest as lt
from livetest import elig

WORDS = {
    "eligible": "eligible", "not_found": "not found", "member_deceased": "member is deceased",
    "household_suspended": "household is suspended",
    "household_graduated": "household has graduated",
    "household_terminated": "household is terminated",
    "not_enrolled": "not enrolled in the programme",
    "outside_period": "no enrollment covers that month",
    "enrollment_suspended": "enrollment is suspended",
}


def rupiah(n):
    return "Rp " + "{:,}".format(n).replace(",", ".")


def human(reason, amount, kk):
    """The line elig check prints, written from the issue's wording."""
    if reason == "eligible":
        line = "eligible: %s a month" % rupiah(amount)
    else:
        line = "not eligible: %s (Rp 0)" % WORDS[reason]
    if kk:
        line += "; family %s, region %s" % (kk, lt.REGION[kk])
    return line + "; snapshot %s\n" % lt.SNAPSHOT_ID


class LiveTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = lt.tmpdir()
        snap = lt.build_snapshot(cls.tmp.name)
        cls.sock = os.path.join(cls.tmp.name, "eligd.sock")
        cls.d = lt.Daemon(snap, cls.tmp.name, extra=["--unix", cls.sock])
        cls.srv = "--server=" + cls.d.addr

    @classmethod
    def tearDownClass(cls):
        cls.d.stop()
        cls.tmp.cleanup()

    def test_check_every_reason(self):
        for q, (reason, amount, kk) in lt.CASES:
            r = elig(self.srv, "check", *q)
            self.assertEqual(r.returncode, 0, (q, r.stderr))
            self.assertEqual(r.stdout, human(reason, amount, kk), q)
            r = elig(self.srv, "--json", "check", *q)
            self.assertEqual(json.loads(r.stdout), {
                "eligible": reason == "eligible", "reason": reason, "amount": amount,
                "kk": kk, "region": lt.REGION.get(kk), "snapshot": lt.SNAPSHOT_ID}, q)
            r = elig(self.srv, "--exit-status", "check", *q)
            self.assertEqual(r.returncode, 0 if reason == "eligible" else 3, q)

    def test_household(self):
        r = elig(self.srv, "household", "nik", lt.N1)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout,
                         "family 3171010101010001, region 3171010001, active, "
                         "KKS 6013010000000001, 2 members\n"
                         "  PKH from 2026-01 to 2026-12, Rp 110.000 a month, active\n"
                         "  BPNT from 2025-01, open-ended, Rp 200.000 a month, active\n")
        r = elig(self.srv, "--json", "household", "kk", lt.KK_C)
        self.assertEqual(json.loads(r.stdout), {
            "kk": lt.KK_C, "region": "3171010003", "status": "active", "kks": None,
            "members": 1, "enrollments": [
                {"program": "PKH", "start": "2026-01", "end": "2026-06", "amount": 750000,
                 "status": "active"},
                {"program": "BPNT", "start": "2026-01", "end": None, "amount": 200000,
                 "status": "suspended"}]})
        r = elig(self.srv, "household", "kk", lt.UNKNOWN)
        self.assertEqual((r.returncode, r.stdout), (0, "no such family\n"))

    def test_info_ping_unix(self):
        r = elig(self.srv, "--json", "info")
        self.assertEqual(r.returncode, 0, r.stderr)
        info = json.loads(r.stdout)
        self.assertEqual(info["snapshot"], lt.SNAPSHOT_ID)
        self.assertEqual((info["households"], info["members"], info["enrollments"]), (5, 4, 6))
        self.assertIsNone(info["reload_error"])
        self.assertRegex(info["created"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d")
        r = elig(self.srv, "info")
        self.assertIn("snapshot: %s\n" % lt.SNAPSHOT_ID, r.stdout)
        self.assertIn("households: 5\n", r.stdout)
        r = elig(self.srv, "ping")
        self.assertEqual((r.returncode, r.stdout), (0, "pong\n"))
        r = elig("--unix", self.sock, "check", "nik", lt.N1, "PKH", "2026-11")
        self.assertEqual(r.stdout, human("eligible", 110000, lt.KK_A))

    def test_batch_matches_check(self):
        """Batch answers, in order, equal the single checks, in every mode."""
        rows = [q for q, _ in lt.CASES] * 300
        src = "kind,id,program,period\n" + "".join(",".join(q) + "\n" for q in rows)
        singles = {}
        for q, _ in lt.CASES:
            singles[q] = json.loads(elig(self.srv, "--json", "check", *q).stdout)
        for extra in ([], ["--batch-size", "1"], ["--batch-size", "7", "--pipeline", "3"]):
            r = elig(self.srv, "batch", "--quiet", *extra, stdin=src)
            self.assertEqual(r.returncode, 0, r.stderr)
            out = r.stdout.splitlines()
            self.assertEqual(len(out), len(rows) + 1)
            for q, line in zip(rows, out[1:]):
                f = line.split(",")
                a = singles[q]
                self.assertEqual(tuple(f[:4]), q)
                self.assertEqual(f[4:], ["true" if a["eligible"] else "false", a["reason"],
                                         str(a["amount"]), a["kk"] or "", a["region"] or "",
                                         a["snapshot"], ""])


if __name__ == "__main__":
    unittest.main(verbosity=2)
