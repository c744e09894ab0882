"""Interoperability: a msgpack-RPC client no one here wrote talks to eligd.

Python's msgpack (Debian python3-msgpack), using only its Packer and
Unpacker, over a plain socket: ping, check, pipelined requests, error
answers (unknown method, bad params), a method name sent as bin, str
params sent as bin, check_batch, a notification (never answered). The
expected answers come from SPEC 2 for livetest's rows."""
import socket
import unittest

import msgpack

import livetest as lt

TIMEOUT = 10


class Client:
    """Just enough msgpack-RPC: pack requests, unpack responses."""

    def __init__(self, addr, use_bin_type=True):
        host, port = addr.rsplit(":", 1)
        self.sock = socket.create_connection((host, int(port)), timeout=TIMEOUT)
        self.packer = msgpack.Packer(use_bin_type=use_bin_type)
        self.unpacker = msgpack.Unpacker(raw=False)

    def send(self, *objs):
        self.sock.sendall(b"".join(self.packer.pack(o) for o in objs))

    def recv(self):
        for msg in self.unpacker:
            return msg
        while True:
            data = self.sock.recv(65536)
            if not data:
                raise EOFError("eligd closed the connection")
            self.unpacker.feed(data)
            for msg in self.unpacker:
                return msg

    def call(self, msgid, method, params):
        self.send([0, msgid, method, params])
        return self.recv()

    def close(self):
        self.sock.close()


def answer(reason, amount, kk):
    return {"eligible": reason == "eligible", "reason": reason, "kk": kk,
            "region": lt.REGION.get(kk), "amount": amount, "snapshot": lt.SNAPSHOT_ID}


class InteropTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = lt.tmpdir()
        cls.d = lt.Daemon(lt.build_snapshot(cls.tmp.name), cls.tmp.name)

    @classmethod
    def tearDownClass(cls):
        cls.d.stop()
        cls.tmp.cleanup()

    def setUp(self):
        self.c = Client(self.d.addr)

    def tearDown(self):
        self.c.close()

    def test_ping(self):
        self.assertEqual(self.c.call(1, "ping", []), [1, 1, None, "pong"])

    def test_check(self):
        for i, (q, expect) in enumerate(lt.CASES):
            resp = self.c.call(100 + i, "check", list(q))
            self.assertEqual(resp, [1, 100 + i, None, answer(*expect)], q)

    def test_pipelined(self):
        reqs = []
        for i in range(600):
            q, _ = lt.CASES[i % len(lt.CASES)]
            reqs.append([0, 5000 + i, "ping", []] if i % 10 == 9 else [0, 5000 + i, "check", list(q)])
        self.c.send(*reqs)  # one write, 600 requests
        for i in range(600):
            resp = self.c.recv()
            self.assertEqual(resp[:3], [1, 5000 + i, None])
            if i % 10 == 9:
                self.assertEqual(resp[3], "pong")
            else:
                self.assertEqual(resp[3], answer(*lt.CASES[i % len(lt.CASES)][1]))

    def test_error_answers_keep_the_connection(self):
        resp = self.c.call(7, "nope", [])
        self.assertEqual(resp[:2], [1, 7])
        self.assertEqual(resp[2][0], 2)  # unknown_method
        self.assertIsInstance(resp[2][1], str)
        self.assertIsNone(resp[3])
        resp = self.c.call(8, "Ping", [])  # names are case-sensitive
        self.assertEqual(resp[2][0], 2)
        resp = self.c.call(9, "check", ["nik", "123", "PKH", "2026-11"])
        self.assertEqual(resp[2][0], 1)  # bad_request
        resp = self.c.call(10, "check_batch", [[["kk", lt.KK_A, "PKH", "2026-11"],
                                                ["kk", lt.KK_A, "PKH", "2026-13"]]])
        self.assertEqual(resp[2][0], 1)
        self.assertIn("item 1", resp[2][1])
        self.assertEqual(self.c.call(11, "ping", []), [1, 11, None, "pong"])

    def test_method_as_bin(self):
        self.assertEqual(self.c.call(12, b"ping", []), [1, 12, None, "pong"])
        q, expect = lt.CASES[0]
        resp = self.c.call(13, b"check", [s.encode() for s in q])
        self.assertEqual(resp, [1, 13, None, answer(*expect)])
        # The answer's strings are str, not bin: Unpacker(raw=False) gives str.
        self.assertIsInstance(resp[3]["reason"], str)

    def test_old_style_packer(self):
        # use_bin_type=False: every string goes out as raw (str) the old way.
        c = Client(self.d.addr, use_bin_type=False)
        try:
            self.assertEqual(c.call(14, "ping", []), [1, 14, None, "pong"])
        finally:
            c.close()

    def test_check_batch(self):
        qs = [list(q) for q, _ in lt.CASES]
        resp = self.c.call(15, "check_batch", [qs])
        self.assertEqual(resp, [1, 15, None, [answer(*e) for _, e in lt.CASES]])

    def test_notification_is_not_answered(self):
        self.c.send([2, "ping", []], [0, 16, "ping", []])
        self.assertEqual(self.c.recv(), [1, 16, None, "pong"])


if __name__ == "__main__":
    unittest.main(verbosity=2)
