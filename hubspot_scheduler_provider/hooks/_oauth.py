"""Access tokens: a fixed one from the connection's password, or OAuth ones refreshed before expiry.

HubSpot OAuth access tokens live 30 minutes. :class:`OAuthTokenSource` fetches one from
``POST /oauth/v1/token`` (grant ``refresh_token``) and renews it ``refresh_margin_seconds`` before it
expires; one lock serialises refreshes so threads sharing a hook refresh once, not once each.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from hubspot_scheduler_provider.errors import (
    HubSpotAuthenticationError,
    HubSpotError,
    HubSpotResponseError,
    HubSpotServerError,
)
from hubspot_scheduler_provider.hooks._settings import OAuthCredentials

TOKEN_PATH = "/oauth/v1/token"
#: Longest token accepted from the token endpoint (HubSpot's are a few hundred characters). Only
#: visible ASCII: a token goes into a header, where a line break would inject another header.
MAX_TOKEN_CHARS = 4096
#: Longest lifetime believed (HubSpot's is 30 minutes); a longer one is a day.
_MAX_LIFETIME_SECONDS = 86_400

#: Posts the form to the token endpoint and returns the JSON answer.
TokenFetcher = Callable[[dict[str, str]], Mapping[str, Any]]


def _is_token(value: Any) -> bool:
    return (
        isinstance(value, str)
        and 0 < len(value) <= MAX_TOKEN_CHARS
        and all("!" <= char <= "~" for char in value)
    )


def _is_lifetime(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


class TokenSource(Protocol):
    def token(self) -> str:
        """A token to send now."""

    def renew_after_rejection(self, rejected: str) -> bool:
        """HubSpot answered 401 to ``rejected``; return True when a different token is now available."""


class StaticToken:
    """A service key, private-app token or OAuth access token that the hook cannot renew."""

    def __init__(self, token: str) -> None:
        self._token = token

    def token(self) -> str:
        return self._token

    def renew_after_rejection(self, rejected: str) -> bool:
        return False

    def __repr__(self) -> str:
        return "StaticToken(***)"


class OAuthTokenSource:
    def __init__(
        self,
        credentials: OAuthCredentials,
        fetch: TokenFetcher,
        *,
        mask: Callable[[str], None],
        clock: Callable[[], float] = time.monotonic,
        refresh_margin_seconds: float = 300.0,
    ) -> None:
        self._credentials = credentials
        self._fetch = fetch
        self._mask = mask
        self._clock = clock
        self._margin = refresh_margin_seconds
        self._lock = threading.Lock()
        self._token: str | None = None
        self._expires_at = 0.0
        #: How many tokens were fetched; lets tests and logs see refreshes.
        self.refresh_count = 0

    def token(self) -> str:
        with self._lock:
            if self._token is None or self._clock() >= self._expires_at - self._margin:
                self._refresh()
            assert self._token is not None
            return self._token

    def renew_after_rejection(self, rejected: str) -> bool:
        with self._lock:
            if self._token == rejected:  # else another thread already renewed it
                self._refresh()
            return self._token != rejected

    def _refresh(self) -> None:
        form = {
            "grant_type": "refresh_token",
            "client_id": self._credentials.client_id,
            "client_secret": self._credentials.client_secret,
            "refresh_token": self._credentials.refresh_token,
        }
        try:
            answer = self._fetch(form)
        except (HubSpotServerError, HubSpotAuthenticationError):
            raise
        except HubSpotError as error:
            if error.status is None or not 400 <= error.status < 500:
                raise
            # 400 BAD_REFRESH_TOKEN / BAD_CLIENT_ID: a credentials problem, whatever the status says.
            raise HubSpotAuthenticationError(
                f"HubSpot OAuth token refresh was refused ({error.message}). Check the connection's "
                "client_id, client_secret and refresh_token (the app may have been uninstalled).",
                status=error.status,
                category=error.category,
                sub_category=error.sub_category,
                correlation_id=error.correlation_id,
            ) from None
        access_token = answer.get("access_token")
        expires_in = answer.get("expires_in")
        if isinstance(access_token, str) and access_token:
            self._mask(access_token)  # before any check can quote it
        if not _is_token(access_token) or not _is_lifetime(expires_in):
            raise HubSpotResponseError(
                f"HubSpot's answer to POST {TOKEN_PATH} has no usable access_token/expires_in (a token "
                f"is 1 to {MAX_TOKEN_CHARS} visible ASCII characters, a lifetime a positive whole number "
                "of seconds)",
                status=200,
            )
        rotated = answer.get("refresh_token")
        if isinstance(rotated, str) and rotated:
            self._mask(rotated)
        if isinstance(rotated, str) and _is_token(rotated) and rotated != self._credentials.refresh_token:
            self._credentials = OAuthCredentials(
                self._credentials.client_id, self._credentials.client_secret, rotated
            )
        self._token = str(access_token)
        self._expires_at = self._clock() + min(int(expires_in), _MAX_LIFETIME_SECONDS)  # type: ignore[arg-type]
        self.refresh_count += 1

    def __repr__(self) -> str:
        return f"OAuthTokenSource(client_id={self._credentials.client_id!r}, refreshes={self.refresh_count})"
