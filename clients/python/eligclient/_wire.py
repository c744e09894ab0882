"""What the sync and asyncio clients share: wire constants, query checks,
typed answers, and the sans-I/O request engine (no sockets here).

The engine keeps every request that has no answer yet, encoded once, in
order. Written requests wait in `inflight` (the server answers them in
order); when a connection is lost they go back to the front of `unsent`
and are written again to the next connection, so each request is answered
exactly once or failed once: never lost, never answered twice. Queries are
read-only, so a request the dead server did execute is harmless to repeat.
"""
import collections
import os
import re
import ssl
import time

import msgpack

from . import errors as E

# SPEC 3 wire constants.
REQUEST, RESPONSE, NOTIFY = 0, 1, 2
MAX_BATCH = 10000
DEFAULT_SERVER = "127.0.0.1:7420"
KINDS = frozenset(("nik", "kk", "kks"))
REASONS = ("eligible", "not_found", "member_deceased", "household_suspended",
           "household_graduated", "household_terminated", "not_enrolled",
           "outside_period", "enrollment_suspended")
ANSWER_KEYS = ("eligible", "reason", "kk", "region", "amount", "snapshot")
UNAUTHORIZED, UNAVAILABLE, RATE_LIMITED = 4, 5, 6


# ---------------------------------------------------------------------------
# Typed answers: dicts with attribute access, so a["eligible"] and
# a.eligible both work and json.dumps(a) gives the SPEC 3 map.
# ---------------------------------------------------------------------------

def _key(name):
    return property(lambda self: self[name], doc="the %r key" % name)


class Answer(dict):
    """One answer map of SPEC 3: eligible, reason, kk, region, amount,
    snapshot (kk and region None when not_found)."""
    __slots__ = ()
    eligible = _key("eligible")
    reason = _key("reason")
    kk = _key("kk")
    region = _key("region")
    amount = _key("amount")
    snapshot = _key("snapshot")

    def __repr__(self):
        return "Answer(%s)" % dict.__repr__(self)


class Household(dict):
    """The household map of SPEC 3: kk, region, status, kks, members,
    enrollments (a list of dicts: program, start, end, amount, status)."""
    __slots__ = ()
    kk = _key("kk")
    region = _key("region")
    status = _key("status")
    kks = _key("kks")
    members = _key("members")
    enrollments = _key("enrollments")

    def __repr__(self):
        return "Household(%s)" % dict.__repr__(self)


# ---------------------------------------------------------------------------
# Query syntax (SPEC 2), checked before anything is sent
# ---------------------------------------------------------------------------

_PROGRAM = re.compile(r"[A-Z0-9_]{1,16}\Z")
_PERIOD = re.compile(r"([0-9]{4})-(0[1-9]|1[0-2])\Z")
_ok_programs, _ok_periods = set(), set()  # caches of values seen valid


def _field_error(kind, ident, program, period):
    if type(kind) is not str or kind not in KINDS:
        return "kind"
    if type(ident) is not str or len(ident) != 16 or not (ident.isascii() and ident.isdigit()):
        return "id"
    if type(program) is not str or not _PROGRAM.match(program):
        return "program"
    if type(period) is not str or not _PERIOD.match(period) or period.startswith("0000"):
        return "period"
    return None


def check_query(kind, ident, program, period, index=None):
    """Raises InvalidQuery unless (kind, id, program, period) is a valid
    SPEC 2 query."""
    if (kind in KINDS and type(ident) is str and len(ident) == 16 and ident.isdigit()
            and ident.isascii() and program in _ok_programs and period in _ok_periods):
        return
    field = _field_error(kind, ident, program, period)
    if field:
        raise E.InvalidQuery(field, index)
    if len(_ok_programs) < 4096:
        _ok_programs.add(program)
    if len(_ok_periods) < 4096:
        _ok_periods.add(period)


def check_items(items):
    """The queries of a batch as a list of 4-item lists, each checked."""
    out = []
    for i, q in enumerate(items):
        if isinstance(q, dict):
            q = (q.get("kind"), q.get("id"), q.get("program"), q.get("period"))
        try:
            kind, ident, program, period = q
        except (TypeError, ValueError):
            raise E.InvalidQuery("query", i, "want (kind, id, program, period)")
        check_query(kind, ident, program, period, i)
        out.append(q)
    return out


def check_kind_id(kind, ident):
    if type(kind) is not str or kind not in KINDS:
        raise E.InvalidQuery("kind")
    if type(ident) is not str or len(ident) != 16 or not (ident.isascii() and ident.isdigit()):
        raise E.InvalidQuery("id")


# ---------------------------------------------------------------------------
# Decoding results
# ---------------------------------------------------------------------------

_ANSWER_KEYSET = frozenset(ANSWER_KEYS)


def _answer(res):
    if type(res) is dict and res.keys() >= _ANSWER_KEYSET:
        return Answer(res)
    if type(res) is not dict:
        raise E.ProtocolError("answer is not a map: %.100r" % (res,))
    raise E.ProtocolError("answer lacks %s: %.200r" % (
        ", ".join(sorted(_ANSWER_KEYSET - res.keys())), res))


def decode_ping(res):
    if res != "pong":
        raise E.ProtocolError("ping answered %.100r, not 'pong'" % (res,))
    return res


def decode_check(res):
    return _answer(res)


def decode_batch(n):
    def decode(res):
        if type(res) is not list or len(res) != n:
            raise E.ProtocolError("check_batch of %d answered %.100r" % (n, res))
        return [_answer(a) for a in res]
    return decode


def decode_household(res):
    if res is None:
        return None
    if type(res) is not dict:
        raise E.ProtocolError("household is not a map or nil: %.100r" % (res,))
    return Household(res)


def decode_info(res):
    if type(res) is not dict:
        raise E.ProtocolError("info is not a map: %.100r" % (res,))
    return res


def decode_auth(res):
    if res is not True:
        raise E.ProtocolError("auth answered %.100r, not true" % (res,))
    return True


def decode_reload(res):
    if type(res) is not dict or type(res.get("snapshot")) is not str:
        raise E.ProtocolError("reload answered %.100r, not {snapshot, content_sha256}" % (res,))
    return res


def decode_any(res):
    return res


# ---------------------------------------------------------------------------
# Servers, credentials, TLS
# ---------------------------------------------------------------------------

def parse_servers(servers):
    """"host:port", "[v6]:port" or "unix:/path"; a comma list or a list of
    them. Returns a list of ("tcp", host, port) / ("unix", path, None)."""
    if servers is None:
        servers = DEFAULT_SERVER
    if isinstance(servers, str):
        servers = [s for s in servers.split(",") if s.strip()]
    out = []
    for s in servers:
        s = s.strip()
        if s.startswith("unix:"):
            if len(s) == 5:
                raise ValueError("server %r: no socket path" % s)
            out.append(("unix", s[5:], None))
            continue
        host, sep, port = s.rpartition(":")
        if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError("server %r: want HOST:PORT, [IPv6]:PORT or unix:PATH" % s)
        if host.startswith("[") and host.endswith("]"):
            host = host[1:-1]
        out.append(("tcp", host, int(port)))
    if not out:
        raise ValueError("no server given")
    return out


def server_name(addr):
    kind, host, port = addr
    if kind == "unix":
        return "unix:" + host
    return ("[%s]:%d" if ":" in host else "%s:%d") % (host, port)


class Credentials:
    """A channel and its token (SPEC 6). The token never appears in a repr,
    a log line or an exception message."""
    __slots__ = ("channel", "_token")

    def __init__(self, channel, token):
        self.channel = channel
        self._token = token

    def params(self):
        return [self.channel, self._token]

    def __repr__(self):
        return "Credentials(channel=%r, token=<hidden>)" % self.channel


def credentials(channel=None, token=None, token_file=None, env=None):
    """Credentials from the arguments, else from ELIG_CHANNEL and
    ELIG_TOKEN_FILE; None when there is no channel. The token file holds
    the token (surrounding white space ignored)."""
    env = os.environ if env is None else env
    channel = channel if channel is not None else env.get("ELIG_CHANNEL") or None
    if channel is None:
        if token is not None or token_file is not None:
            raise ValueError("a token was given without a channel")
        return None
    if token is None:
        token_file = token_file or env.get("ELIG_TOKEN_FILE")
        if not token_file:
            raise ValueError("channel %r has no token: give token= or token_file=, "
                             "or set ELIG_TOKEN_FILE" % channel)
        try:
            with open(token_file, encoding="utf-8") as f:
                token = f.read().strip()
        except OSError as e:
            raise ValueError("token file %s: %s" % (token_file, e.strerror)) from None
        if not token:
            raise ValueError("token file %s is empty" % token_file)
    return Credentials(channel, token)


def tls_context(tls=False, ca=None, cert=None, key=None, verify=True):
    """An ssl.SSLContext for TLS 1.2+ (SPEC 6): the server's certificate and
    name verified against `ca` (or the system's CAs) unless verify=False;
    a client certificate when `cert` (and `key`) are given. `tls` may be an
    SSLContext, used as it is. None when TLS is off."""
    if isinstance(tls, ssl.SSLContext):
        return tls
    if not (tls or ca or cert):
        return None
    ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=ca)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    if not verify:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    if cert:
        ctx.load_cert_chain(cert, key)
    return ctx


# ---------------------------------------------------------------------------
# The request engine
# ---------------------------------------------------------------------------

_pack = msgpack.Packer(use_bin_type=True).pack  # one packer: packb makes one a call
_MAX_WINDOW = 1024  # after a rate limit, the window grows to this, then goes away


class ClientOptions:
    """The options Client and AsyncClient share (their docstrings list them):
    checked and kept on the client by this __init__, which both call."""

    def __init__(self, servers=None, *, timeout=5.0, connect_timeout=2.0, retries=5,
                 backoff=0.1, backoff_max=2.0, batch_max=MAX_BATCH, tls=False,
                 tls_ca=None, tls_cert=None, tls_key=None, tls_verify=True,
                 server_hostname=None, channel=None, token=None, token_file=None,
                 max_message=16 << 20, rate_wait=60.0):
        if not 1 <= batch_max <= MAX_BATCH:
            raise ValueError("batch_max must be in 1-%d" % MAX_BATCH)
        self._servers = parse_servers(servers)
        self._timeout = timeout
        self._connect_timeout = connect_timeout
        self._retries = retries
        self._batch_max = batch_max
        self._ssl = tls_context(tls, tls_ca, tls_cert, tls_key, tls_verify)
        self._server_hostname = server_hostname
        self._eng = Engine(retries, backoff, backoff_max, max_message,
                         credentials(channel, token, token_file), rate_wait)
        self._cur = 0


class Request:
    """One request: encoded once, answered or failed once."""
    __slots__ = ("msgid", "data", "decode", "done", "value", "error", "retries", "limited",
                 "on_done", "internal", "retry")

    def __init__(self, msgid, method, params, decode, internal=False, retry=True):
        self.msgid = msgid
        self.data = _pack([REQUEST, msgid, method, params])
        self.decode = decode
        self.done = False
        self.value = None
        self.error = None
        self.retries = 0      # re-sends after unavailable
        self.limited = 0.0    # seconds waited on rate_limited so far
        self.on_done = None
        self.internal = internal
        self.retry = retry    # False: an error 5 or 6 is final (reload)

    def finish(self, value=None, error=None):
        self.done = True
        self.value = value
        self.error = error
        self.data = None
        if self.on_done is not None:
            self.on_done(self)


class Engine:
    """Request bookkeeping for one client, whatever does its I/O.

    The I/O side calls: connected() after a connection is made (it returns
    nothing; take() then gives the bytes to write), take() for the bytes of
    requests not yet written, feed(data) with bytes read, lost() when the
    connection is gone (unanswered requests will be written again), and
    fail_all(exc) to give up. due() moves delayed retries back in line.

    Rate limits: an answer rate_limited "retry after N ms" holds every
    request not yet written (and those submitted meanwhile) until then, as
    well as the refused one, and then lets one request out at a time,
    doubling the window with each answer until it is gone (as TCP's slow
    start does): the client settles at the channel's rate instead of
    writing what the server would refuse. A request keeps being retried
    while its waits add up to at most `rate_wait` seconds."""

    def __init__(self, retries=3, backoff=0.05, backoff_max=2.0, max_message=16 << 20,
                 creds=None, rate_wait=60.0):
        self.retries = retries
        self.backoff = backoff
        self.backoff_max = backoff_max
        self.max_message = max_message
        self.creds = creds
        self.rate_wait = rate_wait
        self.next_id = 1
        self.unsent = collections.deque()    # not written on this connection
        self.inflight = collections.deque()  # written, answers come in this order
        self.delayed = []                    # [(due, request)] retries waiting
        self.hold_until = 0.0                # rate_limited: nothing new written before
        self.window = None                   # rate_limited: requests in flight at most
        self.unpacker = None
        self.progress = 0                    # answers received, ever
        self.auth_error = None               # this connection's internal auth failed so

    # -- requests --------------------------------------------------------------

    def submit(self, method, params, decode, internal=False, front=False, retry=True):
        msgid = self.next_id
        self.next_id = msgid + 1 if msgid < 0xFFFFFFFF else 1
        r = Request(msgid, method, params, decode, internal, retry)
        if front:
            self.unsent.appendleft(r)
        elif self.hold_until and time.monotonic() < self.hold_until:
            self.delayed.append((self.hold_until, r))
        else:
            self.unsent.append(r)
        return r

    def pending(self):
        return len(self.unsent) + len(self.inflight) + len(self.delayed)

    def take(self):
        """The bytes of every request not yet written; they count as in
        flight from now on."""
        if not self.unsent:
            return b""
        u = self.unsent
        if self.window is None:
            self.inflight.extend(u)
            data = b"".join(r.data for r in u)
            u.clear()
            return data
        room = self.window - len(self.inflight)
        out = []
        while u and (room > 0 or u[0].internal):
            r = u.popleft()
            self.inflight.append(r)
            out.append(r.data)
            room -= not r.internal
        return b"".join(out)

    def next_due(self):
        return min(d for d, _ in self.delayed) if self.delayed else None

    def due(self, now=None):
        """Moves retries whose time has come to the back of the line."""
        if not self.delayed:
            return
        now = time.monotonic() if now is None else now
        keep = []
        for d, r in sorted(self.delayed, key=lambda x: x[0]):
            if d <= now:
                self.unsent.append(r)
            else:
                keep.append((d, r))
        self.delayed = keep

    # -- connection events -------------------------------------------------------

    def connected(self):
        self.unpacker = msgpack.Unpacker(raw=False, max_buffer_size=self.max_message,
                                         strict_map_key=False)
        self.auth_error = None
        if self.creds is not None:
            self.submit("auth", self.creds.params(), decode_auth, internal=True, front=True)

    def lost(self):
        """The connection is gone: every written request waits to be written
        again, first, in its order; an internal auth is redone on connect."""
        back = [r for r in self.inflight if not r.internal]
        back.extend(r for r in self.unsent if not r.internal)
        self.inflight.clear()
        self.unsent = collections.deque(back)
        self.unpacker = None

    def fail_inflight(self, exc):
        """Fails the requests written on this connection (a timeout)."""
        for r in self.inflight:
            r.finish(error=exc)
        self.inflight.clear()

    def fail_all(self, exc):
        todo = list(self.inflight) + list(self.unsent) + [r for _, r in self.delayed]
        self.inflight.clear()
        self.unsent.clear()
        self.delayed = []
        for r in todo:
            if not r.internal:
                r.finish(error=exc)

    # -- answers -------------------------------------------------------------------

    def feed(self, data):
        """Bytes read from the server. Raises ProtocolError when they are not
        answers to the requests in flight (the connection must then go)."""
        u = self.unpacker
        u.feed(data)
        try:
            for m in u:
                self._answer(m)
        except (msgpack.ExtraData, msgpack.FormatError, msgpack.StackError, ValueError) as e:
            raise E.ProtocolError("not msgpack, or over the size limit: %s" % e) from None

    def _answer(self, m):
        if type(m) is not list or len(m) != 4 or m[0] != RESPONSE or type(m[1]) is not int:
            raise E.ProtocolError("not a msgpack-RPC response: %.200r" % (m,))
        if not self.inflight:
            raise E.ProtocolError("an answer to no request: %.200r" % (m,))
        r = self.inflight[0]
        if m[1] != r.msgid:
            raise E.ProtocolError("answer to msgid %r, want %d (out of order)" % (m[1], r.msgid))
        self.inflight.popleft()
        self.progress += 1
        err = m[2]
        if self.window is not None and not (err is not None and type(err) is list and err
                                            and err[0] == RATE_LIMITED):
            self.window = None if self.window >= _MAX_WINDOW else self.window * 2
        if err is not None:
            if (type(err) is not list or len(err) != 2 or type(err[0]) is not int
                    or type(err[1]) is not str):
                raise E.ProtocolError("error object %.200r is not [code, message]" % (err,))
            self._error(r, err[0], err[1])
            return
        try:
            value = r.decode(m[3])
        except E.ProtocolError as e:
            r.finish(error=e)
            raise
        if r.internal:
            self.auth_error = None
            return
        r.finish(value)

    def _error(self, r, code, message):
        if r.internal:  # the auth of the credentials, sent first on this connection
            self.auth_error = E.server_error(code, message)
            return
        if code == UNAUTHORIZED and self.auth_error is not None and self.creds is not None:
            # refused because that auth failed: say so, not "call auth first"
            e = self.auth_error
            r.finish(error=E.server_error(e.code, "auth as channel %s refused: %s" % (
                self.creds.channel, e.message)))
            return
        exc = E.server_error(code, message)
        if r.retry and code == RATE_LIMITED and exc.retry_after is not None \
                and r.limited + exc.retry_after <= self.rate_wait:
            r.limited += exc.retry_after
            self.window = 1
            self._hold(time.monotonic() + exc.retry_after)
            self.delayed.append((self.hold_until, r))
            return
        if r.retry and code == UNAVAILABLE and r.retries < self.retries:
            r.retries += 1
            wait = min(self.backoff * (2 ** (r.retries - 1)), self.backoff_max)
            self.delayed.append((time.monotonic() + wait, r))
            return
        r.finish(error=exc)

    def _hold(self, until):
        """Nothing not yet written goes out before `until` (rate_limited)."""
        if until <= self.hold_until:
            return
        self.hold_until = until
        keep = collections.deque(r for r in self.unsent if r.internal)
        self.delayed.extend((until, r) for r in self.unsent if not r.internal)
        self.unsent = keep

    def backoff_wait(self, round_no):
        """Pause before the round_no-th (from 1) new round of connection tries."""
        return min(self.backoff * (2 ** (round_no - 1)), self.backoff_max)
