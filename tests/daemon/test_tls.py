"""daemon_tls: --tls-listen (SPEC 6) with foreign clients: Python's ssl
module with msgpack, and `openssl s_client`. A throwaway CA, server and
client certificates are made here with the openssl command line."""

import hashlib
import os
import re
import select
import signal
import socket
import ssl
import subprocess
import time
import warnings

import msgpack

import eligtest as et

UNAUTHORIZED = 4
TOKEN = os.urandom(32).hex()


def openssl(*args, cwd):
    p = subprocess.run(["openssl", *args], cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=30)
    assert p.returncode == 0, "openssl %s: %s" % (" ".join(args), p.stderr.decode())
    return p.stdout


def make_ca(d, name):
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", name + ".key", "-out", name + ".pem", "-days", "2", "-subj", "/CN=" + name, cwd=d)


def make_cert(d, name, ca, cn, san=None):
    openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout",
            name + ".key", "-out", name + ".csr", "-subj", "/CN=" + cn, cwd=d)
    args = ["x509", "-req", "-in", name + ".csr", "-CA", ca + ".pem", "-CAkey", ca + ".key",
            "-CAcreateserial", "-out", name + ".pem", "-days", "2"]
    if san:
        with open(os.path.join(d, name + ".ext"), "w") as f:
            f.write("subjectAltName=%s\n" % san)
        args += ["-extfile", name + ".ext"]
    openssl(*args, cwd=d)
    return os.path.join(d, name + ".pem"), os.path.join(d, name + ".key")


def fingerprint(d, name):
    der = openssl("x509", "-in", name + ".pem", "-outform", "DER", cwd=d)
    return hashlib.sha256(der).hexdigest()


class TlsCtx(et.Ctx):
    def __init__(self):
        super().__init__(snap_id="tls-snap")
        d = self.pki = os.path.join(self.dir, "pki")
        os.makedirs(d)
        make_ca(d, "ca")
        make_ca(d, "otherca")
        self.cert, self.key = make_cert(d, "server", "ca", "localhost", "DNS:localhost,IP:127.0.0.1")
        self.cli = make_cert(d, "client", "ca", "terminal-7")
        self.cli_unnamed = make_cert(d, "unnamed", "ca", "terminal-8")
        self.cli_foreign = make_cert(d, "foreign", "otherca", "terminal-9")
        self.ca = os.path.join(d, "ca.pem")
        # openssl prints fingerprints upper case with colons; the file takes that too.
        fp = fingerprint(d, "client")
        fp_colons = ":".join(fp[i:i + 2] for i in range(0, 64, 2)).upper()
        self.auth_file = os.path.join(self.dir, "channels.conf")
        with open(self.auth_file, "w") as f:
            f.write("[channel bank]\ntoken_sha256 = %s\nmethods = check, check_batch, household, info\n"
                    "programs = *\nregions = *\n\n"
                    "[channel terminal]\ncert_sha256 = %s\nmethods = check\nprograms = PKH\nregions = 32\n"
                    % (hashlib.sha256(TOKEN.encode()).hexdigest(), fp_colons))
        self.sock = os.path.join(self.dir, "eligd.sock")
        self.d = self.daemon("--auth-file", self.auth_file, "--tls-listen", "127.0.0.1:0",
                             "--tls-cert", self.cert, "--tls-key", self.key, unix=self.sock,
                             log_level="debug").start()
        self.tls_port = tls_port(self.d)
        # A second daemon that requires client certificates.
        self.m = self.daemon("--auth-file", self.auth_file, "--tls-listen", "127.0.0.1:0",
                             "--tls-cert", self.cert, "--tls-key", self.key, "--tls-ca", self.ca,
                             name="mtls", log_level="debug").start()
        self.mtls_port = tls_port(self.m)

    def context(self, cert=None, maximum=None):
        c = ssl.create_default_context(cafile=self.ca)
        if cert:
            c.load_cert_chain(*cert)
        if maximum:
            c.maximum_version = maximum
        return c

    def tls(self, port=None, cert=None, ctx=None):
        return TlsConn(port or self.tls_port, ctx or self.context(cert))


def tls_port(d):
    m = re.search(r" tls 127\.0\.0\.1:(\d+)", d.log(tail=10 ** 6))
    assert m, "no tls address in the start-up line:\n" + d.log()
    return int(m.group(1))


class TlsConn(et.Conn):
    """eligtest.Conn over TLS (Python's ssl): same calls."""

    def __init__(self, port, context, timeout=5.0):
        raw = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.sock = context.wrap_socket(raw, server_hostname="localhost")
        self.timeout = timeout
        self.unpacker = msgpack.Unpacker(raw=False, strict_map_key=False, max_buffer_size=256 << 20)
        self.next_id = 1
        self.eof = False


def setup():
    return TlsCtx()


def t_python_ssl_and_msgpack(ctx):
    with ctx.tls() as c:
        assert c.sock.version() in ("TLSv1.3", "TLSv1.2")
        assert c.ok("ping", []) == "pong"
        c.error("check", et.case_params(et.CASES[0]), UNAUTHORIZED, what="before auth over TLS")
        assert c.ok("auth", ["bank", TOKEN]) is True
        for case in et.CASES:
            et.check_answer(c.ok("check", et.case_params(case)), case, ctx.snap_id, where="tls")
        # Pipelined: 2000 requests in one write, answered in order.
        n = 2000
        c.send(b"".join(et.req(1000 + i, "check", et.case_params(et.CASES[i % len(et.CASES)]))
                        for i in range(n)))
        for i in range(n):
            err, res = c.response(1000 + i)
            et.check_answer(res, et.CASES[i % len(et.CASES)], ctx.snap_id, where="tls pipelined #%d" % i)
        # An answer much larger than a TLS record (16 KiB).
        items = [et.case_params(et.CASES[i % len(et.CASES)]) for i in range(5000)]
        res = c.ok("check_batch", [items])
        assert len(res) == 5000
        for i in (0, 1, 4999):
            et.check_answer(res[i], et.CASES[i % len(et.CASES)], ctx.snap_id, where="batch item %d" % i)


def t_tls12_and_no_older(ctx):
    with ctx.tls(ctx=ctx.context(maximum=ssl.TLSVersion.TLSv1_2)) as c:
        assert c.sock.version() == "TLSv1.2"
        assert "ECDHE" in c.sock.cipher()[0], c.sock.cipher()
        assert c.ok("auth", ["bank", TOKEN]) is True
    # A client willing to do TLS 1.1 (security level 0 lets this OpenSSL
    # offer it: checked against `openssl s_server -tls1_1` when written) is
    # refused by the server.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        old = ctx.context()
        old.minimum_version = ssl.TLSVersion.MINIMUM_SUPPORTED
        old.maximum_version = ssl.TLSVersion.TLSv1_1
        old.set_ciphers("DEFAULT:@SECLEVEL=0")
    try:
        with ctx.tls(ctx=old) as c:
            raise AssertionError("a TLS 1.1 handshake succeeded (%s)" % c.sock.version())
    except ssl.SSLError as e:
        assert "VERSION" in str(e).upper() or "ALERT" in str(e).upper(), e


def t_openssl_s_client(ctx):
    p = subprocess.Popen(["openssl", "s_client", "-connect", "127.0.0.1:%d" % ctx.tls_port, "-CAfile", ctx.ca,
                          "-verify_return_error", "-verify_hostname", "localhost", "-servername",
                          "localhost", "-quiet"],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        p.stdin.write(et.req(1, "auth", ["bank", TOKEN]) + et.req(2, "check", et.case_params(et.CASES[0])) +
                      et.req(3, "household", ["kk", et.KK1]))
        p.stdin.flush()
        u = msgpack.Unpacker(raw=False)
        got = []
        deadline = time.monotonic() + 10
        while len(got) < 3 and time.monotonic() < deadline:
            r, _, _ = select.select([p.stdout], [], [], 0.5)
            if r:
                data = os.read(p.stdout.fileno(), 65536)
                if not data:
                    break
                u.feed(data)
                got += list(u)
        assert len(got) == 3, "s_client got %r; stderr %s" % (got, p.stderr.read1(4096) if p.poll() else "")
        assert got[0] == [1, 1, None, True]
        et.check_answer(got[1][3], et.CASES[0], ctx.snap_id, where="s_client")
        assert got[2][3]["kk"] == et.KK1
    finally:
        p.kill()
        p.wait(5)


def t_plaintext_on_tls_port(ctx):
    with ctx.tls() as good:
        good.ok("auth", ["bank", TOKEN])
        with et.Conn(port=ctx.tls_port) as plain:
            plain.send(et.req(1, "ping", []))
            start = time.monotonic()
            plain.expect_closed(timeout=3, what="a plaintext client on the TLS port")
            assert time.monotonic() - start < 2
        # One that connects and never starts a handshake is held to
        # --request-timeout (default 5 s), not the idle timeout (300 s).
        with et.Conn(port=ctx.tls_port) as mute:
            mute.expect_closed(timeout=8, what="a client that never starts the handshake")
        assert good.ok("info", [])["snapshot"] == ctx.snap_id
    log = ctx.d.log(tail=10 ** 6)
    assert "not TLS" in log and "TLS handshake not done" in log


def t_tls_on_plain_port(ctx):
    with ctx.tls() as good:
        good.ok("auth", ["bank", TOKEN])
        raw = socket.create_connection(("127.0.0.1", ctx.d.port), timeout=5)
        try:
            ctx.context().wrap_socket(raw, server_hostname="localhost")
            raise AssertionError("a TLS handshake succeeded on the plain port")
        except (ssl.SSLError, ConnectionError, OSError):
            pass
        finally:
            raw.close()
        assert good.ok("info", [])["snapshot"] == ctx.snap_id


def t_resumption(ctx):
    context = ctx.context()
    with ctx.tls(ctx=context) as c:
        assert c.ok("ping", []) == "pong"  # tickets (TLS 1.3) arrive after the handshake
        session = c.sock.session
    assert session is not None
    raw = socket.create_connection(("127.0.0.1", ctx.tls_port), timeout=5)
    s = context.wrap_socket(raw, server_hostname="localhost", session=session)
    try:
        assert s.session_reused, "the session was not resumed"
    finally:
        s.close()


def t_client_certificates(ctx):
    # Named by a channel: that channel from the first request, no auth.
    with ctx.tls(port=ctx.mtls_port, cert=ctx.cli) as c:
        assert c.ok("check", ["kk", et.KK1, "PKH", "2024-01"])["reason"] == "eligible"
        c.error("check", ["kk", et.KK1, "BPNT", "2025-05"], UNAUTHORIZED, what="programme outside the grant")
        assert c.ok("check", ["kk", et.KK6, "PKH", "2024-01"])["reason"] == "not_found"  # region 7371
        c.error("info", [], UNAUTHORIZED)
    assert "client certificate of channel terminal" in ctx.m.log(tail=10 ** 6)
    # Verified but named by no channel: must auth like anyone else.
    with ctx.tls(port=ctx.mtls_port, cert=ctx.cli_unnamed) as c:
        c.error("check", ["kk", et.KK1, "PKH", "2024-01"], UNAUTHORIZED)
        assert c.ok("auth", ["bank", TOKEN]) is True
    # Without --tls-ca the certificate is not asked for: no channel from it.
    with ctx.tls(cert=ctx.cli) as c:
        c.error("check", ["kk", et.KK1, "PKH", "2024-01"], UNAUTHORIZED)
    # Signed by another CA, or none at all: refused, others unharmed.
    with ctx.tls(port=ctx.mtls_port, cert=ctx.cli) as good:
        for what, cert in (("another CA", ctx.cli_foreign), ("no certificate", None)):
            try:
                with ctx.tls(port=ctx.mtls_port, cert=cert) as c:
                    c.call("ping", [], timeout=3)
                raise AssertionError("client certificate from %s accepted" % what)
            except (ssl.SSLError, ConnectionError, OSError, AssertionError) as e:
                if isinstance(e, AssertionError) and "accepted" in str(e):
                    raise
        assert good.ok("check", ["kk", et.KK1, "PKH", "2024-01"])["reason"] == "eligible"
    assert ctx.m.alive()


def server_cert_serial(ctx):
    raw = socket.create_connection(("127.0.0.1", ctx.tls_port), timeout=5)
    s = ctx.context().wrap_socket(raw, server_hostname="localhost")
    try:
        return s.getpeercert()["serialNumber"]
    finally:
        s.close()


def t_reload_certificate(ctx):
    before = server_cert_serial(ctx)
    # A new certificate over the old files: served after SIGHUP.
    d = ctx.pki
    make_cert(d, "server2", "ca", "localhost", "DNS:localhost,IP:127.0.0.1")
    for ext in ("pem", "key"):
        os.replace(os.path.join(d, "server2." + ext), os.path.join(d, "server." + ext))
    want = openssl("x509", "-in", "server.pem", "-noout", "-serial", cwd=d).decode().strip().split("=")[1]
    ctx.d.send_signal(signal.SIGHUP)
    et.wait_until(lambda: server_cert_serial(ctx) == want.upper(), 10, "the new certificate served")
    assert before != want.upper()
    # A broken certificate: the previous stays, reload_error says why.
    with open(os.path.join(d, "server.pem"), "w") as f:
        f.write("not a certificate\n")
    ctx.d.send_signal(signal.SIGHUP)

    def failed():
        with et.Conn(path=ctx.sock) as u:
            return u.ok("info", [])["reload_error"]
    err = et.wait_until(failed, 10, "reload_error after a broken certificate")
    assert "TLS" in err and "server.pem" in err, err
    assert server_cert_serial(ctx) == want.upper()
    with ctx.tls() as c:
        assert c.ok("auth", ["bank", TOKEN]) is True


if __name__ == "__main__":
    et.main([t_python_ssl_and_msgpack,
              t_tls12_and_no_older,
              t_openssl_s_client,
              t_plaintext_on_tls_port,
              t_tls_on_plain_port,
              t_resumption,
              t_client_certificates,
              t_reload_certificate], setup=setup, budget=150)
