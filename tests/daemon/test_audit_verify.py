"""daemon_audit_verify: `elig-audit verify` finds each kind of tampering
with the audit trail (SPEC 7) and names the place; it passes an honest
trail, including one continued after eligd was killed.

A trail of 5 segments (SIGUSR1), each of several blocks, is written by a
real eligd; each case copies it, makes one edit (with audittest.py, the
test's own reader and writer of the format: the edits an attacker with
write access could make, from flipping a byte to rewriting a block with a
valid compression and record count) and asserts that verify exits 1 and
names the segment file and the records or byte."""

import hashlib
import os
import shutil
import struct
import signal
import subprocess
import time

import audittest as at
import eligtest as et

ELIG_AUDIT = os.environ.get("ELIG_AUDIT", "")
QUERY = ["nik", et.N1, "PKH", "2024-01"]


class VerifyCtx(et.Ctx):
    def __init__(self):
        super().__init__(snap_id="verify-A")
        self.pristine = os.path.join(self.dir, "pristine")
        d = self.daemon("--audit-dir", self.pristine, "--audit-sync-ms", "100").start()
        with d.conn() as c:
            for seg in range(5):
                for burst in range(3):  # a block per burst (blocks are sealed 50 ms after their first record)
                    batch = [[QUERY[0], QUERY[1], "PKH", "2024-%02d" % (1 + (seg + burst) % 12)]] * 40
                    c.ok("check_batch", [batch])
                    c.ok("check", QUERY)
                    time.sleep(0.12)
                if seg < 4:
                    os.kill(d.pid, signal.SIGUSR1)
                    time.sleep(0.15)
        d.stop()
        self.segs = at.segment_paths(self.pristine)
        assert len(self.segs) == 5, "%d segments, want 5" % len(self.segs)
        for p in self.segs:
            s = at.Segment(p)
            assert s.closed and len(s.blocks) >= 2, "%s: %d blocks, closed %r" % (p, len(s.blocks), s.closed)
        self.n = 0

    def copy(self):
        self.n += 1
        dst = os.path.join(self.dir, "case%d" % self.n)
        shutil.copytree(self.pristine, dst)
        return dst, at.segment_paths(dst)


def setup():
    assert ELIG_AUDIT, "ELIG_AUDIT is not set (run through ctest)"
    return VerifyCtx()


def verify(d):
    p = subprocess.run([ELIG_AUDIT, "verify", d], capture_output=True, text=True, timeout=60)
    return p.returncode, p.stdout + p.stderr


def expect_break(d, name, *phrases):
    rc, out = verify(d)
    assert rc == 1, "verify exit %d after tampering, want 1:\n%s" % (rc, out)
    lines = [ln for ln in out.splitlines() if ln.startswith("BROKEN %s:" % os.path.basename(name))]
    assert lines, "no BROKEN line naming %s:\n%s" % (os.path.basename(name), out)
    for ph in phrases:
        assert any(ph in ln for ln in lines), "no %r in the break naming %s:\n%s" % (ph, os.path.basename(name), out)
    return lines


def rewrite(path, seg, edits, fix_chain=False):
    """Rewrites the segment at path with the blocks of `edits` ({index:
    raw records}) replaced, compressed again. Without fix_chain the other
    blocks are copied byte for byte and the edited ones keep their old chain
    value (an edit that did not touch the chain); with it, every block from
    the first on is sealed again with a recomputed chain, numbering and end
    block (an attacker rewriting the whole segment)."""
    out = bytearray(seg.data[:at.HEADER_LEN])
    chain = hashlib.sha256(bytes(out)).digest()
    first = 0
    for i, b in enumerate(seg.blocks):
        off = b["off"]
        stored_len = struct.unpack_from("<I", seg.data, off + 8)[0]
        whole = seg.data[off:off + at.BLOCK_HEAD_LEN + stored_len + at.HASH_LEN]
        raw = edits.get(i, b["raw"])
        if i not in edits and not fix_chain:
            out += whole
            first += b["count"]
            continue
        recs = at.record_offsets(raw)
        times = [r["time_us"] for r, _ in recs]
        blk, c = at.encode_block(first, raw, len(recs), min(times), max(times), chain)
        if not fix_chain:
            blk = blk[:-at.HASH_LEN] + whole[-at.HASH_LEN:]
            c = whole[-at.HASH_LEN:]
        out += blk
        chain = c
        first += len(recs)
    head = b"END1" + bytes(4) + struct.pack("<QQQ", first, len(out), int(time.time() * 1e6)) + bytes(16)
    if fix_chain:
        chain = hashlib.sha256(chain + head).digest()
        out += head + chain
    else:
        out += seg.data[-(at.BLOCK_HEAD_LEN + at.HASH_LEN):]
    with open(path, "wb") as f:
        f.write(out)


def block_range(seg, i):
    b = seg.blocks[i]
    return "records %d-%d" % (b["first"], b["first"] + b["count"] - 1)


# ---------------------------------------------------------------------------

def t_honest_trail_passes(ctx):
    rc, out = verify(ctx.pristine)
    assert rc == 0 and out.rstrip().endswith("verify: ok"), out
    assert out.count(": ok, ") == 5 and "the start of the trail" in out, out


def t_flipped_byte_in_a_block(ctx):
    d, segs = ctx.copy()
    seg = at.Segment(segs[1])
    b = seg.blocks[1]
    data = bytearray(seg.data)
    data[b["off"] + at.BLOCK_HEAD_LEN + 5] ^= 0x40
    open(segs[1], "wb").write(data)
    expect_break(d, segs[1], block_range(seg, 1), "altered")


def t_edited_record_recompressed(ctx):
    """A record's amount changed, the block validly recompressed, every
    other byte as it was."""
    d, segs = ctx.copy()
    seg = at.Segment(segs[2])
    raw = bytearray(seg.blocks[1]["raw"])
    recs = at.record_offsets(bytes(raw))
    k = len(recs) // 2
    raw[recs[k][1] + 44] ^= 0x01  # amount
    rewrite(segs[2], seg, {1: bytes(raw)})
    lines = expect_break(d, segs[2], block_range(seg, 1), "does not match the chain")
    # The same edit with the chain of that segment recomputed: the next
    # segment's header no longer matches.
    d, segs = ctx.copy()
    rewrite(segs[2], seg, {1: bytes(raw)}, fix_chain=True)
    rc, out = verify(d)
    assert rc == 1 and ("BROKEN %s: " % os.path.basename(segs[2]) in out and "the next segment says" in out or
                        "BROKEN %s: " % os.path.basename(segs[3]) in out and "does not chain from" in out), out
    assert lines


def t_removed_record(ctx):
    d, segs = ctx.copy()
    seg = at.Segment(segs[1])
    raw = seg.blocks[0]["raw"]
    last = at.record_offsets(raw)[-1][1]
    rewrite(segs[1], seg, {0: raw[:last]})  # its last record cut out, the rest as it was
    expect_break(d, segs[1], "records 0-%d " % (seg.blocks[0]["count"] - 2), "does not match the chain")
    # The same, with the whole segment's chain recomputed: the next segment
    # still remembers how many records it held.
    d, segs = ctx.copy()
    rewrite(segs[1], seg, {0: raw[:last]}, fix_chain=True)
    expect_break(d, segs[1], "records removed or added")


def t_removed_block(ctx):
    d, segs = ctx.copy()
    seg = at.Segment(segs[3])
    b1, b2 = seg.blocks[1], seg.blocks[2] if len(seg.blocks) > 2 else None
    end = b2["off"] if b2 else len(seg.data) - at.BLOCK_HEAD_LEN - at.HASH_LEN
    data = seg.data[:b1["off"]] + seg.data[end:]
    open(segs[3], "wb").write(data)
    if b2:
        expect_break(d, segs[3], "records %d-%d missing" % (b1["first"], b1["first"] + b1["count"] - 1))
    else:
        expect_break(d, segs[3], "records removed")


def t_removed_segment(ctx):
    d, segs = ctx.copy()
    os.unlink(segs[2])
    expect_break(d, segs[3], "segments 3-3 are missing")


def t_reordered_segments(ctx):
    d, segs = ctx.copy()
    a, b = segs[1], segs[2]
    tmp = a + ".tmp"
    os.rename(a, tmp)
    os.rename(b, a)
    os.rename(tmp, b)
    expect_break(d, a, "renamed or reordered")


def t_truncated_segment(ctx):
    # Inside a block of a closed middle segment.
    d, segs = ctx.copy()
    seg = at.Segment(segs[1])
    with open(segs[1], "r+b") as f:
        f.truncate(seg.blocks[-1]["off"] + 30)
    expect_break(d, segs[1], "truncated")
    # At a block boundary: the end block removed.
    d, segs = ctx.copy()
    seg = at.Segment(segs[2])
    with open(segs[2], "r+b") as f:
        f.truncate(len(seg.data) - at.BLOCK_HEAD_LEN - at.HASH_LEN)
    expect_break(d, segs[2], "truncated")
    # The last segment, with no eligd writing it.
    d, segs = ctx.copy()
    seg = at.Segment(segs[4])
    with open(segs[4], "r+b") as f:
        f.truncate(seg.blocks[-1]["off"])
    expect_break(d, segs[4], "not closed", "no eligd is writing")


def t_appended_bytes(ctx):
    d, segs = ctx.copy()
    with open(segs[0], "ab") as f:
        f.write(b"\0" * 100)
    expect_break(d, segs[0], "after the end block")


def t_killed_eligd_then_restarted(ctx):
    """SIGKILL leaves a segment unclosed; the next start chains from it and
    says so, and verify accepts it. A later truncation of it is caught."""
    d, _ = ctx.copy()
    e = ctx.daemon("--audit-dir", d, "--audit-sync-ms", "20", name="killed").start()
    with e.conn() as c:
        c.ok("check_batch", [[QUERY] * 50])
    time.sleep(0.4)  # written and synced
    e.proc.send_signal(signal.SIGKILL)
    e.wait(10)
    rc, out = verify(d)
    assert rc == 1 and "not closed" in out, "verify of a killed eligd's trail: exit %d\n%s" % (rc, out)
    e2 = ctx.daemon("--audit-dir", d, name="restarted").start()
    with e2.conn() as c:
        c.ok("check", QUERY)
    rc, out = verify(d)
    assert rc == 0, "verify of a live trail continued after a kill: exit %d\n%s" % (rc, out)
    e2.stop()
    rc, out = verify(d)
    assert rc == 0 and "not closed (eligd stopped without closing it" in out, out
    segs = at.segment_paths(d)
    assert len(segs) == 7, "%d segments" % len(segs)
    killed = at.Segment(segs[5])
    assert not killed.closed and len(killed.records) == 50, (killed.closed, len(killed.records))
    assert at.Segment(segs[6]).flags == 1, "the restart's header flags %r, want 1 (previous unclosed)"
    with open(segs[5], "r+b") as f:
        f.truncate(len(killed.data) - 10)
    expect_break(d, segs[5], "records removed")


if __name__ == "__main__":
    et.main([t_honest_trail_passes, t_flipped_byte_in_a_block, t_edited_record_recompressed, t_removed_record,
             t_removed_block, t_removed_segment, t_reordered_segments, t_truncated_segment, t_appended_bytes,
             t_killed_eligd_then_restarted], setup=setup, budget=120)
