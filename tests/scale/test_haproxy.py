"""The scale-out promise (issue 14), on loopback: replicas behind HAProxy.

  test_haproxy.py config            (ctest scale_haproxy_config)
  test_haproxy.py promise DRIVER    (ctest scale_haproxy)
  test_haproxy.py tls               (ctest scale_haproxy_tls)

config: deploy/haproxy/eligd.cfg passes `haproxy -c`, and holds what
docs/OPERATIONS.md says it holds: mode tcp, balance leastconn, a tcp-check
sending a msgpack-RPC ping and expecting the exact pong (the bytes are
packed here by Python's msgpack from SPEC 3, not copied from the file), then
GET /health on the metrics port, on-marked-down shutdown-sessions, TLS
passed through (no `ssl` on any bind), idle timeouts longer than eligd's
--idle-timeout, a stats page on loopback only.

promise: three eligd replicas (127.0.0.11-13, one TCP port, one metrics port,
a Unix socket each, --threads 1) on snapshot A of the fixture, HAProxy
running that same file (only addresses, ports and the host-specific lines of
`global` rewritten; every other line is checked unchanged), and load_driver
(libeligclient, several pipelined connections, checks and check_batches)
through HAProxy for the whole test. Meanwhile elig-rollout moves the three
replicas to snapshot B, and once it has moved r1, r1 is killed with SIGKILL
and restarted (on B, the file now at its path) while the rollout goes on to
r2 and r3; after the rollout r2 is stopped with SIGTERM (a drain) and
started again. Asserted: the rollout exits 0; HAProxy saw r1 go down and come
back, and sessions carrying load ended on r1 and r2 (none on r3); the driver counts zero failed queries, every
answer from A or B and right for the snapshot that gave it (expected answers
from tests/daemon/eligtest.py's hand-written CASES, for each variant), and
every query queued after the rollout (and r1 back up) answered by B.
"""
import hashlib
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import unittest
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "daemon"))
import eligtest as et  # noqa: E402

HAPROXY = os.environ.get("HAPROXY", "haproxy")
CFG = os.environ.get("ELIG_HAPROXY_CFG", "")
ROLLOUT = os.environ.get("ELIG_ROLLOUT", "")
DRIVER = None

REPLICA_IPS = ["127.0.0.11", "127.0.0.12", "127.0.0.13"]


def read_cfg():
    with open(CFG) as f:
        return f.read()


def haproxy_check(path):
    p = subprocess.run([HAPROXY, "-c", "-f", path], capture_output=True, text=True, timeout=30)
    return p.returncode, p.stdout + p.stderr


def sections(text):
    """{section header: [directive lines, stripped]} (comments dropped)."""
    out, cur = {}, None
    for ln in text.splitlines():
        s = ln.split("#", 1)[0].rstrip() if not ln.lstrip().startswith("tcp-check send") else ln.rstrip()
        if not s.strip():
            continue
        if not s[0].isspace():
            cur = s.strip()
            out[cur] = []
        else:
            out[cur].append(s.strip())
    return out


# ---------------------------------------------------------------------------
# The config's content
# ---------------------------------------------------------------------------

class ConfigTest(unittest.TestCase):
    def test_haproxy_c_accepts_it(self):
        rc, out = haproxy_check(CFG)
        self.assertEqual(rc, 0, "haproxy -c -f %s:\n%s" % (CFG, out))
        self.assertIn("Configuration file is valid", out)

    def test_it_says_what_the_docs_say(self):
        sec = sections(read_cfg())
        self.assertIn("mode tcp", sec["defaults"])
        be = sec["backend eligd"]
        self.assertIn("balance leastconn", be)
        self.assertIn("balance leastconn", sec["backend eligd_tls"])
        # the ping/pong bytes, packed here from SPEC 3
        ping = et.pack([0, 1, "ping", []]).hex()
        pong = et.pack([1, 1, None, "pong"]).hex()
        self.assertIn("option tcp-check", be)
        steps = [d for d in be if d.startswith("tcp-check ") and not d.startswith("tcp-check comment")]
        self.assertEqual(steps[:3], ["tcp-check connect", "tcp-check send-binary " + ping,
                                     "tcp-check expect binary " + pong], steps)
        self.assertRegex(steps[3], r"^tcp-check connect port \d+$")
        self.assertEqual(steps[4], r'tcp-check send "GET /health HTTP/1.0\r\n\r\n"')
        self.assertRegex(steps[5], r'^tcp-check expect rstring "\^HTTP/1\\\.\[01\] 200 "$')
        self.assertTrue(any("on-marked-down shutdown-sessions" in d for d in be
                            if d.startswith("default-server")))
        servers = [d for d in be if d.startswith("server ")]
        self.assertEqual(len(servers), 3)
        self.assertTrue(all(d.endswith(" check") for d in servers), servers)
        # TLS passed through: no bind or server terminates or starts TLS
        for name, lines in sec.items():
            for d in lines:
                if d.startswith(("bind ", "server ")):
                    self.assertNotRegex(d, r"\b(ssl|crt|ca-file)\b", "%s: %s" % (name, d))
        self.assertTrue(all("track eligd/" in d for d in sec["backend eligd_tls"] if d.startswith("server")))
        # idle timeouts longer than eligd's --idle-timeout (300 s)
        t = {d.split()[1]: d.split()[2] for d in sec["defaults"] if d.startswith("timeout ")}
        for k in ("client", "server"):
            self.assertRegex(t[k], r"^\d+s$")
            self.assertGreater(int(t[k][:-1]), 300, "timeout %s" % k)
        # the stats page, on loopback only
        st = sec["listen stats"]
        self.assertIn("stats enable", st)
        binds = [d for d in st if d.startswith("bind ")]
        self.assertEqual(len(binds), 1)
        self.assertRegex(binds[0], r"^bind 127\.0\.0\.1:\d+$")


# ---------------------------------------------------------------------------
# Running it
# ---------------------------------------------------------------------------

def free_port(ips):
    """A TCP port free on every address of ips."""
    for _ in range(50):
        s = socket.socket()
        s.bind((ips[0], 0))
        port = s.getsockname()[1]
        held = [s]
        try:
            for ip in ips[1:]:
                t = socket.socket()
                held.append(t)
                t.bind((ip, port))
            return port
        except OSError:
            continue
        finally:
            for h in held:
                h.close()
    raise AssertionError("no port free on all of %s" % ips)


def rewrite(text, front, front_tls, stats, port, tls_port, metrics_port):
    """The shipped config with this host's addresses and ports. Every line
    but those below is kept byte for byte (asserted by counting)."""
    drop = re.compile(r"^    (chroot|user|group|daemon|stats socket|stats timeout)( |$)")
    subs = [  # (pattern, replacement, times it must apply)
        (r"^    log /dev/log local0$", "    log stderr format raw local0", 1),
        (r"^    maxconn \d+$", "    maxconn 2000", 2),  # this host's fd limit
        (r"^    bind 192\.0\.2\.10:7420$", "    bind 127.0.0.1:%d" % front, 1),
        (r"^    bind 192\.0\.2\.10:7421$", "    bind 127.0.0.1:%d" % front_tls, 1),
        (r"^    bind 127\.0\.0\.1:8404$", "    bind 127.0.0.1:%d" % stats, 1),
        (r"^(    server r(\d) )192\.0\.2\.1\d:7420( check)$",
         lambda m: "%s%s:%d%s" % (m.group(1), REPLICA_IPS[int(m.group(2)) - 1], port, m.group(3)), 3),
        (r"^(    server r(\d) )192\.0\.2\.1\d:7421( track eligd/r\d)$",
         lambda m: "%s%s:%d%s" % (m.group(1), REPLICA_IPS[int(m.group(2)) - 1], tls_port, m.group(3)), 3),
        (r"^    tcp-check connect port 9420$", "    tcp-check connect port %d" % metrics_port, 1),
    ]
    out, dropped, used = [], 0, [0] * len(subs)
    for ln in text.splitlines():
        if drop.match(ln):
            dropped += 1
            continue
        for k, (pat, rep, _) in enumerate(subs):
            new, n = re.subn(pat, rep, ln)
            if n:
                used[k] += 1
                ln = new
                break
        out.append(ln)
    assert dropped == 6, "dropped %d host-specific global lines, want 6" % dropped
    for (pat, _, want), got in zip(subs, used):
        assert got == want, "pattern %r applied %d times, want %d: the shipped file changed shape" % (
            pat, got, want)
    return "\n".join(out) + "\n"


class HAProxy:
    def __init__(self, cfg_path, log_path, stats_port):
        self.log_path = log_path
        self.stats = "http://127.0.0.1:%d/;csv" % stats_port
        self._log = open(log_path, "wb")
        self.proc = subprocess.Popen([HAPROXY, "-db", "-f", cfg_path], stdin=subprocess.DEVNULL,
                                     stdout=self._log, stderr=self._log,
                                     preexec_fn=et._die_with_parent)

    def status(self):
        """{server: status} of backend eligd, from the stats page's CSV."""
        with urllib.request.urlopen(self.stats, timeout=5) as r:
            text = r.read().decode()
        out = {}
        for ln in text.splitlines()[1:]:
            f = ln.split(",")
            if len(f) > 17 and f[0] == "eligd" and f[1].startswith("r"):
                out[f[1]] = f[17]
        return out

    def wait_status(self, want, timeout=20):
        def ok():
            if self.proc.poll() is not None:
                raise AssertionError("haproxy exited %d:\n%s" % (self.proc.returncode, self.log()))
            try:
                st = self.status()
            except OSError:
                return False
            return all(st.get(k) == v for k, v in want.items())
        et.wait_until(ok, timeout, "haproxy shows %s (log:\n%s)" % (want, self.log()))

    def log(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode(errors="replace")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self._log.close()


def replica(i, path, work, port, metrics_port, name=None, extra=()):
    ip = REPLICA_IPS[i]
    return et.Daemon(path, "--threads", "1", "--listen", "%s:%d" % (ip, port),
                     "--metrics-listen", "%s:%d" % (ip, metrics_port), *extra,
                     workdir=work, listen=False, unix=os.path.join(work, "r%d.sock" % (i + 1)),
                     name=name or "eligd-r%d" % (i + 1))


def openssl(d, *args):
    p = subprocess.run(["openssl", *args], cwd=d, capture_output=True, timeout=30)
    assert p.returncode == 0, "openssl %s: %s" % (" ".join(args), p.stderr.decode())
    return p.stdout


def make_cert(d, name, ca=None, san=None):
    """A P-256 key and certificate NAME.pem/NAME.key in d: self-signed (a CA)
    when ca is None, else signed by ca."""
    key = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", name + ".key"]
    if ca is None:
        openssl(d, "req", "-x509", *key, "-out", name + ".pem", "-days", "2", "-subj", "/CN=" + name)
    else:
        openssl(d, "req", *key, "-out", name + ".csr", "-subj", "/CN=" + name)
        args = ["x509", "-req", "-in", name + ".csr", "-CA", ca + ".pem", "-CAkey", ca + ".key",
                "-CAcreateserial", "-out", name + ".pem", "-days", "2"]
        if san:
            with open(os.path.join(d, name + ".ext"), "w") as f:
                f.write("subjectAltName=%s\n" % san)
            args += ["-extfile", name + ".ext"]
        openssl(d, *args)
    return os.path.join(d, name + ".pem"), os.path.join(d, name + ".key")


class TlsPassthroughTest(unittest.TestCase):
    """TLS through HAProxy's eligd_tls frontend is the replicas' TLS: the
    client verifies eligd's certificate (for 127.0.0.1, the address it
    dialled: HAProxy's), and eligd sees the client's certificate and makes
    the connection the channel that names it, with no token. A client
    without a certificate is refused by eligd, not by HAProxy."""

    def test_client_certificate_channel_through_haproxy(self):
        tmp = et.tempfile.TemporaryDirectory(prefix="scale-tls-")
        self.addCleanup(tmp.cleanup)
        work = tmp.name
        snap = et.build_snapshot(work, "snap-A", variant="A")
        pki = os.path.join(work, "pki")
        os.makedirs(pki)
        make_cert(pki, "ca")
        cert, key = make_cert(pki, "server", "ca", "IP:127.0.0.1,IP:127.0.0.11,IP:127.0.0.12,IP:127.0.0.13")
        ccert, ckey = make_cert(pki, "terminal", "ca")
        fp = hashlib.sha256(openssl(pki, "x509", "-in", "terminal.pem", "-outform", "DER")).hexdigest()
        auth = os.path.join(work, "channels.conf")
        with open(auth, "w") as f:
            f.write("[channel terminal]\ncert_sha256 = %s\nmethods = check\nprograms = PKH\n"
                    "regions = *\n" % fp)
        port, metrics_port, tls_port = (free_port(REPLICA_IPS) for _ in range(3))
        front, front_tls, stats = (free_port(["127.0.0.1"]) for _ in range(3))
        daemons = []
        for i in range(3):
            extra = ("--auth-file", auth, "--tls-listen", "%s:%d" % (REPLICA_IPS[i], tls_port),
                     "--tls-cert", cert, "--tls-key", key, "--tls-ca", os.path.join(pki, "ca.pem"))
            daemons.append(replica(i, snap, work, port, metrics_port, extra=extra).start())
            self.addCleanup(daemons[i].kill)
        cfg = os.path.join(work, "haproxy.cfg")
        with open(cfg, "w") as f:
            f.write(rewrite(read_cfg(), front, front_tls, stats, port, tls_port, metrics_port))
        hp = HAProxy(cfg, os.path.join(work, "haproxy.log"), stats)
        self.addCleanup(hp.stop)
        hp.wait_status({"r1": "UP", "r2": "UP", "r3": "UP"})

        tls = ["--server", "127.0.0.1:%d" % front_tls, "--tls", "--tls-ca", os.path.join(pki, "ca.pem")]
        env = {k: v for k, v in os.environ.items() if k not in ("ELIG_CHANNEL", "ELIG_TOKEN_FILE")}

        def elig(*args):
            return subprocess.run([et.ELIG, *args], capture_output=True, text=True, timeout=60, env=env)

        # several connections: leastconn spreads them, each one the channel
        for _ in range(4):
            r = elig(*tls, "--tls-cert", ccert, "--tls-key", ckey, "--json", "check", "kk", et.KK1,
                     "PKH", "2024-01")
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertIn('"reason":"eligible"', r.stdout)
            self.assertIn('"amount":%d' % et.AMOUNT_A, r.stdout)
        # the grant is the channel's: BPNT is not in it (error 4 from eligd)
        r = elig(*tls, "--tls-cert", ccert, "--tls-key", ckey, "check", "kk", et.KK1, "BPNT", "2025-05")
        self.assertEqual(r.returncode, 1)
        self.assertIn("code 4", r.stderr)
        self.assertIn("terminal", r.stderr)  # eligd names the channel the certificate made
        # no client certificate: eligd (--tls-ca) refuses the handshake
        r = elig(*tls, "check", "kk", et.KK1, "PKH", "2024-01")
        self.assertEqual(r.returncode, 1, r.stdout)
        # (TLS 1.3: the client hears of it after its side of the handshake,
        # as an alert on the first read: "Protocol error")
        self.assertRegex(r.stderr, r"TLS|Protocol error")
        # and the balancer did not terminate TLS: its sessions went to the
        # replicas' TLS ports
        self.assertRegex(hp.log(), r" eligd_tls eligd_tls/r\d ")


class PromiseTest(unittest.TestCase):
    def test_rollout_and_a_kill_under_load_through_haproxy(self):
        for what, p in (("ELIG_ROLLOUT", ROLLOUT), ("load driver", DRIVER)):
            self.assertTrue(p and os.access(p, os.X_OK), "%s is not an executable: %r" % (what, p))
        tmp = et.tempfile.TemporaryDirectory(prefix="scale-")
        self.addCleanup(tmp.cleanup)
        work = tmp.name
        snap_a = et.build_snapshot(work, "snap-A", variant="A")
        snap_b = et.build_snapshot(work, "snap-B", variant="B")
        want_b = et.snapshot_info(snap_b)["content_sha256"]

        # the expected answers of each case under A and under B (SPEC 2 by hand)
        cases = os.path.join(work, "cases.csv")
        with open(cases, "w") as f:
            for c in et.CASES:
                f.write("%s,%s,%s,%s,%s,%s,%d,%d\n" % (c[0], c[1], c[2], c[3], c[4], c[5] or "",
                                                      et.expected_amount(c, "A"),
                                                      et.expected_amount(c, "B")))

        port, metrics_port = free_port(REPLICA_IPS), free_port(REPLICA_IPS)
        front, front_tls, stats, tls_port = (free_port(["127.0.0.1"]) for _ in range(4))
        paths, daemons = [], []
        for i in range(3):
            d = os.path.join(work, "r%d" % (i + 1))
            os.makedirs(d)
            os.link(snap_a, os.path.join(d, "snap-A.mdb"))
            paths.append(os.path.join(d, "snapshot.mdb"))
            os.symlink("snap-A.mdb", paths[i])
            daemons.append(replica(i, paths[i], work, port, metrics_port).start())
            self.addCleanup(daemons[i].kill)

        cfg = os.path.join(work, "haproxy.cfg")
        with open(cfg, "w") as f:
            f.write(rewrite(read_cfg(), front, front_tls, stats, port, tls_port, metrics_port))
        rc, out = haproxy_check(cfg)
        self.assertEqual(rc, 0, out)
        hp = HAProxy(cfg, os.path.join(work, "haproxy.log"), stats)
        self.addCleanup(hp.stop)
        hp.wait_status({"r1": "UP", "r2": "UP", "r3": "UP"})

        drv_out = open(os.path.join(work, "driver.out"), "w+")
        drv_err = open(os.path.join(work, "driver.err"), "w+")
        self.addCleanup(drv_out.close)
        self.addCleanup(drv_err.close)
        driver = subprocess.Popen([DRIVER, "127.0.0.1:%d" % front, "4", "16", "6000", "120", cases,
                                   "snap-A", "snap-B"], stdout=drv_out, stderr=drv_err,
                                  preexec_fn=et._die_with_parent)
        self.addCleanup(lambda: driver.poll() is None and driver.kill())
        time.sleep(1.5)  # load on A first
        self.assertIsNone(driver.poll(), "load driver exited early")

        replicas = os.path.join(work, "replicas")
        with open(replicas, "w") as f:
            for i in range(3):
                f.write("r%d %s:%d %s unix:%s\n" % (i + 1, REPLICA_IPS[i], port, paths[i],
                                                    daemons[i].unix))
        env = dict(os.environ, ELIG=et.ELIG, ELIG_SNAPSHOT=et.ELIG_SNAPSHOT)
        ro = subprocess.Popen([ROLLOUT, snap_b, replicas], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, env=env,
                              preexec_fn=et._die_with_parent)
        log, killed = [], None
        for line in ro.stdout:  # the rollout's log, as it goes
            log.append(line)
            if killed is None and " r1: healthy; done" in line:
                daemons[0].proc.send_signal(signal.SIGKILL)
                daemons[0].wait(10)
                killed = time.monotonic()
                # restarted once HAProxy has taken it out, as a crashed
                # service is (systemd's RestartSec): meanwhile new
                # connections to it are refused and redispatched
                hp.wait_status({"r1": "DOWN"}, timeout=10)
                daemons[0] = replica(0, paths[0], work, port, metrics_port, "eligd-r1-again").spawn()
                self.addCleanup(daemons[0].kill)
        err = ro.stderr.read()
        self.assertEqual(ro.wait(timeout=120), 0, "".join(log) + err)
        self.assertIsNotNone(killed, "the rollout never logged r1 done:\n" + "".join(log))
        daemons[0].wait_ready()
        hp.wait_status({"r1": "UP", "r2": "UP", "r3": "UP"})
        for i, d in enumerate(daemons):
            with et.Conn(path=d.unix) as c:
                got = c.ok("info", [])
            self.assertEqual((got["snapshot"], got["content_sha256"]), ("snap-B", want_b),
                             "r%d after the rollout" % (i + 1))

        driver.send_signal(signal.SIGUSR1)  # from now on, only B
        time.sleep(0.5)
        # a drain under load too: r2 stopped with SIGTERM (listeners closed,
        # what it read answered, connections closed), then started again
        daemons[1].stop(signal.SIGTERM)
        hp.wait_status({"r2": "DOWN"}, timeout=10)
        daemons[1] = replica(1, paths[1], work, port, metrics_port, "eligd-r2-again").start()
        self.addCleanup(daemons[1].kill)
        hp.wait_status({"r1": "UP", "r2": "UP", "r3": "UP"})
        time.sleep(0.5)
        during = hp.log()  # what HAProxy logged while the driver's connections were all open
        driver.send_signal(signal.SIGTERM)
        rc = driver.wait(timeout=60)
        drv_out.seek(0)
        drv_err.seek(0)
        summary, errors = drv_out.read(), drv_err.read()
        m = re.search(r"queries (\d+) answered (\d+) failed (\d+) mismatches (\d+) old (\d+) "
                      r"new (\d+) after_old (\d+) after_new (\d+)", summary)
        self.assertTrue(m, "no summary from the driver: %r %r" % (summary, errors))
        q, a, failed, mism, old, new, after_old, after_new = map(int, m.groups())
        print("load: %s" % summary.strip())
        self.assertEqual(failed, 0, "failed queries:\n" + errors)
        self.assertEqual(mism, 0, "wrong answers:\n" + errors)
        self.assertEqual(a, q, "every query answered once")
        self.assertEqual(after_old, 0, "answers from A after the rollout:\n" + errors)
        self.assertGreater(old, 0, "no answer from A: the load did not overlap the rollout")
        self.assertGreater(new, 0)
        self.assertGreater(after_new, 0, "no load after the rollout")
        self.assertEqual(rc, 0, summary + errors)

        # HAProxy saw the kill: r1 down, then up again; and the kill cut
        # client sessions that carried load (a session is logged when it
        # ends, and the driver closes none of its own before it stops: the
        # reloads close nothing either)
        self.assertRegex(during, r"Server eligd/r1 is DOWN", during[-3000:])
        self.assertRegex(during, r"Server eligd/r1 is UP", during[-3000:])
        cut = re.findall(r" eligd eligd/r1 \S+ (\d+) ", during)
        self.assertTrue(cut and all(int(n) > 0 for n in cut),
                        "no loaded session on r1 ended during the run:\n" + during[-3000:])
        self.assertRegex(during, r" eligd eligd/r2 \S+ [1-9]\d* ", "the drain of r2 closed no loaded session")
        self.assertNotRegex(during, r" eligd eligd/r3 ", "a session on r3 ended during the run")


if __name__ == "__main__":
    mode = sys.argv.pop(1)
    if mode == "promise":
        DRIVER = sys.argv.pop(1)
        suite = unittest.defaultTestLoader.loadTestsFromTestCase(PromiseTest)
    elif mode == "tls":
        suite = unittest.defaultTestLoader.loadTestsFromTestCase(TlsPassthroughTest)
    else:
        suite = unittest.defaultTestLoader.loadTestsFromTestCase(ConfigTest)
    ok = unittest.TextTestRunner(verbosity=2).run(suite).wasSuccessful()
    sys.exit(0 if ok else 1)
