"""eligclient.Client: the synchronous client.

One connection at a time to the first server of the list that answers,
non-blocking underneath so that a long pipeline is written and read at
once (the server pauses a connection whose answers are not read; a client
that only wrote would deadlock against it).
"""
import collections
import errno
import select
import socket
import ssl
import time

from . import _wire as W
from . import errors as E

__all__ = ["Client", "Pending"]

_READ = 1 << 18
_WRITE = 1 << 20
_AUTO_FLUSH = 1 << 16  # unwritten request bytes that make a send write
RELOAD_TIMEOUT = 300.0  # seconds a reload may take (elig reload's default too)
_POLLIN, _POLLOUT = select.POLLIN, select.POLLOUT
_POLLERR = select.POLLERR | select.POLLHUP | select.POLLNVAL


class Pending:
    """A request sent, its answer not collected yet (see Client.send_check)."""
    __slots__ = ("_client", "_req")

    def __init__(self, client, req):
        self._client = client
        self._req = req

    def done(self):
        return self._req.done

    def result(self):
        """The answer; waits for it (bounded by the client's timeout and
        retries); raises the request's error."""
        return self._client._result(self._req)


class Client(W.ClientOptions):
    """A synchronous eligd client.

        c = eligclient.Client("10.0.0.5:7420,10.0.0.6:7420")
        a = c.check("nik", "3171011501900001", "PKH", "2026-11")
        a["eligible"], a.amount

    servers     "HOST:PORT", "[IPv6]:PORT" or "unix:PATH", a comma list or a
                list of them, in order of preference (default 127.0.0.1:7420)
    timeout     seconds without progress before the requests waiting on a
                connection fail with Timeout (default 5)
    connect_timeout  per connection attempt (default 2)
    retries     rounds of connection attempts over the whole list after a
                connection is lost or refused, and re-sends of a request
                answered unavailable (5) (default 5)
    backoff, backoff_max  first pause and longest pause between rounds,
                doubling (default 0.1 and 2 seconds)
    rate_wait   a request answered rate_limited (6) is sent again after the
                wait the server names, and nothing new is written before
                then; it raises RateLimited once its waits would pass
                rate_wait seconds in all (default 60)
    batch_max   items per check_batch request (default 10000, the SPEC's
                limit); longer lists are split
    tls, tls_ca, tls_cert, tls_key, tls_verify, server_hostname
                TLS (SPEC 6): tls=True or an ssl.SSLContext; the server's
                certificate and name are verified unless tls_verify=False
    channel, token, token_file
                credentials (SPEC 6); default ELIG_CHANNEL and
                ELIG_TOKEN_FILE. With a channel, every connection starts
                with `auth`. The token is never logged or shown.

    A client is for one thread at a time. Every request is answered exactly
    once or raises once: after a lost connection the unanswered requests
    are written again to the next server that accepts.
    """

    def __init__(self, servers=None, **options):
        super().__init__(servers, **options)
        self._sock = None
        self._wbuf = bytearray()
        self._woff = 0
        self._wrote = False
        self._lost = None  # why the last connection broke, while unanswered requests wait
        self._fails = 0    # connections refused or broken since the last answer

    # -- life ----------------------------------------------------------------------

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def close(self):
        """Closes the connection; requests not answered yet fail."""
        self._drop()
        self._eng.fail_all(E.ConnectionLost("client closed"))

    @property
    def server(self):
        """The server connected now ("host:port"), or None."""
        return W.server_name(self._servers[self._cur]) if self._sock else None

    def pending(self):
        """Requests sent whose answer has not arrived."""
        return self._eng.pending()

    # -- requests ------------------------------------------------------------------

    def ping(self):
        return self._call("ping", [], W.decode_ping)

    def check(self, kind, id, program, period):
        """The answer (an Answer, a dict with the SPEC 3 keys) to one query."""
        W.check_query(kind, id, program, period)
        return self._call("check", [kind, id, program, period], W.decode_check)

    def check_batch(self, queries):
        """Answers to a list of (kind, id, program, period) queries, in order.
        Lists longer than batch_max go as several check_batch requests,
        pipelined. Every query is checked first (InvalidQuery names the
        item); a failed request raises its error."""
        items = W.check_items(queries)
        step = self._batch_max
        window = collections.deque()
        out = []
        for i in range(0, len(items), step):
            chunk = items[i:i + step]
            window.append(self._send("check_batch", [chunk], W.decode_batch(len(chunk))))
            if len(window) >= 4:
                out.extend(self._result(window.popleft()))
        while window:
            out.extend(self._result(window.popleft()))
        return out

    def household(self, kind, id):
        """The family of (kind, id) as a Household (a dict), or None."""
        W.check_kind_id(kind, id)
        return self._call("household", [kind, id], W.decode_household)

    def info(self):
        """The server's info map (SPEC 3, and SPEC 9's keys when served)."""
        return self._call("info", [], W.decode_info)

    def auth(self, channel=None, token=None, *, token_file=None):
        """Authenticates this connection as `channel` (SPEC 6); credentials
        default to ELIG_CHANNEL / ELIG_TOKEN_FILE. On success they are kept
        and sent again on every new connection. Raises Unauthorized."""
        creds = W.credentials(channel, token, token_file)
        if creds is None:
            raise ValueError("auth: no channel given and ELIG_CHANNEL is not set")
        self._call("auth", creds.params(), W.decode_auth)
        self._eng.creds = creds
        return True

    def reload(self, timeout=RELOAD_TIMEOUT):
        """Asks the server to reload its snapshot now and waits for it (SPEC
        9): {snapshot, content_sha256} of the snapshot serving afterwards.
        A failed reload raises Unavailable with eligd's reason (the old
        snapshot keeps serving) and is not retried. Allowed on the Unix
        socket, or to a channel granted `reload` (else Unauthorized).
        `timeout` (default 300 s) replaces the client's while it waits:
        opening, and with --verify hashing, a big snapshot takes a while."""
        old = self._timeout
        self._timeout = max(old, timeout)
        try:
            return self._result(self._eng.submit("reload", [], W.decode_reload, retry=False))
        finally:
            self._timeout = old

    def call(self, method, params):
        """Any method with the params given, the result as decoded."""
        return self._call(method, list(params), W.decode_any)

    # -- pipelining ------------------------------------------------------------

    def send_check(self, kind, id, program, period):
        """Queues a check without waiting: returns a Pending whose result()
        is the answer. Answers arrive in the order sent."""
        W.check_query(kind, id, program, period)
        return Pending(self, self._send("check", [kind, id, program, period], W.decode_check))

    def send_check_batch(self, queries):
        """Queues one check_batch of at most batch_max queries."""
        items = W.check_items(queries)
        if len(items) > self._batch_max:
            raise ValueError("send_check_batch: %d queries, at most %d" % (len(items), self._batch_max))
        return Pending(self, self._send("check_batch", [items], W.decode_batch(len(items))))

    def check_many(self, queries, depth=1024, errors="raise"):
        """Answers to an iterable of queries, one check each, `depth` in
        flight, yielded in order. With errors="return" an exception is
        yielded in place of the answer of a query that failed (a malformed
        query too) and the run goes on."""
        window = collections.deque()
        eng, ret, check = self._eng, errors == "return", W.check_query
        submit, unsent, decode = eng.submit, eng.unsent, W.decode_check
        for q in queries:
            try:
                kind, ident, program, period = q
                check(kind, ident, program, period)
            except (E.InvalidQuery, TypeError, ValueError) as e:
                if not isinstance(e, E.InvalidQuery):
                    e = E.InvalidQuery("query")
                if not ret:
                    raise e
                window.append(e)
            else:
                window.append(submit("check", [kind, ident, program, period], decode))
                if len(unsent) >= 256 and self._sock is not None:
                    self._pump(None)  # write what the socket takes, read what came
            if len(window) >= depth:
                yield self._take(window.popleft(), ret)
        while window:
            yield self._take(window.popleft(), ret)

    def flush(self):
        """Writes every queued request now."""
        self._pump(lambda: not self._eng.unsent and self._woff == len(self._wbuf))

    def _take(self, item, ret):
        if isinstance(item, Exception):
            return item
        if not ret:
            return self._result(item)
        try:
            return self._result(item)
        except E.EligError as e:
            return e

    def _send(self, method, params, decode):
        r = self._eng.submit(method, params, decode)
        if self._sock is not None and len(self._eng.unsent) >= 256:
            self._pump(None)  # write what the socket takes, read what came
        return r

    def _call(self, method, params, decode):
        return self._result(self._eng.submit(method, params, decode))

    def _result(self, r):
        if not r.done:
            self._pump(lambda: r.done)
        if r.error is not None:
            raise r.error.with_traceback(None)
        return r.value

    # -- I/O -----------------------------------------------------------------------

    def _open(self, addr):
        kind, host, port = addr
        if kind == "unix":
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.settimeout(self._connect_timeout)
            try:
                s.connect(host)
            except BaseException:
                s.close()
                raise
        else:
            s = socket.create_connection((host, port), timeout=self._connect_timeout)
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if self._ssl is not None:
            try:
                s = self._ssl.wrap_socket(s, server_hostname=self._server_hostname or
                                          (host if kind == "tcp" else None))
            except BaseException:
                s.close()
                raise
        s.setblocking(False)
        return s

    def _connect(self):
        """Connects to the next server that accepts. Failures since the last
        answer are counted; each time they complete a round of the list the
        next attempt waits a little longer (backoff), and after `retries`
        rounds more the waiting requests fail: ConnectionLost when a
        connection broke under them, else ConnectError."""
        n = len(self._servers)
        limit = (self._retries + 1) * n
        last = ""
        while self._fails < limit:
            if self._fails >= n and self._fails % n == 0:
                time.sleep(self._eng.backoff_wait(self._fails // n))
            addr = self._servers[self._cur]
            try:
                self._sock = self._open(addr)
            except (OSError, ssl.SSLError) as e:
                last = "cannot connect to %s: %s" % (W.server_name(addr), _why(e))
                self._fails += 1
                self._cur = (self._cur + 1) % n
                continue
            self._wbuf = bytearray()
            self._woff = 0
            self._eng.connected()
            return
        self._fails = 0
        if self._lost:
            raise E.ConnectionLost("%s; no server took over%s" % (
                self._lost, " (%s)" % last if last else ""))
        raise E.ConnectError(last)

    def _drop(self):
        if self._sock is not None:
            try:
                self._sock.close()
            except OSError:
                pass
            self._sock = None
        self._wbuf = bytearray()
        self._woff = 0

    def _broken(self, why):
        if self._eng.inflight:  # an idle connection the server closed is no failure
            self._fails += 1
            self._lost = "connection lost: %s: %s" % (W.server_name(self._servers[self._cur]), why)
        self._drop()
        self._eng.lost()
        self._cur = (self._cur + 1) % len(self._servers)

    def _pump(self, until):
        """Writes and reads until until() is true (or once, without waiting,
        when until is None). Failures are recorded on the requests."""
        eng = self._eng
        deadline = time.monotonic() + self._timeout
        progress = eng.progress
        while until is None or not until():
            eng.due()
            if self._sock is None:
                if not eng.unsent and not eng.inflight:
                    if not eng.delayed or until is None:
                        return
                    time.sleep(max(0.0, eng.next_due() - time.monotonic()))
                    continue
                try:
                    self._connect()
                except E.EligError as e:
                    self._lost = None
                    eng.fail_all(e)
                    return
                deadline = time.monotonic() + self._timeout
            if eng.unsent:
                if self._woff > (1 << 20):
                    del self._wbuf[:self._woff]
                    self._woff = 0
                self._wbuf += eng.take()
            if not self._io(0.0 if until is None else self._wait(deadline)):
                if until is None:
                    return
                if time.monotonic() >= deadline and eng.inflight:
                    self._timed_out()
                    deadline = time.monotonic() + self._timeout
                continue
            if eng.progress != progress or self._wrote:
                if eng.progress != progress:
                    progress = eng.progress
                    self._lost = None
                    self._fails = 0
                self._wrote = False
                deadline = time.monotonic() + self._timeout
            if until is None:
                return

    def _wait(self, deadline):
        t = deadline - time.monotonic()
        nd = self._eng.next_due()
        if nd is not None:
            t = min(t, nd - time.monotonic())
        return max(t, 0.0)

    def _timed_out(self):
        name = W.server_name(self._servers[self._cur])
        self._drop()
        self._eng.fail_inflight(E.Timeout("timeout: no answer from %s within %g s" % (
            name, self._timeout)))
        self._eng.lost()
        self._cur = (self._cur + 1) % len(self._servers)

    def _io(self, wait):
        """One poll: writes what the socket takes, reads what it has.
        False when nothing happened within `wait` seconds."""
        s = self._sock
        want_write = self._woff < len(self._wbuf)
        if isinstance(s, ssl.SSLSocket) and s.pending():
            ev = _POLLIN
        else:
            p = select.poll()
            p.register(s, _POLLIN | (_POLLOUT if want_write else 0))
            got = p.poll(wait * 1000.0)
            if not got:
                return False
            ev = got[0][1]
        if ev & _POLLOUT and want_write:
            try:
                n = s.send(memoryview(self._wbuf)[self._woff:self._woff + _WRITE])
                self._woff += n
                self._wrote = n > 0
            except (BlockingIOError, ssl.SSLWantWriteError, ssl.SSLWantReadError, InterruptedError):
                pass
            except OSError as e:
                self._broken(_why(e))
                return True
        if ev & (_POLLIN | _POLLERR):
            self._read()
        return True

    def _read(self):
        s = self._sock
        while s is not None:
            try:
                data = s.recv(_READ)
            except (BlockingIOError, ssl.SSLWantReadError, ssl.SSLWantWriteError, InterruptedError):
                return
            except OSError as e:
                self._broken(_why(e))
                return
            if not data:
                self._broken("closed by the server")
                return
            try:
                self._eng.feed(data)
            except E.ProtocolError as e:
                name = W.server_name(self._servers[self._cur])
                self._drop()
                self._eng.fail_inflight(E.ProtocolError("protocol error: %s: %s" % (name, e)))
                self._eng.lost()
                self._cur = (self._cur + 1) % len(self._servers)
                return
            if len(data) < _READ and not (isinstance(s, ssl.SSLSocket) and s.pending()):
                return


def _why(e):
    if isinstance(e, socket.timeout):
        return "timed out"
    if isinstance(e, ssl.SSLCertVerificationError) and e.verify_message:
        return "%s: %s" % (e.reason or "certificate verify failed", e.verify_message)
    if isinstance(e, ssl.SSLError):
        return e.reason or str(e)
    return e.strerror or errno.errorcode.get(e.errno, str(e))
