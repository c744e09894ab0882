"""Times eligclient on a CSV of queries (kind,id,program,period, no header):
a pipelined run of one check per query (Client.check_many) and a
check_batch run (Client.check_batch, 10,000 per request), against one
eligd. Prints rows per second for each mode; the answers are counted, not
kept.

    python3 bench_batch.py HOST:PORT QUERIES.csv [--mode check|batch|both]
        [--depth N] [--chunk N] [--asyncio]
"""
import argparse
import asyncio
import csv
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import eligclient  # noqa: E402


def load(path):
    with open(path, newline="") as f:
        return [tuple(r) for r in csv.reader(f)]


def timed(fn):
    """(rows, wall seconds, CPU seconds of this process) of fn()."""
    t, cpu = time.perf_counter(), time.process_time()
    n = fn()
    return n, time.perf_counter() - t, time.process_time() - cpu


def run_check(server, rows, depth):
    with eligclient.Client(server, timeout=30) as c:
        return timed(lambda: sum(1 for a in c.check_many(rows, depth=depth)
                                 if a["eligible"] is not None))


def run_batch(server, rows, chunk):
    with eligclient.Client(server, timeout=30) as c:
        # the caller's chunks of `chunk` rows; the client splits them by 10,000
        return timed(lambda: sum(len(c.check_batch(rows[i:i + chunk]))
                                 for i in range(0, len(rows), chunk)))


def run_async(server, rows, depth):
    async def go():
        async with eligclient.AsyncClient(server, timeout=30) as c:
            n = 0
            for i in range(0, len(rows), depth):
                n += len(await asyncio.gather(*(c.check(*q) for q in rows[i:i + depth])))
            return n
    return timed(lambda: asyncio.run(go()))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("server")
    ap.add_argument("queries")
    ap.add_argument("--mode", default="both", choices=("check", "batch", "both"))
    ap.add_argument("--depth", type=int, default=1024)
    ap.add_argument("--chunk", type=int, default=100000)
    ap.add_argument("--asyncio", action="store_true")
    a = ap.parse_args()
    rows = load(a.queries)
    if a.mode in ("check", "both"):
        n, t, cpu = run_check(a.server, rows, a.depth)
        print("check_many depth %d: %d rows in %.2f s, %.0f rows/s, client CPU %.2f s"
              % (a.depth, n, t, n / t, cpu))
    if a.mode in ("batch", "both"):
        n, t, cpu = run_batch(a.server, rows, a.chunk)
        print("check_batch (10,000 a request): %d rows in %.2f s, %.0f rows/s, client CPU %.2f s"
              % (n, t, n / t, cpu))
    if a.asyncio:
        n, t, cpu = run_async(a.server, rows, a.depth * 8)
        print("asyncio gather of %d: %d rows in %.2f s, %.0f rows/s, client CPU %.2f s"
              % (a.depth * 8, n, t, n / t, cpu))


if __name__ == "__main__":
    main()
