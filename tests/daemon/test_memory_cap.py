"""daemon_memory_cap: issue 13, defect 2 (no overall memory bound).

Each connection holding a partial large request used to cost its size in
buffers, and each client that sends but never reads up to --max-output
(4 MiB) more, with nothing bounding the sum: at --max-connections 10000,
gigabytes. --max-buffer-memory now bounds the input and output buffers of
all connections together; past it the connections holding the most are
closed (cause `memory`, logged).

The attack here: 2,000 connections each holding the first 100 KiB of a
900 KiB request, then 200 clients that pipeline batches and never read,
against --max-buffer-memory 64 MiB. eligd's resident memory (VmRSS from
/proc, sampled all along) must stay under its idle size + the cap + slack,
some holders must have been closed for it, and a well-behaved client must
be answered meanwhile and afterwards."""

import os
import re
import resource
import socket
import threading
import time

import eligtest as et

MiB = 1 << 20
CAP = 64 * MiB
SLACK = 40 * MiB          # allocator overhead, thread stacks, the kernel's view of RSS
N_PARTIAL = 2000
PARTIAL = 100 * 1024      # bytes of each partial request sent
N_NONREADERS = 200
BATCHES = 6               # check_batch requests of 1000 items per non-reader
GOOD = ["nik", et.N1, "PKH", "2024-01"]


def setup():
    # In the sanitizer build, AddressSanitizer keeps freed blocks in a
    # quarantine (256 MiB) to catch use after free: resident, but not
    # eligd's buffers. Without it the bound below holds there too.
    opts = os.environ.get("ASAN_OPTIONS", "")
    os.environ["ASAN_OPTIONS"] = (opts + ":" if opts else "") + "quarantine_size_mb=0"
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = N_PARTIAL + N_NONREADERS + 200
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(want, hard), hard))
    return et.Ctx(snap_id="memcap-snap")


class RssSampler:
    def __init__(self, pid):
        self.pid = pid
        self.max_kb = 0
        self.stop_ = threading.Event()
        self.t = threading.Thread(target=self._run, daemon=True)
        self.t.start()

    def _run(self):
        while not self.stop_.is_set():
            try:
                self.max_kb = max(self.max_kb, et.proc_status_kb(self.pid, "VmRSS"))
            except (OSError, AssertionError):
                return
            time.sleep(0.01)

    def stop(self):
        self.stop_.set()
        self.t.join(5)
        return self.max_kb


def partial_request(i):
    """The first PARTIAL bytes of a check whose id is a 900 KiB str32."""
    head = b"\x94\x00" + et.pack(i) + b"\xa5check\x94\xa3nik\xdb" + (900 * 1024).to_bytes(4, "big")
    return head + b"1" * (PARTIAL - len(head))


def connect(port):
    for _ in range(50):
        try:
            return socket.create_connection(("127.0.0.1", port), timeout=5)
        except OSError:
            time.sleep(0.05)  # a full accept queue: try again
    raise AssertionError("cannot connect to eligd")


def push(s, data):
    """Sends what the socket takes without blocking; False once closed."""
    try:
        while data:
            n = s.send(data)
            data = data[n:]
    except BlockingIOError:
        pass
    except OSError:
        return False
    return True


def is_closed(s):
    try:
        while True:
            if s.recv(1 << 16) == b"":
                return True
    except BlockingIOError:
        return False
    except OSError:
        return True


def t_defect2_buffers_bounded_by_max_buffer_memory(ctx):
    with ctx.daemon("--max-buffer-memory", str(CAP), "--threads", "2", name="memcap") as d:
        with d.conn() as warm:  # bring threads, arenas and scratch to their steady size
            for _ in range(3):
                assert len(warm.ok("check_batch", [[GOOD] * 1000])) == 1000
        time.sleep(0.2)
        rss0 = d.rss_kb()
        sampler = RssSampler(d.pid)
        control = d.conn(timeout=10)
        socks = []
        try:
            for i in range(N_PARTIAL):
                s = connect(d.port)
                s.setblocking(False)
                push(s, partial_request(i))
                socks.append(s)
                if i % 500 == 499:
                    assert control.ok("ping", []) == "pong", "control client after %d partials" % (i + 1)
            batch = et.req(1, "check_batch", [[GOOD] * 1000])
            readers = []
            for i in range(N_NONREADERS):
                s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
                s.settimeout(5)
                s.connect(("127.0.0.1", d.port))
                s.setblocking(False)
                push(s, batch * BATCHES)
                readers.append(s)
            socks += readers
            time.sleep(1.0)  # let eligd answer and queue what it will
            # The well-behaved client is answered, correctly, under the attack.
            et.check_answer(control.ok("check", GOOD), et.CASES[0], ctx.snap_id, where="under attack")
            res = control.ok("check_batch", [[GOOD] * 100])
            assert len(res) == 100
            peak = sampler.stop()
            closed = sum(is_closed(s) for s in socks)
        finally:
            sampler.stop()
            for s in socks:
                s.close()
        grew = peak - rss0
        print("  VmRSS %d kB idle, peak %d kB (+%d kB); %d of %d attacking connections closed" % (
            rss0, peak, grew, closed, len(socks)), flush=True)
        assert grew * 1024 < CAP + SLACK, (
            "VmRSS grew by %d MiB under the attack, want under --max-buffer-memory (%d MiB) + %d MiB" % (
                grew // 1024, CAP // MiB, SLACK // MiB))
        assert closed > 0, "no attacking connection was closed, yet they hold more than the cap"
        log = d.log(tail=1 << 22)
        n = len(re.findall(r"closing a connection holding \d+ bytes of buffers: over --max-buffer-memory", log))
        assert n > 0, "no close over --max-buffer-memory was logged"
        # After the attack: answered, and memory given back to the pool.
        et.check_answer(control.ok("check", GOOD), et.CASES[0], ctx.snap_id, where="after the attack")
        et.wait_until(lambda: control.ok("info", [])["connections"] == 1, 10,
                      "every attacking connection gone (info.connections == 1)")
        control.close()
        d.stop()


if __name__ == "__main__":
    et.main([t_defect2_buffers_bounded_by_max_buffer_memory], setup=setup, budget=150)
