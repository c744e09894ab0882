"""eligclient.AsyncClient: the asyncio client.

Every coroutine that asks something queues its request in the shared
engine; the requests queued during one turn of the event loop go out in
one write, and one task reads the answers and wakes their callers. So
`await asyncio.gather(*(c.check(...) for ...))` is a pipeline.
"""
import asyncio
import ssl
import time

from . import _wire as W
from . import errors as E
from .client import RELOAD_TIMEOUT, _why

__all__ = ["AsyncClient"]

_READ = 1 << 18
_HIGH_WATER = 4 << 20  # buffered request bytes before a caller waits for drain


class AsyncClient(W.ClientOptions):
    """An asyncio eligd client; the options are those of Client.

        async with eligclient.AsyncClient("127.0.0.1:7420") as c:
            a = await c.check("nik", "3171011501900001", "PKH", "2026-11")

    Use it from one event loop. Requests from concurrent tasks are
    pipelined on one connection; after a lost connection the unanswered
    ones are written again to the next server that accepts.
    """

    def __init__(self, servers=None, **options):
        super().__init__(servers, **options)
        self._reader = self._writer = None
        self._task = None        # the driver: connects, reads, fails over
        self._wake = None        # set when there is work for the driver
        self._flush_soon = False
        self._timer = None       # next delayed retry
        self._last = 0.0         # last progress (an answer, or first write)
        self._fails = 0
        self._lost = None
        self._closed = False

    async def __aenter__(self):
        return self

    async def __aexit__(self, *exc):
        await self.close()
        return False

    async def close(self):
        """Closes the connection; requests not answered yet fail."""
        self._closed = True
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except BaseException:
                pass
            self._task = None
        self._drop()
        self._eng.fail_all(E.ConnectionLost("client closed"))

    @property
    def server(self):
        return W.server_name(self._servers[self._cur]) if self._writer else None

    # -- requests ------------------------------------------------------------------

    async def ping(self):
        return await self._call("ping", [], W.decode_ping)

    async def check(self, kind, id, program, period):
        W.check_query(kind, id, program, period)
        return await self._call("check", [kind, id, program, period], W.decode_check)

    async def check_batch(self, queries):
        """As Client.check_batch: split in batch_max chunks, all pipelined."""
        items = W.check_items(queries)
        step = self._batch_max
        parts = [self._call("check_batch", [items[i:i + step]],
                            W.decode_batch(len(items[i:i + step])))
                 for i in range(0, len(items), step)]
        out = []
        for answers in await asyncio.gather(*parts):
            out.extend(answers)
        return out

    async def household(self, kind, id):
        W.check_kind_id(kind, id)
        return await self._call("household", [kind, id], W.decode_household)

    async def info(self):
        return await self._call("info", [], W.decode_info)

    async def auth(self, channel=None, token=None, *, token_file=None):
        creds = W.credentials(channel, token, token_file)
        if creds is None:
            raise ValueError("auth: no channel given and ELIG_CHANNEL is not set")
        await self._call("auth", creds.params(), W.decode_auth)
        self._eng.creds = creds
        return True

    async def reload(self, timeout=RELOAD_TIMEOUT):
        """As Client.reload: not retried; waits up to `timeout` (300 s)."""
        old = self._timeout
        self._timeout = max(old, timeout)
        try:
            return await self._call("reload", [], W.decode_reload, retry=False)
        finally:
            self._timeout = old

    async def call(self, method, params):
        return await self._call(method, list(params), W.decode_any)

    async def _call(self, method, params, decode, retry=True):
        if self._closed:
            raise E.ConnectionLost("client closed")
        loop = asyncio.get_running_loop()
        fut = loop.create_future()
        r = self._eng.submit(method, params, decode, retry=retry)
        r.on_done = lambda _r: fut.done() or fut.set_result(None)
        self._kick(loop)
        if self._eng.delayed:  # held back by a rate limit: the timer brings it
            self._arm_timer()
        w = self._writer
        if w is not None and w.transport.get_write_buffer_size() > _HIGH_WATER:
            try:
                await w.drain()
            except (OSError, RuntimeError):
                pass  # the driver sees the broken connection
        await fut
        if r.error is not None:
            raise r.error.with_traceback(None)
        return r.value

    # -- the driver ------------------------------------------------------------

    def _kick(self, loop):
        if self._task is None or self._task.done():
            self._wake = asyncio.Event()
            self._task = loop.create_task(self._drive())
        if self._writer is not None:
            if not self._flush_soon:
                self._flush_soon = True
                loop.call_soon(self._flush)
        else:
            self._wake.set()

    def _flush(self):
        self._flush_soon = False
        if self._writer is None or not self._eng.unsent:
            return
        if not self._eng.inflight:
            self._last = time.monotonic()
        self._writer.write(self._eng.take())

    def _on_due(self):
        self._timer = None
        self._eng.due()
        self._kick(asyncio.get_running_loop())
        self._arm_timer()

    def _arm_timer(self):
        nd = self._eng.next_due()
        if nd is not None and self._timer is None:
            loop = asyncio.get_running_loop()
            self._timer = loop.call_later(max(0.0, nd - time.monotonic()), self._on_due)

    async def _drive(self):
        eng = self._eng
        while not self._closed:
            if self._writer is None:
                if not eng.unsent and not eng.inflight:
                    self._wake.clear()
                    await self._wake.wait()
                    continue
                try:
                    await self._connect()
                except E.EligError as e:
                    self._lost = None
                    eng.fail_all(e)
                    continue
                self._last = time.monotonic()
                self._flush()
            try:
                data = await asyncio.wait_for(self._reader.read(_READ), min(self._timeout, 1.0))
            except asyncio.TimeoutError:
                if eng.inflight and time.monotonic() - self._last >= self._timeout:
                    name = W.server_name(self._servers[self._cur])
                    self._drop()
                    eng.fail_inflight(E.Timeout("timeout: no answer from %s within %g s" % (
                        name, self._timeout)))
                    eng.lost()
                    self._cur = (self._cur + 1) % len(self._servers)
                continue
            except (OSError, ssl.SSLError) as e:
                self._broken(_why(e))
                continue
            if not data:
                self._broken("closed by the server")
                continue
            before = eng.progress
            try:
                eng.feed(data)
            except E.ProtocolError as e:
                name = W.server_name(self._servers[self._cur])
                self._drop()
                eng.fail_inflight(E.ProtocolError("protocol error: %s: %s" % (name, e)))
                eng.lost()
                self._cur = (self._cur + 1) % len(self._servers)
                continue
            if eng.progress != before:
                self._last = time.monotonic()
                self._fails = 0
                self._lost = None
            self._arm_timer()
            if eng.unsent:
                self._flush()

    async def _open(self, addr):
        kind, host, port = addr
        if kind == "unix":
            return await asyncio.open_unix_connection(host, limit=_READ)
        r, w = await asyncio.open_connection(
            host, port, ssl=self._ssl, limit=_READ,
            server_hostname=(self._server_hostname or host) if self._ssl else None)
        return r, w

    async def _connect(self):
        n = len(self._servers)
        limit = (self._retries + 1) * n
        last = ""
        while self._fails < limit:
            if self._fails >= n and self._fails % n == 0:
                await asyncio.sleep(self._eng.backoff_wait(self._fails // n))
            addr = self._servers[self._cur]
            try:
                self._reader, self._writer = await asyncio.wait_for(
                    self._open(addr), self._connect_timeout)
            except (OSError, ssl.SSLError, asyncio.TimeoutError) as e:
                last = "cannot connect to %s: %s" % (
                    W.server_name(addr), "timed out" if isinstance(e, asyncio.TimeoutError) else _why(e))
                self._fails += 1
                self._cur = (self._cur + 1) % n
                continue
            self._eng.connected()
            return
        self._fails = 0
        if self._lost:
            raise E.ConnectionLost("%s; no server took over%s" % (
                self._lost, " (%s)" % last if last else ""))
        raise E.ConnectError(last)

    def _drop(self):
        if self._writer is not None:
            try:
                self._writer.close()
            except (OSError, RuntimeError):
                pass
        self._reader = self._writer = None

    def _broken(self, why):
        if self._eng.inflight:
            self._fails += 1
            self._lost = "connection lost: %s: %s" % (W.server_name(self._servers[self._cur]), why)
        self._drop()
        self._eng.lost()
        self._cur = (self._cur + 1) % len(self._servers)
