"""Account-wide pacing: one rolling window per HubSpot account, shared by every process through Redis.

HubSpot's limit (100 or 190 requests per 10 s for a private app or service key, 110 for an OAuth app)
holds for the whole account, while ``pacing.SlidingWindowLimiter`` paces one process. With several
Airflow workers (CeleryExecutor, Kubernetes), opt in per connection with the extra
``rate_limit_storage_uri`` (``redis://[:password@]host:port/db``, e.g. the deployment's Celery broker;
the password may go in the masked extra ``rate_limit_storage_password`` instead, see ``hooks._settings``):
every request, from every process using that connection, then also takes a slot of one window in Redis.

The window is the ``limits`` library's moving window (the one Flask-Limiter uses): a Redis list of the
last ``L`` request times, checked and pushed by one atomic Lua script. That is HubSpot's rolling window
exactly: the first ``L`` requests of a quiet window go at once, then one each time the oldest of the
last ``L`` is one window old. A refused caller sleeps until that moment
(``MovingWindowRateLimiter.get_window_stats``' reset time), so waiting costs no polling.

Three choices, and why:

* the limit is the connection's (``rate_limit_max_requests``, ``rate_limit_window_seconds``), never
  learned from answers: every Airflow task is a new process, and ``limits`` trims the shared list to
  the caller's limit, so processes disagreeing while they learn would let bursts through;
* ``SHARED_RESERVE_FRACTION`` of the limit is kept free: a request counts from when it leaves here, while
  HubSpot counts it on arrival, a few milliseconds later and not always the same few;
* Redis unreachable (restarting, say): the request goes on with the process's own pacing, and a
  warning says so (at most every ``STORAGE_WARNING_INTERVAL`` seconds). A 429 is never processed by
  HubSpot and is retried, so this trades a few 429s for never stalling a batch. After a failure the
  window is skipped for ``STORAGE_RETRY_SECONDS`` (then one request tries Redis again): a Redis that
  never answers would otherwise cost every request its connect and read timeouts.

The key is the portal id when the connection names one, else a SHA-256 of the access token (or OAuth
client id and refresh token): never the token itself. Timestamps are the callers' wall clocks
(``limits`` uses ``time.time()``): workers on several machines need NTP-synchronised clocks.
"""

from __future__ import annotations

import hashlib
import threading
import time
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from hubspot_scheduler_provider.pacing import (
    FALLBACK_MAX_REQUESTS,
    FALLBACK_WINDOW_SECONDS,
    SEARCH_MAX_REQUESTS,
    SEARCH_WINDOW_SECONDS,
    SlidingWindowLimiter,
)

if TYPE_CHECKING:
    from collections.abc import Callable

    from hubspot_scheduler_provider.hooks._settings import HubSpotSettings

#: Fraction of the account's limit never used (for the send-to-arrival delay; 190 -> 185 per window).
SHARED_RESERVE_FRACTION = 0.03
#: Shortest sleep between two tries when the freed slot went to another process.
MIN_WAIT_SECONDS = 0.002
#: Seconds between two "Redis unreachable" warnings of one window.
STORAGE_WARNING_INTERVAL = 30.0
#: Redis answers on the deployment's network within milliseconds; a stopped Redis must not stall requests.
STORAGE_TIMEOUT_SECONDS = 1.0
#: After a storage failure, requests skip the shared window (own pacing only) this long; then the next
#: request tries Redis again (the others go on skipping while it does).
STORAGE_RETRY_SECONDS = 30.0
DEFAULT_WINDOW_SECONDS = int(FALLBACK_WINDOW_SECONDS)
INSTALL_HINT = "pip install 'airflow-provider-hubspot-scheduler[distributed]'"


def account_key(settings: HubSpotSettings) -> str:
    """The account's name in Redis: its portal id, else a hash of its credentials (never a secret)."""
    if settings.portal_id:
        return f"portal-{settings.portal_id}"
    if settings.oauth is not None:
        identity = f"oauth\0{settings.oauth.client_id}\0{settings.oauth.refresh_token}"
    else:
        identity = f"token\0{settings.access_token or ''}"
    return "credentials-" + hashlib.sha256(identity.encode()).hexdigest()[:32]


@lru_cache(maxsize=8)
def _strategy(storage_uri: str) -> Any:
    """One Redis connection pool (and script registration) per process and URI."""
    try:
        from limits.storage import storage_from_string
        from limits.strategies import MovingWindowRateLimiter
    except ImportError:
        from hubspot_scheduler_provider.errors import HubSpotConfigError

        raise HubSpotConfigError(
            "hubspot connection extra rate_limit_storage_uri needs the limits and redis packages: "
            + INSTALL_HINT
        ) from None
    storage = storage_from_string(
        storage_uri,
        wrap_exceptions=True,
        socket_timeout=STORAGE_TIMEOUT_SECONDS,
        socket_connect_timeout=STORAGE_TIMEOUT_SECONDS,
    )
    return MovingWindowRateLimiter(storage)


def _account_limit(max_requests: int, window_seconds: int) -> Any:
    """A ``limits`` item whose Redis key does not depend on the limit's numbers (one window per account)."""
    from limits import RateLimitItemPerSecond

    class AccountLimit(RateLimitItemPerSecond):
        def key_for(self, *identifiers: bytes | str | int | float) -> str:
            return "/".join([self.namespace, *(str(part) for part in identifiers)])

    return AccountLimit(max_requests, window_seconds, namespace="hubspot-rate-limit")


class AccountWindow:
    """``acquire()`` blocks until the account's shared window has room for one more request."""

    def __init__(
        self,
        storage_uri: str,
        key: str,
        *,
        max_requests: int = FALLBACK_MAX_REQUESTS,
        window_seconds: int = DEFAULT_WINDOW_SECONDS,
        reserve_fraction: float = SHARED_RESERVE_FRACTION,
        log: Any = None,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.key = key
        self.max_requests = max_requests
        self.window_seconds = window_seconds
        #: Requests per window this window lets through (the limit minus the reserve).
        self.allowed = max(1, max_requests - int(max_requests * reserve_fraction))
        self._item = _account_limit(self.allowed, window_seconds)
        #: Room for every answer (twice the limit), so a hit always records; counted against ``allowed``.
        self._answered_item = _account_limit(2 * self.allowed, window_seconds)
        self._answered_key = f"{key}/answered"
        self._strategy = _strategy(storage_uri)
        self._errors: tuple[type[BaseException], ...] = _storage_errors()
        self._log = log
        self._clock = clock
        self._sleep = sleep
        self._warned_at: float | None = None
        #: Set after a storage failure: until then the window is skipped (see ``_uses_storage``).
        self._retry_storage_at: float | None = None
        self._lock = threading.Lock()
        #: Requests let through, seconds waited, and requests sent without the window (Redis unreachable).
        self.acquired = 0
        self.waited_seconds = 0.0
        self.unshared = 0

    def acquire(self) -> float:
        """Take one slot of the shared window (waiting for it) and return the seconds waited.

        Two lists: requests by the time they were sent (``key``) and by the time their answer arrived
        (``key/answered``, see :meth:`answered`). A request starts only while both hold fewer than the
        allowed number: the first counts requests still in flight, the second those HubSpot received
        later than they were sent (it counts them on arrival), e.g. behind a queue of other requests."""
        started = self._clock()
        shared = self._uses_storage(probe=True)
        while shared:
            try:
                answered = self._strategy.get_window_stats(self._answered_item, self._answered_key)
                self._storage_answered()
                if self._answered_item.amount - answered.remaining < self.allowed:
                    if self._strategy.hit(self._item, self.key):
                        break
                    reset_at = self._strategy.get_window_stats(self._item, self.key).reset_time
                else:
                    reset_at = answered.reset_time
            except self._errors as error:
                self._storage_unreachable(error)
                shared = False
                break
            delay = min(max(reset_at - self._clock(), MIN_WAIT_SECONDS), float(self.window_seconds))
            self._sleep(delay)
        waited = self._clock() - started
        with self._lock:
            self.acquired += 1
            self.waited_seconds += waited
            self.unshared += 0 if shared else 1
        return waited

    def answered(self) -> None:
        """Count the answer of a request let through by :meth:`acquire` (its window restarts now)."""
        if not self._uses_storage(probe=False):
            return
        try:
            self._strategy.hit(self._answered_item, self._answered_key)
        except self._errors as error:
            self._storage_unreachable(error)
        else:
            self._storage_answered()

    def _uses_storage(self, *, probe: bool) -> bool:
        """Whether to ask Redis now: not within ``STORAGE_RETRY_SECONDS`` of a storage failure. Once that
        has passed, one request (an :meth:`acquire`: ``probe``) tries again; the others skip meanwhile."""
        with self._lock:
            if self._retry_storage_at is None:
                return True
            now = self._clock()
            if now < self._retry_storage_at or not probe:
                return False
            self._retry_storage_at = now + STORAGE_RETRY_SECONDS
            return True

    def _storage_answered(self) -> None:
        """Redis answered (any command): every request uses the shared window again at once, not only
        once the probe gets a slot (while a full window keeps it waiting, the others would not wait)."""
        with self._lock:
            self._retry_storage_at = None

    def _storage_unreachable(self, error: BaseException) -> None:
        from hubspot_scheduler_provider.redaction import redact

        with self._lock:
            now = self._clock()
            self._retry_storage_at = now + STORAGE_RETRY_SECONDS
            if self._warned_at is not None and now - self._warned_at < STORAGE_WARNING_INTERVAL:
                return
            self._warned_at = now
        if self._log is not None:
            self._log.warning(
                "The shared rate-limit window (rate_limit_storage_uri) is unreachable (%s); sending with "
                "this process's own pacing until it answers again",
                redact(f"{type(error).__name__}: {error}"[:300]),
            )

    def __repr__(self) -> str:
        return f"AccountWindow({self.allowed} of {self.max_requests} per {self.window_seconds} s)"


def _storage_errors() -> tuple[type[BaseException], ...]:
    from limits.errors import StorageError

    errors: list[type[BaseException]] = [StorageError, OSError]
    try:
        from redis.exceptions import RedisError

        errors.append(RedisError)
    except ImportError:  # pragma: no cover - limits[redis] brings redis
        pass
    return tuple(errors)


class SharedSearchLimiter(SlidingWindowLimiter):
    """The CRM search pacer (exact within the process) that also takes a slot of the account's shared
    search window; a drop-in for ``pacing.new_search_limiter()``."""

    def __init__(self, account: AccountWindow) -> None:
        super().__init__(SEARCH_MAX_REQUESTS, SEARCH_WINDOW_SECONDS)
        self.account = account

    def _wait_for_room(self, *, in_flight: bool) -> float:
        return super()._wait_for_room(in_flight=in_flight) + self.account.acquire()


class SharedPacing:
    """The account's two shared windows: every request (``general``) and CRM searches (``search``)."""

    def __init__(self, settings: HubSpotSettings, log: Any = None) -> None:
        uri = settings.rate_limit_storage_uri
        if not uri:
            raise ValueError("SharedPacing needs a connection with rate_limit_storage_uri")
        key = account_key(settings)
        self.general = AccountWindow(
            uri,
            key,
            max_requests=settings.rate_limit_max_requests,
            window_seconds=settings.rate_limit_window_seconds,
            log=log,
        )
        self.search = AccountWindow(
            uri,
            f"{key}/search",
            max_requests=SEARCH_MAX_REQUESTS,
            window_seconds=int(SEARCH_WINDOW_SECONDS),
            reserve_fraction=0.0,
            log=log,
        )

    def search_limiter(self) -> SharedSearchLimiter:
        return SharedSearchLimiter(self.search)

    def __repr__(self) -> str:
        return f"SharedPacing(general={self.general!r}, search={self.search!r})"


def shared_pacing_for(settings: HubSpotSettings, log: Any = None) -> SharedPacing | None:
    """The connection's shared windows, or None when it does not opt in (each process paces alone)."""
    return SharedPacing(settings, log) if settings.rate_limit_storage_uri else None
