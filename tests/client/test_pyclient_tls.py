"""The Python client's TLS (SPEC 6) against eligd's --tls-listen: a
throwaway CA, server and client certificates made here with the openssl
command line, a channels file naming one client certificate.

- verification is on by default: the right CA and name connect (by address
  and by "localhost"); the system's CAs, another CA or another name are
  refused before anything is sent; tls_verify=False only when asked;
- a token channel over TLS;
- with --tls-ca, the client certificate is the channel: no `auth`, and the
  grant is that channel's (a programme outside it is refused naming the
  channel); a certificate no channel names must still call `auth`; no
  certificate, or one from another CA, is refused at the handshake;
- the asyncio client over TLS with a client certificate."""
import asyncio
import hashlib
import os
import ssl
import subprocess
import unittest

import livetest as lt

import eligclient

QUERIES = [q for q, _ in lt.CASES]
TOKEN = os.urandom(32).hex()


def expected(i):
    reason, amount, kk = lt.CASES[i][1]
    return {"eligible": reason == "eligible", "reason": reason, "kk": kk,
            "region": lt.REGION.get(kk), "amount": amount, "snapshot": lt.SNAPSHOT_ID}


def openssl(*args, cwd):
    p = subprocess.run(["openssl", *args], cwd=cwd, capture_output=True, timeout=60)
    if p.returncode != 0:
        raise RuntimeError("openssl %s: %s" % (" ".join(args), p.stderr.decode()))
    return p.stdout


def make_ca(d, name):
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", name + ".key", "-out", name + ".pem", "-days", "2", "-subj", "/CN=" + name,
            cwd=d)
    return os.path.join(d, name + ".pem")


def make_cert(d, name, ca, ext):
    openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout",
            name + ".key", "-out", name + ".csr", "-subj", "/CN=" + name, cwd=d)
    with open(os.path.join(d, name + ".ext"), "w") as f:
        f.write(ext + "\n")
    openssl("x509", "-req", "-in", name + ".csr", "-CA", ca + ".pem", "-CAkey", ca + ".key",
            "-CAcreateserial", "-days", "2", "-extfile", name + ".ext", "-out", name + ".pem", cwd=d)
    return os.path.join(d, name + ".pem"), os.path.join(d, name + ".key")


def der_sha256(pem):
    with open(pem) as f:
        return hashlib.sha256(ssl.PEM_cert_to_DER_cert(f.read())).hexdigest()


class TlsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = lt.tmpdir()
        d = cls.dir = cls.tmp.name
        cls.ca = make_ca(d, "ca")
        cls.other_ca = make_ca(d, "otherca")
        server = make_cert(d, "server", "ca", "subjectAltName=IP:127.0.0.1,DNS:localhost")
        cls.terminal = make_cert(d, "terminal", "ca", "extendedKeyUsage=clientAuth")
        cls.unnamed = make_cert(d, "unnamed", "ca", "extendedKeyUsage=clientAuth")
        cls.foreign = make_cert(d, "foreign", "otherca", "extendedKeyUsage=clientAuth")
        auth = lt.write_channels(os.path.join(d, "channels.conf"), [
            ("bank", {"token": TOKEN, "methods": "check, check_batch, info", "programs": "*",
                      "regions": "*"}),
            # the fingerprint SPEC 6's cert_sha256 names: SHA-256 of the DER
            ("terminal", {"cert_sha256": der_sha256(cls.terminal[0]), "methods": "check",
                          "programs": "PKH", "regions": "*"}),
        ])
        snap = lt.build_snapshot(d)
        tls = ("--auth-file", auth, "--tls-listen", "127.0.0.1:0", "--tls-cert", server[0],
               "--tls-key", server[1], "--log-level", "info")
        cls.d = lt.Daemon(snap, d, name="tls", extra=tls)
        cls.m = lt.Daemon(snap, d, name="mtls", extra=tls + ("--tls-ca", cls.ca))
        cls.addr, cls.maddr = cls.d.tls_addr(), cls.m.tls_addr()

    @classmethod
    def tearDownClass(cls):
        cls.d.stop()
        cls.m.stop()
        cls.tmp.cleanup()

    def refused(self, addr, **kw):
        """The error a client with these options gets; it must be raised
        at connect (ConnectError): nothing was sent."""
        with eligclient.Client(addr, tls=True, retries=0, **kw) as c:
            with self.assertRaises(eligclient.ConnectError) as cm:
                c.ping()
        return str(cm.exception)

    def test_verified_by_default(self):
        with eligclient.Client(self.addr, tls_ca=self.ca) as c:  # tls_ca alone turns TLS on
            self.assertEqual(c.ping(), "pong")
        port = self.addr.rsplit(":", 1)[1]
        with eligclient.Client("localhost:" + port, tls=True, tls_ca=self.ca,
                               channel="bank", token=TOKEN) as c:
            for i, q in enumerate(QUERIES):
                self.assertEqual(dict(c.check(*q)), expected(i), q)

    def test_another_ca_or_name_is_refused(self):
        self.assertIn("CERTIFICATE_VERIFY_FAILED", self.refused(self.addr))  # the system's CAs
        self.assertIn("CERTIFICATE_VERIFY_FAILED", self.refused(self.addr, tls_ca=self.other_ca))
        msg = self.refused(self.addr, tls_ca=self.ca, server_hostname="elig.example")
        self.assertIn("CERTIFICATE_VERIFY_FAILED", msg)
        self.assertIn("elig.example", msg)
        with eligclient.Client(self.addr, tls=True, tls_verify=False) as c:
            self.assertEqual(c.ping(), "pong")  # only when asked for

    def test_plain_client_on_the_tls_port_fails_cleanly(self):
        with eligclient.Client(self.addr, retries=0, timeout=5) as c:
            with self.assertRaises(eligclient.EligError):
                c.ping()

    def test_client_certificate_is_the_channel(self):
        with eligclient.Client(self.maddr, tls_ca=self.ca, tls_cert=self.terminal[0],
                               tls_key=self.terminal[1]) as c:
            self.assertEqual(dict(c.check(*QUERIES[0])), expected(0))  # no auth sent
            with self.assertRaises(eligclient.Unauthorized) as cm:
                c.check("kks", lt.KKS_A, "BPNT", "2030-05")
            self.assertEqual(cm.exception.message,
                             "unauthorized: programme BPNT is not granted to channel terminal")
        # signed by the CA but named by no channel: it must still call auth
        with eligclient.Client(self.maddr, tls_ca=self.ca, tls_cert=self.unnamed[0],
                               tls_key=self.unnamed[1]) as c:
            with self.assertRaises(eligclient.Unauthorized) as cm:
                c.check(*QUERIES[0])
            self.assertEqual(cm.exception.message, "unauthorized: call auth [channel, token] first")
            c.auth("bank", TOKEN)
            self.assertEqual(dict(c.check(*QUERIES[5])), expected(5))
        # the same certificate where no client certificate is asked: not the channel
        with eligclient.Client(self.addr, tls_ca=self.ca, tls_cert=self.terminal[0],
                               tls_key=self.terminal[1]) as c:
            with self.assertRaises(eligclient.Unauthorized):
                c.check(*QUERIES[0])

    def test_no_or_foreign_client_certificate_is_refused(self):
        # TLS 1.3 (what eligd and Python agree on) reports the server's
        # refusal as an alert at the first read, so the request is lost
        for cert, alert in ((None, "CERTIFICATE_REQUIRED"), (self.foreign, "UNKNOWN_CA")):
            kw = {"tls_cert": cert[0], "tls_key": cert[1]} if cert else {}
            with eligclient.Client(self.maddr, tls_ca=self.ca, retries=0, timeout=5, **kw) as c:
                with self.assertRaises((eligclient.ConnectError, eligclient.ConnectionLost)) as cm:
                    c.ping()
            self.assertIn(alert, str(cm.exception))

    def test_asyncio(self):
        async def run():
            async with eligclient.AsyncClient(self.maddr, tls_ca=self.ca,
                                              tls_cert=self.terminal[0],
                                              tls_key=self.terminal[1]) as c:
                idx = [i for i, q in enumerate(QUERIES) if q[2] == "PKH"] * 20
                got = await asyncio.gather(*(c.check(*QUERIES[i]) for i in idx))
                self.assertEqual([dict(a) for a in got], [expected(i) for i in idx])
            async with eligclient.AsyncClient(self.addr, tls=True, retries=0) as c:
                with self.assertRaises(eligclient.ConnectError):
                    await c.ping()
        asyncio.run(asyncio.wait_for(run(), 60))


if __name__ == "__main__":
    unittest.main(verbosity=2)
