"""eligclient: a Python client of eligd (msgpack-RPC, docs/PROTOCOL.md).

    import eligclient
    with eligclient.Client("127.0.0.1:7420") as c:
        a = c.check("nik", "3171011501900001", "PKH", "2026-11")
        print(a["eligible"], a.reason, a.amount)

    async with eligclient.AsyncClient("127.0.0.1:7420") as c:
        a = await c.check("nik", "3171011501900001", "PKH", "2026-11")

Needs only msgpack (Debian: python3-msgpack).
"""
from ._wire import ANSWER_KEYS, KINDS, MAX_BATCH, REASONS, Answer, Household
from .aio import AsyncClient
from .client import Client, Pending
from .errors import (BadRequest, ConnectError, ConnectionLost, EligError, InvalidQuery,
                     ProtocolError, RateLimited, ServerError, Timeout, TooLarge, Unauthorized,
                     Unavailable, UnknownMethod)

__version__ = "0.1.0"

__all__ = ["Client", "AsyncClient", "Pending", "Answer", "Household", "ANSWER_KEYS", "KINDS",
           "MAX_BATCH", "REASONS", "EligError", "InvalidQuery", "ConnectError",
           "ConnectionLost", "Timeout", "ProtocolError", "ServerError", "BadRequest",
           "UnknownMethod", "TooLarge", "Unauthorized", "Unavailable", "RateLimited"]
