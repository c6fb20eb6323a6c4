"""Single-value fields: texts, names, slugs, locales, emails, IDs and on/off switches."""

from __future__ import annotations

import re
from typing import Any

from hubspot_scheduler_provider.errors import BookingInputError
from hubspot_scheduler_provider.fields._common import check_characters, check_length, kind, quote
from hubspot_scheduler_provider.input_limits import (
    MAX_EMAIL_LENGTH,
    MAX_EMAIL_LOCAL_LENGTH,
    MAX_ID_LENGTH,
    MAX_ID_VALUE,
    MAX_LOCALE_LENGTH,
    MAX_NAME_LENGTH,
    MAX_SLUG_LENGTH,
    MAX_TEXT_LENGTH,
)

#: A page slug: segments of letters, digits, ``-``, ``_`` and ``.``, joined by ``/`` on team pages.
_SLUG = re.compile(r"[A-Za-z0-9_.-]+(?:/[A-Za-z0-9_.-]+)*")
#: A BCP 47 language tag as HubSpot takes them (``en``, ``en-us``, ``pt_BR``).
_LOCALE = re.compile(r"[A-Za-z]{2,8}(?:[-_][A-Za-z0-9]{1,8})*")
#: The text forms of a boolean that ``parse_switch`` accepts, in any letter case and with surrounding
#: whitespace (Jinja renders Python's ``True`` as ``"True"``, templates may end in a newline).
#: Nothing else: ``"no"``, ``"0"`` or ``""`` would be guesses.
_SWITCH_TEXT = {"true": True, "false": False}


def parse_text(field: str, value: Any, *, max_length: int = MAX_TEXT_LENGTH) -> str:
    """A non-empty single-line string, stripped, at most ``max_length`` characters, no control,
    zero-width or bidi characters."""
    if not isinstance(value, str):
        raise BookingInputError(field, f"expected text, got {kind(value)}")
    text = value.strip()
    if not text:
        raise BookingInputError(field, "must not be empty")
    check_length(field, text, max_length)
    return check_characters(field, text)


def parse_name(field: str, value: Any) -> str:
    """A person's first or last name."""
    return parse_text(field, value, max_length=MAX_NAME_LENGTH)


def parse_slug(field: str, value: Any) -> str:
    """A meeting page slug; team pages contain ``/`` (``sales-team/round-robin``)."""
    slug = parse_text(field, value, max_length=MAX_SLUG_LENGTH)
    if any(char.isspace() for char in slug):
        raise BookingInputError(field, f"{quote(slug)} contains whitespace; a meeting page slug never does")
    if slug.startswith(("/", "http:", "https:")):
        raise BookingInputError(
            field, f"{quote(slug)} looks like a URL or path; give only the slug (the part after /meetings/)"
        )
    if not _SLUG.fullmatch(slug) or any(part in (".", "..") for part in slug.split("/")):
        raise BookingInputError(
            field, f"{quote(slug)} is not a meeting page slug (letters, digits, '-', '_', '.', '/' only)"
        )
    return slug


def parse_locale(field: str, value: Any) -> str:
    """A language tag such as ``en-us``."""
    locale = parse_text(field, value, max_length=MAX_LOCALE_LENGTH)
    if not _LOCALE.fullmatch(locale):
        raise BookingInputError(field, f"{quote(locale)} is not a language tag such as 'en' or 'en-us'")
    return locale


def parse_email(field: str, value: Any) -> str:
    """An address HubSpot and mail systems accept, checked by ``email-validator`` (no DNS lookup).

    ASCII only: a non-ASCII local part needs SMTPUTF8, which HubSpot and many mail systems do not
    promise, and non-ASCII letters can imitate ASCII ones (a Cyrillic "a", U+0430, in ``jane@``). An
    internationalized domain is accepted in its ASCII (punycode, ``xn--``) form; the message shows it.
    Quoted local parts (``"jane doe"@...``) and IP-address domains are refused.
    """
    email = parse_text(field, value, max_length=MAX_EMAIL_LENGTH)
    if not email.isascii():
        position, char = next((i, c) for i, c in enumerate(email) if not c.isascii())
        raise BookingInputError(
            field,
            f"{quote(email)} has the non-ASCII character {char!r} (U+{ord(char):04X}) at position "
            f"{position}; only ASCII addresses are accepted{_punycode_hint(email)}",
        )
    local = email.rpartition("@")[0]
    if len(local) > MAX_EMAIL_LOCAL_LENGTH:
        raise BookingInputError(
            field,
            f"{len(local)} characters before the @, more than the {MAX_EMAIL_LOCAL_LENGTH} allowed",
        )
    try:
        _validate_email(email)
    except ValueError as error:  # email-validator's EmailNotValidError
        raise BookingInputError(field, f"{quote(email)} is not an email address ({error})") from None
    return email


def _validate_email(email: str) -> str:
    """The ASCII form of ``email`` if email-validator accepts it (syntax only: no DNS lookup)."""
    from email_validator import validate_email

    checked = validate_email(
        email,
        check_deliverability=False,
        allow_smtputf8=False,
        allow_quoted_local=False,
        allow_domain_literal=False,
    )
    return str(checked.ascii_email)


def _punycode_hint(email: str) -> str:
    local = email.rpartition("@")[0]
    if not local.isascii() or not local:
        return ""
    try:
        ascii_form = _validate_email(email)
    except ValueError:
        return ""
    return f"; write an internationalized domain in its punycode form: {ascii_form.rpartition('@')[2]!r}"


def parse_identifier(field: str, value: Any) -> str:
    """A HubSpot ID (user, owner, contact, communication type): a whole number, as text."""
    if isinstance(value, int) and not isinstance(value, bool):
        if 0 < value <= MAX_ID_VALUE:
            return str(value)
        # Never str() a huge int: past 4,300 digits Python refuses, and the message must still be made.
        shown = value if -MAX_ID_VALUE <= value <= 0 else "beyond 64 bits"
        raise BookingInputError(field, f"expected a positive 64-bit ID, got int {shown}")
    if not isinstance(value, str) or not value.strip():
        raise BookingInputError(field, f"expected a non-empty ID, got {kind(value)}")
    text = value.strip()
    check_length(field, text, MAX_ID_LENGTH)
    if not (text.isascii() and text.isdigit()):
        raise BookingInputError(field, f"{quote(text)} is not a HubSpot ID (they are whole numbers)")
    return text


def parse_switch(field: str, value: Any) -> bool:
    """A boolean argument: ``True``/``False``, or the text ``"true"``/``"false"`` in any letter case,
    surrounding whitespace ignored (what a template renders). Anything else (``"no"``, ``0``, ``None``)
    is refused naming ``field``."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in _SWITCH_TEXT:
        return _SWITCH_TEXT[value.strip().lower()]
    raise BookingInputError(field, f"expected true or false, got {kind(value)}")
