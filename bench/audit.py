#!/usr/bin/python3
"""bench/audit.py - what the audit trail costs (docs/BENCHMARKS.md, "The
audit trail").

In one sitting, interleaved (off, on, off, on, ...), --runs times:
  check, c=50, P=16          and   check_batch of 100, c=50, P=1
against eligd (2 worker threads) without and with --audit-dir. Reports the
medians, the ratio on/off, disk bytes per record (segment bytes / records
written), and the writer thread's CPU (utime+stime of the `eligd-audit`
thread from /proc, per second of the run and per million records).

usage: bench/audit.py BUILD_DIR DATA_DIR [--runs N] [--duration S]
DATA_DIR holds g1m.mdb and keys.csv (the commands are in BENCHMARKS.md).
"""

import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import time

TICK = os.sysconf("SC_CLK_TCK")


def thread_cpu(pid, name):
    """utime+stime seconds of pid's thread named `name`, or None."""
    for tid in os.listdir("/proc/%d/task" % pid):
        try:
            with open("/proc/%d/task/%s/comm" % (pid, tid)) as f:
                if f.read().strip() != name:
                    continue
            with open("/proc/%d/task/%s/stat" % (pid, tid)) as f:
                fields = f.read().rsplit(")", 1)[1].split()
            return (int(fields[11]) + int(fields[12])) / TICK
        except OSError:
            continue
    return None


def proc_cpu(pid):
    """utime+stime seconds of the whole process."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def info(port):
    """eligd's info map, over a raw msgpack-RPC call (python3-msgpack)."""
    import msgpack
    import socket
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(msgpack.packb([0, 1, "info", []]))
        u = msgpack.Unpacker(raw=False)
        while True:
            u.feed(s.recv(65536))
            for m in u:
                return m[3] or {}


def start(build, snap, workdir, audit_dir, compress="zstd"):
    ready = os.path.join(workdir, "ready")
    if os.path.exists(ready):
        os.unlink(ready)
    argv = [build + "/daemon/eligd", "--snapshot", snap, "--listen", "127.0.0.1:0", "--ready-file", ready,
            "--threads", "2", "--log-level", "warn"]
    if audit_dir:
        argv += ["--audit-dir", audit_dir, "--audit-compress", compress]
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=open(os.path.join(workdir, "eligd.log"), "ab"))
    for _ in range(500):
        if os.path.exists(ready):
            with open(ready) as f:
                txt = f.read()
            if txt.endswith("\n"):
                return proc, int(txt)
        time.sleep(0.01)
    proc.kill()
    sys.exit("eligd did not start (see %s/eligd.log)" % workdir)


def bench(build, port, keys, method, pipeline, duration):
    argv = [build + "/bench/elig-bench", "-p", str(port), "--keys", keys, "-c", "50", "-P", str(pipeline),
            "-d", str(duration), "--warmup", "1", "--method", method, "--json"]
    if method == "check_batch":
        argv += ["--batch", "100"]
    p = subprocess.run(argv, capture_output=True, text=True, timeout=duration + 60)
    if p.returncode != 0:
        sys.exit("elig-bench failed: %s" % p.stderr)
    return json.loads(p.stdout)


def dir_bytes(d):
    return sum(os.path.getsize(os.path.join(d, f)) for f in os.listdir(d) if f.endswith(".seg"))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("build")
    ap.add_argument("data")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--duration", type=float, default=5)
    a = ap.parse_args()
    build, data = os.path.abspath(a.build), os.path.abspath(a.data)
    snap, keys = os.path.join(data, "g1m.mdb"), os.path.join(data, "keys.csv")
    work = os.path.join(data, "bench-audit")
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    with open(snap, "rb") as f:  # page cache warm
        while f.read(1 << 24):
            pass
    scenarios = [("check, c=50, P=16", "check", 16), ("check_batch of 100, c=50", "check_batch", 1)]
    modes = ("off", "zstd", "none")  # audit off; on with zstd blocks; on with raw blocks
    res = {(s[0], m): [] for s in scenarios for m in modes}
    extra = {(s[0], m): [] for s in scenarios for m in modes}  # (bytes per record, writer cpu %, cpu s per M)
    load0 = os.getloadavg()
    for run in range(a.runs):
        for sc_name, method, pipeline in scenarios:
            for mode in modes:
                adir = os.path.join(work, "audit-%d-%s-%s" % (run, method, mode)) if mode != "off" else None
                proc, port = start(build, snap, work, adir, mode)
                cpu0 = None
                for _ in range(100 if adir else 0):  # the writer names itself just after it starts
                    cpu0 = thread_cpu(proc.pid, "eligd-audit")
                    if cpu0 is not None:
                        break
                    time.sleep(0.01)
                pcpu0 = proc_cpu(proc.pid)
                t0 = time.monotonic()
                r = bench(build, port, keys, method, pipeline, a.duration)
                wall = time.monotonic() - t0
                # eligd's CPU per answer over the whole run (warm-up included):
                # the cost figure that the machine's other load disturbs least.
                r["cpu_us_per_answer"] = (proc_cpu(proc.pid) - pcpu0) / max(1, r["answers_per_s"] * (wall - 1)) * 1e6
                res[(sc_name, mode)].append(r)
                if adir:
                    cpu1 = thread_cpu(proc.pid, "eligd-audit")
                    written = (info(port).get("audit") or {}).get("written")
                proc.send_signal(signal.SIGTERM)
                proc.wait(30)
                if adir:
                    nbytes = dir_bytes(adir)
                    recs = written or 1
                    extra[(sc_name, mode)].append((nbytes / recs, 100.0 * (cpu1 - cpu0) / wall, (cpu1 - cpu0) / recs * 1e6))
                print("run %d %-26s %-4s %s" % (run + 1, sc_name, mode,
                                                 "%.0f answers/s, p99 %.0f µs, eligd %.2f µs CPU per answer" % (
                    r["answers_per_s"], r["latency_us"]["p99"], r["cpu_us_per_answer"])),
                      file=sys.stderr, flush=True)
    load1 = os.getloadavg()
    print("| scenario | audit | answers/s | ÷ off | p99 µs | eligd CPU µs per answer | off ÷ this | bytes per record | writer CPU | writer CPU per 1M records |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for sc_name, _, _ in scenarios:
        off = statistics.median(x["answers_per_s"] for x in res[(sc_name, "off")])
        co = statistics.median(x["cpu_us_per_answer"] for x in res[(sc_name, "off")])
        for mode in modes:
            rps = statistics.median(x["answers_per_s"] for x in res[(sc_name, mode)])
            p99 = statistics.median(x["latency_us"]["p99"] for x in res[(sc_name, mode)])
            cpa = statistics.median(x["cpu_us_per_answer"] for x in res[(sc_name, mode)])
            if mode == "off":
                tail = "– | – | –"
            else:
                e = extra[(sc_name, mode)]
                tail = "%.1f | %.1f %% of a core | %.2f s" % (statistics.median(x[0] for x in e),
                                                             statistics.median(x[1] for x in e),
                                                             statistics.median(x[2] for x in e))
            print("| %s | %s | %s | %.2f× | %s | %.2f | %.2f× | %s |" % (
                sc_name, {"off": "off", "zstd": "on, zstd", "none": "on, raw"}[mode], format(round(rps), ","),
                rps / off, format(round(p99), ","), cpa, co / cpa, tail))
    print("\nmedians of %d interleaved runs of %.0f s (after 1 s warm-up); load average %.2f before, %.2f after" % (
        a.runs, a.duration, load0[0], load1[0]))


if __name__ == "__main__":
    main()
