"""docs/PROTOCOL.md against reality.

Every ```rpc block of the page is read. In it, `-> NOTATION` and the hex dump
below it is a request; `<- NOTATION` (exact) or `<~ NOTATION` (the same but
for counters and numbers, below) and its hex dump the response to the
request above; `<x ...` says the server closes the connection there. Each
hex dump must decode with Python's msgpack to exactly the notation above
it, in its smallest encoding.

The comment above a block says where its requests go, one after the other
on one new connection:

  <!-- wire: live -->       eligd serving livetest's rows as `dtks-2026-11`,
                            without --auth-file (so open), with --audit-dir;
                            over TCP
  <!-- wire: live auth -->  a second eligd on the same rows, with the
                            channels file the page shows in its
                            `<!-- channels: live -->` block; over TCP
  <!-- wire: live unix -->  that second eligd's Unix socket; with
                            `next-snapshot` the same rows built as
                            `dtks-2026-12` are put where it serves from first,
                            with `empty-snapshot` an empty file (and the
                            snapshot is put back afterwards)
  <!-- wire: source -->     a condition eligd cannot be put in on demand
                            here (a full audit trail): its bytes are checked,
                            and its error message must be one eligd's source
                            (daemon/*.c) can write

A live response must equal eligd's, with eligd's snapshot path written as
the page's /srv/elig/live.mdb. For `<~`, the counters and times of `info`
(uptime_s, connections, requests, created, audit.written, audit.backlog)
and `journal`'s durable
need only have the same type, and a number in an error message stands for
any number (but `item N` must be N). A request with no response line must
get none (a notification): a ping sent behind it must be answered first.

usage: test_protocol_doc.py SOURCE_DIR"""
import glob
import hashlib
import json
import os
import re
import shutil
import socket
import sys
import time
import unittest

import msgpack

import livetest as lt

DOC = None
SOURCE_DIR = None
SNAPSHOT_ID = "dtks-2026-11"
NEXT_ID = "dtks-2026-12"
DOC_SNAPSHOT_PATH = "/srv/elig/live.mdb"
VARYING = {"uptime_s", "connections", "requests", "created", "written", "backlog", "durable"}
TAG = re.compile(r"<!-- wire: (live|live auth|live unix(?: next-snapshot| empty-snapshot)?|"
                 r"source) -->")


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
            m = TAG.fullmatch(lines[i - 1] if i else "")
            assert m, "line %d: an rpc block without a known <!-- wire: ... --> above it" % (i + 1)
            start = i + 1
            items, cur = [], None
            i += 1
            while lines[i] != "```":
                line = lines[i]
                if line[:3] in ("-> ", "<- ", "<~ ", "<x "):
                    cur = [line[:2], line[3:], ""]
                    items.append(cur)
                else:
                    assert cur and cur[0] != "<x" and re.fullmatch(
                        r"[0-9a-f]{2}( [0-9a-f]{2})*", line), "line %d: not hex: %r" % (i + 1, line)
                    cur[2] += line + " "
                i += 1
            found.append((m.group(1), start, [(a, n, bytes.fromhex(h)) for a, n, h in items]))
        i += 1
    return found


def channels_block(text):
    """The channels file the page shows (the block after <!-- channels: live -->)."""
    m = re.search(r"<!-- channels: live -->\n```ini\n(.*?)```\n", text, re.S)
    assert m, "no ```ini block under <!-- channels: live -->"
    return m.group(1)


def same_shape(got, want, key=None):
    """Same types and keys everywhere; equal values too, except the keys
    that are counters or times (VARYING)."""
    if want is None or got is None:
        return want is None and got is None
    if type(want) is not type(got):
        return False
    if isinstance(want, dict):
        return set(got) == set(want) and all(same_shape(got[k], want[k], k) for k in want)
    if isinstance(want, list):
        return len(got) == len(want) and all(same_shape(g, w) for g, w in zip(got, want))
    return key in VARYING or got == want


def message_pattern(text):
    """A doc error message as a regex: each number stands for any number,
    except the N of `item N`."""
    return "".join(r"\d+" if p.isdigit() else re.escape(p)
                   for p in re.split(r"(item \d+|\d+)", text))


def source_messages():
    """Every C string literal of daemon/*.c (adjacent literals joined) as a
    regex for what its printf conversions can write."""
    pats = []
    for path in sorted(glob.glob(os.path.join(SOURCE_DIR, "daemon", "*.c"))):
        with open(path, encoding="utf-8") as f:
            src = f.read()
        for m in re.finditer(r'"(?:[^"\\\n]|\\.)*"(?:\s*"(?:[^"\\\n]|\\.)*")*', src):
            lit = "".join(re.findall(r'"((?:[^"\\\n]|\\.)*)"', m.group(0)))
            if len(re.sub(r"%[-.*0-9]*[a-z]+", "", lit)) < 20:
                continue  # too little fixed text to say anything
            out, pos = [], 0
            for c in re.finditer(r"%[-.*0-9]*(?:ll|l|z)?([sdu])", lit):
                out.append(re.escape(lit[pos:c.start()]))
                out.append(".+" if c.group(1) == "s" else r"\d+")
                pos = c.end()
            out.append(re.escape(lit[pos:]))
            pats.append(re.compile("".join(out)))
    return pats


class Conn:
    def __init__(self, sock):
        self.sock = sock
        self.unpacker = msgpack.Unpacker(raw=False)

    def sendall(self, data):
        self.sock.sendall(data)

    def recv(self, n):
        return self.sock.recv(n)

    def close(self):
        self.sock.close()


class ProtocolDocTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        with open(DOC, encoding="utf-8") as f:
            cls.text = f.read()
        cls.blocks = blocks(cls.text)
        cls.tmp = lt.tmpdir()
        d = cls.tmp.name
        cls.d = lt.Daemon(lt.build_snapshot(d, SNAPSHOT_ID), d,
                          extra=("--audit-dir", os.path.join(d, "audit")))
        a = os.path.join(d, "auth")
        os.mkdir(a)
        cls.auth_snap = lt.build_snapshot(a, SNAPSHOT_ID)
        cls.auth_file = os.path.join(a, "channels.conf")
        with open(cls.auth_file, "w") as f:
            f.write(channels_block(cls.text))
        cls.sock = os.path.join(a, "eligd.sock")
        cls.a = lt.Daemon(cls.auth_snap, a, name="auth",
                          extra=("--auth-file", cls.auth_file, "--unix", cls.sock))

    @classmethod
    def tearDownClass(cls):
        cls.d.stop()
        cls.a.stop()
        cls.tmp.cleanup()

    def test_every_method_and_error_has_an_example(self):
        reqs = [parse_notation(n) for _, _, items in self.blocks for a, n, _ in items if a == "->"]
        methods = {r[2] if isinstance(r[2], str) else r[2].decode() for r in reqs if r[0] == 0}
        self.assertEqual(methods, {"ping", "check", "check_batch", "household", "info", "auth",
                                   "reload", "journal", "nope"})
        codes = {parse_notation(n)[2][0] for _, _, items in self.blocks for a, n, _ in items
                 if a in ("<-", "<~") and parse_notation(n)[2] is not None}
        self.assertEqual(codes, {1, 2, 4, 5, 6})  # 3 needs 10,001 items: described in words
        tags = [t for t, _, _ in self.blocks]
        self.assertGreaterEqual(sum(t.startswith("live") for t in tags), 20)
        for t in ("live auth", "live unix", "live unix next-snapshot", "live unix empty-snapshot"):
            self.assertIn(t, tags)
        self.assertEqual(tags.count("source"), 1, "only the full audit trail cannot be made live")

    def test_hex_decodes_to_the_notation(self):
        for tag, line, items in self.blocks:
            for arrow, notation, data in items:
                if arrow == "<x":
                    continue
                want = parse_notation(notation)
                got = msgpack.unpackb(data, raw=False)
                if isinstance(want[2], bytes):  # bin stays bin only with raw=True
                    got = msgpack.unpackb(data, raw=True)
                    got = [x.decode() if isinstance(x, bytes) and x != want[2] else x for x in got]
                self.assertEqual(got, want, "block at line %d: %s" % (line, notation[:80]))
                # the bytes are the canonical (smallest) encoding of that message
                self.assertEqual(msgpack.packb(want, use_bin_type=True), data, "line %d" % line)

    def test_channels_file_and_tokens(self):
        # what `auth` is shown sending must be what the channels file admits:
        # SHA-256 of each token, lower-case hex (SPEC 6), worked out here
        digests = dict(re.findall(r"\[channel ([^\]]+)\]\ntoken_sha256 += ([0-9a-f]{64})",
                                  channels_block(self.text)))
        auths = [parse_notation(n)[3] for _, _, items in self.blocks for a, n, _ in items
                 if a == "->" and parse_notation(n)[2] == "auth"]
        good = [(ch, tok) for ch, tok in auths if ch in digests and
                hashlib.sha256(tok.encode()).hexdigest() == digests[ch]]
        self.assertGreaterEqual(len({ch for ch, _ in good}), 4, good)

    def test_live_examples(self):
        sent = 0
        for tag, line, items in self.blocks:
            if not tag.startswith("live"):
                continue
            with self.setup_for(tag):
                sent += self.run_block(tag, line, items)
        self.assertGreaterEqual(sent, 35)

    def test_source_examples(self):
        pats = source_messages()
        for tag, line, items in self.blocks:
            for arrow, notation, _ in items:
                if tag != "source" or arrow not in ("<-", "<~"):
                    continue
                msg = parse_notation(notation)
                if msg[2] is None:
                    continue
                self.assertTrue(any(p.fullmatch(msg[2][1]) for p in pats),
                                "line %d: eligd's source cannot write %r" % (line, msg[2][1]))

    # ---- running blocks ----------------------------------------------------

    def setup_for(self, tag):
        test = self

        class Setup:
            def __enter__(self):
                if tag.endswith("-snapshot"):
                    shutil.copyfile(test.auth_snap, test.auth_snap + ".orig")
                    if tag.endswith("next-snapshot"):
                        with lt.tmpdir() as t:
                            shutil.copyfile(lt.build_snapshot(t, NEXT_ID), test.auth_snap + ".tmp")
                    else:
                        open(test.auth_snap + ".tmp", "wb").close()
                    os.replace(test.auth_snap + ".tmp", test.auth_snap)

            def __exit__(self, *exc):
                if tag.endswith("-snapshot"):
                    os.replace(test.auth_snap + ".orig", test.auth_snap)
                    c = test.connect("live unix")
                    try:
                        got = test.exchange(c, msgpack.packb([0, 1, "reload", []]), True,
                                            "putting the snapshot back")
                    finally:
                        c.close()
                    test.assertIsNone(got[2], got)
                    test.assertEqual(got[3]["snapshot"], SNAPSHOT_ID)
                return False
        return Setup()

    def connect(self, tag):
        """A new connection to where the tag says, with its own unpacker."""
        if tag.startswith("live unix"):
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.settimeout(10)
            s.connect(self.sock)
        else:
            port = self.a.port if tag == "live auth" else self.d.port
            s = socket.create_connection(("127.0.0.1", port), timeout=10)
        return Conn(s)

    def run_block(self, tag, line, items):
        """Sends the block's requests in order on one connection, each
        compared with its response. Returns the number sent."""
        s = self.connect(tag)
        sent = 0
        try:
            for k, (arrow, notation, data) in enumerate(items):
                what = "block at line %d, %s" % (line, notation[:60])
                if arrow == "<x":
                    self.assertEqual(self.read(s, what, eof=True), None, what)
                    continue
                if arrow != "->":
                    continue
                nxt = items[k + 1] if k + 1 < len(items) else None
                answered = nxt is not None and nxt[0] in ("<-", "<~")
                got = self.exchange(s, data, answered, what)
                sent += 1
                if answered:
                    self.compare(got, nxt[0], parse_notation(nxt[1]), what)
        finally:
            s.close()
        return sent

    def compare(self, got, arrow, want, what):
        got = json.loads(json.dumps(got).replace(self.auth_snap, DOC_SNAPSHOT_PATH))
        if arrow == "<-":
            self.assertEqual(got, want, what)
            return
        wmsg = want[2][1] if want[2] is not None else None
        gmsg = got[2][1] if got[2] is not None else None
        if want[2] is not None and got[2] is not None:
            want = [want[0], want[1], [want[2][0], ""], want[3]]
            got = [got[0], got[1], [got[2][0], ""], got[3]]
        self.assertTrue(same_shape(got, want), "%s: eligd answered %r, the page shows %r" % (
            what, got, want))
        if wmsg is not None:
            self.assertRegex(gmsg, "^%s$" % message_pattern(wmsg), what)

    def exchange(self, s, data, expect_answer, what):
        """Sends one message; returns its answer, or None after checking that
        none came (a ping sent behind it must be the first thing answered)."""
        s.sendall(data)
        if not expect_answer:
            s.sendall(msgpack.packb([0, 99, "ping", []]))
            self.assertEqual(self.read(s, what), [1, 99, None, "pong"], what)
            return None
        return self.read(s, what)

    def read(self, s, what, eof=False):
        """The next message, or (eof=True) None once the server has closed."""
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            for m in s.unpacker:
                self.assertFalse(eof, "%s: %r where the page says the connection closes" % (what, m))
                return m
            chunk = s.recv(65536)
            if not chunk:
                self.assertTrue(eof, "%s: eligd closed the connection" % what)
                return None
            s.unpacker.feed(chunk)
        self.fail("%s: no answer in 10 s" % what)


if __name__ == "__main__":
    SOURCE_DIR = sys.argv.pop(1)
    DOC = os.path.join(SOURCE_DIR, "docs", "PROTOCOL.md")
    unittest.main(verbosity=2)
