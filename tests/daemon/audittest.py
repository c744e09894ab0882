"""audittest - an independent reader of eligd's audit segments, for the
audit tests (tests/daemon/test_audit*.py).

Written from docs/AUDIT.md (the byte layout), not from the C code, so that
the tests check the daemon's files and elig-audit against a second reading
of the format. It decodes records, recomputes the SHA-256 chain with
hashlib, and can rewrite a segment's blocks (the tamper tests use that to
make edits an attacker with write access could make).
"""

import glob
import hashlib
import os
import struct

import zstandard

MAGIC = b"ELIGAUD1"
HEADER_LEN, BLOCK_HEAD_LEN, HASH_LEN, REC_FIXED = 128, 48, 32, 56
METHODS = {1: "check", 2: "check_batch", 3: "household", 4: "auth", 5: "reload", 6: "offline_check"}
KINDS = {0: None, 1: "nik", 2: "kk", 3: "kks"}
REASONS = ["eligible", "not_found", "member_deceased", "household_suspended",
           "household_graduated", "household_terminated", "not_enrolled",
           "outside_period", "enrollment_suspended"]
ERRORS = {1: "bad_request", 2: "unknown_method", 3: "too_large", 4: "unauthorized",
          5: "unavailable", 6: "rate_limited"}


def segment_paths(d):
    return sorted(glob.glob(os.path.join(d, "audit-*.seg")))


def period_text(p):
    if p == 0:
        return None
    return "%04d-%02d" % (p // 12, p % 12 + 1)


SAME = 0xFF  # a string length meaning: as the record before in this block


def decode_record(raw, off, prev=None):
    """One record at raw[off:] (prev: the record before it in its block, or
    None): (dict, size)."""
    (ln, method, kind, outcome, code, zero, pl, t, conn, ident, kk, period, amount,
     item, cl, el, sl, dl) = struct.unpack_from("<HBBBBBBQQQQIII4B", raw, off)
    assert zero == 0, "record at %d: byte 6 is %d" % (off, zero)
    p = off + REC_FIXED
    strs = []
    for i, n in enumerate((pl, cl, el, sl, dl)):
        if n == SAME and i < 4:
            assert prev is not None, "record at %d: a string 'as before' in a block's first record" % off
            strs.append(prev[("program", "channel", "peer", "snapshot")[i]] or "")
            continue
        strs.append(raw[p:p + n].decode("utf-8", "replace"))
        p += n
    assert ln == p - off, "record at %d: length %d does not add up to %d" % (off, ln, p - off)
    if outcome == 0:
        result = REASONS[code]
    elif outcome == 1:
        result = ERRORS[code]
    else:
        result = {2: "found", 3: "nil", 4: "ok"}[outcome]
    rec = {
        "time_us": t, "conn": conn, "method": METHODS[method], "kind": KINDS[kind],
        "id": "%016d" % ident if kind else None, "kk": "%016d" % kk if kk else None,
        "period": period_text(period), "amount": amount, "item": item,
        "outcome": outcome, "result": result, "program": strs[0] or None,
        "channel": strs[1], "peer": strs[2], "snapshot": strs[3], "detail": strs[4] or None,
    }
    return rec, ln


class Segment:
    """A segment file parsed whole: header fields, blocks and records."""

    def __init__(self, path):
        self.path = path
        with open(path, "rb") as f:
            self.data = f.read()
        d = self.data
        assert len(d) >= HEADER_LEN and d[:8] == MAGIC, "%s: not a segment" % path
        (self.version, self.flags, self.seq, self.created_us, self.prev_records,
         self.prev_bytes) = struct.unpack_from("<IIQQQQ", d, 8)
        self.prev_chain = d[48:80]
        self.chain = hashlib.sha256(d[:HEADER_LEN]).digest()
        self.blocks = []   # dicts: off, head, raw, stored, codec, first, count, chain
        self.records = []
        self.closed = False
        off = HEADER_LEN
        while off < len(d):
            head = d[off:off + BLOCK_HEAD_LEN]
            if head[:4] == b"END1":
                n_rec, nbytes, closed_us = struct.unpack_from("<QQQ", head, 8)
                assert n_rec == len(self.records) and nbytes == off, "%s: end block counts" % path
                c = hashlib.sha256(self.chain + head).digest()
                assert c == d[off + BLOCK_HEAD_LEN:off + BLOCK_HEAD_LEN + HASH_LEN], "%s: end chain" % path
                self.chain = c
                self.closed = True
                off += BLOCK_HEAD_LEN + HASH_LEN
                assert off == len(d), "%s: bytes after the end block" % path
                break
            assert head[:4] == b"BLK1", "%s: no block at %d" % (path, off)
            raw_len, stored_len, count, first, tmin, tmax = struct.unpack_from("<IIIQQQ", head, 4)
            codec = head[40]
            stored = d[off + BLOCK_HEAD_LEN:off + BLOCK_HEAD_LEN + stored_len]
            raw = zstandard.ZstdDecompressor().decompress(stored) if codec == 1 else stored
            assert len(raw) == raw_len, "%s: block at %d raw length" % (path, off)
            assert first == len(self.records), "%s: block at %d first record %d" % (path, off, first)
            c = hashlib.sha256(self.chain + head + raw).digest()
            stored_chain = d[off + BLOCK_HEAD_LEN + stored_len:off + BLOCK_HEAD_LEN + stored_len + HASH_LEN]
            assert c == stored_chain, "%s: block at %d chain" % (path, off)
            self.chain = c
            p = 0
            recs = []
            while p < raw_len:
                r, n = decode_record(raw, p, recs[-1] if recs else None)
                assert tmin <= r["time_us"] <= tmax, "%s: record time outside its block's range" % path
                recs.append(r)
                p += n
            assert len(recs) == count, "%s: block at %d holds %d records, head says %d" % (
                path, off, len(recs), count)
            self.blocks.append({"off": off, "head": head, "raw": raw, "codec": codec,
                                "first": first, "count": count})
            self.records.extend(recs)
            off += BLOCK_HEAD_LEN + stored_len + HASH_LEN


def read_dir(d):
    """Every segment of d, checked and linked (the test's own verify);
    returns (segments, records)."""
    segs = [Segment(p) for p in segment_paths(d)]
    for i, s in enumerate(segs):
        if i == 0:
            continue
        p = segs[i - 1]
        assert s.seq == p.seq + 1, "%s: seq %d after %d" % (s.path, s.seq, p.seq)
        assert s.prev_chain == p.chain and s.prev_records == len(p.records) and \
            s.prev_bytes == len(p.data), "%s does not chain from %s" % (s.path, p.path)
    return segs, [r for s in segs for r in s.records]


def encode_block(first, raw, count, tmin, tmax, chain_before, codec=1):
    """A block's bytes for raw records (as eligd would seal it): head,
    payload, chain value; returns (bytes, chain_after)."""
    stored = zstandard.ZstdCompressor(level=1, write_content_size=True).compress(raw) if codec == 1 else raw
    head = b"BLK1" + struct.pack("<IIIQQQ", len(raw), len(stored), count, first, tmin, tmax) + bytes([codec]) + \
        bytes(7)
    c = hashlib.sha256(chain_before + head + raw).digest()
    return head + stored + c, c


def record_offsets(raw):
    """[(record dict, offset)] of a block's raw payload, as stored."""
    out, p, prev = [], 0, None
    while p < len(raw):
        r, n = decode_record(raw, p, prev)
        out.append((r, p))
        prev = r
        p += n
    return out
