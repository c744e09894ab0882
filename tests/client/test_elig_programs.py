"""`elig check` and `elig batch` about a programme the snapshot has never
heard of (issue 16): a not_enrolled that only means "no such programme
here" is flagged on stderr, from info's `programs`; the answer and the exit
status stay as they are.

The snapshot is livetest's rows plus one PBI enrollment for KK_C, so it
holds BPNT, PBI and PKH: KK_A asked about PBI is a real not_enrolled (no
warning), asked about PKHX an unknown programme (a warning). eligd runs
with a channels file whose channel may not call `info`: then elig cannot
tell, and says nothing."""
import hashlib
import json
import os
import unittest

import livetest as lt
from livetest import elig

SNAP_ID = "programs-1"
PROGRAMS = ["BPNT", "PBI", "PKH"]  # sorted, as info lists them
TOKEN = os.urandom(32).hex()
NOT_ENROLLED = "not eligible: not enrolled in the programme (Rp 0); family %s, region %s; " \
               "snapshot %s\n" % (lt.KK_A, lt.REGION[lt.KK_A], SNAP_ID)


def warning(program):
    return ("elig: warning: snapshot %s holds no programme '%s' (it holds BPNT, PBI, PKH); "
            "not_enrolled here means the programme is unknown\n" % (SNAP_ID, program))


class ProgramsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = lt.tmpdir()
        d = cls.tmp.name
        snap = lt.build_snapshot(d, SNAP_ID, extra_enrollments=(
            "%s,PBI,2026-01,,50000,active\n" % lt.KK_C))
        auth = os.path.join(d, "channels.conf")
        with open(auth, "w") as f:
            f.write("[channel bank]\ntoken_sha256 = %s\nmethods = check, check_batch\n"
                    "programs = *\nregions = *\n" % hashlib.sha256(TOKEN.encode()).hexdigest())
        cls.token_file = lt.write_token(os.path.join(d, "bank.token"), TOKEN)
        cls.sock = os.path.join(d, "eligd.sock")
        cls.d = lt.Daemon(snap, d, extra=("--auth-file", auth, "--unix", cls.sock))

    @classmethod
    def tearDownClass(cls):
        cls.d.stop()
        cls.tmp.cleanup()

    def unix(self, *args, **kw):
        """elig on the Unix socket (no auth asked there, info allowed)."""
        return elig("--unix", self.sock, *args, **kw)

    def channel(self, *args, **kw):
        """elig over TCP as a channel that may not call info."""
        return elig("--server", self.d.addr, "--channel", "bank", "--token-file",
                    self.token_file, *args, **kw)

    def requests(self):
        r = self.unix("--json", "info")
        self.assertEqual(r.returncode, 0, r.stderr)
        info = json.loads(r.stdout)
        self.assertEqual(info["programs"], PROGRAMS)
        return info["requests"]

    # ---- elig check ----------------------------------------------------------

    def test_known_programme_not_enrolled_says_nothing(self):
        r = self.unix("check", "kk", lt.KK_A, "PBI", "2026-11")
        self.assertEqual((r.returncode, r.stdout, r.stderr), (0, NOT_ENROLLED, ""))
        r = self.unix("--json", "--exit-status", "check", "kk", lt.KK_A, "PBI", "2026-11")
        self.assertEqual((r.returncode, r.stderr), (3, ""))
        self.assertEqual(json.loads(r.stdout)["reason"], "not_enrolled")

    def test_unknown_programme_warns(self):
        r = self.unix("check", "kk", lt.KK_A, "PKHX", "2026-11")
        self.assertEqual((r.returncode, r.stdout, r.stderr), (0, NOT_ENROLLED, warning("PKHX")))
        r = self.unix("--exit-status", "check", "nik", lt.N1, "PKHX", "2026-11")
        self.assertEqual(r.returncode, 3)  # the exit status is the answer's
        self.assertEqual(r.stderr, warning("PKHX"))
        r = self.unix("--json", "check", "kks", lt.KKS_A, "ZZZ_9", "2026-11")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(json.loads(r.stdout), {
            "eligible": False, "reason": "not_enrolled", "amount": 0, "kk": lt.KK_A,
            "region": lt.REGION[lt.KK_A], "snapshot": SNAP_ID})
        self.assertEqual(r.stderr.count("\n"), 1)
        self.assertEqual(json.loads(r.stderr), {
            "warning": warning("ZZZ_9")[len("elig: warning: "):-1], "command": "check",
            "snapshot": SNAP_ID, "program": "ZZZ_9", "programs": PROGRAMS})

    def test_info_asked_only_for_not_enrolled(self):
        # each elig check is its check, plus an info only when not_enrolled;
        # the +1 is the info that measures
        before = self.requests()
        r = self.unix("check", "nik", lt.N1, "PKH", "2026-11")  # eligible
        self.assertEqual(r.stderr, "")
        after = self.requests()
        self.assertEqual(after - before, 1 + 1)
        r = self.unix("check", "kk", lt.UNKNOWN, "PKHX", "2026-11")  # not_found: no info
        self.assertEqual(r.stderr, "")
        self.assertEqual(self.requests() - after, 1 + 1)
        after = self.requests()
        self.unix("check", "kk", lt.KK_A, "PKHX", "2026-11")  # not_enrolled: one info
        self.assertEqual(self.requests() - after, 2 + 1)

    def test_info_not_granted_says_nothing(self):
        r = self.channel("check", "kk", lt.KK_A, "PKHX", "2026-11")
        self.assertEqual((r.returncode, r.stdout, r.stderr), (0, NOT_ENROLLED, ""))

    # ---- elig batch ----------------------------------------------------------

    ROWS = [("kk", lt.KK_A, "PBI", "2026-11"), ("kk", lt.KK_A, "PKHX", "2026-11"),
            ("nik", lt.N1, "PKH", "2026-11"), ("kk", lt.KK_C, "XYZ", "2026-03"),
            ("nik", lt.N1, "PKHX", "2026-12"), ("kk", lt.KK_C, "PBI", "2026-03")]

    def batch(self, run, rows, *opts):
        src = "kind,id,program,period\n" + "".join(",".join(q) + "\n" for q in rows)
        r = run("batch", *opts, stdin=src)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(len(r.stdout.splitlines()), 1 + len(rows))
        return r

    def test_batch_names_unknown_programmes(self):
        r = self.batch(self.unix, self.ROWS)
        lines = r.stderr.splitlines()
        self.assertEqual(lines[-1], "elig: batch: warning: snapshot %s holds no programme 'PKHX' "
                         "(2 rows), 'XYZ' (1 row); it holds BPNT, PBI, PKH: not_enrolled for "
                         "these rows means the programme is unknown" % SNAP_ID)
        self.assertNotIn("PBI'", r.stderr)
        reasons = [line.split(",")[5] for line in r.stdout.splitlines()[1:]]
        self.assertEqual(reasons, ["not_enrolled", "not_enrolled", "eligible", "not_enrolled",
                                   "not_enrolled", "eligible"])
        r = self.batch(self.unix, self.ROWS, "--quiet")  # a warning: shown even then
        self.assertEqual(r.stderr.splitlines(), lines[-1:])
        r = self.batch(self.unix, self.ROWS, "--json")
        summary = json.loads(r.stderr.splitlines()[-1])["summary"]
        self.assertEqual(summary["unknown_programs"], {"PKHX": 2, "XYZ": 1})
        self.assertEqual(summary["rows"], len(self.ROWS))

    def test_batch_of_known_programmes_says_nothing(self):
        rows = [q for q in self.ROWS if q[2] in PROGRAMS]
        r = self.batch(self.unix, rows)
        self.assertNotIn("warning", r.stderr)
        r = self.batch(self.unix, rows, "--json")
        self.assertEqual(json.loads(r.stderr.splitlines()[-1])["summary"]["unknown_programs"], {})

    def test_batch_info_not_granted(self):
        r = self.batch(self.channel, self.ROWS)
        self.assertNotIn("warning", r.stderr)
        r = self.batch(self.channel, self.ROWS, "--json")
        self.assertIsNone(json.loads(r.stderr.splitlines()[-1])["summary"]["unknown_programs"])


if __name__ == "__main__":
    unittest.main(verbosity=2)
