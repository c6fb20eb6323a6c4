"""Read a ``hubspot`` Airflow connection into validated settings, once.

Nothing here sends a request. Secrets are registered as soon as they are read, with the provider's
own scrubber (``redaction``: every text the provider produces, whatever the secret's length) and with
Airflow's secrets masker (task logs, even lines some library writes).

A host that is not plainly ``[scheme://]hostname[:port][/path]`` (``http:evil.com``, spaces, a
``user:pw@`` part, a query) is a ``HubSpotConfigError`` here, before anything is sent: never a URL
that ``requests`` would read some other way, and never a retried connection failure.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, unquote, unquote_plus, urlsplit

from hubspot_scheduler_provider.api_versions import ApiVersion, get_api_version
from hubspot_scheduler_provider.connection_form import (
    DEFAULT_HOST,
    DEFAULT_MAX_RESPONSE_BYTES,
    DEFAULT_RATE_LIMIT_MAX_REQUESTS,
    DEFAULT_RATE_LIMIT_WINDOW_SECONDS,
    DEFAULT_TIMEOUT_SECONDS,
)
from hubspot_scheduler_provider.errors import HubSpotConfigError
from hubspot_scheduler_provider.redaction import forms_of, register_secret

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
    #: Cap on one answer's body (connection extra ``max_response_bytes``).
    max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES
    #: Account-wide pacing through Redis (``shared_pacing``); None: each process paces alone.
    rate_limit_storage_uri: str | None = None
    rate_limit_max_requests: int = DEFAULT_RATE_LIMIT_MAX_REQUESTS
    rate_limit_window_seconds: int = DEFAULT_RATE_LIMIT_WINDOW_SECONDS

    def __repr__(self) -> str:
        return (
            f"HubSpotSettings(base_url={self.base_url!r}, api_version={self.api_version.name!r}, "
            f"timeout={self.timeout}, oauth={self.oauth is not None}, portal_id={self.portal_id!r})"
        )


#: Airflow's masker skips values shorter than this; the provider's own scrubber has no minimum.
_AIRFLOW_MASKER_MIN_CHARS = 5
#: One DNS label (letters, digits, hyphens; ASCII: write internationalised names in punycode).
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_HOSTNAME = re.compile(rf"{_LABEL}(?:\.{_LABEL})*\.?")
_PATH = re.compile(r"(?:/[A-Za-z0-9._~-]+)*/?")


def register_secret_everywhere(secret: str) -> None:
    """Scrub ``secret`` from everything the provider emits, and have Airflow mask it (with its escaped
    and encoded forms, which Airflow's masker does not derive itself) in task logs."""
    from airflow.providers.common.compat.sdk import mask_secret

    register_secret(secret)
    for form in sorted(forms_of(secret)):
        if len(form) >= _AIRFLOW_MASKER_MIN_CHARS:
            mask_secret(form)


def is_loopback(hostname: str) -> bool:
    if hostname.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(hostname.strip("[]")).is_loopback
    except ValueError:
        return False


def _host_error(conn_id: str, host: str, problem: str) -> HubSpotConfigError:
    shown = host if len(host) <= 100 else host[:100] + "..."
    return HubSpotConfigError(
        f"hubspot connection {conn_id!r}: host: {shown!r} {problem}; write it as {DEFAULT_HOST} or "
        "[https://]hostname[:port]"
    )


def base_url_from(host: str | None, port: Any, schema: str | None, conn_id: str) -> str:
    """``https://api.hubapi.com`` unless the connection says otherwise; plain http only to loopback.

    Anything but ``[http(s)://]hostname-or-IP[:port][/path]`` is refused, naming what is wrong.
    """
    host = (host or "").strip() or DEFAULT_HOST
    if any(char.isspace() or not char.isprintable() or char == "\\" for char in host):
        raise _host_error(conn_id, host, "contains spaces, control characters or a backslash")
    if "://" not in host:
        if re.match(r"[A-Za-z][A-Za-z0-9+.-]*:(?!\d+(?:/|$))", host):
            raise _host_error(conn_id, host, "has a scheme without '//'")
        scheme = schema.lower() if schema and schema.lower() in ("http", "https") else "https"
        host = f"{scheme}://{host}"
    try:
        parts = urlsplit(host)
        host_port = parts.port
    except ValueError:
        raise _host_error(conn_id, host, "has a port that is not a number from 1 to 65535") from None
    if parts.scheme not in ("http", "https"):
        raise _host_error(conn_id, host, "is not an http(s) URL")
    if "@" in parts.netloc:
        raise _host_error(conn_id, host, "contains a user:password@ part (the token goes in the password)")
    if parts.query or parts.fragment or "?" in host or "#" in host:
        raise _host_error(conn_id, host, "has a query string or fragment")
    hostname = parts.hostname or ""
    if not (_HOSTNAME.fullmatch(hostname) or _is_ip(hostname)):
        raise _host_error(conn_id, host, "does not name a host")
    if not _PATH.fullmatch(parts.path):
        raise _host_error(conn_id, host, "has a path with characters other than letters, digits and ._~-")
    if host_port == 0:
        raise _host_error(conn_id, host, "has port 0")
    if parts.scheme == "http" and not is_loopback(hostname):
        raise HubSpotConfigError(
            f"hubspot connection {conn_id!r}: host: plain http to {hostname!r} would send the access "
            "token in clear text; use https (plain http is allowed only for loopback test servers)"
        )
    netloc = parts.netloc
    if port not in (None, "") and host_port is None:
        if isinstance(port, bool) or not str(port).isdigit() or not 0 < int(port) < 65536:
            raise HubSpotConfigError(f"hubspot connection {conn_id!r}: port: {port!r} is not from 1 to 65535")
        netloc = f"{netloc}:{int(port)}"
    return f"{parts.scheme}://{netloc}{parts.path.rstrip('/')}"


def _is_ip(hostname: str) -> bool:
    try:
        ipaddress.ip_address(hostname)
    except ValueError:
        return False
    return True


def _max_response_bytes(value: Any, conn_id: str) -> int:
    if value is None or value == "":
        return DEFAULT_MAX_RESPONSE_BYTES
    text = str(value).strip()
    if isinstance(value, bool) or not text.isdigit() or not 1024 <= int(text) <= 1024**3:
        raise HubSpotConfigError(
            f"hubspot connection {conn_id!r}: max_response_bytes: {value!r} is not a whole number of "
            "bytes from 1024 to 1073741824"
        )
    return int(text)


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
            register_secret_everywhere(oauth_values[name])  # type: ignore[arg-type]
    if access_token:
        register_secret_everywhere(access_token)
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
        max_response_bytes=_max_response_bytes(extra.get("max_response_bytes"), conn_id),
        rate_limit_storage_uri=_storage_uri(
            extra.get("rate_limit_storage_uri"), extra.get("rate_limit_storage_password"), conn_id
        ),
        rate_limit_max_requests=_whole_number(
            extra, "rate_limit_max_requests", DEFAULT_RATE_LIMIT_MAX_REQUESTS, 1, 100_000, conn_id
        ),
        rate_limit_window_seconds=_whole_number(
            extra, "rate_limit_window_seconds", DEFAULT_RATE_LIMIT_WINDOW_SECONDS, 1, 86_400, conn_id
        ),
    )


_STORAGE_SCHEMES = ("redis", "rediss")


#: Query parameters redis-py would send as credentials: the URL's userinfo and the extra are their homes.
def _is_credential_parameter(name: str) -> bool:
    """A query parameter redis-py turns into a credential: ``username``, ``password``, and any other
    ``*password*`` (``ssl_password``, the TLS key's passphrase)."""
    return name == "username" or "password" in name


def _storage_uri(value: Any, password_value: Any, conn_id: str) -> str | None:
    """A Redis URI for the shared rate-limit window, with the ``rate_limit_storage_password`` extra (a
    field Airflow masks by its name) merged in. Its password, from either, is registered as a secret
    first (Airflow masks extras by key name only, and this URI's key is not one), and an error never
    quotes the URI (a malformed one would otherwise carry its password into the text)."""
    uri = _text(value)
    separate = _text(password_value)
    if separate is not None:
        register_secret_everywhere(separate)
    if uri is None:
        if separate is not None:
            raise HubSpotConfigError(
                f"hubspot connection {conn_id!r}: rate_limit_storage_password: set without "
                "rate_limit_storage_uri (the Redis URL it is for)"
            )
        return None
    # The userinfo by hand: urlsplit raises on a bad port or host before its password can be read.
    # As redis-py reads it: "user:password", ":password", or a user alone (redis://default@host).
    authority = uri.split("://", 1)[-1].split("/", 1)[0].split("?", 1)[0]
    userinfo = authority.rpartition("@")[0]
    password = userinfo.partition(":")[2]
    # redis-py also takes ?password=...&username=... (it sends every query parameter to Redis's client).
    pairs = (part.partition("=") for part in re.split("[&;]", uri.partition("?")[2].partition("#")[0]))
    in_query = {
        unquote_plus(name).lower(): value
        for name, _, value in pairs
        if _is_credential_parameter(unquote_plus(name).lower())
    }
    secrets_in_query = [value for name, value in in_query.items() if name != "username"]
    for secret in (password, *secrets_in_query):  # as written, and as redis-py decodes it
        for form in {secret, unquote(secret), unquote_plus(secret), unquote(unquote_plus(secret))}:
            if form:
                register_secret_everywhere(form)
    if "password" in in_query and (password or separate is not None):
        raise HubSpotConfigError(
            f"hubspot connection {conn_id!r}: rate_limit_storage_uri: the Redis password is given twice "
            "(not shown); keep it in rate_limit_storage_password only"
        )
    if in_query:
        raise HubSpotConfigError(
            f"hubspot connection {conn_id!r}: rate_limit_storage_uri: {' and '.join(sorted(in_query))} as "
            "a query parameter is not accepted (the value is not shown); put the password in the "
            "rate_limit_storage_password extra (Airflow masks it) and a Redis user before the host: "
            "redis://user@host:port/db"
        )
    try:
        parts = urlsplit(uri)
        hostname, _ = parts.hostname, parts.port
    except ValueError:
        parts, hostname = None, None
    if parts is None or parts.scheme not in _STORAGE_SCHEMES or not hostname:
        raise HubSpotConfigError(
            f"hubspot connection {conn_id!r}: rate_limit_storage_uri: not a Redis URL (the value is not "
            "shown: it may hold a password); write it as redis://[:password@]host:port/db "
            "(or rediss:// for TLS)"
        )
    if separate is None:
        return uri
    user, _, in_uri = userinfo.partition(":")  # redis://user@host: a Redis ACL user, no password
    if in_uri:
        raise HubSpotConfigError(
            f"hubspot connection {conn_id!r}: rate_limit_storage_password: the Redis URL holds a password "
            "too (not shown); keep it in one of them"
        )
    quoted = quote(separate, safe="")
    register_secret_everywhere(quoted)
    netloc = f"{user}:{quoted}@{parts.netloc.rpartition('@')[2]}"
    return parts._replace(netloc=netloc).geturl()


def _whole_number(extra: Any, name: str, default: int, low: int, high: int, conn_id: str) -> int:
    value = extra.get(name)
    if value is None or value == "":
        return default
    text = str(value).strip()
    if isinstance(value, bool) or not text.isdigit() or not low <= int(text) <= high:
        raise HubSpotConfigError(
            f"hubspot connection {conn_id!r}: {name}: {value!r} is not a whole number from {low} to {high}"
        )
    return int(text)
