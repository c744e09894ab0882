"""The Python client's TLS (SPEC 6) against a scripted TLS server on
127.0.0.1 (eligd does not serve TLS yet): certificates made here with the
openssl command (a CA, a server certificate for 127.0.0.1 and localhost, a
client certificate). Verification is on by default: an unknown CA or a
wrong name fails to connect; the right CA connects; a client certificate
reaches the server; the asyncio client likewise."""
import asyncio
import hashlib
import os
import ssl
import subprocess
import unittest

import livetest as lt
from pyfake import FakeServer

import eligclient

PONG = lambda m, p, n: (None, "pong")  # noqa: E731


def openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=60)


def make_pki(d):
    """ca.pem, server.pem/key (SAN 127.0.0.1, localhost), client.pem/key."""
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=test-ca",
            "-keyout", "ca.key", "-out", "ca.pem", cwd=d)
    for name, ext in (("server", "subjectAltName=IP:127.0.0.1,DNS:localhost"),
                      ("client", "extendedKeyUsage=clientAuth")):
        openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=%s" % name,
                "-keyout", name + ".key", "-out", name + ".csr", cwd=d)
        with open(os.path.join(d, name + ".ext"), "w") as f:
            f.write(ext + "\n")
        openssl("x509", "-req", "-in", name + ".csr", "-CA", "ca.pem", "-CAkey", "ca.key",
                "-CAcreateserial", "-days", "2", "-extfile", name + ".ext", "-out", name + ".pem",
                cwd=d)


class TlsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = lt.tmpdir()
        cls.d = cls.tmp.name
        make_pki(cls.d)

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def p(self, name):
        return os.path.join(self.d, name)

    def server(self, require_client_cert=False):
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        ctx.load_cert_chain(self.p("server.pem"), self.p("server.key"))
        if require_client_cert:
            ctx.verify_mode = ssl.CERT_REQUIRED
            ctx.load_verify_locations(self.p("ca.pem"))
        s = FakeServer(PONG, tls=ctx)
        self.addCleanup(s.stop)
        return s

    def test_verified_by_default(self):
        s = self.server()
        with eligclient.Client(s.addr, tls=True, tls_ca=self.p("ca.pem")) as c:
            self.assertEqual(c.ping(), "pong")
        port = s.addr.rsplit(":", 1)[1]
        with eligclient.Client("localhost:" + port, tls=True, tls_ca=self.p("ca.pem")) as c:
            self.assertEqual(c.ping(), "pong")  # the name is in the certificate too

    def test_unknown_ca_is_refused(self):
        s = self.server()
        with eligclient.Client(s.addr, tls=True, retries=0) as c:  # the system's CAs only
            with self.assertRaises(eligclient.ConnectError) as cm:
                c.ping()
            self.assertIn("CERTIFICATE_VERIFY_FAILED", str(cm.exception))
        self.assertEqual(s.n, 0)  # nothing was sent

    def test_wrong_name_is_refused(self):
        s = self.server()
        with eligclient.Client(s.addr, tls=True, tls_ca=self.p("ca.pem"),
                               server_hostname="elig.example", retries=0) as c:
            with self.assertRaises(eligclient.ConnectError) as cm:
                c.ping()
            self.assertIn("CERTIFICATE_VERIFY_FAILED", str(cm.exception))
        with eligclient.Client(s.addr, tls=True, tls_verify=False) as c:
            self.assertEqual(c.ping(), "pong")  # only when asked for

    def test_client_certificate(self):
        s = self.server(require_client_cert=True)
        with eligclient.Client(s.addr, tls=True, tls_ca=self.p("ca.pem"), retries=0) as c:
            with self.assertRaises(eligclient.EligError):
                c.ping()  # the server requires a certificate
        with eligclient.Client(s.addr, tls=True, tls_ca=self.p("ca.pem"), tls_cert=self.p("client.pem"),
                               tls_key=self.p("client.key")) as c:
            self.assertEqual(c.ping(), "pong")
        with open(self.p("client.pem")) as f:
            der = ssl.PEM_cert_to_DER_cert(f.read())
        # the fingerprint SPEC 6's cert_sha256 names
        self.assertIn(hashlib.sha256(der).hexdigest(),
                      [hashlib.sha256(c).hexdigest() for c in s.peer_certs if c])

    def test_asyncio(self):
        s = self.server(require_client_cert=True)

        async def run():
            async with eligclient.AsyncClient(s.addr, tls=True, tls_ca=self.p("ca.pem"),
                                              tls_cert=self.p("client.pem"),
                                              tls_key=self.p("client.key")) as c:
                got = await asyncio.gather(*(c.ping() for _ in range(200)))
                self.assertEqual(got, ["pong"] * 200)
            async with eligclient.AsyncClient(s.addr, tls=True, retries=0) as c:
                with self.assertRaises(eligclient.ConnectError):
                    await c.ping()
        asyncio.run(asyncio.wait_for(run(), 60))


if __name__ == "__main__":
    unittest.main(verbosity=2)
