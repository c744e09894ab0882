"""The exceptions of eligclient: one class per way a request can fail.

    EligError
    ├── InvalidQuery      the query breaks SPEC 2; found before anything is sent
    ├── ConnectError      no server in the list accepted a connection
    ├── ConnectionLost    the connection broke and no server took over in time
    ├── Timeout           no answer within the timeout
    ├── ProtocolError     the server sent something that is not a valid answer
    └── ServerError       the server answered with an error object [code, message]
        ├── BadRequest        1  params of the wrong shape or value
        ├── UnknownMethod     2  no such method (names are case-sensitive)
        ├── TooLarge          3  a batch over the server's limit
        ├── Unauthorized      4  not authenticated, or outside the channel's grant
        ├── Unavailable       5  the server cannot answer now (retried by the client)
        └── RateLimited       6  over the channel's rate (retried after the given delay)
"""
import re

__all__ = ["EligError", "InvalidQuery", "ConnectError", "ConnectionLost", "Timeout",
           "ProtocolError", "ServerError", "BadRequest", "UnknownMethod", "TooLarge",
           "Unauthorized", "Unavailable", "RateLimited", "server_error"]


class EligError(Exception):
    """Base class of every error this package raises."""


class InvalidQuery(EligError, ValueError):
    """A query that breaks SPEC 2 (kind, 16-digit id, programme, period).

    `field` names the bad field ("kind", "id", "program", "period" or
    "query"), `index` the 0-based item of a batch (None for one query)."""

    def __init__(self, field, index=None, detail=""):
        self.field = field
        self.index = index
        where = "item %d: " % index if index is not None else ""
        super().__init__("%sbad %s%s" % (where, field, ": " + detail if detail else ""))


class ConnectError(EligError):
    """No server in the list accepted a connection."""


class ConnectionLost(EligError):
    """A connection broke and no server took over within the retries."""


class Timeout(EligError):
    """No answer (or connection) within the timeout."""


class ProtocolError(EligError):
    """The server sent bytes that are not a valid msgpack-RPC answer."""


class ServerError(EligError):
    """The server answered with the error object [code, message]."""

    code = 0

    def __init__(self, code, message):
        self.code = code
        self.message = message
        super().__init__("server error %d (%s): %s" % (code, _NAMES.get(code, "unknown"), message))


class BadRequest(ServerError):
    code = 1


class UnknownMethod(ServerError):
    code = 2


class TooLarge(ServerError):
    code = 3


class Unauthorized(ServerError):
    code = 4


class Unavailable(ServerError):
    code = 5


class RateLimited(ServerError):
    """Over the channel's rate. `retry_after` is the wait the server asked
    for, in seconds, from its message `rate_limited: retry after N ms`; None
    when the message names none (a check_batch larger than the channel's
    burst, which waiting does not cure: split it)."""

    code = 6

    def __init__(self, code, message):
        super().__init__(code, message)
        self.retry_after = retry_after_s(message)


_CLASSES = {1: BadRequest, 2: UnknownMethod, 3: TooLarge, 4: Unauthorized,
            5: Unavailable, 6: RateLimited}
_NAMES = {1: "bad_request", 2: "unknown_method", 3: "too_large", 4: "unauthorized",
          5: "unavailable", 6: "rate_limited"}


def server_error(code, message):
    """The exception for an error object: the class of its code, or
    ServerError for a code this version does not know."""
    return _CLASSES.get(code, ServerError)(code, message)


_RETRY_AFTER = re.compile(r"retry after (\d+) ms")


def retry_after_s(message):
    """The delay a rate_limited message asks for, in seconds: N of its
    "retry after N ms" (eligd's wording, daemon/auth.c); None if it has
    none."""
    m = _RETRY_AFTER.search(message)
    return int(m.group(1)) / 1000.0 if m else None
