"""Read a ``hubspot`` Airflow connection into validated settings, once.

Nothing here sends a request. Secrets are registered with Airflow's secrets masker as soon as they
are read, so they are redacted from task logs even if some library logs them.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from hubspot_scheduler_provider.api_versions import ApiVersion, get_api_version
from hubspot_scheduler_provider.connection_form import DEFAULT_HOST, DEFAULT_TIMEOUT_SECONDS
from hubspot_scheduler_provider.errors import HubSpotConfigError

if TYPE_CHECKING:
    from airflow.models.connection import Connection

_OAUTH_FIELDS = ("client_id", "client_secret", "refresh_token")


@dataclass(frozen=True)
class OAuthCredentials:
    client_id: str
    client_secret: str
    refresh_token: str

    def __repr__(self) -> str:  # never show secrets, even in a debugger or a traceback's locals
        return f"OAuthCredentials(client_id={self.client_id!r}, client_secret=***, refresh_token=***)"


@dataclass(frozen=True)
class HubSpotSettings:
    base_url: str
    api_version: ApiVersion
    timeout: float
    access_token: str | None
    oauth: OAuthCredentials | None
    portal_id: str | None

    def __repr__(self) -> str:
        return (
            f"HubSpotSettings(base_url={self.base_url!r}, api_version={self.api_version.name!r}, "
            f"timeout={self.timeout}, oauth={self.oauth is not None}, portal_id={self.portal_id!r})"
        )


def _mask(secret: str) -> None:
    from airflow.providers.common.compat.sdk import mask_secret

    mask_secret(secret)


def is_loopback(hostname: str) -> bool:
    if hostname.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(hostname.strip("[]")).is_loopback
    except ValueError:
        return False


def base_url_from(host: str | None, port: int | None, schema: str | None, conn_id: str) -> str:
    """``https://api.hubapi.com`` unless the connection says otherwise; plain http only to loopback."""
    host = (host or "").strip() or DEFAULT_HOST
    if "://" not in host:
        scheme = schema.lower() if schema and schema.lower() in ("http", "https") else "https"
        host = f"{scheme}://{host}"
    parts = urlsplit(host)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise HubSpotConfigError(
            f"hubspot connection {conn_id!r}: host: {host!r} is not an http(s) URL such as {DEFAULT_HOST}"
        )
    if parts.scheme == "http" and not is_loopback(parts.hostname):
        raise HubSpotConfigError(
            f"hubspot connection {conn_id!r}: host: plain http to {parts.hostname!r} would send the access "
            "token in clear text; use https (plain http is allowed only for loopback test servers)"
        )
    netloc = parts.netloc
    if port and parts.port is None:
        netloc = f"{netloc}:{port}"
    return f"{parts.scheme}://{netloc}{parts.path.rstrip('/')}"


def _timeout(value: Any, conn_id: str) -> float:
    if value is None or value == "":
        return DEFAULT_TIMEOUT_SECONDS
    try:
        timeout = float(value)
    except (TypeError, ValueError):
        timeout = -1.0
    if not timeout > 0 or timeout == float("inf"):
        raise HubSpotConfigError(
            f"hubspot connection {conn_id!r}: timeout: {value!r} is not a positive number of seconds"
        )
    return timeout


def _text(value: Any) -> str | None:
    text = str(value).strip() if value is not None else ""
    return text or None


def read_settings(
    conn: Connection, *, api_version: str | None = None, timeout: float | None = None
) -> HubSpotSettings:
    """Validate ``conn``; hook arguments ``api_version``/``timeout`` win over the connection's extras."""
    conn_id = conn.conn_id
    extra = conn.extra_dejson
    if not isinstance(extra, dict):
        raise HubSpotConfigError(f"hubspot connection {conn_id!r}: extra: must be a JSON object")
    access_token = _text(conn.password)
    oauth_values = {name: _text(extra.get(name)) for name in _OAUTH_FIELDS}
    for name in ("client_secret", "refresh_token"):
        if oauth_values[name]:
            _mask(oauth_values[name])  # type: ignore[arg-type]
    if access_token:
        _mask(access_token)
    oauth: OAuthCredentials | None = None
    if any(oauth_values.values()):
        missing = [name for name, value in oauth_values.items() if not value]
        if missing:
            raise HubSpotConfigError(
                f"hubspot connection {conn_id!r}: {', '.join(missing)}: needed for OAuth token refresh "
                f"(set all of {', '.join(_OAUTH_FIELDS)}, or none and put an access token in the password)"
            )
        oauth = OAuthCredentials(**oauth_values)  # type: ignore[arg-type]
    elif not access_token:
        raise HubSpotConfigError(
            f"hubspot connection {conn_id!r}: password: no access token; put a service key, private-app "
            "token or OAuth access token in the password, or set client_id/client_secret/refresh_token"
        )
    try:
        version = get_api_version(api_version or _text(extra.get("api_version")))
    except ValueError as error:
        raise HubSpotConfigError(f"hubspot connection {conn_id!r}: {error}") from None
    return HubSpotSettings(
        base_url=base_url_from(conn.host, conn.port, conn.schema, conn_id),
        api_version=version,
        timeout=_timeout(timeout if timeout is not None else extra.get("timeout"), conn_id),
        access_token=access_token,
        oauth=oauth,
        portal_id=_text(extra.get("portal_id")),
    )
