"""livetest - harness of the client tests that talk to a real eligd.

Builds a tiny snapshot with `elig-snapshot build` from the CSV rows below and
starts eligd on 127.0.0.1 with an ephemeral port (--listen 127.0.0.1:0
--ready-file F). The expected answers (CASES) are worked out by hand from
SPEC.md section 2 for these rows, never taken from the code under test.

Paths come from the environment, set by ctest (tests/client/CMakeLists.txt):
ELIGD, ELIG_SNAPSHOT, ELIG (the command), and for some tests more.

Bounded everywhere: daemons die with their test (PR_SET_PDEATHSIG, atexit,
context manager), waits have deadlines.
"""
import atexit
import ctypes
import os
import signal
import subprocess
import tempfile
import time

ELIGD = os.environ.get("ELIGD", "")
ELIG_SNAPSHOT = os.environ.get("ELIG_SNAPSHOT", "")
ELIG = os.environ.get("ELIG", "")

SNAPSHOT_ID = "client-test-1"

KK_A, KK_B, KK_C, KK_D, KK_E = ("3171010101010001", "3171010101010002", "3171010101010003",
                                "3171010101010004", "3171010101010005")
KKS_A = "6013010000000001"
N1 = "3171011501900001"  # KK_A, alive
N2 = "3171015501900002"  # KK_A, deceased
N3 = "3171012303700003"  # KK_B (suspended household)
N4 = "3171010101800004"  # KK_C, status empty = alive
UNKNOWN = "3171010101019999"

HOUSEHOLDS = """kk,region,status,kks,head_name
3171010101010001,3171010001,active,6013010000000001,"Siti, Aminah"
3171010101010002,3171010002,suspended,,Budi
3171010101010003,3171010003,active,,
3171010101010004,3171010004,graduated,,
3171010101010005,3171010005,terminated,,
"""
MEMBERS = """nik,kk,status,birth_date
3171011501900001,3171010101010001,alive,1990-01-15
3171015501900002,3171010101010001,deceased,1990-01-15
3171012303700003,3171010101010002,alive,
3171010101800004,3171010101010003,,1980-01-01
"""
ENROLLMENTS = """kk,program,start,end,amount,status
3171010101010001,PKH,2026-01,2026-12,110000,active
3171010101010001,BPNT,2025-01,,200000,active
3171010101010002,PKH,2026-01,,110000,active
3171010101010003,PKH,2026-01,2026-06,750000,active
3171010101010003,BPNT,2026-01,,200000,suspended
3171010101010004,PKH,2026-01,,110000,active
"""

REGION = {KK_A: "3171010001", KK_B: "3171010002", KK_C: "3171010003",
          KK_D: "3171010004", KK_E: "3171010005"}

# (kind, id, program, period) -> (reason, amount, kk); kk None when not found.
CASES = [
    (("nik", N1, "PKH", "2026-11"), ("eligible", 110000, KK_A)),
    (("nik", N1, "PKH", "2026-01"), ("eligible", 110000, KK_A)),
    (("kk", KK_A, "PKH", "2027-01"), ("outside_period", 0, KK_A)),
    (("kk", KK_A, "PKH", "2025-12"), ("outside_period", 0, KK_A)),
    (("kks", KKS_A, "BPNT", "2030-05"), ("eligible", 200000, KK_A)),
    (("nik", N2, "PKH", "2026-11"), ("member_deceased", 0, KK_A)),
    (("kk", KK_A, "PBI", "2026-11"), ("not_enrolled", 0, KK_A)),
    (("kk", KK_B, "PKH", "2026-11"), ("household_suspended", 0, KK_B)),
    (("nik", N3, "PKH", "2026-11"), ("household_suspended", 0, KK_B)),
    (("nik", N4, "PKH", "2026-06"), ("eligible", 750000, KK_C)),
    (("kk", KK_C, "PKH", "2026-07"), ("outside_period", 0, KK_C)),
    (("kk", KK_C, "BPNT", "2026-03"), ("enrollment_suspended", 0, KK_C)),
    (("kk", KK_D, "PKH", "2026-03"), ("household_graduated", 0, KK_D)),
    (("kk", KK_E, "PKH", "2026-03"), ("household_terminated", 0, KK_E)),
    (("kk", UNKNOWN, "PKH", "2026-03"), ("not_found", 0, None)),
    (("nik", UNKNOWN, "PKH", "2026-03"), ("not_found", 0, None)),
    (("kks", KK_A, "PKH", "2026-03"), ("not_found", 0, None)),
]

_children = []


def _kill_children():
    for p in _children:
        if p.poll() is None:
            p.kill()
            p.wait()


atexit.register(_kill_children)


def _die_with_parent():
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def tmpdir():
    return tempfile.TemporaryDirectory(prefix="eligc-live-")


def build_snapshot(dirpath, snap_id=SNAPSHOT_ID, extra_enrollments=""):
    """Writes the CSVs into dirpath and builds snapshot.lmdb there
    (extra_enrollments: more rows of enrollments.csv)."""
    files = {}
    for name, text in (("households", HOUSEHOLDS), ("members", MEMBERS),
                       ("enrollments", ENROLLMENTS + extra_enrollments)):
        files[name] = os.path.join(dirpath, name + ".csv")
        with open(files[name], "w") as f:
            f.write(text)
    out = os.path.join(dirpath, "snapshot.lmdb")
    r = subprocess.run([ELIG_SNAPSHOT, "build", "--households", files["households"],
                        "--members", files["members"], "--enrollments", files["enrollments"],
                        "--out", out, "--id", snap_id, "--rejects",
                        os.path.join(dirpath, "rejects.csv")],
                       capture_output=True, text=True, timeout=60)
    if r.returncode != 0:
        raise RuntimeError("elig-snapshot build failed: " + r.stderr)
    return out


class Daemon:
    """An eligd on 127.0.0.1:<ephemeral>; `addr` is HOST:PORT."""

    def __init__(self, snapshot, dirpath, name="d", extra=()):
        self.ready = os.path.join(dirpath, "ready-%s" % name)
        self.log = open(os.path.join(dirpath, "eligd-%s.log" % name), "w")
        self.proc = subprocess.Popen(
            [ELIGD, "--snapshot", snapshot, "--listen", "127.0.0.1:0", "--ready-file",
             self.ready, "--threads", "1", "--log-level", "warn", *extra],
            stdout=self.log, stderr=self.log, preexec_fn=_die_with_parent)
        _children.append(self.proc)
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

    @property
    def pid(self):
        return self.proc.pid

    def tls_addr(self):
        """127.0.0.1:PORT of --tls-listen 127.0.0.1:0, from the start-up log
        line (start the daemon with --log-level info)."""
        import re
        self.log.flush()
        with open(self.log.name) as f:
            m = re.search(r" tls 127\.0\.0\.1:(\d+)", f.read())
        if not m:
            raise RuntimeError("no tls address in " + self.log.name)
        return "127.0.0.1:" + m.group(1)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        return self.proc.returncode

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


def write_channels(path, channels):
    """Writes an eligd --auth-file (SPEC 6): channels is a list of (name,
    {key: value}); a "token" value is written as its token_sha256."""
    import hashlib
    lines = []
    for name, keys in channels:
        lines.append("[channel %s]" % name)
        for k, v in keys.items():
            if k == "token":
                k, v = "token_sha256", hashlib.sha256(v.encode()).hexdigest()
            lines.append("%s = %s" % (k, v))
        lines.append("")
    with open(path, "w") as f:
        f.write("\n".join(lines))
    return path


def write_token(path, token):
    """A token file as a client keeps it: mode 0600, the token and a newline."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.write(fd, (token + "\n").encode())
    os.close(fd)
    return path


def elig(*args, stdin=None, timeout=120):
    return subprocess.run([ELIG, *args], input=stdin, capture_output=True, text=True,
                          timeout=timeout)
