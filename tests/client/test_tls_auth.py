"""libeligclient and elig with SPEC 6: TLS (server certificate and name
verified) and channel credentials from ELIG_CHANNEL / ELIG_TOKEN_FILE,
against real eligd daemons started with --auth-file and --tls-listen. The
failover run checks that `auth` is sent again on the connection that takes
over. A throwaway CA is made here with the openssl command line.

usage: test_tls_auth.py FAILOVER_DRIVER"""
import hashlib
import os
import signal
import socket
import subprocess
import sys
import unittest

import livetest as lt

DRIVER = None


def openssl(*args, cwd):
    p = subprocess.run(["openssl", *args], cwd=cwd, capture_output=True, timeout=30)
    if p.returncode != 0:
        raise RuntimeError("openssl %s: %s" % (" ".join(args), p.stderr.decode()))


def make_cert(d, name, san):
    openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout",
            name + ".key", "-out", name + ".csr", "-subj", "/CN=" + name, cwd=d)
    with open(os.path.join(d, name + ".ext"), "w") as f:
        f.write("subjectAltName=%s\n" % san)
    openssl("x509", "-req", "-in", name + ".csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
            "-out", name + ".pem", "-days", "2", "-extfile", name + ".ext", cwd=d)
    return os.path.join(d, name + ".pem"), os.path.join(d, name + ".key")


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class TlsAuthTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = lt.tmpdir()
        d = cls.dir = cls.tmp.name
        cls.snap = lt.build_snapshot(d)
        openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                "-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=test-ca", cwd=d)
        cls.ca = os.path.join(d, "ca.pem")
        cls.good = make_cert(d, "server", "DNS:localhost,IP:127.0.0.1")
        cls.wrong_name = make_cert(d, "elsewhere", "DNS:eligd.example.org")
        cls.token = os.urandom(32).hex()
        cls.token_file = os.path.join(d, "bank.token")
        fd = os.open(cls.token_file, os.O_WRONLY | os.O_CREAT, 0o600)
        os.write(fd, (cls.token + "\n").encode())
        os.close(fd)
        cls.bad_token_file = os.path.join(d, "bad.token")
        with open(cls.bad_token_file, "w") as f:
            f.write(os.urandom(32).hex() + "\n")
        cls.auth_file = os.path.join(d, "channels.conf")
        with open(cls.auth_file, "w") as f:
            f.write("[channel bank]\ntoken_sha256 = %s\nmethods = check, check_batch, household, info\n"
                    "programs = *\nregions = *\n" % hashlib.sha256(cls.token.encode()).hexdigest())
        cls.cases = os.path.join(d, "cases.csv")
        with open(cls.cases, "w") as f:
            for q, (reason, amount, kk) in lt.CASES:
                f.write("%s,%s,%d,%s\n" % (",".join(q), reason, amount, kk or ""))
        cls.b, cls.b_tls = cls.daemon("b", cls.good)

    @classmethod
    def daemon(cls, name, cert):
        port = free_port()
        d = lt.Daemon(cls.snap, cls.dir, name=name,
                      extra=("--auth-file", cls.auth_file, "--tls-listen", "127.0.0.1:%d" % port,
                             "--tls-cert", cert[0], "--tls-key", cert[1]))
        return d, "127.0.0.1:%d" % port

    @classmethod
    def tearDownClass(cls):
        cls.b.stop()
        cls.tmp.cleanup()

    def elig(self, *args, env=None):
        e = dict(os.environ)
        e.pop("ELIG_CHANNEL", None)
        e.pop("ELIG_TOKEN_FILE", None)
        e.update(env or {})
        return subprocess.run([lt.ELIG, *args], capture_output=True, text=True, timeout=30, env=e)

    def creds(self, token_file=None):
        return {"ELIG_CHANNEL": "bank", "ELIG_TOKEN_FILE": token_file or self.token_file}

    def test_elig_credentials_from_env(self):
        q = lt.CASES[0][0]
        r = self.elig("--server", self.b.addr, "--json", "check", *q, env=self.creds())
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn('"reason":"%s"' % lt.CASES[0][1][0], r.stdout)
        # Without credentials: refused by the server (error 4), exit 1.
        r = self.elig("--server", self.b.addr, "check", *q)
        self.assertEqual(r.returncode, 1)
        self.assertIn("unauthorized", r.stderr)
        # A wrong token: the connection is refused at auth, saying so.
        r = self.elig("--server", self.b.addr, "ping", env=self.creds(self.bad_token_file))
        self.assertEqual(r.returncode, 1)
        self.assertIn("auth as channel bank refused", r.stderr)
        # --channel and --token-file override the environment.
        r = self.elig("--server", self.b.addr, "--channel", "bank", "--token-file", self.token_file, "ping",
                      env=self.creds(self.bad_token_file))
        self.assertEqual(r.returncode, 0, r.stderr)
        # A missing token file is a usage error naming it.
        r = self.elig("--server", self.b.addr, "ping", env=self.creds("/nonexistent/token"))
        self.assertEqual(r.returncode, 2)
        self.assertIn("/nonexistent/token", r.stderr)

    def test_elig_over_tls(self):
        q = lt.CASES[0][0]
        for server in (self.b_tls, self.b_tls.replace("127.0.0.1", "localhost")):
            r = self.elig("--tls-ca", self.ca, "--server", server, "--json", "check", *q, env=self.creds())
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertIn('"snapshot":"%s"' % lt.SNAPSHOT_ID, r.stdout)
        # Verified by default: the system's CAs do not know our test CA.
        r = self.elig("--tls", "--server", self.b_tls, "ping", env=self.creds())
        self.assertEqual(r.returncode, 1)
        self.assertIn("certificate", r.stderr)
        # TLS to the plain port fails cleanly.
        r = self.elig("--tls-ca", self.ca, "--server", self.b.addr, "ping", env=self.creds())
        self.assertEqual(r.returncode, 1)
        self.assertIn("TLS", r.stderr)

    def test_server_name_verified(self):
        c, c_tls = self.daemon("c", self.wrong_name)
        try:
            r = self.elig("--tls-ca", self.ca, "--server", c_tls, "ping", env=self.creds())
            self.assertEqual(r.returncode, 1)
            self.assertIn("server certificate not accepted", r.stderr)
            self.assertIn("mismatch", r.stderr)
        finally:
            c.stop()

    def failover(self, mode, total, depth):
        """A pipelined run over TLS with a channel: the first server is
        killed; the second takes over only if the client authenticates on
        the new connection (else every re-sent request is error 4). The
        kill also breaks TLS writes in flight: the library must not die of
        SIGPIPE (OpenSSL's socket BIO would raise it)."""
        a, a_tls = self.daemon("a-" + mode, self.good)
        env = dict(os.environ, ELIGC_TEST_TLS_CA=self.ca, **self.creds())
        try:
            r = subprocess.run([DRIVER, a_tls + "," + self.b_tls, mode, str(total), str(depth),
                                str(total // 3), str(a.pid), str(int(signal.SIGKILL)), self.cases],
                               capture_output=True, text=True, timeout=240, env=env)
            a.proc.wait(timeout=30)
        finally:
            a.stop()
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("answered %d, mismatches 0, errors 0, pending 0, on %s" % (total, self.b_tls), r.stdout)

    def test_failover_sends_auth_again(self):
        self.failover("check", 40000, 500)

    def test_failover_batches_sends_auth_again(self):
        self.failover("batch", 100000, 40)


if __name__ == "__main__":
    DRIVER = sys.argv.pop(1)
    unittest.main(verbosity=2)
