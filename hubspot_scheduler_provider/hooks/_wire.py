"""The ``requests`` session every HubSpot request goes through, bounded by design.

Whoever sends through it (the transport, ``HttpOperator`` via ``run()``, code holding ``get_conn()``):

* **no redirect is ever followed** (:meth:`BoundedSession.get_redirect_target` finds none, whatever
  ``allow_redirects`` says): a 307/308 would re-send the body, OAuth client secret included, and the
  token to any host, even plain http. The 3xx answer is returned; the transport turns it into an error;
* **one deadline per request**: ``timeout`` seconds for connect plus every read, not per socket read (a
  server dripping a byte a second would otherwise hold a ``timeout=2`` request open for as long as it
  drips). One watchdog thread (per process, for every request) shuts the request's socket down when the
  deadline passes, which wakes a read blocked in the middle of headers or body; the request then fails
  with :class:`DeadlineExceeded`;
* **bodies read in chunks up to a size cap** (:class:`ResponseTooLarge` beyond it), gzip/deflate
  inflated here in bounded steps (a gzip bomb never expands past the cap); other encodings are refused.
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import os
import socket
import threading
import time
import zlib
from typing import TYPE_CHECKING, Any

import requests
import urllib3
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection

from hubspot_scheduler_provider.connection_form import DEFAULT_MAX_RESPONSE_BYTES
from hubspot_scheduler_provider.hooks._retry import never_sent

if TYPE_CHECKING:
    from urllib3 import PoolManager

#: What the session asks for and can inflate within the cap.
ACCEPTED_ENCODINGS = "gzip, deflate"
_CHUNK_BYTES = 64 * 1024
_INFLATERS = {"gzip": 16 + zlib.MAX_WBITS, "x-gzip": 16 + zlib.MAX_WBITS, "deflate": zlib.MAX_WBITS}

#: The deadline of the request this thread is sending (connections register with it as they are used).
_current = threading.local()


class DeadlineExceeded(requests.exceptions.ReadTimeout):
    """No complete answer within the request's total deadline."""


class ResponseTooLarge(requests.exceptions.RequestException):
    """The answer's body is larger than the session's cap; ``limit`` is the cap in bytes."""

    def __init__(self, message: str, *, limit: int, response: requests.Response) -> None:
        super().__init__(message, response=response)
        self.limit = limit


class UnsupportedEncoding(requests.exceptions.ContentDecodingError):
    """The answer uses a content encoding the session did not ask for and will not decode."""


class _Watchdog:
    """One daemon thread that expires every request's :class:`_Deadline` when it is due.

    A thread (or ``threading.Timer``) started per request costs more than a whole booking on loopback;
    here a request's deadline is one heap push, and a finished request's entry is dropped when it
    reaches the top of the heap."""

    def __init__(self) -> None:
        self._reset()

    def _reset(self) -> None:
        # Also in a forked child (Celery's prefork pool, Airflow's task runner): the parent's thread is not
        # there, and its lock may have been held at the fork.
        self._changed = threading.Condition(threading.Lock())
        self._due: list[tuple[float, int, _Deadline]] = []
        self._order = itertools.count()
        self._thread: threading.Thread | None = None

    def watch(self, deadline: _Deadline, seconds: float) -> None:
        with self._changed:
            heapq.heappush(self._due, (time.monotonic() + seconds, next(self._order), deadline))
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="hubspot-deadlines", daemon=True)
                self._thread.start()
            elif self._due[0][2] is deadline:
                self._changed.notify()

    def _run(self) -> None:
        while True:
            with self._changed:
                while True:
                    while self._due and self._due[0][2].finished:
                        heapq.heappop(self._due)
                    left = self._due[0][0] - time.monotonic() if self._due else None
                    if left is not None and left <= 0:
                        expired = heapq.heappop(self._due)[2]
                        break
                    self._changed.wait(left)
            expired.expire()


_WATCHDOG = _Watchdog()
os.register_at_fork(after_in_child=_WATCHDOG._reset)


class _Deadline:
    """Shuts down the sockets the request uses when ``seconds`` have passed (see :class:`_Watchdog`)."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.expired = False
        #: The request ended (answered or failed): the watchdog leaves it alone.
        self.finished = False
        self._lock = threading.Lock()
        self._sockets: list[socket.socket] = []

    def __enter__(self) -> _Deadline:
        self._previous = getattr(_current, "deadline", None)
        _current.deadline = self
        _WATCHDOG.watch(self, self.seconds)
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.finished = True
        _current.deadline = self._previous

    def attach(self, connection: Any) -> None:
        """Watch the connection's socket (kept: ``http.client`` drops its reference to the socket once
        the headers say the connection closes, while the body is still being read from it)."""
        sock = getattr(connection, "sock", None)
        if sock is None:
            return
        with self._lock:
            if all(known is not sock for known in self._sockets):
                self._sockets.append(sock)
            if self.expired:
                _shut_down(sock)

    def expire(self) -> None:
        with self._lock:
            if self.finished:
                return
            self.expired = True
            for sock in self._sockets:
                _shut_down(sock)


def _shut_down(sock: socket.socket) -> None:
    # The plain socket's shutdown, also for TLS sockets: it wakes a recv blocked in another thread.
    with contextlib.suppress(OSError):
        socket.socket.shutdown(sock, socket.SHUT_RDWR)


class _DeadlineConnection:
    """Mixed into urllib3's connections: registers the connection with the thread's request deadline."""

    def _attach(self) -> None:
        deadline: _Deadline | None = getattr(_current, "deadline", None)
        if deadline is not None:
            deadline.attach(self)

    def connect(self) -> None:
        super().connect()  # type: ignore[misc]
        self._attach()

    def request(self, *args: Any, **kwargs: Any) -> Any:
        self._attach()
        return super().request(*args, **kwargs)  # type: ignore[misc]

    def getresponse(self, *args: Any, **kwargs: Any) -> Any:
        self._attach()
        return super().getresponse(*args, **kwargs)  # type: ignore[misc]


class _BoundedHTTPConnection(_DeadlineConnection, HTTPConnection):
    pass


class _BoundedHTTPSConnection(_DeadlineConnection, HTTPSConnection):
    pass


class _BoundedHTTPPool(urllib3.HTTPConnectionPool):
    ConnectionCls = _BoundedHTTPConnection


class _BoundedHTTPSPool(urllib3.HTTPSConnectionPool):
    ConnectionCls = _BoundedHTTPSConnection


_STOCK_POOLS = {"http": urllib3.HTTPConnectionPool, "https": urllib3.HTTPSConnectionPool}
_BOUNDED_POOLS = {"http": _BoundedHTTPPool, "https": _BoundedHTTPSPool}


def _use_bounded_pools(manager: PoolManager) -> None:
    classes = manager.pool_classes_by_scheme
    if classes == _BOUNDED_POOLS:
        return
    if all(classes.get(scheme) is stock for scheme, stock in _STOCK_POOLS.items()):  # not SOCKS etc.
        manager.clear()  # pools built before were of the stock classes
        manager.pool_classes_by_scheme = dict(_BOUNDED_POOLS)


def bound_adapter(adapter: HTTPAdapter) -> None:
    """Make ``adapter``'s connections (direct and through proxies) honour the request deadline."""
    if getattr(adapter, "_hubspot_bounded", False):
        return
    _use_bounded_pools(adapter.poolmanager)
    for manager in adapter.proxy_manager.values():
        _use_bounded_pools(manager)
    stock_proxy_manager_for = adapter.proxy_manager_for

    def proxy_manager_for(proxy: str, **proxy_kwargs: Any) -> PoolManager:
        manager = stock_proxy_manager_for(proxy, **proxy_kwargs)
        _use_bounded_pools(manager)
        return manager

    adapter.proxy_manager_for = proxy_manager_for  # type: ignore[method-assign]
    adapter._hubspot_bounded = True  # type: ignore[attr-defined]


def total_seconds(timeout: Any) -> float | None:
    """The whole request's deadline for a ``requests`` timeout: ``t`` or ``(connect, read)`` -> sum."""
    if timeout is None:
        return None
    if isinstance(timeout, tuple):
        parts = [float(part) for part in timeout if part is not None]
        return sum(parts) if len(parts) == len(timeout) else None
    return float(timeout)


class BoundedSession(requests.Session):
    """A ``requests.Session`` that never follows redirects, gives each request one total deadline and
    caps the body it reads (see the module docstring). ``max_response_bytes`` is the cap."""

    def __init__(self, max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES) -> None:
        super().__init__()
        self.max_response_bytes = max_response_bytes
        self.max_redirects = 0
        self.headers["Accept-Encoding"] = ACCEPTED_ENCODINGS

    def mount(self, prefix: str | bytes, adapter: Any) -> None:
        if isinstance(adapter, HTTPAdapter):
            bound_adapter(adapter)
        super().mount(prefix, adapter)

    def get_redirect_target(self, resp: requests.Response) -> None:
        """Never a redirect to follow: the 3xx answer itself is returned."""
        return None

    def request(  # type: ignore[override]
        self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any
    ) -> requests.Response:
        stream = bool(kwargs.pop("stream", False))
        seconds = total_seconds(kwargs.get("timeout"))
        if seconds is None:
            return self._send(method, url, args, kwargs, stream, None)
        with _Deadline(seconds) as deadline:
            try:
                return self._send(method, url, args, kwargs, stream, deadline)
            except requests.exceptions.RequestException as error:
                if deadline.expired and not isinstance(error, DeadlineExceeded) and not never_sent(error):
                    raise DeadlineExceeded(
                        f"no complete answer within {seconds:g} s", request=error.request
                    ) from None
                raise

    def _send(
        self,
        method: str | bytes,
        url: str | bytes,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        stream: bool,
        deadline: _Deadline | None,
    ) -> requests.Response:
        response = super().request(method, url, *args, stream=True, **kwargs)  # type: ignore[misc]
        if not stream:
            body = read_body(response, self.max_response_bytes, deadline)
            response._content = body
            response._content_consumed = True  # type: ignore[attr-defined]
            response.headers.pop("Content-Encoding", None)  # what _content holds is decoded
        return response


class _Inflater:
    def __init__(self, encoding: str) -> None:
        self._encoding = encoding
        self._zlib = zlib.decompressobj(_INFLATERS[encoding])
        self._first = True

    def feed(self, data: bytes, budget: int) -> bytes:
        """Inflate ``data``, producing at most ``budget + 1`` bytes (one more tells the cap is passed)."""
        try:
            out = self._zlib.decompress(data, budget + 1)
        except zlib.error:
            if not (self._first and self._encoding == "deflate"):
                raise
            # Some servers send raw deflate without the zlib header.
            self._zlib = zlib.decompressobj(-zlib.MAX_WBITS)
            out = self._zlib.decompress(data, budget + 1)
        self._first = False
        return out

    @property
    def pending(self) -> bytes:
        return self._zlib.unconsumed_tail


def read_body(response: requests.Response, limit: int, deadline: _Deadline | None) -> bytes:
    """The decoded body, read in chunks; :class:`ResponseTooLarge` beyond ``limit`` bytes."""
    encoding = response.headers.get("Content-Encoding", "").strip().lower()
    inflater: _Inflater | None = None
    if encoding in _INFLATERS:
        inflater = _Inflater(encoding)
    elif encoding not in ("", "identity"):
        response.close()
        raise UnsupportedEncoding(f"unsupported content encoding {encoding[:40]!r}", response=response)
    declared = response.headers.get("Content-Length", "")
    if inflater is None and declared.isdigit() and int(declared) > limit:
        _too_large(response, limit)
    parts: list[bytes] = []
    size = 0
    try:
        while True:
            if deadline is not None and deadline.expired:
                response.close()
                raise DeadlineExceeded(f"no complete answer within {deadline.seconds:g} s")
            chunk = response.raw.read(_CHUNK_BYTES, decode_content=False)
            if not chunk:
                break
            while chunk:
                data = inflater.feed(chunk, limit - size) if inflater is not None else chunk
                chunk = inflater.pending if inflater is not None else b""
                size += len(data)
                if size > limit:
                    _too_large(response, limit)
                parts.append(data)
    except requests.exceptions.RequestException:  # ours, above (requests' errors are OSErrors too)
        raise
    except (TimeoutError, urllib3.exceptions.ReadTimeoutError) as error:
        response.close()
        raise requests.exceptions.ReadTimeout(str(error), response=response) from None
    except (urllib3.exceptions.HTTPError, OSError, zlib.error) as error:
        response.close()
        if deadline is not None and deadline.expired:
            raise DeadlineExceeded(f"no complete answer within {deadline.seconds:g} s") from None
        if isinstance(error, zlib.error):
            message = f"bad {encoding} data"
            raise requests.exceptions.ContentDecodingError(message, response=response) from None
        raise requests.exceptions.ChunkedEncodingError(str(error), response=response) from None
    return b"".join(parts)


def _too_large(response: requests.Response, limit: int) -> None:
    response.close()
    raise ResponseTooLarge(f"the answer is larger than {limit} bytes", limit=limit, response=response)
