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


def run_check(server, rows, depth):
    with eligclient.Client(server, timeout=30) as c:
        t = time.perf_counter()
        n = sum(1 for a in c.check_many(rows, depth=depth) if a["eligible"] is not None)
        return n, time.perf_counter() - t


def run_batch(server, rows, chunk):
    with eligclient.Client(server, timeout=30) as c:
        t = time.perf_counter()
        n = 0
        for i in range(0, len(rows), chunk):  # the caller's chunks; the client splits by 10,000
            n += len(c.check_batch(rows[i:i + chunk]))
        return n, time.perf_counter() - t


def run_async(server, rows, depth):
    async def go():
        async with eligclient.AsyncClient(server, timeout=30) as c:
            t = time.perf_counter()
            n = 0
            for i in range(0, len(rows), depth):
                n += len(await asyncio.gather(*(c.check(*q) for q in rows[i:i + depth])))
            return n, time.perf_counter() - t
    return asyncio.run(go())


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
        n, t = run_check(a.server, rows, a.depth)
        print("check_many depth %d: %d rows in %.2f s, %.0f rows/s" % (a.depth, n, t, n / t))
    if a.mode in ("batch", "both"):
        n, t = run_batch(a.server, rows, a.chunk)
        print("check_batch (10,000 a request): %d rows in %.2f s, %.0f rows/s" % (n, t, n / t))
    if a.asyncio:
        n, t = run_async(a.server, rows, a.depth * 8)
        print("asyncio gather of %d: %d rows in %.2f s, %.0f rows/s" % (a.depth * 8, n, t, n / t))


if __name__ == "__main__":
    main()
