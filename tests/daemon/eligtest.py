"""eligtest - shared harness of the eligd black-box tests (tests/daemon).

Every test script drives a real `eligd` started on 127.0.0.1 with an
ephemeral port (or a Unix socket) on a snapshot that `elig-snapshot build`
makes from the purpose-built CSV files below. The expected answers are
written out by hand from SPEC.md section 2, never taken from the code under
test.

The binaries come from the environment, set by ctest (tests/daemon/
CMakeLists.txt) through generator expressions:
    ELIGD           path of the daemon
    ELIG_SNAPSHOT   path of the snapshot builder

Everything here is bounded: socket operations have timeouts, polls have
deadlines, and a daemon is killed when its test ends however it ends (a
context manager, an atexit hook and PR_SET_PDEATHSIG, so that even a test
killed by ctest's timeout leaves no daemon behind).
"""

import atexit
import csv
import ctypes
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import traceback

import msgpack

ELIGD = os.environ.get("ELIGD", "")
ELIG_SNAPSHOT = os.environ.get("ELIG_SNAPSHOT", "")
ELIG = os.environ.get("ELIG", "")  # the client command, for tests of `elig reload`

# Wire constants, written from SPEC section 3 (not read from the C header,
# so that a drift in the header is caught here).
BAD_REQUEST, UNKNOWN_METHOD, TOO_LARGE = 1, 2, 3
MAX_BATCH = 10000
ANSWER_KEYS = {"eligible", "reason", "kk", "region", "amount", "snapshot"}
HOUSEHOLD_KEYS = {"kk", "region", "status", "kks", "members", "enrollments"}
ENROLLMENT_KEYS = {"program", "start", "end", "amount", "status"}
INFO_KEYS = {"version", "snapshot", "created", "households", "members",
             "enrollments", "uptime_s", "connections", "requests",
             "reload_error",
             # SPEC 9
             "health", "content_sha256", "generation", "read_errors", "programs",
             # SPEC 7 (docs/AUDIT.md)
             "audit_error", "audit"}
HEALTH_STATES = {"ok", "degraded", "draining", "starting"}
REASONS = {"eligible", "not_found", "member_deceased", "household_suspended",
           "household_graduated", "household_terminated", "not_enrolled",
           "outside_period", "enrollment_suspended"}


class Closed(Exception):
    """The peer closed the connection (EOF or reset)."""


class Timeout(Exception):
    """Nothing (complete) arrived before the deadline."""


# ---------------------------------------------------------------------------
# Purpose-built data (SPEC section 1). Every row is valid: a build with
# rejects would fail the default --max-reject-ratio.
# ---------------------------------------------------------------------------

KK1, KK2, KK3, KK4, KK5, KK6 = ("3201010000000001", "3201010000000002",
                                "3201010000000003", "3201010000000004",
                                "3201010000000005", "7371020000000006")
KK7 = "1101010000000007"
KKS1, KKS2, KKS4, KKS6 = ("5000000000000001", "5000000000000002",
                          "5000000000000004", "5000000000000006")
KKS7 = "0000000000000007"  # a card number with leading zeros: kept as 16 digits
REGION = {KK1: "3201010001", KK2: "3201010002", KK3: "3201010003",
          KK4: "3201010004", KK5: "3201010005", KK6: "7371020006",
          KK7: "1101010007"}

# NIKs: province 32/73, day of birth 01-31 or 41-71, month 01-12, serial != 0000.
N1 = "3201011501900001"  # KK1, alive
N2 = "3201015501900002"  # KK1, deceased (day 55: a woman born on the 15th)
N3 = "3201010101000003"  # KK1, status column empty = alive
N4 = "3201011202850004"  # KK2 (suspended household), alive
N5 = "3201012303700005"  # KK2, deceased
N6 = "3201010404800006"  # KK3 (graduated)
N7 = "3201010505800007"  # KK4 (terminated)
N8 = "7371026112990008"  # KK6, alive (day 61 = woman born on the 21st)
N9 = "3201010606600009"  # KK5 (active, no enrollments)

HOUSEHOLDS_HEADER = ["kk", "region", "status", "kks", "head_name"]
HOUSEHOLDS = [
    [KK1, REGION[KK1], "active", KKS1, "Siti Aminah"],
    [KK2, REGION[KK2], "suspended", KKS2, "Budi Santoso"],
    [KK3, REGION[KK3], "graduated", "", ""],
    [KK4, REGION[KK4], "terminated", KKS4, "Dewi"],
    [KK5, REGION[KK5], "active", "", "Agus"],
    [KK6, REGION[KK6], "active", KKS6, "Made Wayan"],
    [KK7, REGION[KK7], "active", KKS7, ""],
]

MEMBERS_HEADER = ["nik", "kk", "status", "birth_date"]
MEMBERS = [
    [N1, KK1, "alive", "1990-01-15"],
    [N2, KK1, "deceased", "1990-01-15"],
    [N3, KK1, "", ""],
    [N4, KK2, "alive", "1985-02-12"],
    [N5, KK2, "deceased", ""],
    [N6, KK3, "alive", ""],
    [N7, KK4, "alive", ""],
    [N8, KK6, "alive", "1999-12-21"],
    [N9, KK5, "alive", ""],
]

ENROLLMENTS_HEADER = ["kk", "program", "start", "end", "amount", "status"]
# Variant "A". Variant "B" (the second snapshot of the swap tests) differs
# only in the amount of the first row, so that an answer shows which
# snapshot produced it.
AMOUNT_A, AMOUNT_B = 750000, 751000
ENROLLMENTS = [
    [KK1, "PKH", "2024-01", "2024-06", str(AMOUNT_A), "active"],
    [KK1, "PKH", "2024-07", "2024-12", "900000", "active"],
    [KK1, "PKH", "2025-03", "", "1000000", "active"],
    [KK1, "BPNT", "2024-01", "2024-12", "200000", "suspended"],
    [KK1, "BPNT", "2025-01", "2025-12", "250000", "active"],
    [KK2, "PKH", "2024-01", "", "500000", "active"],
    [KK3, "PKH", "2024-01", "", "500000", "active"],
    [KK4, "PKH", "2024-01", "", "500000", "active"],
    [KK6, "ZERO_1", "2024-01", "2024-01", "0", "active"],
    [KK6, "ABCDEFGHIJ_12345", "2000-01", "", "4294967295", "active"],
    [KK6, "PKH", "0001-01", "9999-12", "1", "suspended"],
    [KK7, "PKH", "2024-01", "", "123456", "active"],
]

N_HOUSEHOLDS, N_MEMBERS, N_ENROLLMENTS = 7, 9, 12


def enrollments(variant="A"):
    rows = [list(r) for r in ENROLLMENTS]
    if variant == "B":
        rows[0][4] = str(AMOUNT_B)
    return rows


# The queries of SPEC section 2 with their expected answers, worked out by
# hand: (kind, id, program, period, reason, kk, amount). `kk` is the family
# the answer must name (None for not_found); region follows from it. An
# amount of "A" means AMOUNT_A or AMOUNT_B depending on the snapshot.
CASES = [
    # eligible, each kind, amounts changing over time, inclusive bounds
    ("nik", N1, "PKH", "2024-01", "eligible", KK1, "A"),
    ("nik", N1, "PKH", "2024-06", "eligible", KK1, "A"),
    ("nik", N1, "PKH", "2024-07", "eligible", KK1, 900000),
    ("kk", KK1, "PKH", "2024-12", "eligible", KK1, 900000),
    ("kks", KKS1, "PKH", "2025-03", "eligible", KK1, 1000000),
    ("kk", KK1, "PKH", "9999-12", "eligible", KK1, 1000000),  # open end
    ("nik", N3, "PKH", "2030-01", "eligible", KK1, 1000000),  # empty status = alive
    ("kk", KK1, "BPNT", "2025-05", "eligible", KK1, 250000),
    ("kk", KK6, "ZERO_1", "2024-01", "eligible", KK6, 0),
    ("nik", N8, "ABCDEFGHIJ_12345", "2024-01", "eligible", KK6, 4294967295),
    ("kks", KKS6, "ABCDEFGHIJ_12345", "2000-01", "eligible", KK6, 4294967295),
    ("kks", KKS7, "PKH", "2024-05", "eligible", KK7, 123456),  # leading zeros
    ("kk", KK7, "PKH", "2024-01", "eligible", KK7, 123456),
    # deceased only matters for kind nik
    ("nik", N2, "PKH", "2024-01", "member_deceased", KK1, 0),
    ("kk", KK1, "PKH", "2024-02", "eligible", KK1, "A"),
    ("kks", KKS1, "PKH", "2024-03", "eligible", KK1, "A"),
    ("nik", N5, "PKH", "2024-01", "member_deceased", KK2, 0),  # step 2 before 3
    ("nik", N2, "PBI", "2024-01", "member_deceased", KK1, 0),  # step 2 before 4
    # household status, for each kind, and before enrollment checks
    ("nik", N4, "PKH", "2024-01", "household_suspended", KK2, 0),
    ("kk", KK2, "PKH", "2024-01", "household_suspended", KK2, 0),
    ("kks", KKS2, "PKH", "2024-01", "household_suspended", KK2, 0),
    ("kk", KK2, "PBI", "2024-01", "household_suspended", KK2, 0),
    ("kk", KK3, "PKH", "2024-01", "household_graduated", KK3, 0),
    ("nik", N6, "PKH", "2024-01", "household_graduated", KK3, 0),
    ("kk", KK4, "PKH", "2024-01", "household_terminated", KK4, 0),
    ("kks", KKS4, "PKH", "2024-01", "household_terminated", KK4, 0),
    ("nik", N7, "PBI", "2024-01", "household_terminated", KK4, 0),
    # not_enrolled
    ("kk", KK1, "PBI", "2024-01", "not_enrolled", KK1, 0),
    ("kk", KK5, "PKH", "2024-01", "not_enrolled", KK5, 0),
    ("nik", N9, "PKH", "2024-01", "not_enrolled", KK5, 0),
    ("kk", KK1, "PKH_", "2024-01", "not_enrolled", KK1, 0),
    ("kk", KK1, "PK", "2024-01", "not_enrolled", KK1, 0),
    # outside_period: before, in a gap, after a closed end
    ("kk", KK1, "PKH", "2023-12", "outside_period", KK1, 0),
    ("kk", KK1, "PKH", "2025-01", "outside_period", KK1, 0),
    ("nik", N1, "PKH", "2025-02", "outside_period", KK1, 0),
    ("kk", KK1, "PKH", "0001-01", "outside_period", KK1, 0),
    ("kk", KK1, "BPNT", "2026-01", "outside_period", KK1, 0),
    ("kk", KK1, "BPNT", "2023-12", "outside_period", KK1, 0),
    ("kk", KK6, "ZERO_1", "2024-02", "outside_period", KK6, 0),
    ("kks", KKS6, "ABCDEFGHIJ_12345", "1999-12", "outside_period", KK6, 0),
    # enrollment_suspended
    ("nik", N3, "BPNT", "2024-05", "enrollment_suspended", KK1, 0),
    ("kk", KK1, "BPNT", "2024-12", "enrollment_suspended", KK1, 0),
    ("kks", KKS6, "PKH", "0001-01", "enrollment_suspended", KK6, 0),
    ("nik", N8, "PKH", "9999-12", "enrollment_suspended", KK6, 0),
    # not_found: ids that name nothing, and ids of the wrong kind
    ("nik", "0000000000000000", "PKH", "2024-01", "not_found", None, 0),
    ("nik", "3201011501909999", "PKH", "2024-01", "not_found", None, 0),
    ("kk", "3201010000000099", "PKH", "2024-01", "not_found", None, 0),
    ("kks", "5000000000000099", "PKH", "2024-01", "not_found", None, 0),
    ("kk", N1, "PKH", "2024-01", "not_found", None, 0),
    ("kks", KK1, "PKH", "2024-01", "not_found", None, 0),
    ("nik", KK1, "PKH", "2024-01", "not_found", None, 0),
    ("kk", KKS1, "PKH", "2024-01", "not_found", None, 0),
    ("kks", "0000000000000000", "PKH", "2024-01", "not_found", None, 0),
    ("kk", "9999999999999999", "PKH", "2024-01", "not_found", None, 0),
    ("kks", "0000000000000070", "PKH", "2024-01", "not_found", None, 0),
    ("kks", "7000000000000000", "PKH", "2024-01", "not_found", None, 0),
    ("kk", "0000000000000007", "PKH", "2024-01", "not_found", None, 0),
]


def case_params(case):
    return list(case[:4])


def expected_amount(case, variant):
    amount = case[6]
    if amount == "A":
        return AMOUNT_B if variant == "B" else AMOUNT_A
    return amount


def check_answer(ans, case, snap_id, variant="A", where=""):
    """Asserts that `ans` is exactly the answer map SPEC 3 gives for `case`
    from the snapshot `snap_id` of fixture `variant`."""
    kind, ident, program, period, reason, kk, _ = case
    what = "%s%s %s %s %s" % (where + ": " if where else "", kind, ident, program, period)
    assert isinstance(ans, dict), "%s: answer is not a map: %r" % (what, ans)
    assert set(ans) == ANSWER_KEYS, "%s: answer keys %r, want exactly %r" % (
        what, sorted(map(repr, ans)), sorted(ANSWER_KEYS))
    assert type(ans["reason"]) is str, "%s: reason not a str: %r" % (what, ans["reason"])
    assert ans["reason"] == reason, "%s: reason %r, want %r" % (what, ans["reason"], reason)
    assert type(ans["eligible"]) is bool, "%s: eligible not a bool: %r" % (what, ans["eligible"])
    assert ans["eligible"] == (reason == "eligible"), "%s: eligible %r with reason %s" % (
        what, ans["eligible"], reason)
    if kk is None:
        assert ans["kk"] is None, "%s: kk %r, want nil" % (what, ans["kk"])
        assert ans["region"] is None, "%s: region %r, want nil" % (what, ans["region"])
    else:
        assert type(ans["kk"]) is str and ans["kk"] == kk, "%s: kk %r, want %r" % (what, ans["kk"], kk)
        assert type(ans["region"]) is str and ans["region"] == REGION[kk], "%s: region %r, want %r" % (
            what, ans["region"], REGION[kk])
    want = expected_amount(case, variant)
    assert type(ans["amount"]) is int and ans["amount"] >= 0, "%s: amount not a uint: %r" % (
        what, ans["amount"])
    assert ans["amount"] == want, "%s: amount %r, want %r" % (what, ans["amount"], want)
    assert type(ans["snapshot"]) is str and ans["snapshot"] == snap_id, "%s: snapshot %r, want %r" % (
        what, ans["snapshot"], snap_id)


# ---------------------------------------------------------------------------
# Snapshot building
# ---------------------------------------------------------------------------

def write_csv(path, header, rows):
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(header)
        w.writerows(rows)


def build_snapshot(workdir, snap_id, out=None, variant="A", households=None,
                   members=None, enrollment_rows=None):
    """Builds a snapshot of the fixture (or of the rows given) with
    `elig-snapshot build ... --id snap_id`; returns its path."""
    need_binaries()
    src = os.path.join(workdir, "csv-" + snap_id)
    os.makedirs(src, exist_ok=True)
    hh = os.path.join(src, "households.csv")
    mm = os.path.join(src, "members.csv")
    en = os.path.join(src, "enrollments.csv")
    write_csv(hh, HOUSEHOLDS_HEADER, HOUSEHOLDS if households is None else households)
    write_csv(mm, MEMBERS_HEADER, MEMBERS if members is None else members)
    write_csv(en, ENROLLMENTS_HEADER,
              enrollments(variant) if enrollment_rows is None else enrollment_rows)
    out = out or os.path.join(workdir, snap_id + ".mdb")
    cmd = [ELIG_SNAPSHOT, "build", "--households", hh, "--members", mm,
           "--enrollments", en, "--out", out, "--id", snap_id,
           "--rejects", os.path.join(src, "rejects.csv")]
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
    if p.returncode != 0:
        raise AssertionError("snapshot build failed (exit %d): %s\n%s" % (
            p.returncode, " ".join(cmd), p.stderr.decode(errors="replace")))
    assert os.path.isfile(out), "builder exited 0 but wrote no %s" % out
    return out


def snapshot_info(path):
    """`elig-snapshot info PATH` as a dict of its `key: value` lines."""
    p = subprocess.run([ELIG_SNAPSHOT, "info", path], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=60)
    if p.returncode != 0:
        raise AssertionError("elig-snapshot info %s: exit %d: %s" % (path, p.returncode, p.stderr))
    return dict(ln.split(": ", 1) for ln in p.stdout.decode().splitlines() if ": " in ln)


def copy_with_schema(src, dst, version=b"7"):
    """Copies the snapshot src to dst with its schema version rewritten to
    `version` (one ASCII digit), for the unknown-schema tests. Relies on
    lib/record.h: meta key "schema_version" holds the version as a str
    (one digit), and LMDB stores a leaf node's value right after its key."""
    with open(src, "rb") as f:
        data = f.read()
    at = [m.start(1) for m in re.finditer(rb"schema_version([0-9])(?![0-9])", data)]
    assert len(at) == 1, "cannot find the schema version in %s (layout changed?)" % src
    i = at[0]
    with open(dst, "wb") as f:
        f.write(data[:i] + version + data[i + 1:])
    return dst


def truncated_copies(src, dirpath):
    """Copies of the snapshot src cut short, as a non-atomic deploy (cp or
    scp over the path) leaves them for a while: [(what, path)]."""
    with open(src, "rb") as f:
        data = f.read()
    out = []
    for what, n in (("first 2 pages", 8192), ("first half", len(data) // 2),
                    ("all but the last page", len(data) - 4096)):
        p = os.path.join(dirpath, "truncated-%d.mdb" % n)
        with open(p, "wb") as f:
            f.write(data[:n])
        out.append(("snapshot cut to its %s (%d of %d bytes)" % (what, n, len(data)), p))
    return out


def need_binaries():
    for name, path in (("ELIGD", ELIGD), ("ELIG_SNAPSHOT", ELIG_SNAPSHOT)):
        if not path or not os.access(path, os.X_OK):
            raise AssertionError("%s is not set to an executable (%r); run through ctest" % (name, path))


# ---------------------------------------------------------------------------
# The daemon
# ---------------------------------------------------------------------------

_LIVE = set()


def _kill_all():
    for d in list(_LIVE):
        d.kill()


atexit.register(_kill_all)

_libc = ctypes.CDLL(None, use_errno=True)


def _die_with_parent():
    # PR_SET_PDEATHSIG = 1: the daemon gets SIGKILL if this test dies.
    _libc.prctl(1, signal.SIGKILL, 0, 0, 0)


class Daemon:
    """One eligd process. Use as a context manager: it is killed on exit."""

    def __init__(self, snapshot, *args, workdir, listen=True, unix=None,
                 log_level="info", name="eligd", preexec=None, env=None, metrics=False):
        need_binaries()
        self.preexec = preexec  # run in the child before exec (rlimits, umask)
        self.snapshot = snapshot
        self.workdir = workdir
        self.ready_file = os.path.join(workdir, name + ".ready")
        self.log_path = os.path.join(workdir, name + ".log")
        self.unix = unix
        self.argv = [ELIGD, "--snapshot", snapshot]
        if listen:
            self.argv += ["--listen", "127.0.0.1:0", "--ready-file", self.ready_file]
        if unix:
            self.argv += ["--unix", unix]
        if log_level:
            self.argv += ["--log-level", log_level]
        if metrics:
            self.argv += ["--metrics-listen", "127.0.0.1:0"]
        self.argv += list(args)
        self.env = env
        self.listen = listen
        self.proc = None
        self.port = None
        self.rc = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.kill()
        return False

    def start(self, timeout=15.0):
        self.spawn()
        return self.wait_ready(timeout)

    def spawn(self):
        """Starts the process without waiting for it to be ready."""
        if os.path.exists(self.ready_file):
            os.unlink(self.ready_file)
        self._log = open(self.log_path, "wb")
        env = None if self.env is None else dict(os.environ, **self.env)
        self.proc = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL,
                                     stdout=self._log, stderr=self._log,
                                     preexec_fn=self._preexec, env=env)
        _LIVE.add(self)
        return self

    def wait_ready(self, timeout=15.0):
        deadline = time.monotonic() + timeout
        while True:
            if self.listen:
                port = self._read_ready()
                if port is not None:
                    self.port = port
                    return self
            elif self.unix and os.path.exists(self.unix):
                if self._unix_answers():
                    return self
            if self.proc.poll() is not None:
                raise AssertionError("eligd exited %d before it was ready: %s\n%s" % (
                    self.proc.returncode, " ".join(self.argv), self.log()))
            if time.monotonic() > deadline:
                raise AssertionError("eligd not ready after %.0fs: %s\n%s" % (
                    timeout, " ".join(self.argv), self.log()))
            time.sleep(0.02)

    def _preexec(self):
        _die_with_parent()
        if self.preexec:
            self.preexec()

    def _read_ready(self):
        try:
            with open(self.ready_file, "rb") as f:
                text = f.read()
        except FileNotFoundError:
            return None
        if not text.endswith(b"\n"):
            return None  # not completely written yet
        m = re.fullmatch(rb"(\d+)\n", text)
        assert m, "ready file holds %r, want a port number and a newline" % text
        port = int(m.group(1))
        assert 0 < port < 65536, "ready file port %d out of range" % port
        return port

    def _unix_answers(self):
        try:
            c = Conn(path=self.unix, timeout=2)
        except OSError:
            return False
        c.close()
        return True

    @property
    def pid(self):
        return self.proc.pid

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def conn(self, **kw):
        return Conn(port=self.port, **kw)

    def send_signal(self, sig):
        assert self.alive(), "eligd is not running (exit %r)\n%s" % (self.proc.returncode, self.log())
        self.proc.send_signal(sig)

    def wait(self, timeout):
        """Waits for the exit; returns the status or raises on timeout."""
        try:
            self.rc = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError("eligd still running %.1fs later" % timeout)
        _LIVE.discard(self)
        return self.rc

    def stop(self, sig=signal.SIGTERM, timeout=15.0):
        """Signals, waits for the exit and asserts it is 0."""
        self.send_signal(sig)
        rc = self.wait(timeout)
        assert rc == 0, "eligd exited %d after signal %d, want 0\n%s" % (rc, sig, self.log())
        return rc

    def kill(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass
        _LIVE.discard(self)
        log = getattr(self, "_log", None)
        if log and not log.closed:
            log.close()

    def log(self, tail=4000):
        try:
            with open(self.log_path, "rb") as f:
                data = f.read()
        except OSError:
            return ""
        return data[-tail:].decode(errors="replace")

    def rss_kb(self):
        return proc_status_kb(self.pid, "VmRSS")

    def info(self):
        with self.conn() as c:
            return c.ok("info", [])

    def metrics_url(self, timeout=10.0):
        """http://127.0.0.1:PORT of --metrics-listen 127.0.0.1:0, from the
        line eligd logs once it listens."""
        pat = re.compile(r"metrics: serving http://127\.0\.0\.1:(\d+)/metrics")
        def find():
            m = pat.search(self.log(tail=1 << 20))
            return m and "http://127.0.0.1:%s" % m.group(1)
        return wait_until(find, timeout, "eligd logs its metrics address")

    def http(self, path, method="GET"):
        """(status, content type, body as str) of an HTTP request to the
        metrics listener."""
        return http_request(self.metrics_url() + path, method)


def proc_status_kb(pid, field):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise AssertionError("no %s in /proc/%d/status" % (field, pid))


# ---------------------------------------------------------------------------
# The client: raw msgpack-RPC over a socket
# ---------------------------------------------------------------------------

def pack(obj):
    return msgpack.packb(obj, use_bin_type=True)


def req(msgid, method, params):
    """A request: [0, msgid, method, params]."""
    return pack([0, msgid, method, params])


def notify(method, params):
    return pack([2, method, params])


class Conn:
    """A raw connection; every read has a deadline."""

    def __init__(self, port=None, path=None, timeout=5.0, rcvbuf=None, nodelay=True):
        self.timeout = timeout
        if path is not None:
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.settimeout(timeout)
            s.connect(path)
        else:
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            if rcvbuf:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
            s.settimeout(timeout)
            s.connect(("127.0.0.1", port))
            if nodelay:
                s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock = s
        self.unpacker = msgpack.Unpacker(raw=False, strict_map_key=False,
                                         max_buffer_size=256 << 20)
        self.next_id = 1
        self.eof = False

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def msgid(self):
        i = self.next_id
        self.next_id += 1
        return i

    def send(self, data):
        self.sock.settimeout(self.timeout)
        self.sock.sendall(data)

    def recv_msg(self, timeout=None):
        """The next complete message; raises Timeout or Closed."""
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        while True:
            try:
                return next(self.unpacker)
            except StopIteration:
                pass
            if self.eof:
                raise Closed("eof")
            left = deadline - time.monotonic()
            if left <= 0:
                raise Timeout()
            self.sock.settimeout(left)
            try:
                data = self.sock.recv(1 << 16)
            except (socket.timeout, BlockingIOError):
                raise Timeout()
            except (ConnectionResetError, BrokenPipeError):
                self.eof = True
                raise Closed("reset")
            if not data:
                self.eof = True
                raise Closed("eof")
            self.unpacker.feed(data)

    def response(self, msgid, timeout=None, what=""):
        """The next message, asserted to be a well-formed response to msgid;
        returns (error, result)."""
        try:
            m = self.recv_msg(timeout)
        except Timeout:
            raise AssertionError("%sno response to msgid %d in time" % (what and what + ": ", msgid))
        except Closed as e:
            raise AssertionError("%sconnection closed (%s) instead of answering msgid %d" % (
                what and what + ": ", e, msgid))
        check_response(m, what)
        assert m[1] == msgid, "%sresponse msgid %r, want %r (out of order?)" % (
            what and what + ": ", m[1], msgid)
        return m[2], m[3]

    def call(self, method, params, timeout=None, what=""):
        i = self.msgid()
        self.send(req(i, method, params))
        return self.response(i, timeout, what or "%r %r" % (method, params))

    def ok(self, method, params, what=""):
        err, res = self.call(method, params, what=what)
        assert err is None, "%s%r %r: error %r, want success" % (what and what + ": ", method, params, err)
        return res

    def error(self, method, params, code, what=""):
        """Asserts the call fails with `code`; returns the message."""
        err, res = self.call(method, params, what=what)
        return check_error(err, res, code, what or "%r %.200r" % (method, params))

    def expect_closed(self, timeout=5.0, what=""):
        """Asserts the server closes the connection within timeout; returns
        the complete messages it sent before closing."""
        got = []
        deadline = time.monotonic() + timeout
        while True:
            try:
                got.append(self.recv_msg(max(0.0, deadline - time.monotonic())))
            except Closed:
                return got
            except Timeout:
                raise AssertionError("%sconnection still open %.1fs later, want closed" % (
                    what and what + ": ", timeout))
            except ValueError:
                # Undecodable bytes from the server are a failure of their own.
                raise AssertionError("%sserver sent bytes that are not msgpack" % (what and what + ": "))

    def expect_silence(self, seconds, what=""):
        """Asserts that nothing arrives (and no close) for `seconds`."""
        try:
            m = self.recv_msg(seconds)
        except Timeout:
            return
        except Closed as e:
            raise AssertionError("%sconnection closed (%s), want it open and silent" % (
                what and what + ": ", e))
        raise AssertionError("%sunexpected message %r" % (what and what + ": ", m))


def check_response(m, what=""):
    p = what and what + ": "
    assert isinstance(m, list) and len(m) == 4, "%snot a response [1, msgid, error, result]: %.300r" % (p, m)
    assert m[0] == 1 and type(m[0]) is int, "%smessage type %r, want 1" % (p, m[0])
    assert type(m[1]) is int and 0 <= m[1] <= 0xFFFFFFFF, "%smsgid %r not a uint32" % (p, m[1])
    err = m[2]
    if err is not None:
        assert isinstance(err, list) and len(err) == 2, "%serror %r, want [code, message]" % (p, err)
        assert type(err[0]) is int, "%serror code %r not an int" % (p, err[0])
        assert type(err[1]) is str and err[1], "%serror message %r not a non-empty str" % (p, err[1])
        assert m[3] is None, "%serror %r with a non-nil result %.200r" % (p, err, m[3])


def check_error(err, res, code, what=""):
    p = what and what + ": "
    assert err is not None, "%sanswered %.300r, want error %d" % (p, res, code)
    assert err[0] == code, "%serror %r, want code %d" % (p, err, code)
    assert res is None, "%sresult %r with error" % (p, res)
    return err[1]


# ---------------------------------------------------------------------------
# Small utilities
# ---------------------------------------------------------------------------

def http_request(url, method="GET", timeout=5.0):
    """(status, content type, body) of one HTTP request; errors too."""
    import urllib.error
    import urllib.request
    r = urllib.request.Request(url, method=method)
    try:
        with urllib.request.urlopen(r, timeout=timeout) as resp:
            return resp.status, resp.headers.get("Content-Type", ""), resp.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get("Content-Type", ""), e.read().decode()


def scrape(url):
    """GET url/metrics parsed by prometheus_client's own parser (not ours):
    {(sample name, frozenset of labels): value}, and the families by name."""
    from prometheus_client.parser import text_string_to_metric_families
    status, ctype, body = http_request(url + "/metrics")
    assert status == 200, "/metrics: HTTP %d, want 200: %s" % (status, body[:300])
    assert ctype.startswith("text/plain"), "/metrics: Content-Type %r, want text/plain" % ctype
    samples, families = {}, {}
    for fam in text_string_to_metric_families(body):
        families[fam.name] = fam
        for smp in fam.samples:
            samples[(smp.name, frozenset(smp.labels.items()))] = smp.value
    return samples, families


def sample(samples, name, **labels):
    key = (name, frozenset(labels.items()))
    assert key in samples, "/metrics has no %s%r" % (name, labels)
    return samples[key]


def wait_until(pred, timeout, what, interval=0.05):
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() > deadline:
            raise AssertionError("%s: not true after %.1fs" % (what, timeout))
        time.sleep(interval)


def workdir(prefix="eligd-test-"):
    # Under /tmp so that Unix socket paths stay short.
    return tempfile.mkdtemp(prefix=prefix, dir="/tmp")


class _Budget(Exception):
    pass


def _on_alarm(signum, frame):
    raise _Budget("test script exceeded its time budget")


class Ctx:
    """What a script's tests share: a work dir with snapshot A built in it
    and, if asked, one daemon started on it (`d`)."""

    def __init__(self, snap_id="snap-A", variant="A", daemon_args=None):
        self.dir = workdir()
        self.snap_id = snap_id
        self.variant = variant
        t0 = time.time()
        self.snapshot = build_snapshot(self.dir, snap_id, variant=variant)
        self.built_at = (t0, time.time())
        self.d = None
        if daemon_args is not None:
            self.d = self.daemon(*daemon_args).start()

    def daemon(self, *args, **kw):
        kw.setdefault("workdir", self.dir)
        return Daemon(self.snapshot, *args, **kw)

    def close(self):
        _kill_all()
        shutil.rmtree(self.dir, ignore_errors=True)


def main(tests, setup=None, budget=100):
    """Runs each test function (given the Ctx that setup() returns) in
    order, prints PASS/FAIL per test and exits 1 if any failed. A shared
    daemon that dies during a test fails that test. The whole script is
    bounded by `budget` seconds, below the ctest TIMEOUT so cleanup runs."""
    signal.signal(signal.SIGALRM, _on_alarm)
    signal.alarm(budget)
    failed = []
    ctx = None
    try:
        ctx = setup() if setup else None
        for t in tests:
            start = time.monotonic()
            try:
                t(ctx)
                if ctx is not None and ctx.d is not None and not ctx.d.alive() and ctx.d.rc is None:
                    raise AssertionError("the shared eligd died (exit %r)\n%s" % (
                        ctx.d.proc.returncode, ctx.d.log()))
            except _Budget:
                failed.append(t.__name__)
                print("FAIL %s: time budget of %ds exceeded" % (t.__name__, budget), flush=True)
                traceback.print_exc()
                break
            except Exception as e:
                failed.append(t.__name__)
                print("FAIL %s: %s" % (t.__name__, e), flush=True)
                traceback.print_exc()
                sys.stdout.flush()
                if ctx is not None and ctx.d is not None and not ctx.d.alive() and ctx.d.rc is None:
                    print("shared eligd is dead; stopping", flush=True)
                    break
            else:
                print("PASS %s (%.2fs)" % (t.__name__, time.monotonic() - start), flush=True)
    except Exception as e:
        failed.append("setup")
        print("FAIL setup: %s" % e, flush=True)
        traceback.print_exc()
    finally:
        signal.alarm(0)
        if ctx is not None:
            ctx.close()
        _kill_all()
    passed = 0 if "setup" in failed else len(tests) - len(failed)
    print("%d of %d passed" % (passed, len(tests)), flush=True)
    if failed:
        print("failed: " + ", ".join(failed), flush=True)
        sys.exit(1)
    sys.exit(0)
