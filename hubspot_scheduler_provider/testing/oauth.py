"""OAuth 2.0 token endpoint and bearer-token checks of the sandbox (a test double, not HubSpot).

``POST /oauth/v1/token`` with ``grant_type=refresh_token`` (form-encoded, as HubSpot wants it) issues an
access token living ``access_token_ttl_seconds`` (HubSpot: 1800) on the sandbox clock. Expired tokens
get HubSpot's 401 ``EXPIRED_AUTHENTICATION``; ``expire_all()`` lets tests expire them early.
"""

from __future__ import annotations

import secrets
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from hubspot_scheduler_provider.testing.api_errors import ApiError, expired_token, invalid_token
from hubspot_scheduler_provider.testing.pages import PORTAL_ID

if TYPE_CHECKING:
    from collections.abc import Callable


@dataclass(frozen=True)
class OAuthClient:
    client_id: str
    client_secret: str
    refresh_token: str


def _oauth_error(code: str, message: str) -> ApiError:
    # HubSpot's token endpoint puts the error code in ``status``; ``category`` repeats it for the spec.
    return ApiError(400, code, message, status_text=code)


class TokenAuthority:
    """Knows the static token and the OAuth access tokens it issued, with their expiry."""

    def __init__(
        self,
        static_token: str | None,
        client: OAuthClient | None,
        ttl_seconds: int,
        clock: Callable[[], datetime],
        scopes: frozenset[str],
    ) -> None:
        self.static_token = static_token
        self.client = client
        self.ttl_seconds = ttl_seconds
        self.clock = clock
        self.scopes = scopes
        self._issued: dict[str, datetime] = {}
        self._lock = threading.Lock()
        self.refresh_count = 0

    def authenticate(self, token: str) -> frozenset[str]:
        """The scopes granted to ``token``; raises HubSpot's 401 for unknown or expired tokens."""
        if self.static_token is not None and secrets.compare_digest(token, self.static_token):
            return self.scopes
        with self._lock:
            expires_at = self._issued.get(token)
        if expires_at is None:
            raise invalid_token()
        now = self.clock()
        if now >= expires_at:
            raise expired_token(int((now - expires_at).total_seconds()))
        return self.scopes

    def exchange(self, form: dict[str, str]) -> dict[str, Any]:
        """Answer a token request (refresh grant only)."""
        if self.client is None:
            raise _oauth_error(
                "BAD_CLIENT_ID", "missing or unknown client id (the sandbox has no OAuth client)"
            )
        if form.get("grant_type") != "refresh_token":
            raise _oauth_error("UNSUPPORTED_GRANT_TYPE", "the sandbox supports grant_type=refresh_token only")
        if form.get("client_id") != self.client.client_id:
            raise _oauth_error("BAD_CLIENT_ID", "missing or unknown client id")
        if form.get("client_secret") != self.client.client_secret:
            raise _oauth_error("BAD_CLIENT_SECRET", "missing or invalid client secret")
        if form.get("refresh_token") != self.client.refresh_token:
            raise _oauth_error("BAD_REFRESH_TOKEN", "missing or unknown refresh token")
        token = f"sandbox-oauth-{secrets.token_hex(12)}"
        with self._lock:
            self._issued[token] = self.clock() + timedelta(seconds=self.ttl_seconds)
            self.refresh_count += 1
        return {
            "access_token": token,
            "refresh_token": self.client.refresh_token,
            "expires_in": self.ttl_seconds,
            "token_type": "bearer",
            "token_use": "access_token",
            "hub_id": PORTAL_ID,
            "scopes": sorted(self.scopes),
        }

    def expire_all(self) -> None:
        """Make every issued access token expired as of now (the refresh token stays valid)."""
        with self._lock:
            past = self.clock() - timedelta(seconds=1)
            self._issued = dict.fromkeys(self._issued, past)
