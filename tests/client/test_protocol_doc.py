"""docs/PROTOCOL.md against reality.

Every ```rpc block of the page is read: a `-> NOTATION` line and the hex
dump below it is a request, `<- NOTATION` (exact) or `<~ NOTATION` (same
shape) and its hex dump a response. Each hex dump must decode with Python's
msgpack to exactly the notation above it. Blocks marked `<!-- wire: live -->`
are then sent to a real eligd serving livetest's rows as snapshot
`dtks-2026-11`: a `<-` response must be equal to what eligd answers (after
decoding), a `<~` one must have the same shape (same keys, same types, the
same error code, and any `item N` of the error message). A request with no
response line must get none (a notification). Blocks marked `spec` are
what SPEC v2 adds: checked for their bytes only.

usage: test_protocol_doc.py SOURCE_DIR"""
import json
import os
import re
import socket
import sys
import time
import unittest

import msgpack

import livetest as lt

DOC = None
SNAPSHOT_ID = "dtks-2026-11"


def parse_notation(text):
    """The page's notation: JSON with nil, and bin("...") for msgpack bin."""
    out, i = [], 0
    while i < len(text):
        c = text[i]
        if c == '"':  # a JSON string, copied as is
            j = i + 1
            while text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            out.append(text[i:j + 1])
            i = j + 1
        elif text.startswith("nil", i):
            out.append("null")
            i += 3
        elif text.startswith('bin("', i):
            j = text.index('")', i)
            out.append(json.dumps({"$bin": text[i + 5:j]}))
            i = j + 2
        else:
            out.append(c)
            i += 1

    def unbin(o):
        if isinstance(o, dict):
            if set(o) == {"$bin"}:
                return o["$bin"].encode()
            return {k: unbin(v) for k, v in o.items()}
        if isinstance(o, list):
            return [unbin(v) for v in o]
        return o
    return unbin(json.loads("".join(out)))


def blocks(text):
    """(tag, line number, [(arrow, notation, bytes)]) for each rpc block."""
    found = []
    lines = text.split("\n")
    i = 0
    while i < len(lines):
        if lines[i] == "```rpc":
            m = re.fullmatch(r"<!-- wire: (live|spec) -->", lines[i - 1] if i else "")
            assert m, "line %d: an rpc block without <!-- wire: live|spec --> above it" % (i + 1)
            start = i + 1
            items, cur = [], None
            i += 1
            while lines[i] != "```":
                line = lines[i]
                if line[:3] in ("-> ", "<- ", "<~ "):
                    cur = [line[:2], line[3:], ""]
                    items.append(cur)
                else:
                    assert cur and re.fullmatch(r"[0-9a-f]{2}( [0-9a-f]{2})*", line), (
                        "line %d: not hex: %r" % (i + 1, line))
                    cur[2] += line + " "
                i += 1
            found.append((m.group(1), start, [(a, n, bytes.fromhex(h)) for a, n, h in items]))
        i += 1
    return found


def same_shape(got, want):
    if want is None or got is None:
        return want is None and got is None
    if type(want) is not type(got):
        return False
    if isinstance(want, dict):
        return set(got) == set(want) and all(same_shape(got[k], want[k]) for k in want)
    if isinstance(want, list):
        return len(got) == len(want) and all(same_shape(g, w) for g, w in zip(got, want))
    return True


class ProtocolDocTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        with open(DOC, encoding="utf-8") as f:
            cls.blocks = blocks(f.read())
        cls.tmp = lt.tmpdir()
        cls.d = lt.Daemon(lt.build_snapshot(cls.tmp.name, SNAPSHOT_ID), cls.tmp.name)

    @classmethod
    def tearDownClass(cls):
        cls.d.stop()
        cls.tmp.cleanup()

    def test_every_method_and_error_has_an_example(self):
        reqs = [parse_notation(n) for _, _, items in self.blocks for a, n, _ in items if a == "->"]
        methods = {r[2] if isinstance(r[2], str) else r[2].decode() for r in reqs if r[0] == 0}
        self.assertEqual(methods, {"ping", "check", "check_batch", "household", "info", "auth",
                                   "reload", "journal", "nope"})
        codes = {parse_notation(n)[2][0] for _, _, items in self.blocks for a, n, _ in items
                 if a != "->" and parse_notation(n)[2] is not None}
        self.assertEqual(codes, {1, 2, 4, 5, 6})  # 3 needs 10,001 items: described in words
        self.assertGreaterEqual(sum(1 for t, _, _ in self.blocks if t == "live"), 12)

    def test_hex_decodes_to_the_notation(self):
        for tag, line, items in self.blocks:
            for arrow, notation, data in items:
                want = parse_notation(notation)
                got = msgpack.unpackb(data, raw=False)
                if isinstance(want[2], bytes):  # bin stays bin only with raw=True
                    got = msgpack.unpackb(data, raw=True)
                    got = [x.decode() if isinstance(x, bytes) and x != want[2] else x for x in got]
                self.assertEqual(got, want, "block at line %d: %s" % (line, notation[:80]))
                # the bytes are the canonical (smallest) encoding of that message
                self.assertEqual(msgpack.packb(want, use_bin_type=True), data, "line %d" % line)

    def test_live_examples_against_eligd(self):
        sent = 0
        for tag, line, items in self.blocks:
            if tag != "live":
                continue
            req = [x for x in items if x[0] == "->"]
            self.assertEqual(len(req), 1, "block at line %d" % line)
            resp = [x for x in items if x[0] != "->"]
            got = self.exchange(req[0][2], expect_answer=bool(resp), what="line %d" % line)
            sent += 1
            if not resp:
                continue
            arrow, notation, _ = resp[0]
            want = parse_notation(notation)
            if arrow == "<-":
                self.assertEqual(got, want, "block at line %d" % line)
                continue
            self.assertTrue(same_shape(got, want), "block at line %d: eligd answered %r, the "
                            "page shows %r" % (line, got, want))
            if want[2] is not None:
                self.assertEqual(got[2][0], want[2][0], "error code, block at line %d" % line)
                for item in re.findall(r"item \d+", want[2][1]):
                    self.assertIn(item, got[2][1], "block at line %d" % line)
            if isinstance(want[3], dict) and "snapshot" in want[3]:
                self.assertEqual(got[3]["snapshot"], SNAPSHOT_ID)
        self.assertGreaterEqual(sent, 12)

    def test_spec_only_methods(self):
        # auth and reload are in the page from SPEC v2. While this eligd
        # does not serve them they must be unknown_method (and the page's
        # `spec` mark is then right); once served, mark their blocks live.
        for method in ("auth", "reload"):
            got = self.exchange(msgpack.packb([0, 77, method, []]), True, method)
            if got[2] is not None and got[2][0] == 2:
                continue
            print("note: eligd now serves %r: mark its PROTOCOL.md blocks live" % method)

    def exchange(self, data, expect_answer, what):
        """Sends one message on a new connection; returns the answer, or
        None after checking that none came (a ping sent behind it must be
        the first thing answered)."""
        with socket.create_connection(("127.0.0.1", self.d.port), timeout=10) as s:
            s.sendall(data)
            if not expect_answer:
                s.sendall(msgpack.packb([0, 99, "ping", []]))
            u = msgpack.Unpacker(raw=False)
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                for m in u:
                    if not expect_answer:
                        self.assertEqual(m, [1, 99, None, "pong"], what)
                        return None
                    return m
                chunk = s.recv(65536)
                self.assertTrue(chunk, "%s: eligd closed the connection" % what)
                u.feed(chunk)
            self.fail("%s: no answer in 10 s" % what)


if __name__ == "__main__":
    DOC = os.path.join(sys.argv.pop(1), "docs", "PROTOCOL.md")
    unittest.main(verbosity=2)
