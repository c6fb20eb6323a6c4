"""Scrub every secret the provider knows from any text it produces, by construction.

Airflow's log masker cannot be the only guard: it skips secrets shorter than 5 characters, matches only
the raw form (not ``repr`` backslash escapes, JSON escapes or percent-encoding), never touches XCom, and
under ``dag.test()`` masks nothing at all. So the hook registers every secret here (access token, issued
OAuth access tokens, client secret, refresh token) and the provider passes what it emits through
:func:`redact`: exception messages (at construction, see ``errors.HubSpotError``), its log records
(:class:`RedactingLogger`) and batch item errors that go to XCom.

:func:`redact` is linear in the text: one ``str.replace`` per known form (CPython's string search is
linear), longest forms first, so a form containing another is replaced whole.

This module stays light (standard library only): ``errors`` imports it at DAG-parse time.
"""

from __future__ import annotations

import base64
import json
import re
import threading
from typing import Any
from urllib.parse import quote, quote_plus

#: What a secret is replaced with (Airflow's masker uses the same).
REDACTED = "***"
#: Base64 forms (e.g. ``Authorization: Basic base64(id:secret)``) are matched by their core, which
#: exists only for secrets this long; shorter ones are still matched in every other form.
_MIN_BASE64_SECRET = 6

_HEX_ESCAPE = re.compile("%[0-9A-F]{2}")

_lock = threading.Lock()
_secrets: set[str] = set()
#: Every form of every secret, longest first; rebuilt on registration (rare), read lock-free.
_forms: tuple[str, ...] = ()


def _escapes(text: str) -> set[str]:
    """``text`` as it appears after one level of the escaping a log line, repr or body may apply."""
    forms = {
        text,
        repr(text)[1:-1],
        text.encode("unicode_escape").decode("ascii"),
        json.dumps(text)[1:-1],
        json.dumps(text, ensure_ascii=False)[1:-1],
        json.dumps(text)[1:-1].replace("/", "\\/"),
        quote(text, safe=""),
        quote(text, safe="/"),
        quote_plus(text),
    }
    # Servers and libraries also write percent escapes in lower case.
    forms |= {_HEX_ESCAPE.sub(lambda match: match.group().lower(), form) for form in list(forms)}
    return forms


def _base64_cores(secret: str) -> set[str]:
    """Base64 text that encodes only bytes of ``secret``, whatever it is embedded in (``id:secret``):
    for each of the three alignments, the encoding without its first and last (mixed) groups."""
    raw = secret.encode("utf-8")
    if len(raw) < _MIN_BASE64_SECRET:
        return set()
    cores: set[str] = set()
    for offset in range(3):
        encoded = base64.b64encode(b"\0" * offset + raw + b"\0\0").decode("ascii")
        head = 4 if offset else 0
        usable = (offset + len(raw)) // 3 * 4  # groups made of secret bytes only (after the head)
        core = encoded[head:usable]
        if len(core) >= 4:
            cores |= {core, core.replace("+", "-").replace("/", "_")}
    return cores


def forms_of(secret: str) -> set[str]:
    """Every form :func:`redact` scrubs for ``secret``: raw, one or two levels of escaping, base64."""
    forms = {second for first in _escapes(secret) for second in _escapes(first)}
    return {form for form in forms | _base64_cores(secret) if form}


def register_secret(value: str) -> None:
    """From now on, :func:`redact` scrubs ``value`` in all its forms, whatever its length."""
    global _forms
    if not isinstance(value, str) or not value or value == REDACTED:
        return
    with _lock:
        if value in _secrets:
            return
        _secrets.add(value)
        forms = set(_forms) | forms_of(value)
        forms.discard(REDACTED)
        _forms = tuple(sorted(forms, key=len, reverse=True))


def redact(text: str) -> str:
    """``text`` with every registered secret, in any known form, replaced by ``***``."""
    if not isinstance(text, str):
        text = str(text)
    for form in _forms:
        if form in text:
            text = text.replace(form, REDACTED)
    return text


def known_secret_count() -> int:
    """How many distinct secrets are registered (for diagnostics and tests)."""
    return len(_secrets)


class RedactingLogger:
    """Wraps a logger (stdlib, or Airflow 3's structlog one) so each message is rendered with its
    arguments and passed through :func:`redact` before the logger sees it. The hook installs it as its
    ``log``; other attributes pass through."""

    def __init__(self, logger: Any) -> None:
        self._logger = logger

    def _emit(self, level: str, message: object, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        text = str(message)
        if args:
            try:
                text = text % args
            except (TypeError, ValueError):
                text = " ".join([text, *map(str, args)])
        getattr(self._logger, level)(redact(text), **kwargs)

    def debug(self, message: object, *args: Any, **kwargs: Any) -> None:
        self._emit("debug", message, args, kwargs)

    def info(self, message: object, *args: Any, **kwargs: Any) -> None:
        self._emit("info", message, args, kwargs)

    def warning(self, message: object, *args: Any, **kwargs: Any) -> None:
        self._emit("warning", message, args, kwargs)

    def error(self, message: object, *args: Any, **kwargs: Any) -> None:
        self._emit("error", message, args, kwargs)

    def exception(self, message: object, *args: Any, **kwargs: Any) -> None:
        self._emit("exception", message, args, kwargs)

    def critical(self, message: object, *args: Any, **kwargs: Any) -> None:
        self._emit("critical", message, args, kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._logger, name)


def redacting(logger: Any) -> Any:
    """``logger`` wrapped in a :class:`RedactingLogger` (once)."""
    return logger if isinstance(logger, RedactingLogger) else RedactingLogger(logger)


__all__ = ["REDACTED", "RedactingLogger", "forms_of", "redact", "redacting", "register_secret"]
