"""elig-gen output through elig-snapshot build: the generator and the
builder checked against each other.

usage: snapshot_roundtrip.py ELIG_GEN ELIG_SNAPSHOT WORKDIR

1. Clean data (--bad-ratio 0) builds with zero rejects, even with
   --max-reject-ratio 0, and the snapshot's counts are the CSV rows.
2. Data with --bad-ratio 0.02 builds (--max-reject-ratio 1) with every
   reject reason of SPEC 1 in the rejects file; per file and reason the
   counts equal the generator's expected_rejects.csv (worked out row by row
   from SPEC 1's order); each reject's `raw` is the input's bytes starting
   at its `line`; accepted + rejected = rows read.
3. The same at --bad-ratio 0.5, where bad rows pile up in one family
   (a family registered twice whose members and enrollments are also
   broken, duplicated or overlapping) and SPEC 1's order decides.
"""
import csv
import os
import shutil
import subprocess
import sys
from collections import Counter

REASONS = {
    "malformed_row", "bad_kk", "bad_region", "bad_status", "bad_kks", "bad_name",
    "bad_nik", "bad_birth_date", "bad_program", "bad_period", "bad_amount",
    "duplicate_kk", "duplicate_kks", "duplicate_nik", "unknown_kk",
    "overlapping_enrollment",
}
FILES = ("households.csv", "members.csv", "enrollments.csv")


def fail(msg):
    print("FAIL: " + msg)
    sys.exit(1)


def run(cmd):
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    return p.returncode, p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")


def records(path):
    """Rows of a CSV file (header excluded), read as the SPEC reads them."""
    with open(path, newline="", encoding="utf-8", errors="surrogateescape") as f:
        rows = list(csv.reader(f))
    return rows[1:]


def physical_lines(path):
    with open(path, "rb") as f:
        return f.read().split(b"\n")


def build(snap_bin, d, out, rejects, ratio):
    return run([snap_bin, "build",
                "--households", os.path.join(d, "households.csv"),
                "--members", os.path.join(d, "members.csv"),
                "--enrollments", os.path.join(d, "enrollments.csv"),
                "--out", out, "--rejects", rejects, "--max-reject-ratio", ratio])


def info_counts(snap_bin, path):
    rc, out, err = run([snap_bin, "info", path])
    if rc != 0:
        fail("info %s: exit %d: %s" % (path, rc, err))
    counts = {}
    for line in out.splitlines():
        key, _, value = line.partition(":")
        if key.strip() in ("households", "members", "enrollments"):
            counts[key.strip() + ".csv"] = int(value.strip())
    if set(counts) != set(FILES):
        fail("info does not show households/members/enrollments:\n" + out)
    return counts


def clean(gen_bin, snap_bin, work):
    d = os.path.join(work, "clean")
    rc, _, err = run([gen_bin, "--households", "5000", "--seed", "11", "--out", d, "--quiet"])
    if rc != 0:
        fail("elig-gen clean: exit %d: %s" % (rc, err))
    snap, rej = os.path.join(work, "clean.mdb"), os.path.join(work, "clean.rejects.csv")
    rc, out, err = build(snap_bin, d, snap, rej, "0")
    if rc != 0:
        fail("clean build: exit %d: %s%s" % (rc, out, err))
    with open(rej, "rb") as f:
        if f.read() != b"file,line,reason,raw\n":
            fail("clean data produced rejects (see %s)" % rej)
    counts = info_counts(snap_bin, snap)
    for name in FILES:
        n = len(records(os.path.join(d, name)))
        if counts[name] != n:
            fail("clean: snapshot holds %d %s rows, the file has %d" % (counts[name], name, n))
    if counts["households.csv"] != 5000:
        fail("clean: %d households, asked for 5000" % counts["households.csv"])


def check_raw(d, rejects):
    """Each reject's raw is the input's bytes from its line on."""
    lines = {name: physical_lines(os.path.join(d, name)) for name in FILES}
    for row in rejects:
        name, line, reason, raw = row
        raw_b = raw.encode("utf-8", "surrogateescape")
        n = raw_b.count(b"\n") + 1
        start = int(line) - 1
        got = b"\n".join(lines[name][start:start + n])
        if got != raw_b:
            fail("%s line %s (%s): raw %r is not the input there, %r" % (name, line, reason, raw_b, got))


def dirty(gen_bin, snap_bin, work, name, families, ratio):
    d = os.path.join(work, name)
    # seed 14 puts a head_name with a line break in both datasets, so the
    # raw/line check below also covers line numbers after a multi-line record
    rc, _, err = run([gen_bin, "--households", families, "--seed", "14", "--bad-ratio", ratio,
                      "--out", d, "--quiet"])
    if rc != 0:
        fail("elig-gen %s: exit %d: %s" % (name, rc, err))
    hh = os.path.join(d, "households.csv")
    if len(physical_lines(hh)) - 1 <= len(records(hh)) + 1:
        fail("%s: no multi-line record in households.csv; pick another seed" % name)
    snap, rej = os.path.join(work, name + ".mdb"), os.path.join(work, name + ".rejects.csv")
    rc, out, err = build(snap_bin, d, snap, rej, "1")
    if rc != 0:
        fail("%s build: exit %d: %s%s" % (name, rc, out, err))
    rejects = records(rej)
    for row in rejects:
        if len(row) != 4 or row[0] not in FILES or row[2] not in REASONS:
            fail("bad rejects row %r" % (row,))
    got = Counter((r[0], r[2]) for r in rejects)
    missing = REASONS - {reason for _, reason in got}
    if missing:
        fail("reasons never seen in the rejects file: %s" % ", ".join(sorted(missing)))
    want = Counter()
    for row in records(os.path.join(d, "expected_rejects.csv")):
        want[(row[0], row[1])] = int(row[2])
    if got != want:
        diff = sorted(set(got) | set(want))
        fail("rejects differ from the generator's expectation:\n" + "\n".join(
            "  %s %s: builder %d, expected %d" % (k[0], k[1], got[k], want[k])
            for k in diff if got[k] != want[k]))
    check_raw(d, rejects)
    counts = info_counts(snap_bin, snap)
    for name in FILES:
        read = len(records(os.path.join(d, name)))
        rejected = sum(n for (f, _), n in got.items() if f == name)
        if counts[name] + rejected != read:
            fail("%s: %d accepted + %d rejected != %d read" % (name, counts[name], rejected, read))


def main():
    if len(sys.argv) != 4:
        fail("usage: snapshot_roundtrip.py ELIG_GEN ELIG_SNAPSHOT WORKDIR")
    gen_bin, snap_bin, work = sys.argv[1:]
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    clean(gen_bin, snap_bin, work)
    dirty(gen_bin, snap_bin, work, "dirty", "5000", "0.02")
    dirty(gen_bin, snap_bin, work, "heavy", "3000", "0.5")
    print("ok")


if __name__ == "__main__":
    main()
