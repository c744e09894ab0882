"""pyfake - a scripted msgpack-RPC server on 127.0.0.1 for the Python
client's tests: it answers each request with what a script function
returns, so what the real eligd cannot be made to send on demand
(`unavailable` on a query, unknown error codes, malformed answers) can be
played. Bounded: a daemon thread, sockets with timeouts, stop() joins."""
import socket
import threading

import msgpack


class FakeServer:
    """script(method, params, n) -> (error, result) for the n-th request
    (from 0) of the server's life; or None to close the connection
    without answering."""

    def __init__(self, script):
        self.script = script
        self.n = 0
        self.accepted = 0   # connections accepted
        self.requests = []  # (method, params) in arrival order
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.sock.settimeout(0.2)
        self.addr = "127.0.0.1:%d" % self.sock.getsockname()[1]
        self.stopping = False
        self.lock = threading.Lock()
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self):
        while not self.stopping:
            try:
                c, _ = self.sock.accept()
            except OSError:
                continue
            with self.lock:
                self.accepted += 1
            threading.Thread(target=self._serve, args=(c,), daemon=True).start()

    def _serve(self, c):
        c.settimeout(0.2)
        u = msgpack.Unpacker(raw=False)
        try:
            while not self.stopping:
                try:
                    data = c.recv(65536)
                except socket.timeout:
                    continue
                if not data:
                    return
                u.feed(data)
                for m in u:
                    if m[0] != 0:
                        continue
                    with self.lock:
                        n = self.n
                        self.n += 1
                        self.requests.append((m[2], m[3]))
                    reply = self.script(m[2], m[3], n)
                    if reply is None:
                        return
                    c.sendall(msgpack.packb([1, m[1], reply[0], reply[1]], use_bin_type=True))
        except OSError:
            pass
        finally:
            c.close()

    def stop(self):
        self.stopping = True
        self.thread.join(5)
        self.sock.close()
